/**
 * The terminal host in `npm start` (docs/pos-gateway.md): the TCP transport (framing decided per
 * connection) → the session layer (host/inbound.ts) with the terminal directory, the exactly-once
 * journal and the key store on PostgreSQL; the sale messages run through the sales use cases
 * (host/business.ts) and 1304 file actions serve the hot list, whitelist, prices and parameters
 * (host/file-actions.ts).
 */
import { readFileSync } from 'node:fs';
import client from 'prom-client';
import type { Logger } from 'pino';
import { registry, type Config, type Db } from '../platform/index.js';
import { responseMti } from './iso8583/index.js';
import { handleInbound, type HandlerTable, type InboundContext, type InboundResult } from './host/inbound.js';
import { DbTerminalDirectory } from './host/db-directory.js';
import { DbReplayGuard } from './host/db-replay.js';
import { posKeyStoreFor } from './host/db-keystore.js';
import { businessHandlers } from './host/business.js';
import { fileActionHandler } from './host/file-actions.js';
import { PosMessageLog } from './host/message-log.js';
import { startIsoServer, type IsoConnectionSnapshot, type IsoServer, type IsoServerCounters } from './transport/index.js';

export interface PosConnection extends IsoConnectionSnapshot {
  /** DE 41 of the terminal that last authenticated on this connection (null until then). */
  terminalId: string | null;
}

export interface PosGateway {
  readonly port: number;
  readonly tls: boolean;
  counters(): IsoServerCounters;
  connections(): PosConnection[];
  stop(): Promise<void>;
}

export interface PosGatewayOptions {
  /** Overrides config.posPort (tests: 0). */
  port?: number;
  host?: string;
  handlers?: HandlerTable;
  now?: () => Date;
  idleTimeoutMs?: number;
  readTimeoutMs?: number;
  /** The per-terminal support log (docs/pos-operations.md); default one on the gateway's database, null = none. */
  messageLog?: PosMessageLog | null;
}

/** Running gateways by database: the staff API's connection list finds the one of its process. */
const running = new Map<Db, PosGateway>();
const live = new Set<PosGateway>();

export function runningPosGateway(db: Db): PosGateway | null {
  return running.get(db) ?? null;
}

let messages: client.Counter<'mti' | 'outcome'> | null = null;
let actions: client.Counter<'code'> | null = null;

/** Registered once per process; the transport's counters are read at scrape time from every live gateway. */
function metrics(): { messages: client.Counter<'mti' | 'outcome'>; actions: client.Counter<'code'> } {
  if (messages && actions) return { messages, actions };
  const sum = (pick: (c: IsoServerCounters) => number): number => [...live].reduce((n, g) => n + pick(g.counters()), 0);
  new client.Gauge({
    name: 'fuelcard_pos_connections',
    help: 'ISO 8583 terminal connections open now',
    registers: [registry],
    collect() {
      this.set(sum((c) => c.connectionsOpen));
    },
  });
  // Monotonic totals owned by the transport, exposed as gauges of the running value (they restart with the process).
  new client.Gauge({
    name: 'fuelcard_pos_frames',
    help: 'ISO 8583 frames since start, by direction',
    labelNames: ['direction'] as const,
    registers: [registry],
    collect() {
      this.set({ direction: 'in' }, sum((c) => c.framesIn));
      this.set({ direction: 'out' }, sum((c) => c.framesOut));
      this.set({ direction: 'connections_total' }, sum((c) => c.connectionsTotal));
      this.set({ direction: 'connections_rejected' }, sum((c) => c.connectionsRejected));
    },
  });
  new client.Gauge({
    name: 'fuelcard_pos_transport_errors',
    help: 'ISO 8583 transport errors since start, by code (each closes its connection)',
    labelNames: ['code'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const by = new Map<string, number>();
      for (const g of live) for (const [code, n] of Object.entries(g.counters().errors)) by.set(code, (by.get(code) ?? 0) + (n ?? 0));
      for (const [code, n] of by) this.set({ code }, n);
    },
  });
  messages = new client.Counter({
    name: 'fuelcard_pos_messages_total',
    help: 'ISO 8583 messages handled, by request MTI and session-layer outcome',
    labelNames: ['mti', 'outcome'] as const,
    registers: [registry],
  });
  actions = new client.Counter({
    name: 'fuelcard_pos_action_codes_total',
    help: 'ISO 8583 answers by action code (DE 39)',
    labelNames: ['code'] as const,
    registers: [registry],
  });
  return { messages, actions };
}

export async function startPosGateway(deps: { db: Db; config: Config; logger: Logger }, opts: PosGatewayOptions = {}): Promise<PosGateway> {
  const { db, config, logger } = deps;
  const port = opts.port ?? config.posPort;
  if (port === null) throw new RangeError('the POS gateway is off (FUELCARD_POS_PORT=off)');
  const m = metrics();
  const directory = new DbTerminalDirectory(db);
  const replay = new DbReplayGuard(db, { windowMs: config.terminalClockSkewMs });
  const keyStore = await posKeyStoreFor(db, config.dataKeys, config.pinKey);
  const ctx: InboundContext = {
    directory,
    replay,
    keyStore,
    // The sale messages run through the sales use cases; tests may add or replace handlers.
    handlers: { ...businessHandlers({ db, config, logger }), '1304': fileActionHandler({ db, config }), ...(opts.handlers ?? {}) },
    transmissionWindowMs: config.terminalClockSkewMs,
    keyRolloverMs: config.posKeyRolloverMs,
    ...(opts.now ? { now: opts.now } : {}),
  };
  const terminalOf = new Map<string, string>();
  // last_message_at is for operations (seconds matter, not each message): one write per terminal per 5 s.
  const touched = new Map<string, number>();
  const TOUCH_EVERY_MS = 5_000;
  const messageLog = opts.messageLog === undefined ? new PosMessageLog(db, logger) : opts.messageLog;

  const observe = (r: InboundResult, connId: string): void => {
    // The label set stays bounded: garbage cannot invent MTIs.
    m.messages.inc({ mti: r.mti && responseMti(r.mti) ? r.mti : 'other', outcome: r.outcome });
    if (r.actionCode) m.actions.inc({ code: r.actionCode });
    const authenticated = r.terminalId && (r.outcome === 'OK' || r.outcome === 'DUPLICATE' || r.actionCode === '922' || r.outcome === 'REPLAY_CONFLICT');
    if (authenticated && r.terminalId) {
      terminalOf.set(connId, r.terminalId);
      const nowMs = Date.now();
      if (nowMs - (touched.get(r.terminalId) ?? 0) >= TOUCH_EVERY_MS) {
        if (touched.size > 10_000) touched.clear();
        touched.set(r.terminalId, nowMs);
        directory.touch(r.terminalId, new Date(nowMs)).catch((err: unknown) => logger.warn({ err }, 'pos: last_message_at not recorded'));
      }
    }
    if (r.outcome === 'INTERNAL' || r.outcome === 'HANDLER_FAILED') logger.error({ terminalId: r.terminalId, mti: r.mti, outcome: r.outcome, detail: r.detail }, 'pos: message failed');
    else if (r.outcome !== 'OK' && r.outcome !== 'DUPLICATE') logger.info({ terminalId: r.terminalId, mti: r.mti, outcome: r.outcome, actionCode: r.actionCode }, 'pos: message refused');
  };

  // TLS when configured (FUELCARD_POS_TLS_CERT / _KEY): terminals that can, connect over TLS; the
  // MACs and PIN blocks protect the messages either way. Read at start: a bad path fails the start.
  const tlsOptions = config.posTls ? { cert: readFileSync(config.posTls.certFile), key: readFileSync(config.posTls.keyFile) } : null;
  const server: IsoServer = await startIsoServer({
    port,
    ...(tlsOptions ? { tls: tlsOptions } : {}),
    host: opts.host ?? config.host,
    framing: 'auto',
    ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
    ...(opts.readTimeoutMs !== undefined ? { readTimeoutMs: opts.readTimeoutMs } : {}),
    handler: async (frame, conn) => {
      const receivedAt = ctx.now ? ctx.now() : new Date();
      const t0 = performance.now();
      const r = await handleInbound(frame, ctx);
      observe(r, conn.id);
      messageLog?.record({ isoTerminalId: r.terminalId ?? null, connId: conn.id, receivedAt, durationMs: performance.now() - t0, request: frame, response: r.response, result: r });
      return r.response;
    },
    onEvent: (e) => {
      if (e.type === 'close') terminalOf.delete(e.conn);
      if (e.type === 'error') logger.info({ conn: e.conn, code: e.code }, 'pos: connection error');
    },
  });

  const gateway: PosGateway = {
    port: server.port,
    tls: tlsOptions !== null,
    counters: () => server.counters(),
    connections: () => server.connections().map((c) => ({ ...c, terminalId: terminalOf.get(c.id) ?? null })),
    async stop() {
      await server.close({ graceMs: Math.min(config.shutdownTimeoutMs / 2, 10_000) });
      await messageLog?.close();
      live.delete(gateway);
      if (running.get(db) === gateway) running.delete(db);
    },
  };
  live.add(gateway);
  running.set(db, gateway);
  return gateway;
}
