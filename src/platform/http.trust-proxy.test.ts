import { describe, expect, it } from 'vitest';
import { access, createHttp, createLogger } from './index.js';

async function appWith(trustProxy: string | null) {
  const { app } = await createHttp({
    logger: createLogger('silent'),
    staffAuth: { authenticate: async () => null },
    terminalAuth: { authenticate: async () => { throw new Error('no terminals here'); } },
    cardholderAuth: { authenticate: async () => null },
    trustProxy,
  });
  app.get('/ip', { config: { access: access.public } }, async (req) => ({ ip: req.ip }));
  await app.ready();
  return app;
}

describe('client address behind a proxy', () => {
  it('believes X-Forwarded-For only from a configured proxy', async () => {
    const headers = { 'x-forwarded-for': '203.0.113.9' };
    const direct = await appWith(null);
    expect((await direct.inject({ method: 'GET', url: '/ip', headers, remoteAddress: '10.0.0.5' })).json().ip).toBe('10.0.0.5');
    const proxied = await appWith('10.0.0.5');
    expect((await proxied.inject({ method: 'GET', url: '/ip', headers, remoteAddress: '10.0.0.5' })).json().ip).toBe('203.0.113.9');
    // Somebody else sending the header does not get to choose their address.
    expect((await proxied.inject({ method: 'GET', url: '/ip', headers, remoteAddress: '198.51.100.7' })).json().ip).toBe('198.51.100.7');
    await direct.close();
    await proxied.close();
  });
});
