//! The till's document chain over sales, refunds, voids and shift documents (one chain, in
//! `seq` order), and reading refunds and voids back from their rows.

use rusqlite::{Connection, OptionalExtension};
use uuid::Uuid;

use super::StoreError;
use crate::domain::{Refund, RefundLine, RefundTender, SaleVoid, TenderKind, GENESIS_HASH};

/// The hash of the till's newest document of any kind (the next document's `prev_hash`).
pub(super) fn chain_head(conn: &Connection) -> Result<String, StoreError> {
    let head: Option<String> = conn
        .prepare_cached(
            "SELECT hash FROM (
                 SELECT * FROM (SELECT seq, hash FROM sales ORDER BY seq DESC LIMIT 1)
                 UNION ALL
                 SELECT * FROM (SELECT seq, hash FROM refunds ORDER BY seq DESC LIMIT 1)
                 UNION ALL
                 SELECT * FROM (SELECT seq, hash FROM sale_voids ORDER BY seq DESC LIMIT 1)
                 UNION ALL
                 SELECT * FROM (SELECT seq, hash FROM cash_movements ORDER BY seq DESC LIMIT 1)
                 UNION ALL
                 SELECT * FROM (SELECT open_seq, open_hash FROM shifts
                                ORDER BY open_seq DESC LIMIT 1)
                 UNION ALL
                 SELECT * FROM (SELECT close_seq, close_hash FROM shifts
                                WHERE close_seq IS NOT NULL ORDER BY close_seq DESC LIMIT 1)
             ) ORDER BY seq DESC LIMIT 1",
        )?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(head.unwrap_or_else(|| GENESIS_HASH.to_string()))
}

/// One document of the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DocKind {
    Sale = 0,
    Refund = 1,
    Void = 2,
    ShiftOpen = 3,
    Cash = 4,
    ShiftClose = 5,
}

/// Every document's seq and kind, in chain order.
pub(super) fn chain_documents(conn: &Connection) -> Result<Vec<(i64, DocKind)>, StoreError> {
    let mut st = conn.prepare(
        "SELECT seq, 0 FROM sales UNION ALL SELECT seq, 1 FROM refunds
         UNION ALL SELECT seq, 2 FROM sale_voids UNION ALL SELECT open_seq, 3 FROM shifts
         UNION ALL SELECT seq, 4 FROM cash_movements
         UNION ALL SELECT close_seq, 5 FROM shifts WHERE close_seq IS NOT NULL ORDER BY 1",
    )?;
    let rows = st.query_map([], |r| {
        let k: i64 = r.get(1)?;
        Ok((
            r.get(0)?,
            match k {
                0 => DocKind::Sale,
                1 => DocKind::Refund,
                2 => DocKind::Void,
                3 => DocKind::ShiftOpen,
                4 => DocKind::Cash,
                _ => DocKind::ShiftClose,
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn uuid(text: &str, what: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|_| StoreError::Corrupt(format!("{what} {text:?}")))
}

pub(super) fn tender_kind(text: &str) -> Result<TenderKind, StoreError> {
    match text {
        "cash" => Ok(TenderKind::Cash),
        "card" => Ok(TenderKind::Card),
        other => Err(StoreError::Corrupt(format!("tender kind {other:?}"))),
    }
}

/// A refund read back from its rows (not from the outbox payload), by its seq.
pub(super) fn load_refund(conn: &Connection, seq: i64) -> Result<Option<Refund>, StoreError> {
    let head = conn
        .prepare_cached(
            "SELECT refund_id, created_at, currency, original_sale_id, reason, total_cents,
                    tax_cents, rounding_cents, approved_by, prev_hash, hash
             FROM refunds WHERE seq = ?1",
        )?
        .query_row([seq], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(3)?,
                Refund {
                    refund_id: Uuid::nil(),
                    created_at: r.get(1)?,
                    currency: r.get(2)?,
                    original_sale_id: None,
                    reason: r.get(4)?,
                    total_cents: r.get(5)?,
                    tax_cents: r.get(6)?,
                    rounding_cents: r.get(7)?,
                    lines: Vec::new(),
                    tenders: Vec::new(),
                    approved_by: r.get(8)?,
                    prev_hash: r.get(9)?,
                    hash: r.get(10)?,
                },
            ))
        })
        .optional()?;
    let Some((id, original, mut refund)) = head else {
        return Ok(None);
    };
    refund.refund_id = uuid(&id, "refund id")?;
    refund.original_sale_id = original
        .as_deref()
        .map(|o| uuid(o, "original sale id"))
        .transpose()?;
    let mut st = conn.prepare_cached(
        "SELECT line_no, original_line_no, sku, name, qty, amount_cents, tax_rate_bp, tax_cents,
                restock
         FROM refund_lines WHERE refund_id = ?1 ORDER BY line_no",
    )?;
    refund.lines = st
        .query_map([&id], |r| {
            Ok(RefundLine {
                line_no: r.get(0)?,
                original_line_no: r.get(1)?,
                sku: r.get(2)?,
                name: r.get(3)?,
                qty: r.get(4)?,
                amount_cents: r.get(5)?,
                tax_rate_bp: r.get(6)?,
                tax_cents: r.get(7)?,
                restock: r.get(8)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    refund.tenders = read_tenders(
        conn,
        "SELECT kind, amount_cents FROM refund_tenders WHERE refund_id = ?1 ORDER BY idx",
        &id,
    )?;
    Ok(Some(refund))
}

/// A void read back from its rows, by its seq.
pub(super) fn load_void(conn: &Connection, seq: i64) -> Result<Option<SaleVoid>, StoreError> {
    type Row = (
        String,
        String,
        String,
        String,
        i64,
        Option<String>,
        String,
        String,
    );
    let head: Option<Row> = conn
        .prepare_cached(
            "SELECT void_id, sale_id, created_at, reason, total_cents, approved_by, prev_hash,
                    hash
             FROM sale_voids WHERE seq = ?1",
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
            ))
        })
        .optional()?;
    let Some((id, sale_id, created_at, reason, total, approved_by, prev_hash, hash)) = head else {
        return Ok(None);
    };
    let tenders = read_tenders(
        conn,
        "SELECT kind, amount_cents FROM void_tenders WHERE void_id = ?1 ORDER BY idx",
        &id,
    )?;
    Ok(Some(SaleVoid {
        void_id: uuid(&id, "void id")?,
        sale_id: uuid(&sale_id, "sale id")?,
        created_at,
        reason,
        total_cents: total,
        tenders,
        approved_by,
        prev_hash,
        hash,
    }))
}

fn read_tenders(conn: &Connection, sql: &str, id: &str) -> Result<Vec<RefundTender>, StoreError> {
    let mut st = conn.prepare_cached(sql)?;
    let rows = st.query_map([id], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?;
    rows.map(|row| {
        let (kind, amount_cents) = row?;
        Ok(RefundTender {
            kind: tender_kind(&kind)?,
            amount_cents,
        })
    })
    .collect()
}

/// Writes a refund's rows (header, lines, tenders) inside the caller's transaction.
pub(super) fn insert_refund(
    tx: &rusqlite::Transaction<'_>,
    seq: i64,
    r: &Refund,
) -> Result<(), StoreError> {
    use rusqlite::params;
    let id = r.refund_id.to_string();
    tx.prepare_cached(
        "INSERT INTO refunds (refund_id, seq, created_at, currency, original_sale_id, reason,
             total_cents, tax_cents, rounding_cents, approved_by, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?
    .execute(params![
        id,
        seq,
        r.created_at,
        r.currency,
        r.original_sale_id.map(|o| o.to_string()),
        r.reason,
        r.total_cents,
        r.tax_cents,
        r.rounding_cents,
        r.approved_by,
        r.prev_hash,
        r.hash
    ])?;
    let mut st = tx.prepare_cached(
        "INSERT INTO refund_lines (refund_id, line_no, original_line_no, sku, name, qty,
             amount_cents, tax_rate_bp, tax_cents, restock)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for l in &r.lines {
        st.execute(params![
            id,
            l.line_no,
            l.original_line_no,
            l.sku,
            l.name,
            l.qty,
            l.amount_cents,
            l.tax_rate_bp,
            l.tax_cents,
            l.restock
        ])?;
    }
    let mut st = tx.prepare_cached(
        "INSERT INTO refund_tenders (refund_id, idx, kind, amount_cents) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (i, t) in r.tenders.iter().enumerate() {
        st.execute(params![id, i as i64, t.kind.as_str(), t.amount_cents])?;
    }
    Ok(())
}

/// Writes a void's rows inside the caller's transaction.
pub(super) fn insert_void(
    tx: &rusqlite::Transaction<'_>,
    seq: i64,
    v: &SaleVoid,
) -> Result<(), StoreError> {
    use rusqlite::params;
    let id = v.void_id.to_string();
    tx.prepare_cached(
        "INSERT INTO sale_voids (void_id, seq, sale_id, created_at, reason, total_cents,
             approved_by, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        id,
        seq,
        v.sale_id.to_string(),
        v.created_at,
        v.reason,
        v.total_cents,
        v.approved_by,
        v.prev_hash,
        v.hash
    ])?;
    let mut st = tx.prepare_cached(
        "INSERT INTO void_tenders (void_id, idx, kind, amount_cents) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (i, t) in v.tenders.iter().enumerate() {
        st.execute(params![id, i as i64, t.kind.as_str(), t.amount_cents])?;
    }
    Ok(())
}
