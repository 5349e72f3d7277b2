-- DUKPT terminals in the ISO 8583 host (issue 6 §3, docs/pos-dukpt.md) and the key rollover deadline.

-- How a terminal's keys are managed: 'session' = TMK + session keys exchanged at sign-on (025);
-- 'dukpt' = a key per transaction derived from a BDK and the KSN the message carries (DE 53).
-- A DUKPT terminal is bound to one device (its initial KSN / AES initial key ID): a KSN of any
-- other device is not this terminal's, even under the same BDK.
alter table pos_terminals
  add column key_management text not null default 'session' check (key_management in ('session', 'dukpt')),
  add column dukpt_bdk_ref  text,
  add column dukpt_device   text unique,
  add constraint pos_terminals_dukpt_binding check ((key_management = 'dukpt') = (dukpt_bdk_ref is not null and dukpt_device is not null));

-- The key store's KSN replay state, one row per DUKPT device (host/db-keystore.ts dukptAcceptKsn):
-- the highest KSN accepted, set by compare-and-set under a row lock only after the message's MAC
-- verified under that KSN. last_request is the request (terminal|class|STAN|local time) that set it:
-- a retransmission of that very request is not a replay. device_no numbers devices per BDK so the
-- key ceremony can hand out the next initial KSN.
create table pos_dukpt_devices (
  device        text primary key check (device ~ '^(tdes:[0-9A-F]{20}|aes:[0-9A-F]{16})$'),
  bdk_ref       text not null,
  device_no     bigint,        -- null: a device registered without a number (injected elsewhere)
  last_ksn      bytea,
  last_counter  bigint not null default 0,
  last_request  text,
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now(),
  unique (bdk_ref, device_no)
);
