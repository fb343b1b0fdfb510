-- kassa fleet (issue 14): the head-office view of every till, `kassa_fleet`.
--
-- One row per registered device: its last heartbeat and what the till reported in it (queue
-- depth, age of the oldest unsent op, ops it holds quarantined, catalog products it skipped),
-- and what the server knows of it (ops it rejected from that device, conflicts that device's
-- ops raised and that are still open). docs/fleet.md says how to read it.
--
-- security_invoker: the view reads its tables with the rights of whoever queries it, so the
-- tables' row level security applies: a device's token sees only its own store's devices
-- (the *_own_store policies of ..._kassa_schema.sql); the dashboard's SQL editor (postgres)
-- and the service_role key see every store. No function is called that the API roles may not
-- execute (the casts are guarded inline).

create view public.kassa_fleet
with (security_invoker = true)
as
select d.store_id,
       d.id                                         as device_id,
       d.name                                       as device_name,
       d.active,
       ds.last_seen_at                              as last_heartbeat_at,
       floor(extract(epoch from (now() - ds.last_seen_at)))::bigint as heartbeat_age_s,
       ds.app_version,
       ds.schema_version,
       ds.queue_depth,
       ds.oldest_pending_age_s,
       ds.last_seen_at - make_interval(secs => ds.oldest_pending_age_s) as oldest_pending_since,
       ds.rejected                                  as quarantined_ops,
       case when (ds.status ->> 'skipped_products') ~ '^[0-9]{1,9}$'
            then (ds.status ->> 'skipped_products')::integer end as skipped_products,
       (select count(*) from public.rejected_ops r
         where r.store_id = d.store_id and r.device_id = d.id) as rejected_on_server,
       (select count(*) from public.conflicts k
         where k.store_id = d.store_id and k.status = 'open' and k.device_id = d.id) as open_conflicts,
       ds.device_time                               as device_time_at_heartbeat
  from public.devices d
  left join public.device_status ds on ds.device_id = d.id;

comment on view public.kassa_fleet is
  'One row per till: last heartbeat, queue depth, oldest pending age, quarantined ops, '
  'skipped catalog products (as the till reported them), ops the server rejected and open '
  'conflicts raised by its ops. Row level security of the underlying tables applies.';

-- rejected_ops has an index by (store_id, received_at); the view counts per device.
create index if not exists rejected_ops_device_idx on public.rejected_ops (device_id);
create index if not exists conflicts_open_device_idx on public.conflicts (device_id) where status = 'open';

-- The default privileges of a Supabase project give new tables and views to anon too.
revoke all on table public.kassa_fleet from public, anon, authenticated;
grant select on table public.kassa_fleet to authenticated;
grant all on table public.kassa_fleet to service_role;

-- ---------------------------------------------------------------------------------------
-- Many tills of one store pushing at once: the store lock is taken later.
--
-- kassa_push used to take the store's advisory lock before anything else, so the pushes of a
-- store's tills ran one after the other, including the part that only reads the batch:
-- parsing, validating and hashing every op and looking up the device's op log (kassa_push_
-- batch_fast's classification, about a third of a push; benches/sync_drain.rs profiles it).
-- That part depends on nothing the lock protects (only the device's own op log, and a
-- concurrent push of the SAME device that recorded an op first makes the later insert of its
-- op log row fail, which kassa_push answers by replaying the batch op by op, under the lock,
-- reading the log again). So now the lock is taken where the writes begin: at the start of
-- kassa_push_fast_run and of kassa_push_op (both wrappers around the previous functions,
-- renamed *_v2 here), and before the op-by-op replay. Every write of a push, and every read
-- that decides one (last document of the device, stock levels, refunded quantities, open
-- conflicts), still happens under the store's lock; version stamps take it anyway.

alter function public.kassa_push_fast_run(uuid, uuid, jsonb, public.kassa_push_item[])
  rename to kassa_push_fast_run_v2;

create or replace function public.kassa_push_fast_run(p_device uuid, p_store uuid, p_ops jsonb,
                                                      p_items public.kassa_push_item[])
returns jsonb[]
language plpgsql
set search_path = ''
as $$
begin
  perform pg_advisory_xact_lock(public.kassa_store_lock_key(p_store));
  return public.kassa_push_fast_run_v2(p_device, p_store, p_ops, p_items);
end
$$;

alter function public.kassa_push_op(uuid, uuid, integer, jsonb, jsonb)
  rename to kassa_push_op_v2;

create or replace function public.kassa_push_op(p_device uuid, p_store uuid, p_threshold integer,
                                                p_op jsonb, p_prev jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
begin
  perform pg_advisory_xact_lock(public.kassa_store_lock_key(p_store));
  return public.kassa_push_op_v2(p_device, p_store, p_threshold, p_op, p_prev);
end
$$;

-- kassa_push as in ..._kassa_rpc.sql, without the lock at the start.
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
  select st.count_threshold into v_threshold from public.stores st where st.id = v_store;

  if current_setting('kassa.push_isolation', true) = 'per_op' then
    -- Benchmark/diagnostic mode: a subtransaction per op from the start.
    perform pg_advisory_xact_lock(public.kassa_store_lock_key(v_store));
    return public.kassa_push_batch(v_device, v_store, v_threshold, p_ops, true);
  end if;
  begin
    -- Reads and classifies the batch first; the store lock is taken where writing begins.
    return public.kassa_push_batch(v_device, v_store, v_threshold, p_ops, false);
  exception when others then
    get stacked diagnostics v_state = returned_sqlstate;
    if public.kassa_is_transient(v_state) then
      raise;
    end if;
  end;
  -- An unexpected error (or a concurrent push of this device that recorded an op first):
  -- replay the batch with a guard per op, under the store lock from the start.
  perform pg_advisory_xact_lock(public.kassa_store_lock_key(v_store));
  return public.kassa_push_batch(v_device, v_store, v_threshold, p_ops, true);
end
$$;

-- Privileges: as in ..._kassa_rpc.sql, only the RPCs are callable by devices.
do $$
declare
  f regprocedure;
begin
  for f in
    select p.oid::regprocedure from pg_proc p
     where p.pronamespace = 'public'::regnamespace
       and p.proname in ('kassa_push_fast_run', 'kassa_push_op', 'kassa_push')
  loop
    execute format('revoke all on function %s from public, anon, authenticated', f);
    execute format('grant execute on function %s to service_role', f);
  end loop;
end
$$;
grant execute on function public.kassa_push(jsonb) to authenticated;
