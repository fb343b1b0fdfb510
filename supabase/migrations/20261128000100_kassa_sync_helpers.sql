-- kassa sync RPCs: kassa_heartbeat, kassa_push, kassa_pull (see docs/protocol.md).
--
-- The RPCs are SECURITY DEFINER: they take the device and the store from the JWT
-- (auth.jwt()), check that the device exists in that store, and then write with the
-- owner's rights. Everything else in this file is internal and not executable by the
-- API roles.
--
-- kassa_push isolates bad ops without a savepoint per op: every op is validated in
-- plpgsql before it touches a table, so a bad op is normally rejected without any error
-- being raised. The whole batch runs inside ONE exception block (one subtransaction); only
-- if an unexpected error escapes (a bug, an overflow, ...) is the batch replayed with a
-- guard per op, which then rejects just the op that fails. Transient errors (serialization,
-- deadlock, lock or statement timeouts, shutdown, out of resources) are re-raised so that the
-- whole call fails and the till retries it.

-- ---------------------------------------------------------------------------------------
-- Small pure helpers (no exceptions: they return null/false for bad input).
-- SQL helpers here carry no `set search_path` on purpose: a SET clause stops PostgreSQL from
-- inlining a SQL function, and a non-inlined SQL function is re-planned on every call (that
-- made kassa_push ~10x slower). Their bodies use schema-qualified names only.

create or replace function public.kassa_is_uuid(p text) returns boolean
language sql immutable parallel safe
as $$ select coalesce(p ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', false) $$;

-- An integral JSON number that fits comfortably in a bigint: its text is -?[0-9]{1,15}, i.e.
-- the number has no fractional digits (scale 0: `2.0` is not integral) and fewer than 16
-- integer digits. (Checked on the numeric rather than with a regex on its text: 5x cheaper.)
create or replace function public.kassa_is_int(p jsonb) returns boolean
language sql immutable parallel safe
as $$
  select case when pg_catalog.jsonb_typeof(p) = 'number'
              then pg_catalog.scale(p::numeric) = 0 and abs(p::numeric) < 1000000000000000
              else false end
$$;

-- RFC 3339 timestamp text -> timestamptz, or null when the text is not one.
create or replace function public.kassa_ts(p text) returns timestamptz
language sql stable parallel safe
as $$
  select case
    when p ~ '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])$'
         and (substr(p, 9, 2)::int <= case substr(p, 6, 2)::int
                                          when 2 then case when substr(p, 1, 4)::int % 4 = 0
                                                            and (substr(p, 1, 4)::int % 100 <> 0 or substr(p, 1, 4)::int % 400 = 0)
                                                           then 29 else 28 end
                                          when 4 then 30 when 6 then 30 when 9 then 30 when 11 then 30
                                          else 31 end)
    then p::timestamptz
  end
$$;

-- timestamptz -> "2026-11-28T17:30:00.123Z"
create or replace function public.kassa_fmt_ts(p timestamptz) returns text
language sql stable parallel safe
as $$ select pg_catalog.to_char(p at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;

create or replace function public.kassa_is_transient(p_sqlstate text) returns boolean
language sql immutable parallel safe
as $$
  select left(p_sqlstate, 2) in ('08', '40', '53', '57', '58', 'XX')
      or p_sqlstate in ('55P03', '55006', '55000')
$$;

-- ---------------------------------------------------------------------------------------
-- The caller: device and store from the JWT, or 42501.

create or replace function public.kassa_caller(out device_id uuid, out store_id uuid)
language plpgsql stable
set search_path = ''
as $$
declare
  v_sub text := auth.jwt() ->> 'sub';
  v_store uuid := public.kassa_jwt_store_id();
  v_actual uuid;
begin
  if not public.kassa_is_uuid(v_sub) or v_store is null then
    raise exception using errcode = '42501',
      message = 'not a device token',
      hint = 'the token must carry sub = <device uuid> and app_metadata.store_id = <store uuid>';
  end if;
  select d.store_id into v_actual from public.devices d where d.id = v_sub::uuid and d.active;
  if v_actual is null or v_actual <> v_store then
    raise exception using errcode = '42501',
      message = 'unknown device',
      hint = 'the device is not registered (or not active) in the store named by the token';
  end if;
  device_id := v_sub::uuid;
  store_id := v_store;
end
$$;

-- ---------------------------------------------------------------------------------------
-- Stock arithmetic

-- The price of a product valid at moment p_at (the earliest known price before history starts).
-- plpgsql (not SQL) on purpose: its statements' plans are cached across calls, whereas a
-- SQL function with sub-selects cannot be inlined and would be re-planned on every call.
create or replace function public.kassa_price_at(p_product uuid, p_at timestamptz) returns bigint
language plpgsql stable
as $$
declare
  v bigint;
begin
  select pp.price_cents into v from public.product_prices pp
   where pp.product_id = p_product and pp.valid_from <= p_at
   order by pp.valid_from desc limit 1;
  if v is null then
    select pp.price_cents into v from public.product_prices pp
     where pp.product_id = p_product
     order by pp.valid_from asc limit 1;
  end if;
  if v is null then
    select p.price_cents into v from public.products p where p.id = p_product;
  end if;
  return v;
end
$$;

-- The ledger's level of a product in a store at moment p_at: the newest active count at or
-- before p_at (the baseline) plus the movements after the baseline up to p_at.
create or replace function public.kassa_level_at(p_store uuid, p_product uuid, p_at timestamptz)
returns bigint
language plpgsql stable
as $$
declare
  v_qty bigint;
  v_at timestamptz;
  v_sum bigint;
begin
  select c.counted_qty, c.event_time into v_qty, v_at from public.stock_counts c
   where c.store_id = p_store and c.product_id = p_product and c.status = 'active'
     and c.event_time <= p_at
   order by c.event_time desc, c.received_at desc, c.id desc
   limit 1;
  select coalesce(sum(m.delta), 0) into v_sum from public.stock_movements m
   where m.store_id = p_store and m.product_id = p_product
     and m.event_time <= p_at
     and (v_at is null or m.event_time > v_at);
  return coalesce(v_qty, 0) + v_sum;
end
$$;

-- Recompute stock_levels.on_hand (and the baseline) of one product from the ledger.
create or replace function public.kassa_recompute_level(p_store uuid, p_product uuid)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
  v_baseline_at timestamptz;
  v_on_hand bigint;
begin
  select c.event_time into v_baseline_at from public.stock_counts c
   where c.store_id = p_store and c.product_id = p_product and c.status = 'active'
   order by c.event_time desc, c.received_at desc, c.id desc
   limit 1;
  v_on_hand := public.kassa_level_at(p_store, p_product, 'infinity');
  insert into public.stock_levels as s (store_id, product_id, on_hand, baseline_at)
  values (p_store, p_product, v_on_hand, v_baseline_at)
  on conflict (store_id, product_id) do update
    set on_hand = excluded.on_hand, baseline_at = excluded.baseline_at
    where s.on_hand is distinct from excluded.on_hand
       or s.baseline_at is distinct from excluded.baseline_at;
  return v_on_hand;
end
$$;

-- A goods receipt (head office, seed): adds stock at p_at.
create or replace function public.kassa_receive_stock(p_store uuid, p_sku text, p_qty bigint,
                                                      p_at timestamptz default now())
returns bigint
language plpgsql
set search_path = ''
as $$
declare
  v_product uuid;
begin
  select p.id into v_product from public.products p where p.sku = p_sku;
  if v_product is null then
    raise exception using errcode = 'P0001', message = format('unknown sku %s', p_sku);
  end if;
  perform pg_catalog.pg_advisory_xact_lock(public.kassa_store_lock_key(p_store));
  insert into public.stock_movements (store_id, product_id, delta, reason, event_time)
  values (p_store, v_product, p_qty, 'receipt', p_at);
  return public.kassa_recompute_level(p_store, v_product);
end
$$;

-- ---------------------------------------------------------------------------------------
-- Canonical sale form (docs/protocol.md) and payload validation

create or replace function public.kassa_sale_canonical(p jsonb) returns text
language plpgsql immutable
as $$
begin
  return concat_ws(E'\n',
    format('kassa-sale-v1|%s|%s|%s|%s|%s|%s',
           p ->> 'sale_id', p ->> 'created_at', p ->> 'currency',
           (p ->> 'total_cents')::bigint, (p ->> 'tax_cents')::bigint,
           coalesce((p ->> 'rounding_cents')::bigint, 0)),
    (select string_agg(format('L|%s|%s|%s|%s|%s|%s|%s|%s',
                              (l ->> 'line_no')::bigint, l ->> 'sku', (l ->> 'qty')::bigint,
                              (l ->> 'unit_price_cents')::bigint,
                              coalesce((l ->> 'discount_cents')::bigint, 0),
                              (l ->> 'tax_rate_bp')::bigint, (l ->> 'line_total_cents')::bigint,
                              (l ->> 'tax_cents')::bigint),
                       E'\n' order by (l ->> 'line_no')::bigint)
       from jsonb_array_elements(p -> 'lines') l),
    (select string_agg(format('T|%s|%s|%s', t ->> 'kind', (t ->> 'amount_cents')::bigint,
                              coalesce((t ->> 'change_cents')::bigint, 0)),
                       E'\n' order by i)
       from jsonb_array_elements(p -> 'tenders') with ordinality as x(t, i)));
end
$$;

-- Returns null when the sale payload is well-formed, else the reason.
create or replace function public.kassa_validate_sale(p jsonb) returns text
language plpgsql stable
set search_path = ''
as $$
declare
  v_msg text;
begin
  if not public.kassa_is_uuid(p ->> 'sale_id') then return 'sale_id must be a uuid'; end if;
  if jsonb_typeof(p -> 'created_at') is distinct from 'string' or public.kassa_ts(p ->> 'created_at') is null then
    return 'created_at must be an RFC 3339 timestamp';
  end if;
  if coalesce(p ->> 'currency', '') !~ '^[A-Z]{3}$' then return 'currency must be an ISO 4217 code'; end if;
  if not public.kassa_is_int(p -> 'total_cents') then return 'total_cents must be an integer'; end if;
  if not public.kassa_is_int(p -> 'tax_cents') then return 'tax_cents must be an integer'; end if;
  if p ? 'rounding_cents' and jsonb_typeof(p -> 'rounding_cents') <> 'null'
     and not public.kassa_is_int(p -> 'rounding_cents') then
    return 'rounding_cents must be an integer';
  end if;
  if coalesce(p ->> 'prev_hash', '') !~ '^[0-9a-f]{64}$' then return 'prev_hash must be 64 lowercase hex digits'; end if;
  if coalesce(p ->> 'hash', '') !~ '^[0-9a-f]{64}$' then return 'hash must be 64 lowercase hex digits'; end if;
  if jsonb_typeof(p -> 'lines') is distinct from 'array' or jsonb_array_length(p -> 'lines') = 0 then
    return 'lines must be a non-empty array';
  end if;
  if jsonb_array_length(p -> 'lines') > 1000 then return 'a sale has at most 1000 lines'; end if;

  select format('line %s: %s', i, m) into v_msg
  from (
    select i, case
      when jsonb_typeof(l) <> 'object' then 'must be an object'
      when not public.kassa_is_int(l -> 'line_no') or (l ->> 'line_no')::bigint < 1 then 'line_no must be an integer >= 1'
      when jsonb_typeof(l -> 'sku') is distinct from 'string' or l ->> 'sku' = '' then 'sku must be a non-empty string'
      when l ? 'name' and jsonb_typeof(l -> 'name') not in ('string', 'null') then 'name must be a string'
      when not public.kassa_is_int(l -> 'qty') then 'qty must be an integer'
      when (l ->> 'qty')::bigint <= 0 then 'qty must be > 0'
      when not public.kassa_is_int(l -> 'unit_price_cents') then 'unit_price_cents must be an integer'
      when (l ->> 'unit_price_cents')::bigint < 0 then 'unit_price_cents must be >= 0'
      when l ? 'discount_cents' and jsonb_typeof(l -> 'discount_cents') <> 'null'
           and not public.kassa_is_int(l -> 'discount_cents') then 'discount_cents must be an integer'
      when l ? 'price_overridden' and jsonb_typeof(l -> 'price_overridden') not in ('boolean', 'null') then 'price_overridden must be a boolean'
      when not public.kassa_is_int(l -> 'tax_rate_bp') or (l ->> 'tax_rate_bp')::bigint not between 0 and 10000 then 'tax_rate_bp must be an integer in 0..10000'
      when l ? 'price_includes_tax' and jsonb_typeof(l -> 'price_includes_tax') not in ('boolean', 'null') then 'price_includes_tax must be a boolean'
      when not public.kassa_is_int(l -> 'line_total_cents') then 'line_total_cents must be an integer'
      when not public.kassa_is_int(l -> 'tax_cents') then 'tax_cents must be an integer'
    end as m
    from jsonb_array_elements(p -> 'lines') with ordinality as x(l, i)
  ) v
  where m is not null
  order by i
  limit 1;
  if v_msg is not null then return v_msg; end if;

  select format('line_no %s appears twice', n) into v_msg
  from (select (l ->> 'line_no')::bigint as n from jsonb_array_elements(p -> 'lines') l) x
  group by n having count(*) > 1
  limit 1;
  if v_msg is not null then return v_msg; end if;

  if p ? 'tenders' and jsonb_typeof(p -> 'tenders') <> 'null' then
    if jsonb_typeof(p -> 'tenders') <> 'array' then return 'tenders must be an array'; end if;
    select format('tender %s: %s', i, m) into v_msg
    from (
      select i, case
        when jsonb_typeof(t) <> 'object' then 'must be an object'
        when jsonb_typeof(t -> 'kind') is distinct from 'string' or t ->> 'kind' = '' then 'kind must be a non-empty string'
        when not public.kassa_is_int(t -> 'amount_cents') then 'amount_cents must be an integer'
        when t ? 'change_cents' and jsonb_typeof(t -> 'change_cents') <> 'null'
             and not public.kassa_is_int(t -> 'change_cents') then 'change_cents must be an integer'
      end as m
      from jsonb_array_elements(p -> 'tenders') with ordinality as x(t, i)
    ) v
    where m is not null
    order by i
    limit 1;
    if v_msg is not null then return v_msg; end if;
  end if;
  return null;
end
$$;

-- ---------------------------------------------------------------------------------------
-- Applying ops. Each returns {"status":"applied"[, "note"]} or {"status":"rejected","code","message"}.

create or replace function public.kassa_apply_sale(p_device uuid, p_store uuid, p_op_id uuid,
                                                   p_seq bigint, p_skew bigint, p jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_err text;
  v_sale uuid;
  v_event timestamptz;
  v_hash text;
begin
  v_err := public.kassa_validate_sale(p);
  if v_err is not null then
    return jsonb_build_object('status', 'rejected', 'code', 'invalid_payload', 'message', v_err);
  end if;
  v_hash := encode(sha256(convert_to((p ->> 'prev_hash') || E'\n' || public.kassa_sale_canonical(p), 'UTF8')), 'hex');
  if v_hash <> p ->> 'hash' then
    return jsonb_build_object('status', 'rejected', 'code', 'bad_hash',
      'message', 'hash does not match the canonical form of the sale');
  end if;
  v_sale := (p ->> 'sale_id')::uuid;
  v_event := public.kassa_ts(p ->> 'created_at') + p_skew::double precision * interval '1 millisecond';

  -- chain_ok: prev_hash is the hash of this device's previous sale (by seq).
  insert into public.sales (id, store_id, device_id, op_id, seq, created_at, skew_ms, event_time,
                            currency, total_cents, tax_cents, rounding_cents, prev_hash, hash, chain_ok)
  values (v_sale, p_store, p_device, p_op_id, p_seq, p ->> 'created_at', p_skew, v_event,
          p ->> 'currency', (p ->> 'total_cents')::bigint, (p ->> 'tax_cents')::bigint,
          coalesce((p ->> 'rounding_cents')::bigint, 0), p ->> 'prev_hash', v_hash,
          (p ->> 'prev_hash') = coalesce((select s.hash from public.sales s
                                           where s.device_id = p_device and s.seq < p_seq
                                           order by s.seq desc limit 1), repeat('0', 64)))
  on conflict (id) do nothing;
  if not found then
    return jsonb_build_object('status', 'rejected', 'code', 'invalid_payload',
      'message', format('sale %s was already recorded by another op', v_sale));
  end if;

  insert into public.sale_lines (sale_id, line_no, store_id, product_id, sku, name, qty,
                                 unit_price_cents, discount_cents, price_overridden, tax_rate_bp,
                                 price_includes_tax, line_total_cents, tax_cents)
  select v_sale, (l ->> 'line_no')::int, p_store, pr.id, l ->> 'sku', coalesce(l ->> 'name', ''),
         (l ->> 'qty')::bigint, (l ->> 'unit_price_cents')::bigint,
         coalesce((l ->> 'discount_cents')::bigint, 0), coalesce((l ->> 'price_overridden')::boolean, false),
         (l ->> 'tax_rate_bp')::int, coalesce((l ->> 'price_includes_tax')::boolean, true),
         (l ->> 'line_total_cents')::bigint, (l ->> 'tax_cents')::bigint
  from jsonb_array_elements(p -> 'lines') l
  left join public.products pr on pr.sku = l ->> 'sku' and pr.active and pr.deleted_at is null;

  if jsonb_typeof(p -> 'tenders') = 'array' then
    insert into public.sale_tenders (sale_id, idx, store_id, kind, amount_cents, change_cents)
    select v_sale, i::int, p_store, t ->> 'kind', (t ->> 'amount_cents')::bigint,
           coalesce((t ->> 'change_cents')::bigint, 0)
    from jsonb_array_elements(p -> 'tenders') with ordinality as x(t, i);
  end if;

  -- The ledger (one movement per stock line) and the levels: a sale at or before the
  -- product's baseline is absorbed by it; otherwise it applies on top. Then oversold for every
  -- product this sale drove below zero.
  with moved as (
    insert into public.stock_movements (store_id, product_id, delta, reason, op_id, device_id, sale_id,
                                        line_no, device_time, skew_ms, event_time)
    select p_store, l.product_id, -l.qty, 'sale', p_op_id, p_device, v_sale, l.line_no,
           p ->> 'created_at', p_skew, v_event
    from public.sale_lines l
    where l.sale_id = v_sale and l.product_id is not null
  ), d as (
    select l.product_id, sum(l.qty) as qty from public.sale_lines l
     where l.sale_id = v_sale and l.product_id is not null
     group by l.product_id
  ), up as (
    insert into public.stock_levels as s (store_id, product_id, on_hand)
    select p_store, d.product_id, -d.qty from d
    on conflict (store_id, product_id) do update
      set on_hand = s.on_hand + excluded.on_hand
      where s.baseline_at is null or s.baseline_at < v_event
    returning s.product_id, s.on_hand
  )
  insert into public.conflicts (store_id, kind, product_id, sku, sale_id, device_id, op_id, details)
  select p_store, 'oversold', up.product_id, pr.sku, v_sale, p_device, p_op_id,
         jsonb_build_object('on_hand', up.on_hand, 'sold_qty', d.qty, 'event_time', public.kassa_fmt_ts(v_event))
  from up
  join d on d.product_id = up.product_id
  join public.products pr on pr.id = up.product_id
  where up.on_hand < 0;

  -- price_mismatch: a stock line sold at another price than the server's at the sale's time
  -- (unless the cashier overrode the price). unknown_product: the line is kept, without a
  -- movement, until resolved. One statement, in line order.
  insert into public.conflicts (store_id, kind, product_id, sku, sale_id, line_no, device_id, op_id, details)
  select p_store, c.kind, c.product_id, c.sku, v_sale, c.line_no, p_device, p_op_id, c.details
  from (
    select l.line_no,
           case when l.product_id is null then 'unknown_product' else 'price_mismatch' end as kind,
           l.product_id, l.sku,
           case when l.product_id is null then
             jsonb_build_object('line_no', l.line_no, 'name', l.name, 'qty', l.qty,
                                'unit_price_cents', l.unit_price_cents,
                                'reason', case when exists (select 1 from public.products pr where pr.sku = l.sku)
                                               then 'inactive' else 'unknown_sku' end)
           else
             jsonb_build_object('line_no', l.line_no, 'qty', l.qty, 'sold_unit_cents', l.unit_price_cents,
                                'server_unit_cents', sp.price, 'event_time', public.kassa_fmt_ts(v_event))
           end as details
    from public.sale_lines l
    left join lateral (select public.kassa_price_at(l.product_id, v_event) as price
                        where l.product_id is not null and not l.price_overridden) sp on true
    where l.sale_id = v_sale
      and (l.product_id is null or l.unit_price_cents <> sp.price)
  ) c
  order by c.line_no;

  return '{"status":"applied"}'::jsonb;
end
$$;

-- Records a stock count (a baseline at its corrected time) and recomputes the level.
create or replace function public.kassa_record_count(p_store uuid, p_product uuid, p_device uuid,
                                                     p_op_id uuid, p_count_id uuid, p_qty bigint,
                                                     p_counted_at text, p_skew bigint,
                                                     p_event timestamptz, p_source text)
returns bigint -- expected level at p_event before the count
language plpgsql
set search_path = ''
as $$
declare
  v_expected bigint;
begin
  v_expected := public.kassa_level_at(p_store, p_product, p_event);
  insert into public.stock_counts (id, store_id, product_id, device_id, op_id, counted_qty,
                                   counted_at, skew_ms, event_time, expected_qty, source)
  values (p_count_id, p_store, p_product, p_device, p_op_id, p_qty, p_counted_at, p_skew,
          p_event, v_expected, p_source);
  perform public.kassa_recompute_level(p_store, p_product);
  return v_expected;
end
$$;

create or replace function public.kassa_apply_stock_count(p_device uuid, p_store uuid, p_op_id uuid,
                                                          p_skew bigint, p_threshold integer, p jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_product uuid;
  v_count uuid;
  v_event timestamptz;
  v_expected bigint;
  v_qty bigint;
begin
  if not public.kassa_is_uuid(p ->> 'count_id') then
    return jsonb_build_object('status', 'rejected', 'code', 'invalid_payload', 'message', 'count_id must be a uuid');
  end if;
  if jsonb_typeof(p -> 'sku') is distinct from 'string' or p ->> 'sku' = '' then
    return jsonb_build_object('status', 'rejected', 'code', 'invalid_payload', 'message', 'sku must be a non-empty string');
  end if;
  if not public.kassa_is_int(p -> 'counted_qty') or (p ->> 'counted_qty')::bigint < 0 then
    return jsonb_build_object('status', 'rejected', 'code', 'invalid_payload', 'message', 'counted_qty must be an integer >= 0');
  end if;
  if jsonb_typeof(p -> 'counted_at') is distinct from 'string' or public.kassa_ts(p ->> 'counted_at') is null then
    return jsonb_build_object('status', 'rejected', 'code', 'invalid_payload', 'message', 'counted_at must be an RFC 3339 timestamp');
  end if;
  select pr.id into v_product from public.products pr
   where pr.sku = p ->> 'sku' and pr.active and pr.deleted_at is null;
  if v_product is null then
    return jsonb_build_object('status', 'rejected', 'code', 'invalid_payload',
      'message', format('stock_count: unknown or inactive sku %s', p ->> 'sku'));
  end if;
  v_count := (p ->> 'count_id')::uuid;
  if exists (select 1 from public.stock_counts c where c.id = v_count) then
    return jsonb_build_object('status', 'rejected', 'code', 'invalid_payload',
      'message', format('count %s was already recorded by another op', v_count));
  end if;
  v_qty := (p ->> 'counted_qty')::bigint;
  v_event := public.kassa_ts(p ->> 'counted_at') + p_skew::double precision * interval '1 millisecond';
  v_expected := public.kassa_record_count(p_store, v_product, p_device, p_op_id, v_count, v_qty,
                                          p ->> 'counted_at', p_skew, v_event, 'count');
  if abs(v_qty - v_expected) > p_threshold then
    insert into public.conflicts (store_id, kind, product_id, sku, count_id, device_id, op_id, details)
    values (p_store, 'count_discrepancy', v_product, p ->> 'sku', v_count, p_device, p_op_id,
            jsonb_build_object('counted_qty', v_qty, 'expected_qty', v_expected,
                               'difference', v_qty - v_expected, 'threshold', p_threshold,
                               'counted_at', p ->> 'counted_at',
                               'event_time', public.kassa_fmt_ts(v_event)));
  end if;
  return '{"status":"applied"}'::jsonb;
end
$$;

-- p_at: the resolution's moment (the op's device_time corrected by skew_ms, else now()).
create or replace function public.kassa_apply_resolution(p_device uuid, p_store uuid, p_op_id uuid,
                                                         p_at timestamptz, p jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  c public.conflicts%rowtype;
  v_action text := p ->> 'action';
  v_product uuid;
  v_line public.sale_lines%rowtype;
  v_event timestamptz;
  v_on_hand bigint;
  v_baseline timestamptz;
  v_price bigint;
begin
  if not public.kassa_is_uuid(p ->> 'conflict_id') then
    return jsonb_build_object('status', 'rejected', 'code', 'invalid_payload', 'message', 'conflict_id must be a uuid');
  end if;
  if jsonb_typeof(p -> 'action') is distinct from 'string' then
    return jsonb_build_object('status', 'rejected', 'code', 'invalid_payload', 'message', 'action must be a string');
  end if;
  if p ? 'note' and jsonb_typeof(p -> 'note') not in ('string', 'null') then
    return jsonb_build_object('status', 'rejected', 'code', 'invalid_payload', 'message', 'note must be a string');
  end if;
  if p ? 'qty' and jsonb_typeof(p -> 'qty') <> 'null' and not public.kassa_is_int(p -> 'qty') then
    return jsonb_build_object('status', 'rejected', 'code', 'invalid_payload', 'message', 'qty must be an integer');
  end if;
  if p ? 'sku' and jsonb_typeof(p -> 'sku') not in ('string', 'null') then
    return jsonb_build_object('status', 'rejected', 'code', 'invalid_payload', 'message', 'sku must be a string');
  end if;

  select * into c from public.conflicts x
   where x.id = (p ->> 'conflict_id')::uuid and x.store_id = p_store
   for update;
  if not found then
    return jsonb_build_object('status', 'rejected', 'code', 'unknown_conflict',
      'message', format('no conflict %s in this store', p ->> 'conflict_id'));
  end if;
  if not (   (c.kind = 'oversold' and v_action in ('accept', 'recount'))
          or (c.kind = 'price_mismatch' and v_action in ('accept', 'adjust'))
          or (c.kind = 'unknown_product' and v_action in ('map', 'non_stock'))
          or (c.kind = 'count_discrepancy' and v_action in ('accept', 'reject'))) then
    return jsonb_build_object('status', 'rejected', 'code', 'invalid_resolution',
      'message', format('%s is not a resolution of a %s conflict', v_action, c.kind));
  end if;
  if v_action = 'recount' and (not public.kassa_is_int(p -> 'qty') or (p ->> 'qty')::bigint < 0) then
    return jsonb_build_object('status', 'rejected', 'code', 'invalid_resolution', 'message', 'recount needs qty >= 0');
  end if;
  if v_action = 'map' and coalesce(p ->> 'sku', '') = '' then
    return jsonb_build_object('status', 'rejected', 'code', 'invalid_resolution', 'message', 'map needs the sku of an existing product');
  end if;

  -- First resolution wins.
  if c.status = 'resolved' then
    return '{"status":"applied","note":"already_resolved"}'::jsonb;
  end if;

  if v_action = 'recount' then
    -- A stock count at the resolution's moment.
    perform public.kassa_record_count(p_store, c.product_id, p_device, p_op_id, gen_random_uuid(),
                                      (p ->> 'qty')::bigint, null, 0, p_at, 'recount');
  elsif v_action = 'adjust' then
    select * into v_line from public.sale_lines l where l.sale_id = c.sale_id and l.line_no = c.line_no;
    v_price := coalesce((c.details ->> 'server_unit_cents')::bigint, v_line.unit_price_cents);
    insert into public.price_adjustments (store_id, conflict_id, sale_id, line_no, product_id, qty,
                                          sold_unit_cents, server_unit_cents, difference_cents)
    values (p_store, c.id, c.sale_id, c.line_no, c.product_id, v_line.qty, v_line.unit_price_cents,
            v_price, (v_price - v_line.unit_price_cents) * v_line.qty);
  elsif v_action = 'map' then
    select pr.id into v_product from public.products pr
     where pr.sku = p ->> 'sku' and pr.active and pr.deleted_at is null;
    if v_product is null then
      return jsonb_build_object('status', 'rejected', 'code', 'invalid_resolution',
        'message', format('map: unknown or inactive sku %s', p ->> 'sku'));
    end if;
    select * into v_line from public.sale_lines l where l.sale_id = c.sale_id and l.line_no = c.line_no;
    select s.event_time into v_event from public.sales s where s.id = c.sale_id;
    update public.sale_lines l set mapped_product_id = v_product
     where l.sale_id = c.sale_id and l.line_no = c.line_no;
    insert into public.stock_movements (store_id, product_id, delta, reason, op_id, device_id, sale_id,
                                        line_no, conflict_id, event_time)
    values (p_store, v_product, -v_line.qty, 'unknown_product_mapped', p_op_id, p_device, c.sale_id,
            c.line_no, c.id, v_event);
    v_on_hand := public.kassa_recompute_level(p_store, v_product);
    select s.baseline_at into v_baseline from public.stock_levels s
     where s.store_id = p_store and s.product_id = v_product;
    if v_on_hand < 0 and (v_baseline is null or v_baseline < v_event) then
      insert into public.conflicts (store_id, kind, product_id, sku, sale_id, device_id, op_id, details)
      values (p_store, 'oversold', v_product, p ->> 'sku', c.sale_id, p_device, p_op_id,
              jsonb_build_object('on_hand', v_on_hand, 'sold_qty', v_line.qty,
                                 'event_time', public.kassa_fmt_ts(v_event), 'mapped_from', c.id));
    end if;
  elsif v_action = 'reject' then
    -- The count's baseline is withdrawn; the level is recomputed without it.
    update public.stock_counts sc set status = 'withdrawn' where sc.id = c.count_id;
    perform public.kassa_recompute_level(p_store, c.product_id);
  end if;

  update public.conflicts x
     set status = 'resolved',
         resolved_at = now(),
         resolved_by_device = p_device,
         resolution = jsonb_build_object('action', v_action, 'qty', p -> 'qty', 'sku', p -> 'sku',
                                         'note', p -> 'note', 'device_id', p_device, 'op_id', p_op_id,
                                         'resolved_at', public.kassa_fmt_ts(now()))
   where x.id = c.id;
  return '{"status":"applied"}'::jsonb;
end
$$;

-- ---------------------------------------------------------------------------------------
-- The push machinery

-- Records a rejection for head office and (when the op_id is free) in the op log, so that a
-- replay of the op gets the same rejection back.
create or replace function public.kassa_reject_op(p_device uuid, p_store uuid, p_op jsonb,
                                                  p_code text, p_message text, p_log boolean)
returns jsonb
language plpgsql
set search_path = ''
as $$
begin
  insert into public.rejected_ops (store_id, device_id, op_id, seq, kind, code, message, op)
  values (p_store, p_device, left(p_op ->> 'op_id', 100),
          case when public.kassa_is_int(p_op -> 'seq') then (p_op ->> 'seq')::bigint end,
          left(p_op ->> 'kind', 100), p_code, p_message, coalesce(p_op, 'null'::jsonb));
  if p_log and public.kassa_is_uuid(p_op ->> 'op_id') then
    insert into public.applied_ops (device_id, op_id, store_id, seq, kind, content_md5, status, code, message)
    values (p_device, (p_op ->> 'op_id')::uuid, p_store,
            case when public.kassa_is_int(p_op -> 'seq') then (p_op ->> 'seq')::bigint end,
            coalesce(left(p_op ->> 'kind', 100), ''),
            md5(coalesce((p_op -> 'kind')::text, '') || '|' || coalesce((p_op -> 'payload')::text, '')),
            'rejected', p_code, p_message)
    on conflict (device_id, op_id) do nothing;
  end if;
  return jsonb_build_object('op_id', p_op -> 'op_id', 'seq', p_op -> 'seq', 'status', 'rejected',
                            'code', p_code, 'message', p_message);
end
$$;

-- One op: replay check, validation, apply, op log. p_prev is the op log entry of this
-- op_id (null if none).
create or replace function public.kassa_push_op(p_device uuid, p_store uuid, p_threshold integer,
                                                p_op jsonb, p_prev jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_op_id uuid;
  v_seq bigint;
  v_kind text;
  v_skew bigint;
  v_md5 text;
  v_payload jsonb;
  r jsonb;
begin
  if jsonb_typeof(p_op) is distinct from 'object' or not public.kassa_is_uuid(p_op ->> 'op_id') then
    return public.kassa_reject_op(p_device, p_store, p_op, 'invalid_payload', 'op_id must be a uuid', false);
  end if;
  v_op_id := (p_op ->> 'op_id')::uuid;
  v_md5 := md5(coalesce((p_op -> 'kind')::text, '') || '|' || coalesce((p_op -> 'payload')::text, ''));

  if p_prev is not null then
    if p_prev ->> 'content_md5' <> v_md5 then
      return public.kassa_reject_op(p_device, p_store, p_op, 'op_id_reused',
        format('op_id %s was already used by this device for a different operation', v_op_id), false);
    end if;
    if p_prev ->> 'status' = 'rejected' then
      return jsonb_build_object('op_id', p_op -> 'op_id', 'seq', p_op -> 'seq', 'status', 'rejected',
                                'code', p_prev ->> 'code', 'message', p_prev ->> 'message');
    end if;
    r := jsonb_build_object('op_id', p_op -> 'op_id', 'seq', p_op -> 'seq', 'status', 'duplicate');
    if p_prev ->> 'note' is not null then
      r := r || jsonb_build_object('note', p_prev ->> 'note');
    end if;
    return r;
  end if;

  if not public.kassa_is_int(p_op -> 'seq') or (p_op ->> 'seq')::bigint < 0 then
    return public.kassa_reject_op(p_device, p_store, p_op, 'invalid_payload', 'seq must be an integer >= 0', true);
  end if;
  v_seq := (p_op ->> 'seq')::bigint;
  if p_op ? 'skew_ms' and jsonb_typeof(p_op -> 'skew_ms') <> 'null' then
    if not public.kassa_is_int(p_op -> 'skew_ms') or abs((p_op ->> 'skew_ms')::bigint) > 315360000000 then
      return public.kassa_reject_op(p_device, p_store, p_op, 'invalid_payload', 'skew_ms must be an integer (milliseconds)', true);
    end if;
  end if;
  v_skew := coalesce((p_op ->> 'skew_ms')::bigint, 0);
  v_kind := p_op ->> 'kind';
  v_payload := p_op -> 'payload';
  if jsonb_typeof(p_op -> 'kind') is distinct from 'string' then
    return public.kassa_reject_op(p_device, p_store, p_op, 'invalid_payload', 'kind must be a string', true);
  end if;
  if v_kind not in ('sale', 'stock_count', 'resolve_conflict') then
    return public.kassa_reject_op(p_device, p_store, p_op, 'unknown_kind',
      format('unknown op kind %s', left(v_kind, 100)), true);
  end if;
  if jsonb_typeof(v_payload) is distinct from 'object' then
    return public.kassa_reject_op(p_device, p_store, p_op, 'invalid_payload', 'payload must be an object', true);
  end if;

  r := case v_kind
    when 'sale' then public.kassa_apply_sale(p_device, p_store, v_op_id, v_seq, v_skew, v_payload)
    when 'stock_count' then public.kassa_apply_stock_count(p_device, p_store, v_op_id, v_skew, p_threshold, v_payload)
    when 'resolve_conflict' then public.kassa_apply_resolution(
      p_device, p_store, v_op_id,
      coalesce(public.kassa_ts(p_op ->> 'device_time') + v_skew::double precision * interval '1 millisecond', now()),
      v_payload)
  end;

  if r ->> 'status' = 'rejected' then
    return public.kassa_reject_op(p_device, p_store, p_op, r ->> 'code', r ->> 'message', true);
  end if;
  insert into public.applied_ops (device_id, op_id, store_id, seq, kind, content_md5, status, note)
  values (p_device, v_op_id, p_store, v_seq, v_kind, v_md5, 'applied', r ->> 'note');
  return jsonb_build_object('op_id', p_op -> 'op_id', 'seq', p_op -> 'seq', 'status', 'applied')
         || case when r ? 'note' then jsonb_build_object('note', r ->> 'note') else '{}'::jsonb end;
end
$$;

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

-- ---------------------------------------------------------------------------------------
-- The RPCs

create or replace function public.kassa_heartbeat(p_status jsonb default '{}'::jsonb)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_device uuid;
  v_store uuid;
  s jsonb := case when jsonb_typeof(p_status) = 'object' then p_status else '{}'::jsonb end;
begin
  select c.device_id, c.store_id into v_device, v_store from public.kassa_caller() c;
  insert into public.device_status as ds (device_id, store_id, last_seen_at, app_version, schema_version,
                                          queue_depth, oldest_pending_age_s, rejected, device_time, status)
  values (v_device, v_store, now(),
          case when jsonb_typeof(s -> 'app_version') = 'string' then left(s ->> 'app_version', 100) end,
          case when public.kassa_is_int(s -> 'schema_version') and abs((s ->> 'schema_version')::bigint) < 2147483647
               then (s ->> 'schema_version')::int end,
          case when public.kassa_is_int(s -> 'queue_depth') and abs((s ->> 'queue_depth')::bigint) < 2147483647
               then (s ->> 'queue_depth')::int end,
          case when public.kassa_is_int(s -> 'oldest_pending_age_s') then (s ->> 'oldest_pending_age_s')::bigint end,
          case when public.kassa_is_int(s -> 'rejected') and abs((s ->> 'rejected')::bigint) < 2147483647
               then (s ->> 'rejected')::int end,
          case when jsonb_typeof(s -> 'device_time') = 'string' then left(s ->> 'device_time', 64) end,
          case when length(s::text) <= 8192 then s else '{}'::jsonb end)
  on conflict (device_id) do update
    set store_id = excluded.store_id, last_seen_at = excluded.last_seen_at,
        app_version = excluded.app_version, schema_version = excluded.schema_version,
        queue_depth = excluded.queue_depth, oldest_pending_age_s = excluded.oldest_pending_age_s,
        rejected = excluded.rejected, device_time = excluded.device_time, status = excluded.status;
  return jsonb_build_object(
    'server_time', public.kassa_fmt_ts(clock_timestamp()),
    'min_client_schema', (select k.min_client_schema from public.kassa_settings k limit 1),
    'device_id', v_device,
    'store_id', v_store);
end
$$;

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
  -- Pushes of one store are serialised: stock arithmetic and versions stay consistent.
  perform pg_advisory_xact_lock(public.kassa_store_lock_key(v_store));
  select st.count_threshold into v_threshold from public.stores st where st.id = v_store;

  if current_setting('kassa.push_isolation', true) = 'per_op' then
    -- Benchmark/diagnostic mode: a subtransaction per op from the start.
    return public.kassa_push_batch(v_device, v_store, v_threshold, p_ops, true);
  end if;
  begin
    return public.kassa_push_batch(v_device, v_store, v_threshold, p_ops, false);
  exception when others then
    get stacked diagnostics v_state = returned_sqlstate;
    if public.kassa_is_transient(v_state) then
      raise;
    end if;
  end;
  -- An unexpected error: replay the batch with a guard per op.
  return public.kassa_push_batch(v_device, v_store, v_threshold, p_ops, true);
end
$$;

create or replace function public.kassa_pull(p_cursors jsonb default '{}'::jsonb)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_store uuid;
  c jsonb := case when jsonb_typeof(p_cursors) = 'object' then p_cursors else '{}'::jsonb end;
  v_limit bigint := 500;
  v_cat bigint;
  v_stock bigint;
  v_conf bigint;
  r_cat jsonb;
  r_stock jsonb;
  r_conf jsonb;
begin
  select cl.store_id into v_store from public.kassa_caller() cl;
  if c ? 'limit' and jsonb_typeof(c -> 'limit') <> 'null' then
    if not public.kassa_is_int(c -> 'limit') then
      raise exception using errcode = '22023', message = 'limit must be an integer';
    end if;
    v_limit := least(greatest((c ->> 'limit')::bigint, 1), 1000);
  end if;
  if (c ? 'catalog' and jsonb_typeof(c -> 'catalog') <> 'null' and not public.kassa_is_int(c -> 'catalog'))
     or (c ? 'stock' and jsonb_typeof(c -> 'stock') <> 'null' and not public.kassa_is_int(c -> 'stock'))
     or (c ? 'conflicts' and jsonb_typeof(c -> 'conflicts') <> 'null' and not public.kassa_is_int(c -> 'conflicts')) then
    raise exception using errcode = '22023', message = 'cursors must be integers (0 = from the start)';
  end if;
  v_cat := coalesce((c ->> 'catalog')::bigint, 0);
  v_stock := coalesce((c ->> 'stock')::bigint, 0);
  v_conf := coalesce((c ->> 'conflicts')::bigint, 0);

  select jsonb_build_object(
           'rows', coalesce(jsonb_agg(x.row order by x.version) filter (where x.rn <= v_limit), '[]'::jsonb),
           'cursor', coalesce(max(x.version) filter (where x.rn <= v_limit), v_cat),
           'more', count(*) > v_limit)
    into r_cat
    from (select jsonb_build_object('sku', p.sku, 'barcode', p.barcode, 'name', p.name,
                                    'price_cents', p.price_cents, 'tax_rate_bp', p.tax_rate_bp,
                                    'price_includes_tax', p.price_includes_tax,
                                    'active', p.active and p.deleted_at is null,
                                    'version', p.version) as row,
                 p.version, row_number() over (order by p.version) as rn
            from (select * from public.products p0 where p0.version > v_cat
                   order by p0.version limit v_limit + 1) p) x;

  select jsonb_build_object(
           'rows', coalesce(jsonb_agg(x.row order by x.version) filter (where x.rn <= v_limit), '[]'::jsonb),
           'cursor', coalesce(max(x.version) filter (where x.rn <= v_limit), v_stock),
           'more', count(*) > v_limit)
    into r_stock
    from (select jsonb_build_object('sku', p.sku, 'on_hand', s.on_hand, 'version', s.version) as row,
                 s.version, row_number() over (order by s.version) as rn
            from (select * from public.stock_levels s0
                   where s0.store_id = v_store and s0.version > v_stock
                   order by s0.version limit v_limit + 1) s
            join public.products p on p.id = s.product_id) x;

  select jsonb_build_object(
           'rows', coalesce(jsonb_agg(x.row order by x.version) filter (where x.rn <= v_limit), '[]'::jsonb),
           'cursor', coalesce(max(x.version) filter (where x.rn <= v_limit), v_conf),
           'more', count(*) > v_limit)
    into r_conf
    from (select jsonb_build_object('id', k.id, 'kind', k.kind, 'status', k.status, 'sku', k.sku,
                                    'sale_id', k.sale_id, 'line_no', k.line_no, 'count_id', k.count_id,
                                    'details', k.details, 'resolution', k.resolution,
                                    'created_at', public.kassa_fmt_ts(k.created_at),
                                    'resolved_at', public.kassa_fmt_ts(k.resolved_at),
                                    'version', k.version) as row,
                 k.version, row_number() over (order by k.version) as rn
            from (select * from public.conflicts k0
                   where k0.store_id = v_store and k0.version > v_conf
                   order by k0.version limit v_limit + 1) k) x;

  return jsonb_build_object('catalog', r_cat, 'stock', r_stock, 'conflicts', r_conf);
end
$$;

-- ---------------------------------------------------------------------------------------
-- Privileges: only the three RPCs are callable by devices.

do $$
declare
  f regprocedure;
begin
  for f in
    select p.oid::regprocedure from pg_proc p
     where p.pronamespace = 'public'::regnamespace and p.proname like 'kassa\_%'
  loop
    execute format('revoke all on function %s from public, anon, authenticated', f);
    execute format('grant execute on function %s to service_role', f);
  end loop;
end
$$;
grant execute on function public.kassa_heartbeat(jsonb) to authenticated;
grant execute on function public.kassa_push(jsonb) to authenticated;
grant execute on function public.kassa_pull(jsonb) to authenticated;
grant execute on function public.kassa_jwt_store_id() to authenticated;
grant execute on function public.kassa_current_store() to authenticated;
