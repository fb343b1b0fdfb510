//! What the console shows, as plain data: queue rows, conflicts, local status, saved sales.
//!
//! These are the console's own copies of what the store and the sync engine report, so the
//! pure `update` and the renderers depend on nothing but the domain. The executor maps the
//! store's rows into them.

use chrono::{DateTime, Utc};
use serde_json::Value;

use uuid::Uuid;

use crate::domain::{
    ConflictFacts, OpKind, OpState, ReceiptRef, RefundableLine, Tender, TenderKind,
};

/// Which outbox rows the queue pane lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueFilterView {
    All,
    Pending,
    Rejected,
    Sent,
}

impl QueueFilterView {
    pub fn next(self) -> Self {
        match self {
            Self::All => Self::Pending,
            Self::Pending => Self::Rejected,
            Self::Rejected => Self::Sent,
            Self::Sent => Self::All,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Pending => "pending",
            Self::Rejected => "rejected",
            Self::Sent => "sent",
        }
    }
}

/// One outbox operation as the queue table shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueItem {
    pub seq: i64,
    pub kind: OpKind,
    pub state: OpState,
    pub created_at: String,
    pub total_cents: Option<i64>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub reject_code: Option<String>,
}

/// One operation with its payload, for the detail view.
#[derive(Debug, Clone, PartialEq)]
pub struct OpDetailView {
    pub item: QueueItem,
    pub op_id: String,
    pub payload: Value,
}

/// A conflict raised by the server, as pulled into the local store.
#[derive(Debug, Clone, PartialEq)]
pub struct ConflictItem {
    pub id: String,
    pub kind: String,
    pub status: String,
    pub sku: Option<String>,
    pub sale_id: Option<String>,
    pub details: Value,
    pub resolution: Option<Value>,
    /// The sale line behind it, when the server said.
    pub line_no: Option<i64>,
    /// The stock count behind a `count_discrepancy`, when the server said.
    pub count_id: Option<String>,
    /// When the server raised it (stored RFC 3339 UTC), when it said.
    pub created_at: Option<String>,
    /// When the server recorded its resolution (stored RFC 3339 UTC).
    pub resolved_at: Option<String>,
    /// A resolution this till has queued but not yet pushed.
    pub queued_action: Option<String>,
}

impl ConflictItem {
    /// What the conflict pane puts into words.
    pub fn facts(&self) -> ConflictFacts<'_> {
        ConflictFacts {
            kind: &self.kind,
            sku: self.sku.as_deref(),
            details: &self.details,
            resolution: self.resolution.as_ref(),
            created_at: self.created_at.as_deref(),
            resolved_at: self.resolved_at.as_deref(),
        }
    }

    /// Open and nothing queued for it yet: the ones that need a human.
    pub fn needs_action(&self) -> bool {
        self.status == "open" && self.queued_action.is_none()
    }
}

/// The local half of the heartbeat: what the store knows without any network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalStatusView {
    pub pending: i64,
    pub sent: i64,
    pub rejected: i64,
    pub oldest_pending_age_s: Option<i64>,
    pub conflicts_open: i64,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Catalog products from the server that the till left out (see `kassa doctor`).
    pub skipped_products: i64,
    /// Receipts whose last print failed, and the newest of them (`#5: refused`).
    pub print_failures: i64,
    pub last_print_failure: Option<String>,
}

/// What came back from a committed sale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaleSaved {
    pub seq: i64,
    pub total_cents: i64,
    pub due_cents: i64,
    pub change_cents: i64,
}

/// Why a receipt is being looked up: to refund from it, or to post-void the sale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptPurpose {
    Refund,
    Void,
}

/// A completed sale found by its receipt number, as the refund screen and the void form show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptView {
    pub sale_id: Uuid,
    /// This till's `seq` of the sale, when it is this till's sale.
    pub seq: Option<i64>,
    /// Stored RFC 3339 UTC.
    pub created_at: String,
    /// What the customer paid: total plus cash rounding.
    pub paid_cents: i64,
    pub tenders: Vec<Tender>,
    pub voided: bool,
    /// Each line with what this till (and, for a looked-up sale, the server) already refunded.
    pub lines: Vec<RefundableLine>,
}

impl ReceiptView {
    /// `#17` for this till's sales, else the start of the receipt code.
    pub fn label(&self) -> String {
        match self.seq {
            Some(seq) => format!("#{seq}"),
            None => ReceiptRef::code(&self.sale_id).chars().take(8).collect(),
        }
    }

    /// How the sale was paid, in words (`cash`, `card`, `cash+card`).
    pub fn tender_words(&self) -> String {
        let kinds: Vec<&str> = self.tenders.iter().map(|t| t.kind.as_str()).collect();
        if kinds.is_empty() {
            "no tender".to_string()
        } else {
            kinds.join("+")
        }
    }
}

/// What came back from a committed refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundSaved {
    pub seq: i64,
    /// Money paid back (after any cash rounding).
    pub paid_back_cents: i64,
    pub tender: TenderKind,
}

/// What came back from a committed post-void.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoidSaved {
    pub seq: i64,
    pub sale_id: Uuid,
    /// The voided sale's label (`#17`).
    pub sale: String,
    pub paid_back_cents: i64,
}

/// One line of a refund as the cashier chose it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundOrderLine {
    /// The receipt's line; `None` for a refund without a receipt.
    pub original_line_no: Option<i64>,
    pub sku: String,
    pub qty: i64,
    /// Back to stock (the default) or written off as damaged.
    pub restock: bool,
}

/// A refund ready for the store to check and commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundOrder {
    /// The original sale; `None` for a refund without a receipt.
    pub sale_id: Option<Uuid>,
    pub lines: Vec<RefundOrderLine>,
    pub tender: TenderKind,
    pub reason: String,
}

/// A PIN on its way from the keyboard to the store: never shown, never logged (its `Debug`
/// says only how long it is not even that), compared by the store alone.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

impl Pin {
    pub fn new(digits: impl Into<String>) -> Pin {
        Pin(digits.into())
    }

    /// The digits, for the store's check only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(***)")
    }
}

/// A staff member as the login screen lists them (no PIN, no hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffView {
    pub id: Uuid,
    pub name: String,
    /// `cashier`, `manager` or `technician`.
    pub role: String,
    /// Locked out after too many wrong PINs, until then (the store's record).
    pub locked_until: Option<DateTime<Utc>>,
}

impl StaffView {
    pub fn is_manager(&self) -> bool {
        self.role == "manager"
    }
}

/// Why the store did not accept a PIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinRefusal {
    /// Wrong PIN; `left` more tries before the lockout.
    Wrong { left: u32 },
    /// Locked out (now, or by this very try) until then.
    Locked { until: DateTime<Utc> },
    /// The PIN is right but the person may not do this (an override needs a manager).
    NotAllowed(String),
    /// The store could not check it.
    Failed(String),
}

/// The till's open shift, as the status bar and the shift screens show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftView {
    pub id: Uuid,
    pub opened_at: DateTime<Utc>,
    /// Who opened it.
    pub staff_name: String,
    pub float_cents: i64,
}

/// Paid-in, paid-out, or the drawer opened with no sale (no money moves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CashKind {
    In,
    Out,
    NoSale,
}

impl CashKind {
    pub fn label(self) -> &'static str {
        match self {
            CashKind::In => "paid-in",
            CashKind::Out => "paid-out",
            CashKind::NoSale => "no-sale",
        }
    }
}

/// The X report: the open shift's totals so far (nothing is reset).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShiftTotalsView {
    pub float_cents: i64,
    pub sales: i64,
    pub cash_sales_cents: i64,
    pub card_sales_cents: i64,
    /// Refunds of the shift (any tender) and what they paid back in cash and to cards.
    pub refunds: i64,
    pub cash_refunds_cents: i64,
    pub card_refunds_cents: i64,
    /// Post-voids of the shift and the cash they gave back.
    pub voids: i64,
    pub cash_voids_cents: i64,
    pub paid_in_cents: i64,
    pub paid_out_cents: i64,
    /// Drawer openings without a sale.
    pub no_sales: i64,
    /// float + cash sales − cash refunds − cash voids + paid-in − paid-out.
    pub expected_cash_cents: i64,
}

/// A closed shift: what was counted against what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShiftClosedView {
    pub counted_cents: i64,
    pub expected_cents: i64,
    /// counted − expected: positive over, negative short.
    pub over_short_cents: i64,
}
