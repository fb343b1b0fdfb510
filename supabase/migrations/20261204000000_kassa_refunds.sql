-- kassa returns and voids (issue 10), part 1 of 2: tables, constraints and RLS.
--
-- A refund pays money back to a customer, with or without the original receipt; a void
-- reverses a whole sale of the till that made it. Both are documents of the till's hash chain
-- like sales (docs/protocol.md, kinds `refund` and `void_sale`); the next migration applies
-- them in kassa_push and adds kassa_sale_lookup.
--
-- What a store owner sees (service_role, or the Supabase table editor):
--   refunds / refund_lines / refund_tenders   every refund, its lines (which original sale
--                                             line, restocked or written off) and how the
--                                             money went back
--   sale_voids / sale_void_tenders            every post-void and the money given back
--   stock_movements                           `refund` (+qty), `write_off` (-qty, a damaged
--                                             return) and `void` (+qty) rows in the ledger
--   conflicts of kind `over_refund`           more refunded than sold (offline refunds at two
--                                             tills), resolved with accept_loss / follow_up
--   refund_losses                             the excesses booked as a loss (accept_loss)
-- The refunded quantity of a sale line is derived, never stored twice: the sum of the
-- refund_lines naming it (refund_lines_original_idx) plus the whole line if the sale is voided.
-- Pushes of a store are serialised by its advisory lock, so the sums that decide over_refund
-- are exact.

-- ---------------------------------------------------------------------------------------
-- Refunds

create table public.refunds (
  id               uuid primary key,
  store_id         uuid not null references public.stores (id),
  device_id        uuid not null references public.devices (id),
  op_id            uuid not null,
  seq              bigint not null,
  -- null: a refund without a receipt. No foreign key: the original may be a sale of another
  -- store, or one that is not on the server (yet); such a refund is recorded all the same.
  original_sale_id uuid,
  created_at       text not null,        -- the till's clock, exactly as sent (part of the hash)
  skew_ms          bigint not null default 0,
  event_time       timestamptz not null, -- created_at corrected by skew
  received_at      timestamptz not null default now(),
  currency         text not null,
  reason           text not null default '',
  approved_by      text,
  total_cents      bigint not null,
  tax_cents        bigint not null,
  rounding_cents   bigint not null default 0,
  prev_hash        text not null,
  hash             text not null,
  chain_ok         boolean not null
);
create index refunds_store_idx on public.refunds (store_id, event_time);
create index refunds_device_seq_idx on public.refunds (device_id, seq);

create table public.refund_lines (
  refund_id        uuid not null references public.refunds (id),
  line_no          integer not null,
  store_id         uuid not null references public.stores (id),
  original_sale_id uuid,    -- the refund's original sale (null: without a receipt)
  original_line_no integer, -- the line of that sale (null: without a receipt)
  product_id       uuid references public.products (id), -- null: unknown sku, no stock moved
  sku              text not null,
  name             text not null,
  qty              bigint not null,
  amount_cents     bigint not null,
  tax_rate_bp      integer not null,
  tax_cents        bigint not null,
  restock          boolean not null,
  primary key (refund_id, line_no)
);
create index refund_lines_store_idx on public.refund_lines (store_id);
-- The refunded quantity of a sale line: sum(qty) over this index.
create index refund_lines_original_idx on public.refund_lines (original_sale_id, original_line_no)
  where original_sale_id is not null;

create table public.refund_tenders (
  refund_id    uuid not null references public.refunds (id),
  idx          integer not null,
  store_id     uuid not null references public.stores (id),
  kind         text not null,
  amount_cents bigint not null,
  primary key (refund_id, idx)
);
create index refund_tenders_store_idx on public.refund_tenders (store_id);

-- ---------------------------------------------------------------------------------------
-- Post-voids: at most one per sale.

create table public.sale_voids (
  id           uuid primary key,
  store_id     uuid not null references public.stores (id),
  device_id    uuid not null references public.devices (id),
  op_id        uuid not null,
  seq          bigint not null,
  sale_id      uuid not null unique references public.sales (id),
  created_at   text not null,
  skew_ms      bigint not null default 0,
  event_time   timestamptz not null,
  received_at  timestamptz not null default now(),
  reason       text not null default '',
  approved_by  text,
  total_cents  bigint not null,
  prev_hash    text not null,
  hash         text not null,
  chain_ok     boolean not null
);
create index sale_voids_store_idx on public.sale_voids (store_id, event_time);
create index sale_voids_device_seq_idx on public.sale_voids (device_id, seq);

create table public.sale_void_tenders (
  void_id      uuid not null references public.sale_voids (id),
  idx          integer not null,
  store_id     uuid not null references public.stores (id),
  kind         text not null,
  amount_cents bigint not null,
  primary key (void_id, idx)
);
create index sale_void_tenders_store_idx on public.sale_void_tenders (store_id);

-- ---------------------------------------------------------------------------------------
-- The ledger, conflicts and losses

alter table public.stock_movements drop constraint stock_movements_reason_check;
alter table public.stock_movements add constraint stock_movements_reason_check
  check (reason in ('sale', 'receipt', 'adjustment', 'unknown_product_mapped',
                    'refund', 'write_off', 'void'));
-- A refund's movements name the refund and its line_no; a void's name the void and the sale
-- line (sale_id, line_no).
alter table public.stock_movements add column refund_id uuid;
alter table public.stock_movements add column void_id uuid;

alter table public.conflicts drop constraint conflicts_kind_check;
alter table public.conflicts add constraint conflicts_kind_check
  check (kind in ('oversold', 'price_mismatch', 'unknown_product', 'count_discrepancy',
                  'over_refund'));
-- An over_refund conflict names the refund's original sale, which need not be on the server.
alter table public.conflicts drop constraint conflicts_sale_id_fkey;

-- over_refund resolved with accept_loss: the excess, for head office's books.
create table public.refund_losses (
  id           bigint generated always as identity primary key,
  store_id     uuid not null references public.stores (id),
  conflict_id  uuid not null unique references public.conflicts (id),
  sale_id      uuid,     -- the original sale
  line_no      integer,  -- its line
  refund_id    uuid references public.refunds (id),   -- the refund that went over, or
  void_id      uuid references public.sale_voids (id), -- the void that went over
  product_id   uuid references public.products (id),
  excess_qty   bigint not null,
  loss_cents   bigint not null, -- the excess units' share of what that refund line paid back
  created_at   timestamptz not null default now()
);
create index refund_losses_store_idx on public.refund_losses (store_id);

-- ---------------------------------------------------------------------------------------
-- Privileges and Row Level Security, as for the other store-scoped tables: devices may
-- SELECT their own store's rows, writes go through the RPCs only.

do $$
declare
  t text;
begin
  foreach t in array array['refunds', 'refund_lines', 'refund_tenders', 'sale_voids',
                           'sale_void_tenders', 'refund_losses']
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
