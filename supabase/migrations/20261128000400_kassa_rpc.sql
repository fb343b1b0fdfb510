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
--
-- This file, part 4 of 4: the RPCs and the privileges. The pieces they use are in
-- ..._kassa_sync_helpers.sql, ..._kassa_push_per_op.sql and ..._kassa_push_fast.sql.

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
