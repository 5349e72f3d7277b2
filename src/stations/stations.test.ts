import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, terminalPost, signTerminalRequest, type TestServer } from '../../test/support/server.js';
import { expectError, ok, uniq } from '../../test/support/cards-factory.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());

const station = (over: Record<string, unknown> = {}, role: 'admin' | 'operator' | 'finance' | 'station_staff' = 'admin') =>
  server.api('POST', '/api/v1/stations', {
    role,
    body: { code: `SH-${uniq()}`.slice(0, 20), name: '中石化 浦东世纪大道站', address: '上海市浦东新区世纪大道 100 号', lat: 31.2304, lng: 121.4737, ...over },
  });
const register = (stationId: number) => server.api('POST', `/api/v1/stations/${stationId}/terminals`);

async function ping(terminal: { terminalId: string; secret: string }, opts: { timestamp?: number; nonce?: string } = {}) {
  const headers = signTerminalRequest(terminal, 'GET', '/api/v1/pos/ping', '', opts);
  delete headers['content-type'];
  const res = await fetch(`${server.baseUrl}/api/v1/pos/ping`, { headers });
  return { status: res.status, body: (await res.json()) as any };
}

describe('stations', () => {
  it('registers a station with its own settlement account', async () => {
    const s = ok(await station({ code: 'SH_PD-001' }), 201);
    expect(s).toMatchObject({ code: 'SH_PD-001', name: '中石化 浦东世纪大道站', lat: 31.2304, lng: 121.4737, status: 'active' });
    const acct = ok(await server.api('GET', `/api/v1/accounts/${s.settlementAccountId}`), 200);
    expect(acct).toMatchObject({ kind: 'station_settlement', balance: 0 });
    expect(ok(await server.api('GET', `/api/v1/stations/${s.id}`, { role: 'finance' }), 200)).toEqual(s);
    const list = ok(await server.api('GET', '/api/v1/stations?limit=200'), 200);
    expect(list.items.map((x: { id: number }) => x.id)).toContain(s.id);
    expect(list.total).toBeGreaterThanOrEqual(1);
  });

  it('refuses a duplicate code with STATION_CODE_TAKEN and leaves nothing behind', async () => {
    const code = `BJ-${uniq()}`.slice(0, 20);
    ok(await station({ code }), 201);
    const before = ok(await server.api('GET', '/api/v1/stations?limit=200'), 200).total;
    expectError(await station({ code, name: '另一个站' }), 409, 'STATION_CODE_TAKEN');
    expect(ok(await server.api('GET', '/api/v1/stations?limit=200'), 200).total).toBe(before);
  });

  it.each([
    [{ lat: 90.5 }, 'lat'],
    [{ lat: -91 }, 'lat'],
    [{ lng: 180.01 }, 'lng'],
    [{ lng: -200 }, 'lng'],
    [{ lat: 'north' }, 'lat'],
    [{ code: 'a' }, 'code'],
    [{ code: 'has space' }, 'code'],
    [{ name: '' }, 'name'],
  ])('refuses %o with VALIDATION_FAILED naming %s', async (over, field) => {
    const r = await station(over);
    expectError(r, 400, 'VALIDATION_FAILED');
    expect(r.body.error.details.field).toContain(field);
  });

  it('accepts the coordinate extremes', async () => {
    ok(await station({ lat: -90, lng: 180 }), 201);
    ok(await station({ lat: 90, lng: -180 }), 201);
  });

  it('lets only admin and operator register stations and terminals', async () => {
    expectError(await station({}, 'finance'), 403, 'FORBIDDEN');
    expectError(await station({}, 'station_staff'), 403, 'FORBIDDEN');
    const s = ok(await station({}, 'operator'), 201);
    expectError(await server.api('POST', `/api/v1/stations/${s.id}/terminals`, { role: 'station_staff' }), 403, 'FORBIDDEN');
    expectError(await server.api('GET', `/api/v1/stations/${s.id}`, { role: null }), 401, 'UNAUTHENTICATED');
    expectError(await server.api('GET', '/api/v1/stations/999999'), 404, 'STATION_NOT_FOUND');
  });
});

describe('terminals', () => {
  it('returns the secret once: never in a listing, stored only encrypted', async () => {
    const s = ok(await station(), 201);
    const t = ok(await register(s.id), 201);
    expect(t).toMatchObject({ stationId: s.id, status: 'active', lastSeenAt: null });
    expect(t.terminalId).toMatch(/^T\d{8}$/);
    expect(t.secret.length).toBeGreaterThanOrEqual(32);
    const t2 = ok(await register(s.id), 201);
    expect(t2.terminalId).not.toBe(t.terminalId);
    expect(t2.secret).not.toBe(t.secret);

    const list = await server.api('GET', `/api/v1/stations/${s.id}/terminals`);
    expect(ok(list, 200).items.map((x: { terminalId: string }) => x.terminalId)).toEqual([t.terminalId, t2.terminalId]);
    expect(JSON.stringify(list.body)).not.toContain(t.secret);
    for (const item of list.body.items) expect(Object.keys(item).sort()).toEqual(['createdAt', 'lastSeenAt', 'stationId', 'status', 'terminalId']);

    const row = (await sql<Record<string, unknown>>`select * from terminals where id = ${t.terminalId}`.execute(server.db.db)).rows[0]!;
    expect(JSON.stringify(row)).not.toContain(t.secret);
    expect(String(row.secret_enc)).toMatch(/^v1\./);
    expect(server.deps.cipher.decrypt(String(row.secret_enc))).toBe(t.secret);
    // Nor in the audit log.
    const audit = await sql<{ t: string }>`select coalesce(string_agg(a::text, ' '), '') t from audit_log a`.execute(server.db.db);
    expect(audit.rows[0]!.t).not.toContain(t.secret);
    expectError(await register(999_999), 404, 'STATION_NOT_FOUND');
  });

  it('signs requests with its secret; a wrong secret, a stale timestamp or a replayed nonce is refused', async () => {
    const s = ok(await station(), 201);
    const t = ok(await register(s.id), 201);
    const p = await ping(t);
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({ terminalId: t.terminalId, stationId: s.id });
    const seen = ok(await server.api('GET', `/api/v1/stations/${s.id}/terminals`), 200).items[0].lastSeenAt;
    expect(Math.abs(Date.parse(seen) - Date.now())).toBeLessThan(60_000);
    const wrong = await ping({ terminalId: t.terminalId, secret: `${t.secret}x` });
    expect({ status: wrong.status, code: wrong.body.error.code }).toEqual({ status: 401, code: 'TERMINAL_SIGNATURE_INVALID' });
    const stale = await ping(t, { timestamp: Math.floor(Date.now() / 1000) - 301 });
    expect({ status: stale.status, code: stale.body.error.code }).toEqual({ status: 401, code: 'TERMINAL_TIMESTAMP_SKEW' });
    const nonce = randomUUID();
    expect((await ping(t, { nonce })).status).toBe(200);
    const replay = await ping(t, { nonce });
    expect({ status: replay.status, code: replay.body.error.code }).toEqual({ status: 401, code: 'TERMINAL_NONCE_REPLAYED' });
    // Another terminal's secret does not sign for this one.
    const other = ok(await register(s.id), 201);
    const forged = await ping({ terminalId: t.terminalId, secret: other.secret });
    expect(forged.status).toBe(401);
  });

  it('a disabled terminal is refused (TERMINAL_UNKNOWN) at once, and works again when enabled', async () => {
    const s = ok(await station(), 201);
    const t = ok(await register(s.id), 201);
    const sale = { cardNo: '9000010000000000000', pin: '123456', grade: '92#', volumeMl: 1000, unitPrice: 800, amount: 800, nozzle: 1 };
    // Warm the terminal cache first, so the test proves disabling clears it.
    expect((await ping(t)).status).toBe(200);
    expect((await terminalPost(server, t, '/api/v1/pos/sales', sale)).status).toBe(200);

    expect((await server.api('POST', `/api/v1/terminals/${t.terminalId}/disable`)).status).toBe(204);
    expect(ok(await server.api('GET', `/api/v1/stations/${s.id}/terminals`), 200).items[0].status).toBe('disabled');
    const refused = await terminalPost(server, t, '/api/v1/pos/sales', sale);
    expectError(refused, 401, 'TERMINAL_UNKNOWN');
    const p = await ping(t);
    expect({ status: p.status, code: p.body.error.code }).toEqual({ status: 401, code: 'TERMINAL_UNKNOWN' });

    expect((await server.api('POST', `/api/v1/terminals/${t.terminalId}/enable`, { role: 'operator' })).status).toBe(204);
    expect((await ping(t)).status).toBe(200);

    expectError(await server.api('POST', '/api/v1/terminals/T99999999/disable'), 404, 'TERMINAL_NOT_FOUND');
    expectError(await server.api('POST', '/api/v1/terminals/bogus/disable'), 400, 'VALIDATION_FAILED');
    expectError(await server.api('POST', `/api/v1/terminals/${t.terminalId}/disable`, { role: 'station_staff' }), 403, 'FORBIDDEN');
    const audit = await sql<{ action: string }>`select action from audit_log where target_type = 'terminal' and target_id = ${t.terminalId} order by id`.execute(server.db.db);
    expect(audit.rows.map((a) => a.action)).toEqual(['terminal.register', 'terminal.disable', 'terminal.enable']);
  });

  it('an unknown terminal id is TERMINAL_UNKNOWN, and staff tokens do not work on terminal routes', async () => {
    const p = await ping({ terminalId: 'T00999999', secret: 'whatever' });
    expect({ status: p.status, code: p.body.error.code }).toEqual({ status: 401, code: 'TERMINAL_UNKNOWN' });
    const staff = await server.api('GET', '/api/v1/pos/ping');
    expect(staff.status).toBe(401);
  });
});

describe('terminals of two databases served by one process', () => {
  it('keeps their secrets apart even when their ids are the same', async () => {
    // This server's first terminal, and a fresh database's first terminal: both T00000001.
    const first = async () => (await sql<{ secret_enc: string }>`select secret_enc from terminals where id = 'T00000001'`.execute(server.db.db)).rows[0];
    if (!(await first())) ok(await register(ok(await station(), 201).id), 201);
    const row = (await first())!;
    const ta = { terminalId: 'T00000001', secret: server.deps.cipher.decrypt(row.secret_enc) };
    const other = await startTestServer();
    try {
      const st = ok(await other.api('POST', '/api/v1/stations', { body: { code: 'DUP01', name: '站', address: '地址', lat: 30, lng: 120 } }), 201);
      const tb = ok(await other.api('POST', `/api/v1/stations/${st.id}/terminals`), 201) as { terminalId: string; secret: string };
      expect(tb.terminalId).toBe(ta.terminalId);
      const sale = { cardNo: '9000010000000000000', pin: '123456', grade: '92#', volumeMl: 1000, unitPrice: 800, amount: 800, nozzle: 1 };
      expect((await terminalPost(server, ta, '/api/v1/pos/sales', sale)).status).toBe(200);
      expect((await terminalPost(other, tb, '/api/v1/pos/sales', sale)).status).toBe(200);
      expect((await terminalPost(server, ta, '/api/v1/pos/sales', sale)).status).toBe(200);
      expectError(await terminalPost(other, ta, '/api/v1/pos/sales', sale), 401, 'TERMINAL_SIGNATURE_INVALID');
    } finally {
      await other.close();
    }
  });
});
