//! The till's domain: money, products, the cart, tenders, sales and queued operations.
//!
//! Pure code: no I/O, no clock reads, no UI. Every other layer builds on these types.

pub mod cart;
pub mod chain;
pub mod conflict;
pub mod conflict_text;
pub mod money;
pub mod op;
pub mod product;
pub mod refund;
pub mod sale;
pub mod shift;
pub mod staff;
pub mod tender;
pub mod void;

pub use cart::{Cart, CartLine, LineAmounts, Totals};
pub use chain::Document;
pub use conflict_text::{ConflictFacts, ConflictText};
pub use money::Currency;
pub use op::{OpKind, OpState};
pub use product::Product;
pub use refund::{
    LookedUpLine, LookedUpSale, ReceiptRef, Refund, RefundLine, RefundPick, RefundPolicy,
    RefundTender, RefundableLine,
};
pub use sale::{CompletedSale, GENESIS_HASH};
pub use shift::{CashMovement, CashMovementKind, CashTally, Denominations, ShiftClose, ShiftOpen};
pub use staff::{Attribution, Guarded, LockoutPolicy, Pin, Role, RoleLimits, StaffMember};
pub use tender::{Payment, Settlement, Tender, TenderKind};
pub use void::SaleVoid;

/// Largest quantity of one line. Larger numbers are typing mistakes, not sales.
pub const MAX_QTY: i64 = 99_999;
/// Most lines one sale can hold.
pub const MAX_LINES: usize = 500;
/// Largest unit price, in minor units (10^11: a thousand million in a 2-decimal currency).
pub const MAX_UNIT_PRICE: i64 = 100_000_000_000;

/// Everything the domain refuses, with a message fit for a one-line error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("quantity must be between 1 and {MAX_QTY}, got {0}")]
    BadQuantity(i64),
    #[error("price must be between 0 and {MAX_UNIT_PRICE} minor units, got {0}")]
    BadPrice(i64),
    #[error("discount {discount} is more than the line's amount {gross}")]
    BadDiscount { discount: i64, gross: i64 },
    #[error("tax rate must be between 0 and 10000 basis points, got {0}")]
    BadTaxRate(i64),
    #[error("amount out of range")]
    Overflow,
    #[error("not an amount: {0:?}")]
    BadAmount(String),
    #[error("unknown currency {0:?}")]
    UnknownCurrency(String),
    #[error("a sale holds at most {MAX_LINES} lines")]
    TooManyLines,
    #[error("no line {0}")]
    NoSuchLine(usize),
    #[error("the cart is empty")]
    EmptyCart,
    #[error("cash given {given} is less than the amount due {due}")]
    InsufficientCash { given: String, due: String },
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
}
