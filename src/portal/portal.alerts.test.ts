import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { expectLedgerOk, newCard, newStation, recharge, saleBody, sell, type Terminal } from '../../test/support/fuel.js';
import { runLowBalanceAlerts, startPortalJobs } from './index.js';
import { silenceRisk } from '../sales/sale-risk.testkit.js';
import { asCardholder, customerWithPhone, newPhone, outbox, phoneBidx, signIn } from './portal.fixtures.js';

/**
 * Low-balance alerts: the job reads approved sales after they commit (the sale path is not
 * touched) and messages the cardholder once per crossing of the threshold.
 */
let server: TestServer;
let terminal: Terminal;
let customer: { id: number; phone: string };
let token: string;

beforeAll(async () => {
  server = await startTestServer();
  terminal = (await newStation(server)).terminal;
  customer = await customerWithPhone(server);
  token = await signIn(server, customer.phone);
});
afterAll(async () => {
  if (server) await expectLedgerOk(server);
  await server?.close();
});

const alertsTo = async (phone: string) => (await outbox(server)).filter((m) => m.to === phone && m.template === 'portal.low_balance');
const setAlert = (cardNo: string, lowBalance: number | null) => asCardholder(server, token, 'PUT', `/api/v1/portal/cards/${cardNo}/alerts`, { lowBalance });
async function approve(cardNo: string, amount: number): Promise<void> {
  const r = await sell(server, terminal, saleBody(cardNo, amount));
  expect(r.body.status).toBe('approved');
}

describe('low-balance alert', () => {
  it('is sent once when a sale takes the available total from >= the threshold to below it', async () => {
    const cardNo = await newCard(server, { customerId: customer.id, funds: 10_000 });
    // Six sales within the hour are velocity's business, not this test's: silenced as a reviewer would.
    await silenceRisk(server, cardNo, ['velocity_sales']);
    expect((await setAlert(cardNo, 5_000)).status).toBe(200);
    const before = (await alertsTo(customer.phone)).length;

    await approve(cardNo, 3_000); // 10,000 → 7,000: still above
    expect((await runLowBalanceAlerts(server.deps)).sent).toBe(0);

    await approve(cardNo, 3_000); // 7,000 → 4,000: crosses
    expect((await runLowBalanceAlerts(server.deps)).sent).toBe(1);
    const sent = await alertsTo(customer.phone);
    expect(sent.length).toBe(before + 1);
    expect(sent[0]!.text).toContain(cardNo.slice(-4));
    expect(sent[0]!.text).toContain('¥40.00');
    expect(sent[0]!.text).toContain('¥50.00');

    // Once: running again finds nothing new.
    expect((await runLowBalanceAlerts(server.deps)).sent).toBe(0);
    await approve(cardNo, 1_000); // 4,000 → 3,000: already below, no crossing
    expect((await runLowBalanceAlerts(server.deps)).sent).toBe(0);

    // A recharge above the threshold and another crossing alert again.
    await recharge(server, cardNo, 5_000); // → 8,000
    await approve(cardNo, 4_000); // 8,000 → 4,000
    expect((await runLowBalanceAlerts(server.deps)).sent).toBe(1);
    // Exactly at the threshold is not below it.
    await recharge(server, cardNo, 2_000); // → 6,000
    await approve(cardNo, 1_000); // 6,000 → 5,000
    expect((await runLowBalanceAlerts(server.deps)).sent).toBe(0);
    await approve(cardNo, 1); // 5,000 → 4,999
    expect((await runLowBalanceAlerts(server.deps)).sent).toBe(1);
    expect((await alertsTo(customer.phone)).length).toBe(before + 3);
  });

  it('only sales after the alert was set count; a cleared alert sends nothing', async () => {
    const cardNo = await newCard(server, { customerId: customer.id, funds: 10_000 });
    await approve(cardNo, 8_000); // crosses 5,000 before any alert exists
    await setAlert(cardNo, 5_000);
    expect((await runLowBalanceAlerts(server.deps)).sent).toBe(0);

    const other = await newCard(server, { customerId: customer.id, funds: 10_000 });
    await setAlert(other, 5_000);
    await setAlert(other, null);
    await approve(other, 8_000);
    expect((await runLowBalanceAlerts(server.deps)).sent).toBe(0);
  });

  it('a sale that commits after the watermark passed its time is still alerted (the overlap), and only once', async () => {
    const cardNo = await newCard(server, { customerId: customer.id, funds: 10_000 });
    await setAlert(cardNo, 5_000);
    await approve(cardNo, 6_000);
    // As if the job had already read past this sale's timestamp before the sale committed.
    await sql`update portal_alert_watermark set last_at = clock_timestamp() + interval '1 second'`.execute(server.db.db);
    expect((await runLowBalanceAlerts(server.deps)).sent).toBe(1);
    expect((await runLowBalanceAlerts(server.deps)).sent).toBe(0);
  });

  it('goes to the phone that set it: on a driver’s sub card the fleet owner and the driver each have their own', async () => {
    const owner = await customerWithPhone(server);
    const driver = await customerWithPhone(server);
    const master = await newCard(server, { kind: 'master', customerId: owner.id, funds: 20_000 });
    const sub = await newCard(server, { kind: 'sub', masterCardNo: master, customerId: driver.id, sharedBalance: true });
    const ownerToken = await signIn(server, owner.phone);
    const driverToken = await signIn(server, driver.phone);
    const put = (tok: string, lowBalance: number | null) => asCardholder(server, tok, 'PUT', `/api/v1/portal/cards/${sub}/alerts`, { lowBalance });
    expect((await put(ownerToken, 10_000)).body).toEqual({ lowBalance: 10_000 });
    expect((await put(driverToken, 3_000)).body).toEqual({ lowBalance: 3_000 });
    // Each sees their own threshold.
    const shown = async (tok: string) =>
      ((await asCardholder(server, tok, 'GET', '/api/v1/portal/cards')).body.items as Array<{ cardNo: string; lowBalanceAlert: number | null }>).find((c) => c.cardNo === sub)!.lowBalanceAlert;
    expect([await shown(ownerToken), await shown(driverToken)]).toEqual([10_000, 3_000]);

    await approve(sub, 15_000); // shared total 20,000 → 5,000: crosses the owner's 10,000 only
    expect((await runLowBalanceAlerts(server.deps)).sent).toBe(1);
    expect((await alertsTo(owner.phone)).length).toBe(1);
    expect((await alertsTo(driver.phone)).length).toBe(0);
    await approve(sub, 3_000); // 5,000 → 2,000: crosses the driver's 3,000
    expect((await runLowBalanceAlerts(server.deps)).sent).toBe(1);
    expect((await alertsTo(owner.phone)).length).toBe(1);
    expect((await alertsTo(driver.phone)).length).toBe(1);

    // Clearing one's alert leaves the other's.
    await recharge(server, master, 20_000); // → 22,000
    expect((await put(driverToken, null)).body).toEqual({ lowBalance: null });
    expect((await put(ownerToken, 10_000)).status).toBe(200);
    await put(driverToken, 20_000);
    await put(driverToken, 0); // 0 is "off", like null
    expect(await shown(driverToken)).toBeNull();
    await approve(sub, 15_000); // 22,000 → 7,000
    expect((await runLowBalanceAlerts(server.deps)).sent).toBe(1);
    expect([(await alertsTo(owner.phone)).length, (await alertsTo(driver.phone)).length]).toEqual([2, 1]);

    // A phone that can no longer see the card (the driver registered with another number) gets nothing.
    await put(driverToken, 5_000);
    const moved = newPhone();
    await sql`update customers set phone_bidx = ${phoneBidx(server, moved)}, phone_enc = ${server.deps.cipher.encrypt(moved)} where id = ${driver.id}`.execute(server.db.db);
    await approve(sub, 3_000); // 7,000 → 4,000: crosses the old phone's 5,000
    expect((await runLowBalanceAlerts(server.deps)).sent).toBe(0);
    expect((await alertsTo(driver.phone)).length).toBe(1);
  });

  it('startPortalJobs runs the alert job in the background and stops cleanly', async () => {
    const cardNo = await newCard(server, { customerId: customer.id, funds: 10_000 });
    await setAlert(cardNo, 5_000);
    await approve(cardNo, 6_000);
    const before = (await alertsTo(customer.phone)).length;
    const stop = startPortalJobs(server.deps, { alertEveryMs: 50 });
    try {
      for (let i = 0; i < 100 && (await alertsTo(customer.phone)).length === before; i++) await new Promise((r) => setTimeout(r, 50));
    } finally {
      await stop();
    }
    expect((await alertsTo(customer.phone)).length).toBe(before + 1);
  });
});
