-- kassa server schema: stores, devices, catalog, stock ledger, sales, conflicts, op log.
--
-- Apply with `supabase db push` (or psql) on a Supabase project. Devices only ever read
-- their own store's rows (RLS below) and write only through the kassa_* RPCs
-- (next migration), which take the device and store from the JWT.
--
-- Versions: every row a till pulls (products, stock_levels, conflicts) carries a `version`
-- from the single sequence kassa_version_seq. Triggers assign it while holding the
-- store's (or the catalog's) advisory transaction lock, so within one store versions are
-- handed out in commit order and keyset pagination by version never skips a row.

create sequence public.kassa_version_seq as bigint;

-- ---------------------------------------------------------------------------------------
-- Stores, devices, telemetry, server settings

create table public.stores (
  id              uuid primary key default gen_random_uuid(),
  name            text not null,
  currency        text not null default 'EUR' check (currency ~ '^[A-Z]{3}$'),
  -- a stock count differing from the expected level by more than this raises count_discrepancy
  count_threshold integer not null default 0 check (count_threshold >= 0),
  created_at      timestamptz not null default now()
);

create table public.devices (
  id         uuid primary key default gen_random_uuid(),
  store_id   uuid not null references public.stores (id),
  name       text not null,
  active     boolean not null default true,
  created_at timestamptz not null default now()
);
create index devices_store_idx on public.devices (store_id);

-- Fleet telemetry, one row per device, updated by kassa_heartbeat.
create table public.device_status (
  device_id            uuid primary key references public.devices (id),
  store_id             uuid not null references public.stores (id),
  last_seen_at         timestamptz not null,
  app_version          text,
  schema_version       integer,
  queue_depth          integer,
  oldest_pending_age_s bigint,
  rejected             integer,
  device_time          text,
  status               jsonb not null default '{}'
);
create index device_status_store_idx on public.device_status (store_id);

-- Single-row server settings.
create table public.kassa_settings (
  id                boolean primary key default true check (id),
  min_client_schema integer not null default 1
);
insert into public.kassa_settings (id, min_client_schema) values (true, 1);

-- ---------------------------------------------------------------------------------------
-- Catalog (shared by all stores of the project)

create table public.products (
  id                 uuid primary key default gen_random_uuid(),
  sku                text not null unique check (sku <> ''),
  barcode            text unique,
  name               text not null,
  price_cents        bigint not null check (price_cents >= 0),
  tax_rate_bp        integer not null check (tax_rate_bp between 0 and 10000),
  price_includes_tax boolean not null default true,
  active             boolean not null default true,
  deleted_at         timestamptz,
  created_at         timestamptz not null default now(),
  updated_at         timestamptz not null default now(),
  version            bigint not null default 0
);
create index products_version_idx on public.products (version);

-- Price history: the price valid at a sale's corrected time decides price_mismatch.
create table public.product_prices (
  product_id  uuid not null references public.products (id),
  valid_from  timestamptz not null,
  price_cents bigint not null check (price_cents >= 0),
  primary key (product_id, valid_from)
);

-- ---------------------------------------------------------------------------------------
-- Stock: ledger of movements, baselines (counts), derived levels

create table public.stock_levels (
  store_id     uuid not null references public.stores (id),
  product_id   uuid not null references public.products (id),
  on_hand      bigint not null default 0,
  -- corrected time of the newest active stock count (the baseline), if any
  baseline_at  timestamptz,
  updated_at   timestamptz not null default now(),
  version      bigint not null default 0,
  primary key (store_id, product_id)
);
create index stock_levels_version_idx on public.stock_levels (store_id, version);

create table public.stock_counts (
  id            uuid primary key,
  store_id      uuid not null references public.stores (id),
  product_id    uuid not null references public.products (id),
  device_id     uuid references public.devices (id),
  op_id         uuid,
  counted_qty   bigint not null,
  counted_at    text,                 -- the till's clock, exactly as sent
  skew_ms       bigint not null default 0,
  event_time    timestamptz not null, -- counted_at corrected by skew: the baseline moment
  expected_qty  bigint not null,      -- the ledger's level at event_time before this count
  status        text not null default 'active' check (status in ('active', 'withdrawn')),
  source        text not null default 'count' check (source in ('count', 'recount')),
  received_at   timestamptz not null default now()
);
create index stock_counts_baseline_idx on public.stock_counts (store_id, product_id, event_time);

create table public.stock_movements (
  id            bigint generated always as identity primary key,
  store_id      uuid not null references public.stores (id),
  product_id    uuid not null references public.products (id),
  delta         bigint not null,
  reason        text not null check (reason in ('sale', 'receipt', 'adjustment', 'unknown_product_mapped')),
  op_id         uuid,
  device_id     uuid references public.devices (id),
  sale_id       uuid,
  line_no       integer,
  conflict_id   uuid,
  device_time   text,                 -- the till's clock, exactly as sent
  skew_ms       bigint not null default 0,
  event_time    timestamptz not null, -- corrected time: decides baseline absorption
  received_at   timestamptz not null default now()
);
create index stock_movements_ledger_idx on public.stock_movements (store_id, product_id, event_time);
create index stock_movements_sale_idx on public.stock_movements (sale_id);

-- ---------------------------------------------------------------------------------------
-- Sales

create table public.sales (
  id             uuid primary key,
  store_id       uuid not null references public.stores (id),
  device_id      uuid not null references public.devices (id),
  op_id          uuid not null,
  seq            bigint not null,
  created_at     text not null,        -- the till's clock, exactly as sent (part of the hash)
  skew_ms        bigint not null default 0,
  event_time     timestamptz not null, -- created_at corrected by skew
  received_at    timestamptz not null default now(),
  currency       text not null,
  total_cents    bigint not null,
  tax_cents      bigint not null,
  rounding_cents bigint not null default 0,
  prev_hash      text not null,
  hash           text not null,
  chain_ok       boolean not null
);
create index sales_store_idx on public.sales (store_id, event_time);
create index sales_device_seq_idx on public.sales (device_id, seq);

create table public.sale_lines (
  sale_id            uuid not null references public.sales (id),
  line_no            integer not null,
  store_id           uuid not null references public.stores (id),
  product_id         uuid references public.products (id), -- null: unknown product
  mapped_product_id  uuid references public.products (id), -- set by an unknown_product `map`
  sku                text not null,
  name               text not null,
  qty                bigint not null,
  unit_price_cents   bigint not null,
  discount_cents     bigint not null default 0,
  price_overridden   boolean not null default false,
  tax_rate_bp        integer not null,
  price_includes_tax boolean not null,
  line_total_cents   bigint not null,
  tax_cents          bigint not null,
  primary key (sale_id, line_no)
);
create index sale_lines_store_idx on public.sale_lines (store_id);

create table public.sale_tenders (
  sale_id      uuid not null references public.sales (id),
  idx          integer not null,
  store_id     uuid not null references public.stores (id),
  kind         text not null,
  amount_cents bigint not null,
  change_cents bigint not null default 0,
  primary key (sale_id, idx)
);
create index sale_tenders_store_idx on public.sale_tenders (store_id);

-- ---------------------------------------------------------------------------------------
-- Conflicts and their consequences

create table public.conflicts (
  id                 uuid primary key default gen_random_uuid(),
  store_id           uuid not null references public.stores (id),
  kind               text not null check (kind in ('oversold', 'price_mismatch', 'unknown_product', 'count_discrepancy')),
  status             text not null default 'open' check (status in ('open', 'resolved')),
  product_id         uuid references public.products (id),
  sku                text,
  sale_id            uuid references public.sales (id),
  line_no            integer,
  count_id           uuid references public.stock_counts (id),
  device_id          uuid references public.devices (id), -- the device whose op raised it
  op_id              uuid,
  details            jsonb not null default '{}',
  resolution         jsonb,
  resolved_at        timestamptz,
  resolved_by_device uuid references public.devices (id),
  created_at         timestamptz not null default now(),
  version            bigint not null default 0
);
create index conflicts_version_idx on public.conflicts (store_id, version);
create index conflicts_open_idx on public.conflicts (store_id) where status = 'open';

-- price_mismatch resolved with `adjust`: the difference, for head office's books.
create table public.price_adjustments (
  id               bigint generated always as identity primary key,
  store_id         uuid not null references public.stores (id),
  conflict_id      uuid not null references public.conflicts (id),
  sale_id          uuid not null references public.sales (id),
  line_no          integer not null,
  product_id       uuid references public.products (id),
  qty              bigint not null,
  sold_unit_cents  bigint not null,
  server_unit_cents bigint not null,
  difference_cents bigint not null, -- (server - sold) * qty: what the store did not charge
  created_at       timestamptz not null default now()
);

-- ---------------------------------------------------------------------------------------
-- Operation log: idempotency by (device, op_id) and rejected ops for head office

create table public.applied_ops (
  device_id    uuid not null references public.devices (id),
  op_id        uuid not null,
  store_id     uuid not null references public.stores (id),
  seq          bigint,
  kind         text not null,
  content_md5  text not null, -- md5 of kind + payload: detects op_id reuse for different content
  status       text not null check (status in ('applied', 'rejected')),
  code         text,
  message      text,
  note         text,
  received_at  timestamptz not null default now(),
  primary key (device_id, op_id)
);
create index applied_ops_store_idx on public.applied_ops (store_id, received_at);

create table public.rejected_ops (
  id          bigint generated always as identity primary key,
  store_id    uuid not null references public.stores (id),
  device_id   uuid not null references public.devices (id),
  op_id       text,
  seq         bigint,
  kind        text,
  code        text not null,
  message     text not null,
  op          jsonb not null,
  received_at timestamptz not null default now()
);
create index rejected_ops_store_idx on public.rejected_ops (store_id, received_at);

-- ---------------------------------------------------------------------------------------
-- Version assignment and price history

create or replace function public.kassa_store_lock_key(p_store uuid) returns bigint
language sql immutable parallel safe
as $$ select pg_catalog.hashtextextended(p_store::text, 7) $$;

-- Store-scoped rows: take the store's lock (re-entrant within a transaction), then a version.
create or replace function public.kassa_tg_store_version() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  perform pg_catalog.pg_advisory_xact_lock(public.kassa_store_lock_key(new.store_id));
  new.version := pg_catalog.nextval('public.kassa_version_seq');
  if tg_table_name = 'stock_levels' then
    new.updated_at := pg_catalog.now();
  end if;
  return new;
end
$$;

-- Catalog rows: one catalog-wide lock (a different advisory key space from the stores').
create or replace function public.kassa_tg_catalog_version() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  perform pg_catalog.pg_advisory_xact_lock(1801, 1);
  new.version := pg_catalog.nextval('public.kassa_version_seq');
  if tg_op = 'UPDATE' then
    new.updated_at := pg_catalog.now();
  end if;
  return new;
end
$$;

create or replace function public.kassa_tg_price_history() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' or new.price_cents is distinct from old.price_cents then
    insert into public.product_prices (product_id, valid_from, price_cents)
    values (new.id, pg_catalog.now(), new.price_cents)
    on conflict (product_id, valid_from) do update set price_cents = excluded.price_cents;
  end if;
  return null;
end
$$;

create trigger products_version before insert or update on public.products
  for each row execute function public.kassa_tg_catalog_version();
create trigger products_price_history after insert or update of price_cents on public.products
  for each row execute function public.kassa_tg_price_history();
create trigger stock_levels_version before insert or update on public.stock_levels
  for each row execute function public.kassa_tg_store_version();
create trigger conflicts_version before insert or update on public.conflicts
  for each row execute function public.kassa_tg_store_version();

-- ---------------------------------------------------------------------------------------
-- Who is calling: the device and store of the JWT, if the device exists in that store.

create or replace function public.kassa_jwt_store_id() returns uuid
language sql stable
as $$
  select case
    when (auth.jwt() -> 'app_metadata' ->> 'store_id')
         ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    then (auth.jwt() -> 'app_metadata' ->> 'store_id')::uuid
  end
$$;

-- The store of the calling device, or null. SECURITY DEFINER so that policies can use it
-- without recursing into the devices table's own policy.
create or replace function public.kassa_current_store() returns uuid
language sql stable security definer
set search_path = ''
as $$
  select d.store_id
  from public.devices d
  where d.id = (case
                  when (auth.jwt() ->> 'sub') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                  then (auth.jwt() ->> 'sub')::uuid
                end)
    and d.store_id = public.kassa_jwt_store_id()
    and d.active
$$;

-- ---------------------------------------------------------------------------------------
-- Privileges and Row Level Security
--
-- Supabase grants anon/authenticated everything by default; kassa narrows it: anon gets
-- nothing, devices (authenticated) may SELECT their store's rows, writes go through the
-- RPCs only. RLS is enabled on every table regardless, so a grant added later by mistake
-- still exposes nothing beyond the policies.

do $$
declare
  t text;
begin
  foreach t in array array['stores', 'devices', 'device_status', 'kassa_settings', 'products',
                           'product_prices', 'stock_levels', 'stock_counts', 'stock_movements',
                           'sales', 'sale_lines', 'sale_tenders', 'conflicts',
                           'price_adjustments', 'applied_ops', 'rejected_ops']
  loop
    execute format('alter table public.%I enable row level security', t);
    execute format('revoke all on table public.%I from public, anon, authenticated', t);
    execute format('grant select on table public.%I to authenticated', t);
    execute format('grant all on table public.%I to service_role', t);
  end loop;
end
$$;
revoke all on sequence public.kassa_version_seq from public, anon, authenticated;

revoke all on function public.kassa_store_lock_key(uuid) from public, anon, authenticated;
revoke all on function public.kassa_tg_store_version() from public, anon, authenticated;
revoke all on function public.kassa_tg_catalog_version() from public, anon, authenticated;
revoke all on function public.kassa_tg_price_history() from public, anon, authenticated;
revoke all on function public.kassa_jwt_store_id() from public, anon;
revoke all on function public.kassa_current_store() from public, anon;
grant execute on function public.kassa_jwt_store_id() to authenticated, service_role;
grant execute on function public.kassa_current_store() to authenticated, service_role;

-- The device's own store.
create policy stores_own on public.stores for select to authenticated
  using (id = (select public.kassa_current_store()));

-- Store-scoped tables: only rows of the calling device's store.
do $$
declare
  t text;
begin
  foreach t in array array['devices', 'device_status', 'stock_levels', 'stock_counts',
                           'stock_movements', 'sales', 'sale_lines', 'sale_tenders',
                           'conflicts', 'price_adjustments', 'applied_ops', 'rejected_ops']
  loop
    execute format(
      'create policy %I on public.%I for select to authenticated '
      'using (store_id = (select public.kassa_current_store()))',
      t || '_own_store', t);
  end loop;
end
$$;

-- The catalog and server settings: readable by any known device.
create policy products_devices on public.products for select to authenticated
  using ((select public.kassa_current_store()) is not null);
create policy product_prices_devices on public.product_prices for select to authenticated
  using ((select public.kassa_current_store()) is not null);
create policy kassa_settings_devices on public.kassa_settings for select to authenticated
  using ((select public.kassa_current_store()) is not null);
