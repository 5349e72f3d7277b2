import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { expectLedgerOk, newCard, newStation, saleBody, sell } from '../../test/support/fuel.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  vi.useRealTimers();
  await server?.close();
});

describe('time is the database’s', () => {
  it('dates a sale by the database clock, not the application server’s', async () => {
    const { terminal } = await newStation(server);
    const cardNo = await newCard(server, { funds: 10_000 });
    // The application server's clock runs two hours fast (terminals signing with it too).
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 2 * 3_600_000 });
    const answer = (await sell(server, terminal, saleBody(cardNo, 1_000))).body;
    vi.useRealTimers();
    expect(answer.status).toBe('approved');
    const row = await sql<{ skew_s: number }>`select abs(extract(epoch from (created_at - now())))::float8 as skew_s from sales where id = ${answer.saleId}`.execute(server.db.db);
    expect(row.rows[0]!.skew_s).toBeLessThan(60);
    await expectLedgerOk(server);
  });
});
