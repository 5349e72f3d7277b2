import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signTerminalRequest, startTestServer, type TestServer } from '../../test/support/server.js';
import { cardOp, expectError, newCardNo, newStation, ok, type TestTerminal } from '../../test/support/cards-factory.js';

let server: TestServer;
let terminal: TestTerminal;
beforeAll(async () => {
  server = await startTestServer({ FUELCARD_LOSS_WAIT_HOURS: '0' });
  terminal = (await newStation(server)).terminal;
});
afterAll(async () => server?.close());

async function signedGet(path: string) {
  const headers = signTerminalRequest(terminal, 'GET', path, '');
  delete headers['content-type'];
  const res = await fetch(server.baseUrl + path, { headers });
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
}
const put = (cardNo: string, body: unknown, role: any = 'operator') => server.api('PUT', `/api/v1/offline/whitelist/${cardNo}`, { role, body });
const del = (cardNo: string, role: any = 'operator') => server.api('DELETE', `/api/v1/offline/whitelist/${cardNo}`, { role });

describe('offline whitelist', () => {
  it('is managed by staff (audited) and downloaded by terminals in full and by delta', async () => {
    const [a, b, kept] = [await newCardNo(server), await newCardNo(server), await newCardNo(server)];
    // kept stays listed, so the delta below (a and b) is not larger than the full list.
    ok(await put(kept, { floorSale: 10_000, floorDay: 10_000 }), 200);
    const entry = ok(await put(a, { floorSale: 50_000, floorDay: 150_000 }), 200);
    expect(entry).toMatchObject({ cardNo: a, cardStatus: 'active', floorSale: 50_000, floorDay: 150_000, updatedBy: 't_operator' });
    ok(await put(b, { floorSale: 30_000, floorDay: 30_000 }, 'risk'), 200);

    const full = ok(await signedGet('/api/v1/pos/whitelist'), 200);
    expect(full.full).toBe(true);
    expect(full.items).toEqual(
      expect.arrayContaining([
        { cardNo: a, floorSale: 50_000, floorDay: 150_000, listed: true },
        { cardNo: b, floorSale: 30_000, floorDay: 30_000, listed: true },
      ]),
    );

    // A change and a removal show in the next delta (which may also repeat older changes: the
    // version is a cluster-wide snapshot xmin, held back by any open transaction).
    ok(await put(a, { floorSale: 60_000, floorDay: 200_000 }), 200);
    expect((await del(b)).status).toBe(204);
    const delta = ok(await signedGet(`/api/v1/pos/whitelist?since=${full.version}`), 200);
    expect(delta.full).toBe(false);
    expect(delta.items).toContainEqual({ cardNo: a, floorSale: 60_000, floorDay: 200_000, listed: true });
    expect(delta.items).toContainEqual({ cardNo: b, floorSale: 30_000, floorDay: 30_000, listed: false });
    const applied = new Map(full.items.map((i: any) => [i.cardNo, i]));
    for (const i of delta.items) {
      if (i.listed) applied.set(i.cardNo, i);
      else applied.delete(i.cardNo);
    }
    const after = ok(await signedGet('/api/v1/pos/whitelist'), 200);
    expect(after.items.map((i: any) => i.cardNo)).toContain(a);
    expect(after.items.map((i: any) => i.cardNo)).not.toContain(b);
    expect([...applied.values()]).toEqual(after.items);
    // A version the server cannot delta from gets the full list.
    expect(ok(await signedGet(`/api/v1/pos/whitelist?since=${after.version + 1_000_000_000}`), 200).full).toBe(true);

    const audits = await sql<{ action: string; actor_name: string }>`select action, actor_name from audit_log
      where action like 'whitelist.%' order by id`.execute(server.db.db);
    expect(audits.rows).toEqual([
      { action: 'whitelist.add', actor_name: 't_operator' },
      { action: 'whitelist.add', actor_name: 't_operator' },
      { action: 'whitelist.add', actor_name: 't_risk' },
      { action: 'whitelist.change', actor_name: 't_operator' },
      { action: 'whitelist.remove', actor_name: 't_operator' },
    ]);
    // The same floors again change nothing (no new version, no audit row).
    ok(await put(a, { floorSale: 60_000, floorDay: 200_000 }), 200);
    const n = await sql<{ n: number }>`select count(*)::int n from audit_log where action like 'whitelist.%'`.execute(server.db.db);
    expect(n.rows[0]!.n).toBe(5);

    const c = await newCardNo(server);
    ok(await put(c, { floorSale: 1000, floorDay: 2000 }), 200);
    const list = ok(await server.api('GET', '/api/v1/offline/whitelist?limit=1', { role: 'risk' }), 200);
    expect(list.items.map((i: any) => i.cardNo)).toEqual([c]);
    const next = ok(await server.api('GET', `/api/v1/offline/whitelist?limit=2&cursor=${list.nextCursor}`), 200);
    expect(next.items.map((i: any) => i.cardNo)).toEqual([a, kept]);
    expect(next.nextCursor).toBeNull();
    expect(ok(await server.api('GET', `/api/v1/offline/whitelist?cardNo=${b}`), 200).items).toEqual([]);
  });

  it('refuses bad floors, unknown and ineligible cards, and other roles', async () => {
    const cardNo = await newCardNo(server);
    expectError(await put(cardNo, { floorSale: 50_000, floorDay: 10_000 }), 400, 'WHITELIST_FLOOR_INVALID');
    expect((await put(cardNo, { floorSale: 0, floorDay: 10_000 })).status).toBe(400);
    expect((await put(cardNo, { floorSale: 100, floorDay: 200, extra: 1 })).status).toBe(400);
    expectError(await put('9000000000000000001', { floorSale: 100, floorDay: 200 }), 404, 'CARD_NOT_FOUND');
    expect((await put('123', { floorSale: 100, floorDay: 200 })).status).toBe(400);
    const master = await newCardNo(server, { kind: 'master' });
    expectError(await put(master, { floorSale: 100, floorDay: 200 }), 409, 'WHITELIST_CARD_NOT_ELIGIBLE');
    const closed = await newCardNo(server);
    ok(await cardOp(server, closed, 'close', { refundMethod: 'cash' }), 200);
    expectError(await put(closed, { floorSale: 100, floorDay: 200 }), 409, 'WHITELIST_CARD_NOT_ELIGIBLE');
    expectError(await del(cardNo), 404, 'WHITELIST_ENTRY_NOT_FOUND');
    for (const role of ['finance', 'station_staff', 'cardholder'] as const) {
      expect((await put(cardNo, { floorSale: 100, floorDay: 200 }, role)).status).toBe(403);
      expect((await server.api('GET', '/api/v1/offline/whitelist', { role })).status).toBe(403);
    }
    expect((await fetch(`${server.baseUrl}/api/v1/pos/whitelist`)).status).toBe(401);
    expect((await signedGet('/api/v1/pos/whitelist?since=-1')).status).toBe(400);
  });

  it('gives its version with the offline parameters', async () => {
    const params = ok(await signedGet('/api/v1/pos/offline-params'), 200);
    const cardNo = await newCardNo(server);
    ok(await put(cardNo, { floorSale: 100, floorDay: 200 }), 200);
    const delta = ok(await signedGet(`/api/v1/pos/whitelist?since=${params.whitelistVersion}`), 200);
    expect(delta.items).toContainEqual({ cardNo, floorSale: 100, floorDay: 200, listed: true });
  });

  it('answers the full list when a delta would be longer than it, and records each download', async () => {
    // Small deltas are always deltas (a version held back repeats a few changes); past 100 items the cap applies.
    const cards: string[] = [];
    for (let i = 0; i < 6; i++) cards.push(...(await Promise.all(Array.from({ length: 20 }, () => newCardNo(server)))));
    for (let i = 0; i < cards.length; i += 20) await Promise.all(cards.slice(i, i + 20).map(async (c) => ok(await put(c, { floorSale: 1000, floorDay: 2000 }), 200)));
    const start = ok(await signedGet('/api/v1/pos/whitelist'), 200);
    // Everything listed leaves: a delta would name more cards than the (empty) list holds.
    const listed = ok(await server.api('GET', '/api/v1/offline/whitelist?limit=200', { role: 'operator' }), 200).items.map((i: any) => i.cardNo);
    for (const c of listed) expect((await del(c)).status).toBe(204);
    const next = ok(await signedGet(`/api/v1/pos/whitelist?since=${start.version}`), 200);
    expect(next).toMatchObject({ full: true, items: [] });

    const rows = await sql<{ version: string }>`select version::text from terminal_list_downloads
      where terminal_id = ${terminal.terminalId} and kind = 'whitelist' order by id desc limit 1`.execute(server.db.db);
    expect(Number(rows.rows[0]!.version)).toBe(next.version);
  });
});
