//! The local schema as numbered migrations, applied in order at open.
//!
//! Never edit a migration that has shipped: append a new one. `PRAGMA user_version` records how
//! many have been applied.

use rusqlite::{Connection, OptionalExtension};

use super::StoreError;

/// Migration N is `MIGRATIONS[N - 1]`.
pub const MIGRATIONS: &[&str] = &[
    // 1: catalog, outbox, sales, conflicts, meta.
    r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE products (
    sku                TEXT PRIMARY KEY,
    barcode            TEXT UNIQUE,
    name               TEXT NOT NULL,
    price_cents        INTEGER NOT NULL CHECK (price_cents >= 0),
    tax_rate_bp        INTEGER NOT NULL CHECK (tax_rate_bp BETWEEN 0 AND 10000),
    price_includes_tax INTEGER NOT NULL,
    active             INTEGER NOT NULL DEFAULT 1,
    version            INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX products_name ON products (name COLLATE NOCASE);

-- Server stock level as last pulled; the local view adds this till's unsent deltas.
CREATE TABLE stock (
    sku            TEXT PRIMARY KEY,
    on_hand        INTEGER NOT NULL,
    version        INTEGER NOT NULL DEFAULT 0
) STRICT;

-- The queue. seq is the device-local sequence number (never reused: AUTOINCREMENT).
CREATE TABLE outbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    op_id       TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ('sale', 'stock_count', 'resolve_conflict')),
    payload     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'rejected')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    reject_code TEXT,
    sent_at     TEXT,
    total_cents INTEGER
) STRICT;
CREATE INDEX outbox_pending ON outbox (seq) WHERE state = 'pending';
CREATE INDEX outbox_rejected ON outbox (seq) WHERE state = 'rejected';

CREATE TABLE sales (
    sale_id        TEXT PRIMARY KEY,
    seq            INTEGER NOT NULL UNIQUE REFERENCES outbox (seq),
    created_at     TEXT NOT NULL,
    currency       TEXT NOT NULL,
    total_cents    INTEGER NOT NULL,
    tax_cents      INTEGER NOT NULL,
    rounding_cents INTEGER NOT NULL,
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL
) STRICT;

CREATE TABLE sale_lines (
    sale_id            TEXT NOT NULL REFERENCES sales (sale_id),
    line_no            INTEGER NOT NULL,
    sku                TEXT NOT NULL,
    name               TEXT NOT NULL,
    qty                INTEGER NOT NULL,
    unit_price_cents   INTEGER NOT NULL,
    discount_cents     INTEGER NOT NULL,
    price_overridden   INTEGER NOT NULL,
    tax_rate_bp        INTEGER NOT NULL,
    price_includes_tax INTEGER NOT NULL,
    line_total_cents   INTEGER NOT NULL,
    tax_cents          INTEGER NOT NULL,
    PRIMARY KEY (sale_id, line_no)
) STRICT, WITHOUT ROWID;

CREATE TABLE tenders (
    sale_id      TEXT NOT NULL REFERENCES sales (sale_id),
    idx          INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    change_cents INTEGER NOT NULL,
    PRIMARY KEY (sale_id, idx)
) STRICT, WITHOUT ROWID;

-- Stock this till moved and has not yet had confirmed by a pull (one row per op and SKU).
CREATE TABLE stock_deltas (
    seq   INTEGER NOT NULL REFERENCES outbox (seq),
    sku   TEXT NOT NULL,
    delta INTEGER NOT NULL,
    PRIMARY KEY (seq, sku)
) STRICT, WITHOUT ROWID;

CREATE TABLE conflicts (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    sku         TEXT,
    sale_id     TEXT,
    details     TEXT NOT NULL DEFAULT '{}',
    resolution  TEXT,
    version     INTEGER NOT NULL DEFAULT 0,
    queued_seq  INTEGER REFERENCES outbox (seq)
) STRICT;
"#,
    // 2 (sync engine): the single-syncer lease, and the server's note on an accepted op
    // (e.g. `already_resolved`).
    r#"
CREATE TABLE sync_lease (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    holder     TEXT NOT NULL,
    pid        INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
) STRICT;
ALTER TABLE outbox ADD COLUMN note TEXT;
"#,
    // 3: catalog rows the server sent that the till could not use (they fail the till's own
    // checks), per SKU, until a usable version arrives or the server takes the product away.
    // `reason` is one capped line made by the till, never the row itself.
    r#"
CREATE TABLE skipped_products (
    sku           TEXT PRIMARY KEY,
    reason        TEXT NOT NULL,
    version       INTEGER NOT NULL,
    first_seen_at TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL
) STRICT;
"#,
    // 4: what the server says about each pulled conflict besides its details: the sale line
    // or stock count behind it, when it raised it and when it was resolved (RFC 3339 UTC).
    // NULL where the server did not say (older servers, rows pulled before this migration
    // until their next version arrives).
    r#"
ALTER TABLE conflicts ADD COLUMN line_no INTEGER;
ALTER TABLE conflicts ADD COLUMN count_id TEXT;
ALTER TABLE conflicts ADD COLUMN created_at TEXT;
ALTER TABLE conflicts ADD COLUMN resolved_at TEXT;
"#,
    // 5 (issue 10): refunds and post-voids, in the same chain as sales. The outbox's kind CHECK
    // gains `refund` and `void_sale`: SQLite cannot alter a CHECK, so the table is rebuilt
    // (SQLite's documented procedure: new table, copy, drop, rename, indexes, with foreign keys
    // off and `foreign_key_check` before the commit; see `migrate`). The AUTOINCREMENT counter
    // is carried over, so a seq is never reused. Sales of other tills that the server's lookup
    // returned are kept, so that they can be refunded offline afterwards.
    r#"
CREATE TABLE outbox_new (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    op_id       TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ('sale', 'stock_count', 'resolve_conflict',
                                              'refund', 'void_sale')),
    payload     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'rejected')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    reject_code TEXT,
    sent_at     TEXT,
    total_cents INTEGER,
    note        TEXT
) STRICT;
INSERT INTO outbox_new (seq, op_id, kind, payload, created_at, state, attempts, last_error,
                        reject_code, sent_at, total_cents, note)
    SELECT seq, op_id, kind, payload, created_at, state, attempts, last_error, reject_code,
           sent_at, total_cents, note
    FROM outbox ORDER BY seq;
DELETE FROM sqlite_sequence WHERE name = 'outbox_new';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'outbox_new', max(seq) FROM (
        SELECT seq FROM sqlite_sequence WHERE name = 'outbox'
        UNION ALL SELECT seq FROM outbox_new
    ) HAVING max(seq) IS NOT NULL;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_pending ON outbox (seq) WHERE state = 'pending';
CREATE INDEX outbox_rejected ON outbox (seq) WHERE state = 'rejected';

CREATE INDEX sales_created ON sales (created_at);

CREATE TABLE refunds (
    refund_id        TEXT PRIMARY KEY,
    seq              INTEGER NOT NULL UNIQUE REFERENCES outbox (seq),
    created_at       TEXT NOT NULL,
    currency         TEXT NOT NULL,
    -- A sale of this till or of another one (looked up): no foreign key.
    original_sale_id TEXT,
    reason           TEXT NOT NULL,
    total_cents      INTEGER NOT NULL,
    tax_cents        INTEGER NOT NULL,
    rounding_cents   INTEGER NOT NULL,
    approved_by      TEXT,
    prev_hash        TEXT NOT NULL,
    hash             TEXT NOT NULL
) STRICT;
CREATE INDEX refunds_original ON refunds (original_sale_id) WHERE original_sale_id IS NOT NULL;
CREATE INDEX refunds_created ON refunds (created_at);

CREATE TABLE refund_lines (
    refund_id        TEXT NOT NULL REFERENCES refunds (refund_id),
    line_no          INTEGER NOT NULL,
    original_line_no INTEGER,
    sku              TEXT NOT NULL,
    name             TEXT NOT NULL,
    qty              INTEGER NOT NULL CHECK (qty > 0),
    amount_cents     INTEGER NOT NULL CHECK (amount_cents >= 0),
    tax_rate_bp      INTEGER NOT NULL,
    tax_cents        INTEGER NOT NULL,
    restock          INTEGER NOT NULL,
    PRIMARY KEY (refund_id, line_no)
) STRICT, WITHOUT ROWID;

CREATE TABLE refund_tenders (
    refund_id    TEXT NOT NULL REFERENCES refunds (refund_id),
    idx          INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    PRIMARY KEY (refund_id, idx)
) STRICT, WITHOUT ROWID;

CREATE TABLE sale_voids (
    void_id     TEXT PRIMARY KEY,
    seq         INTEGER NOT NULL UNIQUE REFERENCES outbox (seq),
    sale_id     TEXT NOT NULL UNIQUE REFERENCES sales (sale_id),
    created_at  TEXT NOT NULL,
    reason      TEXT NOT NULL,
    total_cents INTEGER NOT NULL,
    approved_by TEXT,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
) STRICT;

CREATE TABLE void_tenders (
    void_id      TEXT NOT NULL REFERENCES sale_voids (void_id),
    idx          INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    PRIMARY KEY (void_id, idx)
) STRICT, WITHOUT ROWID;

-- Another till's sale as `kassa_sale_lookup` returned it (the protocol's JSON), and per line
-- what other tills had refunded by then (the server's refunded_qty less this till's refunds
-- the server already had).
CREATE TABLE looked_up_sales (
    sale_id            TEXT PRIMARY KEY,
    device_id          TEXT NOT NULL,
    seq                INTEGER NOT NULL,
    sale               TEXT NOT NULL,
    refunded_elsewhere TEXT NOT NULL DEFAULT '{}',
    voided             INTEGER NOT NULL DEFAULT 0,
    looked_up_at       TEXT NOT NULL
) STRICT;
"#,
    // 6 (issue 13): the Supabase Auth session of an enrolled till: one row, replaced whole by
    // `kassa enroll`, its tokens rotated by the sync engine (the new refresh token is stored
    // before the new access token is used). `revoked_reason` is set when Auth refused the
    // session for good. Times are Unix seconds (`expires_at`) or RFC 3339 UTC.
    r#"
CREATE TABLE device_session (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    url           TEXT NOT NULL,
    anon_key      TEXT NOT NULL,
    email         TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    store_id      TEXT,
    access_token  TEXT NOT NULL,
    refresh_token TEXT NOT NULL,
    expires_in    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    enrolled_at   TEXT NOT NULL,
    refreshed_at  TEXT,
    revoked_reason TEXT
) STRICT;
"#,
    // 7 (issue 11): staff, PIN lockout, shifts and cash movements; who rang up each document.
    // The outbox's kind CHECK gains the three shift kinds (the table is rebuilt as in 5, the
    // AUTOINCREMENT counter carried over). `staff` holds local members (`kassa staff add`) and
    // pulled ones (`source = 'server'`); `staff_lockout` keeps wrong-PIN counts across restarts.
    // A shift's open and close are two documents of the chain (`open_seq`, `close_seq`).
    r#"
CREATE TABLE outbox_new (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    op_id       TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL CHECK (kind IN ('sale', 'stock_count', 'resolve_conflict',
                                              'refund', 'void_sale', 'shift_open',
                                              'cash_movement', 'shift_close')),
    payload     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'rejected')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    reject_code TEXT,
    sent_at     TEXT,
    total_cents INTEGER,
    note        TEXT
) STRICT;
INSERT INTO outbox_new (seq, op_id, kind, payload, created_at, state, attempts, last_error,
                        reject_code, sent_at, total_cents, note)
    SELECT seq, op_id, kind, payload, created_at, state, attempts, last_error, reject_code,
           sent_at, total_cents, note
    FROM outbox ORDER BY seq;
DELETE FROM sqlite_sequence WHERE name = 'outbox_new';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'outbox_new', max(seq) FROM (
        SELECT seq FROM sqlite_sequence WHERE name = 'outbox'
        UNION ALL SELECT seq FROM outbox_new
    ) HAVING max(seq) IS NOT NULL;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_pending ON outbox (seq) WHERE state = 'pending';
CREATE INDEX outbox_rejected ON outbox (seq) WHERE state = 'rejected';

CREATE TABLE staff (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('cashier', 'manager', 'technician')),
    pin_hash   TEXT NOT NULL,
    active     INTEGER NOT NULL DEFAULT 1,
    source     TEXT NOT NULL CHECK (source IN ('local', 'server')),
    version    INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE staff_lockout (
    staff_id        TEXT PRIMARY KEY REFERENCES staff (id),
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    -- Unix milliseconds; NULL when not locked.
    locked_until_ms INTEGER
) STRICT;

CREATE TABLE shifts (
    shift_id          TEXT PRIMARY KEY,
    open_seq          INTEGER NOT NULL UNIQUE REFERENCES outbox (seq),
    opened_at         TEXT NOT NULL,
    staff_id          TEXT,
    float_cents       INTEGER NOT NULL CHECK (float_cents >= 0),
    denominations     TEXT,
    approved_by       TEXT,
    operator          TEXT,
    open_prev_hash    TEXT NOT NULL,
    open_hash         TEXT NOT NULL,
    close_seq         INTEGER UNIQUE REFERENCES outbox (seq),
    closed_at         TEXT,
    close_staff_id    TEXT,
    counted_cents     INTEGER,
    close_denominations TEXT,
    expected_cents    INTEGER,
    over_short_cents  INTEGER,
    close_approved_by TEXT,
    close_operator    TEXT,
    close_prev_hash   TEXT,
    close_hash        TEXT
) STRICT;
-- At most one open shift per till.
CREATE UNIQUE INDEX shifts_one_open ON shifts ((close_seq IS NULL)) WHERE close_seq IS NULL;
CREATE INDEX shifts_opened ON shifts (opened_at);

CREATE TABLE cash_movements (
    movement_id  TEXT PRIMARY KEY,
    seq          INTEGER NOT NULL UNIQUE REFERENCES outbox (seq),
    shift_id     TEXT NOT NULL REFERENCES shifts (shift_id),
    staff_id     TEXT,
    created_at   TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('paid_in', 'paid_out', 'no_sale')),
    amount_cents INTEGER NOT NULL CHECK (amount_cents >= 0),
    reason       TEXT NOT NULL,
    approved_by  TEXT,
    operator     TEXT,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
) STRICT;
CREATE INDEX cash_movements_shift ON cash_movements (shift_id);

ALTER TABLE sales ADD COLUMN staff_id TEXT;
ALTER TABLE sales ADD COLUMN approved_by TEXT;
ALTER TABLE sales ADD COLUMN shift_id TEXT;
ALTER TABLE sales ADD COLUMN operator TEXT;
CREATE INDEX sales_shift ON sales (shift_id) WHERE shift_id IS NOT NULL;
ALTER TABLE refunds ADD COLUMN staff_id TEXT;
ALTER TABLE refunds ADD COLUMN shift_id TEXT;
ALTER TABLE refunds ADD COLUMN operator TEXT;
CREATE INDEX refunds_shift ON refunds (shift_id) WHERE shift_id IS NOT NULL;
ALTER TABLE sale_voids ADD COLUMN staff_id TEXT;
ALTER TABLE sale_voids ADD COLUMN shift_id TEXT;
ALTER TABLE sale_voids ADD COLUMN operator TEXT;
CREATE INDEX sale_voids_shift ON sale_voids (shift_id) WHERE shift_id IS NOT NULL;
"#,
    // 8 (issue 12): receipts whose print failed, one row per document (its seq), until a print
    // of it succeeds. Local only: never pushed, not part of the chain.
    r#"
CREATE TABLE print_failures (
    seq             INTEGER PRIMARY KEY REFERENCES outbox (seq),
    kind            TEXT NOT NULL CHECK (kind IN ('sale', 'refund', 'void')),
    first_failed_at TEXT NOT NULL,
    last_failed_at  TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    last_error      TEXT NOT NULL
) STRICT;
"#,
];

/// `(applied, known)` when the database has migrations to apply; `None` when it is current.
pub fn pending(conn: &Connection) -> Result<Option<(i64, i64)>, StoreError> {
    let applied: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if applied > known {
        return Err(StoreError::TooNew {
            found: applied,
            known,
        });
    }
    Ok((applied < known).then_some((applied, known)))
}

/// Applies the migrations the database has not seen yet, all in ONE transaction: either the
/// database reaches this build's schema or, if any of them fails, it is left exactly as it was
/// (in WAL mode the rolled-back pages never reach the database file).
///
/// A migration that rebuilds a table drops it; with foreign keys on, that would delete (or
/// refuse to delete) the rows that reference it. SQLite's procedure: foreign keys off (outside
/// a transaction), rebuild, `foreign_key_check`, commit, foreign keys back on.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    if pending(conn)?.is_none() {
        return Ok(());
    }
    let fk: i64 = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0))?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let result = apply(conn);
    conn.pragma_update(None, "foreign_keys", if fk == 0 { "OFF" } else { "ON" })?;
    result
}

fn apply(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // Another process may have migrated while we waited for the write lock.
    let Some((applied, known)) = pending(&tx)? else {
        return Ok(());
    };
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
        tx.execute_batch(sql)?;
        injected_failure(i as i64 + 1)?;
    }
    let broken: Option<String> = tx
        .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
        .optional()?;
    if let Some(table) = broken {
        return Err(StoreError::Corrupt(format!(
            "migrations {}..{known} left a broken reference in {table}",
            applied + 1
        )));
    }
    tx.pragma_update(None, "user_version", known)?;
    tx.commit()?;
    Ok(())
}

/// Tests only: `KASSA_TEST_FAIL_MIGRATION=N` fails migration N after its SQL ran (a migration
/// that breaks half-way). Compiled into debug builds only: the release build (the .deb)
/// ignores the variable.
fn injected_failure(n: i64) -> Result<(), StoreError> {
    #[cfg(debug_assertions)]
    if std::env::var("KASSA_TEST_FAIL_MIGRATION").ok().as_deref() == Some(n.to_string().as_str()) {
        return Err(StoreError::Invalid(format!(
            "migration {n} failed (injected by KASSA_TEST_FAIL_MIGRATION)"
        )));
    }
    let _ = n;
    Ok(())
}

/// The schema version this build writes (sent in heartbeats).
pub fn schema_version() -> i64 {
    MIGRATIONS.len() as i64
}
