import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { expectError, ok, uniq } from '../../test/support/cards-factory.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());

const inMinutes = (m: number) => new Date(Date.now() + m * 60_000).toISOString();

async function station(lat: number, lng: number, province: string): Promise<number> {
  const code = `P${uniq()}`.slice(0, 20);
  const st = ok(await server.api('POST', '/api/v1/stations', { body: { code, name: `活动站 ${code}`, address: '测试路 2 号', lat, lng } }), 201);
  await sql`update stations set province = ${province} where id = ${st.id}`.execute(server.db.db);
  return st.id;
}

const create = (body: Record<string, unknown>, role: any = 'operator') =>
  server.api('POST', '/api/v1/promotions', { role, body: { titleZh: '立减活动', titleEn: 'Money off', startsAt: inMinutes(-5), endsAt: inMinutes(60), ...body } });
const shownAt = async (lat: number, lng: number) => {
  const items = ok(await server.api('GET', `/api/v1/finder/stations?lat=${lat}&lng=${lng}&radiusKm=1`, { role: null }), 200).items as any[];
  return items.map((s) => ({ stationId: s.stationId, promotions: (s.promotions as any[]).map((p) => p.titleEn).sort() }));
};

describe('promotions', () => {
  it('shows a station’s own, its province’s and everyone’s running promotions in the finder, and not others', async () => {
    const zj = await station(29.0, 120.0, '浙江省');
    const js = await station(32.0, 119.0, '江苏省');
    const own = ok(await create({ stationId: zj, titleEn: 'own', grade: '95#' }), 201);
    expect(own).toMatchObject({ stationId: zj, province: null, grade: '95#', status: 'active', createdBy: 't_operator', endedAt: null });
    ok(await create({ province: '浙江省', titleEn: 'province' }), 201);
    ok(await create({ titleEn: 'everyone' }), 201);
    ok(await create({ province: '江苏省', titleEn: 'other province' }), 201);
    const later = ok(await create({ titleEn: 'later', startsAt: inMinutes(60), endsAt: inMinutes(120) }), 201);
    expect(later.status).toBe('scheduled');
    const ended = ok(await create({ titleEn: 'ended early' }), 201);
    const endedNow = ok(await server.api('POST', `/api/v1/promotions/${ended.id}/end`), 200);
    expect(endedNow).toMatchObject({ status: 'ended', endedBy: 'admin', endedAt: expect.any(String) });
    expectError(await server.api('POST', `/api/v1/promotions/${ended.id}/end`), 409, 'PROMOTION_ALREADY_ENDED');

    expect(await shownAt(29.0, 120.0)).toEqual([{ stationId: zj, promotions: ['everyone', 'own', 'province'] }]);
    expect(await shownAt(32.0, 119.0)).toEqual([{ stationId: js, promotions: ['everyone', 'other province'] }]);
    const first = (ok(await server.api('GET', '/api/v1/finder/stations?lat=29&lng=120&radiusKm=1', { role: null }), 200).items as any[])[0];
    expect(first.promotions.find((p: any) => p.titleEn === 'own')).toEqual({ id: own.id, titleZh: '立减活动', titleEn: 'own', grade: '95#', endsAt: own.endsAt });

    // Ending a running promotion takes it off the finder at once; a scheduled one can be ended before it begins.
    ok(await server.api('POST', `/api/v1/promotions/${own.id}/end`, { role: 'operator' }), 200);
    expect(await shownAt(29.0, 120.0)).toEqual([{ stationId: zj, promotions: ['everyone', 'province'] }]);
    ok(await server.api('POST', `/api/v1/promotions/${later.id}/end`), 200);

    const active = ok(await server.api('GET', '/api/v1/promotions?active=true', { role: 'station_staff' }), 200).items as any[];
    expect(active.map((p) => p.titleEn).sort()).toEqual(['everyone', 'other province', 'province']);
    const all = ok(await server.api('GET', '/api/v1/promotions?limit=2'), 200);
    expect(all.items).toHaveLength(2);
    const rest = ok(await server.api('GET', `/api/v1/promotions?limit=200&cursor=${all.nextCursor}`), 200);
    expect(all.items.length + rest.items.length).toBe(6);
    expect(ok(await server.api('GET', `/api/v1/promotions?stationId=${zj}`), 200).items.map((p: any) => p.id)).toEqual([own.id]);

    const audit = await sql<{ action: string; n: number }>`select action, count(*)::int as n from audit_log where target_type = 'promotion' group by action order by action`.execute(server.db.db);
    expect(audit.rows).toEqual([
      { action: 'promotion.create', n: 6 },
      { action: 'promotion.end', n: 3 },
    ]);
  });

  it('stops showing a promotion when its period is over', async () => {
    const id = await station(25.0, 110.0, '广西');
    const p = ok(await create({ stationId: id, titleEn: 'short' }), 201);
    expect((await shownAt(25.0, 110.0))[0]!.promotions).toContain('short');
    await sql`update station_promotions set starts_at = now() - interval '2 hours', ends_at = now() - interval '1 second' where id = ${p.id}`.execute(server.db.db);
    expect((await shownAt(25.0, 110.0))[0]!.promotions).not.toContain('short');
    const listed = ok(await server.api('GET', `/api/v1/promotions?stationId=${id}`), 200).items;
    expect(listed[0].status).toBe('ended');
    expectError(await server.api('POST', `/api/v1/promotions/${p.id}/end`), 409, 'PROMOTION_ALREADY_ENDED');
  });

  it('refuses bad promotions and staff who may not create them', async () => {
    const id = await station(24.0, 109.0, '');
    expectError(await create({ stationId: id, province: '浙江省' }), 400, 'PROMOTION_SCOPE_INVALID');
    expectError(await create({ startsAt: inMinutes(10), endsAt: inMinutes(5) }), 400, 'PROMOTION_PERIOD_INVALID');
    expectError(await create({ startsAt: inMinutes(-60), endsAt: inMinutes(-5) }), 400, 'PROMOTION_PERIOD_INVALID');
    expectError(await create({ stationId: 99_999_999 }), 404, 'STATION_NOT_FOUND');
    expectError(await create({ grade: 'E100' }), 400, 'GRADE_UNKNOWN');
    expectError(await create({ endsAt: 'tomorrow' }), 400, 'VALIDATION_FAILED');
    expectError(await create({ titleZh: '' }), 400, 'VALIDATION_FAILED');
    expectError(await create({}, 'station_staff'), 403, 'FORBIDDEN');
    expectError(await server.api('POST', '/api/v1/promotions/99999999/end'), 404, 'PROMOTION_NOT_FOUND');
    expectError(await server.api('GET', '/api/v1/promotions', { role: null }), 401, 'UNAUTHENTICATED');
  });
});
