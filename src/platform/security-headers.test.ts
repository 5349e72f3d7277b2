import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { access, createHttp, createLogger, type App } from './index.js';
import { API_CSP, HSTS, PAGE_CSP } from './security-headers.js';

async function appWith(trustProxy: string | null = null): Promise<App> {
  const { app } = await createHttp({
    logger: createLogger('silent'),
    staffAuth: { authenticate: async () => null },
    terminalAuth: { authenticate: async () => { throw new Error('no terminals here'); } },
    cardholderAuth: { authenticate: async () => null },
    trustProxy,
  });
  const pub = { config: { access: access.public } };
  app.get('/api/v1/thing', pub, async () => ({ name: '张三' }));
  app.get('/page', pub, async (_req, reply) => reply.type('text/html; charset=utf-8').send('<html><style>p{}</style><p>hi</p></html>'));
  app.get('/own', pub, async (_req, reply) => reply.header('content-security-policy', "default-src 'self'").header('cache-control', 'public, max-age=60').send({ ok: true }));
  app.get('/boom', pub, async () => {
    throw new Error('select secret from users where id = 1 -- at /srv/app/src/x.ts:12');
  });
  app.get('/boom-db', pub, async () => {
    throw new pg.DatabaseError('relation "staff_sessions" does not exist', 1, 'error');
  });
  await app.ready();
  return app;
}

let app: App;
beforeAll(async () => {
  app = await appWith();
});
afterAll(async () => app?.close());

describe('security headers', () => {
  it('an API answer: nosniff, DENY, no-referrer, the API policy, no-store; no HSTS over plain HTTP', async () => {
    const r = await app.inject({ method: 'GET', url: '/api/v1/thing' });
    expect(r.statusCode).toBe(200);
    expect(r.headers).toMatchObject({
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
      'content-security-policy': API_CSP,
      'cache-control': 'no-store',
    });
    expect(r.headers['strict-transport-security']).toBeUndefined();
  });

  it('errors and unknown routes get them too', async () => {
    for (const url of ['/nowhere', '/boom']) {
      const r = await app.inject({ method: 'GET', url });
      expect(r.headers['x-content-type-options'], url).toBe('nosniff');
      expect(r.headers['content-security-policy'], url).toBe(API_CSP);
      expect(r.headers['cache-control'], url).toBe('no-store');
    }
  });

  it('HTML without its own policy gets the page policy (inline style, no inline script)', async () => {
    const r = await app.inject({ method: 'GET', url: '/page' });
    expect(r.headers['content-security-policy']).toBe(PAGE_CSP);
    expect(PAGE_CSP).toContain("script-src 'self';");
    expect(PAGE_CSP).toContain("frame-ancestors 'none'");
    expect(r.headers['cross-origin-opener-policy']).toBe('same-origin');
  });

  it('a route’s own headers win', async () => {
    const r = await app.inject({ method: 'GET', url: '/own' });
    expect(r.headers['content-security-policy']).toBe("default-src 'self'");
    expect(r.headers['cache-control']).toBe('public, max-age=60');
  });

  it('HSTS only for HTTPS, which a plain-HTTP server believes only from a configured proxy', async () => {
    const headers = { 'x-forwarded-proto': 'https' };
    // Not from a trusted proxy: anyone could send the header.
    expect((await app.inject({ method: 'GET', url: '/api/v1/thing', headers })).headers['strict-transport-security']).toBeUndefined();
    const proxied = await appWith('10.0.0.5');
    const viaProxy = await proxied.inject({ method: 'GET', url: '/api/v1/thing', headers, remoteAddress: '10.0.0.5' });
    expect(viaProxy.headers['strict-transport-security']).toBe(HSTS);
    const plainViaProxy = await proxied.inject({ method: 'GET', url: '/api/v1/thing', headers: { 'x-forwarded-proto': 'http' }, remoteAddress: '10.0.0.5' });
    expect(plainViaProxy.headers['strict-transport-security']).toBeUndefined();
    await proxied.close();
  });
});

describe('no stack traces to clients', () => {
  it.each(['/boom', '/boom-db'])('%s: a stable INTERNAL code, nothing of the error itself', async (url) => {
    const r = await app.inject({ method: 'GET', url });
    expect(r.statusCode).toBe(500);
    expect(r.json()).toEqual({ error: { code: 'INTERNAL', message: '系统内部错误 / Internal error' } });
    expect(r.body).not.toMatch(/select|relation|stack|\.ts:|staff_sessions/i);
  });

  it('an oversize body is 413 PAYLOAD_TOO_LARGE', async () => {
    const { app: small } = await createHttp({
      logger: createLogger('silent'),
      staffAuth: { authenticate: async () => null },
      terminalAuth: { authenticate: async () => { throw new Error('no terminals here'); } },
      cardholderAuth: { authenticate: async () => null },
      bodyLimitBytes: 1024,
    });
    small.post('/api/v1/echo', { config: { access: access.public } }, async (req) => req.body ?? {});
    await small.ready();
    const r = await small.inject({ method: 'POST', url: '/api/v1/echo', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ s: 'x'.repeat(2048) }) });
    expect(r.statusCode).toBe(413);
    expect(r.json().error.code).toBe('PAYLOAD_TOO_LARGE');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    await small.close();
  });
});
