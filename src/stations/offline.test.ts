import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signTerminalRequest, startTestServer, type TestServer } from '../../test/support/server.js';
import { cardOp, issueCard, newStation, ok, type TestTerminal } from '../../test/support/cards-factory.js';

let server: TestServer;
let terminal: TestTerminal;
beforeAll(async () => {
  server = await startTestServer({ FUELCARD_OFFLINE_FLOOR_SALE: '15000', FUELCARD_LOSS_WAIT_HOURS: '0' });
  terminal = (await newStation(server)).terminal;
});
afterAll(async () => server?.close());

async function signedGet(path: string) {
  const headers = signTerminalRequest(terminal, 'GET', path, '');
  delete headers['content-type'];
  const res = await fetch(server.baseUrl + path, { headers });
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
}
const full = async () => {
  const r = ok(await signedGet('/api/v1/pos/hotlist'), 200);
  expect(r.full).toBe(true);
  return r as { version: number; cards: string[] };
};
const delta = async (since: number) => {
  const r = ok(await signedGet(`/api/v1/pos/hotlist?since=${since}`), 200);
  expect(r.full).toBe(false);
  return r as { version: number; added: string[]; removed: string[] };
};
const apply = (list: string[], d: { added: string[]; removed: string[] }) => [...new Set([...list.filter((c) => !d.removed.includes(c)), ...d.added])].sort();

describe('GET /api/v1/pos/hotlist', () => {
  it('answers only signed requests', async () => {
    expect((await fetch(`${server.baseUrl}/api/v1/pos/hotlist`)).status).toBe(401);
    expect((await signedGet('/api/v1/pos/hotlist?since=abc')).status).toBe(400);
  });

  it('lists lost, frozen, closed and replaced cards, and a frozen master’s sub cards', async () => {
    const [lost, frozen, closed, replaced, active] = await Promise.all([1, 2, 3, 4, 5].map(() => issueCard(server)));
    ok(await cardOp(server, lost!.cardNo, 'report-loss'), 200);
    ok(await cardOp(server, frozen!.cardNo, 'freeze'), 200);
    ok(await cardOp(server, closed!.cardNo, 'close', { refundMethod: 'cash' }), 200);
    const replacement = ok(await cardOp(server, replaced!.cardNo, 'replace'), 200).newCard.cardNo as string;
    const master = await issueCard(server, { kind: 'master' });
    const sub = await issueCard(server, { kind: 'sub', masterCardNo: master.cardNo });
    ok(await cardOp(server, master.cardNo, 'freeze'), 200);

    const cards = (await full()).cards;
    for (const c of [lost, frozen, closed, replaced, master, sub]) expect(cards).toContain(c!.cardNo);
    expect(cards).not.toContain(active!.cardNo);
    expect(cards).not.toContain(replacement);

    ok(await cardOp(server, master.cardNo, 'unfreeze'), 200);
    const after = (await full()).cards;
    expect(after).not.toContain(sub.cardNo);
    expect(after).not.toContain(master.cardNo);
  });

  it('gives a delta that, applied to the previous full list, equals a fresh full list', async () => {
    const cards = await Promise.all([1, 2, 3, 4, 5].map(() => issueCard(server)));
    ok(await cardOp(server, cards[0]!.cardNo, 'freeze'), 200);
    ok(await cardOp(server, cards[1]!.cardNo, 'report-loss'), 200);
    const before = await full();
    expect(before.cards).toContain(cards[0]!.cardNo);

    // Changes after the version, concurrently: listings added, removed, and added then removed.
    await Promise.all([
      cardOp(server, cards[0]!.cardNo, 'unfreeze'),
      cardOp(server, cards[1]!.cardNo, 'cancel-loss'),
      cardOp(server, cards[2]!.cardNo, 'freeze'),
      cardOp(server, cards[3]!.cardNo, 'report-loss'),
      (async () => {
        ok(await cardOp(server, cards[4]!.cardNo, 'freeze'), 200);
        ok(await cardOp(server, cards[4]!.cardNo, 'unfreeze'), 200);
      })(),
    ]).then((rs) => rs.forEach((r) => r && ok(r, 200)));

    const d = await delta(before.version);
    expect(d.version).toBeGreaterThanOrEqual(before.version);
    expect(d.added).toEqual(expect.arrayContaining([cards[2]!.cardNo, cards[3]!.cardNo]));
    expect(d.removed).toEqual(expect.arrayContaining([cards[0]!.cardNo, cards[1]!.cardNo]));
    const fresh = await full();
    expect(apply(before.cards, d)).toEqual([...fresh.cards].sort());

    // A delta may repeat changes older than its version (a transaction anywhere in the cluster,
    // even in another database, holds the snapshot's xmin back), but applying it again is harmless.
    const again = await delta(fresh.version);
    expect(apply(fresh.cards, again)).toEqual([...(await full()).cards].sort());
  });

  it('answers a full list for a version it cannot delta from', async () => {
    const { version } = await full();
    expect((await signedGet(`/api/v1/pos/hotlist?since=${version + 1_000_000_000}`)).body.full).toBe(true);
    expect((await signedGet('/api/v1/pos/hotlist?since=0')).body.full).toBe(true);
  });
});

describe('GET /api/v1/pos/offline-params', () => {
  it('gives the floor limits from config and the hot-list version', async () => {
    const before = (await full()).version;
    const r = ok(await signedGet('/api/v1/pos/offline-params'), 200);
    expect(r).toEqual({ floorLimitPerSale: 15000, floorLimitPerCardPerDay: 50000, hotlistVersion: expect.any(Number), whitelistVersion: expect.any(Number) });
    expect(r.hotlistVersion).toBeGreaterThanOrEqual(before);
    expect((await fetch(`${server.baseUrl}/api/v1/pos/offline-params`)).status).toBe(401);
  });
});

describe('download records', () => {
  it('records a hot-list download once per new version, and prunes only rows both beyond the newest 50 and older than 8 days', async () => {
    const tid = terminal.terminalId;
    // This terminal's history is only: 60 downloads from ten days ago (versions below any real one), then a real download.
    await sql`delete from terminal_list_downloads where terminal_id = ${tid}`.execute(server.db.db);
    await sql`insert into terminal_list_downloads (terminal_id, kind, version, downloaded_at)
      select ${tid}, 'hotlist', -g, now() - interval '10 days' + g * interval '1 second' from generate_series(60, 1, -1) g`.execute(server.db.db);
    const last = ok(await signedGet('/api/v1/pos/hotlist'), 200);
    const rows = async () =>
      (await sql<{ version: string }>`select version::text from terminal_list_downloads where terminal_id = ${tid} and kind = 'hotlist' order by id desc`.execute(server.db.db)).rows.map((r) => Number(r.version));
    const after = await rows();
    expect(after[0]).toBe(last.version);
    expect(after).toHaveLength(50);
    expect(after.slice(1)).toEqual(Array.from({ length: 49 }, (_, i) => -(i + 1)));
    // The same version again adds nothing: a terminal cannot push its history out by downloading repeatedly.
    const again = ok(await signedGet('/api/v1/pos/hotlist'), 200);
    if (again.version === last.version) expect(await rows()).toHaveLength(50);
  });
});
