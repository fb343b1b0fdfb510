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
