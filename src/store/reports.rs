//! End-of-day (Z) report and the integrity check of the document chain and the database file.
//!
//! The Z report counts documents by their own time: sales made in the period (gross, voided
//! ones included), refunds made in it, voids made in it (the voided sale's lines and what went
//! back). Tender rows are the money that actually moved: sales net of change, minus refunds,
//! minus voids.

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::Serialize;

use super::{Db, StoreError};
use crate::domain::{Document, GENESIS_HASH};

/// One tender kind in the Z report: what the drawer or the card terminal took and gave back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZTenderRow {
    pub kind: String,
    /// Sales paid with this tender.
    pub count: i64,
    /// Sales: amount tendered minus change given.
    pub sales_cents: i64,
    /// Paid back by refunds made in the period.
    pub refunds_cents: i64,
    /// Given back by voids made in the period.
    pub voids_cents: i64,
    /// The money that actually moved: `sales_cents - refunds_cents - voids_cents`.
    pub amount_cents: i64,
}

/// One tax rate in the Z report; amounts include tax, `*_tax_cents` is the tax inside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZTaxRow {
    pub tax_rate_bp: i64,
    /// Sales lines at this rate (gross: tax included).
    pub gross_cents: i64,
    pub tax_cents: i64,
    pub refunds_cents: i64,
    pub refunds_tax_cents: i64,
    /// Lines of the sales voided in the period.
    pub voids_cents: i64,
    pub voids_tax_cents: i64,
    /// `gross - refunds - voids`, and its tax.
    pub net_cents: i64,
    pub net_tax_cents: i64,
}

/// Totals of refunds or of voids in the Z report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ZReturns {
    pub count: i64,
    /// Line amounts (tax included).
    pub total_cents: i64,
    pub tax_cents: i64,
    pub rounding_cents: i64,
    /// What went back to customers: `total_cents + rounding_cents`.
    pub paid_cents: i64,
}

/// Totals of the documents made in `[from, to)`: gross sales, refunds, voids and net.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZReport {
    pub from: String,
    pub to: String,
    /// Gross sales (voided ones included; the voids take them back).
    pub sales: i64,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    pub total_cents: i64,
    pub tax_cents: i64,
    pub rounding_cents: i64,
    /// What sales took: total plus cash rounding.
    pub due_cents: i64,
    pub refunds: ZReturns,
    pub voids: ZReturns,
    /// What stayed: `due_cents - refunds.paid_cents - voids.paid_cents` (= the tenders' sum).
    pub net_cents: i64,
    /// `tax_cents - refunds.tax_cents - voids.tax_cents`.
    pub net_tax_cents: i64,
    pub by_tender: Vec<ZTenderRow>,
    pub by_tax_rate: Vec<ZTaxRow>,
    /// The cash drawer over the shifts opened in the period (all zero without shifts).
    pub drawer: ZDrawer,
    /// Each shift opened in the period, oldest first.
    pub shifts: Vec<super::ShiftSummary>,
}

/// The drawer's cash summed over the day's shifts (issue 11).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ZDrawer {
    pub shifts: i64,
    pub open_shifts: i64,
    #[serde(flatten)]
    pub tally: crate::domain::CashTally,
    /// Sum of each shift's expected cash.
    pub expected_cents: i64,
    /// Sum of the closed shifts' counts and over/short.
    pub counted_cents: i64,
    pub over_short_cents: i64,
}

impl ZDrawer {
    /// The sum over `shifts`.
    pub fn of(shifts: &[super::ShiftSummary]) -> ZDrawer {
        let mut d = ZDrawer::default();
        for s in shifts {
            d.shifts += 1;
            d.open_shifts += i64::from(s.closed_at.is_none());
            let t = &mut d.tally;
            t.float_cents += s.tally.float_cents;
            t.cash_sales_cents += s.tally.cash_sales_cents;
            t.cash_refunds_cents += s.tally.cash_refunds_cents;
            t.cash_voids_cents += s.tally.cash_voids_cents;
            t.paid_in_cents += s.tally.paid_in_cents;
            t.paid_out_cents += s.tally.paid_out_cents;
            d.expected_cents += s.expected_cents;
            d.counted_cents += s.counted_cents.unwrap_or(0);
            d.over_short_cents += s.over_short_cents.unwrap_or(0);
        }
        d
    }
}

/// The result of `kassa verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub sales_checked: i64,
    pub refunds_checked: i64,
    pub voids_checked: i64,
    /// Shift opens, cash movements and shift closes.
    pub shift_documents_checked: i64,
    pub chain_ok: bool,
    /// The first broken link, described.
    pub first_break: Option<String>,
    pub integrity_check: String,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.chain_ok && self.integrity_check == "ok"
    }
}

impl Db {
    /// Totals of the sales, refunds and voids whose `created_at` lies in `[from, to)`.
    pub fn report_z(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<ZReport, StoreError> {
        let (f, t) = (super::timestamp(from), super::timestamp(to));
        let (sales, first_seq, last_seq, total, tax, rounding) = self.conn.query_row(
            "SELECT count(*), min(seq), max(seq), coalesce(sum(total_cents), 0),
                    coalesce(sum(tax_cents), 0), coalesce(sum(rounding_cents), 0)
             FROM sales WHERE created_at >= ?1 AND created_at < ?2",
            params![f, t],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )?;
        let returns = |sql: &str| -> Result<ZReturns, StoreError> {
            Ok(self.conn.query_row(sql, params![f, t], |r| {
                let total: i64 = r.get(1)?;
                let rounding: i64 = r.get(3)?;
                Ok(ZReturns {
                    count: r.get(0)?,
                    total_cents: total,
                    tax_cents: r.get(2)?,
                    rounding_cents: rounding,
                    paid_cents: total + rounding,
                })
            })?)
        };
        let refunds = returns(
            "SELECT count(*), coalesce(sum(total_cents), 0), coalesce(sum(tax_cents), 0),
                    coalesce(sum(rounding_cents), 0)
             FROM refunds WHERE created_at >= ?1 AND created_at < ?2",
        )?;
        let voids = returns(
            "SELECT count(*), coalesce(sum(s.total_cents), 0), coalesce(sum(s.tax_cents), 0),
                    coalesce(sum(s.rounding_cents), 0)
             FROM sale_voids v JOIN sales s ON s.sale_id = v.sale_id
             WHERE v.created_at >= ?1 AND v.created_at < ?2",
        )?;
        let by_tender = self.z_tenders(&f, &t)?;
        let by_tax_rate = self.z_tax_rates(&f, &t)?;
        let shifts = self.shifts_between(from, to)?;
        Ok(ZReport {
            from: f,
            to: t,
            sales,
            first_seq,
            last_seq,
            total_cents: total,
            tax_cents: tax,
            rounding_cents: rounding,
            due_cents: total + rounding,
            net_cents: total + rounding - refunds.paid_cents - voids.paid_cents,
            net_tax_cents: tax - refunds.tax_cents - voids.tax_cents,
            refunds,
            voids,
            by_tender,
            by_tax_rate,
            drawer: ZDrawer::of(&shifts),
            shifts,
        })
    }

    fn z_tenders(&self, f: &str, t: &str) -> Result<Vec<ZTenderRow>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT kind, sum(n), sum(sales), sum(refunds), sum(voids) FROM (
                 SELECT t.kind, count(*) AS n, sum(t.amount_cents - t.change_cents) AS sales,
                        0 AS refunds, 0 AS voids
                 FROM tenders t JOIN sales s ON s.sale_id = t.sale_id
                 WHERE s.created_at >= ?1 AND s.created_at < ?2 GROUP BY t.kind
                 UNION ALL
                 SELECT t.kind, 0, 0, sum(t.amount_cents), 0
                 FROM refund_tenders t JOIN refunds r ON r.refund_id = t.refund_id
                 WHERE r.created_at >= ?1 AND r.created_at < ?2 GROUP BY t.kind
                 UNION ALL
                 SELECT t.kind, 0, 0, 0, sum(t.amount_cents)
                 FROM void_tenders t JOIN sale_voids v ON v.void_id = t.void_id
                 WHERE v.created_at >= ?1 AND v.created_at < ?2 GROUP BY t.kind
             ) GROUP BY kind ORDER BY kind",
        )?;
        let rows = st.query_map(params![f, t], |r| {
            let (sales, refunds, voids): (i64, i64, i64) = (r.get(2)?, r.get(3)?, r.get(4)?);
            Ok(ZTenderRow {
                kind: r.get(0)?,
                count: r.get(1)?,
                sales_cents: sales,
                refunds_cents: refunds,
                voids_cents: voids,
                amount_cents: sales - refunds - voids,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn z_tax_rates(&self, f: &str, t: &str) -> Result<Vec<ZTaxRow>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT rate, sum(g), sum(x), sum(rg), sum(rx), sum(vg), sum(vx) FROM (
                 SELECT l.tax_rate_bp AS rate, sum(l.line_total_cents) AS g, sum(l.tax_cents) AS x,
                        0 AS rg, 0 AS rx, 0 AS vg, 0 AS vx
                 FROM sale_lines l JOIN sales s ON s.sale_id = l.sale_id
                 WHERE s.created_at >= ?1 AND s.created_at < ?2 GROUP BY l.tax_rate_bp
                 UNION ALL
                 SELECT l.tax_rate_bp, 0, 0, sum(l.amount_cents), sum(l.tax_cents), 0, 0
                 FROM refund_lines l JOIN refunds r ON r.refund_id = l.refund_id
                 WHERE r.created_at >= ?1 AND r.created_at < ?2 GROUP BY l.tax_rate_bp
                 UNION ALL
                 SELECT l.tax_rate_bp, 0, 0, 0, 0, sum(l.line_total_cents), sum(l.tax_cents)
                 FROM sale_lines l JOIN sale_voids v ON v.sale_id = l.sale_id
                 WHERE v.created_at >= ?1 AND v.created_at < ?2 GROUP BY l.tax_rate_bp
             ) GROUP BY rate ORDER BY rate",
        )?;
        let rows = st.query_map(params![f, t], |r| {
            let v: [i64; 6] = [
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ];
            Ok(ZTaxRow {
                tax_rate_bp: r.get(0)?,
                gross_cents: v[0],
                tax_cents: v[1],
                refunds_cents: v[2],
                refunds_tax_cents: v[3],
                voids_cents: v[4],
                voids_tax_cents: v[5],
                net_cents: v[0] - v[2] - v[4],
                net_tax_cents: v[1] - v[3] - v[5],
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Walks the document chain (sales, refunds and voids) in seq order, recomputing every
    /// hash from the stored rows and checking the queued payload says the same, and runs
    /// `PRAGMA integrity_check`.
    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        use super::documents::{chain_documents, load_refund, load_void, DocKind};
        let integrity: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        let docs = chain_documents(&self.conn)?;
        let mut prev = GENESIS_HASH.to_string();
        let mut first_break = None;
        let mut counts = [0i64; 6];
        for &(_, kind) in &docs {
            counts[kind as usize] += 1;
        }
        for &(seq, kind) in &docs {
            let payload: String =
                self.conn
                    .query_row("SELECT payload FROM outbox WHERE seq = ?1", [seq], |r| {
                        r.get(0)
                    })?;
            let verdict = match kind {
                DocKind::Sale => check(self.load_sale(seq)?, &payload, &prev),
                DocKind::Refund => check(load_refund(&self.conn, seq)?, &payload, &prev),
                DocKind::Void => check(load_void(&self.conn, seq)?, &payload, &prev),
                DocKind::ShiftOpen => check(
                    super::shifts::load_shift_open(&self.conn, seq)?,
                    &payload,
                    &prev,
                ),
                DocKind::Cash => check(super::shifts::load_cash(&self.conn, seq)?, &payload, &prev),
                DocKind::ShiftClose => check(
                    super::shifts::load_shift_close(&self.conn, seq)?,
                    &payload,
                    &prev,
                ),
            };
            let label = [
                "sale",
                "refund",
                "void",
                "shift open",
                "cash movement",
                "shift close",
            ][kind as usize];
            let Some(verdict) = verdict else {
                continue;
            };
            match verdict {
                Ok(hash) => prev = hash,
                Err(why) => {
                    first_break = Some(format!("{label} #{seq}: {why}"));
                    break;
                }
            }
        }
        Ok(VerifyReport {
            sales_checked: counts[0],
            refunds_checked: counts[1],
            voids_checked: counts[2],
            shift_documents_checked: counts[3] + counts[4] + counts[5],
            chain_ok: first_break.is_none(),
            first_break,
            integrity_check: integrity,
        })
    }
}

/// One link: the document's own hash, its link to `prev`, and the queued payload equal to it.
/// Returns the document's hash, or what is wrong; `None` when there is no such document.
fn check<T: Document + PartialEq + serde::de::DeserializeOwned>(
    doc: Option<T>,
    payload: &str,
    prev: &str,
) -> Option<Result<String, &'static str>> {
    let doc = doc?;
    if !doc.verify(prev) {
        return Some(Err(if doc.link().0 != prev {
            "prev_hash does not link to the document before it"
        } else {
            "hash does not match its content"
        }));
    }
    let queued: Result<T, _> = serde_json::from_str(payload);
    if queued.as_ref().map(|q| q != &doc).unwrap_or(true) {
        return Some(Err("queued op differs from the document"));
    }
    Some(Ok(doc.link().1.to_string()))
}
