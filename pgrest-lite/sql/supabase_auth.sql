-- pgrest-lite: the part of Supabase Auth's own schema that the auth stand-in uses.
--
-- A Supabase project has these tables already (GoTrue's migrations create them, owned by
-- `supabase_auth_admin`); this file mirrors the columns kassa and the stand-in use, with
-- Supabase's names and types, so that SQL written against them (the kassa migration that
-- checks `auth.sessions`) runs unchanged on a real project. It is NOT a kassa migration.
-- Applied after supabase_setup.sql, idempotent (many databases of one cluster share roles).

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'supabase_auth_admin') then
    -- The auth server logs in as this role (GoTrue does the same on Supabase).
    create role supabase_auth_admin login noinherit;
  end if;
exception when duplicate_object or unique_violation then
  null;
end
$$;

create schema if not exists extensions;
create extension if not exists pgcrypto with schema extensions;
grant usage on schema extensions to supabase_auth_admin;

create table if not exists auth.users (
  instance_id        uuid,
  id                 uuid primary key,
  aud                varchar(255),
  role               varchar(255),
  email              varchar(255),
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  last_sign_in_at    timestamptz,
  raw_app_meta_data  jsonb,
  raw_user_meta_data jsonb,
  banned_until       timestamptz,
  deleted_at         timestamptz,
  is_anonymous       boolean not null default false,
  created_at         timestamptz,
  updated_at         timestamptz
);
create unique index if not exists users_email_partial_key on auth.users (email);

create table if not exists auth.sessions (
  id           uuid primary key,
  user_id      uuid not null references auth.users (id) on delete cascade,
  created_at   timestamptz,
  updated_at   timestamptz,
  refreshed_at timestamp without time zone,
  not_after    timestamptz,
  aal          text,
  user_agent   text
);
create index if not exists sessions_user_id_idx on auth.sessions (user_id);

create table if not exists auth.refresh_tokens (
  instance_id uuid,
  id          bigserial primary key,
  token       varchar(255) unique,
  user_id     varchar(255),
  revoked     boolean,
  created_at  timestamptz,
  updated_at  timestamptz,
  parent      varchar(255),
  session_id  uuid references auth.sessions (id) on delete cascade
);
create index if not exists refresh_tokens_session_id_revoked_idx
  on auth.refresh_tokens (session_id, revoked);
create index if not exists refresh_tokens_parent_idx on auth.refresh_tokens (parent);

grant usage on schema auth to supabase_auth_admin;
grant all on auth.users, auth.sessions, auth.refresh_tokens to supabase_auth_admin;
grant usage, select on sequence auth.refresh_tokens_id_seq to supabase_auth_admin;
