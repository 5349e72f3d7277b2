-- Platform: staff, sessions, the audit log, idempotency records, the outbox.

create table staff_users (
  id            bigint generated always as identity primary key,
  username      text not null unique check (username ~ '^[a-z0-9_.-]{3,32}$'),
  display_name  text not null,
  password_hash text not null,
  role          text not null check (role in ('admin','operator','finance','risk','station_staff',
                                              'enterprise_admin','department_admin','cardholder')),
  station_id    bigint,
  status        text not null default 'active' check (status in ('active','disabled')),
  created_at    timestamptz not null default now()
);

create table staff_sessions (
  token_hash  text primary key,
  user_id     bigint not null references staff_users(id),
  created_at  timestamptz not null default now(),
  expires_at  timestamptz not null,
  revoked_at  timestamptz,
  ip          text
);
create index staff_sessions_user on staff_sessions(user_id);

-- Append-only: who did what, when, from where.
create table audit_log (
  id          bigint generated always as identity primary key,
  at          timestamptz not null default now(),
  actor_id    bigint,
  actor_name  text not null,
  actor_role  text not null,
  action      text not null,
  target_type text not null,
  target_id   text,
  details     jsonb not null default '{}',
  ip          text,
  request_id  text
);
create index audit_log_target on audit_log(target_type, target_id);
create index audit_log_at on audit_log(at);

create function forbid_change() returns trigger language plpgsql as $$
begin
  raise exception 'table % is append-only', tg_table_name using errcode = '42501';
end $$;

create trigger audit_log_append_only before update or delete on audit_log
  for each row execute function forbid_change();

-- One row per (scope, key): the first answer to a money-moving request, kept so a retry
-- gets the same answer. Written in the same transaction as the movement it records.
create table idempotency_keys (
  scope         text not null,
  key           text not null,
  request_hash  text not null,
  status_code   int,
  response      jsonb,
  created_at    timestamptz not null default now(),
  primary key (scope, key)
);

-- Transactional outbox: events committed with the change they describe.
create table outbox_events (
  id           bigint generated always as identity primary key,
  topic        text not null,
  aggregate_id text not null,
  payload      jsonb not null,
  created_at   timestamptz not null default now(),
  published_at timestamptz
);
create index outbox_unpublished on outbox_events(id) where published_at is null;
