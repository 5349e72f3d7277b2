/**
 * The terminal host's support log on a real PostgreSQL: real frames from a simulated terminal
 * through the session layer (keys from the key ceremony), recorded as the gateway records them.
 * Nothing secret reaches a row; garbage is logged as length and hash; the buffer is bounded and
 * a failing database costs log rows, never the caller.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { startTestServer, type TestServer } from '../../../test/support/server.js';
import { createLogger, openDb } from '../../platform/index.js';
import { IFSF_PROFILE, encodeMessage } from '../iso8583/index.js';
import { ceremony } from './db-host.test-support.js';
import { dbHost, exchange } from './message-log.test-support.js';
import { maskFrame, PosMessageLog } from './message-log.js';
import { withKeyManagement, KEY_MANAGEMENT_FIELD } from './session-fields.js';
import { decodeMessage } from '../iso8583/index.js';
import type { InboundContext } from './inbound.js';

const PROFILE = withKeyManagement(IFSF_PROFILE);
const PAN = '6228480012345678903';
const TRACK2 = `${PAN}=2812101987654321`;
const PIN_BLOCK = Buffer.from('A1B2C3D4E5F60718', 'hex');
const logger = createLogger('silent');

let server: TestServer;
let ctx: InboundContext;
beforeAll(async () => {
  server = await startTestServer();
  ctx = await dbHost(server);
});
afterAll(async () => {
  await server?.close();
});

const rowsOf = async (terminalId: string) =>
  (await sql<{ j: string; outcome: string; mti: string; stan: string | null; action_code: string | null }>`
    select row_to_json(l)::text as j, outcome, mti, stan, action_code from pos_message_log l where terminal_id = ${terminalId} order by id`.execute(server.deps.db)).rows;

describe('PosMessageLog', () => {
  it('logs every exchange masked: no PAN, track data, PIN block, MAC or key material in any row', async () => {
    const { sim, terminalId } = await ceremony(server);
    const log = new PosMessageLog(server.deps.db, logger);
    const tmkHex = sim.tmk.toString('hex');
    const firstTak = sim.tak.toString('hex');

    const signOn = await exchange(ctx, log, sim.build('1804', [[24, '801']], { at: new Date() }));
    expect(signOn.outcome).toBe('OK');
    const de96 = decodeMessage(signOn.response!, PROFILE);
    expect(de96.ok).toBe(true);
    const keyMaterial = (de96.ok && (de96.message.fields.get(KEY_MANAGEMENT_FIELD) as Buffer))!.toString('hex');
    expect(sim.acceptKeys(signOn.response!).macOk).toBe(true);

    // A card request with everything secret a terminal sends, plus a card number inside a text record.
    const cardNo2 = '6228480099999999997';
    const auth = sim.build('1100', [
      [2, PAN],
      [3, '000000'],
      [4, '000000010000'],
      [24, '101'],
      [35, TRACK2],
      [52, PIN_BLOCK],
      [72, `00000000000000000012F${cardNo2}`],
    ], { at: new Date() });
    const authMac = auth.subarray(auth.length - 8).toString('hex');
    // No business handlers in this host: refused 902 after MAC and journal, like an unmapped MTI.
    expect((await exchange(ctx, log, auth)).outcome).toBe('UNSUPPORTED');
    // A MAC that does not verify: refused, logged as an error.
    const forged = sim.build('1820', [[24, '831']], { at: new Date(), key: Buffer.alloc(16, 7) });
    expect((await exchange(ctx, log, forged)).outcome).toBe('MAC_INVALID');
    await log.flush();

    const rows = await rowsOf(terminalId);
    expect(rows.map((x) => [x.mti, x.outcome])).toEqual([
      ['1804', 'OK'],
      ['1100', 'UNSUPPORTED'],
      ['1820', 'MAC_INVALID'],
    ]);
    expect(rows[1]!.action_code).toBe('902');
    expect(rows[2]!.action_code).toBe('916');
    const all = rows.map((x) => x.j).join('\n');
    const upper = all.toUpperCase();
    for (const secret of [PAN, cardNo2, '2812101987654321', PIN_BLOCK.toString('hex'), authMac, keyMaterial, tmkHex, firstTak, sim.tak.toString('hex'), sim.tpk.toString('hex')]) {
      expect(upper, `a row holds ${secret.slice(0, 6)}…`).not.toContain(secret.toUpperCase());
    }
    const req = JSON.parse(rows[1]!.j).request_masked;
    expect(req.fields['2']).toBe('622848*********8903');
    expect(req.fields['35']).toBe('622848*********8903=***');
    expect(req.fields['52']).toBe('[8 bytes]');
    expect(req.fields['128']).toBe('[8 bytes]'); // DE 72 needs the secondary bitmap, so the MAC is DE 128
    expect(req.fields['4']).toBe('000000010000');
    expect(req.fields['72']).not.toContain(cardNo2);
    const signOnRow = JSON.parse(rows[0]!.j);
    expect(signOnRow.response_masked.fields[String(KEY_MANAGEMENT_FIELD)]).toMatch(/^\[\d+ bytes\]$/);
    expect(signOnRow).toMatchObject({ terminal_id: terminalId, iso_terminal_id: sim.id, conn_id: 'c-test', response_mti: '1814', stan: '000001' });
    expect(log.stats()).toMatchObject({ recorded: 3, written: 3, dropped: 0, failed: 0, buffered: 0 });

    // The per-minute counts the console reads.
    const stats = (await sql<{ m: string; e: string }>`select sum(messages) as m, sum(errors) as e from pos_message_stats where terminal_id = ${terminalId}`.execute(server.deps.db)).rows[0]!;
    expect([Number(stats.m), Number(stats.e)]).toEqual([3, 2]);
    await log.close();
  });

  it('garbage and unknown terminals: logged without a terminal, garbage only as length and hash', async () => {
    const log = new PosMessageLog(server.deps.db, logger);
    const garbage = Buffer.concat([Buffer.from('1100'), Buffer.from(PAN), Buffer.from([0, 1, 2, 0xff])]);
    const g = await exchange(ctx, log, garbage, 'c-garbage');
    expect(g.outcome).toBe('FORMAT_ERROR');
    const stranger = encodeMessage({ mti: '1820', fields: new Map([[11, '000042'], [24, '831'], [41, 'NOBODY01']]) }, PROFILE);
    expect((await exchange(ctx, log, stranger, 'c-stranger')).outcome).toBe('UNKNOWN_TERMINAL');
    await log.close();
    const rows = (await sql<{ j: string; terminal_id: string | null; iso_terminal_id: string | null; outcome: string; request_masked: any }>`
      select row_to_json(l)::text as j, terminal_id, iso_terminal_id, outcome, request_masked from pos_message_log l
      where conn_id in ('c-garbage', 'c-stranger') order by id`.execute(server.deps.db)).rows;
    expect(rows.map((x) => [x.outcome, x.terminal_id, x.iso_terminal_id])).toEqual([
      ['FORMAT_ERROR', null, null],
      ['UNKNOWN_TERMINAL', null, 'NOBODY01'],
    ]);
    expect(rows[0]!.request_masked).toMatchObject({ undecodable: true, length: garbage.length, sha256: createHash('sha256').update(garbage).digest('hex') });
    expect(rows[0]!.j).not.toContain(PAN);
    expect(rows[1]!.request_masked.fields['41']).toBe('NOBODY01');
  });

  it('a full buffer drops and counts instead of waiting; a closed log drops; a dead database costs log rows only', async () => {
    const { sim, terminalId } = await ceremony(server);
    const log = new PosMessageLog(server.deps.db, logger, { maxBuffered: 2, flushIntervalMs: 60_000 });
    for (let i = 0; i < 5; i++) await exchange(ctx, log, sim.build('1820', [[24, '831']], { at: new Date() }));
    expect(log.stats()).toMatchObject({ recorded: 2, dropped: 3, buffered: 2 });
    await log.close();
    expect(log.stats()).toMatchObject({ written: 2, buffered: 0 });
    log.record({ isoTerminalId: sim.id, connId: 'c', receivedAt: new Date(), durationMs: 1, request: Buffer.from('x'), response: null, result: { response: null, outcome: 'FORMAT_ERROR' } });
    expect(log.stats().dropped).toBe(4);
    expect(await rowsOf(terminalId)).toHaveLength(2);

    // A database that is not there: every insert fails.
    const url = new URL(server.db.url);
    url.pathname = '/no_such_database_h4';
    const gone = openDb(url.toString(), 1);
    const broken = new PosMessageLog(gone.db, logger);
    await exchange(ctx, broken, sim.build('1820', [[24, '831']], { at: new Date() }));
    await expect(broken.close()).resolves.toBeUndefined();
    expect(broken.stats()).toMatchObject({ recorded: 1, written: 0, failed: 1 });
    await gone.db.destroy();
  });

  it('masks PAN-length digit runs in text fields, even glued to other digits; leaves numeric fields alone', () => {
    const card = '6228480012345678903';
    const bytes = encodeMessage(
      {
        mti: '1304',
        fields: new Map<number, string | Buffer>([
          [11, '000009'],
          [41, 'OPT00001'],
          [43, `Shop ${card} tel 02112345678`],
          [72, `0000000000000000001F0000000000000000002${card}`],
          [74, '0000000012'],
          [88, '0000000000012345'],
          [128, Buffer.alloc(8, 0xab)],
        ]),
      },
      PROFILE,
    );
    const { view } = maskFrame(bytes, PROFILE);
    const fields = (view as { fields: Record<string, unknown> }).fields;
    expect(JSON.stringify(view)).not.toContain(card);
    expect(fields['43']).toBe('Shop 622848*********8903 tel 02112345678');
    expect(String(fields['72']).endsWith('8903')).toBe(true);
    expect(fields['88']).toBe('0000000000012345');
    expect(fields['128']).toBe('[8 bytes]');
  });
});
