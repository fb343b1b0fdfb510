-- kassa fleet (issue 14), part 2: a store's tills push side by side, and a push does fewer
-- per-row checks.
--
-- 1. What runs under the store's lock
--
-- Until now the fast path of kassa_push (a run of new sales, what a till's drain is made of)
-- took the store's advisory lock before its one big statement, so everything it wrote was
-- written one push at a time per store: the sales, their lines and tenders, the ledger, the op
-- log, their foreign-key checks, the stock levels and the conflicts (about 70 % of a push;
-- README, "A fleet of tills"). Two tills of a store could not get past about 1.4x one till.
--
-- Most of those rows belong to the pushing device alone: nothing another device's push reads
-- to decide anything depends on them. The fast run is now two statements:
--
--   A (under the DEVICE's lock only): the outcome of each op (replay, bad hash, sale id
--     taken), rejected_ops, applied_ops, sales (with who rang them up), sale_lines,
--     sale_tenders, and the price_mismatch / unknown_product conflicts as rows to insert (not
--     inserted yet: conflicts carry a version). Statement A reads only the device's own rows
--     (its op log, its last document, its shifts), the catalog and staff (written by head
--     office, never by a push) and sales by id (a sale id another device recorded first).
--   B (under the STORE's lock): the ledger (stock_movements of the run's lines), the stock
--     levels (the current level and baseline of the products sold, the sales applied in batch
--     order, one upsert per product) and every conflict of the run (oversold from the levels,
--     then the rows A prepared), in the order the single statement used.
--
-- The ledger stays under the lock although only this device's push reads its rows: its ids
-- are the order in which the store's levels were applied (pgrest-lite/tests/fleet.rs replays
-- the ledger in id order and finds, for each oversold conflict, the level its sale left), and
-- the only readers of the ledger that decide something (a count's expected level, a count
-- withdrawn by `reject`, a `map`) run under the store lock. It is about a tenth of a push.
-- Versions (stock_levels, conflicts) are assigned under the store lock as before
-- (kassa_tg_store_version), so a pull never skips a row; the lock is held to commit.
--
-- Who rang it up (staff_id, approved_by, shift_id, operator and their flags) used to be
-- written by kassa_push_batch after the run, under the store lock; the fast run now writes it
-- with the sales (statement A) and kassa_push_batch takes the lock only for the shifts'
-- server_expected_cents (see below).
--
-- The device's lock (new): kassa_push takes it first, before reading the batch. It
-- serialises two pushes of the SAME device (two processes of one till; the single-syncer
-- lease makes that rare), so that statement A's "last document of the device" and op log
-- stay true until the device's rows are written. Before, the store lock did that too.
--
-- Lock order, and why it cannot deadlock. Every push takes, in this order:
--   1. the device's advisory lock (pg_advisory_xact_lock(1802, hashtext(device))): one per
--      transaction, first thing in kassa_push;
--   2. row locks of statement A: FOR KEY SHARE on the store, device and product rows its rows
--      name (the foreign-key checks and the store/device checks below), which never conflict
--      with each other, and the new rows' unique index entries, which only this device
--      writes (applied_ops, its sales' ids and lines; see the exception below);
--   3. the store's advisory lock (kassa_store_lock_key), re-entrant, held to commit;
--   4. only under it: the ledger, the stock level rows, conflict rows, shifts' expected cash
--      (and everything the per-op path writes: every other op kind takes the store lock
--      before its first read).
-- Two pushes of different devices wait on each other only at 3 (an advisory lock, held by
-- one of them at a time, and never waited for while holding something the other needs:
-- everything a push holds before 3 is a key-share lock or a row only it writes). Pushes of
-- one device wait at 1, before holding anything. The catalog lock (1801, 1) is taken only
-- by head office's catalog writes, never by a push. So no cycle of waits exists between
-- pushes, whatever the products and however many tills: the 0 deadlocks of the fleet
-- benchmark are guaranteed by this order, not by luck. (Head office's writes of stock levels
-- take the store lock first too: kassa_receive_stock does.)
--   The exception: two devices that send sales with the SAME sale_id (only a broken or
-- malicious till; sale ids are UUIDs made by the till) wait on each other's uncommitted
-- sales row at 2. That ends as before: the later insert fails with a unique violation,
-- kassa_push replays the batch op by op under the store lock and rejects the op
-- (`invalid_payload`, sale recorded by another op); if two such tills crossed their ids both
-- ways, PostgreSQL reports a deadlock (40P01), which is transient: the push is retried, never
-- quarantined.
--
-- 2. Fewer per-row checks
--
-- benches/sync_drain.rs measured the foreign-key checks of a push at 42 % of it: 24 per sale
-- (PostgreSQL checks a foreign key with one query per inserted row). 14 of them check the
-- store_id and device_id columns of the five tables a sale writes (sales, sale_lines,
-- sale_tenders, stock_movements, applied_ops), where kassa_push takes store and device from
-- the caller's token after kassa_caller() found that device, active, in that store. Those 14
-- foreign keys are replaced by checks that keep the same guarantee for EVERY writer (the
-- dashboard and service_role too), set-wise:
--   - an AFTER INSERT ... FOR EACH STATEMENT trigger per table checks that every store_id
--     (and device_id) of the statement's new rows exists, and locks those stores (devices)
--     FOR KEY SHARE as the foreign key did (once per statement and store, not per row), so a
--     concurrent delete of the store waits for the insert to commit;
--   - a BEFORE UPDATE trigger refuses to change the store_id or device_id of a recorded row
--     (stricter than the foreign key, which allowed moving a row to another existing store);
--   - BEFORE DELETE / UPDATE OF id triggers on stores and devices refuse while a row of these
--     tables names them (SQLSTATE 23503, as the foreign key did; a few index probes, and for
--     a device that has no sales and no op log, one read of the ledger).
-- Kept as foreign keys: sale_lines.sale_id and sale_tenders.sale_id (sales), product_id of
-- sale_lines and stock_movements (products), and every foreign key of every other table.
-- What a store owner loses: these 8 columns are no longer listed as foreign keys in the
-- catalog (the Supabase dashboard's table editor and PostgREST's resource embedding from
-- these tables to `stores` / `devices` see no relationship); integrity itself is enforced as
-- before. One difference: a delete of a store or device in a REPEATABLE READ or SERIALIZABLE
-- transaction checks against its snapshot, not the latest rows as a foreign key would (the
-- dashboard and the API run READ COMMITTED). pgrest-lite/tests/fleet.rs tests all of this.

-- ---------------------------------------------------------------------------------------
-- The device's lock

create or replace function public.kassa_device_lock(p_device uuid) returns void
language sql
set search_path = ''
as $$ select pg_catalog.pg_advisory_xact_lock(1802, pg_catalog.hashtext(p_device::text)) $$;

-- kassa_push as in ..._kassa_fleet.sql, with the device's lock first.
create or replace function public.kassa_push(p_ops jsonb)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_device uuid;
  v_store uuid;
  v_threshold integer;
  v_state text;
begin
  select c.device_id, c.store_id into v_device, v_store from public.kassa_caller() c;
  if jsonb_typeof(p_ops) is distinct from 'array' then
    raise exception using errcode = '22023', message = 'p_ops must be a JSON array of operations';
  end if;
  if jsonb_array_length(p_ops) > 1000 then
    raise exception using errcode = '22023', message = 'a batch has at most 1000 ops',
      hint = 'split the batch';
  end if;
  -- Lock order: this device, then (where writes to shared rows begin) the store.
  perform public.kassa_device_lock(v_device);
  select st.count_threshold into v_threshold from public.stores st where st.id = v_store;

  if current_setting('kassa.push_isolation', true) = 'per_op' then
    -- Benchmark/diagnostic mode: a subtransaction per op from the start.
    perform pg_advisory_xact_lock(public.kassa_store_lock_key(v_store));
    return public.kassa_push_batch(v_device, v_store, v_threshold, p_ops, true);
  end if;
  begin
    -- Reads and classifies the batch first; the store lock is taken where shared writes begin.
    return public.kassa_push_batch(v_device, v_store, v_threshold, p_ops, false);
  exception when others then
    get stacked diagnostics v_state = returned_sqlstate;
    if public.kassa_is_transient(v_state) then
      raise;
    end if;
  end;
  -- An unexpected error (or a sale id another device recorded first): replay the batch with
  -- a guard per op, under the store lock from the start.
  perform pg_advisory_xact_lock(public.kassa_store_lock_key(v_store));
  return public.kassa_push_batch(v_device, v_store, v_threshold, p_ops, true);
end
$$;

-- ---------------------------------------------------------------------------------------
-- The fast run in two statements
--
-- Replaces the chain kassa_push_fast_run (..._staff_shifts_push.sql: declines after a shift
-- document) -> _v3 (..._kassa_fleet.sql: the store lock) -> _v2 (..._refunds_push.sql:
-- declines after a refund or void) -> _v1 (..._kassa_push_fast.sql: the statement). The
-- checks are the same; statement v1 is split as described above; the results are the same,
-- op for op and row for row (pgrest-lite/tests/fast_path.rs compares them with the per-op
-- path on randomised batches).

create or replace function public.kassa_push_fast_run(p_device uuid, p_store uuid, p_ops jsonb,
                                                      p_items public.kassa_push_item[])
returns jsonb[]
language plpgsql
set search_path = ''
as $$
declare
  v_first bigint;
  v_ordered boolean;
  v_last_seq bigint;
  v_last_hash text;
  v_doc bigint;
  v_results jsonb[];
  v_idx integer[];      -- per line that moves stock (batch position, product, line, qty):
                        -- statement B's input, in ledger order
  v_product uuid[];
  v_line integer[];
  v_qty bigint[];
  v_key text[];
  v_sale uuid[];
  v_event timestamptz[];
  v_skew bigint[];
  v_created text[];
  v_conf jsonb;
  v_n bigint;
begin
  -- (The device's lock is held: kassa_push took it. Everything read here is the device's.)
  -- The new sales' seqs strictly increasing, above every document of the device already
  -- recorded, and the device's last document a sale (so that chain_ok is the hash of the
  -- previous sale in this run, or of the device's last sale); otherwise null: the run goes
  -- the per-op way.
  select min(i.seq), coalesce(bool_and(i.seq > i.prev_seq or i.prev_seq is null), true)
    into v_first, v_ordered
    from (select x.seq, lag(x.seq) over (order by x.idx) as prev_seq
            from unnest(p_items) x where x.is_new) i;
  if not v_ordered then
    return null;
  end if;
  if v_first is not null then
    select s.seq, s.hash into v_last_seq, v_last_hash from public.sales s
     where s.device_id = p_device order by s.seq desc limit 1;
    if v_last_seq >= v_first then
      return null;
    end if;
    select greatest((select max(r.seq) from public.refunds r where r.device_id = p_device),
                    (select max(v.seq) from public.sale_voids v where v.device_id = p_device),
                    (select max(sh.open_seq) from public.shifts sh where sh.device_id = p_device),
                    (select max(sh.close_seq) from public.shifts sh where sh.close_device_id = p_device),
                    (select max(m.seq) from public.cash_movements m where m.device_id = p_device))
      into v_doc;
    if v_doc is not null and (v_doc >= v_first or v_last_seq is null or v_doc >= v_last_seq) then
      return null;
    end if;
  end if;

  -- Statement A: the device's rows.
  with it as (
    select x.*, p_ops -> (x.idx - 1) as op, ex.taken
      from unnest(p_items) x
      -- one index probe per sale (a hashed subplan would read the whole sales table)
      left join lateral (select true as taken from public.sales s
                          where x.is_new and s.id = x.sale_id limit 1) ex on true
  ),
  -- Outcome per op, as kassa_push_op would decide it.
  st as (
    select it.idx, it.op, it.key, it.prev, it.is_new, it.md5, it.seq, it.skew, it.sale_id,
           it.event, it.hash,
           case
             when not it.is_new then
               case when it.prev ->> 'content_md5' <> it.md5 then 'reused'
                    when it.prev ->> 'status' = 'rejected' then 'rejected_before'
                    else 'duplicate' end
             when it.hash <> it.op -> 'payload' ->> 'hash' then 'bad_hash'
             when it.taken
               or count(*) filter (where it.is_new and it.hash = it.op -> 'payload' ->> 'hash')
                    over (partition by it.sale_id order by it.idx rows unbounded preceding) > 1
               then 'sale_taken'
             else 'applied'
           end as outcome
      from it
  ),
  rej as (
    select st.*,
           case st.outcome
             when 'reused' then 'op_id_reused'
             when 'bad_hash' then 'bad_hash'
             when 'sale_taken' then 'invalid_payload'
           end as code,
           case st.outcome
             when 'reused' then format('op_id %s was already used by this device for a different operation', st.key::uuid)
             when 'bad_hash' then 'hash does not match the canonical form of the sale'
             when 'sale_taken' then format('sale %s was already recorded by another op', st.sale_id)
           end as message
      from st
     where st.outcome in ('reused', 'bad_hash', 'sale_taken')
  ),
  ins_rejected as (
    insert into public.rejected_ops (store_id, device_id, op_id, seq, kind, code, message, op)
    select p_store, p_device, left(rej.op ->> 'op_id', 100),
           case when public.kassa_is_int(rej.op -> 'seq') then (rej.op ->> 'seq')::bigint end,
           left(rej.op ->> 'kind', 100), rej.code, rej.message, rej.op
      from rej order by rej.idx
  ),
  sa as (
    select st.*, st.op -> 'payload' as p from st where st.outcome = 'applied'
  ),
  ins_log as (
    insert into public.applied_ops (device_id, op_id, store_id, seq, kind, content_md5, status, code, message)
    select p_device, x.key::uuid, p_store, x.seq, 'sale', x.md5, x.status, x.code, x.message
      from (select sa.idx, sa.key, sa.seq, sa.md5, 'applied' as status, null::text as code, null::text as message from sa
            union all
            select rej.idx, rej.key, rej.seq, rej.md5, 'rejected', rej.code, rej.message from rej
             where rej.outcome <> 'reused') x
     order by x.idx
  ),
  ins_sales as (
    insert into public.sales (id, store_id, device_id, op_id, seq, created_at, skew_ms, event_time,
                              currency, total_cents, tax_cents, rounding_cents, prev_hash, hash, chain_ok,
                              staff_id, approved_by, shift_id, operator, staff_ok, shift_ok)
    select sa.sale_id, p_store, p_device, sa.key::uuid, sa.seq, sa.p ->> 'created_at', sa.skew, sa.event,
           sa.p ->> 'currency', (sa.p ->> 'total_cents')::bigint, (sa.p ->> 'tax_cents')::bigint,
           coalesce((sa.p ->> 'rounding_cents')::bigint, 0), sa.p ->> 'prev_hash', sa.hash,
           (sa.p ->> 'prev_hash') = coalesce(lag(sa.hash) over (order by sa.idx), v_last_hash, repeat('0', 64)),
           w.staff_id, w.approved_by, w.shift_id, w.operator,
           public.kassa_staff_known(p_store, w.staff_id) and public.kassa_staff_known(p_store, w.approved_by),
           public.kassa_shift_known(p_device, w.shift_id)
      from sa
     cross join lateral (select public.kassa_doc_ref(sa.p -> 'staff_id') as staff_id,
                                public.kassa_doc_ref(sa.p -> 'approved_by') as approved_by,
                                public.kassa_doc_ref(sa.p -> 'shift_id') as shift_id,
                                case when jsonb_typeof(sa.p -> 'operator') = 'string'
                                     then left(sa.p ->> 'operator', 200) end as operator) w
     order by sa.idx
  ),
  ln as (
    select sa.idx, sa.key, sa.sale_id, sa.event, sa.p ->> 'created_at' as created_at, sa.skew,
           l.line_no::int as line_no, l.sku, coalesce(l.name, '') as name, l.qty,
           l.unit_price_cents, coalesce(l.discount_cents, 0) as discount_cents,
           coalesce(l.price_overridden, false) as price_overridden, l.tax_rate_bp::int as tax_rate_bp,
           coalesce(l.price_includes_tax, true) as price_includes_tax, l.line_total_cents, l.tax_cents,
           pr.id as product_id
      from sa
     cross join lateral jsonb_to_recordset(sa.p -> 'lines')
             as l(line_no bigint, sku text, name text, qty bigint, unit_price_cents bigint,
                  discount_cents bigint, price_overridden boolean, tax_rate_bp bigint,
                  price_includes_tax boolean, line_total_cents bigint, tax_cents bigint)
      left join public.products pr on pr.sku = l.sku and pr.active and pr.deleted_at is null
  ),
  ins_lines as (
    insert into public.sale_lines (sale_id, line_no, store_id, product_id, sku, name, qty,
                                   unit_price_cents, discount_cents, price_overridden, tax_rate_bp,
                                   price_includes_tax, line_total_cents, tax_cents)
    select ln.sale_id, ln.line_no, p_store, ln.product_id, ln.sku, ln.name, ln.qty, ln.unit_price_cents,
           ln.discount_cents, ln.price_overridden, ln.tax_rate_bp, ln.price_includes_tax,
           ln.line_total_cents, ln.tax_cents
      from ln
  ),
  ins_tenders as (
    insert into public.sale_tenders (sale_id, idx, store_id, kind, amount_cents, change_cents)
    select sa.sale_id, t.i::int, p_store, t.t ->> 'kind', (t.t ->> 'amount_cents')::bigint,
           coalesce((t.t ->> 'change_cents')::bigint, 0)
      from sa
     cross join lateral jsonb_array_elements(case when jsonb_typeof(sa.p -> 'tenders') = 'array'
                                                  then sa.p -> 'tenders' end)
             with ordinality as t(t, i)
  ),
  -- The lines that move stock, in ledger order: statement B's input.
  moving as (
    select ln.idx, ln.product_id, ln.line_no, ln.qty, ln.key, ln.sale_id, ln.event, ln.skew, ln.created_at
      from ln where ln.product_id is not null
  ),
  -- Prices valid at the sale's time: intervals of each product's price history (the earliest
  -- price also before history starts; the catalog price when there is no history).
  pri as (
    select pp.product_id, pp.price_cents,
           case when row_number() over w = 1 then '-infinity'::timestamptz else pp.valid_from end as lo,
           coalesce(lead(pp.valid_from) over w, 'infinity'::timestamptz) as hi
      from public.product_prices pp
     where pp.product_id in (select ln.product_id from ln where not ln.price_overridden)
    window w as (partition by pp.product_id order by pp.valid_from)
  ),
  -- The line conflicts (prices, unknown products): rows for statement B to insert.
  conf as (
    select ln.idx, lpad(ln.line_no::text, 10, '0') as ord,
           case when ln.product_id is null then 'unknown_product' else 'price_mismatch' end as kind,
           ln.product_id, ln.sku, ln.line_no, ln.key, ln.sale_id,
           case when ln.product_id is null then
             jsonb_build_object('line_no', ln.line_no, 'name', ln.name, 'qty', ln.qty,
                                'unit_price_cents', ln.unit_price_cents,
                                'reason', case when exists (select 1 from public.products p2 where p2.sku = ln.sku)
                                               then 'inactive' else 'unknown_sku' end)
           else
             jsonb_build_object('line_no', ln.line_no, 'qty', ln.qty, 'sold_unit_cents', ln.unit_price_cents,
                                'server_unit_cents', coalesce(pri.price_cents, pr.price_cents),
                                'event_time', public.kassa_fmt_ts(ln.event))
           end as details
      from ln
      left join public.products pr on pr.id = ln.product_id
      left join pri on pri.product_id = ln.product_id and not ln.price_overridden
                   and pri.lo <= ln.event and ln.event < pri.hi
     where ln.product_id is null
        or (not ln.price_overridden and ln.unit_price_cents <> coalesce(pri.price_cents, pr.price_cents))
  )
  select r.results, m.idx, m.product_id, m.line_no, m.qty, m.key, m.sale_id, m.event, m.skew, m.created_at,
         c.rows
    into v_results, v_idx, v_product, v_line, v_qty, v_key, v_sale, v_event, v_skew, v_created, v_conf
    from (select array_agg(
            case st.outcome
              when 'applied' then jsonb_build_object('op_id', st.op -> 'op_id', 'seq', st.op -> 'seq', 'status', 'applied')
              when 'duplicate' then jsonb_build_object('op_id', st.op -> 'op_id', 'seq', st.op -> 'seq', 'status', 'duplicate')
                                    || case when st.prev ->> 'note' is not null
                                            then jsonb_build_object('note', st.prev ->> 'note') else '{}'::jsonb end
              when 'rejected_before' then jsonb_build_object('op_id', st.op -> 'op_id', 'seq', st.op -> 'seq',
                                    'status', 'rejected', 'code', st.prev ->> 'code', 'message', st.prev ->> 'message')
              else jsonb_build_object('op_id', st.op -> 'op_id', 'seq', st.op -> 'seq', 'status', 'rejected',
                                      'code', rej.code, 'message', rej.message)
            end order by st.idx) as results
            from st left join rej on rej.idx = st.idx) r,
         -- (arrays in ledger order: by sale, then line)
         (select array_agg(o.idx) as idx, array_agg(o.product_id) as product_id, array_agg(o.line_no) as line_no,
                 array_agg(o.qty) as qty, array_agg(o.key) as key, array_agg(o.sale_id) as sale_id,
                 array_agg(o.event) as event, array_agg(o.skew) as skew, array_agg(o.created_at) as created_at
            from (select * from moving order by moving.idx, moving.line_no) o) m,
         (select jsonb_agg(to_jsonb(conf)) as rows from conf) c;

  if v_idx is null and v_conf is null then
    return v_results; -- nothing shared to write (replays, rejections, non-stock lines only)
  end if;

  -- Statement B: what the store's tills share, under the store's lock (held to commit).
  perform pg_advisory_xact_lock(public.kassa_store_lock_key(p_store));
  with moves as (
    select * from unnest(v_idx, v_product, v_line, v_qty, v_key, v_sale, v_event, v_skew, v_created)
                  with ordinality as u(idx, product_id, line_no, qty, key, sale_id, event, skew, created_at, ord)
  ),
  -- The ledger: written here so that its order (ids) is the order the levels were applied in.
  ins_moves as (
    insert into public.stock_movements (store_id, product_id, delta, reason, op_id, device_id, sale_id,
                                        line_no, device_time, skew_ms, event_time)
    select p_store, moves.product_id, -moves.qty, 'sale', moves.key::uuid, p_device, moves.sale_id, moves.line_no,
           moves.created_at, moves.skew, moves.event
      from moves order by moves.ord
  ),
  -- Per sale and product the quantity sold.
  d as (
    select moves.idx, moves.product_id, moves.key, moves.sale_id, min(moves.event) as event, sum(moves.qty) as qty
      from moves group by moves.idx, moves.product_id, moves.key, moves.sale_id
  ),
  -- Stock: a sale at or before the product's baseline is absorbed by it; the others apply in
  -- batch order on top of the current level.
  cur as (
    select s.product_id, s.on_hand, s.baseline_at from public.stock_levels s
     where s.store_id = p_store and s.product_id in (select d.product_id from d)
  ),
  walk as (
    select d.idx, d.product_id, d.key, d.sale_id, d.event, d.qty,
           not (cur.baseline_at is not null and cur.baseline_at >= d.event) as counts,
           coalesce(cur.on_hand, 0)
             + sum(case when cur.baseline_at is not null and cur.baseline_at >= d.event then 0 else -d.qty end)
                 over (partition by d.product_id order by d.idx rows unbounded preceding) as on_hand
      from d left join cur on cur.product_id = d.product_id
  ),
  ins_levels as (
    insert into public.stock_levels as s (store_id, product_id, on_hand)
    select p_store, w.product_id, w.on_hand
      from (select walk.*, row_number() over (partition by walk.product_id order by walk.idx desc) as rn
              from walk where walk.counts) w
     where w.rn = 1
     order by w.product_id
    on conflict (store_id, product_id) do update set on_hand = excluded.on_hand
  ),
  conf as (
    select walk.idx, 0 as part, pr.sku as ord, 'oversold' as kind, walk.product_id, pr.sku,
           null::integer as line_no, walk.key, walk.sale_id,
           jsonb_build_object('on_hand', walk.on_hand, 'sold_qty', walk.qty,
                              'event_time', public.kassa_fmt_ts(walk.event)) as details
      from walk
      join public.products pr on pr.id = walk.product_id
     where walk.counts and walk.on_hand < 0
    union all
    select c.idx, 1, c.ord, c.kind, c.product_id, c.sku, c.line_no, c.key, c.sale_id, c.details
      from jsonb_to_recordset(coalesce(v_conf, '[]'))
           as c(idx integer, ord text, kind text, product_id uuid, sku text, line_no integer,
                key text, sale_id uuid, details jsonb)
  ),
  ins_conf as (
    insert into public.conflicts (store_id, kind, product_id, sku, sale_id, line_no, device_id, op_id, details)
    select p_store, conf.kind, conf.product_id, conf.sku, conf.sale_id, conf.line_no, p_device,
           conf.key::uuid, conf.details
      from conf order by conf.idx, conf.part, conf.ord
  )
  select count(*) into v_n from moves;
  return v_results;
end
$$;

drop function public.kassa_push_fast_run_v3(uuid, uuid, jsonb, public.kassa_push_item[]);
drop function public.kassa_push_fast_run_v2(uuid, uuid, jsonb, public.kassa_push_item[]);
drop function public.kassa_push_fast_run_v1(uuid, uuid, jsonb, public.kassa_push_item[]);

-- ---------------------------------------------------------------------------------------
-- Who rang it up, outside the store lock
--
-- kassa_push_batch as in ..._staff_shifts_push.sql, but: the fast run above now records
-- staff_id / approved_by / shift_id / operator (and staff_ok / shift_ok) of its sales as it
-- inserts them, so the UPDATE of sales here skips a sale already recorded with those values
-- (the per-op path still leaves them to this update); and the store lock is taken only for
-- the shifts' server_expected_cents, which sum documents of any device naming the shift. The
-- updates of sales, refunds and voids touch rows of this device only (device_id = p_device),
-- which the device's lock serialises.

create or replace function public.kassa_push_batch(p_device uuid, p_store uuid, p_threshold integer,
                                                   p_ops jsonb, p_isolate boolean)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  r jsonb;
  v_docs jsonb;
  v_shifts uuid[];
begin
  r := public.kassa_push_batch_v1(p_device, p_store, p_threshold, p_ops, p_isolate);

  -- The ops applied now (not duplicates) whose payload names anyone or any shift.
  select jsonb_agg(jsonb_build_object(
           'kind', o.e ->> 'kind',
           'doc_id', case o.e ->> 'kind' when 'sale' then o.e -> 'payload' -> 'sale_id'
                                         when 'refund' then o.e -> 'payload' -> 'refund_id'
                                         when 'void_sale' then o.e -> 'payload' -> 'void_id' end,
           'staff_id', public.kassa_doc_ref(o.e -> 'payload' -> 'staff_id'),
           'approved_by', public.kassa_doc_ref(o.e -> 'payload' -> 'approved_by'),
           'shift_id', public.kassa_doc_ref(o.e -> 'payload' -> 'shift_id'),
           'operator', case when jsonb_typeof(o.e -> 'payload' -> 'operator') = 'string'
                            then left(o.e -> 'payload' ->> 'operator', 200) end))
    into v_docs
    from jsonb_array_elements(p_ops) with ordinality as o(e, i)
    join jsonb_array_elements(r) with ordinality as x(res, j) on x.j = o.i
   where x.res ->> 'status' = 'applied'
     and o.e ->> 'kind' in ('sale', 'refund', 'void_sale', 'shift_open', 'cash_movement', 'shift_close')
     and jsonb_typeof(o.e -> 'payload') = 'object'
     and coalesce(nullif(o.e -> 'payload' -> 'staff_id', 'null'), nullif(o.e -> 'payload' -> 'approved_by', 'null'),
                  nullif(o.e -> 'payload' -> 'shift_id', 'null'), nullif(o.e -> 'payload' -> 'operator', 'null')) is not null;
  if v_docs is null then
    return r;
  end if;

  update public.sales s
     set staff_id = d.staff_id, approved_by = d.approved_by, shift_id = d.shift_id, operator = d.operator,
         staff_ok = public.kassa_staff_known(p_store, d.staff_id) and public.kassa_staff_known(p_store, d.approved_by),
         shift_ok = public.kassa_shift_known(p_device, d.shift_id)
    from jsonb_to_recordset(v_docs) as d(kind text, doc_id uuid, staff_id text, approved_by text,
                                         shift_id text, operator text)
   where d.kind = 'sale' and s.id = d.doc_id and s.device_id = p_device
     and (s.staff_id, s.approved_by, s.shift_id, s.operator, s.staff_ok, s.shift_ok)
         is distinct from (d.staff_id, d.approved_by, d.shift_id, d.operator,
                           public.kassa_staff_known(p_store, d.staff_id) and public.kassa_staff_known(p_store, d.approved_by),
                           public.kassa_shift_known(p_device, d.shift_id));
  -- refunds and voids have recorded approved_by themselves (issue 10).
  update public.refunds t
     set staff_id = d.staff_id, shift_id = d.shift_id, operator = d.operator,
         staff_ok = public.kassa_staff_known(p_store, d.staff_id) and public.kassa_staff_known(p_store, d.approved_by),
         shift_ok = public.kassa_shift_known(p_device, d.shift_id)
    from jsonb_to_recordset(v_docs) as d(kind text, doc_id uuid, staff_id text, approved_by text,
                                         shift_id text, operator text)
   where d.kind = 'refund' and t.id = d.doc_id and t.device_id = p_device;
  update public.sale_voids t
     set staff_id = d.staff_id, shift_id = d.shift_id, operator = d.operator,
         staff_ok = public.kassa_staff_known(p_store, d.staff_id) and public.kassa_staff_known(p_store, d.approved_by),
         shift_ok = public.kassa_shift_known(p_device, d.shift_id)
    from jsonb_to_recordset(v_docs) as d(kind text, doc_id uuid, staff_id text, approved_by text,
                                         shift_id text, operator text)
   where d.kind = 'void_sale' and t.id = d.doc_id and t.device_id = p_device;

  v_shifts := array(select distinct (d ->> 'shift_id')::uuid from jsonb_array_elements(v_docs) d
                     where public.kassa_is_uuid(d ->> 'shift_id'));
  if cardinality(v_shifts) > 0 then
    -- (documents of other devices may name the shift: under the store's lock, re-entrant)
    perform pg_advisory_xact_lock(public.kassa_store_lock_key(p_store));
    update public.shifts sh
       set server_expected_cents = public.kassa_shift_expected(p_store, sh.id)
     where sh.id = any (v_shifts) and sh.store_id = p_store
       and sh.server_expected_cents is distinct from public.kassa_shift_expected(p_store, sh.id);
  end if;
  return r;
end
$$;

-- ---------------------------------------------------------------------------------------
-- Store and device columns checked set-wise (see 2. above)

-- After an insert: every store_id (and, with the argument 'device', every non-null device_id)
-- of the new rows exists, locked FOR KEY SHARE until commit as a foreign key locks it.
create or replace function public.kassa_tg_owner_exists() returns trigger
language plpgsql
security definer -- as a foreign key's check: with the owner's rights, past row level security
set search_path = ''
as $$
declare
  v_ids uuid[];
  v_found bigint;
begin
  v_ids := array(select distinct n.store_id from new_rows n);
  select count(*) into v_found
    from (select 1 from public.stores s where s.id = any (v_ids) for key share of s) x;
  if v_found <> cardinality(v_ids) then
    raise exception using errcode = '23503',
      message = format('insert on table "%s" violates the store invariant: a store_id is not in "stores"', tg_table_name);
  end if;
  if tg_argv[0] = 'device' then
    v_ids := array(select distinct n.device_id from new_rows n where n.device_id is not null);
    select count(*) into v_found
      from (select 1 from public.devices d where d.id = any (v_ids) for key share of d) x;
    if v_found <> cardinality(v_ids) then
      raise exception using errcode = '23503',
        message = format('insert on table "%s" violates the device invariant: a device_id is not in "devices"', tg_table_name);
    end if;
  end if;
  return null;
end
$$;

-- Before an update: a recorded row keeps its store (and device).
create or replace function public.kassa_tg_owner_fixed() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception using errcode = '23503',
    message = format('update on table "%s": the store_id and device_id of a recorded row cannot change', tg_table_name);
end
$$;

-- Before a delete (or a change of id) of a store or a device: no row of the five tables
-- names it.
create or replace function public.kassa_tg_owner_unreferenced() returns trigger
language plpgsql
security definer -- as a foreign key's check: with the owner's rights, past row level security
set search_path = ''
as $$
declare
  v_table text;
begin
  if tg_op = 'UPDATE' and new.id = old.id then
    return new;
  end if;
  if tg_table_name = 'stores' then
    v_table := case
      when exists (select 1 from public.sales x where x.store_id = old.id) then 'sales'
      when exists (select 1 from public.sale_lines x where x.store_id = old.id) then 'sale_lines'
      when exists (select 1 from public.sale_tenders x where x.store_id = old.id) then 'sale_tenders'
      when exists (select 1 from public.stock_movements x where x.store_id = old.id) then 'stock_movements'
      when exists (select 1 from public.applied_ops x where x.store_id = old.id) then 'applied_ops'
    end;
  else
    v_table := case
      when exists (select 1 from public.sales x where x.device_id = old.id) then 'sales'
      when exists (select 1 from public.applied_ops x where x.device_id = old.id) then 'applied_ops'
      -- (no index by device: a device's ledger rows come with its op log rows, checked
      -- first; this last probe reads the ledger, once, for a device that never pushed)
      when exists (select 1 from public.stock_movements x where x.device_id = old.id) then 'stock_movements'
    end;
  end if;
  if v_table is not null then
    raise exception using errcode = '23503',
      message = format('update or delete on table "%s" violates the %s invariant: rows of "%s" still name it',
                       tg_table_name, case tg_table_name when 'stores' then 'store' else 'device' end, v_table);
  end if;
  return case tg_op when 'DELETE' then old else new end;
end
$$;


alter table public.sales drop constraint sales_store_id_fkey, drop constraint sales_device_id_fkey;
alter table public.sale_lines drop constraint sale_lines_store_id_fkey;
alter table public.sale_tenders drop constraint sale_tenders_store_id_fkey;
alter table public.stock_movements drop constraint stock_movements_store_id_fkey,
                                   drop constraint stock_movements_device_id_fkey;
alter table public.applied_ops drop constraint applied_ops_store_id_fkey,
                               drop constraint applied_ops_device_id_fkey;

create trigger sales_owner_exists after insert on public.sales
  referencing new table as new_rows for each statement
  execute function public.kassa_tg_owner_exists('device');
create trigger sale_lines_owner_exists after insert on public.sale_lines
  referencing new table as new_rows for each statement
  execute function public.kassa_tg_owner_exists('store');
create trigger sale_tenders_owner_exists after insert on public.sale_tenders
  referencing new table as new_rows for each statement
  execute function public.kassa_tg_owner_exists('store');
create trigger stock_movements_owner_exists after insert on public.stock_movements
  referencing new table as new_rows for each statement
  execute function public.kassa_tg_owner_exists('device');
create trigger applied_ops_owner_exists after insert on public.applied_ops
  referencing new table as new_rows for each statement
  execute function public.kassa_tg_owner_exists('device');

create trigger sales_owner_fixed before update of store_id, device_id on public.sales
  for each row when (old.store_id is distinct from new.store_id or old.device_id is distinct from new.device_id)
  execute function public.kassa_tg_owner_fixed();
create trigger sale_lines_owner_fixed before update of store_id on public.sale_lines
  for each row when (old.store_id is distinct from new.store_id)
  execute function public.kassa_tg_owner_fixed();
create trigger sale_tenders_owner_fixed before update of store_id on public.sale_tenders
  for each row when (old.store_id is distinct from new.store_id)
  execute function public.kassa_tg_owner_fixed();
create trigger stock_movements_owner_fixed before update of store_id, device_id on public.stock_movements
  for each row when (old.store_id is distinct from new.store_id or old.device_id is distinct from new.device_id)
  execute function public.kassa_tg_owner_fixed();
create trigger applied_ops_owner_fixed before update of store_id, device_id on public.applied_ops
  for each row when (old.store_id is distinct from new.store_id or old.device_id is distinct from new.device_id)
  execute function public.kassa_tg_owner_fixed();

create trigger stores_unreferenced before delete or update of id on public.stores
  for each row execute function public.kassa_tg_owner_unreferenced();
create trigger devices_unreferenced before delete or update of id on public.devices
  for each row execute function public.kassa_tg_owner_unreferenced();

-- Privileges: as in ..._kassa_rpc.sql, only the RPCs are callable by devices.
do $$
declare
  f regprocedure;
begin
  for f in
    select p.oid::regprocedure from pg_proc p
     where p.pronamespace = 'public'::regnamespace
       and p.proname in ('kassa_push_fast_run', 'kassa_push', 'kassa_push_batch', 'kassa_device_lock', 'kassa_tg_owner_exists',
                         'kassa_tg_owner_fixed', 'kassa_tg_owner_unreferenced')
  loop
    execute format('revoke all on function %s from public, anon, authenticated', f);
    execute format('grant execute on function %s to service_role', f);
  end loop;
end
$$;
grant execute on function public.kassa_push(jsonb) to authenticated;
