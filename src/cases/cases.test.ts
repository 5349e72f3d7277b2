import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, terminalPost, type TestServer } from '../../test/support/server.js';
import { cardOp, expectError, getCard, issueCard, newStation, ok, SALE_PATH, saleBody, type TestTerminal } from '../../test/support/cards-factory.js';
import { expectLedgerOk } from '../../test/support/fuel.js';
import { asCardholder, customerWithPhone, outbox, signIn } from '../portal/portal.fixtures.js';
import { operateCard } from '../cards/index.js';
import { systemActor } from '../platform/index.js';
import { DEFAULT_PARAM_SET, ENGINE_VERSION, loadRiskContext, openRiskCase, recordDecision, type CaseOutcome, type RuleHit } from '../risk/index.js';
import { authorise, newForecourt } from '../sales/authorisations.testkit.js';
import { lockTerminalRef, reverseByRef } from '../sales/index.js';
import { runCaseJobsOnce } from './index.js';

/**
 * Review cases through the real server and database. Cases are opened as the sale path opens them:
 * a real sale, its risk decision recorded, then openRiskCase in one transaction under the card's lock.
 */
let server: TestServer;
let shanghai: TestTerminal;
/** About 8 km from Shanghai's station: a short drive, so the sale path's own engine stays quiet. */
let pudong: TestTerminal;
const TZ = 'Asia/Shanghai';
const DESK = '13900000001';

interface TestCard {
  id: number;
  cardNo: string;
  customerId: number | null;
  phone: string | null;
}

const RULE_OF: Record<CaseOutcome, string> = {
  freeze: 'impossible_travel',
  decline: 'sale_amount',
  delay: 'unusual_amount',
  step_up: 'unusual_amount',
  approve_flag: 'night_sale',
};

async function newTestCard(funds = 100_000): Promise<TestCard> {
  const customer = await customerWithPhone(server);
  const issued = await issueCard(server, { customerId: customer.id, funds });
  const id = Number((await sql<{ id: number }>`select id from cards where card_no = ${issued.cardNo}`.execute(server.db.db)).rows[0]!.id);
  return { id, cardNo: issued.cardNo, customerId: customer.id, phone: customer.phone };
}

async function realSale(card: TestCard, terminal: TestTerminal, amount: number): Promise<string> {
  const r = ok(await terminalPost(server, terminal, SALE_PATH, saleBody(card.cardNo, amount), { idempotencyKey: randomUUID() }), 200, 'sale');
  expect(r.status).toBe('approved');
  return r.saleId as string;
}

/** Record a decision with `outcome` for the card and open (or extend) its case, as the sale path does. */
async function openCase(
  card: TestCard,
  outcome: CaseOutcome,
  opts: { saleId?: string; authorisationId?: string; amount?: number; terminal?: TestTerminal; hits?: RuleHit[]; engineFreeze?: boolean } = {},
) {
  const terminal = opts.terminal ?? shanghai;
  const amount = opts.amount ?? 5_000;
  return server.db.db.transaction().execute(async (trx) => {
    await sql`select id from cards where id = ${card.id} for update`.execute(trx);
    const at = new Date();
    const ctx = await loadRiskContext(trx, { cardId: card.id, amount, volumeMl: amount, grade: '92#', stationId: terminal.stationId, terminalId: terminal.terminalId, at, channel: 'online', timeZone: TZ });
    const hits = opts.hits ?? [{ rule: RULE_OF[outcome], outcome, enforced: true, suppressedBy: null, inputs: { observed: 123, limit: 100 } }];
    const decisionId = await recordDecision(trx, ctx!, { outcome, hits, errors: [], paramVersion: DEFAULT_PARAM_SET.ref, engineVersion: ENGINE_VERSION }, opts.saleId ?? null);
    // The engine's freeze as src/sales/sale-risk.ts makes it: operateCard as the decision.
    if (opts.engineFreeze) {
      await operateCard(trx, server.deps, { ...systemActor, name: 'risk-engine', requestId: `risk-decision:${decisionId}` }, card.cardNo, 'freeze', {
        reason: `automated risk freeze: decision ${decisionId}`,
        operationId: `risk-freeze:${decisionId}`,
      });
    }
    const opened = await openRiskCase(trx, {
      cardId: card.id,
      decisionId,
      outcome,
      channel: 'online',
      amount,
      saleId: opts.saleId ?? null,
      authorisationId: opts.authorisationId ?? null,
      stationId: terminal.stationId,
      at,
    });
    return { ...opened, decisionId };
  });
}

/**
 * A real review: five quick sales, then a pre-authorisation the velocity rule holds (delay). The
 * sale path itself opens the case, with the authorisation as its item.
 */
async function heldAuthorisation(): Promise<{ card: TestCard; caseId: number; authorisationId: string; availableBefore: number }> {
  const forecourt = await newForecourt(server);
  const card = await newTestCard(100_000);
  for (let i = 0; i < 5; i++) await realSale(card, forecourt.terminal, 1_000);
  const availableBefore = (await getCard(server, card.cardNo)).available;
  const r = ok(await authorise(server, forecourt.terminal, { cardNo: card.cardNo, pin: '123456', nozzle: 1, mode: 'preauth', amount: 20_000 }), 200, 'preauth');
  expect(r.status).toBe('review');
  const item = await sql<{ case_id: number }>`select case_id from risk_case_items where authorisation_id = ${r.authorisationId}`.execute(server.db.db);
  expect(item.rows).toHaveLength(1);
  return { card, caseId: Number(item.rows[0]!.case_id), authorisationId: r.authorisationId, availableBefore };
}
async function staffId(role: string): Promise<number> {
  return Number((await sql<{ id: number }>`select id from staff_users where username = ${role === 'admin' ? 'admin' : `t_${role}`}`.execute(server.db.db)).rows[0]!.id);
}

const get = (path: string, role: 'admin' | 'risk' | 'operator' | 'finance' | 'station_staff' = 'risk') => server.api('GET', path, { role });
const post = (path: string, body?: unknown, role: 'admin' | 'risk' | 'operator' | 'station_staff' = 'risk') => server.api('POST', path, { role, body: body ?? {} });
const resolve = (id: number, body: Record<string, unknown>, role: 'admin' | 'risk' | 'operator' = 'risk') => post(`/api/v1/cases/${id}/resolve`, { note: 'checked with the holder', ...body }, role);

beforeAll(async () => {
  server = await startTestServer();
  shanghai = (await newStation(server)).terminal;
  const st = ok(await server.api('POST', '/api/v1/stations', { body: { code: `PD${Date.now() % 1e9}`, name: '浦东测试站', address: '上海市浦东新区张江路 1 号', lat: 31.3, lng: 121.5 } }), 201, 'station');
  const t = ok(await server.api('POST', `/api/v1/stations/${st.id}/terminals`), 201, 'terminal');
  pudong = { terminalId: t.terminalId, secret: t.secret, stationId: st.id };
});

afterAll(async () => {
  if (server) await expectLedgerOk(server);
  await server?.close();
});

describe('the queue', () => {
  it('orders by priority then due time, filters, pages, and masks nothing for the roles that see card numbers (audited)', async () => {
    const [a, b, c] = [await newTestCard(), await newTestCard(), await newTestCard()];
    const flag = await openCase(a, 'approve_flag');
    const freeze = await openCase(b, 'freeze');
    const decline = await openCase(c, 'decline');
    expect([flag.created, freeze.created, decline.created]).toEqual([true, true, true]);

    const all = ok(await get('/api/v1/cases?limit=200'), 200);
    const mine = all.items.filter((x: { id: number }) => [flag.caseId, freeze.caseId, decline.caseId].includes(x.id)).map((x: { id: number }) => x.id);
    expect(mine).toEqual([freeze.caseId, decline.caseId, flag.caseId]);
    const prios = all.items.map((x: { priority: number }) => x.priority);
    expect(prios).toEqual([...prios].sort((x, y) => x - y));

    const row = all.items.find((x: { id: number }) => x.id === freeze.caseId);
    expect(row).toMatchObject({ cardNo: b.cardNo, cardId: b.id, status: 'open', outcome: 'freeze', priority: 1, items: 1, amount: 5_000, assignee: null });
    expect(row.sla.breached).toBe(false);
    expect(row.sla.remainingMs).toBeGreaterThan(3 * 3_600_000);
    expect(row.sla.remainingMs).toBeLessThanOrEqual(4 * 3_600_000);
    const audited = await sql<{ details: { targets: number[] } }>`select details from audit_log where action = 'privacy.view_unmasked' and details->>'route' = 'GET /api/v1/cases' order by id desc limit 1`.execute(server.db.db);
    expect(audited.rows[0]!.details.targets).toEqual(expect.arrayContaining([freeze.caseId, decline.caseId, flag.caseId]));

    const byOutcome = ok(await get(`/api/v1/cases?outcome=decline&cardId=${c.id}`), 200);
    expect(byOutcome.items.map((x: { id: number }) => x.id)).toEqual([decline.caseId]);
    expect(ok(await get(`/api/v1/cases?outcome=freeze&cardId=${c.id}`), 200).items).toEqual([]);

    // Paging walks the same order.
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: Array<{ id: number }>; nextCursor: string | null } = ok(await get(`/api/v1/cases?limit=1${cursor ? `&cursor=${cursor}` : ''}`), 200);
      seen.push(...page.items.map((x) => x.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all.items.map((x: { id: number }) => x.id));
    expectError(await get('/api/v1/cases?cursor=bm9wZQ'), 400, 'VALIDATION_FAILED');

    // The service desk reads; finance and station staff do not; the cardholder's token is not a staff token.
    expect((await get('/api/v1/cases', 'operator')).status).toBe(200);
    expect((await get(`/api/v1/cases/${freeze.caseId}`, 'operator')).status).toBe(200);
    for (const role of ['finance', 'station_staff'] as const) {
      expectError(await get('/api/v1/cases', role), 403, 'FORBIDDEN');
      expectError(await get(`/api/v1/cases/${freeze.caseId}`, role), 403, 'FORBIDDEN');
      expectError(await get('/api/v1/cases/alerts', role), 403, 'FORBIDDEN');
    }
    expectError(await post(`/api/v1/cases/${freeze.caseId}/assign`, {}, 'operator'), 403, 'FORBIDDEN');
    expectError(await post(`/api/v1/cases/${freeze.caseId}/notes`, { text: 'x' }, 'operator'), 403, 'FORBIDDEN');
    expectError(await resolve(freeze.caseId, { resolution: 'no_action' }, 'operator'), 403, 'FORBIDDEN');
    expectError(await post(`/api/v1/cases/${freeze.caseId}/resolve`, { resolution: 'no_action', note: 'x' }, 'station_staff'), 403, 'FORBIDDEN');
    expectError(await get('/api/v1/cases/987654321'), 404, 'CASES_NOT_FOUND');
  });

  it('a second risk event of the card is another item of the same case; the case takes the worse outcome and the earlier deadline', async () => {
    const card = await newTestCard();
    const first = await openCase(card, 'approve_flag', { amount: 1_000 });
    const second = await openCase(card, 'decline', { amount: 2_000 });
    expect(second).toMatchObject({ caseId: first.caseId, created: false });
    const r = ok(await get(`/api/v1/cases?cardId=${card.id}`), 200);
    expect(r.items).toHaveLength(1);
    expect(r.items[0]).toMatchObject({ outcome: 'decline', priority: 2, items: 2, amount: 3_000 });
  });
});

describe('one case: items, timeline, evidence and the map', () => {
  it('shows the decision’s rules with names and inputs, the sale, the card’s recent sales and the path between stations', async () => {
    const card = await newTestCard();
    const s1 = await realSale(card, shanghai, 3_000);
    const s2 = await realSale(card, pudong, 4_000);
    const opened = await openCase(card, 'freeze', { saleId: s2, amount: 4_000, terminal: pudong });
    const d = ok(await get(`/api/v1/cases/${opened.caseId}`), 200);
    expect(d.case).toMatchObject({ id: opened.caseId, cardNo: card.cardNo, outcome: 'freeze' });
    expect(d.items).toHaveLength(1);
    expect(d.items[0]).toMatchObject({
      decisionId: opened.decisionId,
      saleId: s2,
      rules: [{ rule: 'impossible_travel', zh: '不可能的行程（疑似复制卡）', en: expect.stringContaining('Impossible travel'), enforced: true, inputs: { observed: 123, limit: 100 } }],
      sale: { kind: 'sale', id: s2, amount: 4_000, grade: '92#', volumeMl: 4_000, stationId: pudong.stationId, stationName: '浦东测试站', terminalId: pudong.terminalId, status: 'approved' },
      authorisation: null,
    });
    expect(d.timeline.map((e: { kind: string }) => e.kind)).toEqual(['opened']);
    expect(d.evidence.sales.map((s: { id: string }) => s.id)).toEqual([s2, s1]);
    expect(d.evidence.sales.map((s: { inCase: boolean }) => s.inCase)).toEqual([true, false]);
    const stations = d.evidence.map.stations.map((s: { id: number; lat: number; lng: number }) => [s.id, s.lat, s.lng]);
    expect(stations).toEqual([
      [shanghai.stationId, 31.23, 121.47],
      [pudong.stationId, 31.3, 121.5],
    ]);
    expect(d.evidence.map.path).toHaveLength(1);
    const leg = d.evidence.map.path[0];
    expect(leg).toMatchObject({ fromSaleId: s1, toSaleId: s2, fromStationId: shanghai.stationId, toStationId: pudong.stationId });
    expect(leg.km).toBeGreaterThan(7);
    expect(leg.km).toBeLessThan(9);
    expect(leg.kmh === null || leg.kmh > 0).toBe(true);
    const audit = await sql<{ n: number }>`select count(*)::int as n from audit_log where action = 'privacy.view_unmasked' and target_type = 'risk_case' and target_id = ${String(opened.caseId)}`.execute(server.db.db);
    expect(audit.rows[0]!.n).toBe(1);
  });
});

describe('assignment and notes', () => {
  it('assigns to me by default, only to risk or admin staff, unassigns, takes notes; each change audited with the actor', async () => {
    const card = await newTestCard();
    const { caseId } = await openCase(card, 'decline');
    const riskId = await staffId('risk');
    const me = ok(await post(`/api/v1/cases/${caseId}/assign`), 200);
    expect(me).toMatchObject({ status: 'in_review', assignee: { staffId: riskId, username: 't_risk' } });
    expect(ok(await get('/api/v1/cases?assignedTo=me&limit=200'), 200).items.map((x: { id: number }) => x.id)).toContain(caseId);
    expect(ok(await get('/api/v1/cases?assignedTo=none&limit=200'), 200).items.map((x: { id: number }) => x.id)).not.toContain(caseId);
    expect(ok(await get(`/api/v1/cases?assignedTo=${riskId}&status=in_review&limit=200`), 200).items.map((x: { id: number }) => x.id)).toContain(caseId);

    expectError(await post(`/api/v1/cases/${caseId}/assign`, { staffId: await staffId('operator') }), 400, 'CASES_ASSIGNEE_NOT_ELIGIBLE');
    expectError(await post(`/api/v1/cases/${caseId}/assign`, { staffId: 987_654 }), 400, 'CASES_ASSIGNEE_NOT_ELIGIBLE');
    const adminId = await staffId('admin');
    expect(ok(await post(`/api/v1/cases/${caseId}/assign`, { staffId: adminId }), 200).assignee.staffId).toBe(adminId);
    expect(ok(await post(`/api/v1/cases/${caseId}/unassign`), 200)).toMatchObject({ status: 'open', assignee: null });
    expectError(await post(`/api/v1/cases/${caseId}/unassign`), 409, 'CASES_NOT_ASSIGNED');
    expect((await post(`/api/v1/cases/${caseId}/notes`, { text: '已致电持卡人，本人在外地出差' })).status).toBe(201);
    expectError(await post(`/api/v1/cases/${caseId}/notes`, { text: '' }), 400, 'VALIDATION_FAILED');

    const d = ok(await get(`/api/v1/cases/${caseId}`), 200);
    expect(d.timeline.map((e: { kind: string }) => e.kind)).toEqual(['opened', 'assigned', 'assigned', 'unassigned', 'note']);
    expect(d.timeline[4]).toMatchObject({ staffId: riskId, staffName: 't_risk', body: { text: '已致电持卡人，本人在外地出差' } });
    const audited = await sql<{ action: string; actor_name: string }>`select action, actor_name from audit_log where target_type = 'risk_case' and target_id = ${String(caseId)} and action like 'cases.%' order by id`.execute(server.db.db);
    expect(audited.rows).toEqual([
      { action: 'cases.assign', actor_name: 't_risk' },
      { action: 'cases.assign', actor_name: 't_risk' },
      { action: 'cases.unassign', actor_name: 't_risk' },
      { action: 'cases.note', actor_name: 't_risk' },
    ]);
  });
});

describe('resolutions', () => {
  it('false_positive: the card the case froze is unfrozen and the fired rules are silenced for the card for silenceDays', async () => {
    const card = await newTestCard();
    const { caseId } = await openCase(card, 'freeze', {
      engineFreeze: true,
      hits: [
        { rule: 'impossible_travel', outcome: 'freeze', enforced: true, suppressedBy: null, inputs: { km: 1070, kmh: 6400 } },
        { rule: 'night_sale', outcome: 'approve_flag', enforced: true, suppressedBy: null, inputs: {} },
        { rule: 'sale_amount', outcome: 'decline', enforced: false, suppressedBy: 'shadow', inputs: {} },
      ],
    });
    const r = ok(await resolve(caseId, { resolution: 'false_positive', silenceDays: 3 }), 200);
    expect(r.case).toMatchObject({ status: 'closed', resolution: 'false_positive', resolvedBy: await staffId('risk') });
    expect(r.effects.cardStatus).toEqual({ from: 'frozen', to: 'active' });
    expect(r.effects.silenced.map((s: { rule: string }) => s.rule).sort()).toEqual(['impossible_travel', 'night_sale']);
    expect((await getCard(server, card.cardNo)).status).toBe('active');
    const silences = await sql<{ rule: string; days: number }>`select rule, extract(epoch from (until - created_at)) / 86400 as days from risk_rule_silences where card_id = ${card.id} order by rule`.execute(server.db.db);
    expect(silences.rows.map((s) => [s.rule, Math.round(Number(s.days))])).toEqual([
      ['impossible_travel', 3],
      ['night_sale', 3],
    ]);
    // The engine's own context now reads them as silenced: the holder can retry.
    const ctx = await loadRiskContext(server.db.db, { cardId: card.id, amount: 1, volumeMl: 1, grade: '92#', stationId: shanghai.stationId, terminalId: shanghai.terminalId, at: new Date(Date.now() + 1000), channel: 'online', timeZone: TZ });
    expect(ctx!.silenced.sort()).toEqual(['impossible_travel', 'night_sale']);

    // Resolving twice: a stable 409, nothing changed.
    expectError(await resolve(caseId, { resolution: 'confirmed_fraud' }), 409, 'CASES_ALREADY_RESOLVED');
    expect((await getCard(server, card.cardNo)).status).toBe('active');
    expectError(await post(`/api/v1/cases/${caseId}/assign`), 409, 'CASES_ALREADY_RESOLVED');

    // A later risk event opens a new case.
    const again = await openCase(card, 'decline');
    expect(again.created).toBe(true);
    expect(again.caseId).not.toBe(caseId);
  });

  it('released with silenceDays 0 silences nothing; a card frozen by someone else is left frozen when the case did not freeze it', async () => {
    const card = await newTestCard();
    const { caseId } = await openCase(card, 'decline');
    ok(await cardOp(server, card.cardNo, 'freeze', { reason: 'operator' }), 200);
    const r = ok(await resolve(caseId, { resolution: 'released', silenceDays: 0 }), 200);
    expect(r.effects).toMatchObject({ cardStatus: { from: 'frozen', to: 'frozen' }, silenced: [], released: [] });
  });

  it('a freeze item does not lift a staff freeze: the engine did not freeze, or staff froze the card again after the engine', async () => {
    // Staff froze first; the engine's freeze decision found the card already frozen and froze nothing.
    const staffFirst = await newTestCard();
    ok(await cardOp(server, staffFirst.cardNo, 'freeze', { reason: 'operator' }), 200);
    const a = await openCase(staffFirst, 'freeze');
    expect(ok(await resolve(a.caseId, { resolution: 'false_positive' }), 200).effects.cardStatus).toEqual({ from: 'frozen', to: 'frozen' });
    expect((await getCard(server, staffFirst.cardNo)).status).toBe('frozen');

    // The engine froze, staff unfroze, then staff froze again: the freeze in force is the staff's.
    const refrozen = await newTestCard();
    const b = await openCase(refrozen, 'freeze', { engineFreeze: true });
    ok(await cardOp(server, refrozen.cardNo, 'unfreeze', { reason: 'operator' }), 200);
    ok(await cardOp(server, refrozen.cardNo, 'freeze', { reason: 'operator again' }), 200);
    expect(ok(await resolve(b.caseId, { resolution: 'released' }), 200).effects.cardStatus).toEqual({ from: 'frozen', to: 'frozen' });
    expect((await getCard(server, refrozen.cardNo)).status).toBe('frozen');

    // The control: the engine's freeze for this case's own decision, still in force, is lifted.
    const other = await newTestCard();
    const engine = await openCase(other, 'freeze', { engineFreeze: true });
    ok(await resolve(engine.caseId, { resolution: 'false_positive', silenceDays: 0 }), 200);
    expect((await getCard(server, other.cardNo)).status).toBe('active');
  });

  it('confirmed_fraud freezes the card; card_blocked reports it lost, so it can be replaced', async () => {
    const fraud = await newTestCard();
    const c1 = await openCase(fraud, 'decline');
    const r1 = ok(await resolve(c1.caseId, { resolution: 'confirmed_fraud' }, 'admin'), 200);
    expect(r1.effects.cardStatus).toEqual({ from: 'active', to: 'frozen' });
    expect((await getCard(server, fraud.cardNo)).status).toBe('frozen');

    const blocked = await newTestCard();
    ok(await cardOp(server, blocked.cardNo, 'freeze', { reason: 'risk engine' }), 200);
    const c2 = await openCase(blocked, 'freeze');
    const r2 = ok(await resolve(c2.caseId, { resolution: 'card_blocked' }), 200);
    expect(r2.effects.cardStatus).toEqual({ from: 'frozen', to: 'lost' });
    const after = await getCard(server, blocked.cardNo);
    expect(after.status).toBe('lost');
    const ops = await sql<{ action: string }>`select action from audit_log where action in ('card.freeze','card.report-loss','card.unfreeze') and target_id = ${after.cardNo.slice(0, 6) + '*********' + after.cardNo.slice(-4)} order by id`.execute(server.db.db);
    expect(ops.rows.map((o) => o.action)).toEqual(['card.freeze', 'card.report-loss']);
    // The holder gets a new card on the same accounts at the desk.
    const replaced = ok(await cardOp(server, blocked.cardNo, 'replace', { reason: 'blocked after fraud' }), 200);
    expect(replaced.newCard.cardNo).not.toBe(blocked.cardNo);
    expect(replaced.newCard.balance).toBe(after.balance);
  });

  it('reversed: the listed sales are reversed through the sales module, money back to the card, once; the ledger verifies', async () => {
    const card = await newTestCard(50_000);
    const saleId = await realSale(card, shanghai, 12_000);
    const other = await newTestCard(10_000);
    const othersSale = await realSale(other, shanghai, 1_000);
    const { caseId } = await openCase(card, 'approve_flag', { saleId, amount: 12_000 });
    expect((await getCard(server, card.cardNo)).balance).toBe(38_000);

    // Another card's sale: refused, and the whole resolution with it.
    expectError(await resolve(caseId, { resolution: 'reversed', saleIds: [saleId, othersSale] }), 409, 'CASES_SALE_NOT_REVERSIBLE');
    expectError(await resolve(caseId, { resolution: 'reversed' }), 409, 'CASES_SALE_NOT_REVERSIBLE');
    expect((await getCard(server, card.cardNo)).balance).toBe(38_000);
    expect(ok(await get(`/api/v1/cases/${caseId}`), 200).case.status).toBe('open');

    const r = ok(await resolve(caseId, { resolution: 'reversed', saleIds: [saleId, saleId] }), 200);
    expect(r.effects.reversed).toEqual([{ saleId, amount: 12_000, reversalId: expect.any(String), status: 'reversed' }]);
    expect((await getCard(server, card.cardNo)).balance).toBe(50_000);
    const sale = await sql<{ status: string }>`select status from sales where id = ${saleId}`.execute(server.db.db);
    expect(sale.rows[0]!.status).toBe('reversed');
    // The terminal's own reversal of the same sale later changes nothing (one reversal per reference).
    const ref = (await sql<{ terminal_ref: string }>`select terminal_ref from sales where id = ${saleId}`.execute(server.db.db)).rows[0]!.terminal_ref;
    const rev = await terminalPost(server, shanghai, '/api/v1/pos/reversals', { originalRef: ref, reason: 'timeout' });
    expect(rev.status).toBeLessThan(300);
    expect(rev.body.reversalId).toBe(r.effects.reversed[0].reversalId);
    expect((await getCard(server, card.cardNo)).balance).toBe(50_000);
    expectError(await resolve(caseId, { resolution: 'reversed', saleIds: [saleId] }), 409, 'CASES_ALREADY_RESOLVED');
    await expectLedgerOk(server);
  });

  it('reversed while the terminal reverses the same sale: the resolution waits on the reference, no deadlock, one reversal', async () => {
    const card = await newTestCard(50_000);
    const saleId = await realSale(card, shanghai, 7_000);
    const { caseId } = await openCase(card, 'approve_flag', { saleId, amount: 7_000 });
    const ref = (await sql<{ terminal_ref: string }>`select terminal_ref from sales where id = ${saleId}`.execute(server.db.db)).rows[0]!.terminal_ref;
    const waiting = async () => Number((await sql<{ n: number }>`select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted`.execute(server.db.db)).rows[0]!.n);
    const pending: { resolving?: ReturnType<typeof resolve> } = {};
    // The terminal's reversal holds its reference while the reviewer resolves, then takes the card
    // (giveBack): with the resolution holding the card and waiting on the reference, this deadlocked.
    const terminal = await server.db.db.transaction().execute(async (trx) => {
      await lockTerminalRef(trx, shanghai.terminalId, ref);
      pending.resolving = resolve(caseId, { resolution: 'reversed', saleIds: [saleId] });
      for (let i = 0; i < 100 && (await waiting()) === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(await waiting()).toBeGreaterThan(0);
      return reverseByRef(trx, { id: shanghai.terminalId, stationId: shanghai.stationId }, { originalRef: ref, reason: 'timeout' });
    });
    const r = ok(await pending.resolving!, 200);
    expect(r.effects.reversed).toEqual([{ saleId, amount: 7_000, reversalId: terminal.reversalId, status: 'reversed' }]);
    expect((await getCard(server, card.cardNo)).balance).toBe(50_000);
    const n = await sql<{ n: number }>`select count(*)::int as n from sale_reversals where terminal_id = ${shanghai.terminalId} and original_ref = ${ref}`.execute(server.db.db);
    expect(n.rows[0]!.n).toBe(1);
    await expectLedgerOk(server);
  });

  it('no_action closes the case; notifyHolder sends the holder a message about the resolution', async () => {
    const card = await newTestCard();
    const { caseId } = await openCase(card, 'approve_flag');
    const r = ok(await resolve(caseId, { resolution: 'no_action', notifyHolder: true }), 200);
    expect(r.effects.holderMessageId).toEqual(expect.any(Number));
    const msgs = (await outbox(server)).filter((m) => m.to === card.phone && m.template === 'cases.holder_resolution');
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.text).toContain(card.cardNo.slice(-4));
    expect(msgs[0]!.text).not.toContain(card.cardNo);
    const d = ok(await get(`/api/v1/cases/${caseId}`), 200);
    expect(d.timeline.map((e: { kind: string }) => e.kind)).toEqual(['opened', 'holder_notified', 'resolved']);
    expect(d.timeline.find((e: { kind: string }) => e.kind === 'resolved').body).toMatchObject({ resolution: 'no_action', note: 'checked with the holder' });
  });

  it('two reviewers resolving at once: one wins, the other gets 409 CASES_ALREADY_RESOLVED', async () => {
    const card = await newTestCard();
    const { caseId } = await openCase(card, 'decline');
    const [x, y] = await Promise.all([resolve(caseId, { resolution: 'confirmed_fraud' }), resolve(caseId, { resolution: 'released' }, 'admin')]);
    expect([x.status, y.status].sort()).toEqual([200, 409]);
    expect([x, y].find((r) => r.status === 409)!.body.error.code).toBe('CASES_ALREADY_RESOLVED');
    const resolved = await sql<{ n: number }>`select count(*)::int as n from risk_case_events where case_id = ${caseId} and kind = 'resolved'`.execute(server.db.db);
    expect(resolved.rows[0]!.n).toBe(1);
  });

  it('refuses an unknown resolution and a silence beyond the maximum', async () => {
    const card = await newTestCard();
    const { caseId } = await openCase(card, 'decline');
    expectError(await resolve(caseId, { resolution: 'forgiven' }), 400, 'VALIDATION_FAILED');
    expectError(await resolve(caseId, { resolution: 'released', silenceDays: 91 }), 400, 'VALIDATION_FAILED');
    expectError(await post(`/api/v1/cases/${caseId}/resolve`, { resolution: 'released' }), 400, 'VALIDATION_FAILED');
  });
});

describe('pump authorisations held for review', () => {
  const authStatus = async (id: string) => (await sql<{ status: string }>`select status from pump_authorisations where id = ${id}`.execute(server.db.db)).rows[0]!.status;

  it('no_action is refused while one waits; released lets the pump run and silences the rule; confirmed_fraud refuses it and the hold goes back', async () => {
    const a = await heldAuthorisation();
    const d = ok(await get(`/api/v1/cases/${a.caseId}`), 200);
    expect(d.items.at(-1)).toMatchObject({ outcome: 'delay', authorisationId: a.authorisationId, authorisation: { kind: 'authorisation', amount: 20_000, status: 'review' } });
    expect(d.items.at(-1).rules.map((r: { rule: string }) => r.rule)).toContain('velocity_sales');
    expectError(await resolve(a.caseId, { resolution: 'no_action' }), 409, 'CASES_REVIEW_PENDING');

    const released = ok(await resolve(a.caseId, { resolution: 'released' }), 200);
    expect(released.effects.released).toEqual([a.authorisationId]);
    expect(released.effects.silenced.map((x: { rule: string }) => x.rule)).toContain('velocity_sales');
    expect(await authStatus(a.authorisationId)).toBe('held');

    const b = await heldAuthorisation();
    const refused = ok(await resolve(b.caseId, { resolution: 'confirmed_fraud' }), 200);
    expect(refused.effects).toMatchObject({ refused: [b.authorisationId], cardStatus: { from: 'active', to: 'frozen' } });
    expect(await authStatus(b.authorisationId)).toBe('declined');
    expect((await getCard(server, b.card.cardNo)).available).toBe(b.availableBefore);
    await expectLedgerOk(server);
  });
});

describe('the case job', () => {
  it('marks SLA breaches and alerts staff and holders once each, however often it runs', async () => {
    const frozen = await newTestCard();
    ok(await cardOp(server, frozen.cardNo, 'freeze', { reason: 'risk engine' }), 200);
    const f = await openCase(frozen, 'freeze');
    await openCase(frozen, 'freeze');
    // Delay items whose authorisation was never held for review (none, or declined for funds): no "held" text.
    const held = await newTestCard();
    const h = await openCase(held, 'delay');
    await openCase(held, 'delay', { authorisationId: randomUUID() });
    const quiet = await newTestCard();
    const q = await openCase(quiet, 'approve_flag');
    // A freeze item on a card that is not frozen (the engine could not freeze it, or a reviewer unfroze it): no "frozen" text.
    const unfrozen = await newTestCard();
    const u = await openCase(unfrozen, 'freeze');

    const deps = { cipher: server.deps.cipher, riskDeskPhone: DESK };
    const first = await runCaseJobsOnce(server.db.db, deps, new Date());
    expect(first.newCases).toBeGreaterThanOrEqual(3);
    expect(first.deskMessageId).toEqual(expect.any(Number));
    // 20 minutes on: the delayed case (15 min SLA) is past due; the frozen (4 h) and flagged (24 h) are not.
    const later = new Date(Date.now() + 20 * 60_000);
    const second = await runCaseJobsOnce(server.db.db, deps, later);
    expect(second.newCases).toBe(0);
    expect(second.holderNotices).toBe(0);
    expect(second.breached).toBeGreaterThanOrEqual(1);
    const third = await runCaseJobsOnce(server.db.db, deps, later);
    expect(third).toMatchObject({ breached: 0, newCases: 0, appeals: 0, holderNotices: 0, deskMessageId: null });

    const kinds = async (caseId: number) =>
      (await sql<{ kind: string; alert: string | null; reason: string | null }>`select kind, body->>'alert' as alert, body->>'reason' as reason from risk_case_events
        where case_id = ${caseId} and kind in ('sla_breached','staff_alerted','holder_notified') order by id`.execute(server.db.db)).rows.map((e) => [e.kind, e.alert ?? e.reason]);
    expect(await kinds(f.caseId)).toEqual([
      ['staff_alerted', 'new_case'],
      ['holder_notified', 'frozen'],
    ]);
    expect(await kinds(h.caseId)).toEqual([
      ['staff_alerted', 'new_case'],
      ['sla_breached', null],
      ['staff_alerted', 'sla_breached'],
    ]);
    expect(await kinds(q.caseId)).toEqual([['staff_alerted', 'new_case']]);
    expect(await kinds(u.caseId)).toEqual([['staff_alerted', 'new_case']]);

    const queue = ok(await get(`/api/v1/cases?cardId=${held.id}`), 200);
    expect(queue.items[0].sla.breached).toBe(true);
    expect(ok(await get(`/api/v1/cases?breached=true&cardId=${held.id}`), 200).items).toHaveLength(1);
    expect(ok(await get(`/api/v1/cases?breached=false&cardId=${held.id}`), 200).items).toHaveLength(0);

    const messages = await outbox(server);
    expect(messages.filter((m) => m.to === frozen.phone && m.template === 'cases.holder_frozen')).toHaveLength(1);
    expect(messages.filter((m) => m.to === held.phone)).toHaveLength(0);
    expect(messages.filter((m) => m.to === quiet.phone)).toHaveLength(0);
    expect(messages.filter((m) => m.to === unfrozen.phone)).toHaveLength(0);
    expect(messages.filter((m) => m.to === DESK && m.template === 'cases.staff_alert').length).toBeGreaterThanOrEqual(2);

    const feed = ok(await get('/api/v1/cases/alerts?limit=100'), 200);
    expect(feed.counts.open).toBeGreaterThanOrEqual(3);
    expect(feed.counts.breached).toBeGreaterThanOrEqual(1);
    expect(feed.items.filter((a: { caseId: number }) => a.caseId === h.caseId).map((a: { alert: string }) => a.alert)).toEqual(['sla_breached', 'new_case']);
    expect(ok(await get(`/api/v1/cases/alerts?after=${feed.lastEventId}`), 200).items).toEqual([]);
  });
});

describe('the case job and the sale path', () => {
  it('texts the holder once per pump authorisation really held for review', async () => {
    const a = await heldAuthorisation();
    const deps = { cipher: server.deps.cipher };
    await runCaseJobsOnce(server.db.db, deps, new Date());
    await runCaseJobsOnce(server.db.db, deps, new Date());
    const notices = await sql<{ reason: string }>`select body->>'reason' as reason from risk_case_events where case_id = ${a.caseId} and kind = 'holder_notified'`.execute(server.db.db);
    expect(notices.rows.map((n) => n.reason)).toEqual(['held']);
    expect((await outbox(server)).filter((m) => m.to === a.card.phone && m.template === 'cases.holder_held')).toHaveLength(1);
    ok(await resolve(a.caseId, { resolution: 'confirmed_fraud' }), 200);
    await expectLedgerOk(server);
  });

  it('skips a case someone holds instead of waiting, and never holds a case past its own short transaction', async () => {
    const card = await newTestCard();
    const c = await openCase(card, 'approve_flag');
    const alerted = async () => (await sql`select 1 from risk_case_events where case_id = ${c.caseId} and kind = 'staff_alerted'`.execute(server.db.db)).rows.length;
    await server.db.db.transaction().execute(async (trx) => {
      // A sale extending the case holds its row: the job goes round it.
      await sql`select id from risk_cases where id = ${c.caseId} for update`.execute(trx);
      await runCaseJobsOnce(server.db.db, { cipher: server.deps.cipher }, new Date());
      expect(await alerted()).toBe(0);
    });
    await runCaseJobsOnce(server.db.db, { cipher: server.deps.cipher }, new Date());
    expect(await alerted()).toBe(1);
  });

  it('a sale waits on no job round: a case the round has alerted is free while the round is still running', async () => {
    const card = await newTestCard();
    const c = await openCase(card, 'approve_flag');
    let round: Promise<unknown> | undefined;
    const blocked = async () => Number((await sql<{ n: number }>`select count(*)::int as n from pg_locks l join pg_class k on k.oid = l.relation
      where k.relname = 'messages' and not l.granted`.execute(server.db.db)).rows[0]!.n);
    await server.db.db.transaction().execute(async (hold) => {
      // The round's last step (the desk's summary SMS) cannot write its message until this ends.
      await sql`lock table messages in exclusive mode`.execute(hold);
      round = runCaseJobsOnce(server.db.db, { cipher: server.deps.cipher, riskDeskPhone: DESK }, new Date());
      for (let i = 0; i < 150 && (await blocked()) === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(await blocked()).toBeGreaterThan(0);
      // The sale path's openRiskCase takes the case row FOR UPDATE: it must not wait for the round.
      const got = await server.db.db.transaction().execute(async (sale) => {
        await sql`set local lock_timeout = '1s'`.execute(sale);
        return (await sql`select id from risk_cases where id = ${c.caseId} for update`.execute(sale)).rows.length;
      });
      expect(got).toBe(1);
    });
    await round;
    expect((await sql`select 1 from risk_case_events where case_id = ${c.caseId} and kind = 'staff_alerted'`.execute(server.db.db)).rows).toHaveLength(1);
  });
});

describe('the holder’s view and appeals', () => {
  it('lists why the card was stopped, by rule name and station only; appeals reach a person; other holders’ cards are 404', async () => {
    const card = await newTestCard();
    const other = await newTestCard();
    const token = await signIn(server, card.phone!);
    const as = (method: string, path: string, body?: unknown) => asCardholder(server, token, method, path, body);

    // Nothing decided yet: nothing to appeal.
    expect(ok(await as('GET', `/api/v1/portal/cards/${card.cardNo}/risk-decisions`), 200)).toEqual({ cardNo: card.cardNo, cardStatus: 'active', openCaseId: null, items: [] });
    expectError(await as('POST', `/api/v1/portal/cards/${card.cardNo}/appeals`, { text: '请人工复核' }), 409, 'CASES_NOTHING_TO_APPEAL');

    const opened = await openCase(card, 'decline', { terminal: pudong, hits: [
      { rule: 'sale_amount', outcome: 'decline', enforced: true, suppressedBy: null, inputs: { amount: 5_000, maxAmount: 4_000 } },
      { rule: 'night_sale', outcome: 'approve_flag', enforced: false, suppressedBy: 'shadow', inputs: {} },
    ] });
    await openCase(card, 'approve_flag');
    const mine = ok(await as('GET', `/api/v1/portal/cards/${card.cardNo}/risk-decisions`), 200);
    expect(mine.openCaseId).toBe(opened.caseId);
    expect(mine.items).toEqual([
      { decisionId: opened.decisionId, outcome: 'decline', at: expect.any(String), stationName: '浦东测试站', rules: [{ rule: 'sale_amount', zh: '单笔金额超限', en: 'Single-sale amount over the limit' }], caseId: opened.caseId, caseStatus: 'open' },
    ]);
    expect(JSON.stringify(mine)).not.toContain('maxAmount');

    const appeal = ok(await as('POST', `/api/v1/portal/cards/${card.cardNo}/appeals`, { text: '本人正常加油，请人工复核' }), 201);
    expect(appeal).toMatchObject({ caseId: opened.caseId, opened: false });
    const d = ok(await get(`/api/v1/cases/${opened.caseId}`), 200);
    expect(d.timeline.at(-1)).toMatchObject({ kind: 'appeal', staffId: null, body: { text: '本人正常加油，请人工复核' } });
    const round = await runCaseJobsOnce(server.db.db, { cipher: server.deps.cipher }, new Date());
    expect(round.appeals).toBeGreaterThanOrEqual(1);
    expect((await runCaseJobsOnce(server.db.db, { cipher: server.deps.cipher }, new Date())).appeals).toBe(0);

    // Another holder's card: as if it did not exist.
    expectError(await as('GET', `/api/v1/portal/cards/${other.cardNo}/risk-decisions`), 404, 'CARD_NOT_FOUND');
    expectError(await as('POST', `/api/v1/portal/cards/${other.cardNo}/appeals`, { text: 'x' }), 404, 'CARD_NOT_FOUND');
    // Staff tokens are not cardholder sessions.
    expect((await server.api('GET', `/api/v1/portal/cards/${card.cardNo}/risk-decisions`, { role: 'admin' })).status).toBe(401);

    // After the case is closed, an appeal opens a new one for a person to look at.
    ok(await resolve(opened.caseId, { resolution: 'no_action' }), 200);
    const reopened = ok(await as('POST', `/api/v1/portal/cards/${card.cardNo}/appeals`, { text: '仍然无法使用' }), 201);
    expect(reopened.opened).toBe(true);
    expect(reopened.caseId).not.toBe(opened.caseId);
    const nc = ok(await get(`/api/v1/cases/${reopened.caseId}`), 200);
    expect(nc.case).toMatchObject({ status: 'open', outcome: 'decline', priority: 2, items: 0 });
    expect(nc.timeline.map((e: { kind: string }) => e.kind)).toEqual(['opened', 'appeal']);
    for (let i = 1; i < 5; i++) ok(await as('POST', `/api/v1/portal/cards/${card.cardNo}/appeals`, { text: `第 ${i} 次` }), 201);
    expectError(await as('POST', `/api/v1/portal/cards/${card.cardNo}/appeals`, { text: 'again' }), 429, 'CASES_APPEAL_LIMIT');
  });
});
