-- Risk engine (issue 7 §1–§3): versioned rule parameters with four-eyes publishing, the decisions
-- the engine takes (with what it saw, so each can be replayed and explained), per-card rule
-- silences, and stations flagged as compromised. Rules themselves are code (src/risk/rules.ts).

-- Parameters per scope: the programme (scope_key 'default'), a segment (the card kind), or an
-- enterprise (a fleet's master card id). A version is immutable once it leaves draft; publishing a
-- new one retires the scope's previous one, and going back means publishing a copy of an older one.
create table risk_parameter_versions (
  id           bigint generated always as identity primary key,
  scope        text not null check (scope in ('programme','segment','enterprise')),
  scope_key    text not null check (scope_key ~ '^[a-z0-9_]{1,40}$'),
  version      int not null check (version > 0),
  params       jsonb not null,
  -- sha256 of the canonical JSON of params: a decision names it, so a replay can prove it used the same.
  params_hash  text not null check (params_hash ~ '^[0-9a-f]{64}$'),
  status       text not null check (status in ('draft','pending_approval','published','retired','rejected')),
  note         text,
  created_by   bigint not null references staff_users(id),
  submitted_at timestamptz,
  approved_by  bigint references staff_users(id),
  approved_at  timestamptz,
  published_at timestamptz,
  retired_at   timestamptz,
  created_at   timestamptz not null default now(),
  unique (scope, scope_key, version),
  -- Four eyes, enforced by the database as well as the use case: nobody approves their own version.
  check (approved_by is null or approved_by <> created_by),
  check ((status in ('published','retired')) = (approved_by is not null and published_at is not null))
);
-- At most one published version per scope: the one the engine uses.
create unique index risk_parameter_versions_live on risk_parameter_versions(scope, scope_key) where status = 'published';

-- One row per engine decision. context is the feature snapshot the rules saw; with the parameter
-- version (immutable) it is enough to replay the decision. sale_ref ties it to the sale or
-- authorisation it was taken for (the wiring wave fills it; null for a declined request with no row).
create table risk_decisions (
  id                 uuid primary key,
  card_id            bigint references cards(id),
  station_id         bigint references stations(id),
  terminal_id        text,
  sale_ref           text,
  outcome            text not null check (outcome in ('approve','approve_flag','step_up','delay','decline','freeze')),
  -- {hits: [{rule, outcome, enforced, suppressedBy, inputs}], errors: [rule]}: every rule that fired,
  -- enforced or not, and any that threw.
  hits               jsonb not null,
  context            jsonb not null,
  param_version_id   bigint references risk_parameter_versions(id),  -- null: the built-in default
  params_hash        text not null,
  engine_version     int not null,
  created_at         timestamptz not null default now()
);
create index risk_decisions_card on risk_decisions(card_id, created_at);
create index risk_decisions_outcome on risk_decisions(created_at) where outcome <> 'approve';

-- A reviewer silences one rule for one card until a time (after a false positive). The hit is still
-- recorded, as silenced, so nothing disappears from the decision's explanation.
create table risk_rule_silences (
  id          bigint generated always as identity primary key,
  card_id     bigint not null references cards(id),
  rule        text not null check (rule ~ '^[a-z_]{1,40}$'),
  until       timestamptz not null,
  reason      text not null,
  created_by  bigint not null references staff_users(id),
  decision_id uuid references risk_decisions(id),
  created_at  timestamptz not null default now(),
  revoked_at  timestamptz,
  check (until > created_at)
);
create index risk_rule_silences_card on risk_rule_silences(card_id, until) where revoked_at is null;

-- Stations flagged as compromised (skimmer found, common point of purchase). One open flag per station.
create table risk_flagged_stations (
  id          bigint generated always as identity primary key,
  station_id  bigint not null references stations(id),
  reason      text not null,
  flagged_by  bigint references staff_users(id),
  flagged_at  timestamptz not null default now(),
  cleared_by  bigint references staff_users(id),
  cleared_at  timestamptz
);
create unique index risk_flagged_stations_open on risk_flagged_stations(station_id) where cleared_at is null;
-- The loader asks "was it flagged at time t" (a backtest replays the past), not only "is it flagged now".
create index risk_flagged_stations_station on risk_flagged_stations(station_id, flagged_at);

-- The loader reads a card's refunds (the top-up/refund cash-out rule); sales and recharges
-- already have their (card_id, created_at) indexes.
create index if not exists payment_refunds_card on payment_refunds(card_id, created_at);
