import { randomInt } from 'node:crypto';
import argon2 from 'argon2';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Actor, CardholderPrincipal, Config, Db, Executor, FieldCipher, Trx } from '../platform/index.js';
import { audit, blindIndex, randomToken, safeEqual, sha256Hex } from '../platform/index.js';
import { getCustomer, normalisePhone } from '../customers/index.js';
import { enqueueMessage, kickMessageDispatcher } from '../messaging/index.js';
import { portalError } from './portal.errors.js';
import { portalSessionTtlMs } from './portal.settings.js';

export interface PortalDeps {
  db: Db;
  config: Config;
  cipher: FieldCipher;
  logger: Logger;
}

export const CODE_TTL_MS = 5 * 60_000;
export const CODE_RESEND_MS = 60_000;
export const CODE_MAX_TRIES = 5;
/** Codes per phone per 24 h: with 5 tries each, at most 50 guesses a day at a 6-digit code. */
export const CODE_DAILY_MAX = 10;
const DAY_MS = 86_400_000;
export const MIN_PASSWORD_LENGTH = 8;

// The parameters of staff passwords (OWASP's argon2id baseline); staff does not export its hasher.
const ARGON2 = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const;
let dummyHash: Promise<string> | null = null;

/** Advisory lock namespace: one code request, code check or login per phone at a time. */
const PHONE_LOCK = 7301010;

export interface PortalCustomer {
  customerId: number;
  /** Masked: 张* */
  name: string;
  /** Masked: 138****8000 */
  phone: string;
}

export interface PortalSignIn {
  token: string;
  expiresAt: string;
  customer: PortalCustomer;
}

/** The phone's blind index: the same value as customers.phone_bidx, so it finds them directly. */
export function phoneKey(config: Config, phone: string): string {
  return blindIndex(config.blindIndexKey, 'phone', phone);
}

/** Codes are kept only as a keyed MAC bound to the phone: six digits are too few for a plain hash. */
function codeMac(config: Config, key: string, code: string): string {
  return blindIndex(config.blindIndexKey, 'portal_code', `${key}:${code}`);
}

function cardholderActor(customerId: number, ip: string | null, requestId: string | null): Actor {
  return { staffId: null, name: `customer:${customerId}`, role: 'cardholder', ip, requestId };
}

async function lockPhone(trx: Trx, key: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(${PHONE_LOCK}, hashtext(${key}))`.execute(trx);
}

/** Customers registered with the phone, oldest first: one sign-in covers the cards of all of them. */
async function customersOfPhone(db: Executor, key: string): Promise<number[]> {
  const r = await sql<{ id: number }>`select id from customers where phone_bidx = ${key} order by id limit 100`.execute(db);
  return r.rows.map((c) => c.id);
}

/**
 * Send a sign-in code. The answer is the same whether or not a customer has the phone: the code
 * row (and so the 60 s spacing and the daily cap) exists for every phone, but only a known phone
 * gets a code and a message. The message is queued in the same transaction as the code it carries.
 */
export async function requestCode(deps: PortalDeps, input: { phone: string; ip: string | null }): Promise<{ sent: true; expiresInSeconds: number }> {
  const phone = normalisePhone(input.phone);
  const key = phoneKey(deps.config, phone);
  const outcome = await deps.db.transaction().execute(async (trx) => {
    await lockPhone(trx, key);
    // Ages of this phone's requests in the last day, newest first (at most CODE_DAILY_MAX of them matter).
    const recent = await sql<{ age_ms: number }>`select (extract(epoch from now() - created_at) * 1000)::float8 as age_ms
      from portal_codes where phone_bidx = ${key} and created_at > now() - ${DAY_MS} * interval '1 millisecond'
      order by created_at desc limit ${CODE_DAILY_MAX}`.execute(trx);
    const ages = recent.rows.map((r) => r.age_ms);
    const newest = ages[0];
    const oldest = ages[ages.length - 1];
    const waitMs = Math.max(
      newest !== undefined ? CODE_RESEND_MS - newest : 0,
      ages.length >= CODE_DAILY_MAX && oldest !== undefined ? DAY_MS - oldest : 0,
    );
    if (waitMs > 0) return { kind: 'too_soon' as const, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
    const known = (await customersOfPhone(trx, key)).length > 0;
    let mac: string | null = null;
    if (known) {
      const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
      mac = codeMac(deps.config, key, code);
      await enqueueMessage(trx, deps.cipher, {
        to: phone,
        template: 'portal.code',
        text: `【加油卡】您的登录验证码是 ${code}，5 分钟内有效，请勿告诉他人。/ Your fuel card sign-in code is ${code}, valid for 5 minutes. Do not share it.`,
        expiresAt: new Date(Date.now() + CODE_TTL_MS),
      });
    }
    await sql`insert into portal_codes (phone_bidx, code_hash, expires_at, ip)
      values (${key}, ${mac}, now() + ${CODE_TTL_MS} * interval '1 millisecond', ${input.ip})`.execute(trx);
    return { kind: 'ok' as const, known };
  });
  if (outcome.kind === 'too_soon') throw portalError('PORTAL_CODE_TOO_SOON', { retryAfterSeconds: outcome.retryAfterSeconds });
  if (outcome.known) kickMessageDispatcher();
  return { sent: true, expiresInSeconds: CODE_TTL_MS / 1000 };
}

async function createSession(trx: Trx, deps: PortalDeps, key: string, customerId: number, ip: string | null): Promise<{ token: string; expiresAt: Date }> {
  const token = randomToken();
  const expiresAt = new Date(Date.now() + portalSessionTtlMs(deps.config));
  await sql`insert into portal_sessions (token_hash, phone_bidx, customer_id, expires_at, ip)
    values (${sha256Hex(token)}, ${key}, ${customerId}, ${expiresAt}, ${ip})`.execute(trx);
  return { token, expiresAt };
}

export async function portalCustomer(deps: PortalDeps, db: Executor, customerId: number): Promise<PortalCustomer> {
  // No role: the customer module answers with name and phone masked.
  const c = await getCustomer(deps, db, customerId, undefined);
  return { customerId: c.id, name: c.name, phone: c.phone };
}

/**
 * First sign-in or password reset: the newest code sent to the phone, if unexpired, unused and
 * tried fewer than 5 times, sets the password and signs in. A wrong code counts a try (committed
 * before the refusal). Setting a password ends the phone's other sessions and clears a login lock.
 */
export async function setPasswordWithCode(
  deps: PortalDeps,
  input: { phone: string; code: string; password: string; ip: string | null; requestId: string | null },
): Promise<PortalSignIn> {
  if ([...input.password].length < MIN_PASSWORD_LENGTH) throw portalError('PORTAL_PASSWORD_WEAK', { field: 'password', minLength: MIN_PASSWORD_LENGTH });
  const key = phoneKey(deps.config, normalisePhone(input.phone));
  type Outcome = { kind: 'invalid' } | { kind: 'ok'; token: string; expiresAt: Date; customerId: number };
  const outcome = await deps.db.transaction().execute(async (trx): Promise<Outcome> => {
    await lockPhone(trx, key);
    const r = await sql<{ id: number; code_hash: string | null; attempts: number; live: boolean; consumed: boolean }>`
      select id, code_hash, attempts, expires_at > now() as live, consumed_at is not null as consumed
      from portal_codes where phone_bidx = ${key} order by created_at desc, id desc limit 1`.execute(trx);
    const row = r.rows[0];
    if (!row || row.code_hash === null || row.consumed || !row.live || row.attempts >= CODE_MAX_TRIES) return { kind: 'invalid' };
    if (!/^\d{6}$/.test(input.code) || !safeEqual(codeMac(deps.config, key, input.code), row.code_hash)) {
      await sql`update portal_codes set attempts = attempts + 1 where id = ${row.id}`.execute(trx);
      return { kind: 'invalid' };
    }
    await sql`update portal_codes set consumed_at = now() where id = ${row.id}`.execute(trx);
    const customerId = (await customersOfPhone(trx, key))[0];
    if (customerId === undefined) return { kind: 'invalid' };
    const hash = await argon2.hash(input.password, ARGON2);
    await sql`insert into portal_accounts (phone_bidx, password_hash) values (${key}, ${hash})
      on conflict (phone_bidx) do update set password_hash = excluded.password_hash, password_set_at = now()`.execute(trx);
    await sql`update portal_sessions set revoked_at = now() where phone_bidx = ${key} and revoked_at is null`.execute(trx);
    await sql`delete from portal_login_failures where phone_bidx = ${key}`.execute(trx);
    const session = await createSession(trx, deps, key, customerId, input.ip);
    await audit(trx, cardholderActor(customerId, input.ip, input.requestId), { action: 'portal.password_set', targetType: 'customer', targetId: customerId });
    return { kind: 'ok', ...session, customerId };
  });
  if (outcome.kind === 'invalid') throw portalError('PORTAL_CODE_INVALID', { field: 'code' });
  return { token: outcome.token, expiresAt: outcome.expiresAt.toISOString(), customer: await portalCustomer(deps, deps.db, outcome.customerId) };
}

/**
 * Password sign-in. Wrong passwords are counted per phone, known or not (so the lock does not
 * tell which phones exist): after loginMaxFailures within loginLockMs the phone is locked for
 * loginLockMs. A sign-in with a code (setPasswordWithCode) lifts the lock.
 */
export async function login(deps: PortalDeps, input: { phone: string; password: string; ip: string | null; requestId: string | null }): Promise<PortalSignIn> {
  const key = phoneKey(deps.config, normalisePhone(input.phone));
  const maxFailures = deps.config.loginMaxFailures;
  const lockMs = deps.config.loginLockMs;
  type Outcome = { kind: 'ok'; token: string; expiresAt: Date; customerId: number } | { kind: 'wrong' } | { kind: 'locked'; retryAfterSeconds: number };
  const outcome = await deps.db.transaction().execute(async (trx): Promise<Outcome> => {
    await lockPhone(trx, key);
    const s = await sql<{ failures: number; lock_ms: number | null; window_over: boolean; was_locked: boolean }>`
      select failures, (extract(epoch from locked_until - now()) * 1000)::float8 as lock_ms,
             first_failure_at < now() - ${lockMs} * interval '1 millisecond' as window_over, locked_until is not null as was_locked
      from portal_login_failures where phone_bidx = ${key}`.execute(trx);
    const state = s.rows[0];
    if (state && state.lock_ms !== null && state.lock_ms > 0) return { kind: 'locked', retryAfterSeconds: Math.max(1, Math.ceil(state.lock_ms / 1000)) };

    const account = (await sql<{ password_hash: string }>`select password_hash from portal_accounts where phone_bidx = ${key}`.execute(trx)).rows[0];
    const customerId = (await customersOfPhone(trx, key))[0];
    let ok = false;
    if (account && customerId !== undefined) {
      ok = await argon2.verify(account.password_hash, input.password).catch(() => false);
    } else {
      // Same work for unknown phones and phones without a password, so timing does not tell them apart.
      dummyHash ??= argon2.hash('not-a-real-password', ARGON2);
      await argon2.verify(await dummyHash, input.password).catch(() => false);
    }
    if (!ok || customerId === undefined) {
      // An expired lock or an old first failure starts a new count.
      const fresh = !state || state.was_locked || state.window_over;
      const failures = fresh ? 1 : state.failures + 1;
      await sql`insert into portal_login_failures (phone_bidx, failures, first_failure_at, locked_until)
        values (${key}, ${failures}, now(), case when ${failures >= maxFailures} then now() + ${lockMs} * interval '1 millisecond' end)
        on conflict (phone_bidx) do update set failures = excluded.failures,
          first_failure_at = case when ${fresh} then excluded.first_failure_at else portal_login_failures.first_failure_at end,
          locked_until = excluded.locked_until`.execute(trx);
      return { kind: 'wrong' };
    }
    await sql`delete from portal_login_failures where phone_bidx = ${key}`.execute(trx);
    const session = await createSession(trx, deps, key, customerId, input.ip);
    await audit(trx, cardholderActor(customerId, input.ip, input.requestId), { action: 'portal.login', targetType: 'customer', targetId: customerId });
    return { kind: 'ok', ...session, customerId };
  });
  if (outcome.kind === 'locked') throw portalError('PORTAL_LOGIN_LOCKED', { retryAfterSeconds: outcome.retryAfterSeconds });
  if (outcome.kind === 'wrong') throw portalError('PORTAL_INVALID_CREDENTIALS');
  return { token: outcome.token, expiresAt: outcome.expiresAt.toISOString(), customer: await portalCustomer(deps, deps.db, outcome.customerId) };
}

export async function logout(db: Db, token: string): Promise<void> {
  await sql`update portal_sessions set revoked_at = now() where token_hash = ${sha256Hex(token)} and revoked_at is null`.execute(db);
}

/**
 * Cardholder bearer token → principal. Only the token's hash is stored. A session ends when the
 * customer's phone is no longer the one it was opened for.
 */
export function cardholderAuthenticator(db: Db): { authenticate(token: string): Promise<CardholderPrincipal | null> } {
  return {
    async authenticate(token: string): Promise<CardholderPrincipal | null> {
      if (token.length > 200) return null;
      const r = await sql<{ customer_id: number }>`select s.customer_id from portal_sessions s
        join customers c on c.id = s.customer_id and c.phone_bidx = s.phone_bidx
        where s.token_hash = ${sha256Hex(token)} and s.revoked_at is null and s.expires_at > now()`.execute(db);
      const row = r.rows[0];
      return row ? { customerId: row.customer_id } : null;
    },
  };
}

/** Forget spent codes, ended sessions and stale failure counts (runs hourly). */
export async function prunePortalAuth(db: Db): Promise<void> {
  await sql`delete from portal_codes where created_at < now() - interval '2 days'`.execute(db);
  await sql`delete from portal_sessions where expires_at < now() - interval '1 day' or revoked_at < now() - interval '1 day'`.execute(db);
  await sql`delete from portal_login_failures where coalesce(locked_until, first_failure_at) < now() - interval '1 day'`.execute(db);
}

/**
 * Sets a cardholder's portal password without a code: for the demo data (a ready-made
 * cardholder login) and operator tooling run on the server itself, never over HTTP. The phone
 * must belong to a customer; the change is audited under the given actor.
 */
export async function setPortalPassword(deps: { db: Db; config: Config }, actor: Actor, input: { phone: string; password: string }): Promise<void> {
  if ([...input.password].length < MIN_PASSWORD_LENGTH) throw portalError('PORTAL_PASSWORD_WEAK', { field: 'password', minLength: MIN_PASSWORD_LENGTH });
  const key = phoneKey(deps.config, normalisePhone(input.phone));
  const hash = await argon2.hash(input.password, ARGON2);
  await deps.db.transaction().execute(async (trx) => {
    await lockPhone(trx, key);
    const customerId = (await customersOfPhone(trx, key))[0];
    if (customerId === undefined) throw portalError('PORTAL_INVALID_CREDENTIALS', { field: 'phone' });
    await sql`insert into portal_accounts (phone_bidx, password_hash) values (${key}, ${hash})
      on conflict (phone_bidx) do update set password_hash = excluded.password_hash, password_set_at = now()`.execute(trx);
    await sql`update portal_sessions set revoked_at = now() where phone_bidx = ${key} and revoked_at is null`.execute(trx);
    await audit(trx, actor, { action: 'portal.password_set', targetType: 'customer', targetId: customerId });
  });
}
