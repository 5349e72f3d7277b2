import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { metricValue } from '../../test/support/fuel.js';
import { registeredRoutes } from '../../test/support/route-list.js';
import { buildServer } from '../server.js';
import { createLogger } from './logging.js';
import { loadConfig } from './config.js';
import { openDb } from './db.js';
import { registerPoolMetrics } from './metrics.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
  // main.ts registers the pool gauge for the pool it opens; do the same for the test pool.
  registerPoolMetrics(server.db.pool);
});
afterAll(async () => server?.close());

const raw = (path: string, init?: RequestInit) => fetch(server.baseUrl + path, init);

function expectErrorShape(body: any, code: string): void {
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
  for (const k of Object.keys(body.error)) expect(['code', 'message', 'details']).toContain(k);
}

describe('health', () => {
  it('/healthz answers without a database round trip', async () => {
    const r = await server.api('GET', '/healthz', { role: null });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'ok' });
  });

  it('/readyz is 200 with the database and 503 without it', async () => {
    const r = await server.api('GET', '/readyz', { role: null });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('ready');

    const u = new URL(server.db.url);
    u.pathname = '/fc_no_such_database';
    const dead = openDb(u.toString(), 1);
    const { app } = await buildServer({ db: dead.db, config: loadConfig({ LOG_LEVEL: 'silent' }), logger: createLogger('silent') });
    try {
      const res = await app.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(503);
      const health = await app.inject({ method: 'GET', url: '/healthz' });
      expect(health.statusCode).toBe(200);
    } finally {
      await app.close();
      await dead.close();
    }
  });
});

describe('metrics', () => {
  it('serves Prometheus text with the latency histogram per route, the DB pool gauge and sale outcomes', async () => {
    await server.api('GET', '/healthz', { role: null });
    await server.api('GET', '/api/v1/auth/me');
    await server.api('GET', '/api/v1/no-such-thing', { role: null });
    const r = await raw('/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await r.text();
    const h = 'fuelcard_http_request_duration_seconds';
    expect(text).toContain(`# TYPE ${h} histogram`);
    expect(metricValue(text, `${h}_count`, { method: 'GET', route: '/healthz', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, `${h}_count`, { method: 'GET', route: '/api/v1/auth/me', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, `${h}_bucket`, { method: 'GET', route: '/healthz', status: '200', le: '+Inf' })).toBeGreaterThanOrEqual(1);
    // Unknown URLs share one label value: a scanner cannot blow up the metric's cardinality.
    expect(text).not.toContain('/api/v1/no-such-thing');
    // Routes are labelled by pattern, not by the concrete path.
    await server.api('GET', '/api/v1/cards/9000010000000000000');
    expect(metricValue(await (await raw('/metrics')).text(), `${h}_count`, { method: 'GET', route: '/api/v1/cards/:cardNo', status: '404' })).toBeGreaterThanOrEqual(1);

    expect(text).toContain('# TYPE fuelcard_db_pool_connections gauge');
    expect(metricValue(text, 'fuelcard_db_pool_connections', { state: 'total' })).toBeGreaterThanOrEqual(1);
    expect(text).toContain('# TYPE fuelcard_sale_outcomes_total counter');
    // Process metrics from the default collectors.
    expect(text).toContain('process_cpu_user_seconds_total');
  });
});

describe('API description', () => {
  it('/api/v1/openapi.json describes every API route with its security', async () => {
    const r = await server.api('GET', '/api/v1/openapi.json', { role: null });
    expect(r.status).toBe(200);
    const doc = r.body;
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toBeTruthy();
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['bearer', 'terminal']);
    const sale = doc.paths['/api/v1/pos/sales'].post;
    expect(sale.security).toEqual([{ terminal: [] }]);
    expect(Object.keys(sale.requestBody.content['application/json'].schema.properties).sort()).toEqual(['amount', 'cardNo', 'grade', 'items', 'nozzle', 'pin', 'pumpSaleId', 'riskConfirmation', 'unitPrice', 'volumeMl']);
    expect(doc.paths['/api/v1/cards/{cardNo}'].get.parameters.some((p: { name: string; in: string }) => p.name === 'cardNo' && p.in === 'path')).toBe(true);
  });

  it('lists every registered /api/v1 route', async () => {
    const doc = (await server.api('GET', '/api/v1/openapi.json', { role: null })).body;
    const { routes } = await registeredRoutes(server);
    expect(routes.length).toBeGreaterThan(30);
    for (const route of routes) {
      if (!route.url.startsWith('/api/v1/') || route.url === '/api/v1/openapi.json') continue;
      const p = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      expect(doc.paths[p]?.[route.method.toLowerCase()], `${route.method} ${route.url}`).toBeDefined();
    }
  });

  it('/docs serves the interactive page', async () => {
    const r = await raw('/docs', { redirect: 'follow' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/text\/html/);
    expect(await r.text()).toMatch(/swagger/i);
  });
});

describe('error answers', () => {
  it('an unknown route is 404 ROUTE_NOT_FOUND in the error shape', async () => {
    for (const [method, path] of [
      ['GET', '/api/v1/nothing-here'],
      ['POST', '/api/v2/cards'],
      ['DELETE', '/healthz'],
    ] as const) {
      const r = await server.api(method, path, { role: null });
      expect(r.status, `${method} ${path}`).toBe(404);
      expectErrorShape(r.body, 'ROUTE_NOT_FOUND');
    }
  });

  it('malformed JSON is 400 MALFORMED_JSON', async () => {
    for (const body of ['{"username":', '{username: "admin"}', "{'a':1}", '{"a":1}}']) {
      const r = await raw('/api/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(r.status, body).toBe(400);
      expectErrorShape(await r.json(), 'MALFORMED_JSON');
    }
  });

  it('a body over the limit is 413 PAYLOAD_TOO_LARGE', async () => {
    const body = JSON.stringify({ username: 'admin', password: 'x'.repeat(1_100_000) });
    const r = await raw('/api/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(r.status).toBe(413);
    expectErrorShape(await r.json(), 'PAYLOAD_TOO_LARGE');
  });

  it('a body in another media type is 415 UNSUPPORTED_MEDIA_TYPE', async () => {
    for (const type of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded']) {
      const r = await raw('/api/v1/auth/login', { method: 'POST', headers: { 'content-type': type }, body: 'username=admin&password=secret' });
      expect(r.status, type).toBe(415);
      expectErrorShape(await r.json(), 'UNSUPPORTED_MEDIA_TYPE');
    }
  });

  it('a schema violation is 400 VALIDATION_FAILED naming the field', async () => {
    const r = await server.api('POST', '/api/v1/auth/login', { role: null, body: { username: 'admin' } });
    expect(r.status).toBe(400);
    expectErrorShape(r.body, 'VALIDATION_FAILED');
    expect(r.body.error.details.field).toBe('body.password');
    const q = await server.api('GET', '/api/v1/stations?limit=9999');
    expect(q.status).toBe(400);
    expect(q.body.error.details.field).toBe('querystring.limit');
    const p = await server.api('GET', '/api/v1/stations/abc');
    expect(p.status).toBe(400);
    expect(p.body.error.details.field).toBe('params.id');
  });

  it('echoes a sane X-Request-Id and makes one up otherwise', async () => {
    const given = await raw('/healthz', { headers: { 'x-request-id': 'req-abc_123' } });
    expect(given.headers.get('x-request-id')).toBe('req-abc_123');
    const made = await raw('/healthz', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const none = await raw('/healthz');
    expect(none.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
