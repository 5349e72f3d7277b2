-- Staff authentication and access, issue 7 §5 (docs/access.md).

-- 等保 2.0 level 3 three-role split (三员分立): the system administrator (admin, 系统管理员) is joined
-- by a security officer (安全管理员) and an auditor (审计管理员).
alter table staff_users drop constraint staff_users_role_check;
alter table staff_users add constraint staff_users_role_check check (role in (
  'admin','security_officer','auditor','operator','finance','risk','station_staff',
  'enterprise_admin','department_admin','cardholder'));

-- The enterprise (fleet) customer an enterprise or department administrator acts for: their cards,
-- sub-cards and statements are all such an account may see. Only those two roles carry one. That an
-- enterprise administrator must have one is enforced where accounts are created through the API
-- (STAFF_CUSTOMER_REQUIRED); one without is scoped to nothing (every owned object answers 404).
alter table staff_users add column customer_id bigint references customers(id);
alter table staff_users add constraint staff_users_customer_role
  check (customer_id is null or role in ('enterprise_admin','department_admin'));
create index staff_users_customer on staff_users(customer_id) where customer_id is not null;

-- A session is either full, or restricted to enrolling a second factor (an administrator who must
-- have TOTP and has none yet).
alter table staff_sessions add column scope text not null default 'full' check (scope in ('full','totp_enrolment'));

-- Sessions open before this migration were opened with a password alone: an administrator's must
-- not carry on as a full one that skipped the second factor now required, so they end here and
-- the next sign-in goes through TOTP (or its enrolment).
update staff_sessions set revoked_at = now()
where revoked_at is null and user_id in (select id from staff_users where role in ('admin','security_officer','auditor'));

-- After a second-factor reset, enrolling a new one takes the one-time code the resetting officer
-- handed to the holder in person (only its hash is kept); cleared when the new factor is confirmed.
alter table staff_users add column totp_enrolment_code_hash text;

-- TOTP (RFC 6238) second factor. The secret is field-encrypted (FieldCipher); confirmed_at null
-- means enrolment is pending. last_used_step refuses a code's replay within its window.
create table staff_totp (
  staff_id        bigint primary key references staff_users(id),
  secret_enc      text not null,
  created_at      timestamptz not null default now(),
  confirmed_at    timestamptz,
  last_used_step  bigint not null default 0
);

-- One-time recovery codes, stored as keyed hashes only; each may be used once.
create table staff_recovery_codes (
  id          bigint generated always as identity primary key,
  staff_id    bigint not null references staff_users(id),
  code_hash   text not null,
  created_at  timestamptz not null default now(),
  used_at     timestamptz,
  unique (staff_id, code_hash)
);

-- Password accepted, second factor still owed: a short-lived challenge, never a session.
create table staff_login_challenges (
  token_hash  text primary key,
  staff_id    bigint not null references staff_users(id),
  ip          text,
  created_at  timestamptz not null default now(),
  expires_at  timestamptz not null,
  attempts    int not null default 0,
  used_at     timestamptz
);
create index staff_login_challenges_staff on staff_login_challenges(staff_id);
