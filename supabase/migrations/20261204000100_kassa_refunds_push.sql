-- kassa returns and voids (issue 10), part 2 of 2: the kinds `refund` and `void_sale` in
-- kassa_push, over_refund and its resolutions, the one document chain, kassa_sale_lookup.
-- (docs/protocol.md; tables in ..._kassa_refunds.sql.)
--
-- How this extends the earlier functions without copying them:
--   kassa_push_op          redefined: the dispatcher, with the two new kinds.
--   kassa_apply_sale       the old one is kassa_apply_sale_v1 now, which chains a sale to the
--                          device's previous SALE; the new one calls it and then corrects
--                          chain_ok when the previous document is a refund or a void.
--   kassa_push_fast_run    the old one is kassa_push_fast_run_v1; the new one declines a run
--                          (null: the run goes the per-op way) when the device's last document
--                          before it is a refund or void, or one has a seq at or above the
--                          run's, so that v1's "previous sale" is always the previous document.
--                          Refunds and voids themselves always go the per-op way (v1 takes
--                          only new sales and replays); their replays are kind-agnostic.
--   kassa_apply_resolution the old one is kassa_apply_resolution_v1; the new one resolves
--                          over_refund conflicts and hands every other kind to v1 (then, when
--                          a `map` gave a line of a voided sale its product, the void takes
--                          that product back too).

-- ---------------------------------------------------------------------------------------
-- The document chain

-- The hash of the device's document (sale, refund or void) with the greatest seq below p_seq,
-- or 64 zeros. (plpgsql: its plans are cached across calls.)
create or replace function public.kassa_prev_doc_hash(p_device uuid, p_seq bigint) returns text
language plpgsql stable
set search_path = ''
as $$
declare
  v text;
begin
  select x.hash into v
    from ((select s.seq, 0 as k, s.hash from public.sales s
            where s.device_id = p_device and s.seq < p_seq order by s.seq desc limit 1)
          union all
          (select r.seq, 1, r.hash from public.refunds r
            where r.device_id = p_device and r.seq < p_seq order by r.seq desc limit 1)
          union all
          (select v.seq, 2, v.hash from public.sale_voids v
            where v.device_id = p_device and v.seq < p_seq order by v.seq desc limit 1)) x
   order by x.seq desc, x.k desc
   limit 1;
  return coalesce(v, repeat('0', 64));
end
$$;

alter function public.kassa_apply_sale(uuid, uuid, uuid, bigint, bigint, jsonb)
  rename to kassa_apply_sale_v1;

create or replace function public.kassa_apply_sale(p_device uuid, p_store uuid, p_op_id uuid,
                                                   p_seq bigint, p_skew bigint, p jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  r jsonb;
  v_prev text;
begin
  r := public.kassa_apply_sale_v1(p_device, p_store, p_op_id, p_seq, p_skew, p);
  if r ->> 'status' = 'applied' then
    v_prev := public.kassa_prev_doc_hash(p_device, p_seq);
    update public.sales s set chain_ok = (s.prev_hash = v_prev)
     where s.id = (p ->> 'sale_id')::uuid and s.chain_ok is distinct from (s.prev_hash = v_prev);
  end if;
  return r;
end
$$;

alter function public.kassa_push_fast_run(uuid, uuid, jsonb, public.kassa_push_item[])
  rename to kassa_push_fast_run_v1;

create or replace function public.kassa_push_fast_run(p_device uuid, p_store uuid, p_ops jsonb,
                                                      p_items public.kassa_push_item[])
returns jsonb[]
language plpgsql
set search_path = ''
as $$
declare
  v_first bigint;
  v_doc bigint;
  v_sale bigint;
begin
  select min(x.seq) into v_first from unnest(p_items) x where x.is_new;
  if v_first is not null then
    select greatest((select max(r.seq) from public.refunds r where r.device_id = p_device),
                    (select max(v.seq) from public.sale_voids v where v.device_id = p_device))
      into v_doc;
    if v_doc is not null then
      select max(s.seq) into v_sale from public.sales s where s.device_id = p_device;
      if v_doc >= v_first or v_sale is null or v_doc >= v_sale then
        return null;
      end if;
    end if;
  end if;
  return public.kassa_push_fast_run_v1(p_device, p_store, p_ops, p_items);
end
$$;

-- ---------------------------------------------------------------------------------------
-- Shared by refunds and voids

-- The fields a refund and a void have in common, then their tenders (money given back: cash or
-- card, amounts >= 0): null when well-formed, else the reason.
create or replace function public.kassa_validate_payback(p jsonb) returns text
language plpgsql stable
set search_path = ''
as $$
declare
  v_msg text;
begin
  if coalesce(jsonb_typeof(p -> 'reason'), 'null') not in ('string', 'null') then return 'reason must be a string'; end if;
  if coalesce(jsonb_typeof(p -> 'approved_by'), 'null') not in ('string', 'null') then return 'approved_by must be a string'; end if;
  if coalesce(p ->> 'prev_hash', '') !~ '^[0-9a-f]{64}$' then return 'prev_hash must be 64 lowercase hex digits'; end if;
  if coalesce(p ->> 'hash', '') !~ '^[0-9a-f]{64}$' then return 'hash must be 64 lowercase hex digits'; end if;
  if jsonb_typeof(p -> 'tenders') is distinct from 'array' then return 'tenders must be an array'; end if;
  select format('tender %s: %s', i, m) into v_msg
  from (
    select i, case
      when jsonb_typeof(t) <> 'object' then 'must be an object'
      when coalesce(t ->> 'kind', '') not in ('cash', 'card') then 'kind must be cash or card'
      when not public.kassa_is_int(t -> 'amount_cents') or (t ->> 'amount_cents')::bigint < 0 then
        'amount_cents must be an integer >= 0'
    end as m
    from jsonb_array_elements(p -> 'tenders') with ordinality as x(t, i)
  ) v
  where m is not null
  order by i
  limit 1;
  return v_msg;
end
$$;

-- What the refunds of a store took back from a sale line (a void takes the rest: see callers).
-- SQL without `set`, so that it is inlined.
create or replace function public.kassa_refunded_qty(p_store uuid, p_sale uuid, p_line integer)
returns bigint
language sql stable
as $$
  select coalesce(sum(o.qty), 0)::bigint from public.refund_lines o
   where o.original_sale_id = p_sale and o.original_line_no = p_line and o.store_id = p_store
$$;

-- Adds a document's stock movements to the levels: per product the net delta, unless the
-- document is at or before the product's baseline (a count at or after it already saw it).
create or replace function public.kassa_add_to_levels(p_store uuid, p_event timestamptz,
                                                      p_products uuid[], p_deltas bigint[])
returns void
language plpgsql
set search_path = ''
as $$
begin
  insert into public.stock_levels as s (store_id, product_id, on_hand)
  select p_store, x.product_id, sum(x.delta)
    from unnest(p_products, p_deltas) as x(product_id, delta)
   group by x.product_id
  having sum(x.delta) <> 0
   order by x.product_id
  on conflict (store_id, product_id) do update
    set on_hand = s.on_hand + excluded.on_hand
    where s.baseline_at is null or s.baseline_at < p_event;
end
$$;

-- ---------------------------------------------------------------------------------------
-- Refunds: validation, canonical form, apply

-- Returns null when the refund payload is well-formed, else the reason.
create or replace function public.kassa_validate_refund(p jsonb) returns text
language plpgsql stable
set search_path = ''
as $$
declare
  v_blind boolean;
  v_msg text;
begin
  if not public.kassa_is_uuid(p ->> 'refund_id') then return 'refund_id must be a uuid'; end if;
  if jsonb_typeof(p -> 'created_at') is distinct from 'string' or public.kassa_ts(p ->> 'created_at') is null then
    return 'created_at must be an RFC 3339 timestamp';
  end if;
  if coalesce(p ->> 'currency', '') !~ '^[A-Z]{3}$' then return 'currency must be an ISO 4217 code'; end if;
  if coalesce(jsonb_typeof(p -> 'original_sale_id'), 'null') <> 'null'
     and (jsonb_typeof(p -> 'original_sale_id') <> 'string' or not public.kassa_is_uuid(p ->> 'original_sale_id')) then
    return 'original_sale_id must be a uuid or null';
  end if;
  v_blind := coalesce(jsonb_typeof(p -> 'original_sale_id'), 'null') = 'null';
  v_msg := public.kassa_validate_payback(p);
  if v_msg is not null then return v_msg; end if;
  if v_blind and coalesce(p ->> 'reason', '') = '' then
    return 'a refund without a receipt needs a reason';
  end if;
  if not public.kassa_is_int(p -> 'total_cents') or (p ->> 'total_cents')::bigint < 0 then
    return 'total_cents must be an integer >= 0';
  end if;
  if not public.kassa_is_int(p -> 'tax_cents') or (p ->> 'tax_cents')::bigint < 0 then
    return 'tax_cents must be an integer >= 0';
  end if;
  if coalesce(jsonb_typeof(p -> 'rounding_cents'), 'null') <> 'null' and not public.kassa_is_int(p -> 'rounding_cents') then
    return 'rounding_cents must be an integer';
  end if;
  if jsonb_typeof(p -> 'lines') is distinct from 'array' or jsonb_array_length(p -> 'lines') = 0 then
    return 'lines must be a non-empty array';
  end if;
  if jsonb_array_length(p -> 'lines') > 1000 then return 'a refund has at most 1000 lines'; end if;

  select format('line %s: %s', i, m) into v_msg
  from (
    select i, case
      when jsonb_typeof(l) <> 'object' then 'must be an object'
      when not public.kassa_is_int(l -> 'line_no') or (l ->> 'line_no')::bigint not between 1 and 1000000 then
        'line_no must be an integer in 1..1000000'
      when v_blind and coalesce(jsonb_typeof(l -> 'original_line_no'), 'null') <> 'null' then
        'original_line_no must be null in a refund without a receipt'
      when not v_blind and (not public.kassa_is_int(l -> 'original_line_no')
                            or (l ->> 'original_line_no')::bigint not between 1 and 1000000) then
        'original_line_no must be an integer in 1..1000000'
      when jsonb_typeof(l -> 'sku') is distinct from 'string' or l ->> 'sku' = '' then 'sku must be a non-empty string'
      when coalesce(jsonb_typeof(l -> 'name'), 'null') not in ('string', 'null') then 'name must be a string'
      when not public.kassa_is_int(l -> 'qty') then 'qty must be an integer'
      when (l ->> 'qty')::bigint <= 0 then 'qty must be > 0'
      when not public.kassa_is_int(l -> 'amount_cents') or (l ->> 'amount_cents')::bigint < 0 then
        'amount_cents must be an integer >= 0'
      when not public.kassa_is_int(l -> 'tax_rate_bp') or (l ->> 'tax_rate_bp')::bigint not between 0 and 10000 then
        'tax_rate_bp must be an integer in 0..10000'
      when not public.kassa_is_int(l -> 'tax_cents') or (l ->> 'tax_cents')::bigint < 0 then
        'tax_cents must be an integer >= 0'
      when coalesce(jsonb_typeof(l -> 'restock'), 'null') not in ('boolean', 'null') then 'restock must be a boolean'
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
  select format('original line %s is refunded twice in this refund', n) into v_msg
  from (select (l ->> 'original_line_no')::bigint as n from jsonb_array_elements(p -> 'lines') l) x
  where n is not null
  group by n having count(*) > 1
  limit 1;
  if v_msg is not null then return v_msg; end if;

  if (p ->> 'total_cents')::bigint <> (select sum((l ->> 'amount_cents')::bigint) from jsonb_array_elements(p -> 'lines') l) then
    return 'total_cents is not the sum of the lines'' amount_cents';
  end if;
  if (p ->> 'tax_cents')::bigint <> (select sum((l ->> 'tax_cents')::bigint) from jsonb_array_elements(p -> 'lines') l) then
    return 'tax_cents is not the sum of the lines'' tax_cents';
  end if;
  if (p ->> 'total_cents')::bigint + coalesce((p ->> 'rounding_cents')::bigint, 0)
     <> coalesce((select sum((t ->> 'amount_cents')::bigint) from jsonb_array_elements(p -> 'tenders') t), 0) then
    return 'the tenders do not add up to total_cents + rounding_cents';
  end if;
  return null;
end
$$;

create or replace function public.kassa_refund_canonical(p jsonb) returns text
language plpgsql immutable
as $$
begin
  return concat_ws(E'\n',
    format('kassa-refund-v1|%s|%s|%s|%s|%s|%s|%s',
           p ->> 'refund_id', p ->> 'created_at', p ->> 'currency',
           coalesce(p ->> 'original_sale_id', ''),
           (p ->> 'total_cents')::bigint, (p ->> 'tax_cents')::bigint,
           coalesce((p ->> 'rounding_cents')::bigint, 0)),
    (select string_agg(format('R|%s|%s|%s|%s|%s|%s|%s|%s',
                              (l ->> 'line_no')::bigint, coalesce(l ->> 'original_line_no', ''),
                              l ->> 'sku', (l ->> 'qty')::bigint, (l ->> 'amount_cents')::bigint,
                              (l ->> 'tax_rate_bp')::bigint, (l ->> 'tax_cents')::bigint,
                              case when coalesce((l ->> 'restock')::boolean, true) then 1 else 0 end),
                       E'\n' order by (l ->> 'line_no')::bigint)
       from jsonb_array_elements(p -> 'lines') l),
    (select string_agg(format('T|%s|%s|0', t ->> 'kind', (t ->> 'amount_cents')::bigint),
                       E'\n' order by i)
       from jsonb_array_elements(p -> 'tenders') with ordinality as x(t, i)));
end
$$;

create or replace function public.kassa_apply_refund(p_device uuid, p_store uuid, p_op_id uuid,
                                                     p_seq bigint, p_skew bigint, p jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_err text;
  v_hash text;
  v_refund uuid;
  v_orig uuid;
  v_event timestamptz;
  v_voided boolean;
  v_done text;
begin
  v_err := public.kassa_validate_refund(p);
  if v_err is not null then
    return jsonb_build_object('status', 'rejected', 'code', 'invalid_payload', 'message', v_err);
  end if;
  v_hash := encode(sha256(convert_to((p ->> 'prev_hash') || E'\n' || public.kassa_refund_canonical(p), 'UTF8')), 'hex');
  if v_hash <> p ->> 'hash' then
    return jsonb_build_object('status', 'rejected', 'code', 'bad_hash',
      'message', 'hash does not match the canonical form of the refund');
  end if;
  v_refund := (p ->> 'refund_id')::uuid;
  v_orig := (p ->> 'original_sale_id')::uuid;
  v_event := public.kassa_ts(p ->> 'created_at') + p_skew::double precision * interval '1 millisecond';

  insert into public.refunds (id, store_id, device_id, op_id, seq, original_sale_id, created_at, skew_ms,
                              event_time, currency, reason, approved_by, total_cents, tax_cents,
                              rounding_cents, prev_hash, hash, chain_ok)
  values (v_refund, p_store, p_device, p_op_id, p_seq, v_orig, p ->> 'created_at', p_skew, v_event,
          p ->> 'currency', coalesce(p ->> 'reason', ''), p ->> 'approved_by',
          (p ->> 'total_cents')::bigint, (p ->> 'tax_cents')::bigint,
          coalesce((p ->> 'rounding_cents')::bigint, 0), p ->> 'prev_hash', v_hash,
          (p ->> 'prev_hash') = public.kassa_prev_doc_hash(p_device, p_seq))
  on conflict (id) do nothing;
  if not found then
    return jsonb_build_object('status', 'rejected', 'code', 'invalid_payload',
      'message', format('refund %s was already recorded by another op', v_refund));
  end if;

  insert into public.refund_lines (refund_id, line_no, store_id, original_sale_id, original_line_no,
                                   product_id, sku, name, qty, amount_cents, tax_rate_bp, tax_cents, restock)
  select v_refund, (l ->> 'line_no')::int, p_store, v_orig, (l ->> 'original_line_no')::int, pr.id,
         l ->> 'sku', coalesce(l ->> 'name', ''), (l ->> 'qty')::bigint, (l ->> 'amount_cents')::bigint,
         (l ->> 'tax_rate_bp')::int, (l ->> 'tax_cents')::bigint, coalesce((l ->> 'restock')::boolean, true)
  from jsonb_array_elements(p -> 'lines') l
  left join public.products pr on pr.sku = l ->> 'sku' and pr.active and pr.deleted_at is null;

  insert into public.refund_tenders (refund_id, idx, store_id, kind, amount_cents)
  select v_refund, i::int, p_store, t ->> 'kind', (t ->> 'amount_cents')::bigint
  from jsonb_array_elements(p -> 'tenders') with ordinality as x(t, i);

  -- The goods come back (+qty, `refund`); a damaged one is written off at the same moment
  -- (-qty, `write_off`). Unknown skus move nothing.
  with moved as (
    insert into public.stock_movements (store_id, product_id, delta, reason, op_id, device_id, refund_id,
                                        line_no, device_time, skew_ms, event_time)
    select p_store, l.product_id, m.delta, m.reason, p_op_id, p_device, v_refund, l.line_no,
           p ->> 'created_at', p_skew, v_event
    from public.refund_lines l
    cross join lateral (values (l.qty, 'refund', 0), (-l.qty, 'write_off', 1)) as m(delta, reason, ord)
    where l.refund_id = v_refund and l.product_id is not null and (m.reason = 'refund' or not l.restock)
    order by l.line_no, m.ord
    returning product_id, delta
  )
  select public.kassa_add_to_levels(p_store, v_event, array_agg(moved.product_id), array_agg(moved.delta))
    into v_done from moved;

  -- over_refund: per original line, everything refunded (all refunds of the store, this one
  -- included, and the whole line if the sale is voided) against what was sold.
  if v_orig is not null then
    v_voided := exists (select 1 from public.sale_voids v where v.sale_id = v_orig and v.store_id = p_store);
    insert into public.conflicts (store_id, kind, product_id, sku, sale_id, line_no, device_id, op_id, details)
    select p_store, 'over_refund', x.product_id, x.sku, v_orig, x.original_line_no, p_device, p_op_id,
           jsonb_build_object('refund_id', v_refund, 'sold_qty', x.sold, 'refunded_qty', x.refunded,
                              'this_refund_qty', x.qty, 'excess_qty', least(x.qty, x.refunded - x.sold),
                              'amount_cents', x.amount_cents)
    from (
      select l.line_no, l.original_line_no, l.product_id, l.sku, l.qty, l.amount_cents,
             coalesce(sl.qty, 0) as sold,
             public.kassa_refunded_qty(p_store, v_orig, l.original_line_no)
             + case when v_voided then coalesce(sl.qty, 0) else 0 end as refunded
      from public.refund_lines l
      left join public.sale_lines sl on sl.sale_id = v_orig and sl.line_no = l.original_line_no
                                    and sl.store_id = p_store
      where l.refund_id = v_refund
    ) x
    where x.refunded > x.sold
    order by x.line_no;
  end if;
  return '{"status":"applied"}'::jsonb;
end
$$;

-- ---------------------------------------------------------------------------------------
-- Voids

create or replace function public.kassa_validate_void(p jsonb) returns text
language plpgsql stable
set search_path = ''
as $$
declare
  v_msg text;
begin
  if not public.kassa_is_uuid(p ->> 'void_id') then return 'void_id must be a uuid'; end if;
  if jsonb_typeof(p -> 'sale_id') is distinct from 'string' or not public.kassa_is_uuid(p ->> 'sale_id') then
    return 'sale_id must be a uuid';
  end if;
  if jsonb_typeof(p -> 'created_at') is distinct from 'string' or public.kassa_ts(p ->> 'created_at') is null then
    return 'created_at must be an RFC 3339 timestamp';
  end if;
  if not public.kassa_is_int(p -> 'total_cents') then return 'total_cents must be an integer'; end if;
  v_msg := public.kassa_validate_payback(p);
  if v_msg is not null then return v_msg; end if;
  if (p ->> 'total_cents')::bigint
     <> coalesce((select sum((t ->> 'amount_cents')::bigint) from jsonb_array_elements(p -> 'tenders') t), 0) then
    return 'the tenders do not add up to total_cents';
  end if;
  return null;
end
$$;

create or replace function public.kassa_void_canonical(p jsonb) returns text
language plpgsql immutable
as $$
begin
  return concat_ws(E'\n',
    format('kassa-void-v1|%s|%s|%s|%s', p ->> 'void_id', p ->> 'created_at', p ->> 'sale_id',
           (p ->> 'total_cents')::bigint),
    (select string_agg(format('T|%s|%s|0', t ->> 'kind', (t ->> 'amount_cents')::bigint),
                       E'\n' order by i)
       from jsonb_array_elements(p -> 'tenders') with ordinality as x(t, i)));
end
$$;

create or replace function public.kassa_apply_void(p_device uuid, p_store uuid, p_op_id uuid,
                                                   p_seq bigint, p_skew bigint, p jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_err text;
  v_hash text;
  v_void uuid;
  v_sale public.sales%rowtype;
  v_other uuid;
  v_event timestamptz;
  v_done text;
begin
  v_err := public.kassa_validate_void(p);
  if v_err is not null then
    return jsonb_build_object('status', 'rejected', 'code', 'invalid_payload', 'message', v_err);
  end if;
  v_hash := encode(sha256(convert_to((p ->> 'prev_hash') || E'\n' || public.kassa_void_canonical(p), 'UTF8')), 'hex');
  if v_hash <> p ->> 'hash' then
    return jsonb_build_object('status', 'rejected', 'code', 'bad_hash',
      'message', 'hash does not match the canonical form of the void');
  end if;
  v_void := (p ->> 'void_id')::uuid;
  select * into v_sale from public.sales s
   where s.id = (p ->> 'sale_id')::uuid and s.device_id = p_device and s.store_id = p_store;
  if not found then
    return jsonb_build_object('status', 'rejected', 'code', 'invalid_payload',
      'message', format('sale %s is not a sale of this till', (p ->> 'sale_id')::uuid));
  end if;
  if exists (select 1 from public.sale_voids v where v.id = v_void) then
    return jsonb_build_object('status', 'rejected', 'code', 'invalid_payload',
      'message', format('void %s was already recorded by another op', v_void));
  end if;
  select v.id into v_other from public.sale_voids v where v.sale_id = v_sale.id;
  if v_other is not null then
    return jsonb_build_object('status', 'rejected', 'code', 'invalid_payload',
      'message', format('sale %s is already voided (void %s)', v_sale.id, v_other));
  end if;
  if (p ->> 'total_cents')::bigint <> v_sale.total_cents + v_sale.rounding_cents then
    return jsonb_build_object('status', 'rejected', 'code', 'invalid_payload',
      'message', format('total_cents %s is not what sale %s took (%s)', (p ->> 'total_cents')::bigint,
                        v_sale.id, v_sale.total_cents + v_sale.rounding_cents));
  end if;
  v_event := public.kassa_ts(p ->> 'created_at') + p_skew::double precision * interval '1 millisecond';

  insert into public.sale_voids (id, store_id, device_id, op_id, seq, sale_id, created_at, skew_ms,
                                 event_time, reason, approved_by, total_cents, prev_hash, hash, chain_ok)
  values (v_void, p_store, p_device, p_op_id, p_seq, v_sale.id, p ->> 'created_at', p_skew, v_event,
          coalesce(p ->> 'reason', ''), p ->> 'approved_by', (p ->> 'total_cents')::bigint,
          p ->> 'prev_hash', v_hash, (p ->> 'prev_hash') = public.kassa_prev_doc_hash(p_device, p_seq));
  insert into public.sale_void_tenders (void_id, idx, store_id, kind, amount_cents)
  select v_void, i::int, p_store, t ->> 'kind', (t ->> 'amount_cents')::bigint
  from jsonb_array_elements(p -> 'tenders') with ordinality as x(t, i);

  -- Every stock line goes back, at the void's moment (a line mapped from an unknown sku by
  -- its resolution goes back as the mapped product).
  with moved as (
    insert into public.stock_movements (store_id, product_id, delta, reason, op_id, device_id, sale_id,
                                        line_no, void_id, device_time, skew_ms, event_time)
    select p_store, coalesce(l.mapped_product_id, l.product_id), l.qty, 'void', p_op_id, p_device,
           v_sale.id, l.line_no, v_void, p ->> 'created_at', p_skew, v_event
    from public.sale_lines l
    where l.sale_id = v_sale.id and coalesce(l.mapped_product_id, l.product_id) is not null
    order by l.line_no
    returning product_id, delta
  )
  select public.kassa_add_to_levels(p_store, v_event, array_agg(moved.product_id), array_agg(moved.delta))
    into v_done from moved;

  -- The void takes back every line in full: a line that refunds already took from is over.
  insert into public.conflicts (store_id, kind, product_id, sku, sale_id, line_no, device_id, op_id, details)
  select p_store, 'over_refund', coalesce(x.mapped_product_id, x.product_id), x.sku, v_sale.id, x.line_no,
         p_device, p_op_id,
         jsonb_build_object('refund_id', null, 'void_id', v_void, 'sold_qty', x.qty,
                            'refunded_qty', x.refunded + x.qty, 'this_refund_qty', x.qty,
                            'excess_qty', least(x.qty, x.refunded), 'amount_cents', x.line_total_cents)
  from (
    select l.*, public.kassa_refunded_qty(p_store, v_sale.id, l.line_no) as refunded
    from public.sale_lines l
    where l.sale_id = v_sale.id
  ) x
  where x.refunded > 0
  order by x.line_no;
  return '{"status":"applied"}'::jsonb;
end
$$;

-- ---------------------------------------------------------------------------------------
-- over_refund resolutions; every other kind goes to the earlier function.

alter function public.kassa_apply_resolution(uuid, uuid, uuid, timestamptz, jsonb)
  rename to kassa_apply_resolution_v1;

create or replace function public.kassa_apply_resolution(p_device uuid, p_store uuid, p_op_id uuid,
                                                         p_at timestamptz, p jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  c public.conflicts%rowtype;
  v_action text := p ->> 'action';
  v_excess bigint;
  v_this bigint;
  r jsonb;
  v_void public.sale_voids%rowtype;
  v_line public.sale_lines%rowtype;
begin
  if public.kassa_is_uuid(p ->> 'conflict_id') then
    select * into c from public.conflicts x
     where x.id = (p ->> 'conflict_id')::uuid and x.store_id = p_store
     for update;
  end if;
  if c.id is null or c.kind <> 'over_refund' then
    r := public.kassa_apply_resolution_v1(p_device, p_store, p_op_id, p_at, p);
    if c.kind = 'unknown_product' and v_action = 'map' and c.status = 'open'
       and r ->> 'status' = 'applied' then
      select * into v_void from public.sale_voids v where v.sale_id = c.sale_id;
      if found then
        select * into v_line from public.sale_lines l where l.sale_id = c.sale_id and l.line_no = c.line_no;
        insert into public.stock_movements (store_id, product_id, delta, reason, op_id, device_id, sale_id,
                                            line_no, void_id, conflict_id, event_time)
        values (p_store, v_line.mapped_product_id, v_line.qty, 'void', p_op_id, p_device, c.sale_id,
                c.line_no, v_void.id, c.id, v_void.event_time);
        perform public.kassa_recompute_level(p_store, v_line.mapped_product_id);
      end if;
    end if;
    return r;
  end if;
  -- The checks of kassa_apply_resolution_v1, in its order.
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
  if v_action not in ('accept_loss', 'follow_up') then
    return jsonb_build_object('status', 'rejected', 'code', 'invalid_resolution',
      'message', format('%s is not a resolution of a %s conflict', v_action, c.kind));
  end if;

  -- First resolution wins.
  if c.status = 'resolved' then
    return '{"status":"applied","note":"already_resolved"}'::jsonb;
  end if;

  if v_action = 'accept_loss' then
    v_excess := (c.details ->> 'excess_qty')::bigint;
    v_this := (c.details ->> 'this_refund_qty')::bigint;
    insert into public.refund_losses (store_id, conflict_id, sale_id, line_no, refund_id, void_id,
                                      product_id, excess_qty, loss_cents)
    values (p_store, c.id, c.sale_id, c.line_no, (c.details ->> 'refund_id')::uuid,
            (c.details ->> 'void_id')::uuid, c.product_id, v_excess,
            (c.details ->> 'amount_cents')::bigint * v_excess / greatest(v_this, 1));
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
-- kassa_push_op with the kinds refund and void_sale (otherwise as in ..._kassa_push_per_op.sql)

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
  if v_kind not in ('sale', 'stock_count', 'resolve_conflict', 'refund', 'void_sale') then
    return public.kassa_reject_op(p_device, p_store, p_op, 'unknown_kind',
      format('unknown op kind %s', left(v_kind, 100)), true);
  end if;
  if jsonb_typeof(v_payload) is distinct from 'object' then
    return public.kassa_reject_op(p_device, p_store, p_op, 'invalid_payload', 'payload must be an object', true);
  end if;

  r := case v_kind
    when 'sale' then public.kassa_apply_sale(p_device, p_store, v_op_id, v_seq, v_skew, v_payload)
    when 'refund' then public.kassa_apply_refund(p_device, p_store, v_op_id, v_seq, v_skew, v_payload)
    when 'void_sale' then public.kassa_apply_void(p_device, p_store, v_op_id, v_seq, v_skew, v_payload)
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

-- ---------------------------------------------------------------------------------------
-- kassa_sale_lookup: a sale of any till of the caller's store, with what was taken back.

create or replace function public.kassa_sale_lookup(p_sale_id text)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_store uuid;
  v_id uuid;
  v_voided boolean;
  r jsonb;
begin
  select cl.store_id into v_store from public.kassa_caller() cl;
  if p_sale_id is null
     or not (public.kassa_is_uuid(p_sale_id) or p_sale_id ~* '^[0-9a-f]{32}$') then
    raise exception using errcode = '22023', message = 'p_sale_id must be a sale id (a uuid)';
  end if;
  v_id := p_sale_id::uuid;
  v_voided := exists (select 1 from public.sale_voids v where v.sale_id = v_id and v.store_id = v_store);
  select jsonb_build_object(
           'sale_id', s.id, 'device_id', s.device_id, 'seq', s.seq, 'created_at', s.created_at,
           'currency', s.currency, 'total_cents', s.total_cents, 'tax_cents', s.tax_cents,
           'rounding_cents', s.rounding_cents, 'voided', v_voided,
           'lines', coalesce((
             select jsonb_agg(jsonb_build_object(
                      'line_no', l.line_no, 'sku', l.sku, 'name', l.name, 'qty', l.qty,
                      'unit_price_cents', l.unit_price_cents, 'discount_cents', l.discount_cents,
                      'price_overridden', l.price_overridden, 'tax_rate_bp', l.tax_rate_bp,
                      'price_includes_tax', l.price_includes_tax,
                      'line_total_cents', l.line_total_cents, 'tax_cents', l.tax_cents,
                      'refunded_qty',
                        public.kassa_refunded_qty(v_store, s.id, l.line_no)
                        + case when v_voided then l.qty else 0 end)
                    order by l.line_no)
               from public.sale_lines l where l.sale_id = s.id), '[]'::jsonb),
           'tenders', coalesce((
             select jsonb_agg(jsonb_build_object('kind', t.kind, 'amount_cents', t.amount_cents,
                                                 'change_cents', t.change_cents) order by t.idx)
               from public.sale_tenders t where t.sale_id = s.id), '[]'::jsonb))
    into r
    from public.sales s
   where s.id = v_id and s.store_id = v_store;
  return coalesce(r, 'null'::jsonb);
end
$$;

-- ---------------------------------------------------------------------------------------
-- Privileges: as in ..._kassa_rpc.sql, only the RPCs are callable by devices.

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
grant execute on function public.kassa_sale_lookup(text) to authenticated;
grant execute on function public.kassa_jwt_store_id() to authenticated;
grant execute on function public.kassa_current_store() to authenticated;
