-- kassa: tills that sign in to Supabase Auth (issue 13).
--
-- A till enrolled with `kassa enroll` is a Supabase Auth user (id = the device id,
-- app_metadata.store_id = its store) and calls the RPCs with the access tokens Auth issues.
-- Those carry a `session_id` claim. An access token stays valid until it expires even after
-- the store owner revoked the device (banned or deleted its user, or signed it out), so the
-- device check also requires that the token's session still exists and that its user is
-- neither banned nor deleted: a revoked till is refused at its next call, not an hour later.
-- Tokens without `session_id` (static device tokens minted with the JWT secret) are checked
-- as before.

create or replace function public.kassa_session_ok() returns boolean
language sql stable security definer
set search_path = ''
as $$
  select case
    when auth.jwt() ->> 'session_id' is null then true
    when not public.kassa_is_uuid(auth.jwt() ->> 'session_id') then false
    else exists (
      select 1
      from auth.sessions s
      join auth.users u on u.id = s.user_id
      where s.id = (auth.jwt() ->> 'session_id')::uuid
        and u.id::text = auth.jwt() ->> 'sub'
        and (s.not_after is null or s.not_after > now())
        and (u.banned_until is null or u.banned_until <= now())
        and u.deleted_at is null)
  end
$$;
revoke all on function public.kassa_session_ok() from public, anon;
grant execute on function public.kassa_session_ok() to authenticated, service_role;

create or replace function public.kassa_caller(out device_id uuid, out store_id uuid)
language plpgsql stable
set search_path = ''
as $$
declare
  v_sub text := auth.jwt() ->> 'sub';
  v_store uuid := public.kassa_jwt_store_id();
  v_actual uuid;
begin
  if not public.kassa_is_uuid(v_sub) or v_store is null then
    raise exception using errcode = '42501',
      message = 'not a device token',
      hint = 'the token must carry sub = <device uuid> and app_metadata.store_id = <store uuid>';
  end if;
  if not public.kassa_session_ok() then
    raise exception using errcode = '42501',
      message = 'session revoked',
      hint = 'the sign-in session of this device was ended (device user signed out, banned or deleted); enrol the till again';
  end if;
  select d.store_id into v_actual from public.devices d where d.id = v_sub::uuid and d.active;
  if v_actual is null or v_actual <> v_store then
    raise exception using errcode = '42501',
      message = 'unknown device',
      hint = 'the device is not registered (or not active) in the store named by the token';
  end if;
  device_id := v_sub::uuid;
  store_id := v_store;
end
$$;

-- Row Level Security goes through kassa_current_store(): the same session check there.
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
    and public.kassa_session_ok()
$$;
