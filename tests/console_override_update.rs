//! Manager override through the pure `update`, with the real store behind it (the console's
//! commands run as the executor runs them, on a real database). For each action above a
//! cashier's limits — a discount and a price override beyond the limit, a refund above the
//! limit, a refund without a receipt, a post-void and a no-sale opening — the console asks
//! for a manager's PIN; the manager's PIN carries the action out with the manager recorded as
//! `approved_by` on the document (read back from the database); a wrong PIN (counted toward
//! the manager's lockout) and a cashier's PIN are refused and nothing is written; Esc
//! cancels. Within the limits, for a manager logged in and without staff nothing is asked.

mod console_support;

use std::collections::VecDeque;

use chrono::Utc;
use console_support::{key, keys, state};
use crossterm::event::KeyCode;
use kassa::domain::tender::settle;
use kassa::domain::{Attribution, Cart, Currency, Payment, Pin, Role};
use kassa::store::{Db, StoreHandle, StoreOptions};
use kassa::tui::action::{Action, Command};
use kassa::tui::exec::{self, Session};
use kassa::tui::keymap::Context;
use kassa::tui::login::StaffGate;
use kassa::tui::state::{Popup, State};
use kassa::tui::update;
use uuid::Uuid;

const ANNA_PIN: &str = "2468";
const MAX_PIN: &str = "1357";
const F4: KeyCode = KeyCode::F(4);
const F5: KeyCode = KeyCode::F(5);
const F7: KeyCode = KeyCode::F(7);
const F8: KeyCode = KeyCode::F(8);
const F10: KeyCode = KeyCode::F(10);
const F11: KeyCode = KeyCode::F(11);

/// A till with Anna (cashier) and Max (manager), a shift open, and sale #2: 50 × Whole milk
/// 1L (59.50, above the cashier's 50.00 refund limit), paid in cash.
struct Till {
    _dir: tempfile::TempDir,
    store: StoreHandle,
    session: Session,
    anna: Uuid,
    max: Uuid,
}

fn till() -> Till {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("till.db");
    let (anna, max) = {
        let mut db = Db::open(&path, &StoreOptions::default()).expect("open");
        let now = Utc::now();
        let pin = |p: &str| Pin::parse(p).expect("pin");
        let anna = db
            .add_staff("Anna Berg", Role::Cashier, &pin(ANNA_PIN), now)
            .expect("Anna");
        let max = db
            .add_staff("Max Ruiz", Role::Manager, &pin(MAX_PIN), now)
            .expect("Max");
        let who = Attribution::staff(anna.id);
        db.open_shift(10_000, None, &who, now).expect("shift");
        let mut cart = Cart::new(Currency::EUR);
        let milk = db.find_product("1001").expect("find").expect("demo milk");
        cart.add(&milk, 50).expect("add");
        let total = cart.totals().expect("totals").total_cents;
        let paid = settle(total, Payment::Cash { given: None }, 0, Currency::EUR).expect("settle");
        let sale = db.commit_sale_as(&cart, &paid, &who, now).expect("sale");
        assert_eq!((sale.seq, sale.due_cents), (2, 5950));
        (anna.id, max.id)
    };
    let store = StoreHandle::open(&path, StoreOptions::default()).expect("store");
    Till {
        _dir: dir,
        store,
        session: Session::default(),
        anna,
        max,
    }
}

impl Till {
    /// The console at the PIN prompt, with the staff and the shift as the store has them.
    fn console(&self) -> State {
        let gate = self
            .store
            .call_blocking(|db| {
                let staff = exec::staff_views(db)?;
                let mut gate = StaffGate::new(staff, 0, Utc::now());
                gate.shift = db.current_shift()?.map(|s| exec::shift_view(db, &s));
                Ok::<_, kassa::store::StoreError>(gate)
            })
            .expect("store")
            .expect("staff");
        let mut st = state(80, 24, false);
        st.staff = Some(gate);
        st
    }

    /// Feeds actions; every command runs on the store like the executor runs it.
    fn run(&mut self, st: &mut State, actions: Vec<Action>) -> Vec<Command> {
        let mut sent = Vec::new();
        let mut todo: VecDeque<Action> = actions.into();
        while let Some(a) = todo.pop_front() {
            for c in update(st, a) {
                sent.push(c.clone());
                if self.session.take_staff(&c) {
                    continue;
                }
                if let Some(answer) = exec::execute_blocking_as(&self.store, c, &self.session) {
                    todo.push_back(answer);
                }
            }
        }
        sent
    }

    fn logged_in(&mut self, pin: &str) -> State {
        let mut st = self.console();
        self.run(&mut st, keys(&format!("{pin}\n")));
        assert!(!st.locked(), "logged in with {pin}");
        st
    }

    fn query(&self, sql: &'static str) -> Vec<(Option<String>, Option<String>)> {
        self.store
            .call_blocking(move |db| {
                let mut q = db.conn().prepare(sql)?;
                let rows = q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<Result<Vec<_>, _>>()
            })
            .expect("store")
            .expect("query")
    }

    fn wrong_pins(&self, id: Uuid) -> i64 {
        self.store
            .call_blocking(move |db| {
                db.conn()
                    .query_row(
                        "SELECT coalesce(max(failed_attempts), 0) FROM staff_lockout
                         WHERE staff_id = ?1",
                        [id.to_string()],
                        |r| r.get(0),
                    )
                    .unwrap_or(0)
            })
            .expect("store")
    }
}

/// The actions above a cashier's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guarded {
    Discount,
    PriceOverride,
    Refund,
    BlindRefund,
    PostVoid,
    NoSale,
}

const ALL: [Guarded; 6] = [
    Guarded::Discount,
    Guarded::PriceOverride,
    Guarded::Refund,
    Guarded::BlindRefund,
    Guarded::PostVoid,
    Guarded::NoSale,
];

impl Guarded {
    /// The keys that bring the action up to the manager's PIN, and the words the popup shows.
    fn start(self, t: &mut Till, st: &mut State) -> &'static str {
        match self {
            Guarded::Discount => {
                t.run(st, keys("1001\n"));
                t.run(st, vec![key(F8)]);
                t.run(st, keys("50%\n"));
                "Manager PIN for a discount of 50 % on Whole milk 1L"
            }
            Guarded::PriceOverride => {
                t.run(st, keys("1001\n"));
                t.run(st, vec![key(F7)]);
                t.run(st, keys("0.50\n"));
                "Manager PIN for a price of 0.50 for Whole milk 1L (57.6 % off)"
            }
            Guarded::Refund => {
                t.run(st, vec![key(F10)]);
                t.run(st, keys("2\n"));
                t.run(st, keys("a"));
                t.run(st, vec![key(F5)]);
                t.run(st, keys("\n"));
                "Manager PIN for a refund of 59.50 in cash"
            }
            Guarded::BlindRefund => {
                t.run(st, vec![key(F10), key(F10)]);
                t.run(st, keys("1001\n"));
                t.run(st, vec![key(F5)]);
                t.run(st, keys("no receipt\n"));
                "Manager PIN for a refund without a receipt"
            }
            Guarded::PostVoid => {
                t.run(st, vec![key(F10)]);
                t.run(st, keys("2\n"));
                t.run(st, vec![key(F4)]);
                t.run(st, keys("customer left\n"));
                "Manager PIN for the post-void of sale #2"
            }
            Guarded::NoSale => {
                t.run(st, vec![key(F11)]);
                t.run(st, keys("n"));
                "Manager PIN for opening the drawer with no sale"
            }
        }
    }

    /// After an approval: what is still to do before the document is written (a discount is
    /// recorded on the sale it belongs to, so the sale is paid).
    fn finish(self, t: &mut Till, st: &mut State) {
        if matches!(self, Guarded::Discount | Guarded::PriceOverride) {
            t.run(st, vec![key(F5)]);
            t.run(st, keys("\n"));
        }
    }

    /// `(staff_id, approved_by)` of each document this action writes, oldest first.
    fn documents(self, t: &Till) -> Vec<(Option<String>, Option<String>)> {
        t.query(match self {
            // Sale #2 was there before; the sale rung up at the console comes after it.
            Guarded::Discount | Guarded::PriceOverride => {
                "SELECT staff_id, approved_by FROM sales WHERE seq > 2 ORDER BY seq"
            }
            Guarded::Refund | Guarded::BlindRefund => {
                "SELECT staff_id, approved_by FROM refunds ORDER BY seq"
            }
            Guarded::PostVoid => "SELECT staff_id, approved_by FROM sale_voids ORDER BY seq",
            Guarded::NoSale => {
                "SELECT staff_id, approved_by FROM cash_movements WHERE kind = 'no_sale'"
            }
        })
    }

    /// What the action changed in the console when it was carried out.
    fn applied(self, st: &State) -> bool {
        let line = st.sales.cart.lines().first();
        match self {
            Guarded::Discount => line.is_some_and(|l| l.discount_cents > 0),
            Guarded::PriceOverride => line.is_some_and(|l| l.price_overridden),
            _ => false,
        }
    }
}

fn flash(st: &State) -> String {
    st.flash
        .as_ref()
        .map(|f| f.text.clone())
        .unwrap_or_default()
}

fn popup_text(st: &State) -> String {
    console_support::screen_text(st, 80, 24)
}

fn some(id: Uuid) -> Option<String> {
    Some(id.to_string())
}

#[test]
fn each_action_above_the_limits_asks_for_a_manager_and_the_approver_is_recorded() {
    for case in ALL {
        let mut t = till();
        let mut st = t.logged_in(ANNA_PIN);
        let words = case.start(&mut t, &mut st);
        assert_eq!(st.context(), Context::Approval, "{case:?}: {}", flash(&st));
        let screen = popup_text(&st);
        let one_line: String = screen
            .lines()
            .map(|l| l.trim_matches(|c| c == '"' || c == '│' || c == ' '))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(one_line.contains(words), "{case:?}:\n{screen}");
        assert!(case.documents(&t).is_empty(), "{case:?}: nothing before");
        assert!(!case.applied(&st), "{case:?}: nothing before the approval");

        let cmds = t.run(&mut st, keys(&format!("{MAX_PIN}\n")));
        assert!(
            cmds.iter().any(
                |c| matches!(c, Command::CheckApproval { staff_id, .. } if *staff_id == t.max)
            ),
            "{case:?}: {cmds:?}"
        );
        assert!(st.popup.is_none(), "{case:?}: {:?}", st.popup);
        case.finish(&mut t, &mut st);
        assert_eq!(
            case.documents(&t),
            vec![(some(t.anna), some(t.max))],
            "{case:?}: rung up by Anna, approved by Max ({})",
            flash(&st)
        );
        assert!(!format!("{cmds:?}").contains(MAX_PIN), "{case:?}");
    }
}

#[test]
fn a_wrong_pin_and_a_cashiers_pin_are_refused_and_nothing_is_written() {
    for case in ALL {
        let mut t = till();
        let mut st = t.logged_in(ANNA_PIN);
        case.start(&mut t, &mut st);
        assert_eq!(st.context(), Context::Approval, "{case:?}");

        t.run(&mut st, keys("0000\n"));
        assert_eq!(
            flash(&st),
            "not approved: wrong PIN for Max Ruiz · 4 tries left (nothing saved)",
            "{case:?}"
        );
        assert_eq!(
            t.wrong_pins(t.max),
            1,
            "{case:?}: counted toward Max's lockout"
        );
        assert_eq!(st.context(), Context::Approval, "{case:?}: another try");

        // Anna is on the list too, but her (right) PIN approves nothing.
        t.run(&mut st, vec![key(KeyCode::Down)]);
        t.run(&mut st, keys(&format!("{ANNA_PIN}\n")));
        assert_eq!(
            flash(&st),
            "not approved: Anna Berg is not a manager (nothing saved)",
            "{case:?}"
        );
        assert!(case.documents(&t).is_empty(), "{case:?}: nothing written");
        assert!(!case.applied(&st), "{case:?}: nothing changed");
        assert_eq!(st.context(), Context::Approval, "{case:?}");
    }
}

#[test]
fn esc_cancels_the_override_and_nothing_is_written() {
    for case in ALL {
        let mut t = till();
        let mut st = t.logged_in(ANNA_PIN);
        case.start(&mut t, &mut st);
        let cmds = t.run(&mut st, keys("13"));
        assert!(cmds.is_empty(), "{case:?}: digits go to the PIN field");
        let cmds = t.run(&mut st, vec![key(KeyCode::Esc)]);
        assert!(cmds.is_empty(), "{case:?}: {cmds:?}");
        assert!(st.popup.is_none(), "{case:?}");
        assert!(flash(&st).starts_with("not approved:"), "{case:?}");
        assert!(!case.applied(&st), "{case:?}");
        if st.context() == Context::SalesAmount {
            // The amount typed is still there to change; Esc again leaves it.
            t.run(&mut st, vec![key(KeyCode::Esc)]);
        }
        case.finish(&mut t, &mut st);
        let docs = case.documents(&t);
        match case {
            // The sale itself goes ahead, without the discount and without an approver.
            Guarded::Discount | Guarded::PriceOverride => {
                assert_eq!(docs, vec![(some(t.anna), None)], "{case:?}")
            }
            _ => assert!(docs.is_empty(), "{case:?}: {docs:?}"),
        }
        assert_eq!(t.wrong_pins(t.max), 0, "{case:?}");
    }
}

#[test]
fn an_override_is_not_carried_out_when_the_console_locks_before_the_answer() {
    let mut t = till();
    let mut st = t.logged_in(ANNA_PIN);
    Guarded::NoSale.start(&mut t, &mut st);
    // The PIN goes to the store, but the console locks before its answer is read.
    let mut cmds = Vec::new();
    for a in keys(&format!("{MAX_PIN}\n")) {
        cmds.extend(update(&mut st, a));
    }
    let check = cmds.pop().expect("the PIN check");
    assert!(matches!(check, Command::CheckApproval { .. }), "{check:?}");
    kassa::tui::login::lock(&mut st, "locked after 120 s without a key");
    let answer = exec::execute_blocking_as(&t.store, check, &t.session).expect("answer");
    let cmds = t.run(&mut st, vec![answer]);
    assert!(cmds.is_empty(), "{cmds:?}");
    assert!(Guarded::NoSale.documents(&t).is_empty());
}

#[test]
fn within_the_limits_and_for_a_manager_nothing_is_asked() {
    let mut t = till();
    let mut st = t.logged_in(ANNA_PIN);
    // 10% of 1.19 is 0.12 off: within the cashier's 10 %.
    t.run(&mut st, keys("1001\n"));
    t.run(&mut st, vec![key(F8)]);
    t.run(&mut st, keys("10%\n"));
    assert_eq!(st.context(), Context::SalesEntry, "{}", flash(&st));
    assert_eq!(st.sales.cart.lines()[0].discount_cents, 12);
    Guarded::Discount.finish(&mut t, &mut st);
    assert_eq!(Guarded::Discount.documents(&t), vec![(some(t.anna), None)]);

    // Max logged in: a post-void and a no-sale go ahead, recorded against him alone.
    t.run(&mut st, vec![key(KeyCode::F(12))]);
    t.run(&mut st, vec![key(KeyCode::Down)]);
    t.run(&mut st, keys(&format!("{MAX_PIN}\n")));
    assert!(!st.locked());
    for case in [Guarded::NoSale, Guarded::PostVoid] {
        case.start(&mut t, &mut st);
        assert!(
            !matches!(st.popup, Some(Popup::Approval(_))),
            "{case:?}: {}",
            flash(&st)
        );
        assert_eq!(case.documents(&t), vec![(some(t.max), None)], "{case:?}");
    }
}

#[test]
fn without_staff_a_large_discount_needs_nobody() {
    let mut t = till();
    let mut st = state(80, 24, false);
    st.staff = None;
    // The store has staff, so no sale would be saved; the console alone is what is tested.
    t.run(&mut st, keys("1001\n"));
    t.run(&mut st, vec![key(F8)]);
    t.run(&mut st, keys("90%\n"));
    assert_eq!(st.context(), Context::SalesEntry);
    assert_eq!(st.sales.cart.lines()[0].discount_cents, 107);
    assert_eq!(st.sales.approved_by, None);
}

#[test]
fn with_no_manager_at_the_till_the_action_is_refused_at_once() {
    let mut t = till();
    let max = t.max;
    t.store
        .call_blocking(move |db| db.disable_staff(&max, Utc::now()))
        .expect("store")
        .expect("disable Max");
    let mut st = t.logged_in(ANNA_PIN);
    Guarded::NoSale.start(&mut t, &mut st);
    assert!(st.popup.is_none(), "{:?}", st.popup);
    assert_eq!(
        flash(&st),
        "opening the drawer with no sale needs a manager, and this till has none: nothing done"
    );
    assert!(Guarded::NoSale.documents(&t).is_empty());
}
