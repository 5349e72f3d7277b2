import type pg from 'pg';
import type { Logger } from 'pino';
import { Type } from 'typebox';
import type { App, Config, Db, FieldCipher } from '../platform/index.js';
import { access } from '../platform/index.js';
import { ForecourtHub, MAX_STREAMS, PING_MS } from './price-stream.hub.js';
import { stationsError } from './stations.errors.js';

// One hub per database handle (one per server; tests run several servers in one process).
const hubs = new WeakMap<object, ForecourtHub>();

/** Ends a terminal's push stream at once (it was disabled); a no-op when it has none. */
export function closeTerminalStream(db: object, terminalId: string): void {
  hubs.get(db)?.closeTerminal(terminalId, 'disabled');
}

/**
 * The push channel for terminals: Server-Sent Events carrying the same forecourt answer as
 * GET /api/v1/pos/forecourt whenever it changes. `deps.pool`, when the composition root passes
 * it, gives the LISTEN connection its settings.
 */
export function priceStreamRoutes(app: App, deps: { db: Db; config: Config; cipher: FieldCipher; logger: Logger; pool?: pg.Pool }): void {
  const hub = new ForecourtHub({ db: deps.db, config: deps.config, logger: deps.logger, pool: deps.pool });
  hubs.set(deps.db, hub);
  // preClose, not onClose: Fastify waits for open requests before onClose, and a stream never ends by itself.
  app.addHook('preClose', async () => hub.close());
  app.addHook('onClose', async () => hub.close());

  app.get(
    '/api/v1/pos/forecourt/stream',
    {
      config: { access: access.terminal },
      schema: {
        tags: ['pos'],
        summary: 'Push channel: the forecourt (prices, nozzles) as Server-Sent Events (signed) / 油价推送（SSE）',
        description:
          'text/event-stream. On connect, and whenever it changes (a price set or cancelled, a scheduled price taking effect, nozzles or grades changed, a new business day): ' +
          '`event: forecourt`, `id: <etag>`, `data: <the GET /api/v1/pos/forecourt JSON plus "etag">`. A `: ping` comment every 15 s. ' +
          'One stream per terminal: a new one ends the old with `event: close` `{"reason":"replaced"}`; server shutdown sends `{"reason":"shutdown"}`. ' +
          `At most ${MAX_STREAMS} streams per server: beyond, 503 PRICE_STREAM_BUSY (poll instead).`,
        security: [{ terminal: [] }],
        response: { 200: Type.String({ description: 'text/event-stream' }) },
      },
    },
    async (req, reply) => {
      const terminal = req.terminal!;
      if (!hub.hasRoomFor(terminal.id)) throw stationsError('PRICE_STREAM_BUSY', { limit: MAX_STREAMS });
      // Read before taking the socket over: an error here is still an ordinary JSON error answer.
      const first = await hub.forecourt(terminal);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-ping-interval-ms': String(PING_MS),
      });
      req.socket.setKeepAlive(true);
      req.socket.setTimeout(0);
      hub.open(terminal, res, first);
    },
  );
}
