import { sql } from 'kysely';
import type { Actor, Db, Executor, Role, StaffPrincipal } from '../platform/index.js';
import { audit, hashPassword, pgErrorCode, PgCode, platformError, randomToken, sha256Hex, verifyPassword } from '../platform/index.js';
import { getStation } from '../stations/index.js';
import { staffError } from './staff.errors.js';


export interface StaffUser {
  id: number;
  username: string;
  displayName: string;
  role: Role;
  stationId: number | null;
  status: 'active' | 'disabled';
  createdAt: string;
}


export async function createStaff(
  db: Executor,
  actor: Actor,
  input: { username: string; password: string; role: Role; displayName?: string; stationId?: number | null },
  opts: { allowWeakPassword?: boolean } = {},
): Promise<StaffUser> {
  if (!opts.allowWeakPassword && input.password.length < 10) throw staffError('STAFF_PASSWORD_WEAK', { field: 'password' });
  const hash = await hashPassword(input.password);
  // The user and its audit row commit together: in the caller's transaction, or in one of our own.
  const insert = async (trx: Executor): Promise<StaffUser> => {
    // Checked here for a clear 404 (the foreign key would only say 23503).
    if (input.stationId !== undefined && input.stationId !== null) await getStation(trx, input.stationId);
    const r = await sql<{ id: number; created_at: Date }>`insert into staff_users (username, display_name, password_hash, role, station_id)
      values (${input.username}, ${input.displayName ?? input.username}, ${hash}, ${input.role}, ${input.stationId ?? null})
      returning id, created_at`.execute(trx);
    const row = r.rows[0]!;
    await audit(trx, actor, { action: 'staff.create', targetType: 'staff', targetId: row.id, details: { username: input.username, role: input.role } });
    return {
      id: row.id,
      username: input.username,
      displayName: input.displayName ?? input.username,
      role: input.role,
      stationId: input.stationId ?? null,
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
  const r = await sql<{ id: number; username: string; display_name: string; role: Role; station_id: number | null; status: 'active' | 'disabled'; created_at: Date }>`
    select id, username, display_name, role, station_id, status, created_at from staff_users order by id limit 1000`.execute(db);
  return r.rows.map((u) => ({
    id: u.id,
    username: u.username,
    displayName: u.display_name,
    role: u.role,
    stationId: u.station_id,
    status: u.status,
    createdAt: u.created_at.toISOString(),
  }));
}

/**
 * Staff login. Password guessing is limited per (username, client address): after maxFailures
 * wrong passwords within lockMs the next tries are refused without checking the password until
 * the window has passed. Per address, so nobody can lock an administrator out from elsewhere;
 * the same for unknown usernames, so the refusal does not tell which names exist. The check, the
 * password verification and the recorded failure are serialised per (username, address) by an
 * advisory lock, so parallel guesses cannot slip past the count. The audit log is the record.
 */
export async function login(
  db: Db,
  input: { username: string; password: string; ip: string | null; requestId: string | null; ttlMs: number; maxFailures?: number; lockMs?: number },
): Promise<{ token: string; expiresAt: string; user: StaffPrincipal }> {
  const maxFailures = input.maxFailures ?? 5;
  const lockMs = input.lockMs ?? 15 * 60_000;
  type Outcome = { kind: 'ok'; token: string; expiresAt: Date; user: StaffPrincipal } | { kind: 'wrong' } | { kind: 'locked'; retryAfterSeconds: number };
  const outcome = await db.transaction().execute(async (trx): Promise<Outcome> => {
    await sql`select pg_advisory_xact_lock(7301003, hashtext(${`${input.username}|${input.ip ?? ''}`}))`.execute(trx);
    const failures = await sql<{ n: number; first: Date | null }>`
      select count(*)::int as n, min(at) as first from (
        select at from audit_log
        where target_type = 'login' and target_id = ${input.username} and action = 'auth.login_failed'
          and ip is not distinct from ${input.ip}
          and at > now() - ${lockMs} * interval '1 millisecond'
          and at > coalesce((select max(at) from audit_log where action = 'auth.login' and actor_name = ${input.username}), '-infinity')
          and at > coalesce((select max(a.at) from audit_log a join staff_users u on a.target_id = u.id::text
                             where u.username = ${input.username} and a.target_type = 'staff' and a.action = 'staff.set_password'), '-infinity')
        order by at desc limit ${maxFailures}) recent`.execute(trx);
    const f = failures.rows[0];
    if (f && f.n >= maxFailures && f.first) {
      // The lock ends when the oldest of the counted failures leaves the window.
      return { kind: 'locked', retryAfterSeconds: Math.max(1, Math.ceil((f.first.getTime() + lockMs - Date.now()) / 1000)) };
    }
    const r = await sql<{ id: number; username: string; password_hash: string; role: Role; station_id: number | null; status: string }>`
      select id, username, password_hash, role, station_id, status from staff_users where username = ${input.username}`.execute(trx);
    const u = r.rows[0];
    // An unknown username takes as long as a wrong password (verifyPassword with no hash).
    const ok = (await verifyPassword(u?.password_hash ?? null, input.password)) && u?.status === 'active';
    if (!u || !ok) {
      await sql`insert into audit_log (actor_id, actor_name, actor_role, action, target_type, target_id, ip, request_id)
        values (${u?.id ?? null}, ${input.username}, ${u?.role ?? 'system'}, 'auth.login_failed', 'login', ${input.username}, ${input.ip}, ${input.requestId})`.execute(trx);
      return { kind: 'wrong' };
    }
    const token = randomToken();
    const expiresAt = new Date(Date.now() + input.ttlMs);
    await sql`insert into staff_sessions (token_hash, user_id, expires_at, ip) values (${sha256Hex(token)}, ${u.id}, ${expiresAt}, ${input.ip})`.execute(trx);
    await sql`insert into audit_log (actor_id, actor_name, actor_role, action, target_type, target_id, ip, request_id)
      values (${u.id}, ${u.username}, ${u.role}, 'auth.login', 'staff', ${String(u.id)}, ${input.ip}, ${input.requestId})`.execute(trx);
    return { kind: 'ok', token, expiresAt, user: { id: u.id, username: u.username, role: u.role, stationId: u.station_id } };
  });
  if (outcome.kind === 'locked') throw platformError('RATE_LIMITED', { reason: 'too many wrong passwords', retryAfterSeconds: outcome.retryAfterSeconds });
  if (outcome.kind === 'wrong') throw platformError('INVALID_CREDENTIALS');
  return { token: outcome.token, expiresAt: outcome.expiresAt.toISOString(), user: outcome.user };
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
      const r = await sql<{ id: number; username: string; role: Role; station_id: number | null }>`
        select u.id, u.username, u.role, u.station_id from staff_sessions s join staff_users u on u.id = s.user_id
        where s.token_hash = ${sha256Hex(token)} and s.revoked_at is null and s.expires_at > now() and u.status = 'active'`.execute(db);
      const u = r.rows[0];
      return u ? { id: u.id, username: u.username, role: u.role, stationId: u.station_id } : null;
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
    await audit(trx, actor, { action: 'staff.set_password', targetType: 'staff', targetId: id });
  });
}
