-- Review cases (人工审核), issue 7 §4. One open case per card collects every flagged, delayed,
-- stepped-up, declined-by-risk or frozen event of that card until a reviewer closes it; each event
-- is an item tied to its risk decision. The sale path opens or extends a case in the sale's own
-- transaction (openRiskCase in src/risk), so a sale and its case commit together.
create table risk_cases (
  id               bigint generated always as identity primary key,
  card_id          bigint not null references cards(id),
  status           text not null default 'open' check (status in ('open','in_review','closed')),
  -- The most severe outcome among the case's items: orders the queue.
  outcome          text not null check (outcome in ('approve_flag','step_up','delay','decline','freeze')),
  priority         int not null check (priority between 1 and 3),       -- 1 = most urgent
  items            int not null default 0,
  amount           bigint not null default 0,                          -- fen, sum of the items' amounts
  assigned_to      bigint references staff_users(id),
  assigned_at      timestamptz,
  due_at           timestamptz not null,                               -- SLA: the earliest item's deadline
  sla_breached_at  timestamptz,
  resolution       text check (resolution in ('released','false_positive','confirmed_fraud','card_blocked','reversed','no_action')),
  resolved_by      bigint references staff_users(id),
  resolved_at      timestamptz,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  check ((status = 'closed') = (resolved_at is not null))
);
create unique index risk_cases_open_card on risk_cases(card_id) where status <> 'closed';
create index risk_cases_queue on risk_cases(priority, due_at) where status <> 'closed';
create index risk_cases_card on risk_cases(card_id, created_at);

create table risk_case_items (
  id                bigint generated always as identity primary key,
  case_id           bigint not null references risk_cases(id),
  decision_id       uuid not null references risk_decisions(id),
  outcome           text not null check (outcome in ('approve_flag','step_up','delay','decline','freeze')),
  channel           text not null,
  sale_id           uuid,                                              -- the sale, when one was written
  authorisation_id  uuid,                                              -- the pump authorisation (pre-auth, delay)
  station_id        bigint references stations(id),
  amount            bigint not null,
  created_at        timestamptz not null default now()
);
create index risk_case_items_case on risk_case_items(case_id, id);
create unique index risk_case_items_decision on risk_case_items(decision_id);

-- The case's history: opened, item added, assigned, note, SLA breached, staff alerted, holder
-- notified, holder's appeal, resolved. Append-only; staff actions are also in the audit log (and
-- views of unmasked evidence only there). 'staff_alerted' and 'holder_notified' make each alert of
-- the case job (src/cases) go out once: body.alert / body.reason (+ body.itemId) name which.
create table risk_case_events (
  id         bigint generated always as identity primary key,
  case_id    bigint not null references risk_cases(id),
  kind       text not null check (kind in ('opened','item_added','assigned','unassigned','note','sla_breached','holder_notified','staff_alerted','resolved','reopened','appeal')),
  staff_id   bigint references staff_users(id),
  body       jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now()
);
create index risk_case_events_case on risk_case_events(case_id, id);
-- The staff alert feed (GET /api/v1/cases/alerts) reads the newest alerts.
create index risk_case_events_staff_alerts on risk_case_events(id) where kind = 'staff_alerted';
