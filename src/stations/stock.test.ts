import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, terminalPost, type TestServer } from '../../test/support/server.js';
import { expectError, newCardNo, newStation, ok, saleBody, SALE_PATH, type TestTerminal } from '../../test/support/cards-factory.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());

const READINGS = '/api/v1/pos/tank-readings';
const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();
const L = (litres: number) => litres * 1000;

/** A station with nozzles 1 (92#) and 2 (95#), tank 1 of 92# (30 000 L, low below 5 000 L) and tank 2 of 95#. */
async function stockedStation(): Promise<{ stationId: number; terminal: TestTerminal }> {
  const st = await newStation(server);
  ok(await server.api('PUT', `/api/v1/stations/${st.stationId}/nozzles`, { body: { items: [{ nozzle: 1, grade: '92#' }, { nozzle: 2, grade: '95#' }] } }), 200, 'nozzles');
  ok(
    await server.api('PUT', `/api/v1/stations/${st.stationId}/tanks`, {
      role: 'operator',
      body: { items: [{ tank: 1, grade: '92#', capacityMl: L(30_000), lowLevelMl: L(5_000) }, { tank: 2, grade: '95#', capacityMl: L(20_000), lowLevelMl: L(2_000) }] },
    }),
    200,
    'tanks',
  );
  return st;
}

const upload = (terminal: TestTerminal, readings: unknown[]) => terminalPost(server, terminal, READINGS, { readings });
const stockOf = async (stationId: number) => ok(await server.api('GET', `/api/v1/stations/${stationId}/stock`, { role: 'finance' }), 200).items as any[];
const openAlerts = async (stationId: number) => ok(await server.api('GET', `/api/v1/stock-alerts?status=open&stationId=${stationId}`), 200).items as any[];

/** A real sale through the sale path: `litres` of the grade at 10.00 yuan/L (volume in ml = amount in fen). */
async function sellLitres(terminal: TestTerminal, cardNo: string, litres: number, grade = '92#'): Promise<any> {
  const body = saleBody(cardNo, L(litres), { grade, nozzle: grade === '92#' ? 1 : 2 });
  return ok(await terminalPost(server, terminal, SALE_PATH, body), 200, 'sale');
}

describe('tanks', () => {
  it('replaces the tank list, validates it, refuses removing a tank with history, and audits', async () => {
    const { stationId, terminal } = await stockedStation();
    expect(ok(await server.api('GET', `/api/v1/stations/${stationId}/tanks`, { role: 'station_staff' }), 200).items).toEqual([
      { tank: 1, grade: '92#', capacityMl: L(30_000), lowLevelMl: L(5_000) },
      { tank: 2, grade: '95#', capacityMl: L(20_000), lowLevelMl: L(2_000) },
    ]);
    const put = (items: unknown[], role: any = 'admin') => server.api('PUT', `/api/v1/stations/${stationId}/tanks`, { role, body: { items } });
    expectError(await put([{ tank: 1, grade: '92#', capacityMl: 10, lowLevelMl: 0 }], 'finance'), 403, 'FORBIDDEN');
    expectError(await put([{ tank: 1, grade: '92#', capacityMl: 10, lowLevelMl: 0 }, { tank: 1, grade: '95#', capacityMl: 10, lowLevelMl: 0 }]), 400, 'TANK_DUPLICATE');
    const unknown = await put([{ tank: 3, grade: 'E100', capacityMl: 10, lowLevelMl: 0 }]);
    expectError(unknown, 400, 'GRADE_UNKNOWN');
    expect(unknown.body.error.details.field).toBe('body.items.0.grade');
    expectError(await put([{ tank: 3, grade: '92#', capacityMl: 10, lowLevelMl: 11 }]), 400, 'TANK_LOW_LEVEL_INVALID');
    expectError(await server.api('PUT', '/api/v1/stations/999999/tanks', { body: { items: [] } }), 404, 'STATION_NOT_FOUND');

    ok(await upload(terminal, [{ tank: 1, volumeMl: L(20_000), readAt: minutesAgo(5) }]), 200);
    // Tank 1 has a reading: it stays. Tank 2 has none: it may go.
    expectError(await put([{ tank: 2, grade: '95#', capacityMl: L(20_000), lowLevelMl: L(2_000) }]), 409, 'TANK_IN_USE');
    const kept = ok(await put([{ tank: 1, grade: '92#', capacityMl: L(32_000), lowLevelMl: L(5_000) }]), 200);
    expect(kept.items).toEqual([{ tank: 1, grade: '92#', capacityMl: L(32_000), lowLevelMl: L(5_000) }]);
    const audit = await sql<{ actor_name: string; details: any }>`select actor_name, details from audit_log
      where action = 'station.tanks_set' and target_id = ${String(stationId)} order by id`.execute(server.db.db);
    expect(audit.rows.map((r) => [r.actor_name, r.details.after.length])).toEqual([
      ['t_operator', 2],
      ['admin', 1],
    ]);
  });
});

describe('book stock', () => {
  it('is the last reading plus deliveries less approved sales of the grade since, and resets at the next reading', async () => {
    const { stationId, terminal } = await stockedStation();
    const cardNo = await newCardNo(server, { funds: 200_000 });
    const poorCard = await newCardNo(server, { funds: 1_000 });

    ok(await upload(terminal, [{ tank: 1, volumeMl: L(20_000), waterMl: 1200, temperatureDc: 185, readAt: minutesAgo(60) }]), 200);
    const delivery = ok(
      await server.api('POST', `/api/v1/stations/${stationId}/deliveries`, {
        role: 'station_staff',
        body: { tank: 1, volumeMl: L(5_000), deliveredAt: minutesAgo(30), reference: `TD-${stationId}` },
      }),
      201,
    );
    expect(delivery).toMatchObject({ stationId, tank: 1, grade: '92#', volumeMl: L(5_000), reference: `TD-${stationId}`, createdBy: 't_station_staff' });
    expect((await sellLitres(terminal, cardNo, 40)).status).toBe('approved');
    expect((await sellLitres(terminal, cardNo, 25)).status).toBe('approved');
    expect((await sellLitres(terminal, cardNo, 30, '95#')).status).toBe('approved'); // another grade, another tank
    expect((await sellLitres(terminal, poorCard, 50)).status).toBe('declined'); // no fuel left the tank

    const [t1, t2] = await stockOf(stationId);
    expect(t1).toMatchObject({
      tank: 1,
      grade: '92#',
      lastReading: { volumeMl: L(20_000), waterMl: 1200, temperatureDc: 185 },
      deliveriesSinceMl: L(5_000),
      salesSinceMl: L(65),
      bookStockMl: L(20_000) + L(5_000) - L(65),
      low: false,
    });
    expect(t2).toMatchObject({ tank: 2, lastReading: null, bookStockMl: null, deliveriesSinceMl: 0, salesSinceMl: 0, low: false });

    // The gauge agrees with the books: no variance, and the count starts again from this reading.
    const second = ok(await upload(terminal, [{ tank: 1, volumeMl: L(20_000) + L(5_000) - L(65), readAt: new Date().toISOString() }]), 200);
    expect(second).toEqual({ accepted: 1, duplicates: 0, alerts: [] });
    expect((await stockOf(stationId))[0]).toMatchObject({ deliveriesSinceMl: 0, salesSinceMl: 0, bookStockMl: L(24_935) });
    expect((await sellLitres(terminal, cardNo, 10)).status).toBe('approved');
    expect((await stockOf(stationId))[0]).toMatchObject({ salesSinceMl: L(10), bookStockMl: L(24_925) });

    // A second delivery with the same note number is the same delivery entered twice.
    const again = await server.api('POST', `/api/v1/stations/${stationId}/deliveries`, { body: { tank: 1, volumeMl: L(1_000), deliveredAt: minutesAgo(1), reference: `TD-${stationId}` } });
    expectError(again, 409, 'DELIVERY_REFERENCE_TAKEN');
    expectError(await server.api('POST', `/api/v1/stations/${stationId}/deliveries`, { body: { tank: 9, volumeMl: 1, deliveredAt: minutesAgo(1) } }), 404, 'TANK_UNKNOWN');
    expectError(await server.api('POST', `/api/v1/stations/${stationId}/deliveries`, { body: { tank: 1, volumeMl: L(40_000), deliveredAt: minutesAgo(1) } }), 400, 'DELIVERY_INVALID');
    expectError(await server.api('POST', `/api/v1/stations/${stationId}/deliveries`, { role: 'finance', body: { tank: 1, volumeMl: 1, deliveredAt: minutesAgo(1) } }), 403, 'FORBIDDEN');
    const list = ok(await server.api('GET', `/api/v1/stations/${stationId}/deliveries?limit=10`), 200);
    expect(list.items.map((d: any) => d.deliveryId)).toEqual([delivery.deliveryId]);
    expect((await server.verify()).ok).toBe(true);
  });

  it('splits a grade’s sales between its tanks when the station keeps it in two', async () => {
    const { stationId, terminal } = await stockedStation();
    ok(
      await server.api('PUT', `/api/v1/stations/${stationId}/tanks`, {
        body: { items: [{ tank: 1, grade: '92#', capacityMl: L(30_000), lowLevelMl: 0 }, { tank: 3, grade: '92#', capacityMl: L(30_000), lowLevelMl: 0 }] },
      }),
      200,
    );
    ok(await upload(terminal, [{ tank: 1, volumeMl: L(10_000), readAt: minutesAgo(10) }, { tank: 3, volumeMl: L(8_000), readAt: minutesAgo(10) }]), 200);
    const cardNo = await newCardNo(server, { funds: 100_000 });
    expect((await sellLitres(terminal, cardNo, 50)).status).toBe('approved');
    expect((await stockOf(stationId)).map((t) => [t.tank, t.salesSinceMl, t.bookStockMl])).toEqual([
      [1, L(25), L(10_000) - L(25)],
      [3, L(25), L(8_000) - L(25)],
    ]);
    expect((await server.verify()).ok).toBe(true);
  });
});

describe('readings and alerts', () => {
  it('records an upload once: the same readings again are duplicates and raise nothing', async () => {
    const { stationId, terminal } = await stockedStation();
    const readings = [
      { tank: 1, volumeMl: L(4_000), readAt: minutesAgo(20) },
      { tank: 2, volumeMl: L(9_000), readAt: minutesAgo(20) },
    ];
    const first = ok(await upload(terminal, readings), 200);
    expect(first.accepted).toBe(2);
    expect(first.duplicates).toBe(0);
    expect(first.alerts.map((a: any) => [a.tank, a.kind, a.isNew])).toEqual([[1, 'low_stock', true]]);
    const retry = ok(await upload(terminal, readings), 200);
    expect(retry).toEqual({ accepted: 0, duplicates: 2, alerts: [] });
    const rows = await sql<{ n: number }>`select count(*)::int as n from tank_readings where station_id = ${stationId}`.execute(server.db.db);
    expect(rows.rows[0]!.n).toBe(2);
    const alerts = await openAlerts(stationId);
    expect(alerts).toHaveLength(1);
    expect(alerts[0].details.occurrences).toBe(1);
  });

  it('raises a low-stock alert once while it is open, and a new one after it is resolved', async () => {
    const { stationId, terminal } = await stockedStation();
    const a = ok(await upload(terminal, [{ tank: 1, volumeMl: L(4_800), readAt: minutesAgo(30) }]), 200).alerts;
    expect(a).toEqual([expect.objectContaining({ kind: 'low_stock', tank: 1, grade: '92#', status: 'open', isNew: true, details: expect.objectContaining({ volumeMl: L(4_800), lowLevelMl: L(5_000), occurrences: 1 }) })]);
    const b = ok(await upload(terminal, [{ tank: 1, volumeMl: L(4_790), readAt: minutesAgo(20) }]), 200).alerts;
    expect(b).toEqual([expect.objectContaining({ alertId: a[0].alertId, isNew: false, details: expect.objectContaining({ volumeMl: L(4_790), occurrences: 2 }) })]);
    expect((await openAlerts(stationId)).map((x) => x.alertId)).toEqual([a[0].alertId]);
    expect((await stockOf(stationId))[0].low).toBe(true);

    expectError(await server.api('POST', `/api/v1/stock-alerts/${a[0].alertId}/resolve`, { role: 'station_staff', body: { note: 'x' } }), 403, 'FORBIDDEN');
    const resolved = ok(await server.api('POST', `/api/v1/stock-alerts/${a[0].alertId}/resolve`, { role: 'operator', body: { note: '已安排配送 / delivery booked' } }), 200);
    expect(resolved).toMatchObject({ status: 'resolved', resolvedBy: 't_operator', resolutionNote: '已安排配送 / delivery booked' });
    expectError(await server.api('POST', `/api/v1/stock-alerts/${a[0].alertId}/resolve`, { body: { note: 'again' } }), 409, 'STOCK_ALERT_ALREADY_RESOLVED');
    expectError(await server.api('POST', '/api/v1/stock-alerts/99999999/resolve', { body: { note: 'x' } }), 404, 'STOCK_ALERT_NOT_FOUND');
    expect(await openAlerts(stationId)).toEqual([]);
    const resolvedList = ok(await server.api('GET', `/api/v1/stock-alerts?status=resolved&stationId=${stationId}`), 200).items;
    expect(resolvedList.map((x: any) => x.alertId)).toEqual([a[0].alertId]);
    const audit = await sql<{ details: any }>`select details from audit_log where action = 'stock.alert_resolved' and target_id = ${String(a[0].alertId)}`.execute(server.db.db);
    expect(audit.rows).toHaveLength(1);

    const c = ok(await upload(terminal, [{ tank: 1, volumeMl: L(4_770), readAt: minutesAgo(10) }]), 200).alerts;
    expect(c).toEqual([expect.objectContaining({ kind: 'low_stock', isNew: true })]);
    expect(c[0].alertId).not.toBe(a[0].alertId);
  });

  it('raises a variance alert when the gauge is off the books beyond tolerance, not within it', async () => {
    const { stationId, terminal } = await stockedStation();
    const cardNo = await newCardNo(server, { funds: 500_000 });
    ok(await upload(terminal, [{ tank: 1, volumeMl: L(20_000), readAt: minutesAgo(60) }]), 200);
    ok(await server.api('POST', `/api/v1/stations/${stationId}/deliveries`, { body: { tank: 1, volumeMl: L(3_000), deliveredAt: minutesAgo(40) } }), 201);
    expect((await sellLitres(terminal, cardNo, 200)).status).toBe('approved');
    // Expected 20 000 + 3 000 − 200 = 22 800 L; tolerance max(0.5 % of 200 L, 50 L) = 50 L.
    const within = ok(await server.api('POST', `/api/v1/stations/${stationId}/tank-readings`, { role: 'station_staff', body: { readings: [{ tank: 1, volumeMl: L(22_750), readAt: new Date().toISOString() }] } }), 200);
    expect(within.alerts).toEqual([]);
    const dip = await sql<{ n: number }>`select count(*)::int as n from audit_log where action = 'stock.manual_dip' and target_id = ${String(stationId)}`.execute(server.db.db);
    expect(dip.rows[0]!.n).toBe(1);

    expect((await sellLitres(terminal, cardNo, 100)).status).toBe('approved');
    // Expected 22 750 − 100 = 22 650 L; the gauge reads 22 450 L: 200 L missing.
    const off = ok(await upload(terminal, [{ tank: 1, volumeMl: L(22_450), readAt: new Date(Date.now() + 1000).toISOString() }]), 200);
    expect(off.alerts).toEqual([
      expect.objectContaining({
        kind: 'variance',
        tank: 1,
        isNew: true,
        details: expect.objectContaining({ expectedMl: L(22_650), differenceMl: -L(200), toleranceMl: L(50), soldMl: L(100), deliveredMl: 0, previousVolumeMl: L(22_750) }),
      }),
    ]);
    // Still off at the next reading: the same alert, refreshed.
    const stillOff = ok(await upload(terminal, [{ tank: 1, volumeMl: L(22_300), readAt: new Date(Date.now() + 2000).toISOString() }]), 200);
    expect(stillOff.alerts).toEqual([expect.objectContaining({ alertId: off.alerts[0].alertId, isNew: false, details: expect.objectContaining({ differenceMl: -L(150), occurrences: 2 }) })]);
    expect((await openAlerts(stationId)).map((x) => x.kind)).toEqual(['variance']);
    expect((await server.verify()).ok).toBe(true);
  });

  it('refuses readings for unknown tanks, above capacity, in the future or with bad times, naming the field', async () => {
    const { terminal } = await stockedStation();
    const unknown = await upload(terminal, [{ tank: 1, volumeMl: 1, readAt: minutesAgo(1) }, { tank: 7, volumeMl: 1, readAt: minutesAgo(1) }]);
    expectError(unknown, 404, 'TANK_UNKNOWN');
    expect(unknown.body.error.details.field).toBe('body.readings.1.tank');
    const over = await upload(terminal, [{ tank: 2, volumeMl: L(20_001), readAt: minutesAgo(1) }]);
    expectError(over, 400, 'TANK_READING_INVALID');
    expect(over.body.error.details.field).toBe('body.readings.0.volumeMl');
    expectError(await upload(terminal, [{ tank: 1, volumeMl: 1, readAt: new Date(Date.now() + 3600_000).toISOString() }]), 400, 'TANK_READING_INVALID');
    const bad = await upload(terminal, [{ tank: 1, volumeMl: 1, readAt: '2026-02-30T10:00:00Z' }]);
    expectError(bad, 400, 'VALIDATION_FAILED');
    expect(bad.body.error.details.field).toBe('body.readings.0.readAt');
    expectError(await upload(terminal, []), 400, 'VALIDATION_FAILED');
    expectError(await upload(terminal, Array.from({ length: 101 }, () => ({ tank: 1, volumeMl: 1, readAt: minutesAgo(1) }))), 400, 'VALIDATION_FAILED');
    // Nothing of a refused upload was kept.
    const rows = await sql<{ n: number }>`select count(*)::int as n from tank_readings where station_id = ${terminal.stationId}`.execute(server.db.db);
    expect(rows.rows[0]!.n).toBe(0);
    // Unsigned: not a terminal.
    const res = await fetch(server.baseUrl + READINGS, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ readings: [] }) });
    expect(res.status).toBe(401);
  });
});

describe('stock across stations', () => {
  it('lists tanks by station with keyset paging, and lowOnly keeps the low ones', async () => {
    const low = await stockedStation();
    const fine = await stockedStation();
    ok(await upload(low.terminal, [{ tank: 1, volumeMl: L(1_000), readAt: minutesAgo(5) }, { tank: 2, volumeMl: L(10_000), readAt: minutesAgo(5) }]), 200);
    ok(await upload(fine.terminal, [{ tank: 1, volumeMl: L(25_000), readAt: minutesAgo(5) }]), 200);

    const lowOnly = ok(await server.api('GET', '/api/v1/stock?lowOnly=true&limit=200', { role: 'risk' }), 200).items as any[];
    const mine = lowOnly.filter((t) => t.stationId === low.stationId || t.stationId === fine.stationId);
    expect(mine.map((t) => [t.stationId, t.tank, t.low])).toEqual([[low.stationId, 1, true]]);
    expect(mine[0]).toMatchObject({ stationCode: expect.any(String), stationName: expect.any(String), bookStockMl: L(1_000) });

    const page1 = ok(await server.api('GET', `/api/v1/stock?stationId=${low.stationId}&limit=1`), 200);
    expect(page1.items.map((t: any) => t.tank)).toEqual([1]);
    expect(page1.nextCursor).toEqual(expect.any(String));
    const page2 = ok(await server.api('GET', `/api/v1/stock?stationId=${low.stationId}&limit=1&cursor=${page1.nextCursor}`), 200);
    expect(page2.items.map((t: any) => t.tank)).toEqual([2]);
    expect(page2.nextCursor).toBeNull();
    expectError(await server.api('GET', '/api/v1/stock?cursor=bm9wZQ'), 400, 'VALIDATION_FAILED');
    expectError(await server.api('GET', '/api/v1/stock', { role: null }), 401, 'UNAUTHENTICATED');
  });
});

describe('review fixes', () => {
  it('records a delivery retried with the same Idempotency-Key once', async () => {
    const { stationId } = await stockedStation();
    const body = { tank: 1, volumeMl: L(4_000), deliveredAt: minutesAgo(5) };
    const post = (key: string, b: unknown = body) => server.api('POST', `/api/v1/stations/${stationId}/deliveries`, { role: 'station_staff', idempotencyKey: key, body: b });
    const first = ok(await post(`dlv-${stationId}`), 201);
    const retry = ok(await post(`dlv-${stationId}`), 201);
    expect(retry).toEqual(first);
    expectError(await post(`dlv-${stationId}`, { ...body, volumeMl: L(3_000) }), 409, 'IDEMPOTENCY_KEY_REUSED');
    expectError(await post('bad key!'), 400, 'IDEMPOTENCY_KEY_INVALID');
    const list = ok(await server.api('GET', `/api/v1/stations/${stationId}/deliveries`), 200).items as any[];
    expect(list.map((d) => d.deliveryId)).toEqual([first.deliveryId]);
    // Without a key (and without a reference) a second post is a second delivery, as before.
    ok(await server.api('POST', `/api/v1/stations/${stationId}/deliveries`, { body }), 201);
    expect(ok(await server.api('GET', `/api/v1/stations/${stationId}/deliveries`), 200).items).toHaveLength(2);
  });

  it('answers 409 TANK_IN_USE, not a 500, when a reading lands in a tank while it is being removed', async () => {
    const { stationId } = await stockedStation();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let inserted!: () => void;
    const insertedOnce = new Promise<void>((resolve) => (inserted = resolve));
    // A reading into tank 2, not yet committed: the removal's history check cannot see it.
    const holder = server.db.db.transaction().execute(async (trx) => {
      await sql`insert into tank_readings (station_id, tank, grade, volume_ml, water_ml, read_at) values (${stationId}, 2, '95#', 1000, 0, now())`.execute(trx);
      inserted();
      await gate;
    });
    await insertedOnce;
    const put = server.api('PUT', `/api/v1/stations/${stationId}/tanks`, { body: { items: [{ tank: 1, grade: '92#', capacityMl: L(30_000), lowLevelMl: L(5_000) }] } });
    // Commit only once the removal waits on the reading's lock.
    for (;;) {
      const w = await sql<{ n: string }>`select count(*) as n from pg_stat_activity where wait_event_type = 'Lock' and query like 'delete from station_tanks%'`.execute(server.db.db);
      if (Number(w.rows[0]!.n) > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    release();
    await holder;
    expectError(await put, 409, 'TANK_IN_USE');
    expect((ok(await server.api('GET', `/api/v1/stations/${stationId}/tanks`), 200).items as any[]).map((t) => t.tank)).toEqual([1, 2]);
  });

  it('pages lowOnly over a bounded number of tanks per page and still finds every low tank', async () => {
    const many = Array.from({ length: 99 }, (_, i) => ({ tank: i + 1, grade: '92#', capacityMl: L(1_000), lowLevelMl: 0 }));
    for (let i = 0; i < 3; i++) {
      const st = await newStation(server);
      ok(await server.api('PUT', `/api/v1/stations/${st.stationId}/tanks`, { body: { items: many } }), 200);
    }
    const { stationId, terminal } = await stockedStation();
    ok(await upload(terminal, [{ tank: 1, volumeMl: L(1_000), readAt: minutesAgo(1) }]), 200);
    const found: any[] = [];
    let cursor = '';
    let pages = 0;
    for (;;) {
      const page = ok(await server.api('GET', `/api/v1/stock?lowOnly=true&limit=200${cursor ? `&cursor=${cursor}` : ''}`), 200);
      pages += 1;
      found.push(...page.items);
      if (page.nextCursor === null) break;
      cursor = page.nextCursor;
    }
    // More than LOW_SCAN_TANKS tanks: more than one page, each looking at a bounded share.
    expect(pages).toBeGreaterThan(1);
    expect(found.every((t) => t.low)).toBe(true);
    expect(found.filter((t) => t.stationId === stationId).map((t) => t.tank)).toEqual([1]);
  });
});
