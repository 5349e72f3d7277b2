import { randomBytes, scryptSync } from 'node:crypto';
import { sql } from 'kysely';
import type { Actor, Db, FieldCipher, Trx } from '../platform/index.js';
import { audit, platformError, sha256Hex, verifyPassword } from '../platform/index.js';
import { lockedOut, recordFailure } from './staff.lockout.js';
import { assertMayManage } from './staff.policy.js';
import { staffError } from './staff.errors.js';
import type { Role } from '../platform/index.js';
import {
  base32Encode,
  matchTotp,
  newRecoveryCode,
  newTotpSecret,
  normaliseRecoveryCode,
  otpauthUri,
  RECOVERY_CODE_COUNT,
  RECOVERY_CODE_PATTERN,
} from './totp.js';

export const TOTP_ISSUER = 'FuelCard';

/**
 * A recovery code has about 49 bits; a memory-hard hash salted by the staff id keeps a leaked table
 * from being searched cheaply, and being deterministic per user it is found by equality.
 */
function recoveryHash(staffId: number, code: string): string {
  return scryptSync(normaliseRecoveryCode(code), `fuelcard-recovery:${staffId}`, 32, { N: 16384, r: 8, p: 1 }).toString('base64url');
}

export interface TotpStatus {
  enabled: boolean;
  pending: boolean;
  recoveryCodesLeft: number;
}

export async function totpStatus(db: Db | Trx, staffId: number): Promise<TotpStatus> {
  const r = await sql<{ confirmed: boolean | null; left: number }>`
    select (select confirmed_at is not null from staff_totp where staff_id = ${staffId}) as confirmed,
           (select count(*)::int from staff_recovery_codes where staff_id = ${staffId} and used_at is null) as left`.execute(db);
  const row = r.rows[0]!;
  return { enabled: row.confirmed === true, pending: row.confirmed === false, recoveryCodesLeft: row.left };
}

/** 120 bits, grouped by four for reading out: guessing is hopeless, so it needs no counter. */
function newEnrolmentCode(): string {
  return base32Encode(randomBytes(15)).match(/.{4}/g)!.join('-');
}
const enrolmentCodeHash = (code: string) => sha256Hex(`fuelcard-totp-enrolment:${code.toUpperCase().replace(/[^A-Z2-7]/g, '')}`);

export interface EnrolProof {
  /** The current password: needed to replace a pending enrolment. */
  password?: string;
  /** The code handed over at a factor reset: needed until the new factor is confirmed. */
  enrolmentCode?: string;
  ip: string | null;
  requestId: string | null;
  maxFailures?: number;
  lockMs?: number;
}

/**
 * Starts (or restarts) an enrolment: a new secret, stored encrypted and pending until a code from
 * it is confirmed. The secret is shown now and never again. An enabled factor is not replaced
 * here: that takes a reset, so a stolen session cannot swap the factor. Replacing a pending secret
 * takes the current password again, so a stolen session cannot swap the one its holder is
 * enrolling. After a reset, enrolling takes the enrolment code the resetting officer handed to the
 * holder in person, so whoever signs in first with a (perhaps stolen) password cannot claim the
 * factor. A wrong password here counts towards the login lockout of (username, address).
 */
export async function enrolTotp(db: Db, cipher: FieldCipher, actor: Actor & { staffId: number }, proof: EnrolProof = { ip: null, requestId: null }): Promise<{ secret: string; otpauthUri: string }> {
  const secret = newTotpSecret();
  const outcome = await db.transaction().execute(async (trx) => {
    const u = await sql<{ username: string; role: Role; password_hash: string; code_hash: string | null }>`
      select username, role, password_hash, totp_enrolment_code_hash as code_hash from staff_users where id = ${actor.staffId} for update`.execute(trx);
    const me = u.rows[0];
    if (!me) throw platformError('UNAUTHENTICATED');
    const cur = await sql<{ confirmed_at: Date | null }>`select confirmed_at from staff_totp where staff_id = ${actor.staffId} for update`.execute(trx);
    if (cur.rows[0]?.confirmed_at) throw staffError('AUTH_TOTP_ALREADY_ENABLED');
    if (me.code_hash !== null && (!proof.enrolmentCode || enrolmentCodeHash(proof.enrolmentCode) !== me.code_hash)) {
      await audit(trx, actor, { action: 'staff.totp_enrol_refused', targetType: 'staff', targetId: actor.staffId, details: { reason: 'enrolment_code' } });
      return 'code' as const;
    }
    if (cur.rows[0]) {
      if (!proof.password) return 'password' as const;
      const lock = await lockedOut(trx, me.username, proof.ip, proof.maxFailures ?? 5, proof.lockMs ?? 30 * 60_000);
      if (lock) throw platformError('RATE_LIMITED', { reason: 'too many wrong passwords', retryAfterSeconds: lock.retryAfterSeconds });
      if (!(await verifyPassword(me.password_hash, proof.password))) {
        await recordFailure(trx, { id: actor.staffId, role: me.role }, me.username, proof.ip, proof.requestId, 'password');
        return 'password' as const;
      }
    }
    await sql`insert into staff_totp (staff_id, secret_enc) values (${actor.staffId}, ${cipher.encrypt(secret)})
      on conflict (staff_id) do update set secret_enc = excluded.secret_enc, created_at = now(), last_used_step = 0`.execute(trx);
    await audit(trx, actor, { action: 'staff.totp_enrol_started', targetType: 'staff', targetId: actor.staffId, details: cur.rows[0] ? { replacedPending: true } : {} });
    return 'ok' as const;
  });
  if (outcome === 'code') throw staffError('AUTH_TOTP_ENROLMENT_CODE_INVALID');
  if (outcome === 'password') throw staffError('AUTH_PASSWORD_REQUIRED');
  return { secret, otpauthUri: otpauthUri({ issuer: TOTP_ISSUER, account: actor.name, secret }) };
}

/**
 * Confirms a pending enrolment with a current code: the factor is enabled, fresh recovery codes
 * replace any old ones (returned once, stored hashed), and the session the code was entered in,
 * if it was restricted to enrolment, becomes a full one (password and factor both proven).
 */
export async function confirmTotp(
  db: Db,
  cipher: FieldCipher,
  actor: Actor & { staffId: number },
  input: { code: string; sessionTokenHash: string | null; nowMs?: number },
): Promise<{ recoveryCodes: string[] }> {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
  const hashes = codes.map((c) => recoveryHash(actor.staffId, c));
  const outcome = await db.transaction().execute(async (trx) => {
    const cur = await sql<{ secret_enc: string; confirmed_at: Date | null; last_used_step: string }>`
      select secret_enc, confirmed_at, last_used_step from staff_totp where staff_id = ${actor.staffId} for update`.execute(trx);
    const row = cur.rows[0];
    if (!row) throw staffError('AUTH_TOTP_NOT_PENDING');
    if (row.confirmed_at) throw staffError('AUTH_TOTP_ALREADY_ENABLED');
    const step = matchTotp(cipher.decrypt(row.secret_enc), input.code, input.nowMs ?? Date.now(), Number(row.last_used_step));
    if (step === null) {
      await audit(trx, actor, { action: 'staff.totp_confirm_failed', targetType: 'staff', targetId: actor.staffId });
      return 'wrong' as const;
    }
    await sql`update staff_totp set confirmed_at = now(), last_used_step = ${step} where staff_id = ${actor.staffId}`.execute(trx);
    await sql`update staff_users set totp_enrolment_code_hash = null where id = ${actor.staffId}`.execute(trx);
    await sql`delete from staff_recovery_codes where staff_id = ${actor.staffId}`.execute(trx);
    for (const h of hashes) await sql`insert into staff_recovery_codes (staff_id, code_hash) values (${actor.staffId}, ${h})`.execute(trx);
    if (input.sessionTokenHash) {
      await sql`update staff_sessions set scope = 'full' where token_hash = ${input.sessionTokenHash} and user_id = ${actor.staffId}`.execute(trx);
    }
    await audit(trx, actor, { action: 'staff.totp_enabled', targetType: 'staff', targetId: actor.staffId, details: { recoveryCodes: codes.length } });
    return 'ok' as const;
  });
  if (outcome === 'wrong') throw staffError('AUTH_TOTP_INVALID');
  return { recoveryCodes: codes };
}

/**
 * Checks a second factor inside the login transaction: a TOTP code (its step recorded, so the same
 * code cannot be used twice) or an unused recovery code (spent). Which kind matched, or null.
 */
export async function checkSecondFactor(trx: Trx, cipher: FieldCipher, staffId: number, code: string, nowMs: number): Promise<'totp' | 'recovery_code' | null> {
  const trimmed = code.trim();
  if (/^[0-9]{6}$/.test(trimmed)) {
    const r = await sql<{ secret_enc: string; last_used_step: string }>`
      select secret_enc, last_used_step from staff_totp where staff_id = ${staffId} and confirmed_at is not null for update`.execute(trx);
    const row = r.rows[0];
    if (!row) return null;
    const step = matchTotp(cipher.decrypt(row.secret_enc), trimmed, nowMs, Number(row.last_used_step));
    if (step === null) return null;
    await sql`update staff_totp set last_used_step = ${step} where staff_id = ${staffId}`.execute(trx);
    return 'totp';
  }
  if (RECOVERY_CODE_PATTERN.test(trimmed.toLowerCase())) {
    const r = await sql`update staff_recovery_codes set used_at = now()
      where staff_id = ${staffId} and code_hash = ${recoveryHash(staffId, trimmed)} and used_at is null returning id`.execute(trx);
    return r.rows.length === 1 ? 'recovery_code' : null;
  }
  return null;
}

/**
 * A staff manager removes a staff member's second factor (a lost phone), within the three-role
 * split: an administrator's by another administrator, a security officer's or auditor's by a
 * security officer (staff.policy.ts). The factor, its recovery codes, the member's sessions and
 * pending sign-in challenges go. The answer is a one-time enrolment code, stored only hashed, which
 * the officer hands to the member in person: enrolling a new factor requires it, so a stolen
 * password alone cannot claim the account's new factor. Audited; never one's own.
 */
export async function resetTotp(db: Db, actor: Actor, staffId: number): Promise<{ enrolmentCode: string }> {
  const enrolmentCode = newEnrolmentCode();
  await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(7301004)`.execute(trx);
    if (actor.staffId === staffId) throw staffError('STAFF_SELF_CHANGE', { field: 'totp' });
    let role = actor.role;
    if (actor.staffId !== null) {
      // Checked again under the lock: a change committed meanwhile may have disabled or demoted them.
      const me = (await sql<{ role: Role; status: string }>`select role, status from staff_users where id = ${actor.staffId}`.execute(trx)).rows[0];
      if (!me || me.status !== 'active') throw platformError('UNAUTHENTICATED');
      role = me.role;
    }
    const r = await sql<{ username: string; role: Role }>`select username, role from staff_users where id = ${staffId} for update`.execute(trx);
    const user = r.rows[0];
    if (!user) throw staffError('STAFF_NOT_FOUND', { staffId });
    assertMayManage({ ...actor, role }, user.role);
    const had = await sql`delete from staff_totp where staff_id = ${staffId} returning confirmed_at`.execute(trx);
    const codes = await sql`delete from staff_recovery_codes where staff_id = ${staffId}`.execute(trx);
    const s = await sql`update staff_sessions set revoked_at = now() where user_id = ${staffId} and revoked_at is null`.execute(trx);
    await sql`delete from staff_login_challenges where staff_id = ${staffId}`.execute(trx);
    await sql`update staff_users set totp_enrolment_code_hash = ${enrolmentCodeHash(enrolmentCode)} where id = ${staffId}`.execute(trx);
    await audit(trx, actor, {
      action: 'staff.totp_reset',
      targetType: 'staff',
      targetId: staffId,
      details: { username: user.username, hadFactor: had.rows.length > 0, recoveryCodesRemoved: Number(codes.numAffectedRows ?? 0), sessionsEnded: Number(s.numAffectedRows ?? 0) },
    });
  });
  return { enrolmentCode };
}
