-- kassa cashiers, shifts and cash management (issue 11), part 2 of 2: the kinds `shift_open`,
-- `cash_movement` and `shift_close` in kassa_push, who rang up every document, the chain over
-- all six document kinds, and the `staff` section of kassa_pull. (docs/protocol.md; tables in
-- ..._kassa_staff_shifts.sql.)
--
-- How this extends the earlier functions:
--   kassa_prev_doc_hash   redefined: the previous document among sales, refunds, voids, shift
--                         opens, cash movements and shift closes.
--   kassa_push_fast_run   the previous one (whatever wrapped it last) is kassa_push_fast_run_v3
--                         now; the new one also declines a run (it goes the per-op way) when
--                         the device's last document before it is a shift document.
--   kassa_push_batch      the old one is kassa_push_batch_v1 (both paths: set-based and per
--                         op); the new one calls it, then records staff_id / approved_by /
--                         shift_id / operator of the sales, refunds and voids it applied (one
--                         UPDATE per table, only for documents that name any of them) and
--                         recomputes server_expected_cents of the shifts the batch touched.
--   kassa_push_op         the previous one is kassa_push_op_v3; the new one applies new shift
--                         documents and hands everything else to it.
--   kassa_pull            redefined (copied from ..._kassa_rpc.sql): the `staff` section.

-- ---------------------------------------------------------------------------------------
-- Small helpers

-- An id field of a payload as recorded: a uuid lowercased, another string as sent (at most 100
-- characters), JSON null or absent as null, anything else as its JSON text.
create or replace function public.kassa_doc_ref(p jsonb) returns text
language sql immutable
as $$
  select case
    when p is null or jsonb_typeof(p) = 'null' then null
    when jsonb_typeof(p) = 'string' and public.kassa_is_uuid(p #>> '{}') then lower(p #>> '{}')
    when jsonb_typeof(p) = 'string' then left(p #>> '{}', 100)
    else left(p::text, 100)
  end
$$;

-- True when p_id is null or a staff member of the store.
create or replace function public.kassa_staff_known(p_store uuid, p_id text) returns boolean
language sql stable
as $$
  select p_id is null
      or (public.kassa_is_uuid(p_id)
          and exists (select 1 from public.staff s where s.id = p_id::uuid and s.store_id = p_store))
$$;

-- True when p_id is null or a shift of the device.
create or replace function public.kassa_shift_known(p_device uuid, p_id text) returns boolean
language sql stable
as $$
  select p_id is null
      or (public.kassa_is_uuid(p_id)
          and exists (select 1 from public.shifts s where s.id = p_id::uuid and s.device_id = p_device))
$$;

-- The cash the server expects in the drawer at the end of a shift, from the documents of the
-- shift it holds: float + cash sales net of change - cash refunds - cash voids + paid-in -
-- paid-out.
create or replace function public.kassa_shift_expected(p_store uuid, p_shift uuid) returns bigint
language sql stable
as $$
  select coalesce((select sh.float_cents from public.shifts sh where sh.id = p_shift), 0)
       + coalesce((select sum(t.amount_cents - t.change_cents) from public.sales s
                     join public.sale_tenders t on t.sale_id = s.id
                    where s.shift_id = p_shift::text and s.store_id = p_store and t.kind = 'cash'), 0)
       - coalesce((select sum(t.amount_cents) from public.refunds r
                     join public.refund_tenders t on t.refund_id = r.id
                    where r.shift_id = p_shift::text and r.store_id = p_store and t.kind = 'cash'), 0)
       - coalesce((select sum(t.amount_cents) from public.sale_voids v
                     join public.sale_void_tenders t on t.void_id = v.id
                    where v.shift_id = p_shift::text and v.store_id = p_store and t.kind = 'cash'), 0)
       + coalesce((select sum(case m.kind when 'paid_in' then m.amount_cents
                                          when 'paid_out' then -m.amount_cents else 0 end)
                     from public.cash_movements m
                    where m.shift_id = p_shift::text and m.store_id = p_store), 0)
$$;

-- ---------------------------------------------------------------------------------------
-- The document chain over all six kinds

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
            where v.device_id = p_device and v.seq < p_seq order by v.seq desc limit 1)
          union all
          (select sh.open_seq, 3, sh.open_hash from public.shifts sh
            where sh.device_id = p_device and sh.open_seq < p_seq order by sh.open_seq desc limit 1)
          union all
          (select m.seq, 4, m.hash from public.cash_movements m
            where m.device_id = p_device and m.seq < p_seq order by m.seq desc limit 1)
          union all
          (select sh.close_seq, 5, sh.close_hash from public.shifts sh
            where sh.close_device_id = p_device and sh.close_seq < p_seq order by sh.close_seq desc limit 1)) x
   order by x.seq desc, x.k desc
   limit 1;
  return coalesce(v, repeat('0', 64));
end
$$;

alter function public.kassa_push_fast_run(uuid, uuid, jsonb, public.kassa_push_item[])
  rename to kassa_push_fast_run_v3;

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
  -- (re-entrant; the reads that decide the run under the store's lock)
  perform pg_advisory_xact_lock(public.kassa_store_lock_key(p_store));
  select min(x.seq) into v_first from unnest(p_items) x where x.is_new;
  if v_first is not null then
    select greatest((select max(sh.open_seq) from public.shifts sh where sh.device_id = p_device),
                    (select max(sh.close_seq) from public.shifts sh where sh.close_device_id = p_device),
                    (select max(m.seq) from public.cash_movements m where m.device_id = p_device))
      into v_doc;
    if v_doc is not null then
      select max(s.seq) into v_sale from public.sales s where s.device_id = p_device;
      if v_doc >= v_first or v_sale is null or v_doc >= v_sale then
        return null;
      end if;
    end if;
  end if;
  return public.kassa_push_fast_run_v3(p_device, p_store, p_ops, p_items);
end
$$;

-- ---------------------------------------------------------------------------------------
-- Shift documents: validation and canonical forms

-- The fields every shift document has: who, approver, operator, hashes. Null when well-formed.
create or replace function public.kassa_validate_shift_doc(p jsonb) returns text
language plpgsql stable
set search_path = ''
as $$
begin
  if coalesce(jsonb_typeof(p -> 'staff_id'), 'null') not in ('string', 'null') then return 'staff_id must be a string or null'; end if;
  if coalesce(jsonb_typeof(p -> 'approved_by'), 'null') not in ('string', 'null') then return 'approved_by must be a string or null'; end if;
  if coalesce(jsonb_typeof(p -> 'operator'), 'null') not in ('string', 'null') then return 'operator must be a string or null'; end if;
  if coalesce(p ->> 'prev_hash', '') !~ '^[0-9a-f]{64}$' then return 'prev_hash must be 64 lowercase hex digits'; end if;
  if coalesce(p ->> 'hash', '') !~ '^[0-9a-f]{64}$' then return 'hash must be 64 lowercase hex digits'; end if;
  return null;
end
$$;

-- Optional denominations {"5000": 2, ...} (minor units -> count) that must sum to p_amount.
create or replace function public.kassa_validate_denominations(p jsonb, p_amount bigint) returns text
language plpgsql stable
set search_path = ''
as $$
declare
  v_msg text;
begin
  if p is null or jsonb_typeof(p) = 'null' then return null; end if;
  if jsonb_typeof(p) <> 'object' then return 'denominations must be an object or null'; end if;
  select format('denomination %s: %s', left(k, 20), m) into v_msg
  from (
    select d.key as k, case
      when d.key !~ '^[1-9][0-9]{0,9}$' then 'must be a positive integer of minor units'
      when not public.kassa_is_int(d.value) or (d.value #>> '{}')::bigint < 0 then 'count must be an integer >= 0'
    end as m
    from jsonb_each(p) d
  ) v
  where m is not null
  order by k
  limit 1;
  if v_msg is not null then return v_msg; end if;
  if coalesce((select sum(d.key::bigint * (d.value #>> '{}')::bigint) from jsonb_each(p) d), 0) <> p_amount then
    return format('denominations do not add up to %s', p_amount);
  end if;
  return null;
end
$$;

create or replace function public.kassa_validate_shift_open(p jsonb) returns text
language plpgsql stable
set search_path = ''
as $$
begin
  if jsonb_typeof(p -> 'shift_id') is distinct from 'string' or not public.kassa_is_uuid(p ->> 'shift_id') then
    return 'shift_id must be a uuid';
  end if;
  if jsonb_typeof(p -> 'opened_at') is distinct from 'string' or public.kassa_ts(p ->> 'opened_at') is null then
    return 'opened_at must be an RFC 3339 timestamp';
  end if;
  if not public.kassa_is_int(p -> 'float_cents') or (p ->> 'float_cents')::bigint < 0 then
    return 'float_cents must be an integer >= 0';
  end if;
  return coalesce(public.kassa_validate_shift_doc(p),
                  public.kassa_validate_denominations(p -> 'denominations', (p ->> 'float_cents')::bigint));
end
$$;

create or replace function public.kassa_validate_cash_movement(p jsonb) returns text
language plpgsql stable
set search_path = ''
as $$
begin
  if jsonb_typeof(p -> 'movement_id') is distinct from 'string' or not public.kassa_is_uuid(p ->> 'movement_id') then
    return 'movement_id must be a uuid';
  end if;
  if coalesce(jsonb_typeof(p -> 'shift_id'), 'null') <> 'null'
     and (jsonb_typeof(p -> 'shift_id') <> 'string' or not public.kassa_is_uuid(p ->> 'shift_id')) then
    return 'shift_id must be a uuid or null';
  end if;
  if jsonb_typeof(p -> 'created_at') is distinct from 'string' or public.kassa_ts(p ->> 'created_at') is null then
    return 'created_at must be an RFC 3339 timestamp';
  end if;
  if jsonb_typeof(p -> 'kind') is distinct from 'string' or p ->> 'kind' not in ('paid_in', 'paid_out', 'no_sale') then
    return 'kind must be paid_in, paid_out or no_sale';
  end if;
  if not public.kassa_is_int(p -> 'amount_cents') or (p ->> 'amount_cents')::bigint < 0 then
    return 'amount_cents must be an integer >= 0';
  end if;
  if p ->> 'kind' = 'no_sale' and (p ->> 'amount_cents')::bigint <> 0 then
    return 'a no_sale moves no money: amount_cents must be 0';
  end if;
  if coalesce(jsonb_typeof(p -> 'reason'), 'null') not in ('string', 'null') then return 'reason must be a string'; end if;
  return public.kassa_validate_shift_doc(p);
end
$$;

create or replace function public.kassa_validate_shift_close(p jsonb) returns text
language plpgsql stable
set search_path = ''
as $$
begin
  if jsonb_typeof(p -> 'shift_id') is distinct from 'string' or not public.kassa_is_uuid(p ->> 'shift_id') then
    return 'shift_id must be a uuid';
  end if;
  if jsonb_typeof(p -> 'closed_at') is distinct from 'string' or public.kassa_ts(p ->> 'closed_at') is null then
    return 'closed_at must be an RFC 3339 timestamp';
  end if;
  if not public.kassa_is_int(p -> 'counted_cents') or (p ->> 'counted_cents')::bigint < 0 then
    return 'counted_cents must be an integer >= 0';
  end if;
  if not public.kassa_is_int(p -> 'expected_cents') or (p ->> 'expected_cents')::bigint < 0 then
    return 'expected_cents must be an integer >= 0';
  end if;
  if not public.kassa_is_int(p -> 'over_short_cents') then
    return 'over_short_cents must be an integer';
  end if;
  if (p ->> 'over_short_cents')::bigint <> (p ->> 'counted_cents')::bigint - (p ->> 'expected_cents')::bigint then
    return 'over_short_cents must be counted_cents - expected_cents';
  end if;
  return coalesce(public.kassa_validate_shift_doc(p),
                  public.kassa_validate_denominations(p -> 'denominations', (p ->> 'counted_cents')::bigint));
end
$$;

-- The canonical forms (docs/protocol.md, "Canonical shift forms"); a null id is empty.
create or replace function public.kassa_shift_canonical(p_kind text, p jsonb) returns text
language sql immutable
as $$
  select case p_kind
    when 'shift_open' then format('kassa-shift-open-v1|%s|%s|%s|%s',
      p ->> 'shift_id', p ->> 'opened_at', coalesce(p ->> 'staff_id', ''), (p ->> 'float_cents')::bigint)
    when 'cash_movement' then format('kassa-cash-v1|%s|%s|%s|%s|%s',
      p ->> 'movement_id', p ->> 'created_at', coalesce(p ->> 'shift_id', ''), p ->> 'kind',
      (p ->> 'amount_cents')::bigint)
    when 'shift_close' then format('kassa-shift-close-v1|%s|%s|%s|%s|%s|%s',
      p ->> 'shift_id', p ->> 'closed_at', coalesce(p ->> 'staff_id', ''), (p ->> 'counted_cents')::bigint,
      (p ->> 'expected_cents')::bigint, (p ->> 'over_short_cents')::bigint)
  end
$$;

-- ---------------------------------------------------------------------------------------
-- Shift documents: apply (validated, hashed, exactly once through applied_ops)

create or replace function public.kassa_apply_shift_doc(p_device uuid, p_store uuid, p_op_id uuid,
                                                        p_seq bigint, p_skew bigint, p_kind text, p jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_err text;
  v_hash text;
  v_id uuid;
  v_sh public.shifts%rowtype;
  v_chain boolean;
  v_staff text := public.kassa_doc_ref(p -> 'staff_id');
  v_appr text := public.kassa_doc_ref(p -> 'approved_by');
  v_staff_ok boolean;
  v_at text;
begin
  v_err := case p_kind
    when 'shift_open' then public.kassa_validate_shift_open(p)
    when 'cash_movement' then public.kassa_validate_cash_movement(p)
    when 'shift_close' then public.kassa_validate_shift_close(p)
  end;
  if v_err is not null then
    return jsonb_build_object('status', 'rejected', 'code', 'invalid_payload', 'message', v_err);
  end if;
  v_hash := encode(sha256(convert_to((p ->> 'prev_hash') || E'\n' || public.kassa_shift_canonical(p_kind, p), 'UTF8')), 'hex');
  if v_hash <> p ->> 'hash' then
    return jsonb_build_object('status', 'rejected', 'code', 'bad_hash',
      'message', format('hash does not match the canonical form of the %s', replace(p_kind, '_', ' ')));
  end if;
  v_chain := (p ->> 'prev_hash') = public.kassa_prev_doc_hash(p_device, p_seq);
  v_staff_ok := public.kassa_staff_known(p_store, v_staff) and public.kassa_staff_known(p_store, v_appr);

  if p_kind = 'cash_movement' then
    v_id := (p ->> 'movement_id')::uuid;
    if exists (select 1 from public.cash_movements m where m.id = v_id) then
      return jsonb_build_object('status', 'rejected', 'code', 'invalid_payload',
        'message', format('cash movement %s was already recorded by another op', v_id));
    end if;
    insert into public.cash_movements (id, store_id, device_id, op_id, seq, shift_id, kind, amount_cents,
                                       reason, created_at, skew_ms, event_time, staff_id, approved_by,
                                       operator, staff_ok, shift_ok, prev_hash, hash, chain_ok)
    values (v_id, p_store, p_device, p_op_id, p_seq, public.kassa_doc_ref(p -> 'shift_id'), p ->> 'kind',
            (p ->> 'amount_cents')::bigint, coalesce(p ->> 'reason', ''), p ->> 'created_at', p_skew,
            public.kassa_ts(p ->> 'created_at') + p_skew::double precision * interval '1 millisecond',
            v_staff, v_appr, p ->> 'operator', v_staff_ok,
            public.kassa_shift_known(p_device, public.kassa_doc_ref(p -> 'shift_id')),
            p ->> 'prev_hash', v_hash, v_chain);
    return '{"status":"applied"}'::jsonb;
  end if;

  v_id := (p ->> 'shift_id')::uuid;
  select * into v_sh from public.shifts sh where sh.id = v_id for update;
  if found and v_sh.store_id <> p_store then
    return jsonb_build_object('status', 'rejected', 'code', 'invalid_payload',
      'message', format('shift %s is a shift of another store', v_id));
  end if;

  if p_kind = 'shift_open' then
    if v_sh.open_op_id is not null then
      return jsonb_build_object('status', 'rejected', 'code', 'invalid_payload',
        'message', format('shift %s was already opened by another op', v_id));
    end if;
    v_at := p ->> 'opened_at';
    insert into public.shifts as sh (id, store_id, device_id, open_op_id, open_seq, opened_by, opened_at,
                                     open_event_time, float_cents, open_denominations, open_approved_by,
                                     open_operator, open_staff_ok, open_prev_hash, open_hash, open_chain_ok)
    values (v_id, p_store, p_device, p_op_id, p_seq, v_staff, v_at,
            public.kassa_ts(v_at) + p_skew::double precision * interval '1 millisecond',
            (p ->> 'float_cents')::bigint, nullif(p -> 'denominations', 'null'::jsonb), v_appr,
            p ->> 'operator', v_staff_ok, p ->> 'prev_hash', v_hash, v_chain)
    on conflict (id) do update
      set open_op_id = excluded.open_op_id, open_seq = excluded.open_seq, opened_by = excluded.opened_by,
          opened_at = excluded.opened_at, open_event_time = excluded.open_event_time,
          float_cents = excluded.float_cents, open_denominations = excluded.open_denominations,
          open_approved_by = excluded.open_approved_by, open_operator = excluded.open_operator,
          open_staff_ok = excluded.open_staff_ok, open_prev_hash = excluded.open_prev_hash,
          open_hash = excluded.open_hash, open_chain_ok = excluded.open_chain_ok;
  else
    if v_sh.close_op_id is not null then
      return jsonb_build_object('status', 'rejected', 'code', 'invalid_payload',
        'message', format('shift %s was already closed by another op', v_id));
    end if;
    v_at := p ->> 'closed_at';
    insert into public.shifts as sh (id, store_id, device_id, close_device_id, close_op_id, close_seq,
                                     closed_by, closed_at, close_event_time, counted_cents,
                                     close_denominations, expected_cents, over_short_cents,
                                     close_approved_by, close_operator, close_staff_ok,
                                     close_prev_hash, close_hash, close_chain_ok)
    values (v_id, p_store, p_device, p_device, p_op_id, p_seq, v_staff, v_at,
            public.kassa_ts(v_at) + p_skew::double precision * interval '1 millisecond',
            (p ->> 'counted_cents')::bigint, nullif(p -> 'denominations', 'null'::jsonb),
            (p ->> 'expected_cents')::bigint, (p ->> 'over_short_cents')::bigint, v_appr,
            p ->> 'operator', v_staff_ok, p ->> 'prev_hash', v_hash, v_chain)
    on conflict (id) do update
      set close_device_id = excluded.close_device_id, close_op_id = excluded.close_op_id,
          close_seq = excluded.close_seq, closed_by = excluded.closed_by, closed_at = excluded.closed_at,
          close_event_time = excluded.close_event_time, counted_cents = excluded.counted_cents,
          close_denominations = excluded.close_denominations, expected_cents = excluded.expected_cents,
          over_short_cents = excluded.over_short_cents, close_approved_by = excluded.close_approved_by,
          close_operator = excluded.close_operator, close_staff_ok = excluded.close_staff_ok,
          close_prev_hash = excluded.close_prev_hash, close_hash = excluded.close_hash,
          close_chain_ok = excluded.close_chain_ok;
  end if;

  if v_sh.id is null then
    -- A shift new to the server: documents of this till that named it before it arrived are
    -- no longer orphans.
    update public.sales s set shift_ok = true where s.shift_id = v_id::text and s.device_id = p_device and not s.shift_ok;
    update public.refunds r set shift_ok = true where r.shift_id = v_id::text and r.device_id = p_device and not r.shift_ok;
    update public.sale_voids v set shift_ok = true where v.shift_id = v_id::text and v.device_id = p_device and not v.shift_ok;
    update public.cash_movements m set shift_ok = true where m.shift_id = v_id::text and m.device_id = p_device and not m.shift_ok;
  end if;
  return '{"status":"applied"}'::jsonb;
end
$$;

-- ---------------------------------------------------------------------------------------
-- kassa_push_op: a new shift document is checked and applied here (the op-level checks of
-- the dispatcher in ..._kassa_refunds_push.sql, in its order), everything else (other kinds,
-- replays of any kind, an op without a valid op_id) goes to the previous function, whatever
-- wrapped it since (kassa_push_op_v3 now).

alter function public.kassa_push_op(uuid, uuid, integer, jsonb, jsonb)
  rename to kassa_push_op_v3;

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
  r jsonb;
begin
  if p_prev is not null or jsonb_typeof(p_op) is distinct from 'object'
     or not public.kassa_is_uuid(p_op ->> 'op_id')
     or jsonb_typeof(p_op -> 'kind') is distinct from 'string'
     or p_op ->> 'kind' not in ('shift_open', 'cash_movement', 'shift_close') then
    return public.kassa_push_op_v3(p_device, p_store, p_threshold, p_op, p_prev);
  end if;
  -- Every write and every read that decides one under the store's lock (re-entrant).
  perform pg_advisory_xact_lock(public.kassa_store_lock_key(p_store));
  v_op_id := (p_op ->> 'op_id')::uuid;
  v_kind := p_op ->> 'kind';
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
  if jsonb_typeof(p_op -> 'payload') is distinct from 'object' then
    return public.kassa_reject_op(p_device, p_store, p_op, 'invalid_payload', 'payload must be an object', true);
  end if;

  r := public.kassa_apply_shift_doc(p_device, p_store, v_op_id, v_seq, v_skew, v_kind, p_op -> 'payload');
  if r ->> 'status' = 'rejected' then
    return public.kassa_reject_op(p_device, p_store, p_op, r ->> 'code', r ->> 'message', true);
  end if;
  insert into public.applied_ops (device_id, op_id, store_id, seq, kind, content_md5, status, note)
  values (p_device, v_op_id, p_store, v_seq, v_kind,
          md5(coalesce((p_op -> 'kind')::text, '') || '|' || coalesce((p_op -> 'payload')::text, '')),
          'applied', r ->> 'note');
  return jsonb_build_object('op_id', p_op -> 'op_id', 'seq', p_op -> 'seq', 'status', 'applied');
end
$$;

-- ---------------------------------------------------------------------------------------
-- kassa_push_batch: both paths, then who rang up the documents applied now, and the server's
-- expected cash of the shifts the batch touched.

alter function public.kassa_push_batch(uuid, uuid, integer, jsonb, boolean)
  rename to kassa_push_batch_v1;

create or replace function public.kassa_push_batch(p_device uuid, p_store uuid, p_threshold integer,
                                                   p_ops jsonb, p_isolate boolean)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  r jsonb;
  v_docs jsonb;
  v_shifts uuid[];
begin
  r := public.kassa_push_batch_v1(p_device, p_store, p_threshold, p_ops, p_isolate);

  -- The ops applied now (not duplicates) whose payload names anyone or any shift.
  select jsonb_agg(jsonb_build_object(
           'kind', o.e ->> 'kind',
           'doc_id', case o.e ->> 'kind' when 'sale' then o.e -> 'payload' -> 'sale_id'
                                         when 'refund' then o.e -> 'payload' -> 'refund_id'
                                         when 'void_sale' then o.e -> 'payload' -> 'void_id' end,
           'staff_id', public.kassa_doc_ref(o.e -> 'payload' -> 'staff_id'),
           'approved_by', public.kassa_doc_ref(o.e -> 'payload' -> 'approved_by'),
           'shift_id', public.kassa_doc_ref(o.e -> 'payload' -> 'shift_id'),
           'operator', case when jsonb_typeof(o.e -> 'payload' -> 'operator') = 'string'
                            then left(o.e -> 'payload' ->> 'operator', 200) end))
    into v_docs
    from jsonb_array_elements(p_ops) with ordinality as o(e, i)
    join jsonb_array_elements(r) with ordinality as x(res, j) on x.j = o.i
   where x.res ->> 'status' = 'applied'
     and o.e ->> 'kind' in ('sale', 'refund', 'void_sale', 'shift_open', 'cash_movement', 'shift_close')
     and jsonb_typeof(o.e -> 'payload') = 'object'
     and coalesce(nullif(o.e -> 'payload' -> 'staff_id', 'null'), nullif(o.e -> 'payload' -> 'approved_by', 'null'),
                  nullif(o.e -> 'payload' -> 'shift_id', 'null'), nullif(o.e -> 'payload' -> 'operator', 'null')) is not null;
  if v_docs is null then
    return r;
  end if;
  perform pg_advisory_xact_lock(public.kassa_store_lock_key(p_store)); -- (held already: re-entrant)

  update public.sales s
     set staff_id = d.staff_id, approved_by = d.approved_by, shift_id = d.shift_id, operator = d.operator,
         staff_ok = public.kassa_staff_known(p_store, d.staff_id) and public.kassa_staff_known(p_store, d.approved_by),
         shift_ok = public.kassa_shift_known(p_device, d.shift_id)
    from jsonb_to_recordset(v_docs) as d(kind text, doc_id uuid, staff_id text, approved_by text,
                                         shift_id text, operator text)
   where d.kind = 'sale' and s.id = d.doc_id and s.device_id = p_device;
  -- refunds and voids have recorded approved_by themselves (issue 10).
  update public.refunds t
     set staff_id = d.staff_id, shift_id = d.shift_id, operator = d.operator,
         staff_ok = public.kassa_staff_known(p_store, d.staff_id) and public.kassa_staff_known(p_store, d.approved_by),
         shift_ok = public.kassa_shift_known(p_device, d.shift_id)
    from jsonb_to_recordset(v_docs) as d(kind text, doc_id uuid, staff_id text, approved_by text,
                                         shift_id text, operator text)
   where d.kind = 'refund' and t.id = d.doc_id and t.device_id = p_device;
  update public.sale_voids t
     set staff_id = d.staff_id, shift_id = d.shift_id, operator = d.operator,
         staff_ok = public.kassa_staff_known(p_store, d.staff_id) and public.kassa_staff_known(p_store, d.approved_by),
         shift_ok = public.kassa_shift_known(p_device, d.shift_id)
    from jsonb_to_recordset(v_docs) as d(kind text, doc_id uuid, staff_id text, approved_by text,
                                         shift_id text, operator text)
   where d.kind = 'void_sale' and t.id = d.doc_id and t.device_id = p_device;

  v_shifts := array(select distinct (d ->> 'shift_id')::uuid from jsonb_array_elements(v_docs) d
                     where public.kassa_is_uuid(d ->> 'shift_id'));
  if cardinality(v_shifts) > 0 then
    update public.shifts sh
       set server_expected_cents = public.kassa_shift_expected(p_store, sh.id)
     where sh.id = any (v_shifts) and sh.store_id = p_store
       and sh.server_expected_cents is distinct from public.kassa_shift_expected(p_store, sh.id);
  end if;
  return r;
end
$$;

-- ---------------------------------------------------------------------------------------
-- kassa_pull with the `staff` section (otherwise as in ..._kassa_rpc.sql)

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
  return r;
end
$$;

-- ---------------------------------------------------------------------------------------
-- Privileges: as in ..._kassa_refunds_push.sql, only the RPCs are callable by devices.

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
