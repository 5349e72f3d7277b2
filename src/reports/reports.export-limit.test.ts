import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { newStation } from '../../test/support/fuel.js';
import { MAX_EXPORT_ROWS } from './index.js';

/** A file of its own: 100,001 sales would crowd every other listing. */
let server: TestServer;
let terminalId: string;
const FROM = '2001-01-01T00:00:00Z';
const TO = '2001-01-02T00:00:00Z';
/** The second-oldest row's time (the oldest is one microsecond after FROM). */
const SECOND = '2001-01-01T00:00:00.000002Z';

beforeAll(async () => {
  server = await startTestServer();
  const st = await newStation(server);
  terminalId = st.terminal.terminalId;
  // One row more than an export may hold, a microsecond apart, on 1 January 2001.
  await sql`
    insert into sales (id, card_id, card_no_masked, station_id, terminal_id, nozzle, grade, volume_ml, unit_price, amount, status, approval_code, business_day, created_at)
    select gen_random_uuid(), null, '900001*********0000', ${st.stationId}, ${terminalId}, 1 + i % 8, '92#', 30000 + i % 1000, 800, 24000 + i % 800, 'approved',
           lpad((i % 1000000)::text, 6, '0'), date '2001-01-01', timestamptz '2001-01-01T00:00:00Z' + i * interval '1 microsecond'
      from generate_series(1, ${MAX_EXPORT_ROWS + 1}) i`.execute(server.db.db);
  // As autovacuum would have by the time anyone exports: without statistics the planner sorts
  // every matching row for each page instead of walking the (created_at, id) index.
  await sql`analyze sales`.execute(server.db.db);
});
afterAll(async () => server?.close());

async function download(path: string) {
  const res = await fetch(server.baseUrl + path, { headers: { authorization: `Bearer ${server.tokens.admin}` } });
  return { status: res.status, headers: res.headers, bytes: Buffer.from(await res.arrayBuffer()) };
}

describe('export size limit', () => {
  it(`refuses an export of more than ${MAX_EXPORT_ROWS} rows with REPORT_TOO_LARGE`, async () => {
    expect(MAX_EXPORT_ROWS).toBe(100_000);
    const r = await download(`/api/v1/sales/export?from=${FROM}&to=${TO}`);
    expect(r.status).toBe(400);
    const body = JSON.parse(r.bytes.toString('utf8'));
    expect(body.error).toMatchObject({ code: 'REPORT_TOO_LARGE', details: { limit: MAX_EXPORT_ROWS } });
    expect(body.error.message).toContain(' / ');
    // Nothing was exported, so nothing is on the audit trail.
    const trail = await sql<{ n: number }>`select count(*)::int as n from audit_log where action = 'report.export'`.execute(server.db.db);
    expect(trail.rows[0]!.n).toBe(0);
  });

  it(`exports exactly ${MAX_EXPORT_ROWS} rows`, async () => {
    // From the second-oldest row on: exactly the maximum.
    const ok = await download(`/api/v1/sales/export?from=${SECOND}&to=${TO}&terminalId=${terminalId}`);
    expect(ok.status, ok.bytes.toString('utf8', 0, 200)).toBe(200);
    expect(ok.headers.get('content-disposition')).toBe('attachment; filename="sales-20010101T0800-20010102T0800.xlsx"');
    expect(ok.bytes.subarray(0, 2).toString('latin1')).toBe('PK');
    const trail = await sql<{ details: { rows: number } }>`select details from audit_log where action = 'report.export'`.execute(server.db.db);
    expect(trail.rows.map((t) => t.details.rows)).toEqual([MAX_EXPORT_ROWS]);
  }, 120_000);
});
