import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { card, expectLedgerOk, newCard, newStation, recharge, saleBody, sell, type Terminal } from '../../test/support/fuel.js';

let server: TestServer;
let terminal: Terminal;

beforeAll(async () => {
  server = await startTestServer();
  terminal = (await newStation(server)).terminal;
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerOk(server));

type Line = { type: string; id: string; at: string; amount: number; status: string } & Record<string, any>;

async function statement(cardNo: string, query = ''): Promise<{ items: Line[]; nextCursor: string | null }> {
  const r = await server.api('GET', `/api/v1/cards/${cardNo}/statement${query}`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body;
}

/** Walks every page with the given page size and returns the lines in order. */
async function allPages(path: string, limit: number, extra = ''): Promise<Line[]> {
  const out: Line[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 1000; page++) {
    const q: string = `?limit=${limit}${extra}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const r = await server.api('GET', `${path}${q}`);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.items.length).toBeLessThanOrEqual(limit);
    out.push(...r.body.items);
    cursor = r.body.nextCursor;
    if (cursor === null) return out;
    expect(r.body.items).toHaveLength(limit);
  }
  throw new Error('pager did not end');
}

const byNewest = (a: Line, b: Line) => (a.at < b.at ? 1 : a.at > b.at ? -1 : a.id < b.id ? 1 : -1);

describe('card statement', () => {
  let cardNo: string;
  let saleIds: string[];
  let declinedId: string;
  let receipts: string[];

  beforeAll(async () => {
    cardNo = await newCard(server);
    receipts = [];
    receipts.push((await recharge(server, cardNo, 10_000)).body.receiptNo);
    const bank = await server.api('POST', `/api/v1/cards/${cardNo}/recharges`, {
      body: { amount: 5_000, channel: 'bank_transfer', reference: `BK${Date.now()}` },
      idempotencyKey: randomUUID(),
    });
    expect(bank.status).toBe(201);
    receipts.push(bank.body.receiptNo);
    saleIds = [];
    saleIds.push((await sell(server, terminal, saleBody(cardNo, 1_000))).body.saleId);
    declinedId = (await sell(server, terminal, saleBody(cardNo, 1_000, { pin: '000000' }))).body.saleId;
    saleIds.push((await sell(server, terminal, saleBody(cardNo, 2_000, { grade: '95#', unitPrice: 800, volumeMl: 2_500 }))).body.saleId);
  });

  it('lists sales and recharges newest first, signed from the holder’s view, without declines by default', async () => {
    const s = await statement(cardNo);
    expect(s.nextCursor).toBeNull();
    expect(s.items.map((l) => [l.type, l.amount])).toEqual([
      ['sale', -2_000],
      ['sale', -1_000],
      ['recharge', 5_000],
      ['recharge', 10_000],
    ]);
    expect([...s.items].sort(byNewest)).toEqual(s.items);
    const [sale2, , bank, cash] = s.items as [Line, Line, Line, Line];
    expect(sale2).toMatchObject({
      id: saleIds[1],
      status: 'approved',
      stationId: terminal.stationId,
      terminalId: terminal.terminalId,
      grade: '95#',
      volumeMl: 2_500,
      unitPrice: 800,
      balanceAfter: 12_000,
      declineCode: null,
    });
    expect(sale2.approvalCode).toMatch(/^\d{6}$/);
    expect(sale2.cardNo).not.toBe(cardNo); // masked
    expect(sale2.cardNo.slice(-4)).toBe(cardNo.slice(-4));
    expect(bank).toMatchObject({ type: 'recharge', channel: 'bank_transfer', receiptNo: receipts[1], balanceAfter: 15_000, grade: null });
    expect(cash).toMatchObject({ type: 'recharge', channel: 'cash', receiptNo: receipts[0], balanceAfter: 10_000 });
  });

  it('includes declined sales on request', async () => {
    const s = await statement(cardNo, '?includeDeclined=true');
    expect(s.items).toHaveLength(5);
    expect(s.items.find((l) => l.id === declinedId)).toMatchObject({ type: 'sale', status: 'declined', declineCode: 'PIN_WRONG', approvalCode: null });
  });

  it('filters by type', async () => {
    expect((await statement(cardNo, '?type=sale')).items.map((l) => l.id)).toEqual([saleIds[1], saleIds[0]]);
    expect((await statement(cardNo, '?type=recharge')).items.map((l) => l.receiptNo)).toEqual([receipts[1], receipts[0]]);
    expect((await statement(cardNo, '?type=refund')).items).toEqual([]);
  });

  it('pages with a cursor: every line once, in order, whatever the page size', async () => {
    const full = (await statement(cardNo, '?includeDeclined=true')).items;
    for (const size of [1, 2, 3, 5]) {
      expect(await allPages(`/api/v1/cards/${cardNo}/statement`, size, '&includeDeclined=true')).toEqual(full);
    }
  });

  it('refuses a cursor it did not issue', async () => {
    for (const cursor of ['garbage', Buffer.from('2024-01-01T00:00:00Z|not-a-uuid').toString('base64url'), Buffer.from('yesterday|x').toString('base64url')]) {
      const r = await server.api('GET', `/api/v1/cards/${cardNo}/statement?cursor=${cursor}`);
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('VALIDATION_FAILED');
      expect(r.body.error.details.field).toBe('cursor');
    }
  });

  it('refuses bad query values and unknown cards', async () => {
    for (const q of ['?limit=0', '?limit=201', '?from=yesterday', '?type=transfer']) {
      const r = await server.api('GET', `/api/v1/cards/${cardNo}/statement${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.error.code).toBe('VALIDATION_FAILED');
    }
    const unknown = await server.api('GET', '/api/v1/cards/9000010000000000000/statement');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('CARD_NOT_FOUND');
  });
});

describe('time filters and ordering', () => {
  it('from is inclusive, to is exclusive, and lines sort by time across kinds', async () => {
    const cardNo = await newCard(server);
    const r1 = (await recharge(server, cardNo, 9_000)).body.rechargeId as string;
    const s1 = (await sell(server, terminal, saleBody(cardNo, 1_000))).body.saleId as string;
    const r2 = (await recharge(server, cardNo, 2_000)).body.rechargeId as string;
    const s2 = (await sell(server, terminal, saleBody(cardNo, 3_000))).body.saleId as string;
    // Place the lines on known days (Beijing time) so the filter boundaries are exact.
    const at: Record<string, string> = {
      [r1]: '2024-03-01T01:00:00.000Z',
      [s1]: '2024-03-02T02:00:00.000Z',
      [r2]: '2024-03-03T03:00:00.000Z',
      [s2]: '2024-03-04T04:00:00.000Z',
    };
    for (const [id, t] of Object.entries(at)) {
      await sql`update recharges set created_at = ${t}::timestamptz where id = ${id}`.execute(server.db.db);
      await sql`update sales set created_at = ${t}::timestamptz where id = ${id}`.execute(server.db.db);
    }
    const ids = async (q: string) => (await statement(cardNo, q)).items.map((l) => l.id);
    expect(await ids('')).toEqual([s2, r2, s1, r1]);
    expect(await ids(`?from=${encodeURIComponent(at[s1]!)}`)).toEqual([s2, r2, s1]);
    expect(await ids(`?to=${encodeURIComponent(at[r2]!)}`)).toEqual([s1, r1]);
    expect(await ids(`?from=${encodeURIComponent(at[s1]!)}&to=${encodeURIComponent(at[s2]!)}`)).toEqual([r2, s1]);
    // A Beijing-time offset in the query means the same instant.
    expect(await ids(`?from=${encodeURIComponent('2024-03-03T11:00:00+08:00')}`)).toEqual([s2, r2]);
    expect(await ids(`?from=${encodeURIComponent('2024-03-05T00:00:00Z')}`)).toEqual([]);
    expect(await ids(`?type=sale&to=${encodeURIComponent('2024-03-04T00:00:00Z')}`)).toEqual([s1]);
  });

  it('does not skip lines that share a millisecond when paging', async () => {
    const cardNo = await newCard(server);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await recharge(server, cardNo, 100 + i)).body.rechargeId);
    // Four recharges within one millisecond, microseconds apart (as busy counters produce).
    for (const [i, id] of ids.entries()) {
      await sql`update recharges set created_at = ${`2024-05-01T02:00:00.1231${i}0Z`}::timestamptz where id = ${id}`.execute(server.db.db);
    }
    const paged = await allPages(`/api/v1/cards/${cardNo}/statement`, 1);
    expect(paged.map((l) => l.id)).toEqual([...ids].reverse());
  });

  it('a replacement card’s statement carries the lines of the card it replaced; a close shows the refund', async () => {
    const oldNo = await newCard(server, { funds: 8_000 });
    expect((await sell(server, terminal, saleBody(oldNo, 3_000))).body.status).toBe('approved');
    const rep = await server.api('POST', `/api/v1/cards/${oldNo}/replace`, { body: {} });
    expect(rep.status).toBe(200);
    const newNo = rep.body.cardNo as string;
    expect(newNo).not.toBe(oldNo);
    expect((await sell(server, terminal, saleBody(newNo, 1_000))).body.status).toBe('approved');
    const close = await server.api('POST', `/api/v1/cards/${newNo}/close`, { body: { refundMethod: 'cash' } });
    expect(close.status).toBe(200);
    expect(close.body.refund.amount).toBe(4_000);

    const s = await statement(newNo);
    expect(s.items.map((l) => [l.type, l.amount, l.cardNo.slice(-4)])).toEqual([
      ['refund', -4_000, newNo.slice(-4)],
      ['sale', -1_000, newNo.slice(-4)],
      ['sale', -3_000, oldNo.slice(-4)],
      ['recharge', 8_000, oldNo.slice(-4)],
    ]);
    expect(s.items[0]).toMatchObject({ channel: 'cash', status: 'paid' });
    expect((await statement(newNo, '?type=refund')).items).toHaveLength(1);
    expect((await card(server, newNo)).balance).toBe(0);
  });
});

describe('account entries', () => {
  it('shows the balances and pages the entries newest first', async () => {
    const cardNo = await newCard(server);
    for (const amount of [1_000, 2_000, 3_000]) await recharge(server, cardNo, amount);
    for (const amount of [500, 700]) expect((await sell(server, terminal, saleBody(cardNo, amount))).body.status).toBe('approved');
    const accountId = (await card(server, cardNo)).accounts[0]!.accountId;

    const acct = await server.api('GET', `/api/v1/accounts/${accountId}`);
    expect(acct.status).toBe(200);
    expect(acct.body).toMatchObject({ id: accountId, kind: 'customer', currency: 'CNY', balance: 4_800, available: 4_800, creditsPosted: 6_000, debitsPosted: 1_200 });

    const path = `/api/v1/accounts/${accountId}/entries`;
    const all = (await server.api('GET', path)).body;
    expect(all.nextCursor).toBeNull();
    expect(all.items.map((e: Line) => [e.code, e.amount, e.direction, e.balanceAfter])).toEqual([
      ['sale', -700, 'debit', 4_800],
      ['sale', -500, 'debit', 5_500],
      ['recharge', 3_000, 'credit', 6_000],
      ['recharge', 2_000, 'credit', 3_000],
      ['recharge', 1_000, 'credit', 1_000],
    ]);
    for (const size of [1, 2, 4]) expect(await allPages(path, size)).toEqual(all.items);

    // Time filters on the entries' own timestamps: from inclusive, to exclusive.
    const third = all.items[2].createdAt as string;
    const from = (await server.api('GET', `${path}?from=${encodeURIComponent(third)}`)).body.items;
    expect(from.map((e: Line) => e.transferId)).toEqual(all.items.slice(0, 3).map((e: Line) => e.transferId));
    const to = (await server.api('GET', `${path}?to=${encodeURIComponent(third)}`)).body.items;
    expect(to.every((e: Line) => e.createdAt < third)).toBe(true);
    expect(to.map((e: Line) => e.transferId)).not.toContain(all.items[2].transferId);
  });

  it('answers 404 for an unknown account and 400 for a bad cursor', async () => {
    const unknown = await server.api('GET', '/api/v1/accounts/999999/entries');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('LEDGER_ACCOUNT_NOT_FOUND');
    const cardNo = await newCard(server, { funds: 100 });
    const accountId = (await card(server, cardNo)).accounts[0]!.accountId;
    const bad = await server.api('GET', `/api/v1/accounts/${accountId}/entries?cursor=nonsense`);
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
  });
});
