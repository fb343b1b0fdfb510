-- kassa cashiers, shifts and cash management (issue 11), part 1 of 2: tables, columns, RLS,
-- and the head-office view of over/short. (docs/protocol.md: "Who rang it up", kinds
-- `shift_open`, `cash_movement`, `shift_close`, the `staff` section of kassa_pull; the next
-- migration applies them in kassa_push and kassa_pull.)
--
-- What a store owner sees (service_role, or the Supabase table editor):
--   staff             the store's staff: name, role, Argon2id PIN hash (a PHC string, never a
--                     PIN), active. Head office writes it; tills pull it.
--   shifts            one row per shift: who opened it with which float, who closed it with
--                     what counted, the till's expected and over/short, and the server's own
--                     expected from the documents it holds (server_expected_cents)
--   cash_movements    paid-in / paid-out / no-sale drawer openings of a shift, with a reason
--   sales, refunds, sale_voids  now say who (staff_id, operator), who approved (approved_by)
--                     and in which shift (shift_id); staff_ok / shift_ok false when the id is
--                     not a staff member of the store / a shift of the till (never rejected)
--   kassa_shift_report          over/short per cashier and shift (RLS: the caller's store)

-- ---------------------------------------------------------------------------------------
-- Staff

create table public.staff (
  id         uuid primary key default gen_random_uuid(),
  store_id   uuid not null references public.stores (id),
  name       text not null check (name <> ''),
  role       text not null check (role in ('cashier', 'manager', 'technician')),
  -- An Argon2id PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash), never a PIN.
  pin_hash   text not null check (pin_hash like '$argon2id$v=19$%'),
  active     boolean not null default true,
  created_at timestamptz not null default now(),
  version    bigint not null default 0
);
create index staff_version_idx on public.staff (store_id, version);

-- A version from the server-wide sequence under the store's lock, like stock levels and
-- conflicts: the pull's keyset never skips a row committed out of order.
create trigger staff_version before insert or update on public.staff
  for each row execute function public.kassa_tg_store_version();

-- ---------------------------------------------------------------------------------------
-- Shifts: opened by shift_open, completed by shift_close (a close that arrives for an unknown
-- shift creates the row; its open fields stay null until the open arrives).

create table public.shifts (
  id                    uuid primary key,
  store_id              uuid not null references public.stores (id),
  device_id             uuid not null references public.devices (id), -- the till of the shift
  received_at           timestamptz not null default now(),
  -- shift_open
  open_op_id            uuid,
  open_seq              bigint,
  opened_by             text,        -- staff_id as sent
  opened_at             text,        -- the till's clock, exactly as sent (hashed)
  open_event_time       timestamptz,
  float_cents           bigint,
  open_denominations    jsonb,
  open_approved_by      text,
  open_operator         text,
  open_staff_ok         boolean,
  open_prev_hash        text,
  open_hash             text,
  open_chain_ok         boolean,
  -- shift_close
  close_device_id       uuid references public.devices (id),
  close_op_id           uuid,
  close_seq             bigint,
  closed_by             text,
  closed_at             text,
  close_event_time      timestamptz,
  counted_cents         bigint,
  close_denominations   jsonb,
  expected_cents        bigint,      -- the till's figure
  over_short_cents      bigint,      -- the till's figure: counted - expected
  close_approved_by     text,
  close_operator        text,
  close_staff_ok        boolean,
  close_prev_hash       text,
  close_hash            text,
  close_chain_ok        boolean,
  -- float + cash sales net of change - cash refunds - cash voids + paid-in - paid-out of the
  -- documents of this shift the server holds (recomputed whenever one of them arrives)
  server_expected_cents bigint not null default 0,
  status                text generated always as
                          (case when close_op_id is null then 'open' else 'closed' end) stored
);
create index shifts_store_idx on public.shifts (store_id, open_event_time);
create index shifts_open_seq_idx on public.shifts (device_id, open_seq);
create index shifts_close_seq_idx on public.shifts (close_device_id, close_seq);

create table public.cash_movements (
  id           uuid primary key,      -- movement_id
  store_id     uuid not null references public.stores (id),
  device_id    uuid not null references public.devices (id),
  op_id        uuid not null,
  seq          bigint not null,
  shift_id     text,                  -- as sent (lowercase)
  kind         text not null check (kind in ('paid_in', 'paid_out', 'no_sale')),
  amount_cents bigint not null check (amount_cents >= 0),
  reason       text not null default '',
  created_at   text not null,
  skew_ms      bigint not null default 0,
  event_time   timestamptz not null,
  received_at  timestamptz not null default now(),
  staff_id     text,
  approved_by  text,
  operator     text,
  staff_ok     boolean not null default true,
  shift_ok     boolean not null default true,
  prev_hash    text not null,
  hash         text not null,
  chain_ok     boolean not null
);
create index cash_movements_shift_idx on public.cash_movements (shift_id) where shift_id is not null;
create index cash_movements_device_seq_idx on public.cash_movements (device_id, seq);
create index cash_movements_store_idx on public.cash_movements (store_id, event_time);

-- ---------------------------------------------------------------------------------------
-- Who rang it up, on every document. Ids are recorded as sent (uuids lowercased); staff_ok /
-- shift_ok are true when there is nothing to check.

alter table public.sales add column staff_id text;
alter table public.sales add column approved_by text;
alter table public.sales add column shift_id text;
alter table public.sales add column operator text;
alter table public.sales add column staff_ok boolean not null default true;
alter table public.sales add column shift_ok boolean not null default true;
create index sales_shift_idx on public.sales (shift_id) where shift_id is not null;

-- refunds and sale_voids have had approved_by (text) since issue 10.
alter table public.refunds add column staff_id text;
alter table public.refunds add column shift_id text;
alter table public.refunds add column operator text;
alter table public.refunds add column staff_ok boolean not null default true;
alter table public.refunds add column shift_ok boolean not null default true;
create index refunds_shift_idx on public.refunds (shift_id) where shift_id is not null;

alter table public.sale_voids add column staff_id text;
alter table public.sale_voids add column shift_id text;
alter table public.sale_voids add column operator text;
alter table public.sale_voids add column staff_ok boolean not null default true;
alter table public.sale_voids add column shift_ok boolean not null default true;
create index sale_voids_shift_idx on public.sale_voids (shift_id) where shift_id is not null;

-- ---------------------------------------------------------------------------------------
-- Privileges and Row Level Security, as for the other store-scoped tables: devices may
-- SELECT their own store's rows; staff is written by head office (service_role) only, the
-- shift tables by the RPCs only.

do $$
declare
  t text;
begin
  foreach t in array array['staff', 'shifts', 'cash_movements']
  loop
    execute format('alter table public.%I enable row level security', t);
    execute format('revoke all on table public.%I from public, anon, authenticated', t);
    execute format('grant select on table public.%I to authenticated', t);
    execute format('grant all on table public.%I to service_role', t);
    execute format(
      'create policy %I on public.%I for select to authenticated '
      'using (store_id = (select public.kassa_current_store()))',
      t || '_own_store', t);
  end loop;
end
$$;

-- ---------------------------------------------------------------------------------------
-- Head office: over/short per cashier and shift. security_invoker: a device (or a store
-- manager's token) sees its own store's shifts only, through the RLS of shifts and staff;
-- service_role sees every store.

create view public.kassa_shift_report with (security_invoker = true) as
select sh.store_id,
       sh.id as shift_id,
       sh.device_id,
       sh.status,
       sh.opened_by,
       so.name as opened_by_name,
       sh.closed_by,
       sc.name as closed_by_name,
       sh.opened_at,
       sh.closed_at,
       sh.float_cents,
       sh.counted_cents,
       sh.expected_cents,
       sh.over_short_cents,
       sh.server_expected_cents,
       sh.counted_cents - sh.server_expected_cents as server_over_short_cents,
       -- false while documents of the shift are missing on the server (or the till miscounted)
       sh.expected_cents is not distinct from sh.server_expected_cents as expected_agrees,
       (select count(*) from public.cash_movements m
         where m.shift_id = sh.id::text and m.store_id = sh.store_id) as cash_movements,
       coalesce(sh.open_staff_ok, true) and coalesce(sh.close_staff_ok, true) as staff_ok,
       coalesce(sh.open_chain_ok, true) and coalesce(sh.close_chain_ok, true) as chain_ok
  from public.shifts sh
  left join public.staff so
         on so.id::text = sh.opened_by and so.store_id = sh.store_id
  left join public.staff sc
         on sc.id::text = sh.closed_by and sc.store_id = sh.store_id;

revoke all on public.kassa_shift_report from public, anon, authenticated;
grant select on public.kassa_shift_report to authenticated, service_role;
