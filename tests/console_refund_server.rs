//! A receipt of another till, refunded from the console of this one: the real binary in a
//! pseudo-terminal against the gateway in front of real PostgreSQL. Till A sells and syncs;
//! till B's console looks the receipt up on the server (`kassa_sale_lookup`), refunds what is
//! left of it, and after B syncs the server has the refund against A's sale, applied once.

mod console_support;
mod support;

use std::process::Command;
use std::time::Duration;

use console_support::pty::{PtyConsole, ENTER, F10, F6};
use pgrest_lite::testing::TestStack;

const WAIT: Duration = Duration::from_secs(15);

struct Till {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Till {
    fn new(stack: &TestStack, device: usize) -> Till {
        Till {
            dir: tempfile::tempdir().expect("tempdir"),
            env: vec![
                ("KASSA_REMOTE_URL".into(), stack.url.clone()),
                ("KASSA_ANON_KEY".into(), stack.anon_key.clone()),
                (
                    "KASSA_DEVICE_TOKEN".into(),
                    stack.devices[device].token.clone(),
                ),
            ],
        }
    }

    fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("till.db")
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kassa"));
        c.arg("--db").arg(self.db());
        support::isolate(&mut c, self.dir.path());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        let out = c.args(args).output().expect("run kassa");
        assert!(
            out.status.success(),
            "kassa {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON on stdout")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tills_receipt_is_looked_up_and_refunded_from_the_console() {
    let stack = TestStack::start().await.expect("stack");
    let a = Till::new(&stack, 0);
    let b = Till::new(&stack, 1);
    a.json(&["sell", "--json", "--pay", "card", "1001*3"]);
    a.json(&["sync", "--once", "--json"]);
    let sales = a.json(&["sales", "--json"]);
    let code = sales[0]["receipt_code"]
        .as_str()
        .expect("receipt code")
        .to_string();
    let sale_id = sales[0]["sale_id"].as_str().expect("sale id").to_string();

    let mut console = PtyConsole::start_env(b.dir.path(), &b.db(), &[], 80, 24, &b.env);
    console.wait_for("Code/barcode", WAIT);
    console.send(F10);
    console.wait_for("Receipt (#seq or sale id)", WAIT);
    console.type_keys(&code);
    console.send(ENTER);
    console.wait_for(&format!("Refund · receipt {}", &code[..8]), WAIT);
    console.wait_for("Whole milk 1L", WAIT);
    console.type_keys("2\r");
    console.wait_for("REFUND 2.38 EUR", WAIT);
    console.send(F6);
    console.wait_for("Pay back 2.38 EUR to the card", WAIT);
    console.type_keys("returned at the other till");
    console.send(ENTER);
    console.wait_for("refunded #1 · 2.38 back to the card", WAIT);
    console.quit(WAIT);

    let queue = b.json(&["queue", "--json"]);
    assert_eq!(queue[0]["kind"], "refund", "{queue}");
    assert_eq!(queue[0]["total_cents"], -238, "{queue}");
    let synced = b.json(&["sync", "--once", "--json"]);
    assert!(synced.is_object(), "{synced}");

    let db = stack.client().await.expect("client");
    let rows = db
        .query(
            "select l.qty, l.amount_cents, l.original_line_no, r.reason
               from public.refund_lines l join public.refunds r on r.id = l.refund_id
              where l.original_sale_id = $1::text::uuid",
            &[&sale_id],
        )
        .await
        .expect("refund rows");
    assert_eq!(rows.len(), 1, "one refund line, applied once");
    let (qty, amount, line, reason): (i64, i64, i32, String) = (
        rows[0].get(0),
        rows[0].get(1),
        rows[0].get(2),
        rows[0].get(3),
    );
    assert_eq!((qty, amount, line), (2, 238, 1));
    assert_eq!(reason, "returned at the other till");
    let conflicts: i64 = db
        .query_one(
            "select count(*) from public.conflicts where kind = 'over_refund'",
            &[],
        )
        .await
        .expect("conflicts")
        .get(0);
    assert_eq!(conflicts, 0, "2 of 3 refunded: no over-refund");
    stack.cleanup().await;
}
