//! Messages into the console ([`Action`]) and out of it ([`Command`]).
//!
//! Keys, ticks, resizes and the results of store calls all arrive as actions; `update` turns
//! them into state changes and commands. Commands are the only way the console asks for I/O:
//! the event loop runs them on the store worker and feeds the results back as actions.

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;

use super::heartbeat::SyncView;
use super::model::{
    CashKind, ConflictItem, LocalStatusView, OpDetailView, Pin, PinRefusal, QueueFilterView,
    QueueItem, ReceiptPurpose, ReceiptView, RefundOrder, RefundSaved, SaleSaved, ShiftClosedView,
    ShiftTotalsView, ShiftView, StaffView, VoidSaved,
};
use uuid::Uuid;

use crate::domain::{Cart, Currency, Product, ReceiptRef, RefundPolicy, Settlement};
use crate::timefmt::Zone;

/// Something that happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Key(KeyEvent),
    Resize(u16, u16),
    /// The clock moved on (1 Hz while something on screen ages).
    Tick(DateTime<Utc>),
    /// The store changed data (a sale, a push, a pull): reload what is shown.
    StoreChanged,
    /// A scanned or typed code was looked up.
    ProductLooked {
        code: String,
        qty: i64,
        product: Option<Product>,
    },
    SearchResults {
        query: String,
        products: Vec<Product>,
    },
    SaleCommitted(Result<SaleSaved, String>),
    /// A receipt number was looked up (`Ok(None)`: no such sale).
    ReceiptLooked {
        receipt: ReceiptRef,
        purpose: ReceiptPurpose,
        result: Result<Option<ReceiptView>, String>,
    },
    /// The server was asked for another till's sale (`Ok(None)`: no sale of this store).
    ServerSaleLooked {
        receipt: ReceiptRef,
        result: Result<Option<ReceiptView>, String>,
    },
    /// A code for a refund without a receipt was looked up.
    ReturnItemLooked {
        code: String,
        qty: i64,
        product: Option<Product>,
    },
    RefundCommitted(Result<RefundSaved, String>),
    /// The store checked a login PIN (the PIN itself never comes back).
    PinChecked {
        staff_id: Uuid,
        result: Result<StaffView, PinRefusal>,
    },
    /// The store checked a manager's PIN for an override (the PIN never comes back); `Ok`
    /// is the approving manager.
    ApprovalChecked {
        staff_id: Uuid,
        result: Result<StaffView, PinRefusal>,
    },
    VoidCommitted(Result<VoidSaved, String>),
    /// The till's open shift, reloaded (`None`: none open).
    ShiftLoaded(Option<ShiftView>),
    ShiftOpened(Result<ShiftView, String>),
    /// A paid-in or paid-out was recorded (the amount), or refused.
    CashMoved {
        kind: CashKind,
        result: Result<i64, String>,
    },
    ShiftClosed(Result<ShiftClosedView, String>),
    ShiftTotalsLoaded(Result<ShiftTotalsView, String>),
    QueueLoaded {
        filter: QueueFilterView,
        offset: usize,
        total: usize,
        rows: Vec<QueueItem>,
    },
    OpDetailLoaded(Option<OpDetailView>),
    OpRetried {
        seq: i64,
        requeued: bool,
    },
    ConflictsLoaded(Vec<ConflictItem>),
    ResolutionQueued(Result<(String, i64), String>),
    StatusLoaded(LocalStatusView),
    SyncChanged(SyncView),
    /// A receipt laid out for the screen (`Ok(None)`: no such document).
    ReceiptLoaded(Result<Option<super::receipt::ReceiptShown>, String>),
    /// A receipt's bytes are with the print worker.
    PrintQueued {
        seq: i64,
    },
    /// What became of printing document `seq` (from the print worker, or why it never got
    /// there).
    Printed {
        seq: i64,
        result: Result<(), String>,
    },
    /// The failed receipts sent to the printer again.
    PrintsRetried(Result<Vec<i64>, String>),
    /// A command failed for a reason the user should see.
    Failed(String),
    /// Something the sync engine did that deserves the flash line.
    Notice(super::state::FlashLevel, String),
    /// A pull left out catalog products the till cannot use (`skipped`), or cleared earlier
    /// ones (`cleared`); `total` are on record now (the engine's `ProductsSkipped`).
    ProductsSkipped {
        skipped: usize,
        cleared: usize,
        total: i64,
    },
}

/// Something the console needs done outside itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    LookupCode {
        code: String,
        qty: i64,
    },
    SearchProducts {
        query: String,
    },
    /// Commit the sale: one transaction, durable when it returns. `approved_by`: the manager
    /// who approved a discount or price override above the cashier's limit on it.
    CommitSale {
        cart: Cart,
        settlement: Settlement,
        approved_by: Option<Uuid>,
    },
    /// Find a completed sale by its receipt number (seq, sale id or compact sale id).
    LookupReceipt {
        receipt: ReceiptRef,
        purpose: ReceiptPurpose,
    },
    /// Ask the server for another till's sale (`kassa_sale_lookup`), keep it in the store so
    /// that it can be refunded here (also offline later), then read it like a local receipt.
    LookupSaleOnServer {
        sale_id: Uuid,
    },
    /// Find a product for a refund without a receipt.
    LookupReturnItem {
        code: String,
        qty: i64,
    },
    /// Check and commit a refund: one transaction, durable when it returns; refused (and
    /// nothing written) when it takes back more than is left, or from a voided sale.
    CommitRefund {
        order: RefundOrder,
        currency: Currency,
        policy: RefundPolicy,
        /// The manager who approved it (above the cashier's limit, or without a receipt).
        approved_by: Option<Uuid>,
    },
    /// Post-void a sale of this till and business day (`zone`'s day): one transaction,
    /// durable when it returns.
    CommitVoid {
        sale_id: Uuid,
        reason: String,
        zone: Zone,
        /// The manager who approved the post-void.
        approved_by: Option<Uuid>,
    },
    LoadQueue {
        filter: QueueFilterView,
        offset: usize,
        limit: usize,
    },
    LoadOpDetail {
        seq: i64,
    },
    RetryOp {
        seq: i64,
    },
    LoadConflicts,
    QueueResolution {
        conflict_id: String,
        action: String,
        qty: Option<i64>,
        sku: Option<String>,
        note: Option<String>,
    },
    LoadStatus,
    /// Check a staff member's PIN: the store counts wrong tries and keeps the lockout.
    CheckPin {
        staff_id: Uuid,
        pin: Pin,
    },
    /// Check a manager's PIN for an override on the spot (wrong PINs count toward that
    /// member's lockout; a right PIN of someone who is not a manager is refused).
    CheckApproval {
        staff_id: Uuid,
        pin: Pin,
    },
    /// Record the sales, refunds and voids that follow against this staff member (the
    /// executor keeps it; `None`: nobody, as without staff).
    SetStaff {
        staff_id: Option<Uuid>,
    },
    /// Read the till's open shift.
    LoadShift,
    /// Open a shift with the counted float: one document, durable when it returns.
    OpenShift {
        staff_id: Option<Uuid>,
        float_cents: i64,
    },
    /// A paid-in or paid-out of the open shift, with its reason, or a no-sale opening.
    CashMovement {
        staff_id: Option<Uuid>,
        kind: CashKind,
        amount_cents: i64,
        reason: String,
        /// The manager who approved it (a no-sale opening, by default).
        approved_by: Option<Uuid>,
    },
    /// Close the open shift with the blind count; the answer brings expected and over/short.
    CloseShift {
        staff_id: Option<Uuid>,
        counted_cents: i64,
    },
    /// The open shift's totals so far (the X report).
    LoadShiftTotals,
    /// A committed document's receipt, laid out for the screen.
    LoadReceipt {
        receipt: ReceiptRef,
    },
    /// Lay out document `seq`'s receipt (a copy or the original) and hand it to the printer.
    PrintReceipt {
        seq: i64,
        copy: bool,
    },
    /// Keep what became of a print: a failure on record, or the record cleared.
    RecordPrint {
        seq: i64,
        result: Result<(), String>,
    },
    /// Every receipt whose print failed to the printer again.
    RetryFailedPrints,
    /// Ask the sync engine to push and pull now, skipping its backoff.
    SyncNow,
    Quit,
}
