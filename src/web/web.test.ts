import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttp, createLogger, type App } from '../platform/index.js';
import { webIsBuilt, webRoutes } from './index.js';

// The static pages need no database: a bare platform app with the web routes over a fake build.
let dist: string;
let app: App;

async function appOver(distDir: string): Promise<App> {
  const { app } = await createHttp({
    logger: createLogger('silent'),
    staffAuth: { authenticate: async () => null },
    terminalAuth: { authenticate: async () => { throw new Error('no terminals here'); } },
    cardholderAuth: { authenticate: async () => null },
  });
  webRoutes(app, { distDir });
  await app.ready();
  return app;
}

beforeAll(async () => {
  dist = mkdtempSync(path.join(os.tmpdir(), 'fuelcard-web-'));
  for (const dir of ['admin', 'portal', 'pos', 'assets']) mkdirSync(path.join(dist, dir), { recursive: true });
  writeFileSync(path.join(dist, 'index.html'), '<html>landing</html>');
  for (const name of ['admin', 'portal', 'pos']) writeFileSync(path.join(dist, name, 'index.html'), `<html>${name} app</html>`);
  writeFileSync(path.join(dist, 'assets', 'app-abc123.js'), 'console.log(1)');
  writeFileSync(path.join(os.tmpdir(), 'fuelcard-secret.txt'), 'PRIVATE-BYTES-42');
  app = await appOver(dist);
});
afterAll(async () => {
  await app?.close();
  rmSync(dist, { recursive: true, force: true });
});

describe('serving the web front ends', () => {
  it('serves the landing page at / and each app at its path, HTML never cached, with hardening headers', async () => {
    const root = await app.inject({ method: 'GET', url: '/' });
    expect(root.statusCode).toBe(200);
    expect(root.body).toBe('<html>landing</html>');
    expect(root.headers['content-type']).toMatch(/^text\/html/);
    expect(root.headers['cache-control']).toBe('no-cache');
    expect(root.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(root.headers['x-content-type-options']).toBe('nosniff');
    for (const name of ['admin', 'portal', 'pos']) {
      const r = await app.inject({ method: 'GET', url: `/${name}/` });
      expect(r.statusCode, name).toBe(200);
      expect(r.body).toBe(`<html>${name} app</html>`);
    }
  });

  it('answers deep links with the app page, so a bookmarked screen opens', async () => {
    const r = await app.inject({ method: 'GET', url: '/admin/cards/9000011234567890123?tab=limits' });
    expect(r.statusCode).toBe(200);
    expect(r.body).toBe('<html>admin app</html>');
    const portal = await app.inject({ method: 'GET', url: '/portal/cards/1/statement' });
    expect(portal.body).toBe('<html>portal app</html>');
  });

  it('redirects /admin to /admin/ so relative paths resolve', async () => {
    const r = await app.inject({ method: 'GET', url: '/admin' });
    expect(r.statusCode).toBe(302);
    expect(r.headers.location).toBe('/admin/');
  });

  it('serves hashed assets with a long cache and their type; a missing file is a 404 in the API error shape', async () => {
    const js = await app.inject({ method: 'GET', url: '/assets/app-abc123.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    expect(js.headers['cache-control']).toContain('immutable');
    const missing = await app.inject({ method: 'GET', url: '/assets/nope.js' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('ROUTE_NOT_FOUND');
    const missingInApp = await app.inject({ method: 'GET', url: '/admin/logo.png' });
    expect(missingInApp.statusCode).toBe(404);
  });

  it('never serves a file outside the build, however the path is spelled', async () => {
    for (const url of ['/assets/../../fuelcard-secret.txt', '/assets/..%2f..%2ffuelcard-secret.txt', '/admin/..%2f..%2f..%2ffuelcard-secret.txt', '/assets/%2e%2e/%2e%2e/fuelcard-secret.txt']) {
      const r = await app.inject({ method: 'GET', url });
      expect(r.body, url).not.toContain('PRIVATE-BYTES-42');
      expect([200, 302, 400, 404], url).toContain(r.statusCode);
    }
  });

  it('without a build the pages answer 503 WEB_NOT_BUILT instead of a blank page', async () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'fuelcard-web-empty-'));
    const bare = await appOver(empty);
    try {
      expect(webIsBuilt(empty)).toBe(false);
      const r = await bare.inject({ method: 'GET', url: '/admin/customers' });
      expect(r.statusCode).toBe(503);
      expect(r.json().error.code).toBe('WEB_NOT_BUILT');
    } finally {
      await bare.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('knows a complete build when it sees one', () => {
    expect(webIsBuilt(dist)).toBe(true);
  });
});
