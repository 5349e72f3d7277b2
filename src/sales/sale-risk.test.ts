import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, terminalPost, type TestServer } from '../../test/support/server.js';
import { balanceOf, card, expectLedgerOk, newCard, newTerminal, saleBody, sell } from '../../test/support/fuel.js';
import type { Trx } from '../platform/index.js';
import { loadRiskContext, type Outcome } from '../risk/index.js';
import { authorise, complete, fuel, get, holdStates, newForecourt, type Forecourt } from './authorisations.testkit.js';
import { publishRiskParams, silenceRisk, staffActor } from './sale-risk.testkit.js';
import { reverse } from './reversals.fixtures.js';
import { configureRiskGate, refuseAuthorisationReview, releaseAuthorisationReview } from './index.js';

/**
 * The risk gate in every channel (docs/risk-sale-path.md). Each case gets its own fleet (a master
 * card and its sub card) with enterprise-scoped parameters published by two staff members, so one
 * case's rules do not touch another's; the programme defaults stay as shipped.
 */

let server: TestServer;
let fc: Forecourt;

beforeAll(async () => {
  server = await startTestServer();
  fc = await newForecourt(server);
}, 120_000);
afterAll(async () => server?.close());

/** A sub card whose fleet's sales above 5 000 fen get `outcome` from the sale_amount rule. */
async function fleetCard(outcome: Outcome, funds = 50_000, extra: Parameters<typeof publishRiskParams>[1] = {}): Promise<{ cardNo: string; cardId: number }> {
  const master = await newCard(server, { kind: 'master' });
  const cardNo = await newCard(server, { kind: 'sub', masterCardNo: master, sharedBalance: false, funds });
  const masterId = await cardIdOf(master);
  await publishRiskParams(server, { sale_amount: { maxAmount: 5_000, outcome }, ...extra }, { scope: 'enterprise', scopeKey: String(masterId) });
  return { cardNo, cardId: await cardIdOf(cardNo) };
}

async function cardIdOf(cardNo: string): Promise<number> {
  return Number((await sql<{ id: number }>`select id from cards where card_no = ${cardNo}`.execute(server.db.db)).rows[0]!.id);
}

async function decisionsOf(cardId: number) {
  const r = await sql<{ id: string; outcome: string; step_up: string | null; note: string | null; hits: { hits: Array<{ rule: string }> } }>`
    select id, outcome, step_up, note, hits from risk_decisions where card_id = ${cardId} order by created_at, id`.execute(server.db.db);
  return r.rows;
}

async function caseItemsOf(cardId: number) {
  const r = await sql<{ outcome: string; channel: string; sale_id: string | null; authorisation_id: string | null; decision_id: string }>`
    select i.outcome, i.channel, i.sale_id, i.authorisation_id, i.decision_id from risk_case_items i join risk_cases c on c.id = i.case_id
    where c.card_id = ${cardId} order by i.id`.execute(server.db.db);
  return r.rows;
}

async function saleRisk(saleId: string) {
  const r = await sql<{ status: string; decline_code: string | null; risk_outcome: string | null; risk_decision_id: string | null; flags: string[] }>`
    select status, decline_code, risk_outcome, risk_decision_id, flags from sales where id = ${saleId}`.execute(server.db.db);
  return r.rows[0]!;
}

const withTx = <T>(fn: (trx: Trx) => Promise<T>) => server.db.db.transaction().execute(fn);

describe('online sale (POST /pos/sales)', () => {
  it('approve_flag: approved, decision and case item, money moved', async () => {
    const { cardNo, cardId } = await fleetCard('approve_flag');
    const r = await sell(server, fc.terminal, saleBody(cardNo, 6_000));
    expect(r.body).toMatchObject({ status: 'approved', balance: 44_000 });
    const [d] = await decisionsOf(cardId);
    expect(d).toMatchObject({ outcome: 'approve_flag' });
    expect(await saleRisk(r.body.saleId)).toMatchObject({ status: 'approved', risk_outcome: 'approve_flag', risk_decision_id: d!.id });
    expect(await caseItemsOf(cardId)).toMatchObject([{ outcome: 'approve_flag', channel: 'online', sale_id: r.body.saleId, decision_id: d!.id }]);
    await expectLedgerOk(server);
  });

  it('a quiet sale is approved with an approve decision and no case', async () => {
    const { cardNo, cardId } = await fleetCard('decline');
    expect((await sell(server, fc.terminal, saleBody(cardNo, 4_000))).body.status).toBe('approved');
    expect((await decisionsOf(cardId)).map((d) => d.outcome)).toEqual(['approve']);
    expect(await caseItemsOf(cardId)).toEqual([]);
  });

  it('step_up: declined RISK_STEP_UP, then approved with riskConfirmation pin / staff, recorded on the decision', async () => {
    const { cardNo, cardId } = await fleetCard('step_up');
    const first = await sell(server, fc.terminal, saleBody(cardNo, 6_000));
    expect(first.body).toMatchObject({ status: 'declined', declineCode: 'RISK_STEP_UP', actionCode: '117' });
    expect(await saleRisk(first.body.saleId)).toMatchObject({ status: 'declined', decline_code: 'RISK_STEP_UP', risk_outcome: 'step_up' });
    expect(await balanceOf(server, cardNo)).toBe(50_000);
    const pin = await sell(server, fc.terminal, saleBody(cardNo, 6_000, { riskConfirmation: 'pin' }));
    expect(pin.body).toMatchObject({ status: 'approved', balance: 44_000 });
    // The challenge was answered: a confirmation on the next sale answers nothing and is stepped up again.
    const unasked = await sell(server, fc.terminal, saleBody(cardNo, 6_000, { riskConfirmation: 'staff' }));
    expect(unasked.body).toMatchObject({ status: 'declined', declineCode: 'RISK_STEP_UP' });
    const staff = await sell(server, fc.terminal, saleBody(cardNo, 6_000, { riskConfirmation: 'staff' }));
    expect(staff.body.status).toBe('approved');
    // A wrong PIN with a 'pin' confirmation is still the cards module's PIN_WRONG: the step-up needs a PIN that verified.
    expect((await sell(server, fc.terminal, saleBody(cardNo, 6_000, { riskConfirmation: 'pin', pin: '000000' }))).body.declineCode).toBe('PIN_WRONG');
    expect((await decisionsOf(cardId)).map((d) => [d.outcome, d.step_up])).toEqual([
      ['step_up', null],
      ['step_up', 'pin'],
      ['step_up', null],
      ['step_up', 'staff'],
    ]);
    expect((await caseItemsOf(cardId)).map((i) => i.outcome)).toEqual(['step_up', 'step_up', 'step_up', 'step_up']);
    expect(await balanceOf(server, cardNo)).toBe(38_000);
    await expectLedgerOk(server);
  });

  it('a confirmation sent on the first try is ignored: only an answer to a recent step-up at this terminal counts', async () => {
    const { cardNo, cardId } = await fleetCard('step_up');
    // Four step-ups in a row are what velocity_declines counts; this test is about the challenge alone.
    await silenceRisk(server, cardNo, ['velocity_declines']);
    const first = await sell(server, fc.terminal, saleBody(cardNo, 6_000, { riskConfirmation: 'pin' }));
    expect(first.body).toMatchObject({ status: 'declined', declineCode: 'RISK_STEP_UP' });
    // The challenge was at fc.terminal: another terminal's confirmation does not answer it.
    const other = await sell(server, fc.cashier, saleBody(cardNo, 6_000, { riskConfirmation: 'pin' }));
    expect(other.body).toMatchObject({ status: 'declined', declineCode: 'RISK_STEP_UP' });
    // A challenge older than STEP_UP_CHALLENGE_MS is stale.
    await sql`update risk_decisions set created_at = created_at - interval '11 minutes' where card_id = ${cardId}`.execute(server.db.db);
    expect((await sell(server, fc.terminal, saleBody(cardNo, 6_000, { riskConfirmation: 'pin' }))).body.declineCode).toBe('RISK_STEP_UP');
    expect((await sell(server, fc.terminal, saleBody(cardNo, 6_000, { riskConfirmation: 'pin' }))).body.status).toBe('approved');
    expect((await decisionsOf(cardId)).map((d) => d.step_up)).toEqual([null, null, null, 'pin']);
    expect(await balanceOf(server, cardNo)).toBe(44_000);
    await expectLedgerOk(server);
  });

  it('delay: declined RISK_REVIEW with a case; decline: RISK_DECLINED with a case; nothing moves', async () => {
    const delayed = await fleetCard('delay');
    const a = await sell(server, fc.terminal, saleBody(delayed.cardNo, 6_000));
    expect(a.body).toMatchObject({ status: 'declined', declineCode: 'RISK_REVIEW' });
    expect(await caseItemsOf(delayed.cardId)).toMatchObject([{ outcome: 'delay', channel: 'online', sale_id: a.body.saleId }]);
    const declined = await fleetCard('decline');
    const b = await sell(server, fc.terminal, saleBody(declined.cardNo, 6_000));
    expect(b.body).toMatchObject({ status: 'declined', declineCode: 'RISK_DECLINED', actionCode: '100' });
    expect(await caseItemsOf(declined.cardId)).toMatchObject([{ outcome: 'decline' }]);
    expect(await balanceOf(server, delayed.cardNo)).toBe(50_000);
    expect(await balanceOf(server, declined.cardNo)).toBe(50_000);
    await expectLedgerOk(server);
  });

  it('freeze: declined RISK_FROZEN, the card frozen in the same transaction and audited as the engine with the decision id', async () => {
    const { cardNo, cardId } = await fleetCard('freeze');
    const r = await sell(server, fc.terminal, saleBody(cardNo, 6_000));
    expect(r.body).toMatchObject({ status: 'declined', declineCode: 'RISK_FROZEN' });
    expect((await card(server, cardNo)).status).toBe('frozen');
    const [d] = await decisionsOf(cardId);
    const audit = await sql<{ actor_name: string; request_id: string; details: { reason: string } }>`
      select actor_name, request_id, details from audit_log where action = 'card.freeze' and request_id = ${`risk-decision:${d!.id}`}`.execute(server.db.db);
    expect(audit.rows).toHaveLength(1);
    expect(audit.rows[0]!.actor_name).toBe('risk-engine');
    expect(audit.rows[0]!.details.reason).toContain(d!.id);
    expect((await sell(server, fc.terminal, saleBody(cardNo, 1_000))).body.declineCode).toBe('CARD_FROZEN');
    await expectLedgerOk(server);
  });

  it('a slow context load hits the budget guard: the sale is approved on hard limits and the fact recorded', async () => {
    const { cardNo, cardId } = await fleetCard('decline');
    // The budget is the configured one (FUELCARD_RISK_CONTEXT_TIMEOUT_MS, 200 ms by default).
    expect(server.deps.config.riskContextTimeoutMs).toBe(200);
    const restore = configureRiskGate({
      loadContext: async (trx, input) => {
        await sql`select pg_sleep(1)`.execute(trx);
        return loadRiskContext(trx, input);
      },
    });
    try {
      const r = await sell(server, fc.terminal, saleBody(cardNo, 6_000));
      expect(r.body).toMatchObject({ status: 'approved', balance: 44_000 });
      expect(await decisionsOf(cardId)).toMatchObject([{ outcome: 'approve_flag', note: 'context_timeout' }]);
      expect(await saleRisk(r.body.saleId)).toMatchObject({ status: 'approved', risk_outcome: 'approve_flag' });
    } finally {
      restore();
    }
    // A hard limit still declines while the engine is broken: the cards module does not depend on it.
    const restore2 = configureRiskGate({ loadContext: async () => Promise.reject(new Error('engine down')) });
    try {
      expect((await sell(server, fc.terminal, saleBody(cardNo, 100_000))).body.declineCode).toBe('INSUFFICIENT_FUNDS');
      expect((await decisionsOf(cardId)).at(-1)).toMatchObject({ outcome: 'approve_flag', note: 'context_error:engine down' });
    } finally {
      restore2();
    }
    await expectLedgerOk(server);
  });
});

describe('pump authorisation (pre-auth) and completion', () => {
  it('delay at the pump: review (923), money held, pump not released; release → held → completed', async () => {
    const { cardNo, cardId } = await fleetCard('delay');
    const a = await authorise(server, fc.terminal, { cardNo, pin: '123456', nozzle: 1, mode: 'prepay', amount: 8_000 });
    expect(a.body).toMatchObject({ status: 'review', actionCode: '923', declineCode: 'RISK_REVIEW', heldAmount: 8_000 });
    expect(a.body.approvalCode).toBeUndefined();
    const id = a.body.authorisationId as string;
    expect(await holdStates(server.db.db, id)).toEqual(['pending']);
    expect((await card(server, cardNo)).available).toBe(42_000);
    expect((await get(server, fc.terminal, `/api/v1/pos/authorisations/${id}`)).body).toMatchObject({ status: 'review', approvalCode: null });
    // The pump was not released: a completion is refused, the nozzle is busy.
    expect((await complete(server, fc.terminal, id, fuel(8_000))).body.error.code).toBe('AUTHORISATION_IN_REVIEW');
    expect((await authorise(server, fc.terminal, { cardNo, pin: '123456', nozzle: 1, mode: 'prepay', amount: 1_000 })).body.declineCode).toBe('NOZZLE_BUSY');
    expect(await caseItemsOf(cardId)).toMatchObject([{ outcome: 'delay', channel: 'preauth', authorisation_id: id }]);

    const reviewer = await staffActor(server, 't_risk');
    const released = await withTx((trx) => releaseAuthorisationReview(trx, server.deps, reviewer, id));
    expect(released.status).toBe('held');
    const polled = await get(server, fc.terminal, `/api/v1/pos/authorisations/${id}`);
    expect(polled.body.status).toBe('held');
    expect(polled.body.approvalCode).toMatch(/^[0-9]{6}$/);
    // Releasing again is a no-op.
    expect((await withTx((trx) => releaseAuthorisationReview(trx, server.deps, reviewer, id))).status).toBe('held');

    // A reviewer releasing again while the terminal completes: the completion holds the
    // authorisation and then asks for the card; the repeated release must not hold the card meanwhile.
    let go!: () => void;
    const gate = new Promise<void>((r) => (go = r));
    let locked = false;
    const completing = server.db.db.transaction().execute(async (trx) => {
      await sql`select id from pump_authorisations where id = ${id} for update`.execute(trx);
      locked = true;
      await gate;
      await sql`select id from cards where id = ${cardId} for update`.execute(trx);
    });
    while (!locked) await new Promise((r) => setTimeout(r, 5));
    const again = withTx((trx) => releaseAuthorisationReview(trx, server.deps, reviewer, id));
    const waiting = async () => Number((await sql<{ n: number }>`select count(*)::int n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`.execute(server.db.db)).rows[0]!.n);
    for (let i = 0; i < 400 && (await waiting()) === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(await waiting()).toBe(1);
    go();
    await completing;
    expect((await again).status).toBe('held');

    const done = await complete(server, fc.terminal, id, fuel(8_000));
    expect(done.body).toMatchObject({ status: 'approved', amount: 8_000 });
    expect(await balanceOf(server, cardNo)).toBe(42_000);
    await expectLedgerOk(server);
  });

  it('delay at the pump: refuse → declined, holds voided, idempotent; an undecided review expires like a hold', async () => {
    const { cardNo } = await fleetCard('delay');
    const a = await authorise(server, fc.terminal, { cardNo, pin: '123456', nozzle: 5, mode: 'preauth', amount: 8_000 });
    const id = a.body.authorisationId as string;
    const reviewer = await staffActor(server, 't_risk');
    expect((await withTx((trx) => refuseAuthorisationReview(trx, server.deps, reviewer, id, 'holder not reachable'))).status).toBe('declined');
    expect((await withTx((trx) => refuseAuthorisationReview(trx, server.deps, reviewer, id, 'again'))).status).toBe('declined');
    expect(await holdStates(server.db.db, id)).toEqual(['voided']);
    expect((await card(server, cardNo)).available).toBe(50_000);
    await expect(withTx((trx) => releaseAuthorisationReview(trx, server.deps, reviewer, id))).rejects.toMatchObject({ code: 'AUTHORISATION_NOT_IN_REVIEW' });

    const b = await authorise(server, fc.terminal, { cardNo, pin: '123456', nozzle: 6, mode: 'preauth', amount: 8_000 });
    const bid = b.body.authorisationId as string;
    await sql`update pump_authorisations set expires_at = clock_timestamp() - interval '1 second' where id = ${bid}`.execute(server.db.db);
    const { expireAuthorisations } = await import('./index.js');
    expect(await expireAuthorisations(server.db.db)).toBeGreaterThanOrEqual(1);
    expect((await get(server, fc.terminal, `/api/v1/pos/authorisations/${bid}`)).body.status).toBe('expired');
    expect(await holdStates(server.db.db, bid)).toEqual(['voided']);
    expect((await card(server, cardNo)).available).toBe(50_000);
    await expectLedgerOk(server);
  });

  it('pre-auth decline / step-up are declines with nothing held', async () => {
    const { cardNo } = await fleetCard('decline');
    const a = await authorise(server, fc.terminal, { cardNo, pin: '123456', nozzle: 7, mode: 'prepay', amount: 8_000 });
    expect(a.body).toMatchObject({ status: 'declined', declineCode: 'RISK_DECLINED', authorisationId: null, heldAmount: 0 });
    const s = await fleetCard('step_up');
    expect((await authorise(server, fc.terminal, { cardNo: s.cardNo, pin: '123456', nozzle: 7, mode: 'prepay', amount: 8_000 })).body.declineCode).toBe('RISK_STEP_UP');
    const ok = await authorise(server, fc.terminal, { cardNo: s.cardNo, pin: '123456', nozzle: 7, mode: 'prepay', amount: 8_000, riskConfirmation: 'staff' });
    expect(ok.body.status).toBe('approved');
    expect((await complete(server, fc.terminal, ok.body.authorisationId, fuel(8_000))).body.status).toBe('approved');
    await expectLedgerOk(server);
  });

  it('two pumps on one card cannot both pass a daily limit set by risk params (period_amount)', async () => {
    const { cardNo, cardId } = await fleetCard('approve_flag', 50_000, { period_amount: { dayAmount: 10_000, outcome: 'decline' } });
    const t2 = await newTerminal(server, fc.stationId);
    const [a, b] = await Promise.all([
      authorise(server, fc.terminal, { cardNo, pin: '123456', nozzle: 2, mode: 'prepay', amount: 4_000 }),
      authorise(server, t2, { cardNo, pin: '123456', nozzle: 3, mode: 'prepay', amount: 4_000 }),
    ]);
    // 4 000 each: under the sale_amount threshold, together under the day limit.
    expect([a.body.status, b.body.status]).toEqual(['approved', 'approved']);
    const [c, d] = await Promise.all([
      authorise(server, fc.terminal, { cardNo, pin: '123456', nozzle: 4, mode: 'prepay', amount: 1_500 }),
      authorise(server, t2, { cardNo, pin: '123456', nozzle: 8, mode: 'prepay', amount: 1_500 }),
    ]);
    // 8 000 held + 1 500 fits under 10 000 once; the second sees the first's hold under the card's lock.
    expect([c.body.status, d.body.status].sort()).toEqual(['approved', 'declined']);
    expect([c.body.declineCode, d.body.declineCode]).toContain('RISK_DECLINED');
    const hits = (await decisionsOf(cardId)).filter((x) => x.outcome === 'decline').flatMap((x) => x.hits.hits.map((h) => h.rule));
    expect(hits).toContain('period_amount');
    for (const x of [a, b, c, d]) if (x.body.status === 'approved') await complete(server, fc.terminal, x.body.authorisationId, fuel(1_000));
    await expectLedgerOk(server);
  });

  it('a completion does not count its own amount twice against a period limit', async () => {
    // Day limit 8 000, nothing else spent: a 5 000 prepay completed with 5 000 is 5 000 of the day, not 10 000.
    const { cardNo, cardId } = await fleetCard('approve_flag', 50_000, { period_amount: { dayAmount: 8_000, outcome: 'decline' } });
    const f = await newForecourt(server);
    const a = await authorise(server, f.terminal, { cardNo, pin: '123456', nozzle: 1, mode: 'prepay', amount: 5_000 });
    expect(a.body.status).toBe('approved');
    const done = await complete(server, f.terminal, a.body.authorisationId, fuel(5_000));
    expect(done.body).toMatchObject({ status: 'approved', amount: 5_000 });
    expect(await saleRisk(done.body.saleId)).toMatchObject({ status: 'approved', risk_outcome: 'approve' });
    expect((await decisionsOf(cardId)).map((d) => d.outcome)).toEqual(['approve', 'approve']);
    // The usage was counted once, after the look: a further 4 000 is over the day's 8 000.
    expect((await sell(server, f.terminal, saleBody(cardNo, 4_000))).body.declineCode).toBe('RISK_DECLINED');
    await expectLedgerOk(server);
  });

  it('a review the funds check then declines leaves no case item or decision pointing at an authorisation', async () => {
    const { cardNo, cardId } = await fleetCard('delay', 6_000);
    const f = await newForecourt(server);
    const a = await authorise(server, f.terminal, { cardNo, pin: '123456', nozzle: 1, mode: 'prepay', amount: 8_000 });
    expect(a.body).toMatchObject({ status: 'declined', declineCode: 'INSUFFICIENT_FUNDS', authorisationId: null, heldAmount: 0 });
    const d = await sql<{ outcome: string; authorisation_id: string | null }>`select outcome, authorisation_id from risk_decisions where card_id = ${cardId}`.execute(server.db.db);
    expect(d.rows).toEqual([{ outcome: 'delay', authorisation_id: null }]);
    expect(await caseItemsOf(cardId)).toMatchObject([{ outcome: 'delay', channel: 'preauth', authorisation_id: null }]);
    const n = await sql<{ n: number }>`select count(*)::int as n from pump_authorisations where card_id = ${cardId}`.execute(server.db.db);
    expect(n.rows[0]!.n).toBe(0);
    expect(await balanceOf(server, cardNo)).toBe(6_000);
    await expectLedgerOk(server);
  });

  it('a review that expired or was reversed was never released: no approval code, no late completion', async () => {
    const { cardNo } = await fleetCard('delay');
    const f = await newForecourt(server);
    const a = await authorise(server, f.terminal, { cardNo, pin: '123456', nozzle: 1, mode: 'prepay', amount: 8_000 });
    const id = a.body.authorisationId as string;
    expect(a.body.status).toBe('review');
    await sql`update pump_authorisations set expires_at = clock_timestamp() - interval '1 second' where id = ${id}`.execute(server.db.db);
    const { expireAuthorisations } = await import('./index.js');
    await expireAuthorisations(server.db.db);
    expect((await get(server, f.terminal, `/api/v1/pos/authorisations/${id}`)).body).toMatchObject({ status: 'expired', approvalCode: null });
    const late = await complete(server, f.terminal, id, fuel(8_000));
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('AUTHORISATION_IN_REVIEW');
    expect(await balanceOf(server, cardNo)).toBe(50_000);

    const ref = randomUUID();
    const b = await authorise(server, f.terminal, { cardNo, pin: '123456', nozzle: 2, mode: 'prepay', amount: 8_000 }, ref);
    expect(b.body.status).toBe('review');
    expect((await reverse(server, f.terminal, ref)).status).toBe(200);
    expect((await get(server, f.terminal, `/api/v1/pos/authorisations/${b.body.authorisationId}`)).body).toMatchObject({ status: 'reversed', approvalCode: null });
    // An authorisation approved outright and then expired still shows its code and completes late (the pump ran).
    const ok = await fleetCard('approve_flag');
    const c = await authorise(server, f.terminal, { cardNo: ok.cardNo, pin: '123456', nozzle: 3, mode: 'prepay', amount: 4_000 });
    await sql`update pump_authorisations set expires_at = clock_timestamp() - interval '1 second' where id = ${c.body.authorisationId}`.execute(server.db.db);
    await expireAuthorisations(server.db.db);
    expect((await get(server, f.terminal, `/api/v1/pos/authorisations/${c.body.authorisationId}`)).body.approvalCode).toBe(c.body.approvalCode);
    expect((await complete(server, f.terminal, c.body.authorisationId, fuel(4_000))).body.status).toBe('approved');
    await expectLedgerOk(server);
  });

  it('a review is not released for a card reported lost or frozen meanwhile: 409, still in review, money held', async () => {
    const { cardNo } = await fleetCard('delay');
    const f = await newForecourt(server);
    const a = await authorise(server, f.terminal, { cardNo, pin: '123456', nozzle: 1, mode: 'prepay', amount: 8_000 });
    const id = a.body.authorisationId as string;
    await sql`update cards set status = 'lost' where card_no = ${cardNo}`.execute(server.db.db);
    const reviewer = await staffActor(server, 't_risk');
    await expect(withTx((trx) => releaseAuthorisationReview(trx, server.deps, reviewer, id))).rejects.toMatchObject({ code: 'AUTHORISATION_RELEASE_CARD_BLOCKED' });
    expect((await get(server, f.terminal, `/api/v1/pos/authorisations/${id}`)).body).toMatchObject({ status: 'review', approvalCode: null });
    expect(await holdStates(server.db.db, id)).toEqual(['pending']);
    // The reviewer refuses it instead: holds voided.
    expect((await withTx((trx) => refuseAuthorisationReview(trx, server.deps, reviewer, id, 'card reported lost'))).status).toBe('declined');
    expect(await holdStates(server.db.db, id)).toEqual(['voided']);
    await expectLedgerOk(server);
  });

  it('a completion of a review is refused without waiting for the card lock a reviewer holds (no deadlock)', async () => {
    const { cardNo } = await fleetCard('delay');
    const f = await newForecourt(server);
    const a = await authorise(server, f.terminal, { cardNo, pin: '123456', nozzle: 1, mode: 'prepay', amount: 8_000 });
    expect(a.body.status).toBe('review');
    const client = await server.db.pool.connect();
    try {
      await client.query('begin');
      // A case resolution's first lock: the card.
      await client.query('select id from cards where card_no = $1 for update', [cardNo]);
      const outcome = await Promise.race([
        complete(server, f.terminal, a.body.authorisationId, fuel(8_000)),
        new Promise<'blocked'>((resolve) => setTimeout(() => resolve('blocked'), 3_000)),
      ]);
      expect(outcome).not.toBe('blocked');
      expect((outcome as { body: { error: { code: string } } }).body.error.code).toBe('AUTHORISATION_IN_REVIEW');
    } finally {
      await client.query('rollback');
      client.release();
    }
  });

  it('completion: a second look with the real amount can only flag and freeze, never refuse', async () => {
    const cardNo = await newCard(server, { funds: 50_000 });
    const cardId = await cardIdOf(cardNo);
    // Two small sales, then a pre-auth (not small): card testing has not fired yet.
    for (let i = 0; i < 2; i++) expect((await sell(server, fc.terminal, saleBody(cardNo, 500))).body.status).toBe('approved');
    const a = await authorise(server, fc.terminal, { cardNo, pin: '123456', nozzle: 2, mode: 'prepay', amount: 5_000 });
    expect(a.body.status).toBe('approved');
    // The pump delivered a third small amount: card testing (freeze) at the completion.
    const done = await complete(server, fc.terminal, a.body.authorisationId, fuel(500));
    expect(done.body).toMatchObject({ status: 'approved', amount: 500 });
    expect(await saleRisk(done.body.saleId)).toMatchObject({ status: 'approved', risk_outcome: 'freeze' });
    expect((await saleRisk(done.body.saleId)).flags).toContain('risk_flagged');
    expect((await card(server, cardNo)).status).toBe('frozen');
    expect(await caseItemsOf(cardId)).toMatchObject([{ outcome: 'freeze', channel: 'completion', sale_id: done.body.saleId }]);
    expect(await balanceOf(server, cardNo)).toBe(50_000 - 1_500);
    await expectLedgerOk(server);
  });
});

describe('offline upload', () => {
  it('a sale the engine would decline or freeze is posted, flagged, with a case; freeze freezes the card', async () => {
    const declined = await fleetCard('decline');
    const frozen = await fleetCard('freeze');
    const at = new Date(Date.now() - 20 * 60_000).toISOString();
    const sale = (cardNo: string, seq: number) => ({ seq, cardNo, grade: '92#', volumeMl: 6_000, unitPrice: 1000, amount: 6_000, nozzle: 2, occurredAt: at, approvalCode: '654321' });
    const r = await terminalPost(server, fc.terminal, '/api/v1/pos/offline-batches', {
      batchNo: `B${randomUUID().slice(0, 8)}`,
      sales: [sale(declined.cardNo, 1), sale(frozen.cardNo, 2)],
    });
    expect(r.status).toBe(200);
    expect(r.body.summary).toMatchObject({ posted: 2, rejected: 0 });
    for (const res of r.body.results) expect(res.flags).toContain('risk_flagged');
    expect(await saleRisk(r.body.results[0].saleId)).toMatchObject({ status: 'approved', risk_outcome: 'decline' });
    expect(await saleRisk(r.body.results[1].saleId)).toMatchObject({ status: 'approved', risk_outcome: 'freeze' });
    expect(await caseItemsOf(declined.cardId)).toMatchObject([{ outcome: 'decline', channel: 'offline' }]);
    expect((await card(server, frozen.cardNo)).status).toBe('frozen');
    expect((await card(server, declined.cardNo)).status).toBe('active');
    expect(await balanceOf(server, declined.cardNo)).toBe(44_000);
    await expectLedgerOk(server);
  });
});

describe('card-testing storm', () => {
  it('40 small sales over 4 terminals at once: the card is frozen at the threshold and every later sale declined', async () => {
    const cardNo = await newCard(server, { funds: 50_000 });
    const cardId = await cardIdOf(cardNo);
    const terminals = [fc.terminal, fc.cashier, await newTerminal(server, fc.stationId), await newTerminal(server, fc.stationId)];
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => sell(server, terminals[i % 4]!, saleBody(cardNo, 500))));
    const codes = results.map((r) => r.body.declineCode ?? r.body.status);
    // Default card_testing: the third sale under ¥10 within 30 minutes freezes the card.
    expect(codes.filter((c) => c === 'approved')).toHaveLength(2);
    expect(codes.filter((c) => c === 'RISK_FROZEN')).toHaveLength(1);
    expect(codes.filter((c) => c === 'CARD_FROZEN')).toHaveLength(37);
    expect((await card(server, cardNo)).status).toBe('frozen');
    expect(await balanceOf(server, cardNo)).toBe(49_000);
    const items = await caseItemsOf(cardId);
    expect(items).toMatchObject([{ outcome: 'freeze', channel: 'online' }]);
    await expectLedgerOk(server);
  }, 60_000);

});
