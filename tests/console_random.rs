//! 100,000 random keys (fixed seeds) through `update`, rendered on a TestBackend, with every
//! command run on a real store: never a panic, and afterwards every committed sale is whole.

mod console_support;

use std::collections::VecDeque;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kassa::store::{StoreHandle, StoreOptions};
use kassa::tui::action::{Action, Command};
use kassa::tui::exec::execute_blocking;
use kassa::tui::state::{Settings, State};
use kassa::tui::{draw, init, update};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const SEEDS: [u64; 4] = [1, 7, 42, 2026];
const KEYS_PER_SEED: usize = 25_000;

/// Keys a cashier or a cat could press, weighted towards ones that do something.
fn random_key(rng: &mut StdRng) -> KeyEvent {
    let plain = |c| KeyEvent::new(c, KeyModifiers::NONE);
    match rng.random_range(0..100) {
        0..=29 => plain(KeyCode::Char(char::from(b'0' + rng.random_range(0..10u8)))),
        30..=39 => plain(KeyCode::Enter),
        40..=44 => plain(KeyCode::Char(
            [
                '*', '+', '-', '/', '?', '.', '%', ' ', 'q', 'y', 'n', 'r', 'f', 'a', 'c', 'd',
                'm', 'x', 'k', 'é',
            ][rng.random_range(0..20)],
        )),
        45..=52 => plain(KeyCode::F(rng.random_range(1..=10))),
        53..=58 => plain(KeyCode::Esc),
        59..=63 => plain(KeyCode::Tab),
        64..=65 => plain(KeyCode::BackTab),
        66..=75 => plain(
            [
                KeyCode::Up,
                KeyCode::Down,
                KeyCode::PageUp,
                KeyCode::PageDown,
                KeyCode::Home,
                KeyCode::End,
                KeyCode::Left,
                KeyCode::Right,
            ][rng.random_range(0..8)],
        ),
        76..=80 => plain(KeyCode::Backspace),
        81..=83 => plain(KeyCode::Delete),
        84 => KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL),
        _ => plain(KeyCode::Char(char::from(b'a' + rng.random_range(0..26u8)))),
    }
}

/// A whole scan of a demo-catalog code, so that sales actually get rung up.
fn scan(rng: &mut StdRng) -> Vec<KeyEvent> {
    let code = format!("{}", 1001 + rng.random_range(0..12));
    code.chars()
        .map(|c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
        .chain([KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)])
        .collect()
}

struct Run {
    store: StoreHandle,
    st: State,
    term: Terminal<TestBackend>,
    sales_saved: usize,
}

impl Run {
    fn new(store: StoreHandle) -> Run {
        let mut run = Run {
            st: State::new(
                Settings {
                    color: false,
                    ..Settings::default()
                },
                chrono::Utc::now(),
                80,
                24,
            ),
            term: Terminal::new(TestBackend::new(80, 24)).expect("terminal"),
            store,
            sales_saved: 0,
        };
        let cmds = init(&mut run.st);
        run.run_commands(cmds);
        run
    }

    fn run_commands(&mut self, cmds: Vec<Command>) {
        let mut queue: VecDeque<Command> = cmds.into();
        while let Some(cmd) = queue.pop_front() {
            if cmd == Command::Quit {
                continue;
            }
            let Some(action) = execute_blocking(&self.store, cmd) else {
                continue;
            };
            if let Action::SaleCommitted(Ok(_)) = action {
                self.sales_saved += 1;
            }
            queue.extend(update(&mut self.st, action));
        }
    }

    fn act(&mut self, action: Action) {
        let cmds = update(&mut self.st, action);
        self.run_commands(cmds);
        if self.st.quit {
            // The user quit: start a fresh console on the same database.
            let store = self.store.clone();
            let saved = self.sales_saved;
            *self = Run::new(store);
            self.sales_saved = saved;
        }
    }

    fn draw(&mut self) {
        let st = &self.st;
        self.term.draw(|f| draw(f, st)).expect("draw");
    }
}

#[test]
fn random_keys_never_panic_nor_leave_a_half_written_sale() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("till.db");
    let store = StoreHandle::open(&db, StoreOptions::default()).expect("store");
    store
        .call_blocking(|db| {
            db.conn().execute_batch(
                "INSERT INTO conflicts (id, kind, status, sku, details, version) VALUES
                 ('c1', 'oversold', 'open', '1001', '{}', 1),
                 ('c2', 'price_mismatch', 'open', '1002', '{}', 2),
                 ('c3', 'unknown_product', 'open', 'ZZZ', '{}', 3),
                 ('c4', 'count_discrepancy', 'open', '1003', '{}', 4);",
            )
        })
        .expect("store")
        .expect("conflicts");
    let mut run = Run::new(store.clone());
    let mut keys = 0usize;
    for seed in SEEDS {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut n = 0;
        while n < KEYS_PER_SEED {
            let batch = if rng.random_range(0..20) == 0 {
                scan(&mut rng)
            } else {
                vec![random_key(&mut rng)]
            };
            for key in batch {
                run.act(Action::Key(key));
                n += 1;
            }
            match rng.random_range(0..400) {
                0 => run.act(Action::Resize(
                    rng.random_range(20..200),
                    rng.random_range(5..60),
                )),
                1 => run.act(Action::Resize(80, 24)),
                2 => run.act(Action::Tick(chrono::Utc::now())),
                _ => {}
            }
            if n % 3 == 0 {
                let (w, h) = (run.st.width.max(1), run.st.height.max(1));
                if run.term.size().map(|s| (s.width, s.height)).ok() != Some((w, h)) {
                    run.term.backend_mut().resize(w, h);
                    run.term
                        .resize(ratatui::layout::Rect::new(0, 0, w, h))
                        .expect("resize");
                }
                run.draw();
            }
        }
        keys += n;
    }
    assert!(keys >= 100_000);
    eprintln!("{keys} keys, {} sales saved", run.sales_saved);

    let saved = run.sales_saved as i64;
    store
        .call_blocking(move |db| {
            let report = db.verify().expect("verify");
            assert!(report.ok(), "{report:?}");
            let c = db.conn();
            let one = |sql: &str| -> i64 { c.query_row(sql, [], |r| r.get(0)).expect(sql) };
            assert_eq!(one("SELECT count(*) FROM sales"), saved);
            assert_eq!(
                one("SELECT count(*) FROM outbox WHERE kind = 'sale'"),
                saved
            );
            assert_eq!(
                one("SELECT count(*) FROM outbox o WHERE kind = 'sale'
                     AND NOT EXISTS (SELECT 1 FROM sales s WHERE s.seq = o.seq)"),
                0,
                "a queued sale without its sale row"
            );
            assert_eq!(
                one("SELECT count(*) FROM sales s WHERE
                     NOT EXISTS (SELECT 1 FROM sale_lines l WHERE l.sale_id = s.sale_id)
                     OR NOT EXISTS (SELECT 1 FROM tenders t WHERE t.sale_id = s.sale_id)"),
                0,
                "a sale without lines or tenders"
            );
            assert_eq!(
                one("SELECT count(*) FROM sales s WHERE s.total_cents !=
                     (SELECT sum(line_total_cents) FROM sale_lines l WHERE l.sale_id = s.sale_id)"),
                0,
                "a sale whose lines do not add up to its total"
            );
            assert_eq!(
                one(
                    "SELECT count(*) FROM sales s WHERE s.total_cents + s.rounding_cents !=
                     (SELECT sum(amount_cents - change_cents) FROM tenders t
                      WHERE t.sale_id = s.sale_id)"
                ),
                0,
                "a sale not paid exactly"
            );
        })
        .expect("store");
    assert!(
        run.sales_saved > 0,
        "the random walk should complete some sales"
    );
    // Refunds and voids the walk committed (F10, F4, `v`) are whole documents too.
    store
        .call_blocking(|db| {
            let c = db.conn();
            let one = |sql: &str| -> i64 { c.query_row(sql, [], |r| r.get(0)).expect(sql) };
            assert_eq!(
                one("SELECT count(*) FROM outbox WHERE kind = 'refund'"),
                one("SELECT count(*) FROM refunds")
            );
            assert_eq!(
                one("SELECT count(*) FROM refunds r WHERE r.total_cents !=
                     (SELECT coalesce(sum(amount_cents), 0) FROM refund_lines l
                      WHERE l.refund_id = r.refund_id)"),
                0,
                "a refund whose lines do not add up to its total"
            );
            assert_eq!(
                one("SELECT count(*) FROM outbox WHERE kind = 'void_sale'"),
                one("SELECT count(*) FROM sale_voids")
            );
            eprintln!(
                "{} refunds, {} voids",
                one("SELECT count(*) FROM refunds"),
                one("SELECT count(*) FROM sale_voids")
            );
        })
        .expect("store");
}
