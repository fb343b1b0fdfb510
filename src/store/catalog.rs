//! The catalog: product lookup for the cashier, the demo catalog and CSV import.
//!
//! CSV format (header required, columns in any order; `barcode` may be empty, `active`
//! optional): `sku,barcode,name,price_cents,tax_rate_bp,price_includes_tax[,active]`.
//! A bad row fails the whole import with its line number; nothing is written.

use std::collections::HashSet;

use rusqlite::{params, Row};

use super::{Db, StoreError, StoreEvent};
use crate::domain::Product;

/// The demo catalog shipped in `assets/catalog.csv`, seeded on first run.
pub const DEMO_CATALOG: &str = include_str!("../../assets/catalog.csv");

const PRODUCT_COLS: &str =
    "sku, barcode, name, price_cents, tax_rate_bp, price_includes_tax, active";

/// A problem in a catalog file, with the line it is on (1 = the header).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CatalogError {
    pub line: u64,
    pub message: String,
}

fn product_from_row(r: &Row<'_>) -> rusqlite::Result<Product> {
    Ok(Product {
        sku: r.get(0)?,
        barcode: r.get(1)?,
        name: r.get(2)?,
        price_cents: r.get(3)?,
        tax_rate_bp: r.get(4)?,
        price_includes_tax: r.get(5)?,
        active: r.get(6)?,
    })
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "y" => Some(true),
        "false" | "0" | "no" | "n" => Some(false),
        _ => None,
    }
}

/// Parses and validates a whole catalog CSV; the first bad line is the error.
pub fn parse_catalog_csv(text: &str) -> Result<Vec<Product>, CatalogError> {
    let err = |line: u64, message: String| CatalogError { line, message };
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| err(1, format!("cannot read header: {e}")))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let required = [
        "sku",
        "barcode",
        "name",
        "price_cents",
        "tax_rate_bp",
        "price_includes_tax",
    ];
    let mut idx = Vec::new();
    for name in required {
        idx.push(col(name).ok_or_else(|| err(1, format!("missing column {name:?}")))?);
    }
    let active_col = col("active");
    let mut products = Vec::new();
    let mut skus = HashSet::new();
    let mut barcodes = HashSet::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            err(line, format!("malformed row: {e}"))
        })?;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let field = |i: usize| rec.get(idx[i]).unwrap_or("");
        let int = |i: usize, name: &str| {
            field(i)
                .parse::<i64>()
                .map_err(|_| err(line, format!("{name} {:?} is not a whole number", field(i))))
        };
        let barcode = field(1);
        let p = Product {
            sku: field(0).to_string(),
            barcode: (!barcode.is_empty()).then(|| barcode.to_string()),
            name: field(2).to_string(),
            price_cents: int(3, "price_cents")?,
            tax_rate_bp: int(4, "tax_rate_bp")?,
            price_includes_tax: parse_bool(field(5)).ok_or_else(|| {
                err(
                    line,
                    format!("price_includes_tax {:?} is not true/false", field(5)),
                )
            })?,
            active: match active_col.and_then(|c| rec.get(c)) {
                None | Some("") => true,
                Some(v) => parse_bool(v)
                    .ok_or_else(|| err(line, format!("active {v:?} is not true/false")))?,
            },
        };
        p.validate().map_err(|e| err(line, e.to_string()))?;
        if !skus.insert(p.sku.clone()) {
            return Err(err(line, format!("duplicate sku {:?}", p.sku)));
        }
        if let Some(b) = &p.barcode {
            if !barcodes.insert(b.clone()) {
                return Err(err(line, format!("duplicate barcode {b:?}")));
            }
        }
        products.push(p);
    }
    if products.is_empty() {
        return Err(err(1, "no products in file".into()));
    }
    Ok(products)
}

impl Db {
    /// An active product by SKU or barcode.
    pub fn find_product(&self, code: &str) -> Result<Option<Product>, StoreError> {
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {PRODUCT_COLS} FROM products WHERE sku = ?1 AND active
             UNION ALL
             SELECT {PRODUCT_COLS} FROM products WHERE barcode = ?1 AND active
             LIMIT 1"
        ))?;
        let mut rows = st.query_map([code], product_from_row)?;
        Ok(rows.next().transpose()?)
    }

    /// Active products whose name contains `text` (any case), then SKUs starting with it.
    pub fn search_products(&self, text: &str, limit: usize) -> Result<Vec<Product>, StoreError> {
        let escaped = text
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let mut st = self.conn.prepare_cached(&format!(
            "SELECT {PRODUCT_COLS} FROM products
             WHERE active AND (name LIKE '%' || ?1 || '%' ESCAPE '\\' OR sku LIKE ?1 || '%' ESCAPE '\\')
             ORDER BY name COLLATE NOCASE LIMIT ?2"
        ))?;
        let rows = st.query_map(params![escaped, limit as i64], product_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every product, by SKU.
    pub fn catalog(&self) -> Result<Vec<Product>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(&format!("SELECT {PRODUCT_COLS} FROM products ORDER BY sku"))?;
        let rows = st.query_map([], product_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Inserts or updates products by SKU in one transaction; returns how many were written.
    pub fn import_catalog(&mut self, products: &[Product]) -> Result<usize, StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO products (sku, barcode, name, price_cents, tax_rate_bp,
                                       price_includes_tax, active)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (sku) DO UPDATE SET barcode = excluded.barcode,
                     name = excluded.name, price_cents = excluded.price_cents,
                     tax_rate_bp = excluded.tax_rate_bp,
                     price_includes_tax = excluded.price_includes_tax, active = excluded.active",
            )?;
            for p in products {
                p.validate()?;
                st.execute(params![
                    p.sku,
                    p.barcode,
                    p.name,
                    p.price_cents,
                    p.tax_rate_bp,
                    p.price_includes_tax,
                    p.active
                ])
                .map_err(|e| match e {
                    rusqlite::Error::SqliteFailure(f, _)
                        if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                    {
                        StoreError::Invalid(format!(
                            "sku {:?}: barcode {:?} already belongs to another product",
                            p.sku,
                            p.barcode.as_deref().unwrap_or("")
                        ))
                    }
                    e => e.into(),
                })?;
            }
        }
        tx.commit()?;
        self.notify(StoreEvent::CatalogChanged);
        Ok(products.len())
    }

    pub(super) fn seed_demo_catalog_if_empty(&mut self) -> Result<(), StoreError> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM products", [], |r| r.get(0))?;
        if n == 0 {
            let products = parse_catalog_csv(DEMO_CATALOG)
                .map_err(|e| StoreError::Corrupt(format!("demo catalog {e}")))?;
            self.import_catalog(&products)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_catalog_is_valid_and_large_enough() {
        let p = parse_catalog_csv(DEMO_CATALOG).unwrap();
        assert!(p.len() >= 50);
        assert!(p.iter().filter(|p| p.barcode.is_some()).count() >= 50);
        let rates: HashSet<i64> = p.iter().map(|p| p.tax_rate_bp).collect();
        assert!(rates.len() >= 3);
    }

    #[test]
    fn a_bad_row_names_its_line() {
        let csv = "sku,barcode,name,price_cents,tax_rate_bp,price_includes_tax\n\
                   1,111,Milk,119,700,true\n\
                   2,222,Bread,1.19,700,true\n";
        let e = parse_catalog_csv(csv).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 3: price_cents \"1.19\" is not a whole number"
        );
        let csv = "sku,barcode,name,price_cents,tax_rate_bp,price_includes_tax\n\
                   1,111,Milk,119,700,true\n\
                   1,222,Bread,119,700,true\n";
        assert_eq!(
            parse_catalog_csv(csv).unwrap_err().to_string(),
            "line 3: duplicate sku \"1\""
        );
        let e = parse_catalog_csv("sku,name\n1,x\n").unwrap_err();
        assert_eq!(e.to_string(), "line 1: missing column \"barcode\"");
        let csv =
            "sku,barcode,name,price_cents,tax_rate_bp,price_includes_tax\n1,,Milk,119,70000,true\n";
        assert!(parse_catalog_csv(csv)
            .unwrap_err()
            .to_string()
            .starts_with("line 2: tax rate"));
    }
}
