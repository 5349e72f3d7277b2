import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../platform/index.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { expectError, expectLedgerVerified, issueCard } from '../../test/support/cards-factory.js';

/**
 * A sandbox provider's payer page pays any order for free: it must never stand in for a channel on a
 * production system (real keys) unless an operator says so for a staging system.
 */
const key = () => randomBytes(32).toString('base64');
const REAL_KEYS = { FUELCARD_DATA_KEYS: `k1:${key()}`, FUELCARD_BLIND_INDEX_KEY: key(), FUELCARD_PIN_KEY: key(), FUELCARD_MESSAGE_SENDER: 'dev', FUELCARD_ADMIN_TOTP: 'optional' };

describe('payment sandboxes', () => {
  let server: TestServer | undefined;
  afterAll(async () => server?.close());

  it('are on with development keys, off with real keys unless FUELCARD_PAYMENTS_SANDBOX=on', () => {
    expect(loadConfig({}).paymentsSandbox).toBe(true);
    expect(loadConfig(REAL_KEYS).paymentsSandbox).toBe(false);
    expect(loadConfig({ ...REAL_KEYS, FUELCARD_PAYMENTS_SANDBOX: 'on' }).paymentsSandbox).toBe(true);
    expect(loadConfig({ FUELCARD_PAYMENTS_SANDBOX: 'off' }).paymentsSandbox).toBe(false);
    expect(() => loadConfig({ FUELCARD_PAYMENTS_SANDBOX: 'yes' })).toThrow(/FUELCARD_PAYMENTS_SANDBOX/);
  });

  it('with real keys and no merchant credentials: online channels are disabled and no sandbox page answers', async () => {
    server = await startTestServer(REAL_KEYS);
    expect(Object.keys(server.deps.payments.sandboxes)).toEqual([]);
    expect([...server.deps.payments.channels.keys()].sort()).toEqual(['bank_transfer', 'cash']);
    const c = await issueCard(server);
    for (const channel of ['wechat', 'alipay', 'unionpay']) {
      expectError(await server.api('POST', '/api/v1/recharge-orders', { role: 'station_staff', body: { cardNo: c.cardNo, amount: 10_000, channel } }), 409, 'PAYMENT_CHANNEL_DISABLED');
      const page = await fetch(`${server.baseUrl}/sandbox/${channel}/pay/anything`);
      expect(page.status, channel).toBe(404);
    }
    await expectLedgerVerified(server);
  });
});
