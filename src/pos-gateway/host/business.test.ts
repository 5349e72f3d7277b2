/**
 * Sale messages over a real TCP socket into the real sales use cases on PostgreSQL: a forecourt
 * terminal installed by the key ceremony signs on, then pre-authorises, completes, prepays, sells
 * indoors, reverses, uploads an offline sale and reconciles — each answer MACed, each repeat
 * answered once, money moved exactly once, the ledger verified after.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { startTestServer, type TestServer } from '../../../test/support/server.js';
import { expectLedgerVerified, getCard, issueCard } from '../../../test/support/cards-factory.js';
import { startPosGateway, type PosGateway } from '../gateway.js';
import { decodeMessage } from '../iso8583/index.js';
import { connectIsoClient } from '../transport/index.js';
import { currentShift } from '../../sales/index.js';
import { formatDeclared } from './mapping.js';
import { PROFILE } from './session.test-support.js';
import { parseAllowedProducts, parseBalance } from './mapping-response.js';
import { amountField, de48, fuelLine, isoForecourt, original, pinBlock, type IsoForecourt } from './business.test-support.js';

let server: TestServer;
let gw: PosGateway;
let t: IsoForecourt;
let seq = 0;

beforeAll(async () => {
  server = await startTestServer();
  gw = await startPosGateway({ db: server.deps.db, config: server.config, logger: server.deps.logger }, { port: 0, host: '127.0.0.1' });
  t = await isoForecourt(server, gw.port);
});
afterAll(async () => {
  t?.conn.close();
  await gw?.stop();
  await server?.close();
});

async function card(funds = 100_000): Promise<string> {
  return (await issueCard(server, { funds })).cardNo;
}
const balanceOf = async (cardNo: string): Promise<number> => (await getCard(server, cardNo)).balance;

function auth(cardNo: string, amount: number, o: { fc?: '100' | '101'; nozzle?: number; pin?: Buffer } = {}) {
  return t.send('1100', [
    [2, cardNo],
    [3, '000000'],
    [4, amountField(amount)],
    [24, o.fc ?? '101'],
    [26, '5542'],
    [48, de48(o.nozzle ?? 1, ++seq, { pinMethod: '01' })],
    [49, '156'],
    [52, o.pin ?? pinBlock(t.sim, cardNo)],
  ]);
}

function completion(first: { stan: string; local: string }, amount: number, volumeMl: number, unitPrice: number, fc: '201' | '202' = '202') {
  return t.send('1220', [
    [3, '000000'],
    [4, amountField(amount)],
    [24, fc],
    [26, '5542'],
    [48, de48(1, ++seq)],
    [49, '156'],
    [56, original('1100', first)],
    [63, fuelLine('92', volumeMl, unitPrice, amount)],
  ]);
}

describe('sale messages through the sales use cases', () => {
  it('1100 pre-auth → 1110 approved with the hold, grade and balance; 1220 completion posts the delivered amount once', async () => {
    const cardNo = await card(100_000);
    const a = await auth(cardNo, 30_000);
    expect(a.msg.mti).toBe('1110');
    expect(a.field(39)).toBe('000');
    expect(a.field(4)).toBe(amountField(30_000));
    expect(String(a.field(38))).toMatch(/^[0-9A-Z]{6}$/);
    expect(parseAllowedProducts(String(a.field(62)))).toEqual(['92']);
    expect(parseBalance(String(a.field(54)))).toBe(70_000);

    const c = await completion(a, 24_000, 30_000, 800);
    expect(c.msg.mti).toBe('1230');
    expect(c.field(39)).toBe('000');
    expect(c.field(4)).toBe(amountField(24_000));
    expect(await balanceOf(cardNo)).toBe(76_000);

    // The repeat (1221, same STAN and time) gets the first answer; the money moved once.
    const again = await t.resend(t.sim.build('1221', [...decodeFields(c.request)], { at: new Date(), stan: c.stan, local: c.local }));
    expect(t.sim.read(again).msg.fields.get(39)).toBe('000');
    expect(await balanceOf(cardNo)).toBe(76_000);
    const sales = await sql<{ n: number }>`select count(*)::int as n from sales where terminal_id = ${t.terminalId} and card_no_masked like ${'%' + cardNo.slice(-4)}`.execute(server.deps.db);
    expect(sales.rows[0]!.n).toBe(1);
    await expectLedgerVerified(server);
  });

  it('a completion advice is a fact: an overrun beyond the hold is posted (flagged pump_overrun), never refused', async () => {
    const cardNo = await card(100_000);
    const a = await auth(cardNo, 30_000);
    expect(a.field(39)).toBe('000');
    const c = await completion(a, 32_000, 40_000, 800);
    expect(c.field(39)).toBe('000');
    expect(c.field(4)).toBe(amountField(32_000));
    expect(await balanceOf(cardNo)).toBe(68_000);
    const sale = await sql<{ flags: string[]; status: string }>`select flags, status from sales where terminal_id = ${t.terminalId} and terminal_ref = ${`iso:${c.stan}:${c.local}`}`.execute(server.deps.db);
    expect(sale.rows[0]).toMatchObject({ status: 'approved', flags: ['pump_overrun'] });
    await expectLedgerVerified(server);
  });

  it('prepay (fc 100) holds exactly the preset and is completed for what was delivered', async () => {
    const cardNo = await card(50_000);
    const a = await auth(cardNo, 20_000, { fc: '100', nozzle: 1 });
    expect(a.field(39)).toBe('000');
    expect(a.field(4)).toBe(amountField(20_000));
    const c = await completion(a, 16_000, 20_000, 800);
    expect(c.field(39)).toBe('000');
    expect(await balanceOf(cardNo)).toBe(34_000);
    // A prepay larger than the balance is declined, not partly approved.
    const big = await auth(cardNo, 40_000, { fc: '100' });
    expect(big.field(39)).toBe('116');
    await expectLedgerVerified(server);
  });

  it('a pre-auth larger than the balance is approved for part (002: DE 4 held, DE 30 asked)', async () => {
    const cardNo = await card(5_000);
    const a = await auth(cardNo, 30_000, { nozzle: 2 });
    expect(a.field(39)).toBe('002');
    expect(a.field(4)).toBe(amountField(5_000));
    expect(String(a.field(30)).slice(0, 12)).toBe(amountField(30_000));
    expect(parseAllowedProducts(String(a.field(62)))).toEqual(['95']);
    const rev = await t.send('1420', [[3, '000000'], [4, amountField(30_000)], [24, '400'], [25, '4000'], [48, de48(2, ++seq)], [56, original('1100', a)]]);
    expect(rev.field(39)).toBe('400');
    await expectLedgerVerified(server);
  });

  it('a wrong PIN is 117 and counted; a PIN block under another key is 919 and counts nothing', async () => {
    const cardNo = await card(10_000);
    const wrong = await auth(cardNo, 5_000, { pin: pinBlock(t.sim, cardNo, '654321') });
    expect(wrong.field(39)).toBe('117');
    const failures = async () => (await sql<{ pin_failures: number }>`select pin_failures from cards where card_no = ${cardNo}`.execute(server.deps.db)).rows[0]!.pin_failures;
    expect(await failures()).toBe(1);
    const foreign = await auth(cardNo, 5_000, { pin: pinBlock(t.sim, cardNo, '123456', Buffer.alloc(16, 7)) });
    // A block that happens to decode under the wrong key would be a wrong PIN (1 in ~60 for format 0): this one does not.
    expect(foreign.field(39)).toBe('919');
    expect(await failures()).toBe(1);
    const right = await auth(cardNo, 5_000);
    expect(right.field(39)).toBe('000');
    expect(await failures()).toBe(0);
    // Released again so the nozzle is free for the next test.
    const rev = await t.send('1420', [[3, '000000'], [4, amountField(5_000)], [24, '400'], [25, '4000'], [48, de48(1, ++seq)], [56, original('1100', right)]]);
    expect(rev.field(39)).toBe('400');
    expect(await balanceOf(cardNo)).toBe(10_000);
  });

  it('1200 indoor post-pay debits the card; an unknown card is declined with its action code', async () => {
    const cardNo = await card(30_000);
    const s = await t.send('1200', [
      [2, cardNo],
      [3, '000000'],
      [4, amountField(12_000)],
      [24, '200'],
      [26, '5541'],
      [48, de48(3, ++seq, { pinMethod: '01' })],
      [49, '156'],
      [52, pinBlock(t.sim, cardNo)],
      [63, fuelLine('92', 15_000, 800, 12_000)],
    ]);
    expect(s.msg.mti).toBe('1210');
    expect(s.field(39)).toBe('000');
    expect(parseBalance(String(s.field(54)))).toBe(18_000);
    const unknown = '9100000000000000';
    const u = await t.send('1200', [
      [2, unknown],
      [3, '000000'],
      [4, amountField(1_000)],
      [24, '200'],
      [26, '5541'],
      [48, de48(3, ++seq, { pinMethod: '01' })],
      [49, '156'],
      [52, pinBlock(t.sim, unknown)],
      [63, fuelLine('92', 1_250, 800, 1_000)],
    ]);
    expect(u.field(39)).not.toBe('000');
    await expectLedgerVerified(server);
  });

  it('1420 reversal releases a hold; a reversal of a request never seen refuses the late original', async () => {
    const cardNo = await card(20_000);
    const a = await auth(cardNo, 10_000);
    expect(a.field(39)).toBe('000');
    const status = async (ref: { stan: string; local: string }) =>
      (await sql<{ status: string }>`select status from pump_authorisations where terminal_id = ${t.terminalId} and terminal_ref = ${`iso:${ref.stan}:${ref.local}`}`.execute(server.deps.db)).rows[0]?.status;
    expect(await status(a)).toBe('held');
    const r = await t.send('1420', [[3, '000000'], [4, amountField(10_000)], [24, '400'], [25, '4021'], [48, de48(1, ++seq)], [56, original('1100', a)]]);
    expect(r.msg.mti).toBe('1430');
    expect(r.field(39)).toBe('400');
    expect(await status(a)).toBe('reversed');
    expect(await balanceOf(cardNo)).toBe(20_000);

    // The terminal timed out before its 1100 reached us: the reversal comes first.
    const lateStan = t.sim.nextStan();
    const lateLocal = a.local.slice(0, 10) + String((Number(a.local.slice(10)) + 1) % 60).padStart(2, '0');
    const first = await t.send('1420', [[3, '000000'], [4, amountField(8_000)], [24, '400'], [25, '4021'], [48, de48(1, ++seq)], [56, original('1100', { stan: lateStan, local: lateLocal })]]);
    expect(first.field(39)).toBe('400');
    const late = await t.send('1100', [[2, cardNo], [3, '000000'], [4, amountField(8_000)], [24, '101'], [26, '5542'], [48, de48(1, ++seq, { pinMethod: '01' })], [49, '156'], [52, pinBlock(t.sim, cardNo)]], { stan: lateStan, local: lateLocal });
    expect(late.field(39)).not.toBe('000');
    expect(await balanceOf(cardNo)).toBe(20_000);
    await expectLedgerVerified(server);
  });

  it('1220 stand-in (fc 200) posts an offline sale once, repeats included', async () => {
    const cardNo = await card(20_000);
    const fields: Array<[number, any]> = [
      [2, cardNo],
      [3, '000000'],
      [4, amountField(8_000)],
      [24, '200'],
      [25, '1003'],
      [26, '5542'],
      [38, '482913'],
      [48, de48(1, ++seq)],
      [49, '156'],
      [63, fuelLine('92', 10_000, 800, 8_000)],
    ];
    const o = await t.send('1220', fields);
    expect(o.field(39)).toBe('000');
    expect(await balanceOf(cardNo)).toBe(12_000);
    // The repeat (1221, same STAN and time) is answered from the journal with the first answer's bytes.
    const again = await t.send('1221', fields, { stan: o.stan, local: o.local });
    expect(again.bytes.equals(o.bytes)).toBe(true);
    // Even with the journal's entry gone (pruned, or lost in a crash before it was written), the
    // offline batch itself answers the repeat: posted once.
    await sql`delete from pos_exchanges where stan = ${o.stan} and local_time = ${o.local}`.execute(server.deps.db);
    const late = await t.send('1221', fields, { stan: o.stan, local: o.local });
    expect(late.field(39)).toBe('000');
    expect(await balanceOf(cardNo)).toBe(12_000);
    await expectLedgerVerified(server);
  });

  it('1520 checkpoint compares the shift; a final 1520 with per-kind totals closes it (500 in balance, 501 not)', async () => {
    const shift = (await sql<{ id: number }>`select id from terminal_shifts where terminal_id = ${t.terminalId} and closed_at is null`.execute(server.deps.db)).rows;
    expect(shift.length).toBe(1);
    const view = await server.deps.db.transaction().execute((trx) => currentShift(trx, { id: t.terminalId, stationId: t.forecourt.stationId }));
    const debits = view.computed.filter((k) => ['online', 'completion', 'postpay', 'offline'].includes(k.kind));
    const reversals = view.computed.filter((k) => ['voided', 'reversed'].includes(k.kind));
    const sum = (ks: typeof debits) => ks.reduce((a, k) => ({ count: a.count + k.count, amount: a.amount + Number(k.amount) }), { count: 0, amount: 0 });
    const d = sum(debits);
    const r = sum(reversals);
    const n10 = (n: number) => String(n).padStart(10, '0');
    const n16 = (n: number) => String(n).padStart(16, '0');
    const totals: Array<[number, string]> = [
      [74, n10(0)], [75, n10(0)], [76, n10(d.count)], [77, n10(r.count)],
      [86, n16(0)], [87, n16(0)], [88, n16(d.amount)], [89, n16(r.amount)],
    ];
    const check = await t.send('1520', [[24, '501'], [48, de48(1, ++seq)], ...totals]);
    expect(check.msg.mti).toBe('1530');
    expect(check.field(39)).toBe('500');
    const off = await t.send('1520', [[24, '501'], [48, de48(1, ++seq)], ...totals.map(([n, v]): [number, string] => (n === 88 ? [n, n16(d.amount + 1)] : [n, v]))]);
    expect(off.field(39)).toBe('501');

    const final = await t.send('1520', [[24, '500'], [48, de48(1, ++seq)], [72, formatDeclared(view.computed.map((k) => ({ kind: k.kind, count: k.count, amount: Number(k.amount) })))], ...totals]);
    expect(final.field(39)).toBe('500');
    const closed = await sql<{ n: number }>`select count(*)::int as n from terminal_shifts where terminal_id = ${t.terminalId} and closed_at is not null`.execute(server.deps.db);
    expect(closed.rows[0]!.n).toBe(1);
  });

  it('a connection dropped before the answer loses nothing: the repeat on a new connection gets the same answer, posted once', async () => {
    const cardNo = await card(40_000);
    const a = await auth(cardNo, 10_000);
    expect(a.field(39)).toBe('000');
    const fields: Array<[number, any]> = [
      [3, '000000'],
      [4, amountField(8_000)],
      [24, '202'],
      [26, '5542'],
      [48, de48(1, ++seq)],
      [49, '156'],
      [56, original('1100', a)],
      [63, fuelLine('92', 10_000, 800, 8_000)],
    ];
    const request = t.sim.build('1220', fields, { at: new Date(), stan: t.sim.nextStan(), local: a.local });
    const dropped = await connectIsoClient({ host: '127.0.0.1', port: gw.port, framing: 'binary2' });
    dropped.send(request);
    dropped.close();
    // Two connections repeat it at once: one posting, one answer for both.
    const [c1, c2] = await Promise.all([1, 2].map(() => connectIsoClient({ host: '127.0.0.1', port: gw.port, framing: 'binary2' })));
    c1!.send(request);
    c2!.send(request);
    const [r1, r2] = await Promise.all([c1!.next(15_000), c2!.next(15_000)]);
    c1!.close();
    c2!.close();
    expect(r1!.equals(r2!)).toBe(true);
    expect(t.sim.read(r1!).msg.fields.get(39)).toBe('000');
    expect(await balanceOf(cardNo)).toBe(32_000);
    await expectLedgerVerified(server);
  });

  it('a malformed sale message is 904 and moves nothing; a completion naming no authorisation is refused', async () => {
    const cardNo = await card(5_000);
    const noPin = await t.send('1100', [[2, cardNo], [3, '000000'], [4, amountField(1_000)], [24, '101'], [26, '5542'], [48, de48(1, ++seq)], [49, '156']]);
    expect(noPin.field(39)).toBe('904');
    // DE 63 lines must add up to DE 4.
    const lines = await t.send('1200', [[2, cardNo], [3, '000000'], [4, amountField(1_000)], [24, '200'], [26, '5541'], [48, de48(3, ++seq, { pinMethod: '01' })], [49, '156'], [52, pinBlock(t.sim, cardNo)], [63, fuelLine('92', 1_250, 800, 999)]]);
    expect(lines.field(39)).toBe('904');
    const orphan = await completion({ stan: '999999', local: '261128000000' }, 1_000, 1_250, 800);
    expect(orphan.field(39)).not.toBe('000');
    expect(await balanceOf(cardNo)).toBe(5_000);
    await expectLedgerVerified(server);
  });
});

/** The request's business fields (everything but the ones SimTerminal.build sets itself). */
function decodeFields(request: Buffer): Array<[number, any]> {
  const d = decodeMessage(request, PROFILE);
  if (!d.ok) throw new Error('request does not decode');
  return [...d.message.fields.entries()].filter(([n]) => ![7, 11, 12, 41, 53, 64, 128].includes(n)) as Array<[number, any]>;
}
