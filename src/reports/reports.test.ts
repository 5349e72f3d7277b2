import { randomUUID } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { expectLedgerOk, newCard, newStation, recharge, saleBody, sell, type Terminal } from '../../test/support/fuel.js';
import { silenceRisk } from '../sales/sale-risk.testkit.js';
import { businessDay, maskCardNo, ROLES, type Role } from '../platform/index.js';
import { luhnCheckDigit } from '../cards/index.js';

let server: TestServer;
let A: { stationId: number; terminal: Terminal };
let B: { stationId: number; terminal: Terminal };

beforeAll(async () => {
  server = await startTestServer();
  A = await newStation(server);
  B = await newStation(server);
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerOk(server));

const READERS: Role[] = ['admin', 'operator', 'finance', 'risk', 'station_staff'];
const FULL_CARD_NUMBERS: Role[] = ['admin', 'operator', 'risk', 'station_staff'];
/** The audit log is read by the auditor and the security officer (三员分立), never by admin. */
const AUDIT_READERS: Role[] = ['auditor', 'security_officer'];
/** Who reads a path in tests that are not about access: an auditor for the audit log, else admin. */
const readerOf = (path: string): Role => (path.startsWith('/api/v1/audit') ? 'auditor' : 'admin');
const q = (params: Record<string, string | number>) => `?${new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]))}`;

async function get(path: string, role: Role = 'admin'): Promise<any> {
  const r = await server.api('GET', path, { role });
  expect(r.status, `${path} as ${role}: ${JSON.stringify(r.body)}`).toBe(200);
  return r.body;
}

/** Walks every page and returns the items in order, checking that only the last page is short. */
async function allPages(path: string, params: Record<string, string | number>, limit: number): Promise<any[]> {
  const out: any[] = [];
  let cursor: string | null = null;
  for (let n = 0; n < 1000; n++) {
    const body: { items: any[]; nextCursor: string | null } = await get(`${path}${q({ ...params, limit, ...(cursor ? { cursor } : {}) })}`, readerOf(path));
    expect(body.items.length).toBeLessThanOrEqual(limit);
    out.push(...body.items);
    cursor = body.nextCursor;
    if (cursor === null) return out;
    expect(body.items).toHaveLength(limit);
  }
  throw new Error('pager did not end');
}

/** Moves a sale to a known time (and the business day it would then have, Beijing time). */
async function placeSale(saleId: string, at: string): Promise<void> {
  await sql`update sales set created_at = ${at}::timestamptz, business_day = (${at}::timestamptz at time zone 'Asia/Shanghai')::date where id = ${saleId}`.execute(server.db.db);
}

async function saleId(r: Promise<{ status: number; body: any }>, status: 'approved' | 'declined'): Promise<string> {
  const res = await r;
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.body.status, JSON.stringify(res.body)).toBe(status);
  return res.body.saleId;
}

function unknownCardNo(): string {
  const body = `900001${String(Math.floor(Math.random() * 1e12)).padStart(12, '0')}`;
  return body + String(luhnCheckDigit(body));
}

// --- a small .xlsx reader: zip central directory → inflate → cells of the first sheet ---

function unzip(bytes: Buffer): Map<string, string> {
  const eocd = bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  expect(eocd).toBeGreaterThan(0);
  const entries = bytes.readUInt16LE(eocd + 10);
  let p = bytes.readUInt32LE(eocd + 16);
  const files = new Map<string, string>();
  for (let i = 0; i < entries; i++) {
    expect(bytes.readUInt32LE(p)).toBe(0x02014b50);
    const method = bytes.readUInt16LE(p + 10);
    const size = bytes.readUInt32LE(p + 20);
    const nameLen = bytes.readUInt16LE(p + 28);
    const extraLen = bytes.readUInt16LE(p + 30);
    const commentLen = bytes.readUInt16LE(p + 32);
    const local = bytes.readUInt32LE(p + 42);
    const name = bytes.toString('utf8', p + 46, p + 46 + nameLen);
    const dataStart = local + 30 + bytes.readUInt16LE(local + 26) + bytes.readUInt16LE(local + 28);
    const raw = bytes.subarray(dataStart, dataStart + size);
    files.set(name, (method === 8 ? inflateRawSync(raw) : raw).toString('utf8'));
    p += 46 + nameLen + extraLen + commentLen;
  }
  return files;
}

const unescapeXml = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

/** Rows of the first sheet; strings from the shared strings, numbers as numbers, empty cells null. */
function readSheet(bytes: Buffer): Array<Array<string | number | null>> {
  const files = unzip(bytes);
  const shared = [...(files.get('xl/sharedStrings.xml') ?? '').matchAll(/<si>([\s\S]*?)<\/si>/g)].map((m) =>
    unescapeXml([...m[1]!.matchAll(/<t[^>]*>([\s\S]*?)<\/t>/g)].map((t) => t[1]).join('')),
  );
  const sheet = files.get('xl/worksheets/sheet1.xml');
  expect(sheet).toBeDefined();
  const rows: Array<Array<string | number | null>> = [];
  for (const c of sheet!.matchAll(/<c r="([A-Z]+)(\d+)"([^>]*?)(?:\/>|>([\s\S]*?)<\/c>)/g)) {
    const col = [...c[1]!].reduce((n, ch) => n * 26 + ch.charCodeAt(0) - 64, 0) - 1;
    const row = Number(c[2]) - 1;
    const v = /<v>([\s\S]*?)<\/v>/.exec(c[4] ?? '')?.[1];
    while (rows.length <= row) rows.push([]);
    rows[row]![col] = v === undefined ? null : /\bt="s"/.test(c[3]!) ? shared[Number(v)]! : Number(v);
  }
  const width = Math.max(...rows.map((r) => r.length));
  return rows.map((r) => Array.from({ length: width }, (_, i) => r[i] ?? null));
}

/** An Excel date serial (no zone) as "YYYY-MM-DDTHH:MM:SS". */
const excelTime = (serial: number) => new Date(Math.round((serial - 25569) * 86_400_000)).toISOString().slice(0, 19);

async function download(path: string, role: Role = 'admin') {
  const res = await fetch(server.baseUrl + path, { headers: { authorization: `Bearer ${server.tokens[role]}` } });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, bytes, json: () => JSON.parse(bytes.toString('utf8')) };
}

const SALES_HEADERS = ['时间', '营业日', '交易号', '卡号', '油站', '终端', '油枪', '油品', '升数(L)', '单价(元/L)', '金额(元)', '其中商品(元)', '方式', '状态', '标记', '授权码', '拒绝码', '拒绝原因', '交易后余额(元)'];

describe('sales listing', () => {
  // Five sales on five days of March 2024 (Beijing time), at two stations, on two cards.
  const WINDOW = { from: '2024-02-29T16:00:00Z', to: '2024-03-05T16:00:00Z' }; // 1–5 March, Beijing
  const at = { s1: '2024-03-01T01:00:00.000Z', s2: '2024-03-02T02:00:00.000Z', d1: '2024-03-03T03:00:00.000Z', s3: '2024-03-04T04:00:00.000Z', d2: '2024-03-05T05:00:00.000Z' };
  let c1: string;
  let c2: string;
  const id: Record<keyof typeof at, string> = { s1: '', s2: '', d1: '', s3: '', d2: '' };
  const ids = async (params: Record<string, string | number>) => ((await get(`/api/v1/sales${q({ ...WINDOW, ...params })}`)).items as any[]).map((s) => s.saleId);

  beforeAll(async () => {
    c1 = await newCard(server, { funds: 50_000 });
    c2 = await newCard(server, { funds: 10_000 });
    id.s1 = await saleId(sell(server, A.terminal, saleBody(c1, 1_000)), 'approved');
    id.s2 = await saleId(sell(server, A.terminal, saleBody(c1, 2_000, { grade: '95#', unitPrice: 850, volumeMl: 2_353 })), 'approved');
    id.d1 = await saleId(sell(server, A.terminal, saleBody(c2, 1_000, { pin: '000000' })), 'declined');
    id.s3 = await saleId(sell(server, B.terminal, saleBody(c2, 3_000)), 'approved');
    id.d2 = await saleId(sell(server, B.terminal, saleBody(c2, 90_000)), 'declined');
    for (const k of Object.keys(at) as Array<keyof typeof at>) await placeSale(id[k], at[k]);
  });

  it('lists a period newest first with every field of the contract', async () => {
    const body = await get(`/api/v1/sales${q(WINDOW)}`);
    expect(body.nextCursor).toBeNull();
    expect(body.items.map((s: any) => s.saleId)).toEqual([id.d2, id.s3, id.d1, id.s2, id.s1]);
    const s2 = body.items[3];
    expect(Object.keys(s2).sort()).toEqual(
      ['saleId', 'cardNo', 'stationId', 'stationName', 'terminalId', 'nozzle', 'grade', 'volumeMl', 'unitPrice', 'amount', 'goodsAmount', 'flow', 'forced', 'flags', 'liability', 'status', 'approvalCode', 'declineCode', 'balanceAfter', 'businessDay', 'createdAt'].sort(),
    );
    expect(s2).toMatchObject({
      saleId: id.s2,
      cardNo: c1,
      stationId: A.stationId,
      terminalId: A.terminal.terminalId,
      nozzle: 3,
      grade: '95#',
      volumeMl: 2_353,
      unitPrice: 850,
      amount: 2_000,
      status: 'approved',
      declineCode: null,
      balanceAfter: 47_000,
      businessDay: '2024-03-02',
      createdAt: at.s2,
    });
    expect(s2.stationName).toMatch(/^测试油站/);
    expect(s2.approvalCode).toMatch(/^\d{6}$/);
    expect(body.items[2]).toMatchObject({ saleId: id.d1, status: 'declined', approvalCode: null, declineCode: 'PIN_WRONG', businessDay: '2024-03-03' });
    expect(body.items[0]).toMatchObject({ saleId: id.d2, declineCode: 'INSUFFICIENT_FUNDS' });
  });

  it('filters by station, terminal, status, decline code, grade and card', async () => {
    expect(await ids({ stationId: A.stationId })).toEqual([id.d1, id.s2, id.s1]);
    expect(await ids({ terminalId: B.terminal.terminalId })).toEqual([id.d2, id.s3]);
    expect(await ids({ status: 'declined' })).toEqual([id.d2, id.d1]);
    expect(await ids({ status: 'approved' })).toEqual([id.s3, id.s2, id.s1]);
    expect(await ids({ declineCode: 'PIN_WRONG' })).toEqual([id.d1]);
    expect(await ids({ grade: '95#' })).toEqual([id.s2]);
    expect(await ids({ cardNo: c1 })).toEqual([id.s2, id.s1]);
    expect(await ids({ cardNo: c2, stationId: B.stationId, status: 'approved' })).toEqual([id.s3]);
    expect(await ids({ cardNo: unknownCardNo() })).toEqual([]);
    expect(await ids({ stationId: 999_999 })).toEqual([]);
  });

  it('takes from as inclusive and to as exclusive, in any offset', async () => {
    expect(await ids({ from: at.s2, to: at.s3 })).toEqual([id.d1, id.s2]);
    expect(await ids({ from: at.s2, to: at.s2 })).toEqual([]);
    // 2024-03-03 11:00 Beijing is d1's instant: included as from, excluded as to.
    expect(await ids({ from: '2024-03-03T11:00:00+08:00' })).toEqual([id.d2, id.s3, id.d1]);
    expect(await ids({ to: '2024-03-03T11:00:00+08:00' })).toEqual([id.s2, id.s1]);
  });

  it('finds a replaced card’s sales through the card that replaced it, not the other way round', async () => {
    const oldNo = await newCard(server, { funds: 8_000 });
    const before = await saleId(sell(server, A.terminal, saleBody(oldNo, 3_000)), 'approved');
    const rep = await server.api('POST', `/api/v1/cards/${oldNo}/replace`, { body: {} });
    expect(rep.status, JSON.stringify(rep.body)).toBe(200);
    const newNo = rep.body.cardNo as string;
    const after = await saleId(sell(server, A.terminal, saleBody(newNo, 1_000)), 'approved');
    const list = async (cardNo: string) => ((await get(`/api/v1/sales${q({ cardNo })}`)).items as any[]).map((s) => [s.saleId, s.cardNo]);
    expect(await list(newNo)).toEqual([
      [after, newNo],
      [before, oldNo],
    ]);
    expect(await list(oldNo)).toEqual([[before, oldNo]]);
  });

  it('shows full card numbers only to roles that may see them', async () => {
    for (const role of READERS) {
      const items = (await get(`/api/v1/sales${q({ ...WINDOW, cardNo: c1 })}`, role)).items as any[];
      expect(items).toHaveLength(2);
      for (const s of items) expect(s.cardNo, role).toBe(FULL_CARD_NUMBERS.includes(role) ? c1 : maskCardNo(c1));
    }
    expect(maskCardNo(c1)).toMatch(/^900001\*{9}\d{4}$/);
  });

  it('shows the mask a sale of an unknown card number kept, to everybody', async () => {
    const cardNo = unknownCardNo();
    const sid = await saleId(sell(server, B.terminal, saleBody(cardNo, 1_000)), 'declined');
    const items = (await get(`/api/v1/sales${q({ declineCode: 'CARD_UNKNOWN' })}`)).items as any[];
    expect(items.map((s) => [s.saleId, s.cardNo])).toEqual([[sid, maskCardNo(cardNo)]]);
  });
});

describe('keyset paging', () => {
  it('pages sales without duplicates or gaps, whatever the page size, with ties on the time', async () => {
    const C = await newStation(server);
    // 23 sales, three to a microsecond: the id breaks the ties.
    await sql`
      insert into sales (id, card_id, card_no_masked, station_id, terminal_id, nozzle, grade, volume_ml, unit_price, amount, status, approval_code, business_day, created_at)
      select gen_random_uuid(), null, '900001*********0000', ${C.stationId}, ${C.terminal.terminalId}, 1, '92#', 1000, 800, 800, 'approved', '000001', date '2024-06-01',
             timestamptz '2024-06-01T02:00:00.123456Z' + (i / 3) * interval '1 microsecond'
        from generate_series(1, 23) i`.execute(server.db.db);
    const filter = { terminalId: C.terminal.terminalId };
    const full = (await get(`/api/v1/sales${q({ ...filter, limit: 200 })}`)).items as any[];
    expect(full).toHaveLength(23);
    expect(new Set(full.map((s) => s.saleId)).size).toBe(23);
    const key = (s: any) => `${s.createdAt}|${s.saleId}`;
    // createdAt shows milliseconds; the order is by the microsecond, then the id.
    const order = await sql<{ id: string }>`select id from sales where terminal_id = ${C.terminal.terminalId} order by created_at desc, id desc`.execute(server.db.db);
    expect(full.map((s) => s.saleId)).toEqual(order.rows.map((r) => r.id));
    for (const size of [1, 2, 3, 5, 7, 22, 23, 50]) {
      expect((await allPages('/api/v1/sales', filter, size)).map(key), `page size ${size}`).toEqual(full.map(key));
    }
    // The default page is 50.
    expect((await get(`/api/v1/sales${q(filter)}`)).items).toHaveLength(23);
  });

  it('a sale recorded while paging does not shift the pages that follow', async () => {
    const cardNo = await newCard(server, { funds: 10_000 });
    const made: string[] = [];
    for (let i = 0; i < 4; i++) made.push(await saleId(sell(server, A.terminal, saleBody(cardNo, 1_000 + i)), 'approved'));
    const first = await get(`/api/v1/sales${q({ cardNo, limit: 2 })}`);
    expect(first.items.map((s: any) => s.saleId)).toEqual([made[3], made[2]]);
    await saleId(sell(server, A.terminal, saleBody(cardNo, 1_500)), 'approved');
    const second = await get(`/api/v1/sales${q({ cardNo, limit: 2, cursor: first.nextCursor })}`);
    expect(second.items.map((s: any) => s.saleId)).toEqual([made[1], made[0]]);
    expect(second.nextCursor).toBeNull();
  });

  it('pages recharges', async () => {
    const cardNo = await newCard(server);
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await recharge(server, cardNo, 100 + i)).body.rechargeId);
    for (const size of [1, 2, 5]) {
      expect((await allPages('/api/v1/recharges', { cardNo }, size)).map((r) => r.rechargeId)).toEqual([...made].reverse());
    }
  });

  it('pages the audit log by time and numeric id', async () => {
    await sql`
      insert into audit_log (at, actor_name, actor_role, action, target_type, target_id, details)
      select timestamptz '2024-07-01T00:00:00Z' + (i / 4) * interval '1 microsecond', 'pager', 'system', 'test.paging', 'paging-test', i::text, jsonb_build_object('i', i)
        from generate_series(1, 15) i`.execute(server.db.db);
    const full = (await get(`/api/v1/audit${q({ targetType: 'paging-test', limit: 200 })}`, 'auditor')).items as any[];
    expect(full).toHaveLength(15);
    expect(full.map((a) => Number(a.targetId))).toEqual(Array.from({ length: 15 }, (_, i) => 15 - i));
    for (const size of [1, 4, 6, 15]) {
      expect((await allPages('/api/v1/audit', { targetType: 'paging-test' }, size)).map((a) => a.id)).toEqual(full.map((a) => a.id));
    }
  });

  it('refuses cursors it did not issue', async () => {
    const uuidCursor = Buffer.from(`2024-01-01T00:00:00.000000Z|${randomUUID()}`).toString('base64url');
    const numericCursor = Buffer.from('2024-01-01T00:00:00.000000Z|42').toString('base64url');
    for (const [path, cursor] of [
      ['/api/v1/sales', 'garbage'],
      ['/api/v1/sales', numericCursor],
      ['/api/v1/recharges', numericCursor],
      ['/api/v1/audit', uuidCursor],
      ['/api/v1/audit', Buffer.from('yesterday|42').toString('base64url')],
      // Even when the filter matches nothing.
      ['/api/v1/sales', `garbage&cardNo=${unknownCardNo()}`],
    ] as const) {
      const r = await server.api('GET', `${path}?cursor=${cursor}`, { role: readerOf(path) });
      expect(r.status, `${path} ${cursor}`).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: { field: 'cursor' } });
    }
  });
});

describe('recharges listing', () => {
  it('lists recharges with their channel, reference, staff and balance, filtered by card and channel', async () => {
    const cardNo = await newCard(server);
    const cash = (await recharge(server, cardNo, 10_000)).body;
    const reference = `BK${Date.now()}${Math.floor(Math.random() * 1000)}`;
    const bank = await server.api('POST', `/api/v1/cards/${cardNo}/recharges`, {
      role: 'finance',
      body: { amount: 5_000, channel: 'bank_transfer', reference },
      idempotencyKey: randomUUID(),
    });
    expect(bank.status, JSON.stringify(bank.body)).toBe(201);
    const body = await get(`/api/v1/recharges${q({ cardNo })}`);
    expect(body.nextCursor).toBeNull();
    expect(body.items).toHaveLength(2);
    expect(Object.keys(body.items[0]).sort()).toEqual(['rechargeId', 'receiptNo', 'cardNo', 'amount', 'channel', 'reference', 'staffUsername', 'balanceAfter', 'createdAt'].sort());
    expect(body.items[0]).toMatchObject({
      rechargeId: bank.body.rechargeId,
      receiptNo: bank.body.receiptNo,
      cardNo,
      amount: 5_000,
      channel: 'bank_transfer',
      reference,
      staffUsername: 't_finance',
      balanceAfter: 15_000,
    });
    expect(body.items[1]).toMatchObject({ rechargeId: cash.rechargeId, channel: 'cash', reference: null, staffUsername: 'admin', balanceAfter: 10_000 });
    const channel = async (c: string) => ((await get(`/api/v1/recharges${q({ cardNo, channel: c })}`)).items as any[]).map((r) => r.rechargeId);
    expect(await channel('cash')).toEqual([cash.rechargeId]);
    expect(await channel('bank_transfer')).toEqual([bank.body.rechargeId]);
    for (const role of READERS) {
      const items = (await get(`/api/v1/recharges${q({ cardNo })}`, role)).items as any[];
      expect(items.map((r) => r.cardNo), role).toEqual([0, 1].map(() => (FULL_CARD_NUMBERS.includes(role) ? cardNo : maskCardNo(cardNo))));
    }
    // A period: the recharge moved to a known instant is found by from (inclusive) and left out by to (exclusive).
    await sql`update recharges set created_at = '2024-04-01T00:00:00Z' where id = ${cash.rechargeId}`.execute(server.db.db);
    expect((await get(`/api/v1/recharges${q({ from: '2024-04-01T00:00:00Z', to: '2024-04-02T00:00:00Z' })}`)).items.map((r: any) => r.rechargeId)).toEqual([cash.rechargeId]);
    expect((await get(`/api/v1/recharges${q({ from: '2024-03-01T00:00:00Z', to: '2024-04-01T00:00:00Z' })}`)).items).toEqual([]);
  });
});

describe('audit listing', () => {
  it('lists audit rows with filters by action (exact or prefix), target, actor and period', async () => {
    // Masks can coincide (first 6, last 4 digits): look only at rows from this test on.
    const since = new Date(Date.now() - 1_000).toISOString();
    const cardNo = await newCard(server);
    const freeze = await server.api('POST', `/api/v1/cards/${cardNo}/freeze`, { role: 'risk', body: { reason: 'test' }, headers: { 'x-request-id': 'reports-audit-freeze' } });
    expect(freeze.status, JSON.stringify(freeze.body)).toBe(200);
    const target = maskCardNo(cardNo);
    const all = (await get(`/api/v1/audit${q({ targetType: 'card', targetId: target, from: since })}`, 'auditor')).items as any[];
    expect(all.map((a) => a.action)).toEqual(['card.freeze', 'card.issue']);
    const [fr] = all;
    expect(Object.keys(fr).sort()).toEqual(['id', 'at', 'actorName', 'actorRole', 'action', 'targetType', 'targetId', 'details', 'ip', 'requestId'].sort());
    expect(fr).toMatchObject({ actorName: 't_risk', actorRole: 'risk', action: 'card.freeze', targetType: 'card', targetId: target, requestId: 'reports-audit-freeze' });
    expect(Number.isInteger(fr.id)).toBe(true);
    expect(typeof fr.details).toBe('object');
    expect(new Date(fr.at).toISOString()).toBe(fr.at);
    const actions = async (params: Record<string, string>) => ((await get(`/api/v1/audit${q({ targetId: target, from: since, ...params })}`, 'security_officer')).items as any[]).map((a) => a.action);
    expect(await actions({ action: 'card.freeze' })).toEqual(['card.freeze']);
    expect(await actions({ action: 'card.*' })).toEqual(['card.freeze', 'card.issue']);
    expect(await actions({ action: 'card.fr*' })).toEqual(['card.freeze']);
    expect(await actions({ action: 'card.fr' })).toEqual([]);
    expect(await actions({ actor: 't_risk' })).toEqual(['card.freeze']);
    expect(await actions({ actor: 'admin' })).toEqual(['card.issue']);
    expect(await actions({ from: fr.at })).toEqual(['card.freeze']);
    expect(await actions({ to: fr.at })).toEqual(['card.issue']);
  });
});

describe('dashboard', () => {
  const dashboard = (role: Role = 'admin') => get('/api/v1/dashboard/today', role);
  const code = (d: any, c: string) => (d.declines.byCode.find((x: any) => x.code === c)?.count ?? 0) as number;

  it('counts today’s sales, declines, recharges and cards, and the last seven business days', async () => {
    const spare = await newCard(server);
    const before = await dashboard();
    const today = businessDay(new Date(), server.config.timeZone);
    expect(before.businessDay).toBe(today);

    const cardNo = await newCard(server);
    // The dashboard's arithmetic, not fraud: stations A and B are far apart, so impossible travel is
    // silenced for this card, as a reviewer would.
    await silenceRisk(server, cardNo, ['impossible_travel']);
    await recharge(server, cardNo, 20_000);
    const bank = await server.api('POST', `/api/v1/cards/${cardNo}/recharges`, {
      body: { amount: 5_000, channel: 'bank_transfer', reference: `BK${Date.now()}d` },
      idempotencyKey: randomUUID(),
    });
    expect(bank.status).toBe(201);
    await saleId(sell(server, A.terminal, saleBody(cardNo, 1_000)), 'approved');
    await saleId(sell(server, B.terminal, saleBody(cardNo, 2_500, { volumeMl: 3_125 })), 'approved');
    await saleId(sell(server, A.terminal, saleBody(cardNo, 1_000, { pin: '000000' })), 'declined');
    await saleId(sell(server, A.terminal, saleBody(cardNo, 1_000, { pin: '000001' })), 'declined');
    await saleId(sell(server, A.terminal, saleBody(cardNo, 30_000)), 'declined');
    expect((await server.api('POST', `/api/v1/cards/${spare}/freeze`, { body: {} })).status).toBe(200);

    const after = await dashboard();
    expect(after.businessDay).toBe(today);
    expect(after.sales.count - before.sales.count).toBe(2);
    expect(after.sales.amount - before.sales.amount).toBe(3_500);
    expect(after.sales.volumeMl - before.sales.volumeMl).toBe(1_250 + 3_125);
    expect(after.declines.count - before.declines.count).toBe(3);
    expect(code(after, 'PIN_WRONG') - code(before, 'PIN_WRONG')).toBe(2);
    expect(code(after, 'INSUFFICIENT_FUNDS') - code(before, 'INSUFFICIENT_FUNDS')).toBe(1);
    expect(after.declines.byCode.reduce((n: number, c: any) => n + c.count, 0)).toBe(after.declines.count);
    const counts = after.declines.byCode.map((c: any) => c.count);
    expect(counts).toEqual([...counts].sort((a, b) => b - a));
    expect(after.recharges.count - before.recharges.count).toBe(2);
    expect(after.recharges.amount - before.recharges.amount).toBe(25_000);
    // One card issued (active), one frozen.
    expect(after.cardsIssuedToday - before.cardsIssuedToday).toBe(1);
    expect(after.activeCards - before.activeCards).toBe(0);
    const active = await sql<{ n: number }>`select count(*)::int as n from cards where status = 'active'`.execute(server.db.db);
    expect(after.activeCards).toBe(active.rows[0]!.n);

    // The chart: seven consecutive business days ending today, today's bar = today's figures.
    expect(after.days.map((d: any) => d.businessDay)).toEqual([6, 5, 4, 3, 2, 1, 0].map((n) => businessDay(new Date(Date.parse(`${today}T12:00:00Z`) - n * 86_400_000), 'UTC')));
    expect(after.days[6]).toEqual({ businessDay: today, salesAmount: after.sales.amount, salesCount: after.sales.count, rechargeAmount: after.recharges.amount });
  });

  it('puts sales on their business day and recharges on their local day, across midnight Beijing time', async () => {
    const before = await dashboard();
    const cardNo = await newCard(server, { funds: 10_000 });
    const funding = (await get(`/api/v1/recharges${q({ cardNo })}`)).items[0].rechargeId as string;
    const old = await saleId(sell(server, A.terminal, saleBody(cardNo, 700)), 'approved');
    const twoDaysAgo = before.days[4].businessDay as string;
    // 00:30 Beijing two days ago is still the previous day in UTC.
    await placeSale(old, `${twoDaysAgo}T00:30:00+08:00`);
    const rec = (await recharge(server, cardNo, 300)).body.rechargeId as string;
    await sql`update recharges set created_at = ${`${twoDaysAgo}T00:00:00+08:00`}::timestamptz where id = ${rec}`.execute(server.db.db);
    // The funding recharge: one microsecond before that midnight, so three days ago.
    await sql`update recharges set created_at = ${`${twoDaysAgo}T00:00:00+08:00`}::timestamptz - interval '1 microsecond' where id = ${funding}`.execute(server.db.db);
    // Eight days ago is outside the chart.
    const older = await saleId(sell(server, A.terminal, saleBody(cardNo, 900)), 'approved');
    await placeSale(older, `${before.days[0].businessDay}T00:00:00+08:00`);
    await sql`update sales set created_at = created_at - interval '1 day', business_day = business_day - 1 where id = ${older}`.execute(server.db.db);

    const after = await dashboard();
    expect(after.sales.count).toBe(before.sales.count);
    expect(after.recharges).toEqual(before.recharges);
    const diff = after.days.map((d: any, i: number) => [d.salesAmount - before.days[i].salesAmount, d.salesCount - before.days[i].salesCount, d.rechargeAmount - before.days[i].rechargeAmount]);
    expect(diff).toEqual([[0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 10_000], [700, 1, 300], [0, 0, 0], [0, 0, 0]]);
  });

  it('is open to every reader role', async () => {
    for (const role of READERS) expect((await dashboard(role)).businessDay).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });
});

describe('exports', () => {
  const WINDOW = { from: '2024-02-29T16:00:00Z', to: '2024-03-05T16:00:00Z' };

  it('exports the filtered sales as an .xlsx with zh-CN headers, yuan, litres and Beijing time', async () => {
    const cardNo = await newCard(server, { funds: 10_000 });
    const sid = await saleId(sell(server, A.terminal, saleBody(cardNo, 2_000, { grade: '95#', unitPrice: 850, volumeMl: 2_353 })), 'approved');
    const did = await saleId(sell(server, A.terminal, saleBody(cardNo, 1_000, { pin: '000000' })), 'declined');
    await placeSale(sid, '2024-03-02T02:03:04.000Z');
    await placeSale(did, '2024-03-02T01:00:00.000Z');
    const res = await download(`/api/v1/sales/export${q({ ...WINDOW, cardNo })}`);
    expect(res.status, res.bytes.toString('utf8', 0, 300)).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="sales-20240301-20240306.xlsx"');
    expect(res.bytes.subarray(0, 4)).toEqual(Buffer.from('PK\x03\x04', 'binary'));
    const rows = readSheet(res.bytes);
    expect(rows[0]).toEqual(SALES_HEADERS);
    expect(rows).toHaveLength(3);
    const col = (name: string) => SALES_HEADERS.indexOf(name);
    const [approved, declined] = [rows[1]!, rows[2]!];
    expect(excelTime(approved[col('时间')] as number)).toBe('2024-03-02T10:03:04');
    expect(approved[col('营业日')]).toBe('2024-03-02');
    expect(approved[col('交易号')]).toBe(sid);
    expect(approved[col('卡号')]).toBe(cardNo);
    expect(approved[col('油站')]).toMatch(/^测试油站/);
    expect(approved[col('终端')]).toBe(A.terminal.terminalId);
    expect(approved[col('油枪')]).toBe(3);
    expect(approved[col('油品')]).toBe('95#');
    expect(approved[col('升数(L)')]).toBe(2.353);
    expect(approved[col('单价(元/L)')]).toBe(8.5);
    expect(approved[col('金额(元)')]).toBe(20);
    expect(approved[col('状态')]).toBe('成功');
    expect(String(approved[col('授权码')])).toMatch(/^\d{6}$/);
    expect(approved[col('拒绝码')]).toBeNull();
    expect(approved[col('交易后余额(元)')]).toBe(80);
    expect(excelTime(declined[col('时间')] as number)).toBe('2024-03-02T09:00:00');
    expect(declined[col('状态')]).toBe('拒绝');
    expect(declined[col('授权码')]).toBeNull();
    expect(declined[col('拒绝码')]).toBe('PIN_WRONG');
    expect(declined[col('拒绝原因')]).toBe('密码错误');
    expect(declined[col('交易后余额(元)')]).toBeNull();

    // Masked for a role that may not see card numbers, in the file as in the list.
    const masked = readSheet((await download(`/api/v1/sales/export${q({ ...WINDOW, cardNo })}`, 'finance')).bytes);
    expect(masked.slice(1).map((r) => r[col('卡号')])).toEqual([maskCardNo(cardNo), maskCardNo(cardNo)]);
    // Amounts in the file add up to the list's, in yuan.
    const listed = (await get(`/api/v1/sales${q({ ...WINDOW, cardNo })}`)).items as any[];
    expect(rows.slice(1).map((r) => Math.round((r[col('金额(元)')] as number) * 100))).toEqual(listed.map((s) => s.amount));

    // Taking data out is on the audit trail, with the card number masked.
    const trail = (await get(`/api/v1/audit${q({ action: 'report.export', targetId: 'sales' })}`, 'auditor')).items as any[];
    expect(trail.length).toBeGreaterThanOrEqual(2);
    expect(trail[0]).toMatchObject({ actorName: 't_finance', targetType: 'report', details: { rows: 2, filters: { cardNo: maskCardNo(cardNo), from: WINDOW.from } } });
  });

  it('exports an empty result as a sheet with only its headers, named after the open period', async () => {
    const res = await download(`/api/v1/sales/export${q({ cardNo: unknownCardNo(), from: '2024-03-01T08:30:00+08:00' })}`, 'station_staff');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="sales-20240301T0830-\d{8}(T\d{4})?\.xlsx"$/);
    expect(readSheet(res.bytes)).toEqual([SALES_HEADERS]);
  });

  it('exports recharges', async () => {
    const cardNo = await newCard(server);
    const r = (await recharge(server, cardNo, 12_345)).body;
    const res = await download(`/api/v1/recharges/export${q({ cardNo })}`, 'operator');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="recharges-start-\d{8}(T\d{4})?\.xlsx"$/);
    const rows = readSheet(res.bytes);
    expect(rows[0]).toEqual(['时间', '充值单号', '卡号', '金额(元)', '渠道', '银行流水号', '经办人', '充值后余额(元)', '充值ID']);
    expect(rows.slice(1)).toEqual([[expect.any(Number), r.receiptNo, cardNo, 123.45, '现金', null, 'admin', 123.45, r.rechargeId]]);
  });

  it('exports the audit log to its readers', async () => {
    const res = await download(`/api/v1/audit/export${q({ targetType: 'paging-test' })}`, 'auditor');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="audit-start-/);
    const rows = readSheet(res.bytes);
    expect(rows[0]).toEqual(['时间', '编号', '操作人', '角色', '操作', '对象类型', '对象', '详情', 'IP', '请求号']);
    expect(rows).toHaveLength(16);
    expect(rows[1]!.slice(2, 8)).toEqual(['pager', 'system', 'test.paging', 'paging-test', '15', '{"i":15}']);
    expect(excelTime(rows[1]![0] as number)).toBe('2024-07-01T08:00:00');
  });

  it('refuses unknown and paging parameters on exports', async () => {
    for (const path of ['/api/v1/sales/export?limit=10', '/api/v1/recharges/export?cursor=x', '/api/v1/audit/export?foo=1']) {
      const r = await download(path, readerOf(path));
      expect(r.status, path).toBe(400);
      expect(r.json().error.code).toBe('VALIDATION_FAILED');
    }
  });
});

describe('access and validation', () => {
  it('lets readers see sales, recharges and the dashboard, and only the auditor and security officer the audit log', async () => {
    const routes = ['/api/v1/dashboard/today', '/api/v1/sales', '/api/v1/sales/export', '/api/v1/recharges', '/api/v1/recharges/export', '/api/v1/audit', '/api/v1/audit/export'];
    for (const path of routes) {
      const allowed: Role[] = path.startsWith('/api/v1/audit') ? AUDIT_READERS : READERS;
      const anon = await server.api('GET', path, { role: null });
      expect(anon.status, path).toBe(401);
      for (const role of ROLES) {
        const r = await server.api('GET', path, { role });
        if (allowed.includes(role)) expect(r.status, `${path} as ${role}`).toBe(200);
        else expect([r.status, r.body.error.code], `${path} as ${role}`).toEqual([403, 'FORBIDDEN']);
      }
    }
  });

  it('refuses bad filters with 400 VALIDATION_FAILED naming the field', async () => {
    const cases: Array<[string, string]> = [
      ['/api/v1/sales?from=yesterday', 'from'],
      ['/api/v1/sales?to=2024-13-01T00:00:00Z', 'to'],
      ['/api/v1/sales?from=2024-03-02T00:00:00Z&to=2024-03-01T00:00:00Z', 'to'],
      ['/api/v1/sales?stationId=abc', 'stationId'],
      ['/api/v1/sales?stationId=0', 'stationId'],
      ['/api/v1/sales?terminalId=POS1', 'terminalId'],
      ['/api/v1/sales?cardNo=123', 'cardNo'],
      ['/api/v1/sales?cardNo=90000100000000000000', 'cardNo'],
      ['/api/v1/sales?status=ok', 'status'],
      ['/api/v1/sales?declineCode=NOPE', 'declineCode'],
      ['/api/v1/sales?grade=%3Cscript%3E', 'grade'],
      ['/api/v1/sales?limit=0', 'limit'],
      ['/api/v1/sales?limit=201', 'limit'],
      ['/api/v1/sales?stationID=1', 'stationID'],
      ['/api/v1/sales/export?status=all', 'status'],
      ['/api/v1/sales/export?from=2024-03-02T00:00:00Z&to=2024-03-01T00:00:00Z', 'to'],
      ['/api/v1/recharges?channel=paypal', 'channel'],
      ['/api/v1/recharges?cardNo=abc', 'cardNo'],
      ['/api/v1/recharges?from=2024-03-02', 'from'],
      ['/api/v1/audit?action=card.%25', 'action'],
      ['/api/v1/audit?limit=-1', 'limit'],
      ['/api/v1/audit?from=2024-03-02T00:00:00Z&to=2024-03-01T00:00:00Z', 'to'],
    ];
    for (const [path, field] of cases) {
      const r = await server.api('GET', path, { role: readerOf(path) });
      expect(r.status, path).toBe(400);
      expect(r.body.error.code, path).toBe('VALIDATION_FAILED');
      expect(String(r.body.error.details?.field), path).toContain(field);
      expect(r.body.error.message).toContain(' / ');
    }
  });
});
