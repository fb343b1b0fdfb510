//! End-of-day (Z) report and the integrity check of the hash chain and the database file.

use chrono::{DateTime, Utc};
use rusqlite::params;
use serde::Serialize;

use super::{Db, StoreError};
use crate::domain::GENESIS_HASH;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZTenderRow {
    pub kind: String,
    pub count: i64,
    /// What the drawer or the card terminal took: amount tendered minus change given.
    pub amount_cents: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZTaxRow {
    pub tax_rate_bp: i64,
    pub gross_cents: i64,
    pub tax_cents: i64,
    pub net_cents: i64,
}

/// Totals of the sales made in `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZReport {
    pub from: String,
    pub to: String,
    pub sales: i64,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
    pub total_cents: i64,
    pub tax_cents: i64,
    pub rounding_cents: i64,
    pub due_cents: i64,
    pub by_tender: Vec<ZTenderRow>,
    pub by_tax_rate: Vec<ZTaxRow>,
}

/// The result of `kassa verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub sales_checked: i64,
    pub refunds_checked: i64,
    pub voids_checked: i64,
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
    /// Totals of the sales whose `created_at` lies in `[from, to)`.
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
        let mut st = self.conn.prepare_cached(
            "SELECT t.kind, count(*), sum(t.amount_cents - t.change_cents)
             FROM tenders t JOIN sales s ON s.sale_id = t.sale_id
             WHERE s.created_at >= ?1 AND s.created_at < ?2 GROUP BY t.kind ORDER BY t.kind",
        )?;
        let by_tender = st
            .query_map(params![f, t], |r| {
                Ok(ZTenderRow {
                    kind: r.get(0)?,
                    count: r.get(1)?,
                    amount_cents: r.get(2)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let mut st = self.conn.prepare_cached(
            "SELECT l.tax_rate_bp, sum(l.line_total_cents), sum(l.tax_cents)
             FROM sale_lines l JOIN sales s ON s.sale_id = l.sale_id
             WHERE s.created_at >= ?1 AND s.created_at < ?2
             GROUP BY l.tax_rate_bp ORDER BY l.tax_rate_bp",
        )?;
        let by_tax_rate = st
            .query_map(params![f, t], |r| {
                let gross: i64 = r.get(1)?;
                let tax: i64 = r.get(2)?;
                Ok(ZTaxRow {
                    tax_rate_bp: r.get(0)?,
                    gross_cents: gross,
                    tax_cents: tax,
                    net_cents: gross - tax,
                })
            })?
            .collect::<Result<_, _>>()?;
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
            by_tender,
            by_tax_rate,
        })
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
        let mut counts = [0i64; 3];
        for &(seq, kind) in &docs {
            let payload: String =
                self.conn
                    .query_row("SELECT payload FROM outbox WHERE seq = ?1", [seq], |r| {
                        r.get(0)
                    })?;
            let (label, verdict) = match kind {
                DocKind::Sale => {
                    counts[0] += 1;
                    let Some(doc) = self.load_sale(seq)? else {
                        continue;
                    };
                    (
                        "sale",
                        check(
                            &doc,
                            &payload,
                            &prev,
                            doc.verify(&prev),
                            &doc.prev_hash,
                            &doc.hash,
                        ),
                    )
                }
                DocKind::Refund => {
                    counts[1] += 1;
                    let Some(doc) = load_refund(&self.conn, seq)? else {
                        continue;
                    };
                    (
                        "refund",
                        check(
                            &doc,
                            &payload,
                            &prev,
                            doc.verify(&prev),
                            &doc.prev_hash,
                            &doc.hash,
                        ),
                    )
                }
                DocKind::Void => {
                    counts[2] += 1;
                    let Some(doc) = load_void(&self.conn, seq)? else {
                        continue;
                    };
                    (
                        "void",
                        check(
                            &doc,
                            &payload,
                            &prev,
                            doc.verify(&prev),
                            &doc.prev_hash,
                            &doc.hash,
                        ),
                    )
                }
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
            chain_ok: first_break.is_none(),
            first_break,
            integrity_check: integrity,
        })
    }
}

/// One link: the document's own hash, its link to `prev`, and the queued payload equal to it.
/// Returns the document's hash, or what is wrong.
fn check<T: PartialEq + serde::de::DeserializeOwned>(
    doc: &T,
    payload: &str,
    prev: &str,
    verifies: bool,
    prev_hash: &str,
    hash: &str,
) -> Result<String, &'static str> {
    if !verifies {
        return Err(if prev_hash != prev {
            "prev_hash does not link to the document before it"
        } else {
            "hash does not match its content"
        });
    }
    let queued: Result<T, _> = serde_json::from_str(payload);
    if queued.as_ref().map(|q| q != doc).unwrap_or(true) {
        return Err("queued op differs from the document");
    }
    Ok(hash.to_string())
}
