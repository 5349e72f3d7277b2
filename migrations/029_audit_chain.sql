-- Tamper-evident audit log (issue 7 §8; docs/audit.md).
-- Rows are still inserted by business transactions without a hash, so audited writes never queue
-- on one lock; the sealer (src/platform/audit-chain.ts) later gives each row, in seal order, a
-- gapless seq and hash = SHA-256(previous hash || canonical row).
alter table audit_log add column seq bigint, add column hash bytea;
alter table audit_log add constraint audit_log_sealed_whole check ((seq is null) = (hash is null));
alter table audit_log add constraint audit_log_hash_len check (hash is null or octet_length(hash) = 32);
create unique index audit_log_seq on audit_log(seq);
-- The sealer's queue: small, because rows leave it within seconds.
create index audit_log_unsealed on audit_log(id) where seq is null;

-- The chain's head as the sealer last left it: verify compares the recomputed chain with it, which
-- is what notices rows cut off the end of the chain. One row, created here.
create table audit_chain_head (
  singleton  boolean primary key default true check (singleton),
  seq        bigint not null,
  hash       bytea not null check (octet_length(hash) = 32),
  sealed_at  timestamptz not null default now()
);
insert into audit_chain_head (seq, hash) values (0, '\x0000000000000000000000000000000000000000000000000000000000000000');

-- A checkpoint (seq, hash of that row) lets verify start after rows an operator archived out of the
-- table. Written only by that operator action; append-only like the log itself.
create table audit_chain_checkpoints (
  seq        bigint primary key check (seq > 0),
  hash       bytea not null check (octet_length(hash) = 32),
  created_at timestamptz not null default now(),
  note       text not null
);
create trigger audit_chain_checkpoints_append_only before update or delete on audit_chain_checkpoints
  for each row execute function forbid_change();
create trigger audit_chain_checkpoints_no_truncate before truncate on audit_chain_checkpoints
  for each statement execute function forbid_change();

-- Append-only, except that the sealer may set seq and hash once on a row that has neither, changing
-- nothing else. A new row arrives unsealed, so nobody can insert a row that claims a place in the chain.
create function audit_log_guard() returns trigger language plpgsql as $$
begin
  if tg_op = 'INSERT' then
    if new.seq is not null or new.hash is not null then
      raise exception 'audit_log rows are sealed only by the sealer' using errcode = '42501';
    end if;
    return new;
  end if;
  if tg_op = 'UPDATE'
     and old.seq is null and old.hash is null and new.seq is not null and new.hash is not null
     and new.id = old.id and new.at = old.at
     and new.actor_id is not distinct from old.actor_id and new.actor_name = old.actor_name
     and new.actor_role = old.actor_role and new.action = old.action and new.target_type = old.target_type
     and new.target_id is not distinct from old.target_id and new.details = old.details
     and new.ip is not distinct from old.ip and new.request_id is not distinct from old.request_id then
    return new;
  end if;
  raise exception 'table % is append-only', tg_table_name using errcode = '42501';
end $$;

drop trigger audit_log_append_only on audit_log;
create trigger audit_log_append_only before insert or update or delete on audit_log
  for each row execute function audit_log_guard();

-- Each full verification's outcome (job, CLI or console), newest read by the console's
-- "chain verified up to seq N". A record of checks, not evidence: verify always recomputes.
create table audit_chain_verifications (
  id           bigint generated always as identity primary key,
  at           timestamptz not null default now(),
  source       text not null check (source in ('job', 'cli', 'api')),
  ok           boolean not null,
  rows_checked bigint not null,
  verified_seq bigint not null,
  head_seq     bigint not null,
  broken_seq   bigint,
  problems     jsonb not null default '[]'
);
create index audit_chain_verifications_at on audit_chain_verifications(at desc);
