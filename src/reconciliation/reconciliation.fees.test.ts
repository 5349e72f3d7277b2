import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { expectLedgerVerified, issueCard, ok } from '../../test/support/cards-factory.js';
import { businessDay } from '../platform/index.js';

/**
 * Fees: each statement line's fee is checked against the rate agreed with the channel. Here the
 * contract says 0.38 % while the (sandbox) provider charges 0.6 %: every payment's fee differs.
 */
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ FUELCARD_WECHAT_FEE_RATE_PPM: '3800' });
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerVerified(server));

describe('fee check', () => {
  it('reports FEE_DIFFERS when the channel charged another rate than the contract, and matches when it did not', async () => {
    expect(server.deps.payments.feeRatePpm('wechat')).toBe(3800);
    expect(server.deps.payments.feeRatePpm('alipay')).toBe(6000);
    expect(server.deps.payments.feeRatePpm('cash')).toBeNull();
    const c = await issueCard(server);
    const today = businessDay(new Date(), 'Asia/Shanghai');
    for (const channel of ['wechat', 'alipay'] as const) {
      const order = ok(await server.api('POST', '/api/v1/recharge-orders', { role: 'station_staff', body: { cardNo: c.cardNo, amount: 100_000, channel } }), 201);
      await server.deps.payments.sandboxes[channel]!.pay(order.orderNo);
      const run = ok(await server.api('POST', '/api/v1/reconciliation/runs', { role: 'finance', body: { channel, billDate: today } }), 201);
      const items = ok(await server.api('GET', `/api/v1/reconciliation/items?channel=${channel}&billDate=${today}&status=open`, { role: 'finance' }), 200).items as any[];
      if (channel === 'wechat') {
        // 1,000 元 at 0.6 % is 6.00 元; the contract's 0.38 % would be 3.80 元: 2.20 元 too much.
        expect(items.map((i) => [i.code, i.orderNo, i.feeDiffMfen, i.suggestedAction])).toEqual([['FEE_DIFFERS', order.orderNo, 220_000, 'explain']]);
        expect(run.itemCount).toBe(1);
      } else {
        expect(items).toEqual([]);
        expect(run).toMatchObject({ itemCount: 0, matchedCount: 1 });
      }
    }
  });
});
