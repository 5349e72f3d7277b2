import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { expectLedgerVerified, getCard, issueCard } from '../../test/support/cards-factory.js';
import { isAppError, type Actor } from '../platform/index.js';
import {
  enterIncomingTransfer,
  matchIncomingTransfer,
  paidAtOf,
  payerCodesIn,
  recordIncomingTransfers,
  settleUnmatchedTransfer,
  type IncomingTransferInput,
} from './bank-transfers.service.js';
import { closeOpenOrder } from './orders.service.js';
import { formatBankStatement } from './channels/offline/index.js';
import { bankOrder, depsOf, expectStatus, newBankTxnId, orderRow, staffActor, systemBalance, today } from './refunds.fixtures.js';

let server: TestServer;
let finance: Actor;
beforeAll(async () => {
  server = await startTestServer();
  finance = await staffActor(server);
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerVerified(server));

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (isAppError(err)) return err.code;
    throw err;
  }
  return 'no error';
}

const enter = (input: Partial<IncomingTransferInput> & { amount: number }) =>
  server.db.db.transaction().execute((trx) => enterIncomingTransfer(trx, depsOf(server), finance, { bankTxnId: newBankTxnId(), valueDate: today(), ...input }));
const match = (id: number, orderNo: string) => server.db.db.transaction().execute((trx) => matchIncomingTransfer(trx, depsOf(server), finance, id, orderNo));

async function orderDetail(orderNo: string): Promise<any> {
  return expectStatus(await server.api('GET', `/api/v1/recharge-orders/${orderNo}`), 200, 'order');
}

describe('payer codes in a memo', () => {
  it('finds them through spaces, dashes, lower case and the letters people write for 0 and 1', () => {
    expect(payerCodesIn('加油卡充值 FC7K3M9Q2A 谢谢')).toEqual(['FC7K3M9Q2A']);
    expect(payerCodesIn('fc 7k3m-9q2a')).toEqual(['FC7K3M9Q2A']);
    expect(payerCodesIn('FC7K3M9QOI')).toEqual(['FC7K3M9Q01']);
    expect(payerCodesIn('房租')).toEqual([]);
    expect(payerCodesIn(null)).toEqual([]);
  });

  it('a transfer counts as paid at noon (Beijing) of its value date, never in the future', () => {
    const config = server.config;
    expect(paidAtOf('2026-11-27', config, new Date('2026-12-01T00:00:00Z')).toISOString()).toBe('2026-11-27T04:00:00.000Z');
    const now = new Date('2026-11-27T01:00:00Z');
    expect(paidAtOf('2026-11-27', config, now)).toEqual(now);
  });
});

describe('incoming bank transfers (银行入账)', () => {
  it('matches itself to the order whose payer code the memo holds, and credits the card once', async () => {
    const c = await issueCard(server);
    const o = await bankOrder(server, c.cardNo, 50_000);
    expect(o).toMatchObject({ status: 'paying', channel: 'bank_transfer' });
    expect(o.payerCode).toMatch(/^FC[0-9A-HJKMNP-TV-Z]{8}$/);
    const clearing = await systemBalance(server, 'channel_clearing:bank_transfer');
    const bankTxnId = newBankTxnId();
    const memo = `加油卡充值 ${o.payerCode.toLowerCase().slice(0, 5)} ${o.payerCode.toLowerCase().slice(5)}`;
    const t = await enter({ bankTxnId, amount: 50_000, payerName: '张三', payerAccount: '6222020200112233445', memo });
    expect(t).toMatchObject({ status: 'matched', orderNo: o.orderNo, cardNo: c.cardNo, payerAccount: '6222****3445', bankTxnId });
    expect((await getCard(server, c.cardNo)).balance).toBe(50_000);
    expect(await systemBalance(server, 'channel_clearing:bank_transfer')).toBe(clearing - 50_000);
    const detail = await orderDetail(o.orderNo);
    expect(detail).toMatchObject({ status: 'credited', channelTxnId: bankTxnId, paidAmount: 50_000 });
    expect(detail.receiptNo).toMatch(/^R/);
    expect(detail.events.some((e: { source: string; toStatus: string }) => e.source === 'bank_match' && e.toStatus === 'credited')).toBe(true);
  });

  it('refuses a bank transaction id entered twice (spaces and case aside), and moves nothing the second time', async () => {
    const c = await issueCard(server);
    const o = await bankOrder(server, c.cardNo, 1_000);
    const id = newBankTxnId();
    await enter({ bankTxnId: id, amount: 1_000, memo: o.payerCode });
    expect(await codeOf(enter({ bankTxnId: id, amount: 1_000, memo: o.payerCode }))).toBe('BANK_TRANSFER_DUPLICATE');
    expect(await codeOf(enter({ bankTxnId: ` ${id.toLowerCase()} `, amount: 1_000 }))).toBe('BANK_TRANSFER_DUPLICATE');
    expect((await getCard(server, c.cardNo)).balance).toBe(1_000);
  });

  it('is matched by hand when the memo has no code; a second transfer for the same order is refused (paid twice)', async () => {
    const c = await issueCard(server);
    const o = await bankOrder(server, c.cardNo, 2_000);
    const t = await enter({ amount: 2_000, memo: '转账' });
    expect(t).toMatchObject({ status: 'unmatched', orderNo: null });
    const m = await match(t.id, o.orderNo);
    expect(m).toMatchObject({ status: 'matched', orderNo: o.orderNo });
    expect((await getCard(server, c.cardNo)).balance).toBe(2_000);
    expect(await codeOf(match(t.id, o.orderNo))).toBe('BANK_TRANSFER_STATE');
    const twice = await enter({ amount: 2_000, memo: o.payerCode });
    expect(twice.status).toBe('unmatched');
    expect(twice.note).toMatch(/重复付款|paid twice/);
    expect(await codeOf(match(twice.id, o.orderNo))).toBe('BANK_TRANSFER_STATE');
    expect(await codeOf(match(twice.id, 'P2099010100000000001'))).toBe('PAYMENT_ORDER_NOT_FOUND');
    expect((await getCard(server, c.cardNo)).balance).toBe(2_000);
    // Not a bank transfer order: a cash order cannot take a bank transfer.
    const cash = expectStatus(await server.api('POST', '/api/v1/recharge-orders', { role: 'finance', body: { cardNo: c.cardNo, amount: 2_000, channel: 'cash' }, idempotencyKey: randomUUID() }), 201);
    expect(await codeOf(match(twice.id, cash.orderNo))).toBe('PAYMENT_ORDER_STATE');
  });

  it('a transfer whose amount differs from the order stays unmatched, and matching it by hand is refused', async () => {
    const c = await issueCard(server);
    const o = await bankOrder(server, c.cardNo, 3_000);
    const t = await enter({ amount: 2_999, memo: o.payerCode });
    expect(t.status).toBe('unmatched');
    expect(t.note).toContain('2999');
    expect(await codeOf(match(t.id, o.orderNo))).toBe('BANK_TRANSFER_AMOUNT_MISMATCH');
    expect((await orderRow(server, o.orderNo)).status).toBe('paying');
    expect((await getCard(server, c.cardNo)).balance).toBe(0);
    const returned = await server.db.db.transaction().execute((trx) => settleUnmatchedTransfer(trx, finance, t.id, 'returned', '金额不符，已退回付款人'));
    expect(returned).toMatchObject({ status: 'returned', note: '金额不符，已退回付款人' });
    expect(await codeOf(match(t.id, o.orderNo))).toBe('BANK_TRANSFER_STATE');
    const other = await enter({ amount: 77 });
    await server.db.db.transaction().execute((trx) => settleUnmatchedTransfer(trx, finance, other.id, 'ignored', '利息'));
    expect(await codeOf(server.db.db.transaction().execute((trx) => settleUnmatchedTransfer(trx, finance, other.id, 'returned', 'x')))).toBe('BANK_TRANSFER_STATE');
  });

  it('money that arrives after its order was closed is still the payer’s: it is credited', async () => {
    const c = await issueCard(server);
    const o = await bankOrder(server, c.cardNo, 4_000);
    await closeOpenOrder(depsOf(server), o.orderNo, 'staff', 'expired', finance);
    expect((await orderRow(server, o.orderNo)).status).toBe('closed');
    const t = await enter({ amount: 4_000, memo: o.payerCode });
    expect(t.status).toBe('matched');
    expect((await orderRow(server, o.orderNo)).status).toBe('credited');
    expect((await getCard(server, c.cardNo)).balance).toBe(4_000);
  });

  it('a transfer the cashier already credited at the counter (same bank reference) is matched without a second credit', async () => {
    const c = await issueCard(server);
    const ref = newBankTxnId();
    expectStatus(await server.api('POST', `/api/v1/cards/${c.cardNo}/recharges`, { role: 'station_staff', body: { amount: 6_000, channel: 'bank_transfer', reference: ref }, idempotencyKey: randomUUID() }), 201);
    const t = await enter({ bankTxnId: ref, amount: 6_000 });
    expect(t).toMatchObject({ status: 'matched', cardNo: c.cardNo });
    expect((await getCard(server, c.cardNo)).balance).toBe(6_000);
  });

  it('a bank statement import records its income lines: matched by payer code, known ones linked, the rest left for finance', async () => {
    const c = await issueCard(server);
    const a = await bankOrder(server, c.cardNo, 1_100);
    const b = await bankOrder(server, c.cardNo, 2_200);
    const entered = await enter({ amount: 2_200, memo: b.payerCode });
    expect(entered.status).toBe('matched');
    const day = today();
    const ids = [newBankTxnId(), newBankTxnId()];
    const file = formatBankStatement([
      { date: day, time: '09:00:00', bankTxnId: ids[0]!, income: 1_100, payerName: '张三', payerAccount: '6222020200112233445', memo: `充值${a.payerCode}` },
      { date: day, time: '09:30:00', bankTxnId: entered.bankTxnId, income: 2_200, memo: b.payerCode },
      { date: day, time: '10:00:00', bankTxnId: ids[1]!, income: 999, payerName: '李四', memo: '货款' },
      { date: day, time: '11:00:00', bankTxnId: newBankTxnId(), expense: 500, memo: '退款 F2026112700000000001' },
    ]);
    const channel = depsOf(server).payments.channel('bank_transfer');
    const parsed = channel.parseStatement!({ fileName: 'bank.csv', content: file });
    const st = await sql<{ id: number }>`insert into channel_statements (channel, bill_date, source, file_name, sha256, size_bytes, content, status)
      values ('bank_transfer', ${day}::date, 'import', 'bank.csv', 'x', ${file.length}, ${file}, 'accepted') returning id`.execute(server.db.db);
    const statementId = st.rows[0]!.id;
    const res = await server.db.db.transaction().execute((trx) => recordIncomingTransfers(trx, depsOf(server), finance, statementId, parsed.lines));
    expect(res).toEqual({ added: 2, matched: 1, known: 1 });
    expect((await orderRow(server, a.orderNo)).status).toBe('credited');
    expect((await getCard(server, c.cardNo)).balance).toBe(3_300);
    const rows = await sql<{ bank_txn_id: string; status: string; statement_id: number | null; payer_name: string | null }>`select bank_txn_id, status, statement_id, payer_name
      from bank_transfers_in where statement_id = ${statementId} order by bank_txn_id`.execute(server.db.db);
    expect(rows.rows.map((r) => [r.bank_txn_id, r.status])).toEqual(
      [
        [ids[0]!, 'matched'],
        [entered.bankTxnId, 'matched'],
        [ids[1]!, 'unmatched'],
      ].sort((x, y) => (x[0]! < y[0]! ? -1 : 1)),
    );
    // Importing the same statement again adds nothing and credits nothing.
    const again = await server.db.db.transaction().execute((trx) => recordIncomingTransfers(trx, depsOf(server), finance, statementId, parsed.lines));
    expect(again).toEqual({ added: 0, matched: 0, known: 3 });
    expect((await getCard(server, c.cardNo)).balance).toBe(3_300);
    // A tampered total never gets this far: the parser refuses the file.
    const tampered = formatBankStatement([{ date: day, bankTxnId: 'T1', income: 100 }], { total: { income: 1_000 } });
    expect(() => channel.parseStatement!({ fileName: 'bank.csv', content: tampered })).toThrow(expect.objectContaining({ code: 'PAYMENT_STATEMENT_TOTALS_MISMATCH' }));
  });
});
