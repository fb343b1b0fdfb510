-- pgrest-lite: what a Supabase project already has before `supabase db push`.
--
-- This file mirrors the parts of a fresh Supabase database that kassa's migrations rely on:
-- the API roles (anon, authenticated, service_role, authenticator), the role settings
-- Supabase ships (statement timeouts), the `auth` schema helpers that read the JWT claims
-- PostgREST puts into `request.jwt.claims`, and Supabase's default privileges on `public`.
-- It is NOT a migration: a real Supabase project has all of this already.
--
-- Roles are cluster-wide and this file is applied to many databases of one cluster
-- (one per test), so everything here is idempotent.

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticator') then
    -- PostgREST logs in as authenticator and switches to the JWT's role per request.
    create role authenticator login noinherit;
  end if;
exception when duplicate_object or unique_violation then
  null; -- another database of this cluster created them at the same moment
end
$$;

grant anon, authenticated, service_role to authenticator;

-- Supabase's defaults (see supabase/postgres: roles.sql).
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';

-- The auth schema helpers, as Supabase defines them: they read the claims that the data API
-- stores in the transaction-local setting `request.jwt.claims` (and the legacy
-- `request.jwt.claim.*` settings).
create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;

create or replace function auth.uid() returns uuid
language sql stable
as $$
  select nullif(
    coalesce(
      nullif(current_setting('request.jwt.claim.sub', true), ''),
      (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
    ),
    ''
  )::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

create or replace function auth.jwt() returns jsonb
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

grant execute on function auth.uid(), auth.role(), auth.jwt() to anon, authenticated, service_role;

-- Supabase grants the API roles everything in `public` by default and relies on RLS.
grant usage on schema public to anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
