import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signTerminalRequest, startTestServer, terminalPost, type TestServer } from '../../test/support/server.js';
import { lockTerminalRef } from './forecourt-locks.js';
import { cardOp, expectDeclined, expectError, getCard, newCardNo, newStation, ok, recharge, type TestTerminal } from '../../test/support/cards-factory.js';

const PATH = '/api/v1/pos/offline-batches';

let server: TestServer;
let terminal: TestTerminal;
beforeAll(async () => {
  server = await startTestServer({ FUELCARD_LOSS_WAIT_HOURS: '0' });
  terminal = (await newStation(server)).terminal;
});
afterAll(async () => server?.close());

let seqCounter = 1000;
const nextSeq = () => ++seqCounter;
const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();

/** An offline sale of `amount` fen at 10.00 yuan/L (volume in ml = amount in fen). */
function offlineSale(cardNo: string, amount: number, over: Record<string, unknown> = {}) {
  return { seq: nextSeq(), cardNo, grade: '92#', volumeMl: amount, unitPrice: 1000, amount, nozzle: 2, occurredAt: minutesAgo(30), approvalCode: '654321', ...over };
}

function upload(body: Record<string, unknown>, t: TestTerminal = terminal) {
  return terminalPost(server, t, PATH, body);
}

async function signedGet(path: string, t: TestTerminal = terminal) {
  const headers = signTerminalRequest(t, 'GET', path, '');
  delete headers['content-type'];
  const res = await fetch(server.baseUrl + path, { headers });
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
}

const balance = async (cardNo: string) => (await getCard(server, cardNo)).balance as number;
const newBatchNo = () => `B${randomUUID().replaceAll('-', '').slice(0, 20)}`;
const expectLedgerOk = async () => {
  const report = await server.verify();
  expect(report.problems).toEqual([]);
  expect(report.ok).toBe(true);
};

async function saleRow(saleId: string) {
  const r = await sql<any>`select status, flow, terminal_ref, forced, flags, liability, shift_id, offline_at, approval_code, transfers,
      to_char(business_day, 'YYYY-MM-DD') as business_day, balance_after from sales where id = ${saleId}`.execute(server.db.db);
  return r.rows[0];
}

describe('POST /api/v1/pos/offline-batches: posting and idempotency', () => {
  it('posts each sale once, records it as an offline sale, and answers a repeated batch with the first result', async () => {
    const cardNo = await newCardNo(server, { funds: 50_000 });
    // 23:30 in Shanghai on the last evening past: the business day is the sale's, not the upload's.
    const at = new Date();
    at.setUTCHours(15, 30, 0, 0);
    if (at.getTime() > Date.now() - 60_000) at.setUTCDate(at.getUTCDate() - 1);
    const when = at.toISOString();
    const body = { batchNo: newBatchNo(), sales: [offlineSale(cardNo, 3000, { occurredAt: when }), offlineSale(cardNo, 2000)] };

    const first = ok(await upload(body), 200, 'upload');
    expect(first.replayed).toBe(false);
    expect(first.summary).toEqual({ received: 2, posted: 2, duplicates: 0, rejected: 0, forced: 0, stationLiability: 0 });
    expect(first.results.map((r: any) => r.status)).toEqual(['posted', 'posted']);
    expect(await balance(cardNo)).toBe(45_000);

    const row = await saleRow(first.results[0].saleId);
    expect(row).toMatchObject({ status: 'approved', flow: 'offline', terminal_ref: `offline:${body.sales[0]!.seq}`, forced: false, flags: [], liability: 'programme', approval_code: '654321' });
    expect(row.shift_id).not.toBeNull();
    expect(new Date(row.offline_at).toISOString()).toBe(new Date(when).toISOString());
    expect(row.business_day).toBe(when.slice(0, 10));
    const events = await sql<{ n: number }>`select count(*)::int n from outbox_events where topic = 'sale.approved' and aggregate_id = ${first.results[0].saleId}`.execute(server.db.db);
    expect(events.rows[0]!.n).toBe(1);

    const again = ok(await upload(body), 200, 'upload again');
    expect(again).toEqual({ ...first, replayed: true });
    expect(await balance(cardNo)).toBe(45_000);
    await expectLedgerOk();
  });

  it('posts a batch uploaded several times at once exactly once', async () => {
    const cardNo = await newCardNo(server, { funds: 20_000 });
    const body = { batchNo: newBatchNo(), sales: [offlineSale(cardNo, 1500), offlineSale(cardNo, 2500), offlineSale(cardNo, 1000)] };
    const answers = await Promise.all([1, 2, 3, 4, 5].map(() => upload(body)));
    for (const a of answers) expect(a.status).toBe(200);
    expect(answers.filter((a) => !a.body.replayed)).toHaveLength(1);
    const saleIds = new Set(answers.flatMap((a) => a.body.results.map((r: any) => r.saleId)));
    expect(saleIds.size).toBe(3);
    expect(await balance(cardNo)).toBe(15_000);
    const n = await sql<{ n: number }>`select count(*)::int n from sales where id = any(${[...saleIds]}::uuid[])`.execute(server.db.db);
    expect(n.rows[0]!.n).toBe(3);
    await expectLedgerOk();
  });

  it('posts a sequence number once even when it comes in two different batches, sequentially or at once', async () => {
    const cardNo = await newCardNo(server, { funds: 30_000 });
    const a = offlineSale(cardNo, 1000);
    const b = offlineSale(cardNo, 2000);
    const c = offlineSale(cardNo, 4000);
    const first = ok(await upload({ batchNo: newBatchNo(), sales: [a, b] }), 200);
    const second = ok(await upload({ batchNo: newBatchNo(), sales: [b, c] }), 200);
    expect(second.results[0]).toEqual({ seq: b.seq, status: 'duplicate', saleId: first.results[1].saleId });
    expect(second.results[1].status).toBe('posted');
    expect(second.summary).toMatchObject({ received: 2, posted: 1, duplicates: 1 });
    expect(await balance(cardNo)).toBe(23_000);

    // Two batches sharing sequence numbers in opposite orders, at once: each sale once, no deadlock.
    const d = offlineSale(cardNo, 500);
    const e = offlineSale(cardNo, 700);
    const [x, y] = await Promise.all([upload({ batchNo: newBatchNo(), sales: [d, e] }), upload({ batchNo: newBatchNo(), sales: [e, d] })]);
    expect([x.status, y.status]).toEqual([200, 200]);
    const all = [...x.body.results, ...y.body.results];
    expect(all.filter((r: any) => r.status === 'posted')).toHaveLength(2);
    expect(all.filter((r: any) => r.status === 'duplicate')).toHaveLength(2);
    expect(await balance(cardNo)).toBe(21_800);
    // The same sequence twice inside one batch: the second is a duplicate of the first.
    const f = offlineSale(cardNo, 800);
    const twice = ok(await upload({ batchNo: newBatchNo(), sales: [f, f] }), 200);
    expect(twice.results.map((r: any) => r.status)).toEqual(['posted', 'duplicate']);
    expect(await balance(cardNo)).toBe(21_000);
    await expectLedgerOk();
  });

  it('refuses the same batch number with different sales (409) and moves nothing', async () => {
    const cardNo = await newCardNo(server, { funds: 10_000 });
    const batchNo = newBatchNo();
    ok(await upload({ batchNo, sales: [offlineSale(cardNo, 1000)] }), 200);
    expectError(await upload({ batchNo, sales: [offlineSale(cardNo, 1000)] }), 409, 'OFFLINE_BATCH_CONFLICT');
    expect(await balance(cardNo)).toBe(9000);
    // The same batch number from another terminal is another batch.
    const other = (await newStation(server)).terminal;
    expect(ok(await upload({ batchNo, sales: [offlineSale(cardNo, 1000)] }, other), 200).replayed).toBe(false);
    expect(await balance(cardNo)).toBe(8000);
    await expectLedgerOk();
  });
});

describe('forced posts past the balance', () => {
  it('posts an offline sale the balance no longer covers: negative balance, arrears, an alert, declined online until repaid', async () => {
    const cardNo = await newCardNo(server, { funds: 5000 });
    const r = ok(await upload({ batchNo: newBatchNo(), sales: [offlineSale(cardNo, 3000), offlineSale(cardNo, 4000)] }), 200);
    expect(r.summary).toMatchObject({ posted: 2, forced: 1 });
    expect(r.results[0]).toMatchObject({ status: 'posted', forced: false, flags: [] });
    expect(r.results[1]).toMatchObject({ status: 'posted', forced: true, liability: 'programme', flags: ['offline_overdraft'] });
    expect(await balance(cardNo)).toBe(-2000);

    const accountId = (await getCard(server, cardNo)).accounts[0].accountId as number;
    const acct = await sql<{ arrears: number }>`select arrears from ledger_accounts where id = ${accountId}`.execute(server.db.db);
    expect(acct.rows[0]!.arrears).toBe(2000);
    const alerts = await sql<{ shortfall: number; reason: string }>`select shortfall, reason from ledger_arrears_alerts where account_id = ${accountId}`.execute(server.db.db);
    expect(alerts.rows).toEqual([{ shortfall: 2000, reason: 'offline_sale' }]);
    const row = await saleRow(r.results[1].saleId);
    expect(row).toMatchObject({ forced: true, flags: ['offline_overdraft'], balance_after: -2000 });
    expect(row.transfers).toEqual([{ transferId: expect.any(String), accountId, amount: 4000 }]);
    await expectLedgerOk();

    await expectDeclined(server, terminal, cardNo, 100, 'CARD_IN_ARREARS');
    await recharge(server, cardNo, 10_000);
    expect(await balance(cardNo)).toBe(8000);
    const repaid = await sql<{ arrears: number }>`select arrears from ledger_accounts where id = ${accountId}`.execute(server.db.db);
    expect(repaid.rows[0]!.arrears).toBe(0);
    await expectLedgerOk();
  });

  it('takes what each account has in priority order and forces only the shortfall, on the first account', async () => {
    const master = await newCardNo(server, { kind: 'master', funds: 3000 });
    const sub = await newCardNo(server, { kind: 'sub', masterCardNo: master, sharedBalance: true, funds: 1000 });
    const accounts = (await getCard(server, sub)).accounts.map((a: any) => a.accountId as number);
    expect(accounts).toHaveLength(2);
    const r = ok(await upload({ batchNo: newBatchNo(), sales: [offlineSale(sub, 5000)] }), 200);
    expect(r.results[0]).toMatchObject({ status: 'posted', forced: true, flags: ['offline_overdraft'] });
    const row = await saleRow(r.results[0].saleId);
    const byAccount = Object.fromEntries(row.transfers.map((t: any) => [t.accountId, t.amount]));
    expect(byAccount).toEqual({ [accounts[0]!]: 2000, [accounts[1]!]: 3000 });
    const alert = await sql<{ shortfall: number }>`select shortfall from ledger_arrears_alerts where account_id = ${accounts[0]!}`.execute(server.db.db);
    expect(alert.rows).toEqual([{ shortfall: 1000 }]);
    await expectLedgerOk();
  });
});

describe('liability for cards the hot list names', () => {
  it('makes a sale on a card the terminal’s hot list held the station’s liability, and one lost later the programme’s', async () => {
    const hot = await newCardNo(server, { funds: 10_000 });
    const late = await newCardNo(server, { funds: 10_000 });
    const before = ok(await signedGet('/api/v1/pos/hotlist'), 200);
    expect(before.cards).not.toContain(hot);
    ok(await cardOp(server, hot, 'report-loss'), 200);
    // A version counts a change once every transaction older than it has ended, cluster-wide: a
    // terminal polling meets such a version soon enough (other databases' tests may hold it back).
    const lostXid = (await sql<{ x: string }>`select changed_xid::text x from hotlist where card_no = ${hot}`.execute(server.db.db)).rows[0]!.x;
    let delta = ok(await signedGet(`/api/v1/pos/hotlist?since=${before.version}`), 200);
    for (let i = 0; i < 600 && delta.version <= Number(lostXid); i++) {
      await new Promise((r) => setTimeout(r, 50));
      delta = ok(await signedGet(`/api/v1/pos/hotlist?since=${before.version}`), 200);
    }
    expect(delta.added).toContain(hot);
    // The terminal now holds delta.version; `late` is lost after it.
    ok(await cardOp(server, late, 'report-loss'), 200);

    const r = ok(
      await upload({ batchNo: newBatchNo(), hotlistVersion: String(delta.version), sales: [offlineSale(hot, 3000), offlineSale(late, 2000)] }),
      200,
    );
    expect(r.summary).toMatchObject({ posted: 2, stationLiability: 1, forced: 0 });
    expect(r.results[0]).toMatchObject({ status: 'posted', liability: 'station', forced: false, flags: ['offline_hot_card'] });
    expect(r.results[1]).toMatchObject({ status: 'posted', liability: 'programme', flags: ['offline_card_not_usable'] });
    expect(await balance(hot)).toBe(10_000);
    expect(await balance(late)).toBe(8000);
    const hotRow = await saleRow(r.results[0].saleId);
    expect(hotRow).toMatchObject({ status: 'approved', liability: 'station', transfers: [] });
    const usage = await sql<{ n: number }>`select count(*)::int n from card_usage_daily u join cards c on c.id = u.card_id where c.card_no = ${hot}`.execute(server.db.db);
    expect(usage.rows[0]!.n).toBe(0);

    // The same hot card judged by the version before its loss: the terminal could not know.
    const older = ok(await upload({ batchNo: newBatchNo(), hotlistVersion: before.version, sales: [offlineSale(hot, 1000)] }), 200);
    expect(older.results[0]).toMatchObject({ liability: 'programme', flags: ['offline_card_not_usable'] });
    expect(await balance(hot)).toBe(9000);
    // Without a version, nothing is the station's.
    const none = ok(await upload({ batchNo: newBatchNo(), sales: [offlineSale(hot, 500)] }), 200);
    expect(none.results[0]).toMatchObject({ liability: 'programme' });
    expect(await balance(hot)).toBe(8500);
    await expectLedgerOk();
  });

  it('posts a sale on a card closed (and refunded) before the terminal knew, as a programme write-off', async () => {
    const cardNo = await newCardNo(server, { funds: 4000 });
    const before = ok(await signedGet('/api/v1/pos/hotlist'), 200);
    ok(await cardOp(server, cardNo, 'close', { refundMethod: 'cash' }), 200);
    const r = ok(await upload({ batchNo: newBatchNo(), hotlistVersion: before.version, sales: [offlineSale(cardNo, 1200)] }), 200);
    expect(r.results[0]).toMatchObject({ status: 'posted', liability: 'programme', forced: false, flags: ['offline_card_not_usable'] });
    const row = await saleRow(r.results[0].saleId);
    const writeOff = await sql<{ id: number }>`select id from ledger_accounts where system_key = 'write_off:offline_unrecoverable'`.execute(server.db.db);
    expect(row.transfers).toEqual([{ transferId: expect.any(String), accountId: writeOff.rows[0]!.id, amount: 1200 }]);
    await expectLedgerOk();
  });
});

describe('rejects', () => {
  it('rejects sales that cannot be real with a stable code each, and posts the rest of the batch', async () => {
    const cardNo = await newCardNo(server, { funds: 10_000 });
    const sales = [
      offlineSale('9000000000000000001', 1000),
      offlineSale(cardNo, 1000, { amount: 1001 }),
      offlineSale(cardNo, 1000, { grade: 'NOPE' }),
      offlineSale(cardNo, 1000, { occurredAt: new Date(Date.now() + 3600_000).toISOString() }),
      offlineSale(cardNo, 1000, { occurredAt: new Date(Date.now() - 8 * 86_400_000).toISOString() }),
      offlineSale(cardNo, 1000),
      offlineSale(cardNo, 1000),
    ];
    // A reversal recorded before the offline sale arrived (the terminal cancelled it): never posted.
    await sql`insert into sale_reversals (id, terminal_id, original_ref, kind, reason, target)
      values (${randomUUID()}, ${terminal.terminalId}, ${`offline:${sales[6]!.seq}`}, 'reversal', 'customer_cancel', 'none')`.execute(server.db.db);
    const r = ok(await upload({ batchNo: newBatchNo(), sales }), 200);
    expect(r.results.map((x: any) => x.code ?? x.status)).toEqual([
      'OFFLINE_CARD_UNKNOWN',
      'OFFLINE_AMOUNT_MISMATCH',
      'OFFLINE_GRADE_UNKNOWN',
      'OFFLINE_TIME_OUT_OF_RANGE',
      'OFFLINE_TIME_OUT_OF_RANGE',
      'posted',
      'OFFLINE_SALE_REVERSED',
    ]);
    expect(r.summary).toEqual({ received: 7, posted: 1, duplicates: 0, rejected: 6, forced: 0, stationLiability: 0 });
    expect(await balance(cardNo)).toBe(9000);
    // A rejected sequence number is not spent: corrected, it posts.
    const fixed = ok(await upload({ batchNo: newBatchNo(), sales: [{ ...sales[1]!, amount: 1000 }] }), 200);
    expect(fixed.results[0].status).toBe('posted');
    expect(await balance(cardNo)).toBe(8000);
    await expectLedgerOk();
  });

  it('refuses malformed batches as a whole with 400 and moves nothing', async () => {
    const cardNo = await newCardNo(server, { funds: 1000 });
    const sale = offlineSale(cardNo, 100);
    for (const body of [
      { batchNo: 'bad batch', sales: [sale] },
      { batchNo: newBatchNo(), sales: [] },
      { batchNo: newBatchNo(), sales: Array.from({ length: 201 }, () => offlineSale(cardNo, 1)) },
      { batchNo: newBatchNo(), hotlistVersion: 'v12', sales: [sale] },
      { batchNo: newBatchNo(), sales: [{ ...sale, approvalCode: '12AB' }] },
      { batchNo: newBatchNo(), sales: [{ ...sale, seq: 0 }] },
    ]) {
      const r = await upload(body);
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400);
    }
    expect((await fetch(server.baseUrl + PATH, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })).status).toBe(401);
    expect(await balance(cardNo)).toBe(1000);
  });
});

describe('staff views', () => {
  it('lists batches by terminal and shows one with its results and sales', async () => {
    const cardNo = await newCardNo(server, { funds: 5000 });
    const t = (await newStation(server)).terminal;
    const up = ok(await upload({ batchNo: newBatchNo(), sales: [offlineSale(cardNo, 1000), offlineSale(cardNo, 1000, { grade: 'NOPE' })] }, t), 200);
    const list = ok(await server.api('GET', `/api/v1/offline-batches?terminalId=${t.terminalId}`), 200);
    expect(list.items.map((b: any) => b.batchId)).toEqual([up.batchId]);
    expect(list.items[0]).toMatchObject({ terminalId: t.terminalId, stationId: t.stationId, summary: up.summary });
    const byStation = ok(await server.api('GET', `/api/v1/offline-batches?stationId=${t.stationId}&limit=1`, { role: 'finance' }), 200);
    expect(byStation.items).toHaveLength(1);

    const detail = ok(await server.api('GET', `/api/v1/offline-batches/${up.batchId}`), 200);
    expect(detail.results).toEqual(up.results);
    expect(detail.sales).toHaveLength(1);
    expect(detail.sales[0]).toMatchObject({ saleId: up.results[0].saleId, cardNo, amount: 1000, status: 'approved', liability: 'programme' });
    expectError(await server.api('GET', `/api/v1/offline-batches/${randomUUID()}`), 404, 'OFFLINE_BATCH_NOT_FOUND');
    expect((await server.api('GET', '/api/v1/offline-batches', { role: 'cardholder' })).status).toBe(403);
    expect((await server.api('GET', '/api/v1/offline-batches?cursor=garbage')).status).toBe(400);
    await expectLedgerOk();
  });
});

describe('review fixes', () => {
  it('rejects a reused sequence number with other content (OFFLINE_SEQ_CONFLICT) instead of calling it a duplicate', async () => {
    const cardNo = await newCardNo(server, { funds: 20_000 });
    const other = await newCardNo(server, { funds: 20_000 });
    const a = offlineSale(cardNo, 1000);
    const first = ok(await upload({ batchNo: newBatchNo(), sales: [a] }), 200);
    // The same sale written with another offset is the same sale.
    const sameInstant = new Date(a.occurredAt).toISOString().replace('Z', '+00:00');
    const variants: Array<Record<string, unknown>> = [
      { amount: 1200, volumeMl: 1200 },
      { cardNo: other },
      { grade: '95#' },
      { nozzle: 3 },
      { occurredAt: minutesAgo(20) },
      { approvalCode: '111111' },
    ];
    const r = ok(await upload({ batchNo: newBatchNo(), sales: [{ ...a, occurredAt: sameInstant }, ...variants.map((v) => ({ ...a, ...v }))] }), 200);
    expect(r.results[0]).toEqual({ seq: a.seq, status: 'duplicate', saleId: first.results[0].saleId });
    expect(r.results.slice(1).map((x: any) => [x.status, x.code])).toEqual(variants.map(() => ['rejected', 'OFFLINE_SEQ_CONFLICT']));
    expect(r.summary).toMatchObject({ received: 7, posted: 0, duplicates: 1, rejected: 6 });

    // Twice inside one batch with different content: the first posts, the second is a conflict.
    const b = offlineSale(cardNo, 700);
    const twice = ok(await upload({ batchNo: newBatchNo(), sales: [b, { ...b, amount: 900, volumeMl: 900 }] }), 200);
    expect(twice.results.map((x: any) => x.code ?? x.status)).toEqual(['posted', 'OFFLINE_SEQ_CONFLICT']);
    expect(await balance(cardNo)).toBe(18_300);
    expect(await balance(other)).toBe(20_000);
    await expectLedgerOk();
  });

  it('hashes the parsed hotlistVersion: "N" and N are the same batch', async () => {
    const cardNo = await newCardNo(server, { funds: 5000 });
    const v = ok(await signedGet('/api/v1/pos/hotlist'), 200).version as number;
    const body = { batchNo: newBatchNo(), hotlistVersion: String(v), sales: [offlineSale(cardNo, 1000)] };
    const first = ok(await upload(body), 200);
    const again = ok(await upload({ ...body, hotlistVersion: v }), 200);
    expect(again).toEqual({ ...first, replayed: true });
    expect(await balance(cardNo)).toBe(4000);
    await expectLedgerOk();
  });

  it('judges hot-card liability by the list the terminal downloaded before the sale, whatever version it claims', async () => {
    const t = (await newStation(server)).terminal;
    const hot = await newCardNo(server, { funds: 10_000 });
    ok(await cardOp(server, hot, 'report-loss'), 200);
    const lostXid = Number((await sql<{ x: string }>`select changed_xid::text x from hotlist where card_no = ${hot}`.execute(server.db.db)).rows[0]!.x);
    let list = ok(await signedGet('/api/v1/pos/hotlist', t), 200);
    for (let i = 0; i < 600 && list.version <= lostXid; i++) {
      await new Promise((r) => setTimeout(r, 50));
      list = ok(await signedGet('/api/v1/pos/hotlist', t), 200);
    }
    expect(list.cards).toContain(hot);
    const downloadedAt = (await sql<{ at: Date }>`select max(downloaded_at) at from terminal_list_downloads where terminal_id = ${t.terminalId} and kind = 'hotlist'`.execute(server.db.db)).rows[0]!.at;
    const after = new Date(downloadedAt.getTime() + 1000).toISOString();
    const before = new Date(downloadedAt.getTime() - 60_000).toISOString();
    // No version claimed (or an old one): the download after the loss still makes it the station's.
    const r = ok(
      await upload({ batchNo: newBatchNo(), hotlistVersion: 1, sales: [offlineSale(hot, 3000, { occurredAt: after }), offlineSale(hot, 2000, { occurredAt: before })] }, t),
      200,
    );
    expect(r.results[0]).toMatchObject({ status: 'posted', liability: 'station', flags: ['offline_hot_card'] });
    // A sale made before that download is judged by what the terminal held then.
    expect(r.results[1]).toMatchObject({ status: 'posted', liability: 'programme', flags: ['offline_card_not_usable'] });
    expect(await balance(hot)).toBe(8000);
    await expectLedgerOk();
  });

  it('makes a sale over the floor the terminal held the station’s liability: per sale, and per card and day at the terminal', async () => {
    // Configured floors: 20,000 a sale, 50,000 a card a day at one terminal.
    const t = (await newStation(server)).terminal;
    const cardNo = await newCardNo(server, { funds: 200_000 });
    const r = ok(
      await upload(
        {
          batchNo: newBatchNo(),
          sales: [
            offlineSale(cardNo, 25_000, { occurredAt: minutesAgo(50) }),
            offlineSale(cardNo, 20_000, { occurredAt: minutesAgo(49) }),
            offlineSale(cardNo, 5_000, { occurredAt: minutesAgo(48) }),
          ],
        },
        t,
      ),
      200,
    );
    expect(r.results.map((x: any) => [x.liability, x.flags])).toEqual([
      ['station', ['offline_over_floor']],
      ['programme', []],
      ['programme', []],
    ]);
    expect(r.summary).toMatchObject({ posted: 3, stationLiability: 1 });
    expect(await balance(cardNo)).toBe(175_000);
    // A later batch: 25,000 (the over-floor sale counts: the terminal approved it) + 25,000 + 10,000 > 50,000.
    const later = ok(await upload({ batchNo: newBatchNo(), sales: [offlineSale(cardNo, 10_000, { occurredAt: minutesAgo(47) })] }, t), 200);
    expect(later.results[0]).toMatchObject({ status: 'posted', liability: 'station', forced: false, flags: ['offline_over_floor'] });
    expect(await balance(cardNo)).toBe(175_000);
    const row = await saleRow(later.results[0].saleId);
    expect(row).toMatchObject({ liability: 'station', transfers: [], flags: ['offline_over_floor'] });
    // Another terminal has its own daily floor.
    const elsewhere = ok(await upload({ batchNo: newBatchNo(), sales: [offlineSale(cardNo, 10_000, { occurredAt: minutesAgo(47) })] }), 200);
    expect(elsewhere.results[0]).toMatchObject({ liability: 'programme', flags: [] });
    await expectLedgerOk();
  });

  it('uses the whitelist floors of the list the terminal downloaded before the sale', async () => {
    const t = (await newStation(server)).terminal;
    const cardNo = await newCardNo(server, { funds: 100_000 });
    ok(await server.api('PUT', `/api/v1/offline/whitelist/${cardNo}`, { role: 'risk', body: { floorSale: 30_000, floorDay: 60_000 } }), 200);
    const xid = Number((await sql<{ x: string }>`select changed_xid::text x from offline_whitelist where card_no = ${cardNo}`.execute(server.db.db)).rows[0]!.x);
    let list = ok(await signedGet('/api/v1/pos/whitelist', t), 200);
    for (let i = 0; i < 600 && list.version <= xid; i++) {
      await new Promise((r) => setTimeout(r, 50));
      list = ok(await signedGet('/api/v1/pos/whitelist', t), 200);
    }
    expect(list.items.map((x: any) => x.cardNo)).toContain(cardNo);
    const downloadedAt = (await sql<{ at: Date }>`select max(downloaded_at) at from terminal_list_downloads where terminal_id = ${t.terminalId} and kind = 'whitelist'`.execute(server.db.db)).rows[0]!.at;
    const at = (ms: number) => new Date(downloadedAt.getTime() + ms).toISOString();
    const r = ok(
      await upload(
        {
          batchNo: newBatchNo(),
          sales: [
            offlineSale(cardNo, 25_000, { occurredAt: at(1000) }),
            offlineSale(cardNo, 25_000, { occurredAt: at(2000) }),
            offlineSale(cardNo, 15_000, { occurredAt: at(3000) }),
          ],
        },
        t,
      ),
      200,
    );
    expect(r.results.map((x: any) => x.liability)).toEqual(['programme', 'programme', 'station']);
    // The terminal that never downloaded the whitelist held only the configured floors.
    const plain = ok(await upload({ batchNo: newBatchNo(), sales: [offlineSale(cardNo, 25_000, { occurredAt: at(1000) })] }), 200);
    expect(plain.results[0]).toMatchObject({ liability: 'station', flags: ['offline_over_floor'] });
    expect(await balance(cardNo)).toBe(50_000);
    await expectLedgerOk();
  });

  it('takes the same advisory locks as a reversal of the same sequence number', async () => {
    const cardNo = await newCardNo(server, { funds: 5000 });
    const s = offlineSale(cardNo, 1000);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const holder = server.db.db.transaction().execute(async (trx) => {
      await lockTerminalRef(trx, terminal.terminalId, `offline:${s.seq}`);
      locked();
      await held;
    });
    await isLocked;
    const pending = upload({ batchNo: newBatchNo(), sales: [s] });
    // The upload waits on the reversal's lock until it is released.
    let waiting = 0;
    for (let i = 0; i < 600 && waiting === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      waiting = (await sql<{ n: number }>`select count(*)::int n from pg_locks where locktype = 'advisory' and not granted and classid = 7401
        and database = (select oid from pg_database where datname = current_database())`.execute(server.db.db)).rows[0]!.n;
    }
    expect(waiting).toBe(1);
    release();
    await holder;
    expect(ok(await pending, 200).results[0].status).toBe('posted');
    await expectLedgerOk();
  });
});
