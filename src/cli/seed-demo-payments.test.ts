import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { expectLedgerVerified, getCard, issueCard, ok } from '../../test/support/cards-factory.js';
import { seedDemoPayments } from './seed-demo-payments.js';
import { businessDay } from '../platform/index.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerVerified(server));

describe('demo payments', () => {
  it('tops up through every sandbox provider, refunds part of one, leaves a transfer waiting and one discrepancy for finance', async () => {
    const c = await issueCard(server);
    const out = await seedDemoPayments(server.deps, c.cardNo);
    expect(out).toEqual({ credited: 4, waiting: 1, refunds: 1, reconciled: ['wechat', 'alipay', 'unionpay'] });
    // 200 + 100 + 300 + 50 元 credited, 20 元 refunded.
    expect((await getCard(server, c.cardNo)).balance).toBe(65_000 - 2_000);
    const orders = ok(await server.api('GET', `/api/v1/recharge-orders?cardNo=${c.cardNo}`, { role: 'admin' }), 200).items as Array<{ channel: string; status: string }>;
    expect(orders.filter((o) => o.status === 'credited').map((o) => o.channel).sort()).toEqual(['alipay', 'unionpay', 'wechat', 'wechat']);
    expect(orders.filter((o) => o.status === 'paying').map((o) => o.channel)).toEqual(['bank_transfer']);
    const open = ok(await server.api('GET', '/api/v1/reconciliation/items?status=open', { role: 'finance' }), 200).items as Array<{ channel: string; code: string }>;
    expect(open.map((i) => [i.channel, i.code])).toEqual([['alipay', 'CHANNEL_ONLY']]);
    // Today's provisional reconciliation: statement, platform and ledger agree wherever nothing is open.
    const today = businessDay(new Date(), 'Asia/Shanghai');
    const report = ok(await server.api('GET', `/api/v1/reconciliation/report?from=${today}&to=${today}`, { role: 'finance' }), 200).days as Array<{ channel: string; status: string }>;
    expect(Object.fromEntries(report.map((d) => [d.channel, d.status]))).toMatchObject({ wechat: 'balanced', alipay: 'open_items', unionpay: 'balanced' });
  });
});
