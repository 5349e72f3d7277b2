import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { signTerminalRequest, startTestServer, type TestServer } from '../../test/support/server.js';
import { expectError, issueCard, newStation, ok, sell, type TestTerminal } from '../../test/support/cards-factory.js';
import { expectLedgerOk } from '../../test/support/fuel.js';
import { systemActor } from '../platform/index.js';
import { setPrice } from './index.js';

// Every price here is a station's own, on its own station: national prices would reach the other tests' stations.
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());
afterEach(async () => expectLedgerOk(server));

const inMinutes = (m: number) => new Date(Date.now() + m * 60_000);
const postPrice = (body: Record<string, unknown>) => server.api('POST', '/api/v1/prices', { role: 'operator', body });
/** A price set by a data loader at any time, past included (the API refuses the past). */
const backdated = (stationId: number, grade: string, unitPrice: number, minutesAgo: number) =>
  setPrice(server.db.db, systemActor, { grade, unitPrice, stationId }, { effectiveFrom: inMinutes(-minutesAgo) });

async function forecourt(terminal: TestTerminal, headers: Record<string, string> = {}) {
  const path = '/api/v1/pos/forecourt';
  const signed = signTerminalRequest(terminal, 'GET', path, '');
  delete signed['content-type'];
  const res = await fetch(server.baseUrl + path, { headers: { ...signed, ...headers } });
  return { status: res.status, etag: res.headers.get('etag'), body: res.status === 200 ? ((await res.json()) as any) : await res.text() };
}

/** A litre-exact sale body at `unitPrice`: 10 L. */
const at = (unitPrice: number, grade = '92#') => ({ grade, unitPrice, volumeMl: 10_000, amount: unitPrice * 10 });

describe('scheduled price changes', () => {
  it('schedules a change, shows it as next, lists it in the history, cancels it and audits both', async () => {
    const { stationId } = await newStation(server);
    const now = ok(await postPrice({ grade: '95#', unitPrice: 793, stationId }), 201);
    expect(now).toMatchObject({ grade: '95#', unitPrice: 793, stationId });
    const midnight = inMinutes(90).toISOString();
    const scheduled = ok(await postPrice({ grade: '95#', unitPrice: 805, stationId, effectiveFrom: midnight }), 201);
    expect(scheduled).toEqual({ id: expect.any(Number), grade: '95#', unitPrice: 805, stationId, province: null, scope: 'station', effectiveFrom: midnight });

    const list = ok(await server.api('GET', `/api/v1/prices?stationId=${stationId}`, { role: 'finance' }), 200);
    expect(list.items.filter((p: any) => p.grade === '95#')).toEqual([now]);
    expect(list.next).toEqual([scheduled]);

    const history = ok(await server.api('GET', `/api/v1/prices/history?grade=95%23&stationId=${stationId}&limit=5`, { role: 'station_staff' }), 200);
    expect(history.items.map((p: any) => [p.unitPrice, p.status, p.createdBy])).toEqual([
      [805, 'scheduled', 't_operator'],
      [793, 'in_force', 't_operator'],
    ]);
    expect(ok(await server.api('GET', `/api/v1/prices/history?grade=95%23&stationId=${stationId}&limit=1`), 200).items).toHaveLength(1);

    const audit = await sql<{ action: string; details: any }>`select action, details from audit_log where target_type = 'fuel_price' and target_id = ${String(scheduled.id)} order by id`.execute(server.db.db);
    expect(audit.rows[0]).toMatchObject({ action: 'price.set', details: { unitPrice: 805, previousUnitPrice: 793, scheduled: true, effectiveFrom: midnight } });

    expect(ok(await server.api('DELETE', `/api/v1/prices/${scheduled.id}`, { role: 'operator' }), 200)).toEqual(scheduled);
    expect(ok(await server.api('GET', `/api/v1/prices?stationId=${stationId}`), 200).next).toEqual([]);
    expectError(await server.api('DELETE', `/api/v1/prices/${scheduled.id}`), 404, 'PRICE_NOT_FOUND');
    const cancelled = await sql<{ action: string; details: any }>`select action, details from audit_log where action = 'price.cancelled' and target_id = ${String(scheduled.id)}`.execute(server.db.db);
    expect(cancelled.rows[0]!.details).toMatchObject({ unitPrice: 805, effectiveFrom: midnight });
  });

  it('refuses to cancel a price in force, a time in the past, a bad time, and lets only admin/operator change', async () => {
    const { stationId } = await newStation(server);
    const now = ok(await postPrice({ grade: '98#', unitPrice: 886, stationId }), 201);
    expectError(await server.api('DELETE', `/api/v1/prices/${now.id}`), 409, 'PRICE_ALREADY_EFFECTIVE');
    const past = await postPrice({ grade: '98#', unitPrice: 880, stationId, effectiveFrom: inMinutes(-5).toISOString() });
    expectError(past, 400, 'PRICE_EFFECTIVE_IN_PAST');
    expect(past.body.error.details).toMatchObject({ field: 'body.effectiveFrom' });
    // Within the minute of slack: in force at once.
    expect(ok(await postPrice({ grade: '98#', unitPrice: 881, stationId, effectiveFrom: inMinutes(-0.5).toISOString() }), 201).unitPrice).toBe(881);
    expect(ok(await server.api('GET', `/api/v1/prices?stationId=${stationId}`), 200).items.find((p: any) => p.grade === '98#').unitPrice).toBe(881);
    expectError(await postPrice({ grade: '98#', unitPrice: 880, stationId, effectiveFrom: 'tomorrow' }), 400, 'VALIDATION_FAILED');
    const future = ok(await postPrice({ grade: '98#', unitPrice: 899, stationId, effectiveFrom: inMinutes(60).toISOString() }), 201);
    expectError(await server.api('DELETE', `/api/v1/prices/${future.id}`, { role: 'finance' }), 403, 'FORBIDDEN');
    expectError(await server.api('DELETE', '/api/v1/prices/999999999'), 404, 'PRICE_NOT_FOUND');
    expectError(await server.api('GET', '/api/v1/prices/history?grade=97%23'), 400, 'GRADE_UNKNOWN');
    expectError(await server.api('GET', '/api/v1/prices/history'), 400, 'VALIDATION_FAILED');
    expectError(await server.api('GET', '/api/v1/prices/history?grade=92%23&limit=501'), 400, 'VALIDATION_FAILED');
  });
});

describe('the POS forecourt: next price and ETag', () => {
  it('gives each nozzle its next price, tags the answer and answers 304 while nothing changed, still signed', async () => {
    const { stationId, terminal } = await newStation(server);
    ok(await server.api('PUT', `/api/v1/stations/${stationId}/nozzles`, { body: { items: [{ nozzle: 1, grade: '0#' }] } }), 200);
    ok(await postPrice({ grade: '0#', unitPrice: 712, stationId }), 201);
    const first = await forecourt(terminal);
    expect(first.status).toBe(200);
    expect(first.body.nozzles).toEqual([{ nozzle: 1, pump: null, grade: '0#', gradeName: '0号柴油', gradeNameEn: 'Diesel 0', unitPrice: 712, nextUnitPrice: null, nextEffectiveFrom: null }]);
    expect(first.etag).toMatch(/^"[\w-]{27}"$/);

    const again = await forecourt(terminal, { 'if-none-match': first.etag! });
    expect(again).toMatchObject({ status: 304, etag: first.etag, body: '' });
    // The tag does not stand in for the signature.
    const unsigned = await fetch(`${server.baseUrl}/api/v1/pos/forecourt`, { headers: { 'if-none-match': first.etag! } });
    expect(unsigned.status).toBe(401);

    const when = inMinutes(30).toISOString();
    ok(await postPrice({ grade: '0#', unitPrice: 720, stationId, effectiveFrom: when }), 201);
    const changed = await forecourt(terminal, { 'if-none-match': first.etag! });
    expect(changed.status).toBe(200);
    expect(changed.etag).not.toBe(first.etag);
    expect(changed.body.nozzles[0]).toMatchObject({ unitPrice: 712, nextUnitPrice: 720, nextEffectiveFrom: when });
  });
});

describe('price enforcement at sale time', () => {
  it('declines a sale at another price than the one in force, with PRICE_MISMATCH, moving no money', async () => {
    const { stationId, terminal } = await newStation(server);
    await backdated(stationId, '92#', 745, 60);
    const card = await issueCard(server, { funds: 100_000 });
    const declined = await sell(server, terminal, card.cardNo, 0, at(760));
    expect(declined).toMatchObject({ status: 'declined', declineCode: 'PRICE_MISMATCH', actionCode: '902', balance: null });
    expect(declined.message).toMatch(/单价.*\/ Unit price/);
    expect(ok(await server.api('GET', `/api/v1/sales/${declined.saleId}`), 200)).toMatchObject({ status: 'declined', declineCode: 'PRICE_MISMATCH', unitPrice: 760 });
    expect(await sell(server, terminal, card.cardNo, 0, at(745))).toMatchObject({ status: 'approved', balance: 100_000 - 7_450 });
    // A wrong PIN is still answered as a wrong PIN, whatever the price.
    expect(await sell(server, terminal, card.cardNo, 0, { ...at(760), pin: '000000' })).toMatchObject({ declineCode: 'PIN_WRONG' });
  });

  it('accepts the previous price within the grace after a change, and not after it', async () => {
    const { stationId, terminal } = await newStation(server);
    const card = await issueCard(server, { funds: 100_000 });
    await backdated(stationId, '95#', 793, 120);
    await backdated(stationId, '95#', 805, 2); // changed 2 minutes ago: inside the default 300 s
    expect(await sell(server, terminal, card.cardNo, 0, at(793, '95#'))).toMatchObject({ status: 'approved' });
    expect(await sell(server, terminal, card.cardNo, 0, at(805, '95#'))).toMatchObject({ status: 'approved' });
    expect(await sell(server, terminal, card.cardNo, 0, at(780, '95#'))).toMatchObject({ status: 'declined', declineCode: 'PRICE_MISMATCH' });

    await backdated(stationId, '98#', 872, 120);
    await backdated(stationId, '98#', 886, 10); // 10 minutes ago: the grace is over
    expect(await sell(server, terminal, card.cardNo, 0, at(872, '98#'))).toMatchObject({ status: 'declined', declineCode: 'PRICE_MISMATCH' });
    expect(await sell(server, terminal, card.cardNo, 0, at(886, '98#'))).toMatchObject({ status: 'approved' });
  });

  it('sees a price set through the API at the next sale (the cache is dropped)', async () => {
    const { stationId, terminal } = await newStation(server);
    const card = await issueCard(server, { funds: 100_000 });
    // No price for 0# at this station: any price sells, and the station's rows are now cached.
    expect(await sell(server, terminal, card.cardNo, 0, at(650, '0#'))).toMatchObject({ status: 'approved' });
    await backdated(stationId, '0#', 700, 60);
    expect(await sell(server, terminal, card.cardNo, 0, at(650, '0#'))).toMatchObject({ declineCode: 'PRICE_MISMATCH' });
    ok(await postPrice({ grade: '0#', unitPrice: 712, stationId }), 201);
    expect(await sell(server, terminal, card.cardNo, 0, at(712, '0#'))).toMatchObject({ status: 'approved' });
    expect(await sell(server, terminal, card.cardNo, 0, at(700, '0#'))).toMatchObject({ status: 'approved' }); // within the grace
  });

  it('does not enforce a grade without any price', async () => {
    const { terminal } = await newStation(server);
    const card = await issueCard(server, { funds: 100_000 });
    expect(await sell(server, terminal, card.cardNo, 0, at(1234, '-10#'))).toMatchObject({ status: 'approved' });
    expect(await sell(server, terminal, card.cardNo, 0, at(999, '-10#'))).toMatchObject({ status: 'approved' });
  });
});
