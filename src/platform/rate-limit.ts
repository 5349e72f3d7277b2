import type { FastifyRequest } from 'fastify';
import { ConfigError } from './config-error.js';

/**
 * In-process token buckets in front of the endpoints an attacker hammers: sign-in, PIN, the
 * providers' notifications and the sandbox payer pages. They are a cheap first line against
 * floods (a login costs a password hash, a notification a signature check and a transaction);
 * guessing one account's secret is bounded by the persistent lockouts (staff login, portal
 * login, PIN tries), which survive restarts and span instances. These buckets do neither: they
 * live in one process and forget on restart, which is acceptable for flood control.
 */

/** The limited endpoint families. A route names its class in `config.rateLimit`. */
export const RATE_LIMIT_CLASSES = ['login', 'code', 'pin', 'notify', 'sandbox'] as const;
export type RateLimitClass = (typeof RATE_LIMIT_CLASSES)[number];

/** A bucket holds up to `burst` requests and regains `perMinute` of them each minute. */
export interface BucketSpec {
  readonly burst: number;
  readonly perMinute: number;
}

/** Per client address, and optionally per account (the user name, phone or card the request names). */
export interface RateLimitPolicy {
  readonly ip: BucketSpec | null;
  readonly account: BucketSpec | null;
}

export type RateLimitSettings = Readonly<Record<RateLimitClass, RateLimitPolicy>>;

/*
 * Defaults. Per address they allow far more than a person or a station's staff ever needs, and
 * far less than a script. Per account they are looser than the persistent lockouts on purpose:
 * a lockout answers a guess with its own error and counts it; a bucket only stops volume.
 * login and code have no account bucket: the staff and portal lockouts and the portal's code
 * limits (per phone and address, per phone) already count per account, persistently.
 * notify: WeChat, Alipay and UnionPay call from a few addresses and in bursts (a day's retries),
 * and a refused notification is only retried later, so its bucket is wide.
 */
export const DEFAULT_RATE_LIMITS: RateLimitSettings = {
  login: { ip: { burst: 60, perMinute: 30 }, account: null },
  code: { ip: { burst: 200, perMinute: 60 }, account: null },
  pin: { ip: { burst: 60, perMinute: 30 }, account: { burst: 20, perMinute: 10 } },
  notify: { ip: { burst: 600, perMinute: 600 }, account: null },
  sandbox: { ip: { burst: 120, perMinute: 120 }, account: null },
};

/**
 * FUELCARD_RATE_LIMITS: overrides, comma-separated `<class>.<ip|account>=<burst>/<per minute>`
 * or `<class>.<ip|account>=off`, e.g. `login.ip=20/10,notify.ip=off`; `off` alone disables all.
 */
export function rateLimitsFromEnv(env: Record<string, string | undefined>): RateLimitSettings {
  const name = 'FUELCARD_RATE_LIMITS';
  const raw = env[name]?.trim();
  if (!raw) return DEFAULT_RATE_LIMITS;
  const out: Record<string, { ip: BucketSpec | null; account: BucketSpec | null }> = {};
  for (const c of RATE_LIMIT_CLASSES) out[c] = { ...DEFAULT_RATE_LIMITS[c] };
  if (raw === 'off') {
    for (const c of RATE_LIMIT_CLASSES) out[c] = { ip: null, account: null };
    return out as RateLimitSettings;
  }
  for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([a-z]+)\.(ip|account)=(?:off|(\d{1,6})\/(\d{1,6}))$/.exec(part);
    if (!m || !(RATE_LIMIT_CLASSES as readonly string[]).includes(m[1]!)) {
      throw new ConfigError(name, `expected <class>.<ip|account>=<burst>/<per minute> or =off with class one of ${RATE_LIMIT_CLASSES.join(', ')}, got "${part}"`);
    }
    const burst = m[3] === undefined ? null : Number(m[3]);
    const perMinute = m[4] === undefined ? null : Number(m[4]);
    if (burst !== null && (burst < 1 || perMinute! < 1)) throw new ConfigError(name, `burst and per-minute rate must be at least 1, got "${part}"`);
    out[m[1]!]![m[2] as 'ip' | 'account'] = burst === null ? null : { burst, perMinute: perMinute! };
  }
  return out as RateLimitSettings;
}

/**
 * Routes of other modules and their class, for the routes that do not name one in
 * `config.rateLimit` (a route's own config wins). Keyed by method and URL template; a trailing
 * `*` matches any URL with that prefix.
 */
export const RATE_LIMITED_ROUTES: ReadonlyArray<readonly [method: string, url: string, cls: RateLimitClass]> = [
  ['POST', '/api/v1/auth/login', 'login'],
  // The second step of a staff sign-in: the same bucket as the password step (a code is a login attempt).
  ['POST', '/api/v1/auth/login/totp', 'login'],
  ['POST', '/api/v1/portal/auth/login', 'login'],
  ['POST', '/api/v1/portal/auth/code', 'code'],
  ['POST', '/api/v1/portal/auth/password', 'code'],
  ['POST', '/api/v1/cards/:cardNo/pin/change', 'pin'],
  ['POST', '/api/v1/cards/:cardNo/pin/reset', 'pin'],
  ['POST', '/api/v1/portal/cards/:cardNo/pin', 'pin'],
  ['POST', '/api/v1/payments/notify/*', 'notify'],
  ['*', '/sandbox/*', 'sandbox'],
  ['*', '/dev/outbox*', 'sandbox'],
];

export function rateLimitClassOf(method: string, url: string): RateLimitClass | undefined {
  for (const [m, u, cls] of RATE_LIMITED_ROUTES) {
    if (m !== '*' && m !== method) continue;
    if (u.endsWith('*') ? url.startsWith(u.slice(0, -1)) : url === u) return cls;
  }
  return undefined;
}

/** The account a request of this class is about, read from its parsed body and params. */
export function accountOf(cls: RateLimitClass, request: FastifyRequest): string | undefined {
  const body = (request.body ?? {}) as Record<string, unknown>;
  const params = (request.params ?? {}) as Record<string, unknown>;
  const pick = (v: unknown) => (typeof v === 'string' && v.length > 0 && v.length <= 128 ? v.trim().toLowerCase() : undefined);
  switch (cls) {
    case 'login':
      return pick(body.username) ?? pick(body.phone);
    case 'code':
      return pick(body.phone);
    case 'pin':
      return pick(params.cardNo) ?? pick(body.cardNo);
    default:
      return undefined;
  }
}

export type TakeResult = { ok: true } | { ok: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token buckets by key. The clock is injected so tests move time instead of waiting. Memory is
 * bounded: past maxKeys, buckets that have refilled (equal to no bucket) are dropped, then the
 * least recently used.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 100_000,
  ) {}

  take(key: string, spec: BucketSpec): TakeResult {
    const now = this.now();
    const ratePerMs = spec.perMinute / 60_000;
    const old = this.buckets.get(key);
    let tokens = old ? Math.min(spec.burst, old.tokens + Math.max(0, now - old.at) * ratePerMs) : spec.burst;
    if (tokens < 1) {
      const retryAfterSeconds = Math.max(1, Math.ceil((1 - tokens) / ratePerMs / 1000));
      this.touch(key, { tokens, at: now });
      return { ok: false, retryAfterSeconds };
    }
    tokens -= 1;
    this.touch(key, { tokens, at: now });
    return { ok: true };
  }

  get size(): number {
    return this.buckets.size;
  }

  private touch(key: string, bucket: Bucket): void {
    // Re-inserting keeps the Map in least-recently-used order for eviction.
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxKeys) this.evict();
  }

  private evict(): void {
    // A bucket untouched for an hour has refilled under any sane spec: dropping it changes nothing.
    const now = this.now();
    for (const [k, b] of this.buckets) if (now - b.at > 3_600_000) this.buckets.delete(k);
    for (const k of this.buckets.keys()) {
      if (this.buckets.size <= this.maxKeys * 0.9) break;
      this.buckets.delete(k);
    }
  }
}

/** One limiter per app: a bucket set per class and dimension. */
export class RateLimiter {
  private readonly buckets: TokenBuckets;

  constructor(
    readonly settings: RateLimitSettings = DEFAULT_RATE_LIMITS,
    now: () => number = Date.now,
    maxKeys?: number,
  ) {
    this.buckets = new TokenBuckets(now, maxKeys);
  }

  byAddress(cls: RateLimitClass, ip: string): TakeResult {
    const spec = this.settings[cls].ip;
    return spec ? this.buckets.take(`${cls}|ip|${ip}`, spec) : { ok: true };
  }

  byAccount(cls: RateLimitClass, account: string | undefined): TakeResult {
    const spec = this.settings[cls].account;
    return spec && account !== undefined ? this.buckets.take(`${cls}|acct|${account}`, spec) : { ok: true };
  }
}
