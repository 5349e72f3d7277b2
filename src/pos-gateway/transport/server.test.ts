import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startIsoServer, type IsoHandler, type IsoServer, type IsoServerOptions } from './server.js';
import { connectIsoClient, type IsoClient } from './client.js';
import { FrameDecoder, encodeFrame, type FramingKind } from './framing.js';

const servers: IsoServer[] = [];
const sockets: net.Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => s.close({ graceMs: 50 })));
});

/** Small timeouts so every failure path completes in well under a second. */
async function start(handler: IsoHandler, opts: Partial<IsoServerOptions> = {}): Promise<IsoServer> {
  const server = await startIsoServer({
    handler,
    host: '127.0.0.1',
    port: 0,
    idleTimeoutMs: 5_000,
    readTimeoutMs: 2_000,
    closeGraceMs: 2_000,
    ...opts,
  });
  servers.push(server);
  return server;
}

async function client(server: IsoServer, framing: FramingKind = 'binary2', extra: { tls?: object } = {}): Promise<IsoClient> {
  const c = await connectIsoClient({ host: '127.0.0.1', port: server.port, framing, ...extra });
  sockets.push(c.socket);
  return c;
}

/** A raw socket for sending bytes no well-behaved client would. */
async function raw(server: IsoServer): Promise<{ socket: net.Socket; closed: Promise<void>; received: () => Buffer }> {
  const socket = net.connect({ host: '127.0.0.1', port: server.port });
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, closed, received: () => Buffer.concat(chunks) };
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const echo: IsoHandler = async (frame) => Buffer.concat([Buffer.from('ANS:'), frame]);

describe('startIsoServer', () => {
  it('answers many requests on one persistent connection and counts them', async () => {
    const server = await start(echo);
    const c = await client(server);
    for (let i = 0; i < 20; i++) {
      c.send(Buffer.from(`req-${i}`));
      expect(String(await c.next())).toBe(`ANS:req-${i}`);
    }
    const counters = server.counters();
    expect(counters).toMatchObject({ connectionsOpen: 1, connectionsTotal: 1, framesIn: 20, framesOut: 20, errors: {} });
    expect(counters.bytesIn).toBe(20 * 2 + [...Array(20).keys()].reduce((n, i) => n + `req-${i}`.length, 0));
    expect(server.connections()).toEqual([expect.objectContaining({ framing: 'binary2', inFlight: 0, tls: false })]);
  });

  it('pipelines: requests in flight together, answers written as each completes (out of order)', async () => {
    const pending = new Map<string, ReturnType<typeof deferred<Buffer>>>();
    const server = await start(async (frame) => {
      const d = deferred<Buffer>();
      pending.set(String(frame), d);
      return d.promise;
    });
    const c = await client(server);
    for (const stan of ['000001', '000002', '000003']) c.send(Buffer.from(stan));
    await waitFor('three requests in flight', () => pending.size === 3);
    expect(server.connections()[0]?.inFlight).toBe(3);

    pending.get('000003')?.resolve(Buffer.from('answer-000003'));
    expect(String(await c.next())).toBe('answer-000003');
    pending.get('000001')?.resolve(Buffer.from('answer-000001'));
    expect(String(await c.next())).toBe('answer-000001');
    pending.get('000002')?.resolve(Buffer.from('answer-000002'));
    expect(String(await c.next())).toBe('answer-000002');
  });

  it('serves many concurrent connections', async () => {
    const server = await start(async (frame, conn) => Buffer.from(`${conn.id}:${String(frame)}`));
    const clients = await Promise.all(Array.from({ length: 50 }, () => client(server)));
    await Promise.all(
      clients.map(async (c, i) => {
        c.send(Buffer.from(`t${i}`));
        expect(String(await c.next())).toMatch(new RegExp(`^pos-\\d+:t${i}$`));
      }),
    );
    expect(server.counters()).toMatchObject({ connectionsOpen: 50, framesIn: 50, framesOut: 50 });
  });

  it('a null answer writes nothing; a throwing handler costs that request only', async () => {
    const server = await start(async (frame) => {
      const s = String(frame);
      if (s === 'silent') return null;
      if (s === 'boom') throw new Error('handler bug');
      return Buffer.from(`ok:${s}`);
    });
    const c = await client(server);
    c.send(Buffer.from('silent'));
    c.send(Buffer.from('boom'));
    c.send(Buffer.from('after'));
    expect(String(await c.next())).toBe('ok:after');
    await waitFor('handler error counted', () => server.counters().errors.HANDLER_ERROR === 1);
    expect(server.counters().framesOut).toBe(1);
  });

  it('auto framing serves binary and ASCII terminals on one port, answering each in its own framing', async () => {
    const seen: string[] = [];
    const server = await start(
      async (frame, conn) => {
        seen.push(conn.framing);
        return Buffer.from(`${conn.framing}:${String(frame)}`);
      },
      { framing: 'auto', maxMessageSize: 4096 },
    );
    const bin = await client(server, 'binary2');
    const ascii = await client(server, 'ascii4');
    bin.send(Buffer.from('1804'));
    ascii.send(Buffer.from('1804'));
    expect(String(await bin.next())).toBe('binary2:1804');
    expect(String(await ascii.next())).toBe('ascii4:1804');
    expect(seen.sort()).toEqual(['ascii4', 'binary2']);
  });

  it('refuses an auto configuration whose maximum size makes detection ambiguous', async () => {
    await expect(startIsoServer({ handler: echo, port: 0, framing: 'auto', maxMessageSize: 20_000 })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
    await expect(startIsoServer({ handler: echo, port: 0, maxInFlightPerConnection: 0 })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
  });

  describe('bad input costs that connection only', () => {
    it('oversize length: closed after answering the good request before it; others keep working', async () => {
      const server = await start(echo, { maxMessageSize: 100 });
      const good = await client(server);
      const bad = await raw(server);
      bad.socket.write(Buffer.concat([encodeFrame(Buffer.from('first'), 'binary2'), Buffer.from([0x01, 0x00]), Buffer.alloc(50)]));
      await bad.closed;
      const d = new FrameDecoder({ framing: 'binary2', maxMessageSize: 100 });
      expect(d.push(bad.received()).frames.map(String)).toEqual(['ANS:first']);
      expect(server.counters().errors).toEqual({ FRAME_OVERSIZE: 1 });
      good.send(Buffer.from('still here'));
      expect(String(await good.next())).toBe('ANS:still here');
    });

    it('garbage on an ASCII-framed port (non-digit length)', async () => {
      const server = await start(echo, { framing: 'ascii4', maxMessageSize: 1000 });
      const good = await client(server, 'ascii4');
      const bad = await raw(server);
      bad.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await bad.closed;
      expect(bad.received()).toHaveLength(0);
      expect(server.counters().errors).toEqual({ FRAME_BAD_LENGTH: 1 });
      good.send(Buffer.from('ok'));
      expect(String(await good.next())).toBe('ANS:ok');
    });

    it('zero-length frame', async () => {
      const server = await start(echo);
      const bad = await raw(server);
      bad.socket.write(Buffer.from([0, 0]));
      await bad.closed;
      expect(server.counters().errors).toEqual({ FRAME_EMPTY: 1 });
    });

    it('truncated frame: the peer closes mid-frame', async () => {
      const server = await start(echo);
      const good = await client(server);
      const bad = await raw(server);
      bad.socket.end(Buffer.concat([Buffer.from([0, 100]), Buffer.alloc(10)]));
      await bad.closed;
      expect(server.counters().errors).toEqual({ FRAME_TRUNCATED: 1 });
      good.send(Buffer.from('ok'));
      expect(String(await good.next())).toBe('ANS:ok');
      await waitFor('bad connection gone', () => server.counters().connectionsOpen === 1);
    });

    it('a half-closing peer still gets the answers to its last requests', async () => {
      const server = await start(echo);
      const c = await raw(server);
      c.socket.end(Buffer.concat([encodeFrame(Buffer.from('a'), 'binary2'), encodeFrame(Buffer.from('b'), 'binary2')]));
      await c.closed;
      const d = new FrameDecoder({ framing: 'binary2', maxMessageSize: 100 });
      expect(d.push(c.received()).frames.map(String)).toEqual(['ANS:a', 'ANS:b']);
      expect(server.counters().errors).toEqual({});
    });
  });

  it('slowloris: a frame trickled slower than the read timeout is cut, others unaffected', async () => {
    const server = await start(echo, { readTimeoutMs: 150, idleTimeoutMs: 10_000 });
    const good = await client(server);
    const slow = await raw(server);
    slow.socket.write(Buffer.from([0, 50]));
    // Each byte arrives well within the read timeout, so only the per-frame deadline can catch it.
    const trickle = setInterval(() => slow.socket.writable && slow.socket.write(Buffer.from([0x41])), 20);
    try {
      await slow.closed;
    } finally {
      clearInterval(trickle);
    }
    expect(server.counters().errors).toEqual({ READ_TIMEOUT: 1 });
    good.send(Buffer.from('ok'));
    expect(String(await good.next())).toBe('ANS:ok');
  });

  it('idle timeout closes a silent connection, not a busy one', async () => {
    const held = deferred<Buffer>();
    const server = await start(async (frame) => (String(frame) === 'hold' ? held.promise : echo(frame, null as never)), {
      idleTimeoutMs: 100,
    });
    const idle = await client(server);
    idle.send(Buffer.from('x'));
    expect(String(await idle.next())).toBe('ANS:x');
    const busy = await client(server);
    busy.send(Buffer.from('hold'));
    await idle.closed;
    await waitFor('idle connection gone on the server', () => server.counters().connectionsOpen === 1);
    expect(server.counters().errors).toEqual({ IDLE_TIMEOUT: 1 });
    // The busy connection outlived the idle one although it sent nothing since: its request is in flight.
    expect(server.connections()).toEqual([expect.objectContaining({ inFlight: 1, closing: false })]);
    held.resolve(Buffer.from('done'));
    expect(String(await busy.next())).toBe('done');
    await busy.closed;
    expect(server.counters().errors).toEqual({ IDLE_TIMEOUT: 2 });
  });

  it('connection cap: connections beyond it are dropped and counted', async () => {
    const server = await start(echo, { maxConnections: 2 });
    const a = await client(server);
    const b = await client(server);
    await waitFor('two connections', () => server.counters().connectionsOpen === 2);
    const third = await raw(server);
    await third.closed;
    expect(server.counters()).toMatchObject({ connectionsRejected: 1, errors: { CONNECTION_LIMIT: 1 } });
    a.send(Buffer.from('a'));
    b.send(Buffer.from('b'));
    expect(String(await a.next())).toBe('ANS:a');
    expect(String(await b.next())).toBe('ANS:b');
  });

  it('in-flight cap: the socket stops being read at the cap and resumes as answers complete', async () => {
    const pending: Array<{ frame: string; d: ReturnType<typeof deferred<Buffer>> }> = [];
    const server = await start(
      async (frame) => {
        const d = deferred<Buffer>();
        pending.push({ frame: String(frame), d });
        return d.promise;
      },
      { maxInFlightPerConnection: 2 },
    );
    const c = await client(server);
    // One write, so all five are read before the cap pauses the socket.
    c.socket.write(Buffer.concat([1, 2, 3, 4, 5].map((i) => encodeFrame(Buffer.from(`r${i}`), 'binary2'))));
    await waitFor('the cap reached with the rest queued', () => {
      const s = server.connections()[0];
      return s !== undefined && s.inFlight === 2 && s.queued + s.inFlight === 5;
    });
    expect(pending.map((p) => p.frame)).toEqual(['r1', 'r2']);
    expect(server.connections()[0]?.readPaused).toBe(true);
    for (let answered = 0; answered < 5; answered++) {
      await waitFor('next request dispatched', () => pending.length > answered);
      pending[answered]?.d.resolve(Buffer.from(`a-${pending[answered]?.frame}`));
      expect(String(await c.next())).toBe(`a-r${answered + 1}`);
      expect(server.connections()[0]?.inFlight).toBeLessThanOrEqual(2);
    }
    await waitFor('reading again', () => server.connections()[0]?.readPaused === false);
  });

  it('back-pressure: a client that does not read its answers does not make the server buffer without bound', async () => {
    const big = Buffer.alloc(60_000, 0x55);
    let handled = 0;
    const hwm = 64 * 1024;
    const server = await start(
      async () => {
        handled++;
        return big;
      },
      { maxMessageSize: 100, maxInFlightPerConnection: 4, writeHighWaterMark: hwm },
    );
    const c = await client(server);
    c.socket.pause();
    const total = 1000; // 60 MB of answers: far more than the loopback socket buffers hold.
    const requests = Buffer.concat(Array.from({ length: total }, (_, i) => encodeFrame(Buffer.from(`req-${i}`), 'binary2')));
    c.socket.write(requests);
    await waitFor('the server to stop reading because its writes are blocked', () => {
      const s = server.connections()[0];
      return s !== undefined && s.writeBlocked && s.readPaused && s.inFlight === 0;
    });
    const snapshot = server.connections()[0];
    // Bounded by the high-water mark plus the answers of the requests in flight when writes blocked.
    expect(snapshot?.writableLength).toBeLessThanOrEqual(hwm + 4 * (big.length + 2));
    const stalledAt = handled;
    expect(stalledAt).toBeLessThan(total);
    c.socket.resume();
    let received = 0;
    while (received < total) {
      const answer = await c.next();
      expect(answer.length).toBe(big.length);
      received++;
    }
    expect(handled).toBe(total);
    expect(server.counters().framesOut).toBe(total);
  });

  it('a reset mid-frame, and an answer for a vanished connection, are counted and harm nobody', async () => {
    const held = deferred<Buffer>();
    const server = await start(async (frame) => (String(frame) === 'hold' ? held.promise : echo(frame, null as never)));
    const good = await client(server);
    const resetter = await raw(server);
    resetter.socket.write(Buffer.concat([encodeFrame(Buffer.from('hold'), 'binary2'), Buffer.from([0, 9, 1])]));
    await waitFor('request in flight', () => server.connections().some((s) => s.inFlight === 1));
    resetter.socket.resetAndDestroy();
    await waitFor('reset seen', () => server.counters().connectionsOpen === 1);
    held.resolve(Buffer.from('too late'));
    await waitFor('dropped answer counted', () => server.counters().errors.RESPONSE_DROPPED === 1);
    expect(server.counters().errors).toEqual({ SOCKET_ERROR: 1, RESPONSE_DROPPED: 1 });
    good.send(Buffer.from('ok'));
    expect(String(await good.next())).toBe('ANS:ok');
  });

  it('send() pushes an unsolicited message to a connection in its framing', async () => {
    const server = await start(echo, { framing: 'auto', maxMessageSize: 1000 });
    const c = await client(server, 'ascii4');
    c.send(Buffer.from('hello'));
    expect(String(await c.next())).toBe('ANS:hello');
    const id = server.connections()[0]?.id as string;
    expect(server.send(id, Buffer.from('1804 key change'))).toBe(true);
    expect(String(await c.next())).toBe('1804 key change');
    expect(server.send('pos-unknown', Buffer.from('x'))).toBe(false);
  });

  describe('graceful close', () => {
    it('stops accepting, finishes the request in flight, then closes', async () => {
      const held = deferred<Buffer>();
      let calls = 0;
      const server = await start(async () => {
        calls++;
        return held.promise;
      });
      const busy = await client(server);
      const idle = await client(server);
      busy.send(Buffer.from('in flight'));
      await waitFor('request in flight', () => calls === 1);
      const closing = server.close();
      await idle.closed;
      await expect(connectIsoClient({ host: '127.0.0.1', port: server.port, framing: 'binary2' })).rejects.toMatchObject({
        code: 'ECONNREFUSED',
      });
      expect(server.connections()).toEqual([expect.objectContaining({ inFlight: 1, closing: true })]);
      held.resolve(Buffer.from('late answer'));
      expect(String(await busy.next())).toBe('late answer');
      await busy.closed;
      await closing;
      expect(server.counters()).toMatchObject({ connectionsOpen: 0, errors: {} });
    });

    it('destroys what is still in flight when the grace runs out', async () => {
      const server = await start(() => new Promise<Buffer>(() => {}));
      const c = await client(server);
      c.send(Buffer.from('never answered'));
      await waitFor('request in flight', () => server.connections()[0]?.inFlight === 1);
      await server.close({ graceMs: 30 });
      await c.closed;
      expect(server.counters().errors).toEqual({ CLOSE_GRACE_EXPIRED: 1 });
    });
  });

  describe('TLS', () => {
    let key = '';
    let cert = '';

    beforeAll(() => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pos-tls-'));
      try {
        // EC key: generated in milliseconds, unlike RSA.
        execFileSync(
          'openssl',
          [
            'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
            '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
            '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
          ],
          { stdio: 'ignore' },
        );
        key = fs.readFileSync(path.join(dir, 'key.pem'), 'utf8');
        cert = fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8');
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('serves framed requests over TLS with a self-signed certificate', async () => {
      const server = await start(async (frame, conn) => Buffer.from(`${conn.tls}:${String(frame)}`), { tls: { key, cert } });
      const c = await client(server, 'binary2', { tls: { ca: cert, servername: 'localhost' } });
      c.send(Buffer.from('1804'));
      expect(String(await c.next())).toBe('true:1804');
      c.send(Buffer.from('1820'));
      expect(String(await c.next())).toBe('true:1820');
      expect(server.connections()).toEqual([expect.objectContaining({ tls: true })]);
    });

    it('a plain-TCP client on the TLS port fails the handshake without harming others', async () => {
      const server = await start(echo, { tls: { key, cert } });
      const good = await client(server, 'binary2', { tls: { ca: cert, servername: 'localhost' } });
      const plain = await raw(server);
      plain.socket.write(encodeFrame(Buffer.from('not tls'), 'binary2'));
      await plain.closed;
      expect(server.counters().errors).toEqual({ TLS_HANDSHAKE_FAILED: 1 });
      good.send(Buffer.from('ok'));
      expect(String(await good.next())).toBe('ANS:ok');
    });

    it('a client that never completes the handshake is cut by the read timeout', async () => {
      const server = await start(echo, { tls: { key, cert }, readTimeoutMs: 100 });
      const silent = await raw(server);
      await silent.closed;
      expect(server.counters().errors).toEqual({ TLS_HANDSHAKE_FAILED: 1 });
    });
  });
});
