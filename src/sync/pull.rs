//! The pull worker: catalog, stock levels and conflicts since the stored cursors, page by
//! page, each page applied locally in one transaction. Runs after pushes (debounced), when
//! the server comes back, and at an interval.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rand::rngs::StdRng;
use tokio::time::Instant;

use super::backoff::Backoff;
use super::shared::Shared;
use super::status::SyncEvent;
use crate::remote::{CatalogEntry, PullCursors, PullReply, RemoteError, StaffEntry};
use crate::store::{
    ConflictUpdate, ProductSkip, ProductUpdate, PullPage, StaffUpdate, StockUpdate, SyncCursors,
};

/// Rows applied by one complete pull.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PullCounts {
    pub products: usize,
    pub stock: usize,
    pub conflicts: usize,
    /// Catalog rows left out because the till cannot use them (see `kassa doctor`).
    pub skipped: usize,
    /// Staff rows stored (issue 11).
    pub staff: usize,
}

/// The usable rows of a pulled staff section and its cursor. A row that is malformed or
/// fails the till's checks (id not a uuid, unknown role, a hash that is not Argon2id, a bad
/// name) is left out with a warning naming its id only.
fn staff_page(section: crate::remote::PullSection<StaffEntry>) -> (Vec<StaffUpdate>, i64) {
    let rows = section
        .rows
        .into_iter()
        .filter_map(|e| {
            let r = match e {
                StaffEntry::Row(r) => r,
                StaffEntry::Malformed { id, error } => {
                    let id = crate::store::skip_key(&id);
                    tracing::warn!(%id, "server sent a malformed staff row: {error}");
                    return None;
                }
            };
            let id = uuid::Uuid::parse_str(&r.id).ok();
            let role = crate::domain::Role::parse(&r.role);
            let name = crate::domain::staff::clean_name(&r.name).ok();
            let hash_ok = crate::domain::staff::is_argon2id_phc(&r.pin_hash);
            match (id, role, name, hash_ok) {
                (Some(id), Some(role), Some(name), true) => Some(StaffUpdate {
                    id,
                    name,
                    role,
                    pin_hash: r.pin_hash,
                    active: r.active,
                    version: r.version,
                }),
                _ => {
                    let id = crate::store::skip_key(&r.id);
                    tracing::warn!(%id, version = r.version, "server sent an unusable staff row");
                    None
                }
            }
        })
        .collect();
    (rows, section.cursor)
}

/// How many SKUs a [`SyncEvent::ProductsSkipped`] names at most.
const SKIPPED_SKUS_IN_EVENT: usize = 10;

#[derive(Debug, thiserror::Error)]
pub(crate) enum PullError {
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

fn to_page(reply: PullReply) -> PullPage {
    let complete = !reply.more();
    let mut skipped = Vec::new();
    PullPage {
        cursors: SyncCursors {
            catalog: reply.catalog.cursor,
            stock: reply.stock.cursor,
            conflicts: reply.conflicts.cursor,
        },
        products: reply
            .catalog
            .rows
            .into_iter()
            .filter_map(|entry| {
                let r = match entry {
                    CatalogEntry::Row(r) => r,
                    CatalogEntry::Malformed {
                        sku,
                        version,
                        active,
                        error,
                    } => {
                        let key = crate::store::skip_key(&sku);
                        tracing::warn!(sku = %key, version, "server sent a malformed catalog row: {error}");
                        skipped.push(ProductSkip {
                            sku,
                            reason: format!("malformed catalog row: {error}"),
                            version,
                            active,
                        });
                        return None;
                    }
                };
                let product = crate::domain::Product {
                    sku: r.sku,
                    barcode: r.barcode,
                    name: r.name,
                    price_cents: r.price_cents,
                    tax_rate_bp: r.tax_rate_bp,
                    price_includes_tax: r.price_includes_tax,
                    active: r.active,
                };
                // A product the till could not sell correctly is left out, so one bad row never
                // blocks the rest of the catalog; the store records it (kassa status, kassa
                // doctor) until a usable version arrives or the server takes it off sale.
                match product.validate() {
                    Ok(()) => Some(ProductUpdate {
                        product,
                        version: r.version,
                    }),
                    Err(e) => {
                        let sku = crate::store::skip_key(&product.sku);
                        tracing::warn!(%sku, version = r.version, "server sent an unusable product: {e}");
                        skipped.push(ProductSkip {
                            sku: product.sku,
                            reason: e.to_string(),
                            version: r.version,
                            active: product.active,
                        });
                        None
                    }
                }
            })
            .collect(),
        stock: reply
            .stock
            .rows
            .into_iter()
            .map(|r| StockUpdate {
                sku: r.sku,
                on_hand: r.on_hand,
                version: r.version,
            })
            .collect(),
        conflicts: reply
            .conflicts
            .rows
            .into_iter()
            .map(|r| ConflictUpdate {
                id: r.id,
                kind: r.kind,
                status: r.status,
                sku: r.sku,
                sale_id: r.sale_id,
                details: r.details,
                resolution: r.resolution,
                version: r.version,
                line_no: r.line_no,
                count_id: r.count_id,
                created_at: r.created_at.map(crate::store::timestamp),
                resolved_at: r.resolved_at.map(crate::store::timestamp),
            })
            .collect(),
        skipped,
        complete,
    }
}

/// Pulls every page until the server says there is no more.
pub(crate) async fn pull_all(sh: &Shared) -> Result<PullCounts, PullError> {
    if sh.client.is_none() {
        return Err(RemoteError::Config("no remote configured".into()).into());
    }
    let started = Utc::now();
    let mut counts = PullCounts::default();
    let mut skipped_skus: Vec<String> = Vec::new();
    let mut cleared = 0usize;
    let skipped_total = loop {
        let c = sh.store.call(|db| db.sync_cursors()).await??;
        let staff_cursor = sh.store.call(|db| db.staff_cursor()).await??;
        let cursors = PullCursors {
            catalog: c.catalog,
            stock: c.stock,
            conflicts: c.conflicts,
            limit: sh.opts.pull_page_limit,
            staff: Some(staff_cursor),
            store: Some(true),
        };
        let cursors = &cursors;
        let mut reply = sh
            .call(|c| async move { c.pull(cursors).await })
            .await?
            .value;
        if let Some(s) = reply.store.take() {
            let record = crate::store::StoreRecord {
                name: s.name,
                address: s.address,
                tax_id: s.tax_id,
            };
            sh.store
                .call(move |db| db.set_store_record(&record))
                .await??;
        }
        if let Some(section) = reply.staff.take() {
            let (rows, cursor) = staff_page(section);
            counts.staff += rows.len();
            sh.store
                .call(move |db| db.apply_staff_page(&rows, cursor, Utc::now()))
                .await??;
        }
        let page = to_page(reply);
        counts.products += page.products.len();
        counts.stock += page.stock.len();
        counts.conflicts += page.conflicts.len();
        for s in page.skipped.iter().filter(|s| s.active) {
            if skipped_skus.len() < SKIPPED_SKUS_IN_EVENT {
                skipped_skus.push(crate::store::skip_key(&s.sku));
            }
        }
        let complete = page.complete;
        let tally = sh
            .store
            .call(move |db| db.apply_pull_page(&page, started))
            .await??;
        counts.skipped += tally.skipped;
        cleared += tally.cleared;
        if complete {
            break tally.total;
        }
    };
    sh.status.send_modify(|s| s.last_sync_at = Some(Utc::now()));
    sh.emit(SyncEvent::Pulled {
        products: counts.products,
        stock: counts.stock,
        conflicts: counts.conflicts,
    });
    if counts.skipped > 0 || cleared > 0 {
        sh.emit(SyncEvent::ProductsSkipped {
            skipped: counts.skipped,
            cleared,
            total: skipped_total,
            skus: skipped_skus,
        });
    }
    Ok(counts)
}

pub(crate) async fn run(sh: Arc<Shared>, mut rng: StdRng) {
    let mut stop = sh.stopping.clone();
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(60));
    let mut not_before = Instant::now();
    let mut last_pull: Option<Instant> = None;
    loop {
        let periodic = last_pull.map_or(Instant::now(), |t| t + sh.opts.pull_interval);
        tokio::select! {
            _ = stop.changed() => break,
            _ = tokio::time::sleep_until(periodic.max(not_before)) => {}
            _ = sh.pull_wake.notified() => {}
        }
        if sh.is_stopping() {
            break;
        }
        // Debounce: pushes wake us after every batch.
        let earliest = last_pull.map_or(not_before, |t| (t + sh.opts.pull_min_gap).max(not_before));
        if Instant::now() < earliest && sh.sleep_or_stop(earliest - Instant::now()).await {
            break;
        }
        if !sh.may_sync() {
            last_pull = Some(Instant::now());
            continue;
        }
        let r = tokio::select! {
            _ = stop.changed() => break,
            r = pull_all(&sh) => r,
        };
        last_pull = Some(Instant::now());
        match r {
            Ok(_) => {
                backoff.reset();
                not_before = Instant::now();
            }
            Err(e) => {
                let msg = e.to_string();
                tracing::info!("pull failed: {msg}");
                sh.emit(SyncEvent::PullFailed { error: msg });
                not_before = Instant::now() + backoff.next_delay(&mut rng, None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_staff_section_keeps_usable_rows_and_leaves_out_the_rest() {
        let good = crate::domain::Pin::parse("1234")
            .unwrap()
            .hash(&[1u8; 16])
            .unwrap();
        let reply: PullReply = serde_json::from_value(serde_json::json!({
            "catalog": {"rows": [], "cursor": 0, "more": false},
            "stock": {"rows": [], "cursor": 0, "more": false},
            "conflicts": {"rows": [], "cursor": 0, "more": false},
            "staff": {"rows": [
                {"id": "0193a5b0-0000-7000-8000-000000000001", "name": "Ana", "role": "cashier",
                 "pin_hash": good, "active": true, "version": 3},
                {"id": "0193a5b0-0000-7000-8000-000000000002", "name": "Bo", "role": "boss",
                 "pin_hash": good, "active": true, "version": 4},
                {"id": "0193a5b0-0000-7000-8000-000000000003", "name": "Cy", "role": "manager",
                 "pin_hash": "$2b$10$bcrypt", "active": true, "version": 5},
                {"id": "not-a-uuid", "name": "Di", "role": "manager",
                 "pin_hash": good, "active": true, "version": 6},
                {"id": "0193a5b0-0000-7000-8000-000000000005", "name": 7, "version": 7}
            ], "cursor": 7, "more": false}
        }))
        .unwrap();
        assert!(!reply.more());
        let (rows, cursor) = staff_page(reply.staff.unwrap());
        assert_eq!(cursor, 7);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].name, "Ana");
        assert!(
            !format!("{rows:?}").contains("argon2"),
            "Debug redacts the hash"
        );
        // An older server sends no staff section at all.
        let old: PullReply = serde_json::from_value(serde_json::json!({
            "catalog": {"rows": [], "cursor": 0, "more": false},
            "stock": {"rows": [], "cursor": 0, "more": false},
            "conflicts": {"rows": [], "cursor": 0, "more": false}
        }))
        .unwrap();
        assert!(old.staff.is_none());
    }

    fn applied_skus(page: &PullPage) -> Vec<&str> {
        page.products
            .iter()
            .map(|p| p.product.sku.as_str())
            .collect()
    }

    #[test]
    fn a_product_the_till_cannot_sell_is_left_out_and_the_rest_applies() {
        let reply: PullReply = serde_json::from_value(serde_json::json!({
            "catalog": {"rows": [
                {"sku": "1001", "barcode": null, "name": "Milk", "price_cents": 119,
                 "tax_rate_bp": 700, "price_includes_tax": true, "active": true, "version": 3},
                {"sku": "bad|sku", "barcode": null, "name": "Pipe", "price_cents": 1,
                 "tax_rate_bp": 700, "price_includes_tax": true, "active": true, "version": 4},
                {"sku": "1002", "barcode": null, "name": "Tax", "price_cents": 1,
                 "tax_rate_bp": 20000, "price_includes_tax": true, "active": true, "version": 5}
            ], "cursor": 5, "more": false},
            "stock": {"rows": [], "cursor": 0, "more": false},
            "conflicts": {"rows": [], "cursor": 0, "more": false}
        }))
        .unwrap();
        let page = to_page(reply);
        let skus = applied_skus(&page);
        assert_eq!(skus, vec!["1001"]);
        assert_eq!(
            page.cursors.catalog, 5,
            "the cursor still moves past the bad rows"
        );
        // The bad rows travel with the page, to be recorded in the same transaction.
        let skipped: Vec<(&str, i64, bool)> = page
            .skipped
            .iter()
            .map(|s| (s.sku.as_str(), s.version, s.active))
            .collect();
        assert_eq!(skipped, vec![("bad|sku", 4, true), ("1002", 5, true)]);
        assert!(page.skipped[0].reason.contains("sku"), "{:?}", page.skipped);
        assert!(
            page.skipped[1].reason.contains("tax rate"),
            "{:?}",
            page.skipped
        );
    }

    #[test]
    fn a_catalog_row_of_the_wrong_shape_is_skipped_and_never_blocks_the_pull() {
        let reply: PullReply = serde_json::from_value(serde_json::json!({
            "catalog": {"rows": [
                {"sku": "1001", "barcode": null, "name": "Milk", "price_cents": 119,
                 "tax_rate_bp": 700, "price_includes_tax": true, "active": true, "version": 3},
                {"sku": "1003", "barcode": null, "name": "Bread", "price_cents": "2.39",
                 "tax_rate_bp": 700, "price_includes_tax": true, "active": true, "version": 4},
                {"sku": "1004", "price_cents": 100, "version": 5},
                {"name": "no sku", "price_cents": 1, "version": "six"},
                42,
                {"sku": "1005", "barcode": null, "name": "Eggs", "price_cents": 299,
                 "tax_rate_bp": 700, "price_includes_tax": true, "active": true, "version": 7}
            ], "cursor": 7, "more": false},
            "stock": {"rows": [{"sku": "1001", "on_hand": 5, "version": 8}], "cursor": 8, "more": false},
            "conflicts": {"rows": [], "cursor": 0, "more": false}
        }))
        .expect("a malformed catalog row never fails the reply");
        let page = to_page(reply);
        let skus = applied_skus(&page);
        assert_eq!(skus, vec!["1001", "1005"]);
        assert_eq!(page.stock.len(), 1, "the other sections apply");
        assert_eq!(
            page.cursors.catalog, 7,
            "the cursor moves past the bad rows"
        );
        let skipped: Vec<(&str, i64)> = page
            .skipped
            .iter()
            .map(|s| (s.sku.as_str(), s.version))
            .collect();
        assert_eq!(skipped, vec![("1003", 4), ("1004", 5), ("", 0), ("", 0)]);
        assert!(page.skipped.iter().all(|s| s.active));
        assert!(
            page.skipped[0]
                .reason
                .starts_with("malformed catalog row: invalid type"),
            "{:?}",
            page.skipped[0]
        );
        assert!(
            page.skipped[1].reason.contains("missing field"),
            "{:?}",
            page.skipped[1]
        );
    }
}
