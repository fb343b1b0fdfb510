//! The key map: one list per context, feeding key handling, the status bar and the help popup.
//!
//! A key does what its binding says in the current context, else what the global list says
//! (unless a popup is open). Printable keys that are not bound go to the focused text field;
//! bindings marked `empty_input_only` apply only while that field is empty, so `q` can still
//! be typed into a product search.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where the keyboard is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Global,
    SalesEntry,
    SalesSearch,
    SalesAmount,
    Queue,
    Conflicts,
    OpDetail,
    ResolveForm,
    /// Refund mode: typing or scanning the receipt number.
    RefundReceipt,
    /// Refund mode: the receipt's lines, choosing what comes back.
    RefundLines,
    /// Refund mode without a receipt: lines by SKU.
    RefundBlind,
    /// The refund's last step: reason and confirmation.
    RefundForm,
    /// A post-void's reason and confirmation.
    VoidForm,
    /// A manager's PIN for an action above a cashier's limits.
    Approval,
    /// The PIN login (the console is locked).
    Login,
    /// No open shift: the opening float.
    ShiftOpen,
    /// The open shift's actions.
    ShiftMenu,
    /// A paid-in or paid-out: amount and reason.
    ShiftCash,
    /// The close's blind count.
    ShiftCount,
    /// The close's result or the X report.
    ShiftResult,
    /// A receipt on screen.
    Receipt,
    Confirm,
    Help,
}

impl Context {
    /// Popups own the keyboard: no global keys behind them.
    /// Contexts whose text field takes every printable key, so `empty_input_only` keys
    /// never apply there.
    pub fn types_text(self) -> bool {
        matches!(
            self,
            Context::SalesSearch
                | Context::SalesAmount
                | Context::ResolveForm
                | Context::RefundReceipt
                | Context::RefundForm
                | Context::VoidForm
                | Context::Approval
                | Context::Login
                | Context::ShiftOpen
                | Context::ShiftCash
                | Context::ShiftCount
        )
    }

    pub fn is_modal(self) -> bool {
        matches!(
            self,
            Context::OpDetail
                | Context::ResolveForm
                | Context::RefundForm
                | Context::VoidForm
                | Context::Approval
                | Context::Login
                | Context::ShiftOpen
                | Context::ShiftMenu
                | Context::ShiftCash
                | Context::ShiftCount
                | Context::ShiftResult
                | Context::Receipt
                | Context::Confirm
                | Context::Help
        )
    }
}

/// What a key means, independent of which key it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCmd {
    Quit,
    Help,
    NextPane,
    PrevPane,
    FocusSales,
    FocusQueue,
    FocusConflicts,
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    Submit,
    Cancel,
    Quantity,
    IncQty,
    DecQty,
    VoidLine,
    VoidSale,
    Search,
    PayCash,
    PayCard,
    PriceOverride,
    Discount,
    Detail,
    Retry,
    Filter,
    Resolve(&'static str),
    /// Open refund mode (sales pane); in its receipt step: refund without a receipt.
    Refund,
    /// Return all that is left of the selected receipt line.
    AllUnits,
    /// Restock / damaged (write-off) for the selected return line.
    Restock,
    /// Post-void a completed sale (after a confirmation).
    VoidCompleted,
    SyncNow,
    /// Lock the console (staff only): the next person logs in with their PIN.
    Lock,
    /// The shift: open one, or the open one's menu (staff only).
    Shift,
    CloseShift,
    PaidIn,
    PaidOut,
    /// Open the drawer with no sale (recorded; a manager approves by default).
    NoSale,
    XReport,
    /// Print the receipt on screen (a reprint is a copy).
    Print,
    /// The last receipt of this console, on screen again.
    LastReceipt,
    /// The receipt of the selected sale, refund or void.
    ShowReceipt,
    /// Every receipt whose print failed to the printer again.
    RetryPrints,
    NextField,
    Yes,
    No,
}

/// One key and what it does, with the words the status bar and the help show.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub code: KeyCode,
    pub mods: KeyModifiers,
    pub shown: &'static str,
    pub label: &'static str,
    pub cmd: KeyCmd,
    pub empty_input_only: bool,
    /// Shown in the status bar (everything is shown in the help).
    pub hint: bool,
    /// Means something only when the store has staff (hidden otherwise).
    pub staff_only: bool,
}

const fn b(code: KeyCode, shown: &'static str, label: &'static str, cmd: KeyCmd) -> Binding {
    Binding {
        code,
        mods: KeyModifiers::NONE,
        shown,
        label,
        cmd,
        empty_input_only: false,
        hint: true,
        staff_only: false,
    }
}

const fn staff_only(bind: Binding) -> Binding {
    Binding {
        staff_only: true,
        ..bind
    }
}

const fn when_empty(bind: Binding) -> Binding {
    Binding {
        empty_input_only: true,
        ..bind
    }
}

const fn quiet(bind: Binding) -> Binding {
    Binding {
        hint: false,
        ..bind
    }
}

const fn ctrl(bind: Binding) -> Binding {
    Binding {
        mods: KeyModifiers::CONTROL,
        ..bind
    }
}

use KeyCode::{BackTab, Char, Delete, Down, End, Enter, Esc, Home, PageDown, PageUp, Tab, Up, F};

const GLOBAL: &[Binding] = &[
    b(Tab, "Tab", "next pane", KeyCmd::NextPane),
    quiet(b(BackTab, "S-Tab", "previous pane", KeyCmd::PrevPane)),
    quiet(b(F(1), "F1", "sales", KeyCmd::FocusSales)),
    quiet(b(F(2), "F2", "queue", KeyCmd::FocusQueue)),
    quiet(b(F(3), "F3", "conflicts", KeyCmd::FocusConflicts)),
    quiet(b(F(9), "F9", "sync now", KeyCmd::SyncNow)),
    quiet(ctrl(b(
        Char('p'),
        "C-p",
        "print failed receipts again",
        KeyCmd::RetryPrints,
    ))),
    staff_only(b(F(12), "F12", "lock", KeyCmd::Lock)),
    when_empty(b(Char('?'), "?", "help", KeyCmd::Help)),
    when_empty(b(Char('q'), "q", "quit", KeyCmd::Quit)),
    quiet(ctrl(b(Char('c'), "C-c", "quit", KeyCmd::Quit))),
];

const SALES_ENTRY: &[Binding] = &[
    b(Enter, "Enter", "add", KeyCmd::Submit),
    b(Char('*'), "*", "qty", KeyCmd::Quantity),
    b(F(5), "F5", "cash", KeyCmd::PayCash),
    b(F(6), "F6", "card", KeyCmd::PayCard),
    b(F(10), "F10", "refund", KeyCmd::Refund),
    staff_only(b(F(11), "F11", "shift", KeyCmd::Shift)),
    quiet(b(Up, "↑", "select line", KeyCmd::Up)),
    quiet(b(Down, "↓", "select line", KeyCmd::Down)),
    when_empty(quiet(b(Char('+'), "+", "qty+1", KeyCmd::IncQty))),
    when_empty(quiet(b(Char('-'), "-", "qty-1", KeyCmd::DecQty))),
    when_empty(quiet(b(Delete, "Del", "void line", KeyCmd::VoidLine))),
    when_empty(b(Char('/'), "/", "search", KeyCmd::Search)),
    quiet(b(F(7), "F7", "price override", KeyCmd::PriceOverride)),
    quiet(b(F(8), "F8", "discount", KeyCmd::Discount)),
    quiet(b(F(4), "F4", "void sale", KeyCmd::VoidSale)),
    quiet(ctrl(b(
        Char('r'),
        "C-r",
        "last receipt",
        KeyCmd::LastReceipt,
    ))),
    quiet(b(Esc, "Esc", "clear", KeyCmd::Cancel)),
];

const SALES_SEARCH: &[Binding] = &[
    b(Enter, "Enter", "add selected", KeyCmd::Submit),
    b(Up, "↑↓", "choose", KeyCmd::Up),
    quiet(b(Down, "↓", "choose", KeyCmd::Down)),
    b(Esc, "Esc", "cancel", KeyCmd::Cancel),
];

const SALES_AMOUNT: &[Binding] = &[
    b(Enter, "Enter", "ok", KeyCmd::Submit),
    b(Esc, "Esc", "cancel", KeyCmd::Cancel),
];

const QUEUE: &[Binding] = &[
    b(Up, "↑↓", "move", KeyCmd::Up),
    quiet(b(Down, "↓", "move", KeyCmd::Down)),
    quiet(b(PageUp, "PgUp", "page up", KeyCmd::PageUp)),
    quiet(b(PageDown, "PgDn", "page down", KeyCmd::PageDown)),
    quiet(b(Home, "Home", "newest", KeyCmd::Home)),
    quiet(b(End, "End", "oldest", KeyCmd::End)),
    b(Enter, "Enter", "detail", KeyCmd::Detail),
    b(Char('r'), "r", "retry", KeyCmd::Retry),
    b(Char('f'), "f", "filter", KeyCmd::Filter),
    b(Char('v'), "v", "void", KeyCmd::VoidCompleted),
    quiet(b(Char('p'), "p", "receipt", KeyCmd::ShowReceipt)),
];

const CONFLICTS: &[Binding] = &[
    b(Up, "↑↓", "move", KeyCmd::Up),
    quiet(b(Down, "↓", "move", KeyCmd::Down)),
    b(Char('a'), "a", "accept", KeyCmd::Resolve("accept")),
    b(Char('c'), "c", "recount", KeyCmd::Resolve("recount")),
    b(Char('d'), "d", "adjust", KeyCmd::Resolve("adjust")),
    b(Char('m'), "m", "map sku", KeyCmd::Resolve("map")),
    b(Char('n'), "n", "non-stock", KeyCmd::Resolve("non_stock")),
    b(Char('x'), "x", "reject", KeyCmd::Resolve("reject")),
    b(
        Char('l'),
        "l",
        "accept loss",
        KeyCmd::Resolve("accept_loss"),
    ),
    b(Char('u'), "u", "follow up", KeyCmd::Resolve("follow_up")),
];

const OP_DETAIL: &[Binding] = &[
    b(Esc, "Esc", "close", KeyCmd::Cancel),
    quiet(b(Enter, "Enter", "close", KeyCmd::Cancel)),
    b(Up, "↑↓", "scroll", KeyCmd::Up),
    quiet(b(Down, "↓", "scroll", KeyCmd::Down)),
    b(Char('r'), "r", "retry", KeyCmd::Retry),
    b(Char('v'), "v", "void", KeyCmd::VoidCompleted),
    b(Char('p'), "p", "receipt", KeyCmd::ShowReceipt),
];

const RESOLVE_FORM: &[Binding] = &[
    b(Enter, "Enter", "queue resolution", KeyCmd::Submit),
    b(Tab, "Tab", "next field", KeyCmd::NextField),
    b(Esc, "Esc", "cancel", KeyCmd::Cancel),
];

const REFUND_RECEIPT: &[Binding] = &[
    b(Enter, "Enter", "look up receipt", KeyCmd::Submit),
    b(F(10), "F10", "no receipt", KeyCmd::Refund),
    b(Esc, "Esc", "leave refund", KeyCmd::Cancel),
];

const REFUND_LINES: &[Binding] = &[
    b(Up, "↑↓", "line", KeyCmd::Up),
    quiet(b(Down, "↓", "line", KeyCmd::Down)),
    b(Char('+'), "+/-", "qty", KeyCmd::IncQty),
    quiet(b(Char('-'), "-", "qty-1", KeyCmd::DecQty)),
    quiet(b(Enter, "Enter", "set typed qty", KeyCmd::Submit)),
    b(Char('a'), "a", "all", KeyCmd::AllUnits),
    quiet(b(Delete, "Del", "none of the line", KeyCmd::VoidLine)),
    b(F(8), "F8", "restock", KeyCmd::Restock),
    b(F(5), "F5", "cash", KeyCmd::PayCash),
    b(F(6), "F6", "card", KeyCmd::PayCard),
    b(F(4), "F4", "void sale", KeyCmd::VoidCompleted),
    b(Esc, "Esc", "back", KeyCmd::Cancel),
];

const REFUND_BLIND: &[Binding] = &[
    b(Enter, "Enter", "add", KeyCmd::Submit),
    b(Char('*'), "*", "qty", KeyCmd::Quantity),
    quiet(b(Up, "↑", "select line", KeyCmd::Up)),
    quiet(b(Down, "↓", "select line", KeyCmd::Down)),
    when_empty(quiet(b(Char('+'), "+", "qty+1", KeyCmd::IncQty))),
    when_empty(quiet(b(Char('-'), "-", "qty-1", KeyCmd::DecQty))),
    when_empty(quiet(b(Delete, "Del", "remove line", KeyCmd::VoidLine))),
    b(F(8), "F8", "restock", KeyCmd::Restock),
    b(F(5), "F5", "cash", KeyCmd::PayCash),
    b(F(6), "F6", "card", KeyCmd::PayCard),
    b(Esc, "Esc", "back", KeyCmd::Cancel),
];

const REFUND_FORM: &[Binding] = &[
    b(Enter, "Enter", "refund", KeyCmd::Submit),
    b(Esc, "Esc", "back", KeyCmd::Cancel),
];

const VOID_FORM: &[Binding] = &[
    b(Enter, "Enter", "void the sale", KeyCmd::Submit),
    b(Esc, "Esc", "cancel", KeyCmd::Cancel),
];

const LOGIN: &[Binding] = &[
    b(Enter, "Enter", "log in", KeyCmd::Submit),
    b(Up, "↑↓", "who", KeyCmd::Up),
    quiet(b(Down, "↓", "who", KeyCmd::Down)),
    b(Esc, "Esc", "clear", KeyCmd::Cancel),
    quiet(ctrl(b(Char('c'), "C-c", "quit", KeyCmd::Quit))),
];

const APPROVAL: &[Binding] = &[
    b(Enter, "Enter", "approve", KeyCmd::Submit),
    b(Up, "↑↓", "who approves", KeyCmd::Up),
    quiet(b(Down, "↓", "who approves", KeyCmd::Down)),
    b(Esc, "Esc", "cancel", KeyCmd::Cancel),
];

const SHIFT_OPEN: &[Binding] = &[
    b(Enter, "Enter", "open shift", KeyCmd::Submit),
    b(Esc, "Esc", "not now", KeyCmd::Cancel),
];

const SHIFT_MENU: &[Binding] = &[
    b(Char('c'), "c", "close (blind count)", KeyCmd::CloseShift),
    b(Char('i'), "i", "paid-in", KeyCmd::PaidIn),
    b(Char('o'), "o", "paid-out", KeyCmd::PaidOut),
    b(Char('n'), "n", "no-sale", KeyCmd::NoSale),
    b(Char('x'), "x", "X report", KeyCmd::XReport),
    b(Esc, "Esc", "close menu", KeyCmd::Cancel),
];

const SHIFT_CASH: &[Binding] = &[
    b(Enter, "Enter", "next / record", KeyCmd::Submit),
    b(Tab, "Tab", "next field", KeyCmd::NextField),
    b(Esc, "Esc", "cancel", KeyCmd::Cancel),
];

const SHIFT_COUNT: &[Binding] = &[
    b(Enter, "Enter", "close shift", KeyCmd::Submit),
    b(Tab, "Tab", "total / by note & coin", KeyCmd::NextField),
    b(Up, "↑↓", "denomination", KeyCmd::Up),
    quiet(b(Down, "↓", "denomination", KeyCmd::Down)),
    b(Esc, "Esc", "cancel", KeyCmd::Cancel),
];

const SHIFT_RESULT: &[Binding] = &[
    b(Esc, "Esc", "close", KeyCmd::Cancel),
    quiet(b(Enter, "Enter", "close", KeyCmd::Cancel)),
];

const RECEIPT: &[Binding] = &[
    b(Char('p'), "p", "print", KeyCmd::Print),
    b(Up, "↑↓", "scroll", KeyCmd::Up),
    quiet(b(Down, "↓", "scroll", KeyCmd::Down)),
    quiet(b(PageUp, "PgUp", "page up", KeyCmd::PageUp)),
    quiet(b(PageDown, "PgDn", "page down", KeyCmd::PageDown)),
    b(Esc, "Esc", "close", KeyCmd::Cancel),
];

const CONFIRM: &[Binding] = &[
    b(Char('y'), "y", "yes", KeyCmd::Yes),
    quiet(b(Enter, "Enter", "yes", KeyCmd::Yes)),
    b(Char('n'), "n", "no", KeyCmd::No),
    quiet(b(Esc, "Esc", "no", KeyCmd::No)),
];

const HELP: &[Binding] = &[
    b(Esc, "Esc", "close", KeyCmd::Cancel),
    quiet(b(Char('?'), "?", "close", KeyCmd::Cancel)),
    quiet(b(Char('q'), "q", "close", KeyCmd::Cancel)),
];

/// The bindings of one context (without the global ones).
pub fn bindings(ctx: Context) -> &'static [Binding] {
    match ctx {
        Context::Global => GLOBAL,
        Context::SalesEntry => SALES_ENTRY,
        Context::SalesSearch => SALES_SEARCH,
        Context::SalesAmount => SALES_AMOUNT,
        Context::Queue => QUEUE,
        Context::Conflicts => CONFLICTS,
        Context::OpDetail => OP_DETAIL,
        Context::ResolveForm => RESOLVE_FORM,
        Context::RefundReceipt => REFUND_RECEIPT,
        Context::RefundLines => REFUND_LINES,
        Context::RefundBlind => REFUND_BLIND,
        Context::RefundForm => REFUND_FORM,
        Context::VoidForm => VOID_FORM,
        Context::Approval => APPROVAL,
        Context::Login => LOGIN,
        Context::ShiftOpen => SHIFT_OPEN,
        Context::ShiftMenu => SHIFT_MENU,
        Context::ShiftCash => SHIFT_CASH,
        Context::ShiftCount => SHIFT_COUNT,
        Context::ShiftResult => SHIFT_RESULT,
        Context::Receipt => RECEIPT,
        Context::Confirm => CONFIRM,
        Context::Help => HELP,
    }
}

fn matches(bind: &Binding, key: &KeyEvent) -> bool {
    if bind.code != key.code {
        return false;
    }
    // Shift is part of the character itself ('?', '*', '+'); compare the other modifiers.
    let mods = if matches!(key.code, Char(_)) {
        key.modifiers - KeyModifiers::SHIFT
    } else {
        key.modifiers
    };
    mods == bind.mods
}

/// What `key` means in `ctx`, falling back to the global keys outside popups.
pub fn lookup(ctx: Context, key: &KeyEvent, input_empty: bool) -> Option<KeyCmd> {
    let own = bindings(ctx).iter();
    let global = if ctx.is_modal() {
        [].iter()
    } else {
        GLOBAL.iter()
    };
    own.chain(global)
        .find(|bind| matches(bind, key) && (input_empty || !bind.empty_input_only))
        .map(|bind| bind.cmd)
}

/// The bindings to list for `ctx`: its own, then the global ones (outside popups), leaving
/// out those that cannot apply there (and the staff keys: see [`listed_with_staff`]).
pub fn listed(ctx: Context) -> impl Iterator<Item = &'static Binding> {
    listed_with_staff(ctx, false)
}

/// Like [`listed`]; with `staff` (the store has staff) the staff keys are listed too.
pub fn listed_with_staff(ctx: Context, staff: bool) -> impl Iterator<Item = &'static Binding> {
    let global = if ctx.is_modal() {
        [].iter()
    } else {
        GLOBAL.iter()
    };
    bindings(ctx)
        .iter()
        .chain(global)
        .filter(move |b| !(b.empty_input_only && ctx.types_text()))
        .filter(move |b| staff || !b.staff_only)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn q_quits_only_when_the_field_is_empty() {
        assert_eq!(
            lookup(Context::SalesEntry, &key(Char('q')), true),
            Some(KeyCmd::Quit)
        );
        assert_eq!(lookup(Context::SalesEntry, &key(Char('q')), false), None);
    }

    #[test]
    fn popups_hide_the_global_keys() {
        assert_eq!(lookup(Context::Confirm, &key(Tab), true), None);
        assert_eq!(
            lookup(Context::Queue, &key(Tab), true),
            Some(KeyCmd::NextPane)
        );
    }

    #[test]
    fn shifted_characters_match_their_binding() {
        let star = KeyEvent::new(Char('*'), KeyModifiers::SHIFT);
        assert_eq!(
            lookup(Context::SalesEntry, &star, false),
            Some(KeyCmd::Quantity)
        );
    }

    #[test]
    fn every_resolution_of_every_conflict_kind_has_a_key() {
        for kind in [
            "oversold",
            "price_mismatch",
            "unknown_product",
            "count_discrepancy",
            "over_refund",
        ] {
            let actions = crate::domain::conflict::actions_for(kind).expect("a known kind");
            for a in actions {
                assert!(
                    CONFLICTS
                        .iter()
                        .any(|b| matches!(b.cmd, KeyCmd::Resolve(n) if n == a.name)),
                    "{kind}: no key for {}",
                    a.name
                );
            }
        }
    }

    #[test]
    fn refund_mode_is_one_key_from_the_sales_pane_and_shown_in_its_bar() {
        let f10 = key(F(10));
        assert_eq!(
            lookup(Context::SalesEntry, &f10, true),
            Some(KeyCmd::Refund)
        );
        assert!(listed(Context::SalesEntry).any(|b| b.cmd == KeyCmd::Refund && b.hint));
    }

    #[test]
    fn staff_keys_are_listed_only_when_the_store_has_staff() {
        let staff_key = |b: &Binding| matches!(b.cmd, KeyCmd::Lock | KeyCmd::Shift);
        assert!(!listed(Context::SalesEntry).any(staff_key));
        let with: Vec<KeyCmd> = listed_with_staff(Context::SalesEntry, true)
            .map(|b| b.cmd)
            .collect();
        assert!(with.contains(&KeyCmd::Lock) && with.contains(&KeyCmd::Shift));
        // The login screen has no way out to the panes but a PIN (and Ctrl-C to quit).
        assert_eq!(lookup(Context::Login, &key(Tab), true), None);
        assert_eq!(lookup(Context::Login, &key(F(12)), true), None);
    }

    #[test]
    fn every_context_lists_something_for_the_help() {
        for ctx in [
            Context::SalesEntry,
            Context::SalesSearch,
            Context::SalesAmount,
            Context::Queue,
            Context::Conflicts,
            Context::OpDetail,
            Context::ResolveForm,
            Context::RefundReceipt,
            Context::RefundLines,
            Context::RefundBlind,
            Context::RefundForm,
            Context::VoidForm,
            Context::Approval,
            Context::Login,
            Context::ShiftOpen,
            Context::ShiftMenu,
            Context::ShiftCash,
            Context::ShiftCount,
            Context::ShiftResult,
            Context::Receipt,
            Context::Confirm,
            Context::Help,
        ] {
            assert!(listed(ctx).count() > 1, "{ctx:?}");
        }
    }
}
