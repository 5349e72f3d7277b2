/**
 * The terminal host's staff screens' API on a real server and database: a terminal signs on over a
 * real TCP connection to a running gateway (connected, signed on), its log is seeded with real
 * frames through the session layer and PosMessageLog; counts, paging, filters and access.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { expectError } from '../../test/support/cards-factory.js';
import { createLogger } from '../platform/index.js';
import { ceremony } from './host/db-host.test-support.js';
import { dbHost, exchange } from './host/message-log.test-support.js';
import { PosMessageLog } from './host/message-log.js';
import { ACTION, ACTION_CODE_MEANINGS } from './host/action-codes.js';
import type { InboundContext } from './host/inbound.js';
import type { SimTerminal } from './host/session.test-support.js';
import { startPosGateway, type PosGateway } from './gateway.js';
import { connectIsoClient, type IsoClient } from './transport/index.js';
import { ACTION_CODE_ZH, actionMeaning } from './terminal-host.routes.js';

let server: TestServer;
let gw: PosGateway;
let ctx: InboundContext;
let log: PosMessageLog;
let sim: SimTerminal;
let terminalId: string;
let connectedId: string;
let conn: IsoClient;
const PAN = '6228480012345678903';

beforeAll(async () => {
  server = await startTestServer();
  gw = await startPosGateway({ db: server.deps.db, config: server.config, logger: server.deps.logger }, { port: 0, host: '127.0.0.1' });
  ctx = await dbHost(server);
  log = new PosMessageLog(server.deps.db, createLogger('silent'));
  ({ sim, terminalId } = await ceremony(server));
  // The logged terminal talks to the session layer directly, so its counts are exactly what this file records
  // (whatever the running host logs of its own traffic): sign-on, 3 echoes, a card request, a forged MAC.
  expect(sim.acceptKeys((await exchange(ctx, log, sim.build('1804', [[24, '801']], { at: new Date() }))).response!).macOk).toBe(true);
  for (let i = 0; i < 3; i++) expect((await exchange(ctx, log, sim.build('1820', [[24, '831']], { at: new Date() }))).outcome).toBe('OK');
  const card = sim.build('1100', [[2, PAN], [3, '000000'], [4, '000000010000'], [24, '101'], [52, Buffer.from('0011223344556677', 'hex')]], { at: new Date() });
  expect((await exchange(ctx, log, card)).outcome).toBe('UNSUPPORTED');
  expect((await exchange(ctx, log, sim.build('1820', [[24, '831']], { at: new Date(), key: Buffer.alloc(16, 9) }))).outcome).toBe('MAC_INVALID');
  // Another terminal signs on over a real TCP connection to the running host: connected.
  const online = await ceremony(server, 'aes', 'aes-cmac');
  connectedId = online.terminalId;
  conn = await connectIsoClient({ host: '127.0.0.1', port: gw.port, framing: 'binary2' });
  conn.send(online.sim.build('1804', [[24, '801']], { at: new Date() }));
  expect(online.sim.acceptKeys(await conn.next(5000)).macOk).toBe(true);
  await log.flush();
});
afterAll(async () => {
  conn?.close();
  await log?.close();
  await gw?.stop();
  await server?.close();
});

describe('GET /api/v1/terminal-host/terminals', () => {
  it('lists the terminal with session state, connection, and counts from the log', async () => {
    const r = await server.api('GET', '/api/v1/terminal-host/terminals', { role: 'operator' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ running: true, port: gw.port, truncated: false });
    const t = r.body.items.find((x: { terminalId: string }) => x.terminalId === terminalId);
    expect(t).toMatchObject({
      isoTerminalId: sim.id,
      enabled: true,
      terminalStatus: 'active',
      keyAlgorithm: 'tdes',
      macAlgorithm: 'retail-tdes-pad2',
      pinFormat: 0,
      framing: 'auto',
      signedOn: true,
      takVersion: 2,
      connected: false,
      connections: 0,
      messages1h: 6,
      errors1h: 2,
      messages24h: 6,
      errors24h: 2,
      messagesPerMinute: 1.2,
    });
    expect(t.signedOnAt).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(typeof t.stationName).toBe('string');
    expect(Date.parse(t.lastLoggedAt)).toBeGreaterThan(Date.parse(t.signedOnAt) - 60_000);
    const online = r.body.items.find((x: { terminalId: string }) => x.terminalId === connectedId);
    expect(online).toMatchObject({ signedOn: true, connected: true, connections: 1, keyAlgorithm: 'aes', remoteAddresses: [expect.stringContaining('127.0.0.1')] });

    const idle = await ceremony(server, 'sm4', 'sm4-cmac');
    const byStation = await server.api('GET', `/api/v1/terminal-host/terminals?stationId=${t.stationId}`);
    expect(byStation.body.items.map((x: { terminalId: string }) => x.terminalId)).toEqual([terminalId]);
    const fresh = (await server.api('GET', '/api/v1/terminal-host/terminals')).body.items.find((x: { terminalId: string }) => x.terminalId === idle.terminalId);
    expect(fresh).toMatchObject({ signedOn: false, connected: false, messages24h: 0, errors1h: 0, messagesPerMinute: 0, takVersion: null, lastMessageAt: null, lastLoggedAt: null });
    const one = await server.api('GET', '/api/v1/terminal-host/terminals?limit=1');
    expect(one.body).toMatchObject({ truncated: true });
    expect(one.body.items).toHaveLength(1);
  });
});

describe('GET /api/v1/terminal-host/terminals/:terminalId/messages', () => {
  const path = () => `/api/v1/terminal-host/terminals/${terminalId}/messages`;

  it('newest first, masked, with the action code in words; cursor paging covers every row once', async () => {
    const r = await server.api('GET', path(), { role: 'operator' });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.isoTerminalId).toBe(sim.id);
    expect(r.body.items.map((m: { mti: string; outcome: string }) => `${m.mti} ${m.outcome}`)).toEqual([
      '1820 MAC_INVALID',
      '1100 UNSUPPORTED',
      '1820 OK',
      '1820 OK',
      '1820 OK',
      '1804 OK',
    ]);
    const [forged, card, echo] = r.body.items;
    expect(forged).toMatchObject({ actionCode: '916', actionMeaning: { zh: 'MAC 错误', en: 'MAC incorrect' }, error: true, responseMti: '1830', detail: 'MAC does not verify' });
    expect(card).toMatchObject({ actionCode: '902', responseMti: '1110', error: true, requestBytes: expect.any(Number) });
    expect(card.request.fields['2']).toBe('622848*********8903');
    expect(card.request.fields['52']).toBe('[8 bytes]');
    expect(JSON.stringify(r.body)).not.toContain(PAN);
    expect(echo).toMatchObject({ actionCode: '800', actionMeaning: { en: 'network management accepted' }, error: false, stan: expect.stringMatching(/^\d{6}$/) });
    expect(echo.response.fields['39']).toBe('800');

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: { id: string }[]; nextCursor: string | null } } = await server.api('GET', `${path()}?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((m) => m.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(r.body.items.map((m: { id: string }) => m.id));
  });

  it('filters by outcome and by errors', async () => {
    const ok = await server.api('GET', `${path()}?outcome=OK`);
    expect(ok.body.items.map((m: { mti: string }) => m.mti)).toEqual(['1820', '1820', '1820', '1804']);
    const errors = await server.api('GET', `${path()}?errors=true`);
    expect(errors.body.items.map((m: { outcome: string }) => m.outcome)).toEqual(['MAC_INVALID', 'UNSUPPORTED']);
  });

  it('unknown terminal 404, bad cursor and bad filters 400', async () => {
    expectError(await server.api('GET', '/api/v1/terminal-host/terminals/T99999999/messages'), 404, 'NOT_FOUND');
    expectError(await server.api('GET', `${path()}?cursor=x`), 400, 'VALIDATION_FAILED');
    expectError(await server.api('GET', `${path()}?outcome=ok;drop`), 400, 'VALIDATION_FAILED');
    expectError(await server.api('GET', '/api/v1/terminal-host/terminals/1/messages'), 400, 'VALIDATION_FAILED');
    expectError(await server.api('GET', `${path()}?limit=1000`), 400, 'VALIDATION_FAILED');
  });
});

describe('access and words', () => {
  it('admin and operator only; station staff, finance and anonymous are refused', async () => {
    for (const url of ['/api/v1/terminal-host/terminals', `/api/v1/terminal-host/terminals/${terminalId}/messages`]) {
      expect((await server.api('GET', url, { role: 'admin' })).status).toBe(200);
      expect((await server.api('GET', url, { role: 'station_staff' })).status).toBe(403);
      expect((await server.api('GET', url, { role: 'finance' })).status).toBe(403);
      expect((await server.api('GET', url, { role: null })).status).toBe(401);
    }
    expect((await server.verify()).ok).toBe(true);
  });

  it('every action code the host sends has its meaning in Chinese and English', () => {
    for (const code of new Set([...Object.keys(ACTION_CODE_MEANINGS), ...Object.values(ACTION)])) {
      expect(ACTION_CODE_ZH[code], `no Chinese for action code ${code} (terminal-host.routes.ts ACTION_CODE_ZH)`).toBeDefined();
      expect(actionMeaning(code)?.en, code).toBeTruthy();
    }
    expect(Object.keys(ACTION_CODE_ZH).every((c) => actionMeaning(c) !== null)).toBe(true);
    expect(actionMeaning('999')).toBeNull();
  });
});
