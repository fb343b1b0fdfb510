//! Catalog products the server sent that the till could not use (they fail the till's own
//! checks: a tax rate out of range, a price too large, a SKU with a space, ...). The pull
//! leaves them out so that one bad row never blocks the rest of the catalog, and records them
//! here, in the transaction that applies the page, so that `kassa status` and `kassa doctor`
//! can show them. A later usable version of the SKU, or its removal on the server, clears it.

use rusqlite::{params, Transaction};
use serde::Serialize;

use super::{Db, StoreError};

/// Longest reason kept, in characters (the rest is cut and marked with `…`).
pub const MAX_SKIP_REASON_CHARS: usize = 200;
/// Longest SKU kept as given; a longer (hence unusable) one is cut and marked with `…`.
pub const MAX_SKIP_SKU_CHARS: usize = 100;

/// A catalog row the pull could not use, as a pull page carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductSkip {
    /// The SKU as the server sent it.
    pub sku: String,
    /// Why the till cannot use it (the till's own message, not the row).
    pub reason: String,
    /// The row's server version.
    pub version: i64,
    /// Whether the server offers the product for sale. An inactive or deleted product the
    /// till cannot use is not a problem: it is taken off sale locally and not recorded.
    pub active: bool,
}

/// One skipped product, as `kassa doctor` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedProduct {
    pub sku: String,
    pub reason: String,
    /// The server version of the row that was skipped last.
    pub version: i64,
    pub first_seen_at: String,
    pub last_seen_at: String,
    /// True when the till still sells an older, usable copy of this SKU.
    pub older_copy_on_sale: bool,
}

/// What applying one pull page did to the skipped products.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SkipTally {
    /// Rows of this page that were skipped (recorded or seen again).
    pub skipped: usize,
    /// Entries cleared by a usable version or by the product's removal.
    pub cleared: usize,
    /// Skipped products on record after the page.
    pub total: i64,
}

/// `text` on one line (control characters become spaces), at most `max` characters.
pub fn one_line(text: &str, max: usize) -> String {
    if max == 0 {
        return String::new();
    }
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max.saturating_add(1))
        .collect();
    if out.chars().count() > max {
        out = out.chars().take(max - 1).collect();
        out.push('…');
    }
    out
}

/// The key a SKU is recorded under: the SKU itself when it is printable and not too long,
/// otherwise an escaped, capped form (safe to print on a technician's terminal). The same
/// SKU always gives the same key, so a later version finds the entry.
pub fn skip_key(sku: &str) -> String {
    let plain = !sku.is_empty()
        && sku.chars().count() <= MAX_SKIP_SKU_CHARS
        && !sku.chars().any(|c| c.is_control());
    if plain {
        return sku.to_string();
    }
    let escaped = format!("{sku:?}");
    if escaped.chars().count() <= MAX_SKIP_SKU_CHARS {
        escaped
    } else {
        let mut cut: String = escaped.chars().take(MAX_SKIP_SKU_CHARS - 1).collect();
        cut.push('…');
        cut
    }
}

/// Records (or sees again) one skipped row. The first time stays; the reason, version and
/// last time follow the newest row.
pub(super) fn record(tx: &Transaction<'_>, skip: &ProductSkip, at: &str) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO skipped_products (sku, reason, version, first_seen_at, last_seen_at)
         VALUES (?1, ?2, ?3, ?4, ?4)
         ON CONFLICT (sku) DO UPDATE SET reason = excluded.reason, version = excluded.version,
             last_seen_at = excluded.last_seen_at
         WHERE excluded.version >= skipped_products.version",
    )?
    .execute(params![
        skip_key(&skip.sku),
        one_line(&skip.reason, MAX_SKIP_REASON_CHARS),
        skip.version,
        at
    ])?;
    Ok(())
}

/// Clears the entry of `sku` when `version` is at least the skipped one. True if it did.
pub(super) fn clear(tx: &Transaction<'_>, sku: &str, version: i64) -> Result<bool, StoreError> {
    let n = tx
        .prepare_cached("DELETE FROM skipped_products WHERE sku = ?1 AND version <= ?2")?
        .execute(params![skip_key(sku), version])?;
    Ok(n > 0)
}

/// Takes the till's copy of a product the server no longer offers off sale.
pub(super) fn withdraw(tx: &Transaction<'_>, sku: &str, version: i64) -> Result<(), StoreError> {
    tx.prepare_cached("UPDATE products SET active = 0, version = ?2 WHERE sku = ?1")?
        .execute(params![sku, version])?;
    Ok(())
}

pub(super) fn count(conn: &rusqlite::Connection) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM skipped_products")?
        .query_row([], |r| r.get(0))?)
}

impl Db {
    /// How many server products the till is leaving out (see [`Db::skipped_products`]).
    pub fn skipped_count(&self) -> Result<i64, StoreError> {
        count(&self.conn)
    }

    /// The skipped products by SKU, at most `limit`.
    pub fn skipped_products(&self, limit: usize) -> Result<Vec<SkippedProduct>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT s.sku, s.reason, s.version, s.first_seen_at, s.last_seen_at,
                    EXISTS (SELECT 1 FROM products p WHERE p.sku = s.sku AND p.active)
             FROM skipped_products s ORDER BY s.sku LIMIT ?1",
        )?;
        let rows = st.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok(SkippedProduct {
                sku: r.get(0)?,
                reason: r.get(1)?,
                version: r.get(2)?,
                first_seen_at: r.get(3)?,
                last_seen_at: r.get(4)?,
                older_copy_on_sale: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_one_capped_line() {
        assert_eq!(one_line("a\nb\tc", 10), "a b c");
        let long = "x".repeat(500);
        let cut = one_line(&long, MAX_SKIP_REASON_CHARS);
        assert_eq!(cut.chars().count(), MAX_SKIP_REASON_CHARS);
        assert!(cut.ends_with('…'));
        assert_eq!(one_line("äöü", 3), "äöü");
        assert_eq!(one_line("äöüß", 3), "äö…");
        assert_eq!(one_line("", 0), "");
        assert_eq!(one_line("ab", 0), "");
    }

    #[test]
    fn odd_skus_get_a_printable_capped_key() {
        assert_eq!(skip_key("1002"), "1002");
        assert_eq!(skip_key("bad sku"), "bad sku");
        assert_eq!(skip_key(""), "\"\"");
        assert_eq!(skip_key("a\nb\u{1b}[2J"), "\"a\\nb\\u{1b}[2J\"");
        let long = skip_key(&"9".repeat(10_000));
        assert_eq!(long.chars().count(), MAX_SKIP_SKU_CHARS);
        assert!(long.ends_with('…'));
        assert_eq!(long, skip_key(&"9".repeat(10_000)), "stable");
    }
}
