/**
 * File action 1304/1314 through a real TCP socket against the real database: the hot list full and
 * as a delta after a card is reported lost, paged across several messages; the whitelist; prices
 * after a price change; parameters; bad input answered with 3xx; a finished download recorded for
 * the platform terminal and an offline batch then judged by it. Every answer's MAC is checked.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, terminalPost, type TestServer } from '../../../test/support/server.js';
import { cardOp, getCard, newCardNo, newStation, ok, type TestTerminal } from '../../../test/support/cards-factory.js';
import { unwrapKeyChecked } from '../crypto/index.js';
import { startPosGateway, type PosGateway } from '../gateway.js';
import { connectIsoClient, type IsoClient } from '../transport/index.js';
import {
  decodeFilePage,
  encodeFileRequest,
  RECORD_CHARS,
  RESPONSE_HEADER_CHARS,
  type DecodedFilePage,
  type FileName,
  type FileRequest,
} from '../iso8583/file-records.js';
import type { FieldValue } from '../iso8583/index.js';
import { SimTerminal } from './session.test-support.js';
import { FILE_ACTION, fileActionHandler } from './file-actions.js';

/** Small pages, so a handful of cards spans several messages. */
const PAGE = 3;

let server: TestServer;
let gw: PosGateway;
let gwFull: PosGateway;
beforeAll(async () => {
  server = await startTestServer({ FUELCARD_LOSS_WAIT_HOURS: '0' });
  const deps = { db: server.deps.db, config: server.config, logger: server.deps.logger };
  gw = await startPosGateway(deps, { port: 0, host: '127.0.0.1', handlers: { '1304': fileActionHandler(deps, { maxRecordsPerPage: PAGE }) } });
  gwFull = await startPosGateway(deps, { port: 0, host: '127.0.0.1', handlers: { '1304': fileActionHandler(deps) } });
});
afterAll(async () => {
  await gw?.stop();
  await gwFull?.stop();
  await server?.close();
});

interface IsoTerminal {
  sim: SimTerminal;
  conn: IsoClient;
  /** The platform terminal (HTTP secret included) the ISO terminal acts for. */
  http: TestTerminal;
}

/** Key ceremony (as db-host.test-support.ts ceremony(), keeping the HTTP terminal), connect, sign on. */
async function isoTerminal(gateway: PosGateway = gw, signOn = true): Promise<IsoTerminal> {
  const { terminal } = await newStation(server);
  const body = ok(
    await server.api('POST', `/api/v1/terminals/${terminal.terminalId}/iso-keys`, { body: { algorithm: 'tdes', macAlgorithm: 'retail-tdes-pad2', pinFormat: 0 } }),
    200,
    'key ceremony',
  );
  const c = body.tmk.components.map((p: { hex: string }) => Buffer.from(p.hex, 'hex')) as [Buffer, Buffer];
  const tmk = Buffer.from(c[0].map((b, i) => b ^ c[1][i]!));
  const tak = unwrapKeyChecked('tdes', tmk, 'tdes', Buffer.from(body.initialMacKey.encryptedUnderTmk, 'hex'), Buffer.from(body.initialMacKey.kcv, 'hex'), 'ecb');
  const sim = new SimTerminal(body.isoTerminalId, { alg: 'tdes', mac: 'retail-tdes-pad2' }, tmk, tak, Buffer.alloc(16));
  const conn = await connectIsoClient({ host: '127.0.0.1', port: gateway.port, framing: 'binary2' });
  if (signOn) {
    conn.send(sim.build('1804', [[24, '801']], { at: new Date() }));
    expect(sim.acceptKeys(await conn.next(5000)).macOk).toBe(true);
  }
  return { sim, conn, http: terminal };
}

interface Reply {
  action: string;
  macOk: boolean;
  name: FieldValue | undefined;
  de72: string | undefined;
}

async function ask(t: IsoTerminal, fields: ReadonlyArray<readonly [number, FieldValue]>): Promise<Reply> {
  t.conn.send(t.sim.build('1304', fields, { at: new Date() }));
  const r = t.sim.read(await t.conn.next(5000));
  expect(r.msg.mti).toBe('1314');
  const de72 = r.msg.fields.get(72);
  return { action: String(r.msg.fields.get(39)), macOk: r.macOk, name: r.msg.fields.get(101), de72: typeof de72 === 'string' ? de72 : undefined };
}

async function page<F extends FileName>(t: IsoTerminal, file: F, req: FileRequest): Promise<DecodedFilePage<F>> {
  const r = await ask(t, [
    [24, '305'],
    [72, encodeFileRequest(req)],
    [101, file],
  ]);
  expect(r).toMatchObject({ action: FILE_ACTION.accepted, macOk: true, name: file });
  const d = decodeFilePage(file, r.de72!);
  if (!d.ok) throw new Error(`1314 DE 72 does not parse: ${d.detail}`);
  return d.value;
}

/** A whole download as a terminal runs it: the first page, then each next page until "no more". */
async function download<F extends FileName>(t: IsoTerminal, file: F, held: number): Promise<{ first: DecodedFilePage<F>; records: DecodedFilePage<F>['records'][number][]; pages: number }> {
  const first = await page(t, file, { held });
  const records = [...first.records];
  let last = first;
  let pages = 1;
  while (last.more) {
    expect(last.nextKey).not.toBe('');
    last = await page(t, file, { held, continuation: { mode: first.mode as 'F' | 'D', version: first.version, after: last.nextKey } });
    // Every page carries the first page's version and mode: the pages add up to one version.
    expect([last.mode, last.version]).toEqual([first.mode, first.version]);
    records.push(...last.records);
    pages += 1;
  }
  return { first, records, pages };
}

const xidOf = async (cardNo: string): Promise<number> =>
  Number((await sql<{ x: string }>`select changed_xid::text x from hotlist where card_no = ${cardNo}`.execute(server.db.db)).rows[0]!.x);

/**
 * Downloads until the list's version is past `xid`. A version is a snapshot's xmin: any transaction
 * still open elsewhere holds it back, so the change shows only once those have finished.
 */
async function downloadPast<F extends 'HOTLIST' | 'WHITELIST'>(t: IsoTerminal, file: F, held: number, xid: number) {
  let d = await download(t, file, held);
  for (let i = 0; i < 600 && d.first.version <= xid; i++) {
    await new Promise((r) => setTimeout(r, 50));
    d = await download(t, file, held);
  }
  expect(d.first.version).toBeGreaterThan(xid);
  return d;
}

const downloadsOf = async (terminalId: string, kind: string) =>
  (await sql<{ version: string }>`select version::text from terminal_list_downloads where terminal_id = ${terminalId} and kind = ${kind} order by id`.execute(server.db.db)).rows.map((r) => Number(r.version));

const expectLedgerOk = async (): Promise<void> => {
  const report = await server.verify();
  expect(report.problems).toEqual([]);
  expect(report.ok).toBe(true);
};

describe('1304/1314 HOTLIST', () => {
  it('full list across several pages, recorded for the platform terminal only once the last page went out', async () => {
    const t = await isoTerminal();
    const lost: string[] = [];
    for (let i = 0; i < 2 * PAGE + 1; i++) {
      const cardNo = await newCardNo(server);
      ok(await cardOp(server, cardNo, 'report-loss'), 200);
      lost.push(cardNo);
    }
    const xid = Math.max(...(await Promise.all(lost.map(xidOf))));
    const before = await downloadsOf(t.http.terminalId, 'hotlist');

    const d = await downloadPast(t, 'HOTLIST', 0, xid);
    expect(d.first.mode).toBe('F');
    expect(d.pages).toBeGreaterThanOrEqual(3);
    expect(d.records.every((r) => r.op === 'A')).toBe(true);
    const cards = d.records.map((r) => r.cardNo);
    expect(cards).toEqual([...cards].sort());
    expect(new Set(cards).size).toBe(cards.length);
    for (const c of lost) expect(cards).toContain(c);
    // Full PANs, as the HTTP hot list gives them: the terminal must match the card it reads.
    const listed = (await sql<{ card_no: string }>`select card_no from hotlist where listed order by card_no`.execute(server.db.db)).rows.map((r) => r.card_no);
    expect(cards).toEqual(listed);
    expect(cards.every((c) => /^[0-9]{19}$/.test(c))).toBe(true);

    // One row per finished download (the polling above may have finished several), never one per page.
    const after = await downloadsOf(t.http.terminalId, 'hotlist');
    expect(after.length - before.length).toBeGreaterThanOrEqual(1);
    expect(after.at(-1)).toBe(d.first.version);

    // A first page alone records nothing: the terminal has not been given the whole list.
    const n = (await downloadsOf(t.http.terminalId, 'hotlist')).length;
    const firstOnly = await page(t, 'HOTLIST', { held: 0 });
    expect(firstOnly.more).toBe(true);
    expect((await downloadsOf(t.http.terminalId, 'hotlist')).length).toBe(n);
    t.conn.close();
  });

  it('a delta after a card is reported lost, and its removal after the loss is cancelled', async () => {
    const t = await isoTerminal();
    const base = (await download(t, 'HOTLIST', 0)).first.version;
    const cardNo = await newCardNo(server);
    ok(await cardOp(server, cardNo, 'report-loss'), 200);

    const delta = await downloadPast(t, 'HOTLIST', base, await xidOf(cardNo));
    expect(delta.first.mode).toBe('D');
    expect(delta.records).toContainEqual({ op: 'A', cardNo });

    ok(await cardOp(server, cardNo, 'cancel-loss'), 200);
    const back = await downloadPast(t, 'HOTLIST', delta.first.version, await xidOf(cardNo));
    expect(back.first.mode).toBe('D');
    expect(back.records).toContainEqual({ op: 'R', cardNo });
    expect(await downloadsOf(t.http.terminalId, 'hotlist')).toContain(back.first.version);
    t.conn.close();
  });

  it('default pages fill DE 72 without passing its 999 characters', async () => {
    const t = await isoTerminal(gwFull);
    for (let i = 0; i < 50; i++) ok(await cardOp(server, await newCardNo(server), 'report-loss'), 200);
    const r = await ask(t, [
      [24, '305'],
      [72, encodeFileRequest({ held: 0 })],
      [101, 'HOTLIST'],
    ]);
    expect(r).toMatchObject({ action: '300', macOk: true });
    const perPage = Math.floor((999 - RESPONSE_HEADER_CHARS) / RECORD_CHARS.HOTLIST);
    expect(r.de72!.length).toBe(RESPONSE_HEADER_CHARS + perPage * RECORD_CHARS.HOTLIST);
    const d = decodeFilePage('HOTLIST', r.de72!);
    expect(d.ok && d.value.more).toBe(true);
    t.conn.close();
  });
});

describe('1304/1314 WHITELIST, PRICES, PARAMS', () => {
  it('whitelist: full with floors, then the removal as a delta', async () => {
    const t = await isoTerminal();
    const cardNo = await newCardNo(server);
    ok(await server.api('PUT', `/api/v1/offline/whitelist/${cardNo}`, { role: 'operator', body: { floorSale: 30_000, floorDay: 90_000 } }), 200);
    const xid = Number((await sql<{ x: string }>`select changed_xid::text x from offline_whitelist where card_no = ${cardNo}`.execute(server.db.db)).rows[0]!.x);
    const full = await downloadPast(t, 'WHITELIST', 0, xid);
    expect(full.first.mode).toBe('F');
    expect(full.records).toContainEqual({ op: 'A', cardNo, floorSale: 30_000, floorDay: 90_000 });
    expect(await downloadsOf(t.http.terminalId, 'whitelist')).toContain(full.first.version);

    expect((await server.api('DELETE', `/api/v1/offline/whitelist/${cardNo}`, { role: 'operator' })).status).toBe(204);
    const xid2 = Number((await sql<{ x: string }>`select changed_xid::text x from offline_whitelist where card_no = ${cardNo}`.execute(server.db.db)).rows[0]!.x);
    const delta = await downloadPast(t, 'WHITELIST', full.first.version, xid2);
    expect(delta.first.mode).toBe('D');
    expect(delta.records).toContainEqual({ op: 'R', cardNo, floorSale: 0, floorDay: 0 });
    t.conn.close();
  });

  it('prices in force at the station, "up to date" for the version held, a new version after a price change, the next scheduled price', async () => {
    const t = await isoTerminal();
    const stationId = t.http.stationId;
    const own: Array<[string, number]> = [
      ['92#', 745],
      ['95#', 793],
      ['98#', 881],
      ['0#', 712],
    ];
    for (const [grade, unitPrice] of own) ok(await server.api('POST', '/api/v1/prices', { role: 'operator', body: { grade, unitPrice, stationId } }), 201);
    const first = await download(t, 'PRICES', 0);
    expect(first.first.mode).toBe('F');
    for (const [grade, unitPrice] of own) expect(first.records).toContainEqual({ grade, unitPrice, next: null });
    const grades = first.records.map((r) => r.grade);
    expect(grades).toEqual([...grades].sort());
    expect(new Set(grades).size).toBe(grades.length);
    // More grades than one page holds: the pages add up to one version (checked in download()).
    expect(first.pages).toBeGreaterThan(1);

    const same = await page(t, 'PRICES', { held: first.first.version });
    expect(same).toMatchObject({ mode: 'U', version: first.first.version, more: false, records: [] });

    ok(await server.api('POST', '/api/v1/prices', { role: 'operator', body: { grade: '95#', unitPrice: 805, stationId } }), 201);
    const at = new Date(Math.ceil((Date.now() + 90 * 60_000) / 1000) * 1000);
    ok(await server.api('POST', '/api/v1/prices', { role: 'operator', body: { grade: '95#', unitPrice: 812, stationId, effectiveFrom: at.toISOString() } }), 201);
    const changed = await download(t, 'PRICES', first.first.version);
    expect(changed.first.mode).toBe('F');
    expect(changed.first.version).not.toBe(first.first.version);
    expect(changed.records).toContainEqual({ grade: '95#', unitPrice: 805, next: { unitPrice: 812, effectiveFrom: at } });

    // A continuation whose version is no longer the file's: 306, the terminal starts again.
    const stale = await ask(t, [
      [24, '305'],
      [72, encodeFileRequest({ held: 0, continuation: { mode: 'F', version: first.first.version, after: '92#' } })],
      [101, 'PRICES'],
    ]);
    expect(stale).toMatchObject({ action: FILE_ACTION.notSuccessful, macOk: true, name: 'PRICES' });
    t.conn.close();
  });

  it('parameters: floors, list versions, prices version, time zone, in one page', async () => {
    const t = await isoTerminal();
    const p = await page(t, 'PARAMS', { held: 0 });
    expect(p.mode).toBe('F');
    expect(p.more).toBe(false);
    const params = Object.fromEntries(p.records.map((r) => [r.name, r.value]));
    const prices = await page(t, 'PRICES', { held: 0 });
    expect(params).toMatchObject({
      CURRENCY: '156',
      FLOORSALE: String(server.config.offlineFloorSale),
      FLOORDAY: String(server.config.offlineFloorDay),
      TIMEZONE: server.config.timeZone,
      STATIONID: String(t.http.stationId),
      TERMINALID: t.http.terminalId,
      PRICESVER: String(prices.version),
    });
    expect(Number(params.HOTLISTVER)).toBeGreaterThan(0);
    // The list versions move with every transaction; the PARAMS version does not.
    const again = await page(t, 'PARAMS', { held: p.version });
    expect(again.version).toBe(p.version);
    expect(again.mode).toBe('F');
    t.conn.close();
  });
});

describe('1304/1314 bad input: a MACed 3xx, never a throw', () => {
  it('answers unknown files, missing names, bad versions and bad page markers with their action codes', async () => {
    const t = await isoTerminal();
    const req = (name: string | null, de72: string | null, fc = '305'): Array<[number, FieldValue]> => {
      const f: Array<[number, FieldValue]> = [[24, fc]];
      if (de72 !== null) f.push([72, de72]);
      if (name !== null) f.push([101, name]);
      return f;
    };
    const first = encodeFileRequest({ held: 0 });
    const cases: Array<[string, Array<[number, FieldValue]>, string, FieldValue | undefined]> = [
      ['unknown file', req('BOGUS', first), FILE_ACTION.unknownFile, 'BOGUS'],
      ['missing DE 101', req(null, first), FILE_ACTION.formatError, undefined],
      ['not a download (301 add record)', req('HOTLIST', first, '301'), FILE_ACTION.notSupported, 'HOTLIST'],
      ['version not digits', req('HOTLIST', 'X'.repeat(19) + first.slice(19)), FILE_ACTION.formatError, 'HOTLIST'],
      ['version above 2^53', req('HOTLIST', '9'.repeat(19) + first.slice(19)), FILE_ACTION.formatError, 'HOTLIST'],
      ['DE 72 too short', req('HOTLIST', '0'.repeat(19)), FILE_ACTION.formatError, 'HOTLIST'],
      ['unknown continuation mode', req('HOTLIST', '0'.repeat(19) + 'X' + '0'.repeat(18) + '1' + '1'.repeat(19)), FILE_ACTION.formatError, 'HOTLIST'],
      ['first page with a key', req('HOTLIST', '0'.repeat(19) + ' ' + '0'.repeat(19) + '1'.repeat(19)), FILE_ACTION.formatError, 'HOTLIST'],
      [
        'page marker naming a version this host never gave',
        req('HOTLIST', encodeFileRequest({ held: 0, continuation: { mode: 'F', version: 2 ** 53 - 1, after: '1'.repeat(19) } })),
        FILE_ACTION.formatError,
        'HOTLIST',
      ],
      ['delta page without a held version', req('HOTLIST', encodeFileRequest({ held: 0, continuation: { mode: 'D', version: 5, after: '1'.repeat(19) } })), FILE_ACTION.formatError, 'HOTLIST'],
      ['list page after a key that is no card number', req('WHITELIST', encodeFileRequest({ held: 0, continuation: { mode: 'F', version: 5, after: '92#' } })), FILE_ACTION.formatError, 'WHITELIST'],
      ['delta page of prices', req('PRICES', encodeFileRequest({ held: 1, continuation: { mode: 'D', version: 5, after: '92#' } })), FILE_ACTION.formatError, 'PRICES'],
    ];
    for (const [what, fields, action, name] of cases) {
      const r = await ask(t, fields);
      expect({ what, action: r.action, macOk: r.macOk, name: r.name, de72: r.de72 }).toEqual({ what, action, macOk: true, name, de72: undefined });
    }
    // The connection and the terminal carry on.
    expect((await page(t, 'PARAMS', { held: 0 })).mode).toBe('F');
    t.conn.close();
  });

  it('a 1304 is served only after sign-on, and a repeat gets the same bytes', async () => {
    const t = await isoTerminal(gw, false);
    const early = await ask(t, [
      [24, '305'],
      [101, 'PARAMS'],
    ]);
    expect(early).toMatchObject({ action: '902', macOk: true, de72: undefined });
    t.conn.send(t.sim.build('1804', [[24, '801']], { at: new Date() }));
    expect(t.sim.acceptKeys(await t.conn.next(5000)).macOk).toBe(true);
    const msg = t.sim.build(
      '1304',
      [
        [24, '305'],
        [101, 'PARAMS'],
      ],
      { at: new Date() },
    );
    t.conn.send(msg);
    const a = await t.conn.next(5000);
    t.conn.send(msg);
    const b = await t.conn.next(5000);
    expect(b.equals(a)).toBe(true);
    expect(t.sim.read(a).msg.fields.get(39)).toBe('300');
    t.conn.close();
  });
});

describe('offline liability judged by an ISO download', () => {
  it('a hot card on the list the terminal downloaded over ISO 8583 is the station’s loss', async () => {
    const t = await isoTerminal();
    const hot = await newCardNo(server, { funds: 10_000 });
    ok(await cardOp(server, hot, 'report-loss'), 200);
    const d = await downloadPast(t, 'HOTLIST', 0, await xidOf(hot));
    expect(d.records).toContainEqual({ op: 'A', cardNo: hot });
    const downloadedAt = (
      await sql<{ at: Date }>`select max(downloaded_at) at from terminal_list_downloads where terminal_id = ${t.http.terminalId} and kind = 'hotlist'`.execute(server.db.db)
    ).rows[0]!.at;
    const occurredAt = new Date(downloadedAt.getTime() + 1000).toISOString();
    // The batch claims no version: what the terminal was given over ISO 8583 decides.
    const r = ok(
      await terminalPost(server, t.http, '/api/v1/pos/offline-batches', {
        batchNo: `B${randomUUID().replaceAll('-', '').slice(0, 20)}`,
        sales: [{ seq: 1, cardNo: hot, grade: '92#', volumeMl: 3000, unitPrice: 1000, amount: 3000, nozzle: 2, occurredAt, approvalCode: '654321' }],
      }),
      200,
    );
    expect(r.results[0]).toMatchObject({ status: 'posted', liability: 'station', flags: ['offline_hot_card'] });
    expect((await getCard(server, hot)).balance).toBe(10_000);
    t.conn.close();
    await expectLedgerOk();
  });
});
