import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { cardOp, expectApproved, expectDeclined, expectError, expectLedgerVerified, issueCard, newStation, ok, PIN, recharge, type TestTerminal } from '../../test/support/cards-factory.js';

let server: TestServer;
let terminal: TestTerminal;
beforeAll(async () => {
  server = await startTestServer();
  terminal = (await newStation(server)).terminal;
});
afterAll(async () => server?.close());

describe('a frozen master card', () => {
  it('suspends its sub cards at the pump, and they work again once it is unfrozen', async () => {
    const master = await issueCard(server, { kind: 'master' });
    await recharge(server, master.cardNo, 50_000);
    const shared = await issueCard(server, { kind: 'sub', masterCardNo: master.cardNo, sharedBalance: true });
    const own = await issueCard(server, { kind: 'sub', masterCardNo: master.cardNo, funds: 10_000 });
    await expectApproved(server, terminal, shared.cardNo, 1_000);

    ok(await cardOp(server, master.cardNo, 'freeze'), 200);
    const declined = await expectDeclined(server, terminal, shared.cardNo, 1_000, 'MASTER_CARD_FROZEN');
    expect(declined.actionCode).toBe('119');
    await expectDeclined(server, terminal, own.cardNo, 1_000, 'MASTER_CARD_FROZEN');

    ok(await cardOp(server, master.cardNo, 'unfreeze'), 200);
    await expectApproved(server, terminal, own.cardNo, 1_000);
    await expectLedgerVerified(server);
  });

  it('cannot take new sub cards while frozen or lost', async () => {
    const master = await issueCard(server, { kind: 'master' });
    ok(await cardOp(server, master.cardNo, 'freeze'), 200);
    const issue = () => server.api('POST', '/api/v1/cards', { body: { kind: 'sub', masterCardNo: master.cardNo, pin: PIN } });
    expectError(await issue(), 409, 'CARD_MASTER_INVALID');
    ok(await cardOp(server, master.cardNo, 'unfreeze'), 200);
    ok(await cardOp(server, master.cardNo, 'report-loss'), 200);
    expectError(await issue(), 409, 'CARD_MASTER_INVALID');
    ok(await cardOp(server, master.cardNo, 'cancel-loss'), 200);
    ok(await issue(), 201);
  });
});
