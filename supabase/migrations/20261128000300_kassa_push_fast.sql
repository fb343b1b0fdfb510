-- kassa sync, part 3 of 4: the set-based fast path of kassa_push, and kassa_push_batch, which
-- chooses between it and the per-op path (..._kassa_push_per_op.sql) op by op.

-- The set-based fast path of kassa_push
--
-- Most batches are runs of new, well-formed sales. kassa_push_batch classifies every op of
-- the batch in ONE query (kassa_push_item below): ops that are replays of an op_id already in
-- the op log (duplicate / op_id_reused / repeated rejection) and new `sale` ops whose payload
-- passes every check of kassa_validate_sale are "fast"; everything else (other kinds,
-- malformed ops, op_ids repeated within the batch, ...) goes through kassa_push_op one by one.
-- Consecutive fast ops form a run that kassa_push_fast_run applies with one statement:
-- bad_hash and sale-id clashes are rejected set-wise, and the sales, lines, tenders, ledger
-- movements, op log rows, stock levels (one update per product) and conflicts are written
-- with a handful of INSERT ... SELECT. The results are exactly the per-op path's, op for op
-- (pgrest-lite/tests/fast_path.rs compares both on randomised batches); a session setting
-- `kassa.push_fast_path = off` forces the per-op path.

create type public.kassa_push_item as (
  idx     integer,     -- position in the batch, from 1 (the op is p_ops -> (idx - 1))
  key     text,        -- lower(op_id) when the op is an object with a uuid op_id
  prev    jsonb,       -- its op log entry (null: none, or op_id repeated within the batch)
  dup     boolean,     -- the op_id occurs more than once in the batch (its log is read live)
  fast    boolean,
  is_new  boolean,     -- a new, well-formed sale (fast) rather than a replay
  md5     text,
  seq     bigint,
  skew    bigint,
  sale_id uuid,
  event   timestamptz, -- created_at corrected by skew_ms
  hash    text         -- the hash recomputed from the canonical form
);

-- Applies a run of fast items (in batch order). Returns their results, or null (nothing done)
-- when the run cannot be applied set-wise exactly like the per-op path would: the new sales'
-- seqs must be strictly increasing and above every sale of the device already recorded (so
-- that chain_ok is the hash of the previous sale in this run, or of the device's last sale).
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
  v_results jsonb[];
begin
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
  end if;

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
                              currency, total_cents, tax_cents, rounding_cents, prev_hash, hash, chain_ok)
    select sa.sale_id, p_store, p_device, sa.key::uuid, sa.seq, sa.p ->> 'created_at', sa.skew, sa.event,
           sa.p ->> 'currency', (sa.p ->> 'total_cents')::bigint, (sa.p ->> 'tax_cents')::bigint,
           coalesce((sa.p ->> 'rounding_cents')::bigint, 0), sa.p ->> 'prev_hash', sa.hash,
           (sa.p ->> 'prev_hash') = coalesce(lag(sa.hash) over (order by sa.idx), v_last_hash, repeat('0', 64))
      from sa order by sa.idx
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
  ins_moves as (
    insert into public.stock_movements (store_id, product_id, delta, reason, op_id, device_id, sale_id,
                                        line_no, device_time, skew_ms, event_time)
    select p_store, ln.product_id, -ln.qty, 'sale', ln.key::uuid, p_device, ln.sale_id, ln.line_no,
           ln.created_at, ln.skew, ln.event
      from ln where ln.product_id is not null
     order by ln.idx, ln.line_no
  ),
  -- Stock: per sale and product the quantity sold; a sale at or before the product's
  -- baseline is absorbed by it; the others apply in batch order on top of the current level.
  d as (
    select ln.idx, ln.product_id, min(ln.event) as event, sum(ln.qty) as qty
      from ln where ln.product_id is not null
     group by ln.idx, ln.product_id
  ),
  cur as (
    select s.product_id, s.on_hand, s.baseline_at from public.stock_levels s
     where s.store_id = p_store and s.product_id in (select d.product_id from d)
  ),
  walk as (
    select d.idx, d.product_id, d.event, d.qty, cur.product_id is not null as has_row,
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
  conf as (
    select walk.idx, 0 as part, pr.sku as ord, 'oversold' as kind, walk.product_id, pr.sku,
           null::integer as line_no, st.key, st.sale_id,
           jsonb_build_object('on_hand', walk.on_hand, 'sold_qty', walk.qty,
                              'event_time', public.kassa_fmt_ts(walk.event)) as details
      from walk
      join st on st.idx = walk.idx
      join public.products pr on pr.id = walk.product_id
     where walk.counts and walk.on_hand < 0
    union all
    select ln.idx, 1, lpad(ln.line_no::text, 10, '0'),
           case when ln.product_id is null then 'unknown_product' else 'price_mismatch' end,
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
           end
      from ln
      left join public.products pr on pr.id = ln.product_id
      left join pri on pri.product_id = ln.product_id and not ln.price_overridden
                   and pri.lo <= ln.event and ln.event < pri.hi
     where ln.product_id is null
        or (not ln.price_overridden and ln.unit_price_cents <> coalesce(pri.price_cents, pr.price_cents))
  ),
  ins_conf as (
    insert into public.conflicts (store_id, kind, product_id, sku, sale_id, line_no, device_id, op_id, details)
    select p_store, conf.kind, conf.product_id, conf.sku, conf.sale_id, conf.line_no, p_device,
           conf.key::uuid, conf.details
      from conf order by conf.idx, conf.part, conf.ord
  )
  select array_agg(
           case st.outcome
             when 'applied' then jsonb_build_object('op_id', st.op -> 'op_id', 'seq', st.op -> 'seq', 'status', 'applied')
             when 'duplicate' then jsonb_build_object('op_id', st.op -> 'op_id', 'seq', st.op -> 'seq', 'status', 'duplicate')
                                   || case when st.prev ->> 'note' is not null
                                           then jsonb_build_object('note', st.prev ->> 'note') else '{}'::jsonb end
             when 'rejected_before' then jsonb_build_object('op_id', st.op -> 'op_id', 'seq', st.op -> 'seq',
                                   'status', 'rejected', 'code', st.prev ->> 'code', 'message', st.prev ->> 'message')
             else jsonb_build_object('op_id', st.op -> 'op_id', 'seq', st.op -> 'seq', 'status', 'rejected',
                                     'code', rej.code, 'message', rej.message)
           end order by st.idx)
    into v_results
    from st left join rej on rej.idx = st.idx;
  return v_results;
end
$$;

-- The batch with the fast path (kassa_push_batch without isolation): classify every op in one
-- query, then apply runs of consecutive fast ops set-wise and the other ops one by one.
create or replace function public.kassa_push_batch_fast(p_device uuid, p_store uuid, p_threshold integer,
                                                        p_ops jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_results jsonb[] := '{}';
  v_run record;
  v_item public.kassa_push_item;
  v_op jsonb;
  v_fast jsonb[];
  v_prev jsonb;
begin
  for v_run in
    -- (Fields are extracted once, in materialized CTEs or OFFSET 0 subqueries: an expression
    -- like `op -> 'payload'` would otherwise be evaluated again at every use.)
    with e as materialized (
      select x.i::integer as idx, x.e -> 'seq' as seq, x.e -> 'skew_ms' as skew, x.e -> 'kind' as kind,
             x.e -> 'payload' as p,
             case when jsonb_typeof(x.e) = 'object' and public.kassa_is_uuid(x.e ->> 'op_id')
                  then lower(x.e ->> 'op_id') end as key
        from jsonb_array_elements(p_ops) with ordinality as x(e, i)
    ),
    -- op_ids that occur more than once in the batch (looked up live, op by op)
    n as materialized (
      select e.idx, count(*) over (partition by e.key) > 1 as dup from e where e.key is not null
    ),
    k as (
      select e.idx, e.seq, e.skew, e.kind, e.p, e.key,
             public.kassa_ts(e.p ->> 'created_at') as created,
             pl.prev, coalesce(n.dup, false) as dup,
             e.key is not null and not n.dup as single
        from e
        left join n on n.idx = e.idx
        -- the op log entry of a single op_id: one index probe each
        left join lateral (select jsonb_build_object('content_md5', a.content_md5, 'status', a.status,
                                                     'code', a.code, 'message', a.message, 'note', a.note) as prev
                             from public.applied_ops a
                            where e.key is not null and not n.dup
                              and a.device_id = p_device and a.op_id = e.key::uuid
                            limit 1) pl on true
    ),
    -- A new op: a `sale` whose op fields and payload pass every check of kassa_push_op and
    -- kassa_validate_sale (CASE keeps the casts behind their checks).
    h as materialized (
      select k.*,
             case
               when not k.single or k.prev is not null then false
               when not public.kassa_is_int(k.seq) then false
               when k.seq::bigint < 0 then false
               when coalesce(jsonb_typeof(k.skew), 'null') <> 'null'
                    and not public.kassa_is_int(k.skew) then false
               when coalesce(jsonb_typeof(k.skew), 'null') <> 'null'
                    and abs(k.skew::bigint) > 315360000000 then false
               when k.kind is distinct from '"sale"'::jsonb then false
               when jsonb_typeof(k.p) is distinct from 'object' then false
               when not public.kassa_is_uuid(k.p ->> 'sale_id') then false
               when jsonb_typeof(k.p -> 'created_at') is distinct from 'string' then false
               when k.created is null then false
               when coalesce(k.p ->> 'currency', '') !~ '^[A-Z]{3}$' then false
               when not public.kassa_is_int(k.p -> 'total_cents') then false
               when not public.kassa_is_int(k.p -> 'tax_cents') then false
               when coalesce(jsonb_typeof(k.p -> 'rounding_cents'), 'null') <> 'null'
                    and not public.kassa_is_int(k.p -> 'rounding_cents') then false
               when length(k.p ->> 'prev_hash') is distinct from 64
                    or ltrim(k.p ->> 'prev_hash', '0123456789abcdef') <> '' then false
               when length(k.p ->> 'hash') is distinct from 64
                    or ltrim(k.p ->> 'hash', '0123456789abcdef') <> '' then false
               when jsonb_typeof(k.p -> 'lines') is distinct from 'array' then false
               when jsonb_array_length(k.p -> 'lines') not between 1 and 1000 then false
               -- tenders absent or an array (a JSON null goes the per-op way)
               when jsonb_typeof(k.p -> 'tenders') is not null
                    and jsonb_typeof(k.p -> 'tenders') <> 'array' then false
               else true
             end as head_ok
        from k
    ),
    -- Lines and tenders of each sale, in payload order: the lines must be numbered 1, 2, ...
    -- in that order (as tills send them; otherwise the op goes the per-op way), so that the
    -- canonical form needs no sort (plain aggregates over the array, per sale).
    c as (
      select h.idx, h.seq, h.skew, h.kind, h.key, h.prev, h.dup, h.created,
             h.single and (h.prev is not null or (h.head_ok and lv.ok and coalesce(tv.ok, true))) as fast,
             h.head_ok and lv.ok and coalesce(tv.ok, true) as is_new,
             h.p, lv.canon as lcanon, tv.canon as tcanon
        from h
        left join lateral (
          select bool_and(case
                   when f.t <> 'object' then false
                   when not public.kassa_is_int(f.line_no) then false
                   when f.line_no::bigint <> f.i then false
                   when jsonb_typeof(f.sku) is distinct from 'string' or f.sku = '""'::jsonb then false
                   when coalesce(jsonb_typeof(f.name), 'null') not in ('string', 'null') then false
                   when not public.kassa_is_int(f.qty) then false
                   when f.qty::bigint <= 0 then false
                   when not public.kassa_is_int(f.unit) then false
                   when f.unit::bigint < 0 then false
                   when coalesce(jsonb_typeof(f.disc), 'null') <> 'null'
                        and not public.kassa_is_int(f.disc) then false
                   when coalesce(jsonb_typeof(f.po), 'null') not in ('boolean', 'null') then false
                   when not public.kassa_is_int(f.rate) then false
                   when f.rate::bigint not between 0 and 10000 then false
                   when coalesce(jsonb_typeof(f.pit), 'null') not in ('boolean', 'null') then false
                   when not public.kassa_is_int(f.total) then false
                   when not public.kassa_is_int(f.tax) then false
                   else true
                 end) as ok,
                 string_agg('L|' || (f.line_no #>> '{}') || '|' || (f.sku #>> '{}') || '|' || (f.qty #>> '{}') || '|'
                            || (f.unit #>> '{}') || '|' || coalesce(f.disc #>> '{}', '0') || '|'
                            || (f.rate #>> '{}') || '|' || (f.total #>> '{}') || '|' || (f.tax #>> '{}'),
                            E'\n') as canon
            from (select x.i, jsonb_typeof(x.l) as t, x.l -> 'line_no' as line_no, x.l -> 'sku' as sku,
                         x.l -> 'name' as name, x.l -> 'qty' as qty, x.l -> 'unit_price_cents' as unit,
                         x.l -> 'discount_cents' as disc, x.l -> 'price_overridden' as po,
                         x.l -> 'tax_rate_bp' as rate, x.l -> 'price_includes_tax' as pit,
                         x.l -> 'line_total_cents' as total, x.l -> 'tax_cents' as tax
                    from jsonb_array_elements(case when h.head_ok then h.p -> 'lines' end)
                         with ordinality as x(l, i)
                  offset 0) f
        ) lv on h.head_ok
        left join lateral (
          select bool_and(case
                   when jsonb_typeof(t) <> 'object' then false
                   when jsonb_typeof(t -> 'kind') is distinct from 'string' or t ->> 'kind' = '' then false
                   when not public.kassa_is_int(t -> 'amount_cents') then false
                   when coalesce(jsonb_typeof(t -> 'change_cents'), 'null') <> 'null'
                        and not public.kassa_is_int(t -> 'change_cents') then false
                   else true
                 end) as ok,
                 string_agg('T|' || (t ->> 'kind') || '|' || (t ->> 'amount_cents') || '|'
                            || coalesce(t ->> 'change_cents', '0'), E'\n') as canon
            from jsonb_array_elements(case when h.head_ok and jsonb_typeof(h.p -> 'tenders') = 'array'
                                           then h.p -> 'tenders' end) as t
        ) tv on h.head_ok and jsonb_typeof(h.p -> 'tenders') = 'array'
    ),
    items as (
      select c.idx, c.fast,
             row(c.idx, c.key, c.prev, c.dup, c.fast, c.is_new,
                 case when c.fast then md5(coalesce(c.kind::text, '') || '|' || coalesce(c.p::text, '')) end,
                 case when c.is_new then c.seq::bigint end,
                 case when c.is_new then coalesce((c.skew #>> '{}')::bigint, 0) end,
                 case when c.is_new then (c.p ->> 'sale_id')::uuid end,
                 case when c.is_new then c.created
                                         + coalesce((c.skew #>> '{}')::bigint, 0)::double precision * interval '1 millisecond' end,
                 case when c.is_new then encode(sha256(convert_to(
                   (c.p ->> 'prev_hash') || E'\n' || 'kassa-sale-v1|' || (c.p ->> 'sale_id') || '|' || (c.p ->> 'created_at')
                   || '|' || (c.p ->> 'currency') || '|' || (c.p ->> 'total_cents') || '|' || (c.p ->> 'tax_cents')
                   || '|' || coalesce(c.p ->> 'rounding_cents', '0') || E'\n' || c.lcanon
                   || coalesce(E'\n' || c.tcanon, ''), 'UTF8')), 'hex') end
             )::public.kassa_push_item as item,
             c.starts
        from (select c0.*, not (c0.fast and coalesce(lag(c0.fast) over (order by c0.idx), false)) as starts
                from c c0) c
    ),
    runs as (
      select items.*, count(*) filter (where items.starts) over (order by items.idx) as run_no from items
    )
    select bool_and(runs.fast) as fast, array_agg(runs.item order by runs.idx) as items
      from runs group by runs.run_no order by runs.run_no
  loop
    v_fast := null;
    if v_run.fast then
      v_fast := public.kassa_push_fast_run(p_device, p_store, p_ops, v_run.items);
    end if;
    if v_fast is not null then
      v_results := v_results || v_fast;
    else
      foreach v_item in array v_run.items loop
        v_op := p_ops -> (v_item.idx - 1);
        if v_item.dup then
          select jsonb_build_object('content_md5', a.content_md5, 'status', a.status, 'code', a.code,
                                    'message', a.message, 'note', a.note)
            into v_prev
            from public.applied_ops a where a.device_id = p_device and a.op_id = v_item.key::uuid;
        else
          v_prev := v_item.prev;
        end if;
        v_results := array_append(v_results,
                       public.kassa_push_op(p_device, p_store, p_threshold, v_op, v_prev));
      end loop;
    end if;
  end loop;
  return to_jsonb(v_results);
end
$$;

create or replace function public.kassa_push_batch(p_device uuid, p_store uuid, p_threshold integer,
                                                   p_ops jsonb, p_isolate boolean)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_prev_log jsonb;
  v_dups text[];
  v_results jsonb[] := '{}';
  v_op jsonb;
  v_key text;
  v_prev jsonb;
  v_state text;
  v_msg text;
  r jsonb;
begin
  if not p_isolate and coalesce(current_setting('kassa.push_fast_path', true), '') <> 'off' then
    return public.kassa_push_batch_fast(p_device, p_store, p_threshold, p_ops);
  end if;

  -- The op log entries of this batch's op_ids, in one query.
  select coalesce(jsonb_object_agg(a.op_id::text, jsonb_build_object(
           'content_md5', a.content_md5, 'status', a.status, 'code', a.code,
           'message', a.message, 'note', a.note)), '{}')
    into v_prev_log
    from public.applied_ops a
   where a.device_id = p_device
     -- = any(array): index probes on (device_id, op_id), never a scan of the device's history
     and a.op_id = any (array(select (e ->> 'op_id')::uuid from jsonb_array_elements(p_ops) e
                               where public.kassa_is_uuid(e ->> 'op_id')));
  -- op_ids that occur more than once in this batch: looked up live.
  v_dups := array(select lower(e ->> 'op_id') from jsonb_array_elements(p_ops) e
                   where public.kassa_is_uuid(e ->> 'op_id')
                   group by 1 having count(*) > 1);

  for v_op in select e from jsonb_array_elements(p_ops) with ordinality as x(e, i) order by i loop
    v_key := lower(v_op ->> 'op_id');
    if v_key = any(v_dups) then
      select jsonb_build_object('content_md5', a.content_md5, 'status', a.status, 'code', a.code,
                                'message', a.message, 'note', a.note)
        into v_prev
        from public.applied_ops a where a.device_id = p_device and a.op_id = v_key::uuid;
    else
      v_prev := v_prev_log -> v_key;
    end if;
    if p_isolate then
      begin
        r := public.kassa_push_op(p_device, p_store, p_threshold, v_op, v_prev);
      exception when others then
        get stacked diagnostics v_state = returned_sqlstate, v_msg = message_text;
        if public.kassa_is_transient(v_state) then
          raise;
        end if;
        r := public.kassa_reject_op(p_device, p_store, v_op, 'invalid_payload',
               format('the server could not apply this op (%s: %s)', v_state, v_msg), v_prev is null);
      end;
    else
      r := public.kassa_push_op(p_device, p_store, p_threshold, v_op, v_prev);
    end if;
    v_results := array_append(v_results, r);
  end loop;
  return to_jsonb(v_results);
end
$$;
