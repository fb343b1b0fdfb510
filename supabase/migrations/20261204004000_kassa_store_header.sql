-- kassa: the store's header on receipts (issue 12).
--
-- A receipt prints the store's name, address and tax id. The till takes them from its config,
-- and, for what its config leaves empty, from the server's store record, so that head office
-- sets them once for every till of a store:
--   stores.address   postal address, lines separated by a newline ('' = none)
--   stores.tax_id    VAT / tax registration number ('' = none)
--   (stores.name exists since the first migration)
-- kassa_pull answers a till that sends "store": true in p_cursors with a `store` section
-- {name, address, tax_id} of the caller's own store (docs/protocol.md). The section is small
-- and unversioned: it comes with every pull that asks for it.
--
-- Who reads what: stores already has RLS with `stores_own` (a device selects only its own
-- store, by the store in its token); devices get no table privileges beyond that select, and
-- kassa_pull is security definer and reads the caller's store only (kassa_caller()).

alter table public.stores
  add column address text not null default '' check (length(address) <= 500),
  add column tax_id  text not null default '' check (length(tax_id) <= 64);

-- kassa_pull as in 20261204003100_kassa_staff_shifts_push.sql, plus the `store` section.
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
  v_staff bigint;
  r_cat jsonb;
  r_stock jsonb;
  r_conf jsonb;
  r_staff jsonb;
  r jsonb;
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
     or (c ? 'conflicts' and jsonb_typeof(c -> 'conflicts') <> 'null' and not public.kassa_is_int(c -> 'conflicts'))
     or (c ? 'staff' and jsonb_typeof(c -> 'staff') <> 'null' and not public.kassa_is_int(c -> 'staff')) then
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

  r := jsonb_build_object('catalog', r_cat, 'stock', r_stock, 'conflicts', r_conf);

  -- Staff only for a till that asks (older tills send no staff cursor).
  if c ? 'staff' and jsonb_typeof(c -> 'staff') <> 'null' then
    v_staff := (c ->> 'staff')::bigint;
    select jsonb_build_object(
             'rows', coalesce(jsonb_agg(x.row order by x.version) filter (where x.rn <= v_limit), '[]'::jsonb),
             'cursor', coalesce(max(x.version) filter (where x.rn <= v_limit), v_staff),
             'more', count(*) > v_limit)
      into r_staff
      from (select jsonb_build_object('id', s.id, 'name', s.name, 'role', s.role,
                                      'pin_hash', s.pin_hash, 'active', s.active,
                                      'version', s.version) as row,
                   s.version, row_number() over (order by s.version) as rn
              from (select * from public.staff s0
                     where s0.store_id = v_store and s0.version > v_staff
                     order by s0.version limit v_limit + 1) s) x;
    r := r || jsonb_build_object('staff', r_staff);
  end if;

  -- The store's header for receipts, only for a till that asks ("store": true; older tills
  -- do not, and older servers ignore the key): the caller's own store, never another's.
  if c ? 'store' and jsonb_typeof(c -> 'store') = 'boolean' and (c ->> 'store')::boolean then
    select r || jsonb_build_object('store', jsonb_build_object(
             'name', s.name, 'address', s.address, 'tax_id', s.tax_id))
      into r
      from public.stores s
     where s.id = v_store;
  end if;
  return r;
end
$$;

-- Privileges as before: only the RPCs are callable by devices (create or replace keeps the
-- function's grants; restated so that this file stands on its own).
revoke all on function public.kassa_pull(jsonb) from public, anon;
grant execute on function public.kassa_pull(jsonb) to authenticated, service_role;
