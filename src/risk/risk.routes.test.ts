import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectApproved, expectLedgerVerified, issueCard, newStation, ok, type TestTerminal } from '../../test/support/cards-factory.js';
import { startTestServer, type ApiResponse, type TestServer } from '../../test/support/server.js';
import type { App, Role } from '../platform/index.js';
import { createHttp, createLogger } from '../platform/index.js';
import { cardholderAuthenticator } from '../portal/index.js';
import { staffAuthenticator } from '../staff/index.js';
import { terminalAuthenticator } from '../stations/index.js';
import { evaluate, loadRiskContext, paramsForCard, recordDecision, RULE_IDS, riskRoutes } from './index.js';

let server: TestServer;
/** The risk routes on an app of their own with the real authenticators (server.ts registers them in the product). */
let riskApp: App;
let terminal: TestTerminal;
const TZ = 'Asia/Shanghai';

type Method = 'GET' | 'POST' | 'DELETE';
async function rapi(method: Method, url: string, opts: { role?: Role | null; body?: unknown } = {}): Promise<ApiResponse> {
  const token = opts.role === null ? undefined : server.tokens[opts.role ?? 'risk'];
  const res = await riskApp.inject({
    method,
    url,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    ...(opts.body === undefined ? {} : { payload: opts.body as object }),
  });
  const headers = new Headers();
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.set(k, String(v));
  return { status: res.statusCode, body: res.body === '' ? null : res.json(), headers };
}

function expectErr(r: ApiResponse, status: number, code: string): any {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body.error.code).toBe(code);
  return r.body.error;
}

async function staffId(role: Role): Promise<number> {
  const r = await sql<{ id: number }>`select id from staff_users where role = ${role} order by id limit 1`.execute(server.db.db);
  return r.rows[0]!.id;
}

async function cardIdOf(cardNo: string): Promise<number> {
  return (await sql<{ id: number }>`select id from cards where card_no = ${cardNo}`.execute(server.db.db)).rows[0]!.id;
}

async function dbNow(): Promise<Date> {
  return (await sql<{ now: Date }>`select clock_timestamp() as now`.execute(server.db.db)).rows[0]!.now;
}

async function auditActors(action: string, targetType: string, targetId: string | number) {
  const r = await sql<{ actor_id: number | null; actor_role: string }>`select actor_id, actor_role from audit_log
    where action = ${action} and target_type = ${targetType} and target_id = ${String(targetId)} order by id`.execute(server.db.db);
  return r.rows;
}

// An enterprise scope no card belongs to: publishing here changes no live sale's parameters.
const SCOPE = { scope: 'enterprise', scopeKey: '990001' };

beforeAll(async () => {
  server = await startTestServer();
  const d = server.deps;
  riskApp = (
    await createHttp({
      logger: createLogger('silent'),
      staffAuth: staffAuthenticator(d.db),
      terminalAuth: terminalAuthenticator(d),
      cardholderAuth: cardholderAuthenticator(d.db),
    })
  ).app;
  riskRoutes(riskApp, { db: d.db, config: server.config, logger: createLogger('silent') });
  await riskApp.ready();
  terminal = (await newStation(server)).terminal;
});

afterAll(async () => {
  await riskApp?.close();
  await server?.close();
});

describe('access', () => {
  it('refuses anonymous callers and station staff; readers read, only risk and admin change', async () => {
    expectErr(await rapi('GET', '/api/v1/risk/rules', { role: null }), 401, 'UNAUTHENTICATED');
    expectErr(await rapi('GET', '/api/v1/risk/decisions', { role: null }), 401, 'UNAUTHENTICATED');
    for (const url of ['/api/v1/risk/rules', '/api/v1/risk/parameter-versions', '/api/v1/risk/silences', '/api/v1/risk/flagged-stations', '/api/v1/risk/decisions']) {
      expectErr(await rapi('GET', url, { role: 'station_staff' }), 403, 'FORBIDDEN');
      for (const role of ['risk', 'admin', 'operator', 'finance'] as const) expect((await rapi('GET', url, { role })).status).toBe(200);
    }
    const draft = { ...SCOPE, patch: {} };
    expectErr(await rapi('POST', '/api/v1/risk/parameter-versions', { role: 'station_staff', body: draft }), 403, 'FORBIDDEN');
    expectErr(await rapi('POST', '/api/v1/risk/parameter-versions', { role: 'operator', body: draft }), 403, 'FORBIDDEN');
    expectErr(await rapi('POST', '/api/v1/risk/parameter-versions', { role: null, body: draft }), 401, 'UNAUTHENTICATED');
    expectErr(await rapi('POST', '/api/v1/risk/flagged-stations', { role: 'finance', body: { stationId: terminal.stationId, reason: 'x' } }), 403, 'FORBIDDEN');
    expectErr(await rapi('POST', '/api/v1/risk/backtests', { role: 'operator', body: { from: new Date().toISOString(), to: new Date().toISOString() } }), 403, 'FORBIDDEN');
  });

  it('lists every rule with its schema and defaults', async () => {
    const r = ok(await rapi('GET', '/api/v1/risk/rules', { role: 'finance' }), 200);
    expect(r.items.map((x: { id: string }) => x.id)).toEqual(RULE_IDS);
    const sale = r.items.find((x: { id: string }) => x.id === 'sale_amount');
    expect(sale.defaults).toMatchObject({ enabled: true, maxAmount: 200_000 });
    expect(sale.schema.properties.maxAmount).toBeDefined();
  });
});

describe('parameter versions', () => {
  it('draft → submit → approved by another person, never by the author', async () => {
    const v = ok(await rapi('POST', '/api/v1/risk/parameter-versions', { body: { ...SCOPE, patch: { sale_amount: { maxAmount: 9_000 } }, note: '试行 tighter' } }), 201);
    expect(v).toMatchObject({ ...SCOPE, status: 'draft', version: 1, createdBy: await staffId('risk'), approvedBy: null, publishedAt: null });
    expect(v.params.sale_amount.maxAmount).toBe(9_000);
    expect(v.params.velocity_sales).toEqual(ok(await rapi('GET', '/api/v1/risk/rules'), 200).items.find((x: { id: string }) => x.id === 'velocity_sales').defaults);

    // Only the author submits.
    expectErr(await rapi('POST', `/api/v1/risk/parameter-versions/${v.id}/submit`, { role: 'admin' }), 409, 'RISK_PARAM_VERSION_STATE');
    expect(ok(await rapi('POST', `/api/v1/risk/parameter-versions/${v.id}/submit`), 200).status).toBe('pending_approval');
    // Approving a draft that is not pending, or one's own: refused.
    expectErr(await rapi('POST', `/api/v1/risk/parameter-versions/${v.id}/approve`), 403, 'RISK_SELF_APPROVAL');
    expect(ok(await rapi('GET', `/api/v1/risk/parameter-versions/${v.id}`), 200).status).toBe('pending_approval');
    const published = ok(await rapi('POST', `/api/v1/risk/parameter-versions/${v.id}/approve`, { role: 'admin' }), 200);
    expect(published).toMatchObject({ status: 'published', approvedBy: await staffId('admin') });
    expectErr(await rapi('POST', `/api/v1/risk/parameter-versions/${v.id}/approve`, { role: 'admin' }), 409, 'RISK_PARAM_VERSION_STATE');

    // A second version based on the first retires it when published.
    const v2 = ok(await rapi('POST', '/api/v1/risk/parameter-versions', { body: { ...SCOPE, baseVersionId: v.id, patch: { sale_amount: { outcome: 'delay' } } } }), 201);
    expect(v2.params.sale_amount).toMatchObject({ maxAmount: 9_000, outcome: 'delay' });
    expect(v2.version).toBe(2);
    ok(await rapi('POST', `/api/v1/risk/parameter-versions/${v2.id}/submit`), 200);
    ok(await rapi('POST', `/api/v1/risk/parameter-versions/${v2.id}/approve`, { role: 'admin' }), 200);
    const one = ok(await rapi('GET', `/api/v1/risk/parameter-versions/${v.id}`, { role: 'operator' }), 200);
    expect(one.status).toBe('retired');

    const live = ok(await rapi('GET', `/api/v1/risk/parameter-versions?scope=enterprise&scopeKey=${SCOPE.scopeKey}&status=published`), 200);
    expect(live.items.map((x: { id: number }) => x.id)).toEqual([v2.id]);
    // Paging: newest first, one per page, the cursor continues.
    const p1 = ok(await rapi('GET', `/api/v1/risk/parameter-versions?scopeKey=${SCOPE.scopeKey}&limit=1`), 200);
    expect(p1.items.map((x: { id: number }) => x.id)).toEqual([v2.id]);
    const p2 = ok(await rapi('GET', `/api/v1/risk/parameter-versions?scopeKey=${SCOPE.scopeKey}&limit=1&cursor=${p1.nextCursor}`), 200);
    expect(p2.items.map((x: { id: number }) => x.id)).toEqual([v.id]);
    expect(p2.nextCursor).toBeNull();

    // The audit names the staff member who called, from the request.
    expect(await auditActors('risk.params.draft', 'risk_parameter_version', v.id)).toEqual([{ actor_id: await staffId('risk'), actor_role: 'risk' }]);
    expect(await auditActors('risk.params.publish', 'risk_parameter_version', v.id)).toEqual([{ actor_id: await staffId('admin'), actor_role: 'admin' }]);
    expectErr(await rapi('GET', '/api/v1/risk/parameter-versions/987654321'), 404, 'RISK_PARAM_VERSION_NOT_FOUND');
  });

  it('refuses invalid parameters with the path of the field', async () => {
    const bad = expectErr(await rapi('POST', '/api/v1/risk/parameter-versions', { body: { ...SCOPE, patch: { sale_amount: { maxAmount: -5 } } } }), 400, 'RISK_PARAMS_INVALID');
    expect(bad.details.field).toBe('body.params.sale_amount.maxAmount');
    const unknownRule = expectErr(await rapi('POST', '/api/v1/risk/parameter-versions', { body: { ...SCOPE, patch: { no_such_rule: {} } } }), 400, 'RISK_PARAMS_INVALID');
    expect(unknownRule.details.field).toBe('body.patch.no_such_rule');
    const rules = ok(await rapi('GET', '/api/v1/risk/rules'), 200).items as { id: string; defaults: Record<string, unknown> }[];
    const full = Object.fromEntries(rules.map((r) => [r.id, r.defaults]));
    const wrongType = expectErr(
      await rapi('POST', '/api/v1/risk/parameter-versions', { body: { ...SCOPE, params: { ...full, velocity_sales: { ...full.velocity_sales, maxSales: '5' } } } }),
      400,
      'RISK_PARAMS_INVALID',
    );
    expect(wrongType.details.field).toBe('body.params.velocity_sales.maxSales');
    expectErr(await rapi('POST', '/api/v1/risk/parameter-versions', { body: { ...SCOPE, params: full, patch: {} } }), 400, 'VALIDATION_FAILED');
    expectErr(await rapi('POST', '/api/v1/risk/parameter-versions', { body: { scope: 'enterprise', scopeKey: 'Bad Key', params: full } }), 400, 'VALIDATION_FAILED');
    // A complete, valid set drafts; nothing invalid reached the table.
    ok(await rapi('POST', '/api/v1/risk/parameter-versions', { body: { ...SCOPE, params: full } }), 201);
    const n = await sql<{ n: number }>`select count(*)::int n from risk_parameter_versions where params -> 'sale_amount' ->> 'maxAmount' = '-5'`.execute(server.db.db);
    expect(n.rows[0]!.n).toBe(0);
  });

  it('rejects a pending version with a reason; it cannot be submitted again', async () => {
    const v = ok(await rapi('POST', '/api/v1/risk/parameter-versions', { body: { ...SCOPE, patch: { night_sale: { enabled: false } } } }), 201);
    ok(await rapi('POST', `/api/v1/risk/parameter-versions/${v.id}/submit`), 200);
    expectErr(await rapi('POST', `/api/v1/risk/parameter-versions/${v.id}/reject`, { role: 'admin', body: {} }), 400, 'VALIDATION_FAILED');
    expect(ok(await rapi('POST', `/api/v1/risk/parameter-versions/${v.id}/reject`, { role: 'admin', body: { reason: '阈值过宽' } }), 200).status).toBe('rejected');
    expectErr(await rapi('POST', `/api/v1/risk/parameter-versions/${v.id}/submit`), 409, 'RISK_PARAM_VERSION_STATE');
    expectErr(await rapi('POST', `/api/v1/risk/parameter-versions/${v.id}/approve`, { role: 'admin' }), 409, 'RISK_PARAM_VERSION_STATE');
  });
});

describe('silences and flagged stations', () => {
  it('creates, lists and revokes a silence', async () => {
    const card = await issueCard(server);
    const cardId = await cardIdOf(card.cardNo);
    const until = new Date(Date.now() + 86_400_000).toISOString();
    const s = ok(await rapi('POST', '/api/v1/risk/silences', { body: { cardId, rule: 'impossible_travel', until, reason: '客户乘飞机' } }), 201);
    expect(s).toMatchObject({ cardId, rule: 'impossible_travel', until, createdBy: await staffId('risk'), revokedAt: null });
    const listed = ok(await rapi('GET', `/api/v1/risk/silences?cardId=${cardId}`, { role: 'operator' }), 200);
    expect(listed.items.map((x: { id: number }) => x.id)).toEqual([s.id]);

    expect((await rapi('DELETE', `/api/v1/risk/silences/${s.id}`, { role: 'admin' })).status).toBe(204);
    expect(ok(await rapi('GET', `/api/v1/risk/silences?cardId=${cardId}`), 200).items).toEqual([]);
    const history = ok(await rapi('GET', `/api/v1/risk/silences?cardId=${cardId}&all=true`), 200);
    expect(history.items[0].revokedAt).not.toBeNull();
    // Revoking again changes nothing and audits nothing more.
    expect((await rapi('DELETE', `/api/v1/risk/silences/${s.id}`)).status).toBe(204);
    expect(await auditActors('risk.silence.revoke', 'risk_rule_silence', s.id)).toEqual([{ actor_id: await staffId('admin'), actor_role: 'admin' }]);

    expectErr(await rapi('DELETE', '/api/v1/risk/silences/987654321'), 404, 'NOT_FOUND');
    expectErr(await rapi('POST', '/api/v1/risk/silences', { body: { cardId, rule: 'no_such_rule', until, reason: 'x' } }), 400, 'VALIDATION_FAILED');
    expectErr(await rapi('POST', '/api/v1/risk/silences', { body: { cardId, rule: 'night_sale', until: new Date(Date.now() - 60_000).toISOString(), reason: 'x' } }), 400, 'RISK_SILENCE_INVALID');
    expectErr(await rapi('POST', '/api/v1/risk/silences', { body: { cardId, rule: 'night_sale', until: '2026-02-30T00:00:00Z', reason: 'x' } }), 400, 'VALIDATION_FAILED');
    expectErr(await rapi('POST', '/api/v1/risk/silences', { body: { cardId: 987_654_321, rule: 'night_sale', until, reason: 'x' } }), 404, 'NOT_FOUND');
    expectErr(await rapi('POST', '/api/v1/risk/silences', { role: 'station_staff', body: { cardId, rule: 'night_sale', until, reason: 'x' } }), 403, 'FORBIDDEN');
  });

  it('flags a station once, lists it and clears it', async () => {
    const { stationId } = (await newStation(server)).terminal;
    const f = ok(await rapi('POST', '/api/v1/risk/flagged-stations', { body: { stationId, reason: '2 号油枪发现盗刷器' } }), 201);
    expect(f).toMatchObject({ stationId, reason: '2 号油枪发现盗刷器', flaggedBy: await staffId('risk'), clearedAt: null });
    const again = ok(await rapi('POST', '/api/v1/risk/flagged-stations', { body: { stationId, reason: 'again' } }), 201);
    expect(again).toMatchObject({ id: f.id, reason: '2 号油枪发现盗刷器' });
    const open = ok(await rapi('GET', `/api/v1/risk/flagged-stations?stationId=${stationId}`, { role: 'finance' }), 200);
    expect(open.items.map((x: { id: number }) => x.id)).toEqual([f.id]);

    expect((await rapi('DELETE', `/api/v1/risk/flagged-stations/${stationId}`)).status).toBe(204);
    expect(ok(await rapi('GET', `/api/v1/risk/flagged-stations?stationId=${stationId}`), 200).items).toEqual([]);
    expect(ok(await rapi('GET', `/api/v1/risk/flagged-stations?stationId=${stationId}&all=true`), 200).items[0]).toMatchObject({ id: f.id, clearedBy: await staffId('risk') });
    expectErr(await rapi('DELETE', `/api/v1/risk/flagged-stations/${stationId}`), 404, 'NOT_FOUND');
    expectErr(await rapi('POST', '/api/v1/risk/flagged-stations', { body: { stationId: 987_654_321, reason: 'x' } }), 404, 'NOT_FOUND');
    expect((await auditActors('risk.station.flag', 'station', stationId))[0]).toEqual({ actor_id: await staffId('risk'), actor_role: 'risk' });
  });
});

describe('backtests and decisions', () => {
  it('backtests a version over the sales of a bounded range', async () => {
    const from = await dbNow();
    const card = await issueCard(server, { funds: 100_000 });
    await expectApproved(server, terminal, card.cardNo, 10_000);
    await expectApproved(server, terminal, card.cardNo, 12_000);
    await expectApproved(server, terminal, card.cardNo, 8_000);
    const to = new Date((await dbNow()).getTime() + 1);
    const v = ok(await rapi('POST', '/api/v1/risk/parameter-versions', { body: { scope: 'segment', scopeKey: 'bt_only', patch: { sale_amount: { maxAmount: 9_000, shadow: true } } } }), 201);

    const range = { from: from.toISOString(), to: to.toISOString() };
    const quiet = ok(await rapi('POST', '/api/v1/risk/backtests', { body: range }), 200);
    expect(quiet).toMatchObject({ paramVersionId: null, sales: 3, truncated: false, stoppedAmount: 0 });
    const r = ok(await rapi('POST', '/api/v1/risk/backtests', { role: 'admin', body: { ...range, versionId: v.id } }), 200);
    expect(r).toMatchObject({ paramVersionId: v.id, paramsHash: v.hash, sales: 3, stoppedAmount: 22_000 });
    expect(r.rules.sale_amount).toEqual({ hits: 2, hitRate: 2 / 3, stoppedAmount: 22_000 });
    expect(ok(await rapi('POST', '/api/v1/risk/backtests', { body: { ...range, versionId: v.id, limit: 1 } }), 200)).toMatchObject({ sales: 1, truncated: true });

    const long = { from: new Date(to.getTime() - 32 * 86_400_000).toISOString(), to: to.toISOString() };
    expect(expectErr(await rapi('POST', '/api/v1/risk/backtests', { body: long }), 400, 'VALIDATION_FAILED').details.field).toBe('body.to');
    expectErr(await rapi('POST', '/api/v1/risk/backtests', { body: { from: range.to, to: range.from } }), 400, 'VALIDATION_FAILED');
    expectErr(await rapi('POST', '/api/v1/risk/backtests', { body: { ...range, limit: 1_000_000 } }), 400, 'VALIDATION_FAILED');
    expectErr(await rapi('POST', '/api/v1/risk/backtests', { body: { ...range, versionId: 987_654_321 } }), 404, 'RISK_PARAM_VERSION_NOT_FOUND');
    expectErr(await rapi('POST', '/api/v1/risk/backtests', { role: 'station_staff', body: range }), 403, 'FORBIDDEN');
    await expectLedgerVerified(server);
  });

  it('lists decisions by card, outcome and time, shows one and replays it', async () => {
    const card = await issueCard(server, { funds: 50_000 });
    const cardId = await cardIdOf(card.cardNo);
    const record = async (amount: number) => {
      const at = new Date((await dbNow()).getTime() + 1);
      return server.db.db.transaction().execute(async (trx) => {
        const ctx = (await loadRiskContext(trx, { cardId, amount, volumeMl: 10_000, grade: '92#', stationId: terminal.stationId, terminalId: terminal.terminalId, at, channel: 'online', timeZone: TZ }))!;
        const d = evaluate(await paramsForCard(trx, ctx.card), ctx);
        return { id: await recordDecision(trx, ctx, d, null), outcome: d.outcome };
      });
    };
    const small = await record(5_000);
    const big = await record(250_000); // over the default single-sale limit of 200 000
    expect(small.outcome).toBe('approve');
    expect(big.outcome).toBe('decline');

    const all = ok(await rapi('GET', `/api/v1/risk/decisions?cardId=${cardId}`, { role: 'operator' }), 200);
    expect(all.items.map((x: { id: string }) => x.id)).toEqual([big.id, small.id]);
    const declined = ok(await rapi('GET', `/api/v1/risk/decisions?cardId=${cardId}&outcome=decline`), 200);
    expect(declined.items.map((x: { id: string }) => x.id)).toEqual([big.id]);
    expect(declined.items[0].hits.hits.map((h: { rule: string }) => h.rule)).toContain('sale_amount');
    const p1 = ok(await rapi('GET', `/api/v1/risk/decisions?cardId=${cardId}&limit=1`), 200);
    const p2 = ok(await rapi('GET', `/api/v1/risk/decisions?cardId=${cardId}&limit=1&cursor=${p1.nextCursor}`), 200);
    expect([...p1.items, ...p2.items].map((x: { id: string }) => x.id)).toEqual([big.id, small.id]);
    expect(p2.nextCursor).toBeNull();
    const future = new Date(Date.now() + 86_400_000).toISOString();
    expect(ok(await rapi('GET', `/api/v1/risk/decisions?cardId=${cardId}&from=${encodeURIComponent(future)}`), 200).items).toEqual([]);
    expectErr(await rapi('GET', '/api/v1/risk/decisions?from=2026-02-30T00:00:00Z'), 400, 'VALIDATION_FAILED');
    expectErr(await rapi('GET', '/api/v1/risk/decisions?cursor=bm90LWEtY3Vyc29y'), 400, 'VALIDATION_FAILED');

    const one = ok(await rapi('GET', `/api/v1/risk/decisions/${big.id}`), 200);
    expect(one).toMatchObject({ id: big.id, cardId, outcome: 'decline', stationId: terminal.stationId });
    expect(one.context.sale.amount).toBe(250_000);
    expect(ok(await rapi('POST', `/api/v1/risk/decisions/${big.id}/replay`), 200)).toMatchObject({ same: true, recorded: { outcome: 'decline' }, replayed: { outcome: 'decline' } });

    // A record whose stored context no longer gives its outcome is caught by the replay.
    await sql`update risk_decisions set context = jsonb_set(context, '{sale,amount}', '5000') where id = ${big.id}`.execute(server.db.db);
    expect(ok(await rapi('POST', `/api/v1/risk/decisions/${big.id}/replay`), 200)).toMatchObject({ same: false, recorded: { outcome: 'decline' }, replayed: { outcome: 'approve' } });

    expectErr(await rapi('GET', '/api/v1/risk/decisions/00000000-0000-4000-8000-000000000000'), 404, 'NOT_FOUND');
    expectErr(await rapi('POST', '/api/v1/risk/decisions/00000000-0000-4000-8000-000000000000/replay'), 404, 'NOT_FOUND');
    expectErr(await rapi('GET', '/api/v1/risk/decisions/not-a-uuid'), 400, 'VALIDATION_FAILED');
    expectErr(await rapi('GET', `/api/v1/risk/decisions/${big.id}`, { role: 'station_staff' }), 403, 'FORBIDDEN');
    expectErr(await rapi('POST', `/api/v1/risk/decisions/${big.id}/replay`, { role: null }), 401, 'UNAUTHENTICATED');
  });
});
