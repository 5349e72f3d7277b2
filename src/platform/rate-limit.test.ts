import { describe, expect, it } from 'vitest';
import { access, createHttp, createLogger } from './index.js';
import { DEFAULT_RATE_LIMITS, rateLimitClassOf, rateLimitsFromEnv, TokenBuckets, type RateLimitSettings } from './rate-limit.js';

describe('token buckets', () => {
  it('allows the burst, refuses the next with a Retry-After, refills with time', () => {
    let now = 1_000_000;
    const b = new TokenBuckets(() => now);
    const spec = { burst: 3, perMinute: 6 }; // one token per 10 s
    for (let i = 0; i < 3; i++) expect(b.take('k', spec)).toEqual({ ok: true });
    expect(b.take('k', spec)).toEqual({ ok: false, retryAfterSeconds: 10 });
    // Other keys are separate.
    expect(b.take('other', spec)).toEqual({ ok: true });
    now += 9_000;
    expect(b.take('k', spec)).toEqual({ ok: false, retryAfterSeconds: 1 });
    now += 1_000;
    expect(b.take('k', spec)).toEqual({ ok: true });
    expect(b.take('k', spec).ok).toBe(false);
    // Never more than the burst, however long it waited.
    now += 3_600_000;
    for (let i = 0; i < 3; i++) expect(b.take('k', spec).ok).toBe(true);
    expect(b.take('k', spec).ok).toBe(false);
  });

  it('keeps memory bounded under a storm of distinct keys', () => {
    const b = new TokenBuckets(() => 0, 1000);
    for (let i = 0; i < 10_000; i++) b.take(`ip-${i}`, { burst: 5, perMinute: 1 });
    expect(b.size).toBeLessThanOrEqual(1000);
  });
});

describe('FUELCARD_RATE_LIMITS', () => {
  it('defaults, overrides and off', () => {
    expect(rateLimitsFromEnv({})).toEqual(DEFAULT_RATE_LIMITS);
    const s = rateLimitsFromEnv({ FUELCARD_RATE_LIMITS: 'login.ip=5/2, pin.account=off' });
    expect(s.login.ip).toEqual({ burst: 5, perMinute: 2 });
    expect(s.pin.account).toBeNull();
    expect(s.pin.ip).toEqual(DEFAULT_RATE_LIMITS.pin.ip);
    const off = rateLimitsFromEnv({ FUELCARD_RATE_LIMITS: 'off' });
    expect(Object.values(off).every((p) => p.ip === null && p.account === null)).toBe(true);
  });

  it.each(['login=5/2', 'nosuch.ip=5/2', 'login.ip=0/1', 'login.ip=5', 'login.user=5/2'])('refuses %s', (v) => {
    expect(() => rateLimitsFromEnv({ FUELCARD_RATE_LIMITS: v })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', variable: 'FUELCARD_RATE_LIMITS' }));
  });

  it('knows the limited routes of other modules', () => {
    expect(rateLimitClassOf('POST', '/api/v1/auth/login')).toBe('login');
    expect(rateLimitClassOf('POST', '/api/v1/payments/notify/:channel')).toBe('notify');
    expect(rateLimitClassOf('GET', '/sandbox/alipay/pay/:token')).toBe('sandbox');
    expect(rateLimitClassOf('POST', '/api/v1/cards/:cardNo/pin/change')).toBe('pin');
    expect(rateLimitClassOf('GET', '/api/v1/auth/login')).toBeUndefined();
    expect(rateLimitClassOf('GET', '/api/v1/sales')).toBeUndefined();
  });
});

async function appWith(settings: RateLimitSettings, clock: { now: number }) {
  const { app } = await createHttp({
    logger: createLogger('silent'),
    staffAuth: { authenticate: async () => null },
    terminalAuth: { authenticate: async () => { throw new Error('no terminals here'); } },
    cardholderAuth: { authenticate: async () => null },
    rateLimits: settings,
    now: () => clock.now,
  });
  let handled = 0;
  // Named in the platform's table: limited without saying so.
  app.post('/api/v1/auth/login', { config: { access: access.public } }, async () => ({ n: ++handled }));
  // Naming its class itself.
  app.post('/api/v1/things/:cardNo/pin', { config: { access: access.public, rateLimit: 'pin' } }, async () => ({ n: ++handled }));
  app.post('/api/v1/guarded/:cardNo/pin', { config: { access: { kind: 'staff', roles: ['admin'] }, rateLimit: 'pin' } }, async () => ({ n: ++handled }));
  app.post('/api/v1/free', { config: { access: access.public } }, async () => ({ n: ++handled }));
  await app.ready();
  return { app, handled: () => handled };
}

describe('rate limits on routes', () => {
  const settings: RateLimitSettings = {
    ...DEFAULT_RATE_LIMITS,
    login: { ip: { burst: 2, perMinute: 1 }, account: null },
    pin: { ip: { burst: 100, perMinute: 100 }, account: { burst: 2, perMinute: 2 } },
  };

  it('per address: 429 RATE_LIMITED with Retry-After, before the handler runs; other addresses and routes unaffected', async () => {
    const clock = { now: 0 };
    const { app, handled } = await appWith(settings, clock);
    const login = (ip: string) => app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress: ip, payload: { username: 'a', password: 'b' } });
    expect((await login('192.0.2.1')).statusCode).toBe(200);
    expect((await login('192.0.2.1')).statusCode).toBe(200);
    const refused = await login('192.0.2.1');
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error).toMatchObject({ code: 'RATE_LIMITED', message: '请求过于频繁 / Too many requests', details: { limit: 'login', by: 'address', retryAfterSeconds: 60 } });
    expect(refused.headers['retry-after']).toBe('60');
    expect(handled()).toBe(2);
    expect((await login('192.0.2.2')).statusCode).toBe(200);
    for (let i = 0; i < 5; i++) expect((await app.inject({ method: 'POST', url: '/api/v1/free', remoteAddress: '192.0.2.1', payload: {} })).statusCode).toBe(200);
    clock.now += 60_000;
    expect((await login('192.0.2.1')).statusCode).toBe(200);
    await app.close();
  });

  it('per account: the card named in the path, whatever the address', async () => {
    const clock = { now: 0 };
    const { app } = await appWith(settings, clock);
    const pin = (card: string, i: number) => app.inject({ method: 'POST', url: `/api/v1/things/${card}/pin`, remoteAddress: `198.51.100.${i}`, payload: {} });
    expect((await pin('6200001', 1)).statusCode).toBe(200);
    expect((await pin('6200001', 2)).statusCode).toBe(200);
    const refused = await pin('6200001', 3);
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error.details).toMatchObject({ limit: 'pin', by: 'account' });
    expect((await pin('6200002', 4)).statusCode).toBe(200);
    await app.close();
  });

  it('callers refused by authentication do not spend the card’s bucket', async () => {
    const { app } = await appWith(settings, { now: 0 });
    for (let i = 0; i < 10; i++) {
      const r = await app.inject({ method: 'POST', url: '/api/v1/guarded/6200009/pin', remoteAddress: `203.0.113.${i}`, payload: {} });
      expect(r.statusCode).toBe(401);
    }
    await app.close();
  });

  it('FUELCARD_RATE_LIMITS=off lets everything through', async () => {
    const { app } = await appWith(rateLimitsFromEnv({ FUELCARD_RATE_LIMITS: 'off' }), { now: 0 });
    for (let i = 0; i < 100; i++) expect((await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: {} })).statusCode).toBe(200);
    await app.close();
  });
});
