-- kassa sync, part 1 of 4: small pure helpers, the caller's identity, stock arithmetic, the
-- canonical sale form and payload validation. Used by the push paths (..._kassa_push_per_op,
-- ..._kassa_push_fast) and the RPCs (..._kassa_rpc.sql, which also says how the pieces fit).
-- Everything in these files is internal and not executable by the API roles, except the three
-- RPCs granted at the end of ..._kassa_rpc.sql.


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

