import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { balanceOf, expectLedgerOk, newCard, newCustomer, saleBody, sell } from '../../test/support/fuel.js';
import { newForecourt, type Forecourt } from './authorisations.testkit.js';

/**
 * The vehicle rules with real fleet data: a card bound to a vehicle (docs/vehicles.md) gives the
 * risk context its tank and grades, so a fill the tank cannot hold or a grade the engine does not
 * take is declined by the shipped defaults (tank_capacity, grade_mismatch: decline).
 */

let server: TestServer;
let fc: Forecourt;

beforeAll(async () => {
  server = await startTestServer();
  fc = await newForecourt(server);
}, 120_000);
afterAll(async () => server?.close());

async function vehicleCard(tankCapacityMl: number, grades: string[]): Promise<string> {
  const customerId = await newCustomer(server);
  const cardNo = await newCard(server, { customerId, funds: 200_000 });
  const plate = `沪A${String(Math.floor(Math.random() * 90_000) + 10_000)}`;
  const v = await server.api('POST', '/api/v1/vehicles', { body: { customerId, plate, tankCapacityMl, grades } });
  expect(v.status, JSON.stringify(v.body)).toBe(201);
  const bound = await server.api('PUT', `/api/v1/cards/${cardNo}/vehicle`, { body: { vehicleId: v.body.id } });
  expect(bound.status, JSON.stringify(bound.body)).toBe(200);
  return cardNo;
}

async function firedRules(saleId: string): Promise<string[]> {
  const r = await sql<{ hits: { hits: Array<{ rule: string }> } }>`
    select d.hits from sales s join risk_decisions d on d.id = s.risk_decision_id where s.id = ${saleId}`.execute(server.db.db);
  return (r.rows[0]?.hits.hits ?? []).map((h) => h.rule);
}

describe('vehicle rules in the sale path', () => {
  it('a grade the vehicle does not take is declined; its own grade is approved', async () => {
    const cardNo = await vehicleCard(60_000, ['95#']);
    const wrong = await sell(server, fc.terminal, saleBody(cardNo, 8_000, { grade: '92#' }));
    expect(wrong.body).toMatchObject({ status: 'declined', declineCode: 'RISK_DECLINED' });
    expect(await firedRules(wrong.body.saleId)).toContain('grade_mismatch');
    const right = await sell(server, fc.terminal, saleBody(cardNo, 8_000, { grade: '95#' }));
    expect(right.body.status, JSON.stringify(right.body)).toBe('approved');
    expect(await firedRules(right.body.saleId)).not.toContain('grade_mismatch');
    expect(await balanceOf(server, cardNo)).toBe(192_000);
    await expectLedgerOk(server);
  });

  it('a fill beyond the tank (with its tolerance) is declined; a fill that fits is approved', async () => {
    const cardNo = await vehicleCard(50_000, ['92#']);
    // 80 litres at ¥8.00 into a 50-litre tank.
    const over = await sell(server, fc.terminal, saleBody(cardNo, 64_000));
    expect(over.body).toMatchObject({ status: 'declined', declineCode: 'RISK_DECLINED' });
    expect(await firedRules(over.body.saleId)).toContain('tank_capacity');
    // 40 litres fit.
    const fits = await sell(server, fc.terminal, saleBody(cardNo, 32_000));
    expect(fits.body.status, JSON.stringify(fits.body)).toBe('approved');
    expect(await firedRules(fits.body.saleId)).not.toContain('tank_capacity');
    await expectLedgerOk(server);
  });
});
