//! Queued operations (the outbox): their kinds and life-cycle states.

use serde::{Deserialize, Serialize};

/// What an operation does on the server (see docs/protocol.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    Sale,
    StockCount,
    ResolveConflict,
    Refund,
    VoidSale,
    ShiftOpen,
    CashMovement,
    ShiftClose,
}

impl OpKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            OpKind::Sale => "sale",
            OpKind::StockCount => "stock_count",
            OpKind::ResolveConflict => "resolve_conflict",
            OpKind::Refund => "refund",
            OpKind::VoidSale => "void_sale",
            OpKind::ShiftOpen => "shift_open",
            OpKind::CashMovement => "cash_movement",
            OpKind::ShiftClose => "shift_close",
        }
    }

    pub fn parse(s: &str) -> Option<OpKind> {
        match s {
            "sale" => Some(OpKind::Sale),
            "stock_count" => Some(OpKind::StockCount),
            "resolve_conflict" => Some(OpKind::ResolveConflict),
            "refund" => Some(OpKind::Refund),
            "void_sale" => Some(OpKind::VoidSale),
            "shift_open" => Some(OpKind::ShiftOpen),
            "cash_movement" => Some(OpKind::CashMovement),
            "shift_close" => Some(OpKind::ShiftClose),
            _ => None,
        }
    }
}

/// Where an operation is in its life: waiting, accepted by the server, or quarantined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpState {
    Pending,
    Sent,
    Rejected,
}

impl OpState {
    pub fn as_str(&self) -> &'static str {
        match self {
            OpState::Pending => "pending",
            OpState::Sent => "sent",
            OpState::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<OpState> {
        match s {
            "pending" => Some(OpState::Pending),
            "sent" => Some(OpState::Sent),
            "rejected" => Some(OpState::Rejected),
            _ => None,
        }
    }
}
