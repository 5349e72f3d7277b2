import { randomInt } from 'node:crypto';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Actor, CardholderPrincipal, Config, Db, Executor, FieldCipher, Trx } from '../platform/index.js';
import { audit, configBlindIndex, hashPassword, randomToken, safeEqual, sha256Hex, verifyPassword } from '../platform/index.js';
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
/** Spacing of code requests for one phone from one client address. */
export const CODE_RESEND_MS = 60_000;
export const CODE_MAX_TRIES = 5;
/**
 * Code requests per phone per 24 h: from one client address, and from all together. One address
 * can use only a fifth of the phone's codes, so it cannot take the holder's away; and with 5
 * tries a code, a phone's codes allow at most 125 guesses a day at a 6-digit code, however many
 * addresses ask.
 */
export const CODES_PER_ADDRESS_DAY = 5;
export const CODES_PER_PHONE_DAY = 25;
/**
 * Wrong passwords per phone per 24 h: from one client address, and from all together. Besides
 * these, one address gets FUELCARD_LOGIN_MAX_FAILURES per FUELCARD_LOGIN_LOCK_MIN.
 */
export const PASSWORD_FAILURES_PER_ADDRESS_DAY = 20;
export const PASSWORD_FAILURES_PER_PHONE_DAY = 100;
const DAY_MS = 86_400_000;
export const MIN_PASSWORD_LENGTH = 8;

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
  return configBlindIndex(config, 'phone', phone);
}

/** Codes are kept only as a keyed MAC bound to the phone: six digits are too few for a plain hash. */
function codeMac(config: Config, key: string, code: string): string {
  return configBlindIndex(config, 'portal_code', `${key}:${code}`);
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

/** The client address as the limits count it: '' when the request has none. */
const addressOf = (ip: string | null | undefined) => ip ?? '';

/** A wait the database computed, in ms: 0 when no limit is reached (null) or it has passed. */
function waitFrom(ms: number | null | undefined): number {
  return ms !== null && ms !== undefined && ms > 0 ? ms : 0;
}

export interface CodeSent {
  sent: true;
  expiresInSeconds: number;
  /** Hand back with the code: it binds the code to this request, so nobody else can spend its tries. */
  challenge: string;
}

/**
 * Send a sign-in code. The answer is the same whether or not a customer has the phone: the code
 * row (and so the spacing and the caps) exists for every phone, but only a known phone gets a
 * code and a message. The message is queued in the same transaction as the code it carries.
 * Limits: one request per (phone, address) per 60 s, CODES_PER_ADDRESS_DAY per (phone, address)
 * and CODES_PER_PHONE_DAY per phone in 24 h.
 */
export async function requestCode(deps: PortalDeps, input: { phone: string; ip: string | null }): Promise<CodeSent> {
  const phone = normalisePhone(input.phone);
  const key = phoneKey(deps.config, phone);
  const address = addressOf(input.ip);
  const challenge = randomToken(24);
  const outcome = await deps.db.transaction().execute(async (trx) => {
    await lockPhone(trx, key);
    // When each limit frees up again (null: not reached); greatest() skips the nulls.
    const r = await sql<{ wait_ms: number | null }>`
      with recent as (
        select created_at, coalesce(ip, '') = ${address} as mine from portal_codes
        where phone_bidx = ${key} and created_at > now() - ${DAY_MS} * interval '1 millisecond')
      select (extract(epoch from greatest(
          (select created_at + ${CODE_RESEND_MS} * interval '1 millisecond' from recent where mine order by created_at desc limit 1),
          (select created_at + ${DAY_MS} * interval '1 millisecond' from recent where mine order by created_at desc offset ${CODES_PER_ADDRESS_DAY - 1} limit 1),
          (select created_at + ${DAY_MS} * interval '1 millisecond' from recent order by created_at desc offset ${CODES_PER_PHONE_DAY - 1} limit 1)
        ) - now()) * 1000)::float8 as wait_ms`.execute(trx);
    const waitMs = waitFrom(r.rows[0]?.wait_ms);
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
    await sql`insert into portal_codes (phone_bidx, code_hash, challenge_hash, expires_at, ip)
      values (${key}, ${mac}, ${sha256Hex(challenge)}, now() + ${CODE_TTL_MS} * interval '1 millisecond', ${address})`.execute(trx);
    return { kind: 'ok' as const, known };
  });
  if (outcome.kind === 'too_soon') throw portalError('PORTAL_CODE_TOO_SOON', { retryAfterSeconds: outcome.retryAfterSeconds });
  if (outcome.known) kickMessageDispatcher();
  return { sent: true, expiresInSeconds: CODE_TTL_MS / 1000, challenge };
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
 * First sign-in or password reset. The code checked is the one of the request named by
 * `challenge`, or — for a client that does not send it — the newest code requested from the same
 * address; so a code can be tried only by whoever requested it. If unexpired, unused and tried
 * fewer than 5 times, it sets the password and signs in. A wrong code counts a try (committed
 * before the refusal). Setting a password ends the phone's other sessions and forgets its wrong
 * passwords: they were guesses at the old one.
 */
export async function setPasswordWithCode(
  deps: PortalDeps,
  input: { phone: string; code: string; password: string; challenge?: string | undefined; ip: string | null; requestId: string | null },
): Promise<PortalSignIn> {
  if ([...input.password].length < MIN_PASSWORD_LENGTH) throw portalError('PORTAL_PASSWORD_WEAK', { field: 'password', minLength: MIN_PASSWORD_LENGTH });
  const key = phoneKey(deps.config, normalisePhone(input.phone));
  type Outcome = { kind: 'invalid' } | { kind: 'ok'; token: string; expiresAt: Date; customerId: number };
  const outcome = await deps.db.transaction().execute(async (trx): Promise<Outcome> => {
    await lockPhone(trx, key);
    const which =
      input.challenge !== undefined
        ? sql`challenge_hash = ${sha256Hex(input.challenge)}`
        : sql`coalesce(ip, '') = ${addressOf(input.ip)}`;
    const r = await sql<{ id: number; code_hash: string | null; attempts: number; live: boolean; consumed: boolean }>`
      select id, code_hash, attempts, expires_at > now() as live, consumed_at is not null as consumed
      from portal_codes where phone_bidx = ${key} and ${which} order by created_at desc, id desc limit 1`.execute(trx);
    const row = r.rows[0];
    if (!row || row.code_hash === null || row.consumed || !row.live || row.attempts >= CODE_MAX_TRIES) return { kind: 'invalid' };
    if (!/^\d{6}$/.test(input.code) || !safeEqual(codeMac(deps.config, key, input.code), row.code_hash)) {
      await sql`update portal_codes set attempts = attempts + 1 where id = ${row.id}`.execute(trx);
      return { kind: 'invalid' };
    }
    await sql`update portal_codes set consumed_at = now() where id = ${row.id}`.execute(trx);
    const customerId = (await customersOfPhone(trx, key))[0];
    if (customerId === undefined) return { kind: 'invalid' };
    const hash = await hashPassword(input.password);
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
 * Password sign-in. Wrong passwords are recorded per (phone, client address), known phone or
 * not (so a refusal does not tell which phones exist), and three limits are checked before the
 * password: from this address, loginMaxFailures per loginLockMs and
 * PASSWORD_FAILURES_PER_ADDRESS_DAY per 24 h; from all addresses together,
 * PASSWORD_FAILURES_PER_PHONE_DAY per 24 h. One address cannot reach the phone's ceiling, so it
 * cannot lock the holder out elsewhere; and a code sign-in, which nobody without the phone can
 * stop, clears them all.
 */
export async function login(deps: PortalDeps, input: { phone: string; password: string; ip: string | null; requestId: string | null }): Promise<PortalSignIn> {
  const key = phoneKey(deps.config, normalisePhone(input.phone));
  const address = addressOf(input.ip);
  const maxFailures = deps.config.loginMaxFailures;
  const lockMs = deps.config.loginLockMs;
  type Outcome = { kind: 'ok'; token: string; expiresAt: Date; customerId: number } | { kind: 'wrong' } | { kind: 'locked'; retryAfterSeconds: number };
  const outcome = await deps.db.transaction().execute(async (trx): Promise<Outcome> => {
    await lockPhone(trx, key);
    // Each limit frees up when the oldest failure it counts leaves its window (null: not reached).
    const s = await sql<{ wait_ms: number | null }>`
      with recent as (
        select at, ip = ${address} as mine from portal_login_failures
        where phone_bidx = ${key} and at > now() - ${Math.max(DAY_MS, lockMs)} * interval '1 millisecond')
      select (extract(epoch from greatest(
          (select at + ${lockMs} * interval '1 millisecond' from recent
            where mine and at > now() - ${lockMs} * interval '1 millisecond' order by at desc offset ${maxFailures - 1} limit 1),
          (select at + ${DAY_MS} * interval '1 millisecond' from recent
            where mine and at > now() - ${DAY_MS} * interval '1 millisecond' order by at desc offset ${PASSWORD_FAILURES_PER_ADDRESS_DAY - 1} limit 1),
          (select at + ${DAY_MS} * interval '1 millisecond' from recent
            where at > now() - ${DAY_MS} * interval '1 millisecond' order by at desc offset ${PASSWORD_FAILURES_PER_PHONE_DAY - 1} limit 1)
        ) - now()) * 1000)::float8 as wait_ms`.execute(trx);
    const waitMs = waitFrom(s.rows[0]?.wait_ms);
    if (waitMs > 0) return { kind: 'locked', retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };

    const account = (await sql<{ password_hash: string }>`select password_hash from portal_accounts where phone_bidx = ${key}`.execute(trx)).rows[0];
    const customerId = (await customersOfPhone(trx, key))[0];
    // Unknown phones and phones without a password take the same time (verifyPassword with no hash).
    const ok = await verifyPassword(account && customerId !== undefined ? account.password_hash : null, input.password);
    if (!ok || customerId === undefined) {
      await sql`insert into portal_login_failures (phone_bidx, ip) values (${key}, ${address})`.execute(trx);
      return { kind: 'wrong' };
    }
    // Only this address's count: the other addresses' failures may be someone else's guesses.
    await sql`delete from portal_login_failures where phone_bidx = ${key} and ip = ${address}`.execute(trx);
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
  await sql`delete from portal_login_failures where at < now() - interval '1 day'`.execute(db);
}

/**
 * Sets a cardholder's portal password without a code: for the demo data (a ready-made
 * cardholder login) and operator tooling run on the server itself, never over HTTP. The phone
 * must belong to a customer; the change is audited under the given actor.
 */
export async function setPortalPassword(deps: { db: Db; config: Config }, actor: Actor, input: { phone: string; password: string }): Promise<void> {
  if ([...input.password].length < MIN_PASSWORD_LENGTH) throw portalError('PORTAL_PASSWORD_WEAK', { field: 'password', minLength: MIN_PASSWORD_LENGTH });
  const key = phoneKey(deps.config, normalisePhone(input.phone));
  const hash = await hashPassword(input.password);
  await deps.db.transaction().execute(async (trx) => {
    await lockPhone(trx, key);
    const customerId = (await customersOfPhone(trx, key))[0];
    if (customerId === undefined) throw portalError('PORTAL_INVALID_CREDENTIALS', { field: 'phone' });
    await sql`insert into portal_accounts (phone_bidx, password_hash) values (${key}, ${hash})
      on conflict (phone_bidx) do update set password_hash = excluded.password_hash, password_set_at = now()`.execute(trx);
    await sql`update portal_sessions set revoked_at = now() where phone_bidx = ${key} and revoked_at is null`.execute(trx);
    await sql`delete from portal_login_failures where phone_bidx = ${key}`.execute(trx);
    await audit(trx, actor, { action: 'portal.password_set', targetType: 'customer', targetId: customerId });
  });
}
