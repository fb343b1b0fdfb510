-- kassa sync, part 2 of 4: the per-op path of kassa_push. Applying one op of each kind
-- (sale, stock count, conflict resolution), rejecting an op, and kassa_push_op, which checks an
-- op against the op log and dispatches it. Helpers: ..._kassa_sync_helpers.sql.

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

