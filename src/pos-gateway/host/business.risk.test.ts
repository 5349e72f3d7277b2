/**
 * The risk engine's answers over ISO 8583 (docs/risk-sale-path.md): ISO has no way to poll an
 * authorisation in review nor to answer a step-up, so a pre-auth the engine delays is a plain
 * RISK_REVIEW decline (100) holding nothing; a risk decline of a 1200 is its decline code's action
 * code with nothing debited. Parameters are published as operators do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { startTestServer, type TestServer } from '../../../test/support/server.js';
import { expectLedgerVerified, getCard, issueCard } from '../../../test/support/cards-factory.js';
import { startPosGateway, type PosGateway } from '../gateway.js';
import { publishRiskParams } from '../../sales/sale-risk.testkit.js';
import { amountField, de48, fuelLine, isoForecourt, pinBlock, type IsoForecourt } from './business.test-support.js';

let server: TestServer;
let gw: PosGateway;
let t: IsoForecourt;
let seq = 0;

beforeAll(async () => {
  server = await startTestServer();
  gw = await startPosGateway({ db: server.deps.db, config: server.config, logger: server.deps.logger }, { port: 0, host: '127.0.0.1' });
  t = await isoForecourt(server, gw.port);
});
afterAll(async () => {
  t?.conn.close();
  await gw?.stop();
  await server?.close();
});

const balanceOf = async (cardNo: string): Promise<number> => (await getCard(server, cardNo)).balance;

describe('risk answers over ISO 8583', () => {
  it('1100 the engine delays: a plain decline (100), no hold fields, no authorisation, nothing held; the nozzle stays free', async () => {
    await publishRiskParams(server, { sale_amount: { maxAmount: 50_000, outcome: 'delay' } });
    const cardNo = (await issueCard(server, { funds: 100_000 })).cardNo as string;
    const a = await t.send('1100', [
      [2, cardNo],
      [3, '000000'],
      [4, amountField(60_000)],
      [24, '100'],
      [26, '5542'],
      [48, de48(1, ++seq, { pinMethod: '01' })],
      [49, '156'],
      [52, pinBlock(t.sim, cardNo)],
    ]);
    expect(a.msg.mti).toBe('1110');
    expect(a.field(39)).toBe('100');
    expect(a.field(38)).toBeUndefined();
    expect(a.field(62)).toBeUndefined();
    const r = await sql<{ status: string }>`select a.status from pump_authorisations a
      join cards c on c.id = a.card_id where c.card_no = ${cardNo}`.execute(server.db.db);
    expect(r.rows).toEqual([]);
    const items = await sql<{ outcome: string; authorisation_id: string | null }>`select i.outcome, i.authorisation_id from risk_case_items i
      join risk_cases k on k.id = i.case_id join cards c on c.id = k.card_id where c.card_no = ${cardNo}`.execute(server.db.db);
    expect(items.rows).toEqual([{ outcome: 'delay', authorisation_id: null }]);
    expect(await balanceOf(cardNo)).toBe(100_000);
    // The nozzle is not busy: a smaller pre-auth (under the threshold) on it is approved.
    const b = await t.send('1100', [
      [2, cardNo],
      [3, '000000'],
      [4, amountField(10_000)],
      [24, '100'],
      [26, '5542'],
      [48, de48(1, ++seq, { pinMethod: '01' })],
      [49, '156'],
      [52, pinBlock(t.sim, cardNo)],
    ]);
    expect(b.field(39)).toBe('000');
    await expectLedgerVerified(server);
  });

  it('1200 declined by risk: its action code (100), nothing debited, the decline recorded', async () => {
    await publishRiskParams(server, { sale_amount: { maxAmount: 50_000, outcome: 'decline' } });
    const cardNo = (await issueCard(server, { funds: 100_000 })).cardNo as string;
    const s = await t.send('1200', [
      [2, cardNo],
      [3, '000000'],
      [4, amountField(60_000)],
      [24, '200'],
      [26, '5541'],
      [48, de48(3, ++seq, { pinMethod: '01' })],
      [49, '156'],
      [52, pinBlock(t.sim, cardNo)],
      [63, fuelLine('92', 75_000, 800, 60_000)],
    ]);
    expect(s.msg.mti).toBe('1210');
    expect(s.field(39)).toBe('100');
    expect(s.field(38)).toBeUndefined();
    expect(await balanceOf(cardNo)).toBe(100_000);
    const d = await sql<{ decline_code: string; risk_outcome: string }>`select s.decline_code, s.risk_outcome from sales s
      join cards c on c.id = s.card_id where c.card_no = ${cardNo}`.execute(server.db.db);
    expect(d.rows).toEqual([{ decline_code: 'RISK_DECLINED', risk_outcome: 'decline' }]);
    await expectLedgerVerified(server);
  });
});
