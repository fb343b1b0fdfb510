//! Shifts at this till: open with a counted float, cash in / out / no-sale, the X report (the
//! open shift so far) and the blind close. Each is a document of the till's one chain,
//! committed like a sale: its rows, the outbox op and the chain link in ONE transaction.
//!
//! One shift is open at a time. When the store has staff, sales, refunds and voids need one
//! (`require_shift`); without staff the till works as before and documents carry no shift
//! unless one was opened anyway.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use uuid::Uuid;

use super::documents::chain_head;
use super::staff::{check_attribution, has_staff};
use super::{timestamp, Db, StoreError, StoreEvent};
use crate::domain::shift::Denominations;
use crate::domain::{
    Attribution, CashMovement, CashMovementKind, CashTally, Document, OpKind, ShiftClose, ShiftOpen,
};

/// A committed `shift_open`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShiftOpenReceipt {
    pub seq: i64,
    #[serde(flatten)]
    pub open: ShiftOpen,
}

/// A committed `cash_movement`, with what the drawer should hold after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CashMovementReceipt {
    pub seq: i64,
    #[serde(flatten)]
    pub movement: CashMovement,
    pub expected_after_cents: i64,
}

/// A committed `shift_close` (the count was recorded before expected and over/short were
/// known to the cashier).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShiftCloseReceipt {
    pub seq: i64,
    #[serde(flatten)]
    pub close: ShiftClose,
}

/// A shift's figures: the X report of an open shift, a line of the Z report for any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShiftSummary {
    pub shift_id: Uuid,
    pub staff_id: Option<Uuid>,
    pub operator: Option<String>,
    pub opened_at: String,
    /// `None` while open.
    pub closed_at: Option<String>,
    pub open_seq: i64,
    pub close_seq: Option<i64>,
    pub tally: CashTally,
    /// What the drawer should hold now (open) or held at the close (closed: the till's figure
    /// recorded then).
    pub expected_cents: i64,
    pub counted_cents: Option<i64>,
    pub over_short_cents: Option<i64>,
    pub sales: i64,
    /// All tenders of the shift's sales, net of change (cash and card).
    pub sales_cents: i64,
    pub card_sales_cents: i64,
    /// Paid back to cards by the shift's refunds (cash refunds are in the tally).
    pub card_refunds_cents: i64,
    pub refunds: i64,
    pub voids: i64,
    pub paid_in: i64,
    pub paid_out: i64,
    pub no_sales: i64,
}

/// The open shift's id, if one is open.
pub(super) fn open_shift_id(conn: &Connection) -> Result<Option<Uuid>, StoreError> {
    let id: Option<String> = conn
        .prepare_cached("SELECT shift_id FROM shifts WHERE close_seq IS NULL")?
        .query_row([], |r| r.get(0))
        .optional()?;
    id.map(|i| Uuid::parse_str(&i).map_err(|_| StoreError::Corrupt(format!("shift id {i:?}"))))
        .transpose()
}

/// The shift a new sale, refund or void belongs to: the open one; none when no shift is open
/// and the store has no staff; `StoreError::Invalid` when the store has staff and no shift is
/// open. Also checks `who` (unknown or disabled staff, an approver who is not a manager).
pub(super) fn require_shift(
    conn: &Connection,
    who: &Attribution,
) -> Result<Option<Uuid>, StoreError> {
    check_attribution(conn, who)?;
    let open = open_shift_id(conn)?;
    if open.is_none() && has_staff(conn)? {
        return Err(StoreError::Invalid(
            "no open shift: open one first (kassa shift open --float AMOUNT)".into(),
        ));
    }
    Ok(open)
}

fn sum(conn: &Connection, sql: &str, shift: &str) -> Result<(i64, i64), StoreError> {
    Ok(conn
        .prepare_cached(sql)?
        .query_row([shift], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// The figures of shift `id` from the documents this till holds.
pub(super) fn summary(conn: &Connection, id: &str) -> Result<Option<ShiftSummary>, StoreError> {
    type Head = (
        String,
        Option<String>,
        Option<String>,
        String,
        Option<String>,
        i64,
        Option<i64>,
        i64,
        Option<i64>,
        Option<i64>,
        Option<i64>,
    );
    let head: Option<Head> = conn
        .prepare_cached(
            "SELECT shift_id, staff_id, operator, opened_at, closed_at, open_seq, close_seq,
                    float_cents, expected_cents, counted_cents, over_short_cents
             FROM shifts WHERE shift_id = ?1",
        )?
        .query_row([id], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
                r.get(10)?,
            ))
        })
        .optional()?;
    let Some((
        sid,
        staff,
        operator,
        opened_at,
        closed_at,
        open_seq,
        close_seq,
        float,
        exp,
        counted,
        os,
    )) = head
    else {
        return Ok(None);
    };
    let (sales, sales_cents) = sum(
        conn,
        "SELECT count(DISTINCT s.sale_id), coalesce(sum(t.amount_cents - t.change_cents), 0)
         FROM sales s LEFT JOIN tenders t ON t.sale_id = s.sale_id WHERE s.shift_id = ?1",
        id,
    )?;
    let (_, cash_sales) = sum(
        conn,
        "SELECT 0, coalesce(sum(t.amount_cents - t.change_cents), 0)
         FROM sales s JOIN tenders t ON t.sale_id = s.sale_id
         WHERE s.shift_id = ?1 AND t.kind = 'cash'",
        id,
    )?;
    let (refunds, cash_refunds) = sum(
        conn,
        "SELECT (SELECT count(*) FROM refunds WHERE shift_id = ?1),
                coalesce(sum(t.amount_cents), 0)
         FROM refunds r JOIN refund_tenders t ON t.refund_id = r.refund_id
         WHERE r.shift_id = ?1 AND t.kind = 'cash'",
        id,
    )?;
    let (_, card_refunds) = sum(
        conn,
        "SELECT 0, coalesce(sum(t.amount_cents), 0)
         FROM refunds r JOIN refund_tenders t ON t.refund_id = r.refund_id
         WHERE r.shift_id = ?1 AND t.kind = 'card'",
        id,
    )?;
    let (voids, cash_voids) = sum(
        conn,
        "SELECT (SELECT count(*) FROM sale_voids WHERE shift_id = ?1),
                coalesce(sum(t.amount_cents), 0)
         FROM sale_voids v JOIN void_tenders t ON t.void_id = v.void_id
         WHERE v.shift_id = ?1 AND t.kind = 'cash'",
        id,
    )?;
    let mv = |kind: &str| -> Result<(i64, i64), StoreError> {
        Ok(conn
            .prepare_cached(
                "SELECT count(*), coalesce(sum(amount_cents), 0) FROM cash_movements
                 WHERE shift_id = ?1 AND kind = ?2",
            )?
            .query_row([id, kind], |r| Ok((r.get(0)?, r.get(1)?)))?)
    };
    let (paid_in, paid_in_cents) = mv("paid_in")?;
    let (paid_out, paid_out_cents) = mv("paid_out")?;
    let (no_sales, _) = mv("no_sale")?;
    let tally = CashTally {
        float_cents: float,
        cash_sales_cents: cash_sales,
        cash_refunds_cents: cash_refunds,
        cash_voids_cents: cash_voids,
        paid_in_cents,
        paid_out_cents,
    };
    let parse = |s: Option<String>| -> Result<Option<Uuid>, StoreError> {
        s.map(|s| Uuid::parse_str(&s).map_err(|_| StoreError::Corrupt(format!("staff id {s:?}"))))
            .transpose()
    };
    Ok(Some(ShiftSummary {
        shift_id: Uuid::parse_str(&sid)
            .map_err(|_| StoreError::Corrupt(format!("shift id {sid:?}")))?,
        staff_id: parse(staff)?,
        operator,
        opened_at,
        closed_at,
        open_seq,
        close_seq,
        expected_cents: exp.unwrap_or_else(|| tally.expected_cents()),
        tally,
        counted_cents: counted,
        over_short_cents: os,
        sales,
        sales_cents,
        card_sales_cents: sales_cents - cash_sales,
        card_refunds_cents: card_refunds,
        refunds,
        voids,
        paid_in,
        paid_out,
        no_sales,
    }))
}

fn encode<T: Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Invalid(format!("cannot encode: {e}")))
}

fn opt(u: &Option<Uuid>) -> Option<String> {
    u.map(|u| u.to_string())
}

impl Db {
    /// Opens a shift with a counted float (optionally by denomination, which must add up to
    /// it). `StoreError::Invalid`, nothing written: a shift is already open, a bad amount, an
    /// unknown or disabled staff member.
    pub fn open_shift(
        &mut self,
        float_cents: i64,
        denominations: Option<Denominations>,
        who: &Attribution,
        now: DateTime<Utc>,
    ) -> Result<ShiftOpenReceipt, StoreError> {
        let mut open = ShiftOpen::new(
            Uuid::now_v7(),
            timestamp(now),
            who.staff_id,
            float_cents,
            denominations,
        )?;
        open.approved_by = who.approved_by;
        open.operator = who.operator.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        check_attribution(&tx, who)?;
        if open_shift_id(&tx)?.is_some() {
            return Err(StoreError::Invalid(
                "a shift is already open at this till: close it first".into(),
            ));
        }
        open.seal(&chain_head(&tx)?);
        let seq = super::outbox::insert_document_op(
            &tx,
            OpKind::ShiftOpen,
            &encode(&open)?,
            &open.opened_at,
            open.float_cents,
        )?;
        tx.prepare_cached(
            "INSERT INTO shifts (shift_id, open_seq, opened_at, staff_id, float_cents,
                 denominations, approved_by, operator, open_prev_hash, open_hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            open.shift_id.to_string(),
            seq,
            open.opened_at,
            opt(&open.staff_id),
            open.float_cents,
            open.denominations.as_ref().map(encode).transpose()?,
            opt(&open.approved_by),
            open.operator,
            open.prev_hash,
            open.hash
        ])?;
        tx.commit()?;
        tracing::info!(seq, shift_id = %open.shift_id, "shift opened");
        self.notify(StoreEvent::OutboxChanged);
        Ok(ShiftOpenReceipt { seq, open })
    }

    /// The open shift's figures so far (the X report; nothing is reset), or `None`.
    pub fn current_shift(&self) -> Result<Option<ShiftSummary>, StoreError> {
        match open_shift_id(&self.conn)? {
            Some(id) => summary(&self.conn, &id.to_string()),
            None => Ok(None),
        }
    }

    /// The figures of any shift of this till.
    pub fn shift_summary(&self, shift_id: &Uuid) -> Result<Option<ShiftSummary>, StoreError> {
        summary(&self.conn, &shift_id.to_string())
    }

    /// Shifts opened in `[from, to)`, oldest first (for the Z report).
    pub fn shifts_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ShiftSummary>, StoreError> {
        let ids: Vec<String> = self
            .conn
            .prepare_cached(
                "SELECT shift_id FROM shifts WHERE opened_at >= ?1 AND opened_at < ?2
                 ORDER BY open_seq",
            )?
            .query_map(params![timestamp(from), timestamp(to)], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(summary(&self.conn, &id)?);
        }
        Ok(out)
    }

    /// Records cash into or out of the drawer (or a no-sale opening, amount 0) in the open
    /// shift. `StoreError::Invalid`, nothing written: no open shift, a bad amount or reason, a
    /// paid-out larger than what the drawer should hold, an unknown staff member.
    pub fn cash_movement(
        &mut self,
        kind: CashMovementKind,
        amount_cents: i64,
        reason: &str,
        who: &Attribution,
        now: DateTime<Utc>,
    ) -> Result<CashMovementReceipt, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        check_attribution(&tx, who)?;
        let shift = open_shift_id(&tx)?.ok_or_else(|| {
            StoreError::Invalid(
                "no open shift: open one first (kassa shift open --float AMOUNT)".into(),
            )
        })?;
        let mut m = CashMovement::new(
            Uuid::now_v7(),
            shift,
            who.staff_id,
            timestamp(now),
            kind,
            amount_cents,
            reason,
        )?;
        m.approved_by = who.approved_by;
        m.operator = who.operator.clone();
        let before = summary(&tx, &shift.to_string())?
            .ok_or_else(|| StoreError::Corrupt("open shift without a row".into()))?
            .expected_cents;
        if kind == CashMovementKind::PaidOut && amount_cents > before {
            return Err(StoreError::Invalid(format!(
                "paid-out {amount_cents} is more than the drawer should hold ({before})"
            )));
        }
        m.seal(&chain_head(&tx)?);
        let signed = match kind {
            CashMovementKind::PaidOut => -m.amount_cents,
            _ => m.amount_cents,
        };
        let seq = super::outbox::insert_document_op(
            &tx,
            OpKind::CashMovement,
            &encode(&m)?,
            &m.created_at,
            signed,
        )?;
        tx.prepare_cached(
            "INSERT INTO cash_movements (movement_id, seq, shift_id, staff_id, created_at, kind,
                 amount_cents, reason, approved_by, operator, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?
        .execute(params![
            m.movement_id.to_string(),
            seq,
            shift.to_string(),
            opt(&m.staff_id),
            m.created_at,
            kind.as_str(),
            m.amount_cents,
            m.reason,
            opt(&m.approved_by),
            m.operator,
            m.prev_hash,
            m.hash
        ])?;
        tx.commit()?;
        tracing::info!(seq, kind = kind.as_str(), "cash movement recorded");
        self.notify(StoreEvent::OutboxChanged);
        Ok(CashMovementReceipt {
            seq,
            movement: m,
            expected_after_cents: before + signed,
        })
    }

    /// Closes the open shift with the blind count (`counted_cents`, optionally by
    /// denomination adding up to it); the till's expected cash and the over/short are computed
    /// and recorded in the same transaction. `StoreError::Invalid`, nothing written: no open
    /// shift, a bad amount, denominations that do not add up, an unknown staff member.
    pub fn close_shift(
        &mut self,
        counted_cents: i64,
        denominations: Option<Denominations>,
        who: &Attribution,
        now: DateTime<Utc>,
    ) -> Result<ShiftCloseReceipt, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        check_attribution(&tx, who)?;
        let shift = open_shift_id(&tx)?
            .ok_or_else(|| StoreError::Invalid("no shift is open at this till".into()))?;
        let s = summary(&tx, &shift.to_string())?
            .ok_or_else(|| StoreError::Corrupt("open shift without a row".into()))?;
        let mut c = ShiftClose::new(
            shift,
            timestamp(now),
            who.staff_id,
            counted_cents,
            denominations,
            &s.tally,
        )?;
        c.approved_by = who.approved_by;
        c.operator = who.operator.clone();
        c.seal(&chain_head(&tx)?);
        let seq = super::outbox::insert_document_op(
            &tx,
            OpKind::ShiftClose,
            &encode(&c)?,
            &c.closed_at,
            c.counted_cents,
        )?;
        tx.prepare_cached(
            "UPDATE shifts SET close_seq = ?2, closed_at = ?3, close_staff_id = ?4,
                 counted_cents = ?5, close_denominations = ?6, expected_cents = ?7,
                 over_short_cents = ?8, close_approved_by = ?9, close_operator = ?10,
                 close_prev_hash = ?11, close_hash = ?12
             WHERE shift_id = ?1",
        )?
        .execute(params![
            shift.to_string(),
            seq,
            c.closed_at,
            opt(&c.staff_id),
            c.counted_cents,
            c.denominations.as_ref().map(encode).transpose()?,
            c.expected_cents,
            c.over_short_cents,
            opt(&c.approved_by),
            c.operator,
            c.prev_hash,
            c.hash
        ])?;
        tx.commit()?;
        tracing::info!(seq, shift_id = %shift, "shift closed");
        self.notify(StoreEvent::OutboxChanged);
        Ok(ShiftCloseReceipt { seq, close: c })
    }
}

fn uuid_col(s: Option<String>, what: &str) -> Result<Option<Uuid>, StoreError> {
    s.map(|s| Uuid::parse_str(&s).map_err(|_| StoreError::Corrupt(format!("{what} {s:?}"))))
        .transpose()
}

fn denoms_col(s: Option<String>) -> Result<Option<Denominations>, StoreError> {
    s.map(|s| {
        serde_json::from_str(&s).map_err(|_| StoreError::Corrupt("shift denominations".into()))
    })
    .transpose()
}

type OpenRow = (
    String,
    String,
    Option<String>,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
);

/// A `shift_open` read back from its row, by its seq (for `kassa verify`).
pub(super) fn load_shift_open(
    conn: &Connection,
    seq: i64,
) -> Result<Option<ShiftOpen>, StoreError> {
    let row: Option<OpenRow> = conn
        .prepare_cached(
            "SELECT shift_id, opened_at, staff_id, float_cents, denominations, approved_by,
                    operator, open_prev_hash, open_hash
             FROM shifts WHERE open_seq = ?1",
        )?
        .query_row([seq], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
            ))
        })
        .optional()?;
    let Some((id, opened_at, staff, float, denoms, approved, operator, prev, hash)) = row else {
        return Ok(None);
    };
    Ok(Some(ShiftOpen {
        shift_id: uuid_col(Some(id), "shift id")?.unwrap_or_default(),
        staff_id: uuid_col(staff, "staff id")?,
        opened_at,
        float_cents: float,
        denominations: denoms_col(denoms)?,
        approved_by: uuid_col(approved, "approver id")?,
        operator,
        prev_hash: prev,
        hash,
    }))
}

type CashRow = (
    String,
    String,
    Option<String>,
    String,
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
);

/// A `cash_movement` read back from its row, by its seq.
pub(super) fn load_cash(conn: &Connection, seq: i64) -> Result<Option<CashMovement>, StoreError> {
    let row: Option<CashRow> = conn
        .prepare_cached(
            "SELECT movement_id, shift_id, staff_id, created_at, kind, amount_cents, reason,
                    approved_by, operator, prev_hash, hash
             FROM cash_movements WHERE seq = ?1",
        )?
        .query_row([seq], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
                r.get(10)?,
            ))
        })
        .optional()?;
    let Some((id, shift, staff, created_at, kind, amount, reason, approved, operator, prev, hash)) =
        row
    else {
        return Ok(None);
    };
    Ok(Some(CashMovement {
        movement_id: uuid_col(Some(id), "movement id")?.unwrap_or_default(),
        shift_id: uuid_col(Some(shift), "shift id")?.unwrap_or_default(),
        staff_id: uuid_col(staff, "staff id")?,
        created_at,
        kind: CashMovementKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("cash movement kind {kind:?}")))?,
        amount_cents: amount,
        reason,
        approved_by: uuid_col(approved, "approver id")?,
        operator,
        prev_hash: prev,
        hash,
    }))
}

type CloseRow = (
    String,
    String,
    Option<String>,
    i64,
    Option<String>,
    i64,
    i64,
    Option<String>,
    Option<String>,
    String,
    String,
);

/// A `shift_close` read back from its row, by its seq.
pub(super) fn load_shift_close(
    conn: &Connection,
    seq: i64,
) -> Result<Option<ShiftClose>, StoreError> {
    let row: Option<CloseRow> = conn
        .prepare_cached(
            "SELECT shift_id, closed_at, close_staff_id, counted_cents, close_denominations,
                    expected_cents, over_short_cents, close_approved_by, close_operator,
                    close_prev_hash, close_hash
             FROM shifts WHERE close_seq = ?1",
        )?
        .query_row([seq], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
                r.get(10)?,
            ))
        })
        .optional()?;
    let Some((id, closed_at, staff, counted, denoms, exp, os, approved, operator, prev, hash)) =
        row
    else {
        return Ok(None);
    };
    Ok(Some(ShiftClose {
        shift_id: uuid_col(Some(id), "shift id")?.unwrap_or_default(),
        staff_id: uuid_col(staff, "staff id")?,
        closed_at,
        counted_cents: counted,
        denominations: denoms_col(denoms)?,
        expected_cents: exp,
        over_short_cents: os,
        approved_by: uuid_col(approved, "approver id")?,
        operator,
        prev_hash: prev,
        hash,
    }))
}
