import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../platform/index.js';
import { expectApproved, expectDeclined, expectLedgerVerified, issueCard, newStation, ok, recharge, type TestTerminal } from '../../test/support/cards-factory.js';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import {
  approveParamVersion,
  backtest,
  createParamDraft,
  DEFAULT_PARAMS,
  evaluate,
  flagStation,
  loadDecisionRecord,
  loadRiskContext,
  mergeParams,
  paramSet,
  paramsForCard,
  recordDecision,
  replay,
  submitParamVersion,
  silenceRule,
  type RiskContextInput,
  type RiskParams,
} from './index.js';

let server: TestServer;
let shanghai: TestTerminal;
let beijing: TestTerminal;
let card: { id: number; cardNo: string };
let author: Actor;
let approver: Actor;
const TZ = 'Asia/Shanghai';

async function dbNow(): Promise<Date> {
  return (await sql<{ now: Date }>`select clock_timestamp() as now`.execute(server.db.db)).rows[0]!.now;
}

async function staffActor(role: 'risk' | 'admin'): Promise<Actor> {
  const r = await sql<{ id: number; username: string }>`select id, username from staff_users where role = ${role} order by id limit 1`.execute(server.db.db);
  return { staffId: r.rows[0]!.id, name: r.rows[0]!.username, role, ip: null, requestId: null };
}

function input(over: Partial<RiskContextInput> = {}): RiskContextInput {
  return { cardId: card.id, amount: 20_000, volumeMl: 20_000, grade: '92#', stationId: beijing.stationId, terminalId: beijing.terminalId, at: new Date(), channel: 'online', timeZone: TZ, ...over };
}

beforeAll(async () => {
  server = await startTestServer();
  shanghai = (await newStation(server)).terminal;
  const bj = ok(await server.api('POST', '/api/v1/stations', { body: { code: `BJ${Date.now() % 1e9}`, name: '北京测试站', address: '北京市朝阳区建国路 1 号', lat: 39.9, lng: 116.4 } }), 201, 'station');
  const t = ok(await server.api('POST', `/api/v1/stations/${bj.id}/terminals`), 201, 'terminal');
  beijing = { terminalId: t.terminalId, secret: t.secret, stationId: bj.id };
  const issued = await issueCard(server, { funds: 500_000 });
  card = { id: Number((await sql<{ id: number }>`select id from cards where card_no = ${issued.cardNo}`.execute(server.db.db)).rows[0]!.id), cardNo: issued.cardNo };
  await expectApproved(server, shanghai, card.cardNo, 10_000);
  await expectApproved(server, shanghai, card.cardNo, 12_000);
  await expectDeclined(server, shanghai, card.cardNo, 5_000, 'PIN_WRONG', { pin: '000000' });
  author = await staffActor('risk');
  approver = await staffActor('admin');
});

afterAll(async () => {
  await server?.close();
});

describe('loadRiskContext against the real tables', () => {
  it('reads the card’s sales, PIN failures, usage, stats and money moves', async () => {
    const ctx = await server.db.db.transaction().execute((trx) => loadRiskContext(trx, input({ at: new Date(Date.now() + 60_000) })));
    expect(ctx).not.toBeNull();
    expect(ctx!.recent.map((s) => [s.status, s.amount, s.declineCode])).toEqual([
      ['declined', 5_000, 'PIN_WRONG'],
      ['approved', 12_000, null],
      ['approved', 10_000, null],
    ]);
    expect(ctx!.recent[0]!.lat).toBeCloseTo(31.23);
    expect(ctx!.station).toMatchObject({ id: beijing.stationId, lat: 39.9, lng: 116.4, flagged: null });
    expect(ctx!.usage.day).toEqual({ amount: 22_000, volumeMl: 22_000, fills: 2 });
    expect(ctx!.stats).toMatchObject({ count: 2, mean: 11_000 });
    expect(ctx!.stats.hourCounts.reduce((a, b) => a + b, 0)).toBe(2);
    expect(ctx!.moneyMoves).toEqual([expect.objectContaining({ kind: 'recharge', amount: 500_000 })]);
    expect(ctx!.card).toMatchObject({ id: card.id, kind: 'personal', masterCardId: null });
  });

  it('sees nothing after `at`: the context as of before the first sale is empty', async () => {
    const first = (await sql<{ at: Date }>`select min(created_at) as at from sales where card_id = ${card.id}`.execute(server.db.db)).rows[0]!.at;
    const ctx = await loadRiskContext(server.db.db, input({ at: new Date(first.getTime() - 1), usageFrom: 'sales' }));
    expect(ctx!.recent).toEqual([]);
    expect(ctx!.stats.count).toBe(0);
    expect(ctx!.usage.day.amount).toBe(0);
  });

  it('usage summed from sales agrees with the counters', async () => {
    const at = new Date(Date.now() + 60_000);
    const a = await loadRiskContext(server.db.db, input({ at }));
    const b = await loadRiskContext(server.db.db, input({ at, usageFrom: 'sales' }));
    expect(b!.usage).toEqual(a!.usage);
  });

  it('counts open pump holds as spent', async () => {
    const ctx = await loadRiskContext(server.db.db, input({ at: new Date(Date.now() + 60_000), pendingAmount: 7_000 }));
    expect(ctx!.usage.day.amount).toBe(29_000);
    expect(ctx!.usage.month.amount).toBe(29_000);
  });

  it('answers null for an unknown card or station', async () => {
    expect(await loadRiskContext(server.db.db, input({ cardId: 987_654_321 }))).toBeNull();
    expect(await loadRiskContext(server.db.db, input({ stationId: 987_654_321 }))).toBeNull();
  });

  it('a sale in Beijing a minute after Shanghai freezes (impossible travel), and the decision replays', async () => {
    const at = new Date((await dbNow()).getTime() + 60_000);
    await server.db.db.transaction().execute(async (trx) => {
      const ctx = (await loadRiskContext(trx, input({ at })))!;
      const set = await paramsForCard(trx, ctx.card);
      const d = evaluate(set, ctx);
      expect(d.outcome).toBe('freeze');
      expect(d.hits.find((h) => h.rule === 'impossible_travel')?.inputs).toMatchObject({ fromStationId: shanghai.stationId, toStationId: beijing.stationId });
      const id = await recordDecision(trx, ctx, d, 'test-sale-1');
      const record = await loadDecisionRecord(trx, id);
      expect(record!.decision).toEqual(d);
      expect(replay(record!).same).toBe(true);
    });
  });

  it('flagged stations and silences are read as of the sale’s time', async () => {
    const before = await dbNow();
    await server.db.db.transaction().execute(async (trx) => {
      await flagStation(trx, author, beijing.stationId, 'skimmer found on pump 2');
      await silenceRule(trx, author, { cardId: card.id, rule: 'impossible_travel', until: new Date(Date.now() + 86_400_000), reason: 'customer flew' });
    });
    const now = await loadRiskContext(server.db.db, input({ at: new Date((await dbNow()).getTime() + 1) }));
    expect(now!.station.flagged).toMatchObject({ reason: 'skimmer found on pump 2' });
    expect(now!.silenced).toEqual(['impossible_travel']);
    const then = await loadRiskContext(server.db.db, input({ at: new Date(before.getTime() - 1000) }));
    expect(then!.station.flagged).toBeNull();
    expect(then!.silenced).toEqual([]);
    const d = evaluate(await paramsForCard(server.db.db, now!.card), now!);
    expect(d.hits.find((h) => h.rule === 'impossible_travel')).toMatchObject({ enforced: false, suppressedBy: 'silence' });
    expect(d.outcome).toBe('step_up');
    const audited = await sql<{ action: string }>`select action from audit_log where action like 'risk.%' order by id`.execute(server.db.db);
    expect(audited.rows.map((r) => r.action)).toEqual(expect.arrayContaining(['risk.station.flag', 'risk.silence']));
  });
});

describe('versioned parameters: four eyes at the data layer', () => {
  const strict = (): RiskParams => mergeParams(DEFAULT_PARAMS, { sale_amount: { maxAmount: 11_000 } }) as RiskParams;

  it('refuses invalid parameters', async () => {
    await expect(server.db.db.transaction().execute((trx) => createParamDraft(trx, author, { scope: 'programme', scopeKey: 'default', params: { sale_amount: { maxAmount: -1 } } }))).rejects.toMatchObject({
      code: 'RISK_PARAMS_INVALID',
    });
  });

  it('the author cannot approve; another person publishes; the engine then uses it', async () => {
    const v = await server.db.db.transaction().execute(async (trx) => {
      const d = await createParamDraft(trx, author, { scope: 'programme', scopeKey: 'default', params: strict(), note: 'tighter single sale' });
      return submitParamVersion(trx, author, d.id);
    });
    expect(v.status).toBe('pending_approval');
    await expect(server.db.db.transaction().execute((trx) => approveParamVersion(trx, author, v.id))).rejects.toMatchObject({ code: 'RISK_SELF_APPROVAL' });
    // Not even a direct write gets past the table's own check.
    await expect(sql`update risk_parameter_versions set approved_by = created_by, status = 'published', published_at = now() where id = ${v.id}`.execute(server.db.db)).rejects.toMatchObject({ code: '23514' });
    const published = await server.db.db.transaction().execute((trx) => approveParamVersion(trx, approver, v.id));
    expect(published).toMatchObject({ status: 'published', approvedBy: approver.staffId, version: 1 });
    const set = await paramsForCard(server.db.db, { kind: 'personal', masterCardId: null });
    expect(set.ref).toEqual({ id: v.id, hash: paramSet(strict()).ref.hash });
    expect(set.params.sale_amount.maxAmount).toBe(11_000);
    await expect(server.db.db.transaction().execute((trx) => approveParamVersion(trx, approver, v.id))).rejects.toMatchObject({ code: 'RISK_PARAM_VERSION_STATE' });
  });

  it('publishing the next version retires the previous; a segment version overrides the programme', async () => {
    const publish = (scope: 'programme' | 'segment', scopeKey: string, params: unknown) =>
      server.db.db.transaction().execute(async (trx) => {
        const d = await createParamDraft(trx, author, { scope, scopeKey, params });
        await submitParamVersion(trx, author, d.id);
        return approveParamVersion(trx, approver, d.id);
      });
    const v2 = await publish('programme', 'default', DEFAULT_PARAMS);
    expect(v2.version).toBe(2);
    const states = await sql<{ version: number; status: string }>`select version, status from risk_parameter_versions where scope = 'programme' order by version`.execute(server.db.db);
    expect(states.rows).toEqual([
      { version: 1, status: 'retired' },
      { version: 2, status: 'published' },
    ]);
    const seg = await publish('segment', 'anonymous', strict());
    expect((await paramsForCard(server.db.db, { kind: 'anonymous', masterCardId: null })).ref.id).toBe(seg.id);
    expect((await paramsForCard(server.db.db, { kind: 'personal', masterCardId: null })).ref.id).toBe(v2.id);
  });
});

describe('backtest', () => {
  it('reports hit rates and the money candidate parameters would have stopped', async () => {
    const other = await issueCard(server, { funds: 100_000 });
    await expectApproved(server, shanghai, other.cardNo, 8_000);
    await recharge(server, other.cardNo, 1_000);
    const from = new Date(Date.now() - 3_600_000);
    const to = new Date(Date.now() + 60_000);
    const quiet = await backtest(server.db.db, paramSet(DEFAULT_PARAMS), { from, to, timeZone: TZ });
    expect(quiet.sales).toBe(4);
    expect(quiet.stoppedAmount).toBe(0);
    const tight = paramSet(mergeParams(DEFAULT_PARAMS, { sale_amount: { maxAmount: 9_000, shadow: true } }) as RiskParams);
    const r = await backtest(server.db.db, tight, { from, to, timeZone: TZ });
    // The 10 000 and 12 000 sales go over 9 000; the declined 5 000 and the 8 000 do not. Shadow is
    // measured as if enforced: that is what a backtest is for.
    expect(r.rules.sale_amount).toEqual({ hits: 2, hitRate: 0.5, stoppedAmount: 22_000 });
    expect(r.stoppedAmount).toBe(22_000);
    expect(r.outcomes.decline).toBe(2);
    const limited = await backtest(server.db.db, tight, { from, to, timeZone: TZ, limit: 1 });
    expect(limited).toMatchObject({ sales: 1, truncated: true });
    await expectLedgerVerified(server);
  });
});
