import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signTerminalRequest, startTestServer, type TestServer } from '../../test/support/server.js';
import { expectError, newStation, ok, type TestTerminal } from '../../test/support/cards-factory.js';

const STREAM = '/api/v1/pos/forecourt/stream';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());

interface SseEvent {
  event: string;
  id?: string;
  data: any;
}

/** A terminal's push stream read event by event (comments skipped); `ended` resolves when the server ends it. */
async function openStream(srv: TestServer, terminal: TestTerminal) {
  const headers = signTerminalRequest(terminal, 'GET', STREAM, '');
  delete headers['content-type'];
  const res = await fetch(srv.baseUrl + STREAM, { headers });
  if (res.status !== 200) throw new Error(`stream refused: ${res.status} ${await res.text()}`);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let done = false;
  const queue: SseEvent[] = [];
  const waiter: { wake: (() => void) | null } = { wake: null };
  const pump = (async () => {
    for (;;) {
      const chunk = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (chunk.done) break;
      buffer += decoder.decode(chunk.value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const e: Partial<SseEvent> & { data?: string } = {};
        for (const line of block.split('\n')) {
          if (line.startsWith(':') || line === '') continue;
          const at = line.indexOf(':');
          const key = line.slice(0, at);
          const value = line.slice(at + 1).replace(/^ /, '');
          if (key === 'event') e.event = value;
          else if (key === 'id') e.id = value;
          else if (key === 'data') e.data = value;
        }
        if (e.event) queue.push({ event: e.event, id: e.id, data: e.data === undefined ? null : JSON.parse(e.data) });
      }
      waiter.wake?.();
    }
    done = true;
    waiter.wake?.();
  })();
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    /** The next event; null when the stream ended first. */
    async next(): Promise<SseEvent | null> {
      while (queue.length === 0 && !done) await new Promise<void>((r) => (waiter.wake = r));
      return queue.shift() ?? null;
    },
    ended: pump,
    cancel: () => reader.cancel().catch(() => {}),
  };
}

async function getForecourt(terminal: TestTerminal) {
  const path = '/api/v1/pos/forecourt';
  const headers = signTerminalRequest(terminal, 'GET', path, '');
  delete headers['content-type'];
  const res = await fetch(server.baseUrl + path, { headers });
  return { etag: res.headers.get('etag'), body: (await res.json()) as any };
}

const putNozzles = (stationId: number, items: unknown) => server.api('PUT', `/api/v1/stations/${stationId}/nozzles`, { role: 'operator', body: { items } });
const postPrice = (body: Record<string, unknown>) => server.api('POST', '/api/v1/prices', { role: 'operator', body });

describe('the forecourt push channel (SSE)', () => {
  it('sends the forecourt on connect, then again when a price or the nozzles change — also a change written by another process', async () => {
    const { stationId, terminal } = await newStation(server);
    ok(await putNozzles(stationId, [{ nozzle: 1, grade: '92#' }]), 200);
    ok(await postPrice({ grade: '92#', unitPrice: 745, stationId }), 201);
    const polled = await getForecourt(terminal);

    const s = await openStream(server, terminal);
    expect(s.status).toBe(200);
    expect(s.contentType).toMatch(/^text\/event-stream/);
    const first = (await s.next())!;
    expect(first.event).toBe('forecourt');
    // The same answer as the poll, with its version.
    expect(first.id).toBe(polled.etag);
    expect(first.data).toEqual({ ...polled.body, etag: polled.etag });

    ok(await postPrice({ grade: '92#', unitPrice: 752, stationId }), 201);
    const second = (await s.next())!;
    expect(second.event).toBe('forecourt');
    expect(second.data.nozzles[0]).toMatchObject({ nozzle: 1, unitPrice: 752 });
    expect(second.id).not.toBe(first.id);
    expect(second.id).toBe((await getForecourt(terminal)).etag);

    ok(await putNozzles(stationId, [{ nozzle: 1, grade: '92#' }, { nozzle: 2, grade: '95#' }]), 200);
    const third = (await s.next())!;
    expect(third.data.nozzles.map((n: any) => n.nozzle)).toEqual([1, 2]);

    // Another process (another server, the CLI, psql) writing the table is heard through LISTEN.
    await sql`insert into fuel_prices (grade, station_id, unit_price, effective_from, created_by) values ('95#', ${stationId}, 801, now(), 'psql')`.execute(server.db.db);
    const fourth = (await s.next())!;
    expect(fourth.data.nozzles[1]).toMatchObject({ nozzle: 2, unitPrice: 801 });
    await s.cancel();
  });

  it('sends the scheduled price as next at once, and the new price when it takes effect', async () => {
    const { stationId, terminal } = await newStation(server);
    ok(await putNozzles(stationId, [{ nozzle: 1, grade: '0#' }]), 200);
    ok(await postPrice({ grade: '0#', unitPrice: 712, stationId }), 201);
    const s = await openStream(server, terminal);
    expect((await s.next())!.data.nozzles[0]).toMatchObject({ unitPrice: 712, nextUnitPrice: null });
    // Far enough ahead that the change's own event (with `next`) comes first even on a busy machine.
    const when = new Date(Date.now() + 3000).toISOString();
    ok(await postPrice({ grade: '0#', unitPrice: 725, stationId, effectiveFrom: when }), 201);
    expect((await s.next())!.data.nozzles[0]).toMatchObject({ unitPrice: 712, nextUnitPrice: 725, nextEffectiveFrom: when });
    // Nothing is written when it begins: the server's timer for the next effective time wakes the stream.
    expect((await s.next())!.data.nozzles[0]).toMatchObject({ unitPrice: 725, nextUnitPrice: null, nextEffectiveFrom: null });
    await s.cancel();
  });

  it('keeps one stream per terminal: a second one ends the first', async () => {
    const { terminal } = await newStation(server);
    const a = await openStream(server, terminal);
    expect((await a.next())!.event).toBe('forecourt');
    const b = await openStream(server, terminal);
    expect((await b.next())!.event).toBe('forecourt');
    expect(await a.next()).toEqual({ event: 'close', id: undefined, data: { reason: 'replaced' } });
    expect(await a.next()).toBeNull();
    await a.ended;
    await b.cancel();
  });

  it('ends the stream of a terminal that is disabled', async () => {
    const { terminal } = await newStation(server);
    const s = await openStream(server, terminal);
    await s.next();
    ok(await server.api('POST', `/api/v1/terminals/${terminal.terminalId}/disable`, { role: 'operator' }), 204);
    expect(await s.next()).toMatchObject({ event: 'close', data: { reason: 'disabled' } });
    expect(await s.next()).toBeNull();
  });

  it('answers only signed requests', async () => {
    const unsigned = await fetch(server.baseUrl + STREAM);
    expect(unsigned.status).toBe(401);
    expectError(await server.api('GET', STREAM), 401, 'TERMINAL_SIGNATURE_INVALID');
  });

  it('ends every stream when the server closes', async () => {
    const other = await startTestServer();
    let closed = false;
    try {
      const { terminal } = await newStation(other);
      const s = await openStream(other, terminal);
      expect((await s.next())!.event).toBe('forecourt');
      await other.close();
      closed = true;
      expect(await s.next()).toMatchObject({ event: 'close', data: { reason: 'shutdown' } });
      expect(await s.next()).toBeNull();
    } finally {
      if (!closed) await other.close();
    }
  });
});
