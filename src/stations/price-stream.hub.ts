import type { ServerResponse } from 'node:http';
import pg from 'pg';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Config, Db, TerminalPrincipal } from '../platform/index.js';
import { forecourtFor, type Forecourt } from './forecourt.service.js';
import { nextEffectiveTime } from './prices.service.js';
import { pricesChanged } from './price-check.js';
import { etagOf } from './etag.js';

/**
 * The push channel's engine: the open Server-Sent Events streams of one server, and what wakes
 * them. One dedicated PostgreSQL connection LISTENs on 'forecourt_changed' (sent by triggers in the
 * changing transaction: migrations/021), and one timer waits for the next scheduled price (or the
 * next business day). A wake-up re-reads the forecourt of each affected station once and sends it
 * to that station's streams whose version (ETag) differs from the last one sent.
 */

export const MAX_STREAMS = 2000;
export const PING_MS = 15_000;
/** A client this far behind (bytes not yet taken by the socket) is cut off rather than buffered for. */
const MAX_BUFFERED = 256 * 1024;
/** Wake-ups within this window are served by one refresh. */
const DEBOUNCE_MS = 50;
/** Without a working LISTEN connection, every stream is re-read this often instead. */
const RESYNC_MS = 30_000;
const RECONNECT_MS = 2_000;
/** Timers never wait longer than this; they re-arm. */
const MAX_TIMER_MS = 3_600_000;
/** Stations refreshed at once (each one query on the pool). */
const REFRESH_CONCURRENCY = 4;

interface Stream {
  terminal: TerminalPrincipal;
  res: ServerResponse;
  lastEtag: string;
}

export interface HubDeps {
  db: Db;
  config: Config;
  logger: Logger;
  /** The pool's connection settings are what the LISTEN connection uses; without it, DATABASE_URL. */
  pool?: pg.Pool;
}

type Dirty = { all: boolean; stations: Set<number>; provinces: Set<string> };

export class ForecourtHub {
  private readonly streams = new Map<string, Stream>();
  private listener: pg.Client | null = null;
  private listenerStarting = false;
  private closed = false;
  private dirty: Dirty = { all: false, stations: new Set(), provinces: new Set() };
  private flushTimer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private scheduleTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private resyncTimer: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  /** Only the latest armSchedule may set the timer: an earlier one may have read before a new scheduled price. */
  private armGeneration = 0;

  constructor(private readonly deps: HubDeps) {}

  get size(): number {
    return this.streams.size;
  }

  /** Whether a new stream for this terminal fits under the cap (its own older stream makes room). */
  hasRoomFor(terminalId: string): boolean {
    return !this.closed && (this.streams.size < MAX_STREAMS || this.streams.has(terminalId));
  }

  async forecourt(terminal: TerminalPrincipal): Promise<{ body: Forecourt; etag: string }> {
    const body = await forecourtFor(this.deps.db, this.deps.config.timeZone, terminal);
    return { body, etag: etagOf(body) };
  }

  /** Adopts an open response as the terminal's stream (closing its previous one) and sends the first event. */
  open(terminal: TerminalPrincipal, res: ServerResponse, first: { body: Forecourt; etag: string }): void {
    this.closeTerminal(terminal.id, 'replaced');
    const stream: Stream = { terminal, res, lastEtag: first.etag };
    this.streams.set(terminal.id, stream);
    res.on('close', () => {
      if (this.streams.get(terminal.id) === stream) this.streams.delete(terminal.id);
      if (this.streams.size === 0) this.idle();
    });
    res.write(`retry: 5000\n\n`);
    this.send(stream, first.body, first.etag);
    this.startPinging();
    this.ensureListener();
    this.armSchedule();
  }

  /** Ends a terminal's stream (a newer one replaced it, or the terminal was disabled). */
  closeTerminal(terminalId: string, reason: 'replaced' | 'disabled' | 'shutdown'): void {
    const s = this.streams.get(terminalId);
    if (!s) return;
    this.streams.delete(terminalId);
    this.end(s, reason);
  }

  /** Ends every stream and stops listening; the server is going away. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const id of [...this.streams.keys()]) this.closeTerminal(id, 'shutdown');
    this.idle();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    await this.flushing?.catch(() => {});
  }

  private end(s: Stream, reason: string): void {
    if (!s.res.writableEnded && !s.res.destroyed) {
      s.res.write(`event: close\ndata: ${JSON.stringify({ reason })}\n\n`);
      s.res.end();
    }
  }

  private send(s: Stream, body: Forecourt, etag: string): void {
    if (s.res.writableEnded || s.res.destroyed) return;
    s.res.write(`event: forecourt\nid: ${etag}\ndata: ${JSON.stringify({ ...body, etag })}\n\n`);
    s.lastEtag = etag;
    if (s.res.writableLength > MAX_BUFFERED) s.res.destroy();
  }

  /** No streams (or shutting down): stop the timers and the LISTEN connection; the next stream starts them again. */
  private idle(): void {
    for (const t of [this.scheduleTimer, this.pingTimer, this.resyncTimer, this.reconnectTimer]) if (t) clearTimeout(t);
    this.scheduleTimer = this.pingTimer = this.resyncTimer = this.reconnectTimer = null;
    const l = this.listener;
    this.listener = null;
    if (l) void l.end().catch(() => {});
  }

  private startPinging(): void {
    if (this.pingTimer) return;
    this.pingTimer = setInterval(() => {
      for (const s of this.streams.values()) if (!s.res.writableEnded) s.res.write(`: ping\n\n`);
    }, PING_MS);
    this.pingTimer.unref();
  }

  private connectionSettings(): pg.ClientConfig | null {
    const { pool, config } = this.deps;
    // pg-pool keeps the password as a non-enumerable property: copy it by name.
    if (pool) return { ...pool.options, password: pool.options.password } as pg.ClientConfig;
    return config.databaseUrl ? { connectionString: config.databaseUrl } : null;
  }

  private ensureListener(): void {
    if (this.listener || this.listenerStarting || this.closed) return;
    this.listenerStarting = true;
    void this.startListener()
      .catch((err: unknown) => {
        this.deps.logger.warn({ err }, 'forecourt push: LISTEN connection failed; re-reading streams every 30 s until it is back');
        this.startResync();
        this.reconnectLater();
      })
      .finally(() => {
        this.listenerStarting = false;
      });
  }

  private async startListener(): Promise<void> {
    const settings = this.connectionSettings();
    if (!settings) throw new Error('no connection settings for the LISTEN connection');
    if (!this.deps.pool) {
      // DATABASE_URL names the server; the database is the one the pool is on (tests clone one per file).
      const db = await sql<{ name: string }>`select current_database() as name`.execute(this.deps.db);
      const url = new URL(settings.connectionString!);
      url.pathname = `/${db.rows[0]!.name}`;
      settings.connectionString = url.toString();
    }
    const client = new pg.Client(settings);
    client.on('error', () => {});
    await client.connect();
    if (this.closed || this.streams.size === 0) {
      await client.end().catch(() => {});
      return;
    }
    client.on('notification', (n) => this.onNotification(n.payload ?? '*'));
    client.on('end', () => {
      if (this.listener !== client) return;
      this.listener = null;
      this.startResync();
      this.reconnectLater();
    });
    await client.query('listen forecourt_changed');
    this.listener = client;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    this.resyncTimer = null;
    // Whatever changed while nobody listened.
    this.markAll();
  }

  private reconnectLater(): void {
    if (this.reconnectTimer || this.closed || this.streams.size === 0) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.ensureListener();
    }, RECONNECT_MS);
    this.reconnectTimer.unref();
  }

  private startResync(): void {
    if (this.resyncTimer || this.closed || this.streams.size === 0) return;
    this.resyncTimer = setInterval(() => this.markAll(), RESYNC_MS);
    this.resyncTimer.unref();
  }

  private onNotification(payload: string): void {
    // Another process may have changed a price: the sale path's cache must read again too.
    pricesChanged();
    if (payload.startsWith('s:')) this.dirty.stations.add(Number(payload.slice(2)));
    else if (payload.startsWith('p:')) this.dirty.provinces.add(payload.slice(2));
    else this.dirty.all = true;
    this.scheduleFlush();
  }

  private markAll(): void {
    this.dirty.all = true;
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushTimer || this.closed) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      void this.flush();
    }, DEBOUNCE_MS);
  }

  private async flush(): Promise<void> {
    if (this.flushing) {
      // One refresh at a time; what arrived meanwhile is served right after.
      await this.flushing;
      return this.flush();
    }
    const dirty = this.dirty;
    this.dirty = { all: false, stations: new Set(), provinces: new Set() };
    if (!dirty.all && dirty.stations.size === 0 && dirty.provinces.size === 0) return;
    this.flushing = this.refresh(dirty)
      // After any refresh (a change heard, the LISTEN connection back, a resync): a new scheduled
      // price may come before the one the timer waits for.
      .then(() => this.armSchedule())
      .catch((err: unknown) => this.deps.logger.error({ err }, 'forecourt push: refresh failed'))
      .finally(() => {
        this.flushing = null;
      });
    return this.flushing;
  }

  private async refresh(dirty: Dirty): Promise<void> {
    const byStation = new Map<number, Stream[]>();
    for (const s of this.streams.values()) byStation.set(s.terminal.stationId, [...(byStation.get(s.terminal.stationId) ?? []), s]);
    let targets = [...byStation.keys()];
    if (!dirty.all) {
      const inProvince = dirty.provinces.size === 0 ? [] : (await sql<{ id: number }>`select id from stations
        where id = any(${targets}::bigint[]) and province = any(${[...dirty.provinces]}::text[])`.execute(this.deps.db)).rows.map((r) => r.id);
      const wanted = new Set([...dirty.stations, ...inProvince]);
      targets = targets.filter((id) => wanted.has(id));
    }
    let next = 0;
    const worker = async () => {
      while (next < targets.length && !this.closed) {
        const stationId = targets[next++]!;
        const streams = byStation.get(stationId)!;
        const base = await forecourtFor(this.deps.db, this.deps.config.timeZone, streams[0]!.terminal);
        for (const s of streams) {
          const body = { ...base, terminalId: s.terminal.id };
          const etag = etagOf(body);
          if (etag !== s.lastEtag) this.send(s, body, etag);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(REFRESH_CONCURRENCY, targets.length) }, worker));
  }

  /** Wakes every stream when the next scheduled price takes effect or the business day turns. */
  private armSchedule(): void {
    if (this.closed || this.streams.size === 0) return;
    const generation = ++this.armGeneration;
    void (async () => {
      const [price, day] = await Promise.all([
        nextEffectiveTime(this.deps.db),
        sql<{ at: Date }>`select (date_trunc('day', now() at time zone ${this.deps.config.timeZone}) + interval '1 day') at time zone ${this.deps.config.timeZone} as at`.execute(this.deps.db),
      ]);
      const at = Math.min(price?.getTime() ?? Infinity, day.rows[0]!.at.getTime());
      if (this.closed || this.streams.size === 0 || generation !== this.armGeneration) return;
      if (this.scheduleTimer) clearTimeout(this.scheduleTimer);
      // A little after the moment, so the database's now() has passed it too.
      const wait = Math.min(Math.max(at - Date.now() + 100, 100), MAX_TIMER_MS);
      this.scheduleTimer = setTimeout(() => {
        this.scheduleTimer = null;
        this.markAll();
        this.armSchedule();
      }, wait);
      this.scheduleTimer.unref();
    })().catch((err: unknown) => this.deps.logger.error({ err }, 'forecourt push: scheduling failed'));
  }
}
