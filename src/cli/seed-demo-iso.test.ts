import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createLogger, loadConfig } from '../platform/index.js';
import { verifyLedger } from '../ledger/index.js';
import { createTestDatabase, type TestDatabase } from '../../test/support/db.js';
import { startPosGateway, type PosGateway } from '../pos-gateway/index.js';
import { CASHIER_STATION, DEMO_CARD_PIN, seedDemo, type SeedSummary } from './seed-demo.js';
import { DEMO_ISO_PIN_ENV, seedDemoIso, type DemoIso } from './seed-demo-iso.js';
import { runPosSim, type PosSimIo } from './pos-sim.js';

/**
 * The demo's ISO terminal as `npm start` prints it: a fresh demo database, the key ceremony for a
 * second cashier-station terminal, and the printed pos-sim line run as printed against a real
 * terminal host — every scenario of `all` must pass at the station's own 92# price.
 */

describe('seed-demo-iso', () => {
  let tdb: TestDatabase;
  let summary: SeedSummary;
  let gw: PosGateway;
  let demo: DemoIso;
  let posTerminalId: string;
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' });

  beforeAll(async () => {
    tdb = await createTestDatabase(8);
    summary = await seedDemo(tdb.db, config, { quiet: true, customers: 6, days: 3, seed: 20240611 });
    gw = await startPosGateway({ db: tdb.db, config, logger: createLogger('silent') }, { port: 0, host: '127.0.0.1' });
    posTerminalId = summary.terminals.find((t) => t.stationCode === CASHIER_STATION)!.terminalId;
    demo = await seedDemoIso({ db: tdb.db, config }, posTerminalId, { port: gw.port, cardNo: summary.cardholder!.cardNo });
  }, 180_000);
  afterAll(async () => {
    await gw?.stop();
    await tdb?.close();
  });

  it('keys a second terminal of the cashier station, not the web POS one, and leaves it signed off', async () => {
    expect(demo.terminalId).not.toBe(posTerminalId);
    expect(summary.terminals.map((t) => t.terminalId)).not.toContain(demo.terminalId);
    const r = await sql<{ station: string; iso_terminal_id: string; signed_on: boolean; key_algorithm: string }>`
      select s.code as station, p.iso_terminal_id, p.signed_on, p.key_algorithm
        from pos_terminals p join terminals t on t.id = p.terminal_id join stations s on s.id = t.station_id
       where p.terminal_id = ${demo.terminalId}`.execute(tdb.db);
    expect(r.rows).toEqual([{ station: CASHIER_STATION, iso_terminal_id: demo.isoTerminalId, signed_on: false, key_algorithm: 'tdes' }]);
    // The web POS terminal got no ISO keys.
    expect((await sql`select 1 from pos_terminals where terminal_id = ${posTerminalId}`.execute(tdb.db)).rows).toEqual([]);
    const audited = await sql<{ n: number }>`select count(*)::int as n from audit_log where action = 'pos.key_ceremony' and target_id = ${demo.terminalId}`.execute(tdb.db);
    expect(audited.rows[0]!.n).toBe(1);
  });

  it('prints one line in the shape main.ts shows, with the PIN only in the environment', () => {
    expect(demo.line.startsWith(`${DEMO_ISO_PIN_ENV}=${DEMO_CARD_PIN} fuelcard pos-sim --iso8583 `)).toBe(true);
    expect(demo.command).toMatch(
      new RegExp(`^fuelcard pos-sim --iso8583 --host 127\\.0\\.0\\.1 --port ${gw.port} --terminal ${demo.isoTerminalId} --tmk [0-9A-F]{32}\\+[0-9A-F]{32} --tak [0-9A-F]{32}:[0-9A-F]{6} `),
    );
    expect(demo.command).toContain(` all --card ${summary.cardholder!.cardNo} --pin-env ${DEMO_ISO_PIN_ENV}`);
    expect(demo.argv).not.toContain(DEMO_CARD_PIN);
    // The demo's 92# price is not the sim's default 800: the line must name it.
    expect(demo.unitPrice).not.toBe(800);
    expect(demo.command).toContain(`--unit-price ${demo.unitPrice}`);
  });

  it('the printed command, run as printed, passes every scenario of `all`; the ledger verifies', async () => {
    const [assign, ...words] = demo.line.split(' ');
    const [name, value] = assign!.split('=') as [string, string];
    expect(words.slice(0, 2)).toEqual(['fuelcard', 'pos-sim']);
    const io: PosSimIo & { out: string; err: string } = {
      out: '',
      err: '',
      stdout: (t: string) => void (io.out += t),
      stderr: (t: string) => void (io.err += t),
      env: { [name]: value },
      readStdin: () => Promise.resolve(''),
    };
    const code = await runPosSim(words.slice(2), io);
    expect(io.err).toBe('');
    expect(code, io.out).toBe(0);
    expect(io.out).toMatch(/1110 STAN \d{6} · 000 approved/);
    expect(io.out).toMatch(/1210 STAN \d{6} · 000 approved/);
    expect(io.out.match(/1530 STAN \d{6} · 500 reconciled, in balance/g)).toHaveLength(2);
    expect(io.out).not.toMatch(/MAC ✗|PRICE_MISMATCH/);
    const sold = await sql<{ n: number; prices: number[] }>`select count(*)::int as n, array_agg(distinct unit_price) as prices from sales
      where terminal_id = ${demo.terminalId} and status = 'approved'`.execute(tdb.db);
    expect(sold.rows[0]!.n).toBeGreaterThan(0);
    expect(sold.rows[0]!.prices).toEqual([demo.unitPrice]);
    const ledger = await verifyLedger(tdb.db);
    expect(ledger.problems).toEqual([]);
    expect(ledger.ok).toBe(true);
  });
});
