import { sql } from 'kysely';
import type { Role, Trx } from '../platform/index.js';

export type Lock = { kind: 'locked'; retryAfterSeconds: number };

/**
 * Wrong second-factor codes one account may collect, from all addresses together, within the lock
 * window before its second factor is locked. Only someone who knows the password reaches the code
 * step, so a stranger cannot lock an account this way; someone who does know it (a stolen
 * password) cannot spread guesses at the 6-digit code over many addresses (an IPv6 /64).
 */
export const TOTP_ACCOUNT_MAX_FAILURES = 5;

const retryAfter = (first: Date, lockMs: number) => Math.max(1, Math.ceil((first.getTime() + lockMs - Date.now()) / 1000));

/**
 * Wrong passwords and wrong second-factor codes for (username, address) since the last good login
 * or password reset, within the lock window. Takes the advisory lock of that pair, so the check,
 * the verification and the recorded failure are serialised per pair.
 */
export async function lockedOut(trx: Trx, username: string, ip: string | null, maxFailures: number, lockMs: number): Promise<Lock | null> {
  await sql`select pg_advisory_xact_lock(7301003, hashtext(${`${username}|${ip ?? ''}`}))`.execute(trx);
  const failures = await sql<{ n: number; first: Date | null }>`
    select count(*)::int as n, min(at) as first from (
      select at from audit_log
      where target_type = 'login' and target_id = ${username} and action = 'auth.login_failed'
        and ip is not distinct from ${ip}
        and at > now() - ${lockMs} * interval '1 millisecond'
        and at > coalesce((select max(at) from audit_log where action = 'auth.login' and actor_name = ${username}), '-infinity')
        and at > coalesce((select max(a.at) from audit_log a join staff_users u on a.target_id = u.id::text
                           where u.username = ${username} and a.target_type = 'staff' and a.action = 'staff.set_password'), '-infinity')
      order by at desc limit ${maxFailures}) recent`.execute(trx);
  const f = failures.rows[0];
  // The lock ends when the oldest of the counted failures leaves the window.
  if (f && f.n >= maxFailures && f.first) return { kind: 'locked', retryAfterSeconds: retryAfter(f.first, lockMs) };
  return null;
}

/**
 * Wrong second-factor codes for one account from every address, since its last good login, password
 * reset or factor reset, within the lock window. Takes the account's advisory lock (always after
 * the pair's lock of lockedOut, so the two never wait on each other in opposite orders).
 */
export async function secondFactorLocked(trx: Trx, staffId: number, username: string, lockMs: number, maxFailures = TOTP_ACCOUNT_MAX_FAILURES): Promise<Lock | null> {
  await sql`select pg_advisory_xact_lock(7301005, ${staffId}::int)`.execute(trx);
  const failures = await sql<{ n: number; first: Date | null }>`
    select count(*)::int as n, min(at) as first from (
      select at from audit_log
      where target_type = 'login' and target_id = ${username} and action = 'auth.login_failed'
        and actor_id = ${staffId} and details->>'factor' = 'totp'
        and at > now() - ${lockMs} * interval '1 millisecond'
        and at > coalesce((select max(at) from audit_log where action = 'auth.login' and actor_name = ${username} and actor_id = ${staffId}), '-infinity')
        and at > coalesce((select max(at) from audit_log where target_type = 'staff' and target_id = ${String(staffId)}
                           and action in ('staff.set_password', 'staff.totp_reset')), '-infinity')
      order by at desc limit ${maxFailures}) recent`.execute(trx);
  const f = failures.rows[0];
  if (f && f.n >= maxFailures && f.first) return { kind: 'locked', retryAfterSeconds: retryAfter(f.first, lockMs) };
  return null;
}

export async function recordFailure(
  trx: Trx,
  u: { id: number; role: Role } | undefined,
  username: string,
  ip: string | null,
  requestId: string | null,
  factor: 'password' | 'totp',
): Promise<void> {
  await sql`insert into audit_log (actor_id, actor_name, actor_role, action, target_type, target_id, ip, request_id, details)
    values (${u?.id ?? null}, ${username}, ${u?.role ?? 'system'}, 'auth.login_failed', 'login', ${username}, ${ip}, ${requestId},
            ${JSON.stringify(factor === 'password' ? {} : { factor })}::jsonb)`.execute(trx);
}
