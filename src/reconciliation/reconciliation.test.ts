import { randomInt } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { expectError, expectLedgerVerified, getCard, issueCard, ok } from '../../test/support/cards-factory.js';
import { businessDay } from '../platform/index.js';
import { formatBankStatement } from '../payments/channels/offline/bank-statement.js';

/**
 * Reconciliation through the running server with the bank transfer channel (no provider needed):
 * orders and incoming transfers through their APIs, the bank's statement CSV imported, items worked.
 * Each test owns its bill days (value dates far apart), so the days do not see each other's records.
 */
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerVerified(server));

const today = () => businessDay(new Date(), 'Asia/Shanghai');
const day = (base: string, n: number) => new Date(Date.parse(`${base}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
let txnSeq = 0;
const txn = (tag: string) => `B${tag}${Date.now().toString(36).toUpperCase()}${++txnSeq}${randomInt(1000, 9999)}`;

async function bankOrder(cardNo: string, amount: number): Promise<{ orderNo: string; payerCode: string }> {
  return ok(await server.api('POST', '/api/v1/recharge-orders', { body: { cardNo, amount, channel: 'bank_transfer' }, role: 'station_staff' }), 201, 'bank order');
}
/** The payer's transfer, entered by finance: matched by its payer code, the card credited. */
async function transferIn(order: { payerCode: string }, bankTxnId: string, valueDate: string, amount: number): Promise<any> {
  const body = { bankTxnId, valueDate, amount, ...(order.payerCode ? { memo: `充值 ${order.payerCode}` } : {}) };
  return ok(await server.api('POST', '/api/v1/bank-transfers', { role: 'finance', body }), 201, 'transfer in');
}
/** A credited bank transfer order paid on `valueDate`. */
async function paidOrder(cardNo: string, amount: number, valueDate: string) {
  const o = await bankOrder(cardNo, amount);
  const bankTxnId = txn('P');
  const t = await transferIn(o, bankTxnId, valueDate, amount);
  expect(t.status).toBe('matched');
  return { ...o, bankTxnId, amount, valueDate };
}
type Row = { date: string; bankTxnId: string; income?: number; expense?: number; memo?: string; time?: string };
const bankFile = (rows: Row[], total?: { count?: number; income?: number; expense?: number }) => formatBankStatement(rows, total ? { total } : {});
const importFile = (billDate: string, file: Buffer, extra: Record<string, unknown> = {}, role: 'finance' | 'admin' | 'risk' = 'finance') =>
  server.api('POST', '/api/v1/reconciliation/statements', { role, body: { channel: 'bank_transfer', billDate, fileName: `银行对账单-${billDate}.csv`, contentBase64: file.toString('base64'), ...extra } });
async function reconcile(billDate: string, rows: Row[]): Promise<any> {
  const s = ok(await importFile(billDate, bankFile(rows)), 201, `import ${billDate}`);
  expect(s.runError).toBeNull();
  return s;
}
async function items(q: string): Promise<any[]> {
  return ok(await server.api('GET', `/api/v1/reconciliation/items?limit=200&${q}`, { role: 'risk' }), 200).items;
}
async function clearing(channel: string): Promise<number> {
  const r = await sql<{ b: number | null }>`select credits_posted - debits_posted b from ledger_accounts where system_key = ${`channel_clearing:${channel}`}`.execute(server.db.db);
  return r.rows[0]?.b ?? 0;
}
async function writeOffBalance(): Promise<number> {
  const r = await sql<{ b: number | null }>`select credits_posted - debits_posted b from ledger_accounts where system_key = 'write_off:reconciliation'`.execute(server.db.db);
  return r.rows[0]?.b ?? 0;
}
const resolve = (id: number, body: Record<string, unknown>, role: 'finance' | 'admin' | 'risk' | 'operator' = 'finance') =>
  server.api('POST', `/api/v1/reconciliation/items/${id}/resolve`, { role, body });

describe('a clean day', () => {
  it('matches every line, reports nothing, and the three nets agree', async () => {
    const c = await issueCard(server);
    const d = today();
    const a = await paidOrder(c.cardNo, 12_300, d);
    const b = await paidOrder(c.cardNo, 4_500, d);
    const s = await reconcile(d, [
      { date: d, bankTxnId: a.bankTxnId, income: a.amount, memo: a.payerCode, time: '00:00:01' },
      { date: d, bankTxnId: b.bankTxnId, income: b.amount, memo: `转账 ${b.payerCode}`, time: '00:00:02' },
    ]);
    expect(s).toMatchObject({ status: 'accepted', lineCount: 2, paymentCount: 2, paymentTotal: 16_800, refundTotal: 0 });
    expect(s.run).toMatchObject({ status: 'done', matchedCount: 2, matchedCrossDay: 0, itemCount: 0, pendingCount: 0, channelPaymentTotal: 16_800, platformPaymentTotal: 16_800, ledgerClearingNet: 16_800 });

    const report = ok(await server.api('GET', `/api/v1/reconciliation/report?from=${d}&to=${d}&channel=bank_transfer`, { role: 'operator' }), 200);
    expect(report.days).toEqual([
      expect.objectContaining({
        channel: 'bank_transfer',
        billDate: d,
        runId: s.run.id,
        status: 'balanced',
        statement: { paymentCount: 2, paymentTotal: 16_800, refundCount: 0, refundTotal: 0, feeTotalMfen: 0 },
        platform: { paymentCount: 2, paymentTotal: 16_800, refundCount: 0, refundTotal: 0 },
        ledgerClearingNet: 16_800,
        statementNetEqualsPlatform: true,
        platformNetEqualsLedger: true,
        matched: 2,
        openItems: 0,
      }),
    ]);
    // The same day's ledger, read directly: the clearing account moved exactly the report's net.
    const moved = await sql<{ n: number }>`select coalesce(sum(t.amount), 0)::bigint n from ledger_transfers t join ledger_accounts a on a.id = t.debit_account_id
      where a.system_key = 'channel_clearing:bank_transfer' and t.code = 'recharge'`.execute(server.db.db);
    expect(moved.rows[0]!.n).toBe(16_800);

    const res = await fetch(`${server.baseUrl}/api/v1/reconciliation/report.xlsx?from=${day(d, -2)}&to=${d}`, { headers: { authorization: `Bearer ${server.tokens.finance}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('spreadsheetml');
    expect(res.headers.get('content-disposition')).toContain('.xlsx');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.subarray(0, 2).toString('latin1')).toBe('PK');
    expect(bytes.length).toBeGreaterThan(1000);

    // The file as it came, for the audit.
    const file = await fetch(`${server.baseUrl}/api/v1/reconciliation/statements/${s.id}/file`, { headers: { authorization: `Bearer ${server.tokens.risk}` } });
    expect(file.status).toBe(200);
    expect(Buffer.from(await file.arrayBuffer()).equals(bankFile([
      { date: d, bankTxnId: a.bankTxnId, income: a.amount, memo: a.payerCode, time: '00:00:01' },
      { date: d, bankTxnId: b.bankTxnId, income: b.amount, memo: `转账 ${b.payerCode}`, time: '00:00:02' },
    ]))).toBe(true);
    expect(file.headers.get('content-disposition')).toContain("filename*=UTF-8''");
    const detail = ok(await server.api('GET', `/api/v1/reconciliation/statements/${s.id}?limit=1`, { role: 'risk' }), 200);
    expect(detail.lines).toHaveLength(1);
    expect(detail.nextLineCursor).toBe(1);
  });
});

describe('discrepancies and their resolution', () => {
  it('reports a transfer nobody ordered and credits it to the card finance names, once', async () => {
    const D = '2026-03-02';
    const c = await issueCard(server);
    const stray = txn('S');
    await reconcile(D, [{ date: D, bankTxnId: stray, income: 8_800, memo: '无附言' }]);
    const [item] = await items(`channel=bank_transfer&billDate=${D}&status=open`);
    expect(item).toMatchObject({ code: 'CHANNEL_ONLY', suggestedAction: 'investigate', channelAmount: 8_800, platformAmount: null, difference: 8_800, channelTxnId: stray });

    expectError(await resolve(item.id, { action: 'credit_card', note: '客户来电确认' }), 400, 'RECON_CARD_REQUIRED');
    expectError(await resolve(item.id, { action: 'credit_card', note: '客户来电确认', cardNo: c.cardNo }, 'risk'), 403, 'FORBIDDEN');
    const before = await getCard(server, c.cardNo);
    const done = ok(await resolve(item.id, { action: 'credit_card', note: '客户来电确认', cardNo: c.cardNo }), 200);
    expect(done).toMatchObject({ status: 'resolved', resolution: 'credit_card', resolutionNote: '客户来电确认' });
    expect(done.resolutionRef).toMatch(/^P\d{19}$/);
    expect((await getCard(server, c.cardNo)).balance).toBe(before.balance + 8_800);
    const transfer = await sql<{ status: string; order_no: string }>`select t.status, o.order_no from bank_transfers_in t join recharge_orders o on o.id = t.order_id
      where t.bank_txn_id = ${stray}`.execute(server.db.db);
    expect(transfer.rows).toEqual([{ status: 'matched', order_no: done.resolutionRef }]);
    expectError(await resolve(item.id, { action: 'credit_card', note: '再来一次', cardNo: c.cardNo }), 409, 'RECON_ITEM_RESOLVED');
    expect((await getCard(server, c.cardNo)).balance).toBe(before.balance + 8_800);

    const detail = ok(await server.api('GET', `/api/v1/reconciliation/items/${item.id}`, { role: 'operator' }), 200);
    expect(detail.events.map((e: any) => e.action)).toEqual(['opened', 'credit_card']);
    expect(detail.events[1]).toMatchObject({ staff: 't_finance', note: '客户来电确认' });
    expect(detail.line).toMatchObject({ channelTxnId: stray, amount: 8_800 });
    const audit = await sql<{ n: number }>`select count(*)::int n from audit_log where action = 'reconciliation.item.resolve' and target_id = ${String(item.id)}`.execute(server.db.db);
    expect(audit.rows[0]!.n).toBe(1);

    // The next statement shows the same money: it is on a card now, so it matches.
    const again = ok(await server.api('POST', '/api/v1/reconciliation/runs', { role: 'admin', body: { channel: 'bank_transfer', billDate: D } }), 201);
    expect(again).toMatchObject({ matchedCount: 1, itemCount: 0 });
  });

  it('tells a wrong amount, a second transfer and a transfer for a closed order apart, and works each', async () => {
    const D = '2026-03-10';
    const c = await issueCard(server);
    const a = await paidOrder(c.cardNo, 10_000, D);
    const twice = await paidOrder(c.cardNo, 6_000, D);
    const closed = await bankOrder(c.cardNo, 7_000);
    ok(await server.api('POST', `/api/v1/recharge-orders/${closed.orderNo}/close`, { role: 'finance' }), 200, 'close');
    const second = txn('T');
    const late = txn('L');
    // Finance entered the late transfer before the order's code was known (no memo): it stays unmatched.
    const entered = await transferIn({ payerCode: '' }, late, D, 7_000);
    expect(entered.status).toBe('unmatched');
    const s = await reconcile(D, [
      { date: D, bankTxnId: a.bankTxnId, income: 9_000, memo: a.payerCode },
      { date: D, bankTxnId: twice.bankTxnId, income: 6_000, memo: twice.payerCode },
      { date: D, bankTxnId: second, income: 6_000, memo: twice.payerCode },
      { date: D, bankTxnId: late, income: 7_000, memo: closed.payerCode },
    ]);
    expect(s.run).toMatchObject({ matchedCount: 1, itemCount: 3 });
    const found = await items(`channel=bank_transfer&billDate=${D}`);
    const byCode = Object.fromEntries(found.map((i) => [i.code, i]));
    expect(Object.keys(byCode).sort()).toEqual(['AMOUNT_DIFFERS', 'DUPLICATE', 'STATUS_DIFFERS']);
    expect(byCode.AMOUNT_DIFFERS).toMatchObject({ orderNo: a.orderNo, platformAmount: 10_000, channelAmount: 9_000, difference: -1_000, suggestedAction: 'investigate' });
    expect(byCode.DUPLICATE).toMatchObject({ orderNo: twice.orderNo, channelTxnId: second, channelAmount: 6_000, suggestedAction: 'refund' });
    expect(byCode.STATUS_DIFFERS).toMatchObject({ orderNo: closed.orderNo, platformStatus: 'closed', channelAmount: 7_000, suggestedAction: 'credit_card' });

    // Status differs: the closed order is credited, through the order itself, once.
    const balance0 = (await getCard(server, c.cardNo)).balance;
    expectError(await resolve(byCode.STATUS_DIFFERS.id, { action: 'credit_card', note: 'x', amount: 5 }), 422, 'RECON_ACTION_NOT_ALLOWED');
    const credited = ok(await resolve(byCode.STATUS_DIFFERS.id, { action: 'credit_card', note: '关单后到账，入卡' }), 200);
    expect(credited.resolutionRef).toBe(closed.orderNo);
    const order = ok(await server.api('GET', `/api/v1/recharge-orders/${closed.orderNo}`), 200);
    expect(order).toMatchObject({ status: 'credited', channelTxnId: late });
    expect(order.events.at(-1)).toMatchObject({ source: 'reconciliation' });
    expect((await getCard(server, c.cardNo)).balance).toBe(balance0 + 7_000);

    // Amount differs: the shortfall written off between the clearing and write-off accounts.
    const woBefore = await writeOffBalance();
    const clearBefore = await clearing('bank_transfer');
    expectError(await resolve(byCode.AMOUNT_DIFFERS.id, { action: 'write_off', note: '银行少入账', amount: 1_001 }), 400, 'RECON_AMOUNT_INVALID');
    expectError(await resolve(byCode.AMOUNT_DIFFERS.id, { action: 'credit_card', note: '不适用' }), 422, 'RECON_ACTION_NOT_ALLOWED');
    const wo = ok(await resolve(byCode.AMOUNT_DIFFERS.id, { action: 'write_off', note: '银行少入账' }), 200);
    expect(wo.resolutionRef).toMatch(/^[0-9a-f-]{36}$/);
    expect(await writeOffBalance()).toBe(woBefore - 1_000);
    expect(await clearing('bank_transfer')).toBe(clearBefore + 1_000);

    // A second transfer for an order: put on the order's card, then paid back to the payer.
    expectError(await resolve(byCode.DUPLICATE.id, { action: 'refund', note: '重复转账，退回' }), 400, 'PAYMENT_PAYEE_REQUIRED');
    expect((await getCard(server, c.cardNo)).balance).toBe(balance0 + 7_000);
    const dup = ok(
      await resolve(byCode.DUPLICATE.id, { action: 'refund', note: '重复转账，退回', payee: { name: '李小龙', account: '6222020200112233445', bank: '工商银行' } }),
      200,
    );
    expect(dup.resolutionRef).toMatch(/^F\d{19}$/);
    // Bank payouts wait for finance to send the money (processing) — held in refunds payable meanwhile.
    const refund = ok(await server.api('GET', `/api/v1/refunds/${dup.resolutionRef}`), 200);
    expect(refund).toMatchObject({ amount: 6_000, channel: 'bank_transfer', status: 'processing' });
    const refunded = ok(await server.api('GET', `/api/v1/recharge-orders/${refund.orderNo}`), 200);
    expect(refunded).toMatchObject({ channelTxnId: second, cardNo: c.cardNo });
    expect((await getCard(server, c.cardNo)).balance).toBe(balance0 + 7_000);

    // A re-run finds no new items and no old ones again: everything is resolved, nothing duplicated.
    const rerun = ok(await server.api('POST', '/api/v1/reconciliation/runs', { role: 'finance', body: { channel: 'bank_transfer', billDate: D } }), 201);
    // The credited and refunded money now sits on orders (matched); the written-off difference stays worked.
    expect(rerun).toMatchObject({ status: 'done', matchedCount: 3, itemCount: 0, autoResolved: 0 });
    const after = await items(`channel=bank_transfer&billDate=${D}`);
    expect(after.map((i) => [i.code, i.status]).sort()).toEqual([
      ['AMOUNT_DIFFERS', 'resolved'],
      ['DUPLICATE', 'resolved'],
      ['STATUS_DIFFERS', 'resolved'],
    ]);
  });

  it('finds the same items on a re-run and resolves by itself what a corrected statement no longer shows', async () => {
    const D = '2026-03-20';
    const c = await issueCard(server);
    const a = await paidOrder(c.cardNo, 3_000, D);
    const stray = txn('R');
    await reconcile(D, [
      { date: D, bankTxnId: a.bankTxnId, income: 3_100, memo: a.payerCode },
      { date: D, bankTxnId: stray, income: 50, memo: '利息' },
    ]);
    const first = await items(`channel=bank_transfer&billDate=${D}&status=open`);
    expect(first.map((i) => i.code).sort()).toEqual(['AMOUNT_DIFFERS', 'CHANNEL_ONLY']);
    ok(await server.api('POST', `/api/v1/reconciliation/items/${first[0].id}/notes`, { role: 'finance', body: { note: '已联系银行' } }), 200);

    const rerun = ok(await server.api('POST', '/api/v1/reconciliation/runs', { role: 'finance', body: { channel: 'bank_transfer', billDate: D } }), 201);
    expect(rerun).toMatchObject({ itemCount: 2, autoResolved: 0 });
    const second = await items(`channel=bank_transfer&billDate=${D}&status=open`);
    expect(second.map((i) => i.id).sort()).toEqual(first.map((i) => i.id).sort());
    expect(second.every((i) => i.runId === rerun.id)).toBe(true);

    // The bank corrects its file: replacing the statement supersedes the old one, and the day balances.
    expectError(await importFile(D, bankFile([{ date: D, bankTxnId: a.bankTxnId, income: 3_000, memo: a.payerCode }])), 409, 'RECON_STATEMENT_EXISTS');
    const fixed = ok(await importFile(D, bankFile([{ date: D, bankTxnId: a.bankTxnId, income: 3_000, memo: a.payerCode }]), { replace: true }), 201);
    expect(fixed.run).toMatchObject({ matchedCount: 1, itemCount: 0, autoResolved: 2 });
    const resolved = await items(`channel=bank_transfer&billDate=${D}`);
    expect(resolved.map((i) => [i.status, i.resolution, i.resolutionNote])).toEqual([
      ['resolved', 'explained', '再次对账已平'],
      ['resolved', 'explained', '再次对账已平'],
    ]);
    const detail = ok(await server.api('GET', `/api/v1/reconciliation/items/${first[0].id}`), 200);
    expect(detail.events.map((e: any) => e.action)).toEqual(['opened', 'note', 'seen_again', 'auto_resolved']);
    const list = ok(await server.api('GET', `/api/v1/reconciliation/statements?channel=bank_transfer&billDate=${D}`, { role: 'risk' }), 200);
    expect(list.items.map((s: any) => [s.status, s.rejection])).toEqual([
      ['accepted', null],
      ['rejected', 'SUPERSEDED'],
    ]);
    const report = ok(await server.api('GET', `/api/v1/reconciliation/report?from=${D}&to=${D}&channel=bank_transfer`), 200);
    expect(report.days[0]).toMatchObject({ status: 'balanced', openItems: 0, resolvedItems: 2, matched: 1 });
  });

  it('keeps a payment the statement does not show in the pool, and reports it only after the pool days', async () => {
    const D = '2026-04-01';
    const c = await issueCard(server);
    const a = await paidOrder(c.cardNo, 2_200, D);
    const first = await reconcile(D, []);
    expect(first.run).toMatchObject({ itemCount: 0, pendingCount: 1 });
    for (const n of [1, 2]) {
      const s = await reconcile(day(D, n), []);
      expect(s.run).toMatchObject({ itemCount: 0, pendingCount: 1 });
    }
    const late = await reconcile(day(D, 3), []);
    expect(late.run).toMatchObject({ itemCount: 1, pendingCount: 0 });
    const [item] = await items(`channel=bank_transfer&billDate=${day(D, 3)}&status=open`);
    expect(item).toMatchObject({ code: 'PLATFORM_ONLY', orderNo: a.orderNo, platformAmount: 2_200, channelAmount: null, difference: -2_200, suggestedAction: 'investigate' });
    const report = ok(await server.api('GET', `/api/v1/reconciliation/report?from=${D}&to=${day(D, 3)}&channel=bank_transfer`), 200);
    // Day D has no item yet, but its statement does not show the payment: not balanced, and the report says why.
    expect(report.days.map((x: any) => x.status)).toEqual(['nets_differ', 'balanced', 'balanced', 'open_items']);
    expect(report.days[0]).toMatchObject({ statementNetEqualsPlatform: false, platformNetEqualsLedger: true, openItems: 0 });
    expect(report.days[0].explanations).toEqual([expect.stringContaining(a.orderNo)]);
    expect(report.days[0].explanations[0]).toContain('待对账池');
    expect(report.days[3].openItemIds).toEqual([item.id]);

    // The money turns up on a later statement after all: the item resolves itself.
    const found = await reconcile(day(D, 4), [{ date: day(D, 4), bankTxnId: a.bankTxnId, income: 2_200, memo: a.payerCode }]);
    expect(found.run).toMatchObject({ matchedCount: 1, itemCount: 0, autoResolved: 1 });
    const after = ok(await server.api('GET', `/api/v1/reconciliation/items/${item.id}`), 200);
    expect(after).toMatchObject({ status: 'resolved', resolution: 'explained', resolutionNote: '再次对账已平' });
  });

  it('writes off a payment the channel never had, as a loss, once', async () => {
    const D = '2026-04-20';
    const c = await issueCard(server);
    await paidOrder(c.cardNo, 1_500, D);
    for (const n of [0, 1, 2, 3]) await reconcile(day(D, n), []);
    const [item] = await items(`channel=bank_transfer&billDate=${day(D, 3)}&status=open&code=PLATFORM_ONLY`);
    const wo = await writeOffBalance();
    const cl = await clearing('bank_transfer');
    ok(await resolve(item.id, { action: 'write_off', note: '确认未到账，核销' }, 'admin'), 200);
    expect(await writeOffBalance()).toBe(wo - 1_500);
    expect(await clearing('bank_transfer')).toBe(cl + 1_500);
    expectError(await resolve(item.id, { action: 'write_off', note: '再核销' }), 409, 'RECON_ITEM_RESOLVED');
    expect(await writeOffBalance()).toBe(wo - 1_500);
    // Explained: nothing moves, still one resolution only.
    const D2 = day(D, 10);
    await reconcile(D2, [{ date: D2, bankTxnId: txn('E'), income: 1, memo: '结息' }]);
    const [interest] = await items(`channel=bank_transfer&billDate=${D2}&status=open`);
    const ok2 = ok(await resolve(interest.id, { action: 'explained', note: '银行结息，非客户款' }), 200);
    expect(ok2).toMatchObject({ resolution: 'explained', resolutionRef: null });
    expect(await clearing('bank_transfer')).toBe(cl + 1_500);
  });
});

describe('refunds on the statement', () => {
  async function refund(orderNo: string, amount: number): Promise<string> {
    const body = { amount, reason: '客户申请退款', payee: { name: '李小龙', account: '6222020200112233445', bank: '工商银行' } };
    return ok(await server.api('POST', `/api/v1/recharge-orders/${orderNo}/refunds`, { role: 'finance', body }), 201, 'refund').refundNo;
  }

  it('matches a payout by its refund number and reports the refund versions', async () => {
    const D = '2026-07-01';
    const c = await issueCard(server);
    const a = await paidOrder(c.cardNo, 10_000, D);
    const r1 = await refund(a.orderNo, 1_000);
    const r2 = await refund(a.orderNo, 2_000);
    const fee = txn('F');
    const s = await reconcile(D, [
      { date: D, bankTxnId: a.bankTxnId, income: 10_000, memo: a.payerCode },
      { date: D, bankTxnId: txn('O'), expense: 1_000, memo: `退款 ${r1}` },
      { date: D, bankTxnId: txn('O'), expense: 2_500, memo: `退款 ${r2}` },
      { date: D, bankTxnId: fee, expense: 30, memo: '汇款手续费' },
    ]);
    expect(s.run).toMatchObject({ matchedCount: 2, itemCount: 2, channelRefundTotal: 3_530 });
    const found = await items(`channel=bank_transfer&billDate=${D}&status=open`);
    const byCode = Object.fromEntries(found.map((i) => [i.code, i]));
    expect(Object.keys(byCode).sort()).toEqual(['REFUND_AMOUNT_DIFFERS', 'REFUND_CHANNEL_ONLY']);
    expect(byCode.REFUND_AMOUNT_DIFFERS).toMatchObject({ kind: 'refund', refundNo: r2, orderNo: a.orderNo, platformAmount: 2_000, channelAmount: 2_500, difference: -500 });
    expect(byCode.REFUND_CHANNEL_ONLY).toMatchObject({ kind: 'refund', refundNo: null, channelAmount: 30, difference: -30, suggestedAction: 'investigate' });
    expectError(await resolve(byCode.REFUND_CHANNEL_ONLY.id, { action: 'refund', note: '不适用' }), 422, 'RECON_ACTION_NOT_ALLOWED');
    const wo = await writeOffBalance();
    ok(await resolve(byCode.REFUND_CHANNEL_ONLY.id, { action: 'write_off', note: '银行汇款手续费' }), 200);
    expect(await writeOffBalance()).toBe(wo - 30);
    const detail = ok(await server.api('GET', `/api/v1/reconciliation/items/${byCode.REFUND_AMOUNT_DIFFERS.id}`), 200);
    expect(detail.refund).toMatchObject({ refundNo: r2, amount: 2_000 });
    expect(detail.order).toMatchObject({ orderNo: a.orderNo, cardNo: c.cardNo });
  });
});

describe('midnight cut-over', () => {
  it('matches a payment the platform recorded at 23:59:59 with the next day’s statement, without reporting it', async () => {
    const D = '2026-05-05';
    const c = await issueCard(server);
    const a = await paidOrder(c.cardNo, 5_500, day(D, 1));
    // The platform's clock put the payment a second before midnight; the bank booked it after.
    await sql`update recharge_orders set paid_at = ${`${D}T23:59:59+08:00`}::timestamptz where order_no = ${a.orderNo}`.execute(server.db.db);
    const first = await reconcile(D, []);
    expect(first.run).toMatchObject({ itemCount: 0, pendingCount: 1, platformPaymentTotal: 5_500 });
    const next = await reconcile(day(D, 1), [{ date: day(D, 1), bankTxnId: a.bankTxnId, income: 5_500, memo: a.payerCode, time: '00:00:03' }]);
    expect(next.run).toMatchObject({ matchedCount: 1, matchedCrossDay: 1, itemCount: 0, pendingCount: 0 });
    expect(await items(`channel=bank_transfer&billDate=${D}`)).toEqual([]);
    expect(await items(`channel=bank_transfer&billDate=${day(D, 1)}`)).toEqual([]);
    const pool = await sql<{ n: number }>`select count(*)::int n from recon_pending where order_id = (select id from recharge_orders where order_no = ${a.orderNo})`.execute(server.db.db);
    expect(pool.rows[0]!.n).toBe(0);
  });
});

describe('statement files', () => {
  it('rejects a file whose lines do not add up to its 合计 line, keeps it for the audit, and matches nothing', async () => {
    const D = '2026-06-01';
    const c = await issueCard(server);
    const a = await paidOrder(c.cardNo, 900, D);
    const tampered = bankFile([{ date: D, bankTxnId: a.bankTxnId, income: 900, memo: a.payerCode }], { income: 90_000 });
    const r = await importFile(D, tampered);
    expectError(r, 422, 'PAYMENT_STATEMENT_TOTALS_MISMATCH');
    expect(r.body.error.details.statementId).toEqual(expect.any(Number));
    const list = ok(await server.api('GET', `/api/v1/reconciliation/statements?channel=bank_transfer&billDate=${D}`), 200);
    expect(list.items).toEqual([expect.objectContaining({ status: 'rejected', rejection: 'PAYMENT_STATEMENT_TOTALS_MISMATCH', lineCount: 0 })]);
    const lines = await sql<{ n: number }>`select count(*)::int n from statement_lines where statement_id = ${list.items[0].id}`.execute(server.db.db);
    expect(lines.rows[0]!.n).toBe(0);
    expectError(await server.api('POST', '/api/v1/reconciliation/runs', { role: 'finance', body: { channel: 'bank_transfer', billDate: D } }), 404, 'RECON_STATEMENT_NOT_FOUND');
    const report = ok(await server.api('GET', `/api/v1/reconciliation/report?from=${D}&to=${D}&channel=bank_transfer`), 200);
    expect(report.days[0]).toMatchObject({ status: 'statement_rejected', runId: null, matched: 0 });
    // A good file for that day is still welcome.
    const good = await reconcile(D, [{ date: D, bankTxnId: a.bankTxnId, income: 900, memo: a.payerCode }]);
    expect(good.run).toMatchObject({ matchedCount: 1, itemCount: 0 });
  });

  it('refuses what it cannot read or must not take, with typed errors', async () => {
    const D = '2026-06-10';
    expectError(await importFile(D, Buffer.from('not a statement')), 422, 'PAYMENT_STATEMENT_MALFORMED');
    // Statement files are larger than the server's usual 1 MiB body: this route takes up to 20 MiB.
    expectError(await importFile(D, Buffer.alloc(3 * 1024 * 1024, 'x')), 422, 'PAYMENT_STATEMENT_MALFORMED');
    expectError(await importFile(D, bankFile([{ date: D, bankTxnId: txn('X'), income: 5 }]), {}, 'risk'), 403, 'FORBIDDEN');
    expectError(await importFile(day(today(), 1), bankFile([])), 400, 'RECON_BILL_DATE_INVALID');
    expectError(await importFile('2026-02-30', bankFile([])), 400, 'RECON_BILL_DATE_INVALID');
    const other = day(D, 1);
    expectError(await importFile(other, bankFile([{ date: D, bankTxnId: txn('Y'), income: 5 }])), 400, 'RECON_BILL_DATE_INVALID');
    const cash = await server.api('POST', '/api/v1/reconciliation/statements', { role: 'finance', body: { channel: 'cash', billDate: D, fileName: 'x.csv', contentBase64: 'eA==' } });
    expect(cash.status).toBe(400);
    expectError(await server.api('GET', '/api/v1/reconciliation/items/999999999'), 404, 'RECON_ITEM_NOT_FOUND');
    expectError(await server.api('GET', '/api/v1/reconciliation/runs/999999999'), 404, 'RECON_RUN_NOT_FOUND');
    expectError(await server.api('GET', '/api/v1/reconciliation/statements/999999999'), 404, 'RECON_STATEMENT_NOT_FOUND');
    expectError(await server.api('GET', `/api/v1/reconciliation/report?from=2026-01-01&to=2026-12-31`), 400, 'RECON_BILL_DATE_INVALID');
    expect((await server.api('GET', '/api/v1/reconciliation/items', { role: 'station_staff' })).status).toBe(403);
    expect((await server.api('GET', '/api/v1/reconciliation/items', { role: null })).status).toBe(401);
  });
});

describe('money the channel holds, worked once', () => {
  const payee = { name: '李小龙', account: '6222020200112233445', bank: '工商银行' };
  const orderOf = async (channelTxnId: string) =>
    (await sql<{ order_no: string; status: string }>`select order_no, status from recharge_orders where channel_txn_id = ${channelTxnId}`.execute(server.db.db)).rows;
  const transferOf = async (bankTxnId: string) =>
    (await sql<{ id: number; status: string }>`select id, status from bank_transfers_in where bank_txn_id = ${bankTxnId}`.execute(server.db.db)).rows[0]!;

  it('refuses a refund it cannot make without leaving the money on the card, then makes the corrected one, and nothing else after', async () => {
    const D = '2026-08-03';
    const c = await issueCard(server);
    const o = await paidOrder(c.cardNo, 6_000, D);
    const second = txn('D');
    await reconcile(D, [
      { date: D, bankTxnId: o.bankTxnId, income: 6_000, memo: o.payerCode },
      { date: D, bankTxnId: second, income: 6_000, memo: o.payerCode },
    ]);
    const [dup] = await items(`channel=bank_transfer&billDate=${D}&status=open`);
    expect(dup).toMatchObject({ code: 'DUPLICATE', channelTxnId: second, channelAmount: 6_000 });
    const balance0 = (await getCard(server, c.cardNo)).balance;
    const cl0 = await clearing('bank_transfer');

    // The payee's account is too short once its spaces are gone: refused by the refund itself, after the credit in the old flow.
    expectError(await resolve(dup.id, { action: 'refund', note: '重复转账，退回', payee: { ...payee, account: '12 34 5' } }), 400, 'PAYMENT_PAYEE_REQUIRED');
    expectError(await resolve(dup.id, { action: 'refund', note: '重复转账，退回', payee, amount: 6_001 }), 400, 'RECON_AMOUNT_INVALID');
    expect((await getCard(server, c.cardNo)).balance).toBe(balance0);
    expect(await clearing('bank_transfer')).toBe(cl0);
    expect(await orderOf(second)).toEqual([]);
    expect((await transferOf(second)).status).toBe('unmatched');
    expect(ok(await server.api('GET', `/api/v1/reconciliation/items/${dup.id}`), 200)).toMatchObject({ status: 'open' });

    // The corrected request goes through (no idempotency key left over from the refusal).
    const done = ok(await resolve(dup.id, { action: 'refund', note: '重复转账，退回', payee, amount: 6_000 }), 200);
    expect(done).toMatchObject({ status: 'resolved', resolution: 'refund' });
    expect(done.resolutionRef).toMatch(/^F\d{19}$/);
    const refund = ok(await server.api('GET', `/api/v1/refunds/${done.resolutionRef}`), 200);
    expect(refund).toMatchObject({ amount: 6_000, channel: 'bank_transfer', status: 'processing' });
    expect((await getCard(server, c.cardNo)).balance).toBe(balance0);
    expect((await transferOf(second)).status).toBe('matched');
    const detail = ok(await server.api('GET', `/api/v1/reconciliation/items/${dup.id}`), 200);
    expect(detail.events.map((e: any) => e.action)).toEqual(['opened', 'refund']);

    // The money is on its way back: it can be neither written off nor credited any more.
    const wo = await writeOffBalance();
    expectError(await resolve(dup.id, { action: 'write_off', note: '核销' }), 409, 'RECON_ITEM_RESOLVED');
    expectError(await resolve(dup.id, { action: 'credit_card', note: '入卡', cardNo: c.cardNo }), 409, 'RECON_ITEM_RESOLVED');
    expect(await writeOffBalance()).toBe(wo);
    expect(await clearing('bank_transfer')).toBe(cl0 - 6_000);
  });

  it('records written-off channel money so a later bank match cannot credit it too', async () => {
    const D = '2026-08-10';
    const c = await issueCard(server);
    const closed = await bankOrder(c.cardNo, 7_000);
    ok(await server.api('POST', `/api/v1/recharge-orders/${closed.orderNo}/close`, { role: 'finance' }), 200, 'close');
    const late = txn('W');
    const entered = await transferIn({ payerCode: '' }, late, D, 7_000);
    expect(entered.status).toBe('unmatched');
    await reconcile(D, [{ date: D, bankTxnId: late, income: 7_000, memo: closed.payerCode }]);
    const [item] = await items(`channel=bank_transfer&billDate=${D}&status=open`);
    expect(item).toMatchObject({ code: 'STATUS_DIFFERS', orderNo: closed.orderNo, channelAmount: 7_000, difference: 7_000 });
    const cl0 = await clearing('bank_transfer');
    const wo0 = await writeOffBalance();
    const balance0 = (await getCard(server, c.cardNo)).balance;

    ok(await resolve(item.id, { action: 'write_off', note: '无法联系付款人，转收入' }), 200);
    expect(await clearing('bank_transfer')).toBe(cl0 - 7_000);
    expect(await writeOffBalance()).toBe(wo0 + 7_000);
    const recorded = await sql<{ amount: number; recon_item_id: number }>`select amount, recon_item_id from payment_write_offs
      where channel = 'bank_transfer' and channel_txn_id = ${late}`.execute(server.db.db);
    expect(recorded.rows).toEqual([{ amount: 7_000, recon_item_id: item.id }]);

    expectError(await server.api('POST', `/api/v1/bank-transfers/${entered.id}/match`, { role: 'finance', body: { orderNo: closed.orderNo } }), 409, 'PAYMENT_WRITTEN_OFF');
    expect(await clearing('bank_transfer')).toBe(cl0 - 7_000);
    expect((await getCard(server, c.cardNo)).balance).toBe(balance0);
    expect(ok(await server.api('GET', `/api/v1/recharge-orders/${closed.orderNo}`), 200).status).toBe('closed');
  });

  it('does not write off money a card took meanwhile, nor let the counter or a return take money written off', async () => {
    const c = await issueCard(server);
    // A transfer on the statement that no order claimed (no payer code) is matched by hand after the run: a card has it now.
    const D = '2026-08-12';
    const o = await bankOrder(c.cardNo, 7_700);
    const id = txn('M');
    const t = await transferIn({ payerCode: '' }, id, D, 7_700);
    await reconcile(D, [{ date: D, bankTxnId: id, income: 7_700, memo: '无附言' }]);
    const [item] = await items(`channel=bank_transfer&billDate=${D}&status=open`);
    expect(item).toMatchObject({ code: 'CHANNEL_ONLY', channelAmount: 7_700 });
    ok(await server.api('POST', `/api/v1/bank-transfers/${t.id}/match`, { role: 'finance', body: { orderNo: o.orderNo } }), 200, 'match');
    const cl0 = await clearing('bank_transfer');
    const w = await resolve(item.id, { action: 'write_off', note: '作收入' });
    expect({ status: w.status, code: w.body.error?.code, reason: w.body.error?.details?.reason }).toEqual({ status: 422, code: 'RECON_ACTION_NOT_ALLOWED', reason: 'an order already holds this payment' });
    expect(await clearing('bank_transfer')).toBe(cl0);

    // A stray transfer written off is the programme's: the counter may not credit its reference, nor finance return it.
    const E = '2026-08-13';
    const stray = txn('S');
    const entered = await transferIn({ payerCode: '' }, stray, E, 6_600);
    await reconcile(E, [{ date: E, bankTxnId: stray, income: 6_600, memo: '无附言' }]);
    const [strayItem] = await items(`channel=bank_transfer&billDate=${E}&status=open`);
    ok(await resolve(strayItem.id, { action: 'write_off', note: '无法联系付款人，转收入' }), 200);
    const cl1 = await clearing('bank_transfer');
    const before = (await getCard(server, c.cardNo)).balance;
    expectError(
      await server.api('POST', `/api/v1/cards/${c.cardNo}/recharges`, { role: 'station_staff', body: { amount: 6_600, channel: 'bank_transfer', reference: stray.toLowerCase() } }),
      409,
      'PAYMENT_WRITTEN_OFF',
    );
    expectError(await server.api('POST', `/api/v1/bank-transfers/${entered.id}/return`, { role: 'finance', body: { note: '退回付款人' } }), 409, 'PAYMENT_WRITTEN_OFF');
    expect((await getCard(server, c.cardNo)).balance).toBe(before);
    expect(await clearing('bank_transfer')).toBe(cl1);
  });

  it('credits or refunds only an incoming transfer that is still unmatched', async () => {
    const D = '2026-08-17';
    const c = await issueCard(server);
    const returned = txn('N');
    const ignored = txn('G');
    await reconcile(D, [
      { date: D, bankTxnId: returned, income: 3_300, memo: '无附言' },
      { date: D, bankTxnId: ignored, income: 4_400, memo: '无附言' },
    ]);
    const found = await items(`channel=bank_transfer&billDate=${D}&status=open`);
    const byTxn = Object.fromEntries(found.map((i) => [i.channelTxnId, i]));
    expect(found.map((i) => i.code)).toEqual(['CHANNEL_ONLY', 'CHANNEL_ONLY']);
    ok(await server.api('POST', `/api/v1/bank-transfers/${(await transferOf(returned)).id}/return`, { role: 'finance', body: { note: '已原路退回付款人' } }), 200);
    ok(await server.api('POST', `/api/v1/bank-transfers/${(await transferOf(ignored)).id}/ignore`, { role: 'finance', body: { note: '银行内部调账' } }), 200);
    const balance0 = (await getCard(server, c.cardNo)).balance;

    const r1 = await resolve(byTxn[returned].id, { action: 'credit_card', note: '入卡', cardNo: c.cardNo });
    expectError(r1, 422, 'RECON_ACTION_NOT_ALLOWED');
    expect(r1.body.error.details).toMatchObject({ transferStatus: 'returned' });
    expectError(await resolve(byTxn[ignored].id, { action: 'credit_card', note: '入卡', cardNo: c.cardNo }), 422, 'RECON_ACTION_NOT_ALLOWED');
    expectError(await resolve(byTxn[ignored].id, { action: 'refund', note: '退回', cardNo: c.cardNo, payee }), 422, 'RECON_ACTION_NOT_ALLOWED');
    expect((await getCard(server, c.cardNo)).balance).toBe(balance0);
    expect(await orderOf(returned)).toEqual([]);
    expect(await orderOf(ignored)).toEqual([]);
    // Explaining it stays possible: that is what a returned transfer needs.
    ok(await resolve(byTxn[returned].id, { action: 'explained', note: '已退回付款人' }), 200);
  });

  it('credits a bank payment found only on the statement (never entered by finance), with no item', async () => {
    const D = '2026-08-24';
    const c = await issueCard(server);
    const o = await bankOrder(c.cardNo, 5_200);
    const bankTxnId = txn('A');
    const balance0 = (await getCard(server, c.cardNo)).balance;
    const s = await reconcile(D, [{ date: D, bankTxnId, income: 5_200, memo: `加油卡充值 ${o.payerCode}` }]);
    expect(s.run).toMatchObject({ status: 'done', matchedCount: 1, itemCount: 0, pendingCount: 0 });
    expect(await items(`channel=bank_transfer&billDate=${D}`)).toEqual([]);
    const order = ok(await server.api('GET', `/api/v1/recharge-orders/${o.orderNo}`), 200);
    expect(order).toMatchObject({ status: 'credited', channelTxnId: bankTxnId });
    expect(order.events.map((e: any) => e.source)).toContain('bank_match');
    expect((await getCard(server, c.cardNo)).balance).toBe(balance0 + 5_200);
    expect((await transferOf(bankTxnId)).status).toBe('matched');
  });
});

describe('bank refunds the statement does not show, or shows twice', () => {
  const payee = { name: '李小龙', account: '6222020200112233445', bank: '工商银行' };
  async function refundOn(orderNo: string, amount: number, D: string): Promise<string> {
    const no = ok(await server.api('POST', `/api/v1/recharge-orders/${orderNo}/refunds`, { role: 'finance', body: { amount, reason: '客户申请退款', payee } }), 201).refundNo;
    // Requested on D (the test's bill day), as finance would have.
    await sql`update payment_refunds set created_at = ${`${D}T10:00:00+08:00`}::timestamptz where refund_no = ${no}`.execute(server.db.db);
    return no;
  }

  it('pools a payout the bank has not shown and reports it as REFUND_PLATFORM_ONLY after the pool days', async () => {
    const D = '2026-09-01';
    const c = await issueCard(server);
    const a = await paidOrder(c.cardNo, 8_000, D);
    const r = await refundOn(a.orderNo, 3_000, D);
    const first = await reconcile(D, [{ date: D, bankTxnId: a.bankTxnId, income: 8_000, memo: a.payerCode }]);
    expect(first.run).toMatchObject({ matchedCount: 1, itemCount: 0, pendingCount: 1 });
    for (const n of [1, 2]) expect((await reconcile(day(D, n), [])).run).toMatchObject({ itemCount: 0, pendingCount: 1 });
    const late = await reconcile(day(D, 3), []);
    expect(late.run).toMatchObject({ itemCount: 1, pendingCount: 0 });
    const [item] = await items(`channel=bank_transfer&billDate=${day(D, 3)}&status=open`);
    expect(item).toMatchObject({ code: 'REFUND_PLATFORM_ONLY', kind: 'refund', refundNo: r, platformAmount: 3_000, channelAmount: null });
  });

  it('reports a payout the bank shows twice as REFUND_DUPLICATE', async () => {
    const D = '2026-09-10';
    const c = await issueCard(server);
    const a = await paidOrder(c.cardNo, 9_000, D);
    const r = await refundOn(a.orderNo, 2_000, D);
    const s = await reconcile(D, [
      { date: D, bankTxnId: a.bankTxnId, income: 9_000, memo: a.payerCode },
      { date: D, bankTxnId: txn('O'), expense: 2_000, memo: `退款 ${r}` },
      { date: D, bankTxnId: txn('O'), expense: 2_000, memo: `退款 ${r}` },
    ]);
    expect(s.run).toMatchObject({ matchedCount: 2, itemCount: 1, channelRefundTotal: 4_000 });
    const [item] = await items(`channel=bank_transfer&billDate=${D}&status=open`);
    expect(item).toMatchObject({ code: 'REFUND_DUPLICATE', kind: 'refund', refundNo: r, channelAmount: 2_000 });
  });
});
