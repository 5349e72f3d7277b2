/**
 * The terminal host as `npm start` runs it, over a real TCP socket: key ceremony through the staff
 * API → a simulated terminal connects, signs on, echoes; a repeat gets the same bytes; garbage
 * closes only its own connection; the connection list and /metrics show it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { ceremony } from './host/db-host.test-support.js';
import { startPosGateway, type PosGateway } from './gateway.js';
import { connectIsoClient, encodeFrame } from './transport/index.js';

let server: TestServer;
let gw: PosGateway;
beforeAll(async () => {
  server = await startTestServer();
  gw = await startPosGateway({ db: server.deps.db, config: server.config, logger: server.deps.logger }, { port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await gw?.stop();
  await server?.close();
});

describe('POS gateway over TCP', () => {
  it('ceremony → sign-on → MACed echo → repeat gets the same bytes → garbage costs one connection → metrics', async () => {
    const { sim } = await ceremony(server, 'sm4', 'sm4-cmac');
    const conn = await connectIsoClient({ host: '127.0.0.1', port: gw.port, framing: 'binary2' });
    conn.send(sim.build('1804', [[24, '801']], { at: new Date() }));
    const r1814 = await conn.next(5000);
    const accepted = sim.acceptKeys(r1814);
    expect(accepted.macOk).toBe(true);
    expect(sim.read(r1814).msg.fields.get(39)).toBe('800');

    const echo = sim.build('1820', [[24, '831']], { at: new Date() });
    conn.send(echo);
    const r1830 = await conn.next(5000);
    const read = sim.read(r1830);
    expect(read.msg.mti).toBe('1830');
    expect(read.macOk).toBe(true);
    conn.send(echo);
    expect((await conn.next(5000)).equals(r1830)).toBe(true);

    // A sale message the use cases cannot take (no card, no amount) still goes through MAC and journal: 904, MACed.
    conn.send(sim.build('1100', [[24, '101']], { at: new Date() }));
    const r1110 = sim.read(await conn.next(5000));
    expect(r1110.msg.fields.get(39)).toBe('904');
    expect(r1110.macOk).toBe(true);

    const list = await server.api('GET', '/api/v1/terminal-host/connections', { role: 'operator' });
    expect(list.status).toBe(200);
    expect(list.body.running).toBe(true);
    expect(list.body.items.map((c: { terminalId: string | null }) => c.terminalId)).toContain(sim.id);

    // An ASCII-framed connection with garbage: closed; the binary one keeps working.
    const bad = await connectIsoClient({ host: '127.0.0.1', port: gw.port, framing: 'ascii4' });
    bad.socket.write(Buffer.from('00x7garbage'));
    await bad.closed;
    conn.send(sim.build('1820', [[24, '831']], { at: new Date() }));
    expect(sim.read(await conn.next(5000)).macOk).toBe(true);
    // And a decodable frame that is not ISO 8583 costs nothing but gets no answer from an unknown terminal.
    const stranger = await connectIsoClient({ host: '127.0.0.1', port: gw.port, framing: 'ascii4' });
    stranger.socket.write(encodeFrame(Buffer.from('hello'), 'ascii4'));
    conn.send(sim.build('1820', [[24, '831']], { at: new Date() }));
    expect(sim.read(await conn.next(5000)).macOk).toBe(true);
    stranger.close();
    conn.close();

    const metrics = await server.api('GET', '/metrics');
    const text = String(metrics.body);
    expect(text).toMatch(/fuelcard_pos_messages_total\{mti="1820",outcome="OK"\} [1-9]/);
    expect(text).toMatch(/fuelcard_pos_messages_total\{mti="1820",outcome="DUPLICATE"\} [1-9]/);
    expect(text).toMatch(/fuelcard_pos_messages_total\{mti="1804",outcome="OK"\} [1-9]/);
    expect(text).toMatch(/fuelcard_pos_action_codes_total\{code="904"\} [1-9]/);
    expect(text).toMatch(/fuelcard_pos_frames\{direction="in"\} [1-9]/);
    expect(text).toMatch(/fuelcard_pos_transport_errors\{code="[A-Z_]+"\} [1-9]/);
    expect(text).toMatch(/fuelcard_pos_connections [0-9]/);
  });
});

describe('POS gateway over TLS (FUELCARD_POS_TLS_CERT / _KEY)', () => {
  it('signs a terminal on over TLS with the configured certificate', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pos-gw-tls-'));
    let tlsGw: PosGateway | undefined;
    try {
      const keyFile = path.join(dir, 'key.pem');
      const certFile = path.join(dir, 'cert.pem');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
      tlsGw = await startPosGateway({ db: server.deps.db, config: { ...server.config, posTls: { certFile, keyFile } }, logger: server.deps.logger }, { port: 0, host: '127.0.0.1' });
      expect(tlsGw.tls).toBe(true);
      const { sim } = await ceremony(server);
      const conn = await connectIsoClient({ host: '127.0.0.1', port: tlsGw.port, framing: 'binary2', tls: { ca: fs.readFileSync(certFile), servername: 'localhost' } });
      conn.send(sim.build('1804', [[24, '801']], { at: new Date() }));
      expect(sim.acceptKeys(await conn.next(5000)).macOk).toBe(true);
      expect(tlsGw.connections().map((c) => c.tls)).toEqual([true]);
      conn.close();
    } finally {
      await tlsGw?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
