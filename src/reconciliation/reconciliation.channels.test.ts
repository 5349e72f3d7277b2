import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { expectLedgerVerified, getCard, issueCard, ok } from '../../test/support/cards-factory.js';
import { businessDay, systemActor } from '../platform/index.js';
import type { OnlineChannel, SandboxProvider } from '../payments/index.js';
import { reconciliationTick } from './reconciliation.jobs.js';
import { importStatement } from './reconciliation.service.js';

/**
 * The online channels end to end against their sandbox providers: orders paid through the
 * sandbox, statements downloaded by the T+1 job and by a staff run in each provider's real file
 * format, discrepancies worked.
 */
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerVerified(server));

const CHANNELS: OnlineChannel[] = ['wechat', 'alipay', 'unionpay'];
const today = () => businessDay(new Date(), 'Asia/Shanghai');
const sandbox = (c: OnlineChannel): SandboxProvider => server.deps.payments.sandboxes[c]!;
const hasStatements = (c: OnlineChannel) => {
  const ch = server.deps.payments.channels.get(c);
  return typeof ch?.fetchStatement === 'function' && typeof ch?.parseStatement === 'function';
};

async function order(cardNo: string, amount: number, channel: OnlineChannel): Promise<{ orderNo: string; status: string }> {
  return ok(await server.api('POST', '/api/v1/recharge-orders', { body: { cardNo, amount, channel }, role: 'station_staff' }), 201, `${channel} order`);
}
async function orderStatus(orderNo: string): Promise<string> {
  return ok(await server.api('GET', `/api/v1/recharge-orders/${orderNo}`), 200).status;
}
async function until(what: string, check: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
async function refund(orderNo: string, amount: number): Promise<string> {
  return ok(await server.api('POST', `/api/v1/recharge-orders/${orderNo}/refunds`, { role: 'finance', body: { amount, reason: '客户申请退款' } }), 201, 'refund').refundNo;
}
async function refundStatus(refundNo: string): Promise<string> {
  return ok(await server.api('GET', `/api/v1/refunds/${refundNo}`), 200).status;
}

/** Tomorrow at hh:mm in Shanghai (the job's clock). */
function tomorrowAt(hhmm: string): Date {
  const d = new Date(Date.parse(`${today()}T${hhmm}:00+08:00`) + 86_400_000);
  return d;
}

describe('the T+1 job', () => {
  it('is due at reconJobTime in the operator’s zone, for yesterday', async () => {
    const { dueReconciliations } = await import('./reconciliation.jobs.js');
    const cfg = { timeZone: 'Asia/Shanghai', reconJobTime: '10:30' };
    expect(dueReconciliations(new Date('2026-11-28T02:29:59Z'), cfg)).toEqual({ billDate: '2026-11-27', dueAt: new Date('2026-11-28T02:30:00Z'), due: false });
    expect(dueReconciliations(new Date('2026-11-28T02:30:00Z'), cfg).due).toBe(true);
    // 00:10 Beijing on the 1st is still the 30th in UTC: yesterday is the 30th of November, in Beijing.
    expect(dueReconciliations(new Date('2026-11-30T16:10:00Z'), cfg)).toMatchObject({ billDate: '2026-11-30', due: false });
    expect(dueReconciliations(new Date('2026-12-31T20:00:00Z'), { ...cfg, reconJobTime: '03:00' })).toMatchObject({ billDate: '2026-12-31', due: true });
    expect(dueReconciliations(new Date('2026-06-01T12:00:00Z'), { timeZone: 'Asia/Urumqi', reconJobTime: '10:30' })).toMatchObject({ billDate: '2026-05-31', due: true });
  });

  it('downloads yesterday’s statement of each online channel once, and waits before its time', async () => {
    const ready = CHANNELS.filter(hasStatements);
    expect(ready).toEqual(CHANNELS);
    const c = await issueCard(server);
    for (const ch of ready) {
      const o = await order(c.cardNo, 1_000, ch);
      await sandbox(ch).pay(o.orderNo);
      await until(`${ch} credit`, async () => (await orderStatus(o.orderNo)) === 'credited');
    }
    const lastTry = new Map<string, number>();
    expect(await reconciliationTick(server.deps, tomorrowAt('10:29'), lastTry)).toEqual([]);
    const first = await reconciliationTick(server.deps, tomorrowAt('10:31'), lastTry);
    expect(first.map((x) => x.channel).sort()).toEqual([...ready].sort());
    for (const x of first) expect(x.outcome).toMatch(/^run \d+$/);
    const runs = ok(await server.api('GET', `/api/v1/reconciliation/runs?billDate=${today()}&status=done`, { role: 'risk' }), 200);
    for (const r of runs.items) expect(r).toMatchObject({ source: 'job', matchedCount: 1, itemCount: 0 });
    // The clean day: the statement, the platform and the clearing account tell the same net.
    for (const ch of ready) {
      const report = ok(await server.api('GET', `/api/v1/reconciliation/report?from=${today()}&to=${today()}&channel=${ch}`), 200);
      expect(report.days[0]).toMatchObject({ status: 'balanced', statementNetEqualsPlatform: true, platformNetEqualsLedger: true, ledgerClearingNet: 1_000, openItems: 0 });
    }
    // Done for the day: later ticks leave it alone, even after the retry interval.
    expect(await reconciliationTick(server.deps, new Date(tomorrowAt('10:31').getTime() + 3_600_000), new Map())).toEqual([]);
  });
});

describe.each(CHANNELS)('%s statements', (ch) => {
  it('matches a payment and its refund; reports the payment whose notification never came, the stray payment and the second payment; credits the card once', async () => {
    const c = await issueCard(server);
    const sb = sandbox(ch);
    sb.refundMode = 'auto';
    const paid = await order(c.cardNo, 2_000, ch);
    await sb.pay(paid.orderNo);
    await until('credit', async () => (await orderStatus(paid.orderNo)) === 'credited');
    const refundNo = await refund(paid.orderNo, 500);
    await until('refund', async () => (await refundStatus(refundNo)) === 'succeeded');
    const silent = await order(c.cardNo, 3_000, ch);
    const silentPay = await sb.pay(silent.orderNo, { notify: 'never' });
    expect(await orderStatus(silent.orderNo)).not.toBe('credited');
    await until('credit', async () => (await orderStatus(paid.orderNo)) === 'credited');
    const stray = sb.addStrayPayment({ amount: 4_400 });
    const twice = ch === 'wechat' ? sb.addStrayPayment({ amount: 2_000, orderNo: paid.orderNo }) : null;

    const run = ok(await server.api('POST', '/api/v1/reconciliation/runs', { role: 'finance', body: { channel: ch, billDate: today() } }), 201);
    expect(run).toMatchObject({ status: 'done', channelRefundTotal: 500, platformRefundTotal: 500 });
    const open = ok(await server.api('GET', `/api/v1/reconciliation/items?channel=${ch}&billDate=${today()}&status=open`), 200).items as any[];
    const codes = open.map((i) => [i.code, i.channelTxnId]).sort();
    expect(codes).toEqual(
      [
        ['CHANNEL_ONLY', stray.channelTxnId],
        ['STATUS_DIFFERS', silentPay.channelTxnId],
        ...(twice ? [['DUPLICATE', twice.channelTxnId]] : []),
      ].sort(),
    );
    const status = open.find((i) => i.code === 'STATUS_DIFFERS');
    expect(status).toMatchObject({ orderNo: silent.orderNo, suggestedAction: 'credit_card', channelAmount: 3_000 });

    const before = (await getCard(server, c.cardNo)).balance;
    const [a, b] = await Promise.all([
      server.api('POST', `/api/v1/reconciliation/items/${status.id}/resolve`, { role: 'finance', body: { action: 'credit_card', note: '通知丢失，按对账单入卡' } }),
      server.api('POST', `/api/v1/reconciliation/items/${status.id}/resolve`, { role: 'admin', body: { action: 'credit_card', note: '同时处理' } }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    expect(await orderStatus(silent.orderNo)).toBe('credited');
    expect((await getCard(server, c.cardNo)).balance).toBe(before + 3_000);

    const stray2 = open.find((i) => i.code === 'CHANNEL_ONLY');
    ok(await server.api('POST', `/api/v1/reconciliation/items/${stray2.id}/resolve`, { role: 'finance', body: { action: 'credit_card', note: '客户补登', cardNo: c.cardNo } }), 200);
    expect((await getCard(server, c.cardNo)).balance).toBe(before + 3_000 + 4_400);
    // Giving that money back names the provider's own order number (the platform never issued it), which the provider knows.
    const strayOrder = (
      await sql<{ order_no: string; channel_order_no: string | null }>`select order_no, channel_order_no from recharge_orders
        where channel = ${ch} and channel_txn_id = ${stray.channelTxnId}`.execute(server.db.db)
    ).rows[0]!;
    expect(strayOrder.channel_order_no).toBe(stray.orderNo);
    const strayRefund = await refund(strayOrder.order_no, 4_400);
    await until('stray refund', async () => (await refundStatus(strayRefund)) === 'succeeded');
    expect((await getCard(server, c.cardNo)).balance).toBe(before + 3_000);

    // The day again: what was worked now matches; the open item count is what is left.
    const again = ok(await server.api('POST', '/api/v1/reconciliation/runs', { role: 'finance', body: { channel: ch, billDate: today() } }), 201);
    expect(again.itemCount).toBe(twice ? 1 : 0);
    const report = ok(await server.api('GET', `/api/v1/reconciliation/report?from=${today()}&to=${today()}&channel=${ch}`), 200);
    expect(report.days[0]).toMatchObject({ runId: again.id, status: twice ? 'open_items' : 'balanced' });
    const fee = await sql<{ f: number }>`select fee_total_mfen f from channel_statements where channel = ${ch} and status = 'accepted' and bill_date = ${today()}::date`.execute(server.db.db);
    expect(report.days[0].statement.feeTotalMfen).toBe(fee.rows[0]!.f);
  });
});

describe('statement integrity', () => {
  it('refuses a downloaded file whose hash differs from the provider’s, and a file edited after download, keeping both for the audit', async () => {
    const file = sandbox('wechat').statementFile(today());
    const err = await importStatement(server.deps, systemActor, {
      channel: 'wechat',
      billDate: today(),
      fileName: file.fileName,
      content: file.content,
      expectedHash: { algorithm: 'sha1', hex: '0'.repeat(40) },
      source: 'job',
      replace: true,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PAYMENT_STATEMENT_HASH_MISMATCH', details: { statementId: expect.any(Number) } });

    // One amount changed by hand (a detail line, not the summary): the file no longer adds up.
    const text = file.content.toString('utf8');
    const edited = text.replace(/`20\.00,/, '`21.00,');
    expect(edited).not.toBe(text);
    const r = await server.api('POST', '/api/v1/reconciliation/statements', {
      role: 'finance',
      body: { channel: 'wechat', billDate: today(), fileName: file.fileName, contentBase64: Buffer.from(edited, 'utf8').toString('base64'), replace: true },
    });
    expect({ status: r.status, code: r.body.error.code }).toEqual({ status: 422, code: 'PAYMENT_STATEMENT_TOTALS_MISMATCH' });
    const kept = await sql<{ rejection: string }>`select rejection from channel_statements where channel = 'wechat' and status = 'rejected'
      and rejection like 'PAYMENT_%' order by id`.execute(server.db.db);
    expect(kept.rows.map((x) => x.rejection)).toEqual(['PAYMENT_STATEMENT_HASH_MISMATCH', 'PAYMENT_STATEMENT_TOTALS_MISMATCH']);
    // The accepted statement of the day is still the one in force.
    const accepted = await sql<{ n: number }>`select count(*)::int n from channel_statements where channel = 'wechat' and status = 'accepted' and bill_date = ${today()}::date`.execute(server.db.db);
    expect(accepted.rows[0]!.n).toBe(1);
  });
});

describe('manual import of the providers’ own files', () => {
  it.each(['alipay', 'unionpay'] as const)('takes a %s statement uploaded by finance and reconciles it', async (ch) => {
    const c = await issueCard(server);
    const o = await order(c.cardNo, 1_234, ch);
    await sandbox(ch).pay(o.orderNo);
    await until('credit', async () => (await orderStatus(o.orderNo)) === 'credited');
    const file = sandbox(ch).statementFile(today());
    if (ch === 'alipay') expect(file.content.subarray(0, 2).toString('latin1')).toBe('PK'); // the provider's zip (GBK CSVs inside)
    const r = await server.api('POST', '/api/v1/reconciliation/statements', {
      role: 'finance',
      body: { channel: ch, billDate: today(), fileName: file.fileName, contentBase64: file.content.toString('base64'), replace: true },
    });
    const s = ok(r, 201, `${ch} import`);
    expect(s).toMatchObject({ channel: ch, billDate: today(), source: 'import', status: 'accepted', runError: null });
    expect(s.paymentTotal).toBeGreaterThanOrEqual(1_234);
    expect(s.run).toMatchObject({ status: 'done' });
    const lines = await sql<{ n: number }>`select count(*)::int n from statement_lines l join recharge_orders o on o.channel_txn_id = l.channel_txn_id
      where l.statement_id = ${s.id} and o.order_no = ${o.orderNo} and l.amount = 1234`.execute(server.db.db);
    expect(lines.rows[0]!.n).toBe(1);
    const open = ok(await server.api('GET', `/api/v1/reconciliation/items?channel=${ch}&billDate=${today()}&status=open&limit=200`), 200).items as any[];
    expect(open.filter((i) => i.orderNo === o.orderNo)).toEqual([]);
  });
});

describe('midnight on an online channel', () => {
  it('matches a WeChat payment the platform put at 23:59:59 with the next day’s statement, from the pool, without an item', async () => {
    const yesterday = businessDay(new Date(Date.now() - 86_400_000), 'Asia/Shanghai');
    const c = await issueCard(server);
    const o = await order(c.cardNo, 777, 'wechat');
    await sandbox('wechat').pay(o.orderNo);
    await until('credit', async () => (await orderStatus(o.orderNo)) === 'credited');
    // The provider books the trade today; the platform's clock put it a second before midnight.
    await sql`update recharge_orders set paid_at = ${`${yesterday}T23:59:59+08:00`}::timestamptz where order_no = ${o.orderNo}`.execute(server.db.db);
    const orderId = (await sql<{ id: string }>`select id from recharge_orders where order_no = ${o.orderNo}`.execute(server.db.db)).rows[0]!.id;
    const pooled = async () => (await sql<{ n: number }>`select count(*)::int n from recon_pending where order_id = ${orderId}`.execute(server.db.db)).rows[0]!.n;

    const first = ok(await server.api('POST', '/api/v1/reconciliation/runs', { role: 'finance', body: { channel: 'wechat', billDate: yesterday } }), 201);
    expect(first).toMatchObject({ status: 'done', itemCount: 0, platformPaymentTotal: 777 });
    expect(await pooled()).toBe(1);
    // Yesterday's ledger, on the platform's basis, holds the credit posted today for that payment.
    const report = ok(await server.api('GET', `/api/v1/reconciliation/report?from=${yesterday}&to=${yesterday}&channel=wechat`), 200);
    expect(report.days[0]).toMatchObject({ status: 'nets_differ', statementNetEqualsPlatform: false, platformNetEqualsLedger: true, ledgerClearingNet: 777 });
    expect(report.days[0].explanations.join('\n')).toContain(o.orderNo);

    const next = ok(await server.api('POST', '/api/v1/reconciliation/runs', { role: 'finance', body: { channel: 'wechat', billDate: today() } }), 201);
    expect(next.matchedCrossDay).toBeGreaterThanOrEqual(1);
    expect(await pooled()).toBe(0);
    const mine = await sql<{ n: number }>`select count(*)::int n from recon_items where order_id = ${orderId}`.execute(server.db.db);
    expect(mine.rows[0]!.n).toBe(0);
  });
});
