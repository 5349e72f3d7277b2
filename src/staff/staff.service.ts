import { sql } from 'kysely';
import type { Actor, Db, Executor, FieldCipher, Role, StaffPrincipal, Trx } from '../platform/index.js';
import { audit, hashPassword, pgErrorCode, PgCode, platformError, randomToken, sha256Hex, verifyPassword } from '../platform/index.js';
import { getStation } from '../stations/index.js';
import { customerExists, customersError } from '../customers/index.js';
import { staffError } from './staff.errors.js';
import { assertCustomerFits, assertMayManage, totpRequiredFor, type AdminTotpPolicy } from './staff.policy.js';
import { checkSecondFactor } from './staff.totp.js';
import { lockedOut, recordFailure, secondFactorLocked, type Lock } from './staff.lockout.js';


export interface StaffUser {
  id: number;
  username: string;
  displayName: string;
  role: Role;
  stationId: number | null;
  customerId: number | null;
  status: 'active' | 'disabled';
  createdAt: string;
}


export async function createStaff(
  db: Executor,
  actor: Actor,
  input: { username: string; password: string; role: Role; displayName?: string; stationId?: number | null; customerId?: number | null },
  opts: { allowWeakPassword?: boolean } = {},
): Promise<StaffUser> {
  assertMayManage(actor, input.role);
  assertCustomerFits(actor, input.role, input.customerId ?? null);
  if (!opts.allowWeakPassword && input.password.length < 10) throw staffError('STAFF_PASSWORD_WEAK', { field: 'password' });
  const hash = await hashPassword(input.password);
  // The user and its audit row commit together: in the caller's transaction, or in one of our own.
  const insert = async (trx: Executor): Promise<StaffUser> => {
    // Checked here for a clear 404 (the foreign key would only say 23503).
    if (input.stationId !== undefined && input.stationId !== null) await getStation(trx, input.stationId);
    const customerId = input.customerId ?? null;
    if (customerId !== null && !(await customerExists(trx, customerId))) throw customersError('CUSTOMER_NOT_FOUND', { customerId });
    const r = await sql<{ id: number; created_at: Date }>`insert into staff_users (username, display_name, password_hash, role, station_id, customer_id)
      values (${input.username}, ${input.displayName ?? input.username}, ${hash}, ${input.role}, ${input.stationId ?? null}, ${customerId})
      returning id, created_at`.execute(trx);
    const row = r.rows[0]!;
    await audit(trx, actor, { action: 'staff.create', targetType: 'staff', targetId: row.id, details: { username: input.username, role: input.role, ...(customerId !== null ? { customerId } : {}) } });
    return {
      id: row.id,
      username: input.username,
      displayName: input.displayName ?? input.username,
      role: input.role,
      stationId: input.stationId ?? null,
      customerId: input.customerId ?? null,
      status: 'active',
      createdAt: row.created_at.toISOString(),
    };
  };
  try {
    return db.isTransaction ? await insert(db) : await (db as Db).transaction().execute(insert);
  } catch (err) {
    if (pgErrorCode(err) === PgCode.uniqueViolation) throw staffError('STAFF_USERNAME_TAKEN', { field: 'username' });
    throw err;
  }
}

export async function listStaff(db: Executor): Promise<StaffUser[]> {
  const r = await sql<{ id: number; username: string; display_name: string; role: Role; station_id: number | null; customer_id: number | null; status: 'active' | 'disabled'; created_at: Date }>`
    select id, username, display_name, role, station_id, customer_id, status, created_at from staff_users order by id limit 1000`.execute(db);
  return r.rows.map((u) => ({
    id: u.id,
    username: u.username,
    displayName: u.display_name,
    role: u.role,
    stationId: u.station_id,
    customerId: u.customer_id,
    status: u.status,
    createdAt: u.created_at.toISOString(),
  }));
}

/** The second-factor challenge a correct password earns when TOTP is enabled: short, and a few tries. */
export const LOGIN_CHALLENGE_TTL_MS = 5 * 60_000;
const LOGIN_CHALLENGE_MAX_TRIES = 5;

export interface LoginLimits {
  ip: string | null;
  requestId: string | null;
  ttlMs: number;
  maxFailures?: number;
  lockMs?: number;
}

/** The principal as a login answers it, every field present. */
export type SignedInUser = StaffPrincipal & { customerId: number | null; sessionScope: 'full' | 'totp_enrolment' };
export interface StaffSession {
  token: string;
  expiresAt: string;
  user: SignedInUser;
  totpEnrolmentRequired: boolean;
}
export type LoginResult = StaffSession | { totpRequired: true; challenge: string; challengeExpiresAt: string };

async function openSession(
  trx: Trx,
  u: { id: number; username: string; role: Role; station_id: number | null; customer_id: number | null },
  input: LoginLimits,
  scope: 'full' | 'totp_enrolment',
  factor: 'password' | 'totp' | 'recovery_code',
): Promise<{ token: string; expiresAt: Date; user: SignedInUser }> {
  const token = randomToken();
  const expiresAt = new Date(Date.now() + input.ttlMs);
  await sql`insert into staff_sessions (token_hash, user_id, expires_at, ip, scope) values (${sha256Hex(token)}, ${u.id}, ${expiresAt}, ${input.ip}, ${scope})`.execute(trx);
  const details = JSON.stringify(factor === 'password' && scope === 'full' ? {} : { factor, ...(scope === 'full' ? {} : { scope }) });
  await sql`insert into audit_log (actor_id, actor_name, actor_role, action, target_type, target_id, ip, request_id, details)
    values (${u.id}, ${u.username}, ${u.role}, 'auth.login', 'staff', ${String(u.id)}, ${input.ip}, ${input.requestId}, ${details}::jsonb)`.execute(trx);
  return { token, expiresAt, user: { id: u.id, username: u.username, role: u.role, stationId: u.station_id, customerId: u.customer_id, sessionScope: scope } };
}

type UserRow = { id: number; username: string; password_hash: string; role: Role; station_id: number | null; customer_id: number | null; status: string; totp: boolean };

/**
 * Staff login. Password guessing is limited per (username, client address): after maxFailures
 * wrong passwords (or wrong second-factor codes) within lockMs the next tries are refused without
 * checking anything until the window has passed. Per address, so nobody can lock an administrator
 * out from elsewhere; the same for unknown usernames, so the refusal does not tell which names
 * exist. The check, the verification and the recorded failure are serialised per (username,
 * address) by an advisory lock, so parallel guesses cannot slip past the count. The audit log is
 * the record.
 *
 * A member of staff with TOTP enabled gets a short-lived challenge instead of a session, redeemed
 * by loginWithTotp. An administrator who must have TOTP (adminTotp 'required') and has none gets a
 * session restricted to enrolling it.
 */
export async function passwordLogin(
  db: Db,
  input: LoginLimits & { username: string; password: string; adminTotp?: AdminTotpPolicy },
): Promise<LoginResult> {
  const maxFailures = input.maxFailures ?? 5;
  const lockMs = input.lockMs ?? 30 * 60_000;
  type Outcome =
    | { kind: 'ok'; token: string; expiresAt: Date; user: SignedInUser }
    | { kind: 'challenge'; challenge: string; expiresAt: Date }
    | { kind: 'wrong' }
    | Lock;
  const outcome = await db.transaction().execute(async (trx): Promise<Outcome> => {
    const lock = await lockedOut(trx, input.username, input.ip, maxFailures, lockMs);
    if (lock) return lock;
    const r = await sql<UserRow>`
      select u.id, u.username, u.password_hash, u.role, u.station_id, u.customer_id, u.status,
             exists (select 1 from staff_totp t where t.staff_id = u.id and t.confirmed_at is not null) as totp
      from staff_users u where u.username = ${input.username}`.execute(trx);
    const u = r.rows[0];
    // An unknown username takes as long as a wrong password (verifyPassword with no hash).
    const ok = (await verifyPassword(u?.password_hash ?? null, input.password)) && u?.status === 'active';
    if (!u || !ok) {
      await recordFailure(trx, u, input.username, input.ip, input.requestId, 'password');
      return { kind: 'wrong' };
    }
    if (u.totp) {
      const challenge = randomToken();
      const expiresAt = new Date(Date.now() + LOGIN_CHALLENGE_TTL_MS);
      await sql`insert into staff_login_challenges (token_hash, staff_id, ip, expires_at) values (${sha256Hex(challenge)}, ${u.id}, ${input.ip}, ${expiresAt})`.execute(trx);
      return { kind: 'challenge', challenge, expiresAt };
    }
    const scope = totpRequiredFor(u.role, input.adminTotp ?? 'optional') ? 'totp_enrolment' : 'full';
    return { kind: 'ok', ...(await openSession(trx, u, input, scope, 'password')) };
  });
  if (outcome.kind === 'locked') throw platformError('RATE_LIMITED', { reason: 'too many wrong passwords', retryAfterSeconds: outcome.retryAfterSeconds });
  if (outcome.kind === 'wrong') throw platformError('INVALID_CREDENTIALS');
  if (outcome.kind === 'challenge') return { totpRequired: true, challenge: outcome.challenge, challengeExpiresAt: outcome.expiresAt.toISOString() };
  return { token: outcome.token, expiresAt: outcome.expiresAt.toISOString(), user: outcome.user, totpEnrolmentRequired: outcome.user.sessionScope === 'totp_enrolment' };
}

/**
 * A password login for callers that expect a session (CLI, tests): a member of staff with TOTP
 * enabled cannot sign in this way and is refused as the second step would refuse a missing code.
 */
export async function login(db: Db, input: LoginLimits & { username: string; password: string; adminTotp?: AdminTotpPolicy }): Promise<StaffSession> {
  const r = await passwordLogin(db, input);
  if ('totpRequired' in r) throw staffError('AUTH_TOTP_INVALID', { reason: 'TOTP is enabled: use the challenge' });
  return r;
}

/**
 * The second step of a TOTP login: the challenge from the password step and a current code (or a
 * recovery code). A wrong code counts towards the same (username, address) lockout as a wrong
 * password, and towards the account's own count of wrong codes from every address
 * (TOTP_ACCOUNT_MAX_FAILURES within the lock window locks its second factor), so a stolen password
 * cannot be paired with guesses spread over many addresses. A challenge is single-use, answers only
 * the address that asked for it, expires after LOGIN_CHALLENGE_TTL_MS and dies after a few wrong codes.
 */
export async function loginWithTotp(
  db: Db,
  cipher: FieldCipher,
  input: LoginLimits & { challenge: string; code: string; nowMs?: number },
): Promise<StaffSession> {
  const maxFailures = input.maxFailures ?? 5;
  const lockMs = input.lockMs ?? 30 * 60_000;
  type Outcome = { kind: 'ok'; token: string; expiresAt: Date; user: SignedInUser } | { kind: 'wrong' } | { kind: 'expired' } | (Lock & { account: boolean });
  const outcome = await db.transaction().execute(async (trx): Promise<Outcome> => {
    const c = await sql<{ staff_id: number; username: string; ip: string | null }>`
      select c.staff_id, u.username, c.ip from staff_login_challenges c join staff_users u on u.id = c.staff_id
      where c.token_hash = ${sha256Hex(input.challenge)}`.execute(trx);
    const found = c.rows[0];
    if (!found) return { kind: 'expired' };
    // A challenge is redeemed from the address that asked for it, or not at all: one leaked or
    // spread over many addresses is burnt.
    if (found.ip !== input.ip) {
      await sql`update staff_login_challenges set used_at = coalesce(used_at, now()) where token_hash = ${sha256Hex(input.challenge)}`.execute(trx);
      return { kind: 'expired' };
    }
    // Same lock key as the password step: guesses at either step count together.
    const lock = await lockedOut(trx, found.username, input.ip, maxFailures, lockMs);
    if (lock) return { ...lock, account: false };
    // And wrong codes count per account across all addresses, whatever the code now offered.
    const accountLock = await secondFactorLocked(trx, found.staff_id, found.username, lockMs);
    if (accountLock) return { ...accountLock, account: true };
    const live = await sql<{ attempts: number }>`
      select attempts from staff_login_challenges
      where token_hash = ${sha256Hex(input.challenge)} and used_at is null and expires_at > now() and attempts < ${LOGIN_CHALLENGE_MAX_TRIES}
      for update`.execute(trx);
    if (!live.rows[0]) return { kind: 'expired' };
    const r = await sql<UserRow>`
      select id, username, password_hash, role, station_id, customer_id, status, true as totp from staff_users where id = ${found.staff_id}`.execute(trx);
    const u = r.rows[0];
    if (!u || u.status !== 'active') return { kind: 'expired' };
    const factor = await checkSecondFactor(trx, cipher, u.id, input.code, input.nowMs ?? Date.now());
    if (!factor) {
      await sql`update staff_login_challenges set attempts = attempts + 1 where token_hash = ${sha256Hex(input.challenge)}`.execute(trx);
      await recordFailure(trx, u, u.username, input.ip, input.requestId, 'totp');
      return { kind: 'wrong' };
    }
    await sql`update staff_login_challenges set used_at = now() where token_hash = ${sha256Hex(input.challenge)}`.execute(trx);
    return { kind: 'ok', ...(await openSession(trx, u, input, 'full', factor)) };
  });
  if (outcome.kind === 'locked') {
    const reason = outcome.account ? 'too many wrong codes for this account' : 'too many wrong passwords or codes';
    throw platformError('RATE_LIMITED', { reason, retryAfterSeconds: outcome.retryAfterSeconds });
  }
  if (outcome.kind === 'expired') throw staffError('AUTH_CHALLENGE_INVALID');
  if (outcome.kind === 'wrong') throw staffError('AUTH_TOTP_INVALID');
  return { token: outcome.token, expiresAt: outcome.expiresAt.toISOString(), user: outcome.user, totpEnrolmentRequired: false };
}

export async function logout(db: Db, actor: Actor, token: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`update staff_sessions set revoked_at = now() where token_hash = ${sha256Hex(token)} and revoked_at is null`.execute(trx);
    await audit(trx, actor, { action: 'auth.logout', targetType: 'staff', targetId: actor.staffId });
  });
}

/** Bearer token → principal. Only the token's hash is stored, so a database leak yields no sessions. */
export function staffAuthenticator(db: Db) {
  return {
    async authenticate(token: string): Promise<StaffPrincipal | null> {
      if (token.length > 200) return null;
      const r = await sql<{ id: number; username: string; role: Role; station_id: number | null; customer_id: number | null; scope: 'full' | 'totp_enrolment' }>`
        select u.id, u.username, u.role, u.station_id, u.customer_id, s.scope from staff_sessions s join staff_users u on u.id = s.user_id
        where s.token_hash = ${sha256Hex(token)} and s.revoked_at is null and s.expires_at > now() and u.status = 'active'`.execute(db);
      const u = r.rows[0];
      return u ? { id: u.id, username: u.username, role: u.role, stationId: u.station_id, customerId: u.customer_id, sessionScope: u.scope } : null;
    },
  };
}

/**
 * On first start with no staff at all, create `admin` with FUELCARD_ADMIN_PASSWORD or a
 * generated password that is returned once for printing and never stored in clear.
 */
export async function ensureAdmin(db: Db, configured: string | null): Promise<{ created: boolean; password?: string; generated?: boolean }> {
  const any = await sql<{ n: number }>`select count(*)::int n from staff_users`.execute(db);
  if ((any.rows[0]?.n ?? 0) > 0) return { created: false };
  const password = configured ?? randomToken(12);
  await createStaff(db, { staffId: null, name: 'system', role: 'system', ip: null, requestId: null }, {
    username: 'admin',
    password,
    role: 'admin',
    displayName: '系统管理员',
  }, { allowWeakPassword: true }); // the operator chose it in FUELCARD_ADMIN_PASSWORD
  return { created: true, password, generated: configured === null };
}

/** Set a password (CLI create-admin, resets); ends the user's sessions. */
export async function setPassword(db: Db, actor: Actor, username: string, password: string): Promise<void> {
  if (password.length < 10) throw staffError('STAFF_PASSWORD_WEAK', { field: 'password' });
  const hash = await hashPassword(password);
  await db.transaction().execute(async (trx) => {
    const r = await sql<{ id: number }>`update staff_users set password_hash = ${hash} where username = ${username} returning id`.execute(trx);
    const id = r.rows[0]?.id;
    if (id === undefined) throw staffError('STAFF_NOT_FOUND', { username });
    await sql`update staff_sessions set revoked_at = now() where user_id = ${id} and revoked_at is null`.execute(trx);
    // A challenge earned with the old password must not outlive it.
    await sql`delete from staff_login_challenges where staff_id = ${id}`.execute(trx);
    await audit(trx, actor, { action: 'staff.set_password', targetType: 'staff', targetId: id });
  });
}
