import net from 'node:net';
import tls from 'node:tls';
import { TransportError, type TransportErrorCode } from './errors.js';
import { FRAMING_LIMITS, FrameDecoder, checkMaxMessageSize, encodeFrame, type FramingKind, type FramingMode } from './framing.js';

/** What the handler learns about the connection a frame came from. */
export interface IsoConnectionInfo {
  readonly id: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly framing: FramingKind;
  readonly tls: boolean;
}

/**
 * Handles one request frame (the ISO 8583 message without its length header). Resolves to the
 * answer, or null for no answer (advice already acknowledged elsewhere, unsolicited echo reply…).
 * Requests of one connection run concurrently: answers are written as each completes, so the
 * handler (not the transport) matches answers to requests, by STAN.
 */
export type IsoHandler = (frame: Buffer, conn: IsoConnectionInfo) => Promise<Buffer | null>;

export interface IsoServerOptions {
  handler: IsoHandler;
  /** Default 8583; 0 picks a free port (tests). */
  port?: number;
  /** Default '0.0.0.0'. */
  host?: string;
  /** Default 'binary2'. 'auto' serves binary and ASCII terminals on one port. */
  framing?: FramingMode;
  /** Largest accepted request payload. Default 8192; must fit the framing (auto: below 12336). */
  maxMessageSize?: number;
  /** Concurrent connections; more are dropped at accept. Default 1000. */
  maxConnections?: number;
  /** Requests of one connection being handled at once; beyond it the socket stops being read. Default 16. */
  maxInFlightPerConnection?: number;
  /** Socket write buffer high-water mark: above it the connection stops being read until drained. Default 64 KiB. */
  writeHighWaterMark?: number;
  /** Close a connection with no traffic and nothing in flight for this long. Default 300 000 ms. */
  idleTimeoutMs?: number;
  /** A frame once started (and a TLS handshake) must complete within this. Default 10 000 ms. */
  readTimeoutMs?: number;
  /** Default grace of close(): in-flight requests get this long to finish. Default 30 000 ms. */
  closeGraceMs?: number;
  /** Serve TLS with these options (key, cert, ca, requestCert…) instead of plain TCP. */
  tls?: tls.TlsOptions;
  /** Connection lifecycle events for logging; they never carry message bytes (PIN blocks, keys). */
  onEvent?: (event: IsoServerEvent) => void;
}

export type IsoServerEvent =
  | { type: 'open'; conn: string; remoteAddress: string; tls: boolean }
  | { type: 'error'; conn: string | null; code: TransportErrorCode; detail: string }
  | { type: 'close'; conn: string; reason: CloseReason };

export type CloseReason = TransportErrorCode | 'PEER_CLOSED' | 'SERVER_CLOSING';

/** Plain counters for /metrics; a fresh copy on every call. */
export interface IsoServerCounters {
  connectionsOpen: number;
  connectionsTotal: number;
  connectionsRejected: number;
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  errors: Partial<Record<TransportErrorCode, number>>;
}

/** One connection's state, for the operations console and tests. */
export interface IsoConnectionSnapshot {
  id: string;
  remoteAddress: string;
  framing: FramingKind | null;
  tls: boolean;
  inFlight: number;
  /** Frames read but waiting for an in-flight slot. */
  queued: number;
  readPaused: boolean;
  writeBlocked: boolean;
  writableLength: number;
  closing: boolean;
}

export interface IsoServer {
  readonly port: number;
  readonly host: string;
  counters(): IsoServerCounters;
  connections(): IsoConnectionSnapshot[];
  /** Sends an unsolicited message (host-initiated key change…). False if the connection is gone or closing. */
  send(connectionId: string, payload: Buffer): boolean;
  /**
   * Graceful close: stop accepting, stop reading, let requests already received finish and their
   * answers flush, then close each connection; after `graceMs` the rest are destroyed. Idempotent.
   */
  close(opts?: { graceMs?: number }): Promise<void>;
}

interface Conn {
  readonly id: string;
  readonly socket: net.Socket;
  readonly decoder: FrameDecoder;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly tls: boolean;
  info: IsoConnectionInfo | null;
  inFlight: number;
  queue: Buffer[];
  readPaused: boolean;
  writeBlocked: boolean;
  closing: boolean;
  closeReason: CloseReason | null;
  idleTimer: NodeJS.Timeout | null;
  readTimer: NodeJS.Timeout | null;
  graceTimer: NodeJS.Timeout | null;
}

export async function startIsoServer(opts: IsoServerOptions): Promise<IsoServer> {
  const framing = opts.framing ?? 'binary2';
  const maxMessageSize = opts.maxMessageSize ?? Math.min(8192, FRAMING_LIMITS[framing]);
  checkMaxMessageSize(framing, maxMessageSize);
  const maxConnections = positive('maxConnections', opts.maxConnections ?? 1000);
  const maxInFlight = positive('maxInFlightPerConnection', opts.maxInFlightPerConnection ?? 16);
  const writeHighWaterMark = positive('writeHighWaterMark', opts.writeHighWaterMark ?? 64 * 1024);
  const idleTimeoutMs = positive('idleTimeoutMs', opts.idleTimeoutMs ?? 300_000);
  const readTimeoutMs = positive('readTimeoutMs', opts.readTimeoutMs ?? 10_000);
  const defaultGraceMs = positive('closeGraceMs', opts.closeGraceMs ?? 30_000);
  const handler = opts.handler;
  const emit = (event: IsoServerEvent): void => {
    try {
      opts.onEvent?.(event);
    } catch {
      // A logging hook must not break the transport.
    }
  };

  const counters: IsoServerCounters = {
    connectionsOpen: 0,
    connectionsTotal: 0,
    connectionsRejected: 0,
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    errors: {},
  };
  const conns = new Map<string, Conn>();
  let seq = 0;
  let closing = false;
  let closePromise: Promise<void> | null = null;

  const countError = (conn: Conn | null, code: TransportErrorCode, detail: string): void => {
    counters.errors[code] = (counters.errors[code] ?? 0) + 1;
    emit({ type: 'error', conn: conn?.id ?? null, code, detail });
  };

  const clearTimer = (t: NodeJS.Timeout | null): null => {
    if (t) clearTimeout(t);
    return null;
  };

  /** Reading stops while the connection is closing, its in-flight cap is reached or its writes are backed up. */
  const updateFlow = (conn: Conn): void => {
    const pause = conn.closing || conn.writeBlocked || conn.inFlight >= maxInFlight || conn.queue.length > 0;
    if (pause && !conn.readPaused) {
      conn.readPaused = true;
      conn.socket.pause();
      // The client cannot complete a frame we are not reading: do not hold it against it.
      conn.readTimer = clearTimer(conn.readTimer);
    } else if (!pause && conn.readPaused) {
      conn.readPaused = false;
      conn.socket.resume();
      if (conn.decoder.buffered > 0) startReadTimer(conn);
    }
  };

  const startReadTimer = (conn: Conn): void => {
    clearTimer(conn.readTimer);
    conn.readTimer = setTimeout(() => {
      conn.readTimer = null;
      countError(conn, 'READ_TIMEOUT', `frame not completed within ${readTimeoutMs} ms`);
      beginClose(conn, 'READ_TIMEOUT');
    }, readTimeoutMs);
  };

  const armIdle = (conn: Conn): void => {
    if (conn.idleTimer) {
      conn.idleTimer.refresh();
      return;
    }
    conn.idleTimer = setTimeout(function onIdle() {
      if (conn.closing) return;
      if (conn.inFlight > 0 || conn.queue.length > 0 || conn.writeBlocked) {
        // Busy on our side, not idle: look again later.
        conn.idleTimer = setTimeout(onIdle, idleTimeoutMs);
        return;
      }
      conn.idleTimer = null;
      countError(conn, 'IDLE_TIMEOUT', `no traffic for ${idleTimeoutMs} ms`);
      beginClose(conn, 'IDLE_TIMEOUT');
    }, idleTimeoutMs);
  };

  const write = (conn: Conn, payload: Buffer): boolean => {
    if (conn.socket.destroyed || !conn.socket.writable || conn.info === null) {
      countError(conn, 'RESPONSE_DROPPED', 'connection gone before the answer was written');
      return false;
    }
    let frame: Buffer;
    try {
      frame = encodeFrame(payload, conn.info.framing);
    } catch (err) {
      countError(conn, 'RESPONSE_TOO_LARGE', err instanceof TransportError ? err.detail : String(err));
      return false;
    }
    counters.framesOut++;
    counters.bytesOut += frame.length;
    if (!conn.socket.write(frame)) {
      // 'drain' (registered once per connection) clears this.
      conn.writeBlocked = true;
      updateFlow(conn);
    }
    return true;
  };

  const pump = (conn: Conn): void => {
    // Requests already read wait while writes are backed up: their answers would only add to the buffer.
    while (conn.queue.length > 0 && conn.inFlight < maxInFlight && !conn.writeBlocked) {
      dispatch(conn, conn.queue.shift() as Buffer);
    }
    updateFlow(conn);
    maybeFinishClose(conn);
  };

  const dispatch = (conn: Conn, frame: Buffer): void => {
    conn.inFlight++;
    const info = conn.info as IsoConnectionInfo;
    let result: Promise<Buffer | null>;
    try {
      result = Promise.resolve(handler(frame, info));
    } catch (err) {
      result = Promise.reject(err);
    }
    result
      .then(
        (answer) => {
          if (answer !== null && answer !== undefined) write(conn, answer);
        },
        (err: unknown) => {
          const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
          countError(conn, 'HANDLER_ERROR', detail);
        },
      )
      .finally(() => {
        conn.inFlight--;
        pump(conn);
      });
  };

  const onData = (conn: Conn, chunk: Buffer): void => {
    if (conn.closing) return;
    counters.bytesIn += chunk.length;
    armIdle(conn);
    const { frames, error } = conn.decoder.push(chunk);
    if (conn.info === null && conn.decoder.framing !== null) {
      conn.info = {
        id: conn.id,
        remoteAddress: conn.remoteAddress,
        remotePort: conn.remotePort,
        framing: conn.decoder.framing,
        tls: conn.tls,
      };
    }
    counters.framesIn += frames.length;
    conn.queue.push(...frames);
    if (error) {
      countError(conn, error.code, `${error.detail} at stream offset ${error.offset}`);
      // Frames before the bad header are genuine requests: they are still answered.
      beginClose(conn, error.code);
    } else if (conn.decoder.buffered === 0) {
      conn.readTimer = clearTimer(conn.readTimer);
    } else if (frames.length > 0 || conn.readTimer === null) {
      // A new frame started: its own clock starts now.
      startReadTimer(conn);
    }
    pump(conn);
  };

  /** Stops reading and closes once every received request is answered (or the grace runs out). */
  const beginClose = (conn: Conn, reason: CloseReason, graceMs = defaultGraceMs): void => {
    if (conn.closing) return;
    conn.closing = true;
    conn.closeReason = reason;
    conn.readTimer = clearTimer(conn.readTimer);
    conn.idleTimer = clearTimer(conn.idleTimer);
    conn.graceTimer = setTimeout(() => {
      conn.graceTimer = null;
      countError(conn, 'CLOSE_GRACE_EXPIRED', `${conn.inFlight} request(s) still in flight after ${graceMs} ms`);
      conn.socket.destroy();
    }, graceMs);
    updateFlow(conn);
    maybeFinishClose(conn);
  };

  const maybeFinishClose = (conn: Conn): void => {
    if (!conn.closing || conn.inFlight > 0 || conn.queue.length > 0 || conn.socket.destroyed) return;
    // end() flushes the answers already written; destroy() once flushed so a peer that never
    // closes its side cannot keep the socket around.
    if (conn.socket.writable) conn.socket.end(() => conn.socket.destroy());
    else conn.socket.destroy();
  };

  const onConnection = (socket: net.Socket, isTls: boolean): void => {
    const conn: Conn = {
      id: `pos-${++seq}`,
      socket,
      decoder: new FrameDecoder({ framing, maxMessageSize }),
      remoteAddress: socket.remoteAddress ?? '',
      remotePort: socket.remotePort ?? 0,
      tls: isTls,
      info: null,
      inFlight: 0,
      queue: [],
      readPaused: false,
      writeBlocked: false,
      closing: false,
      closeReason: null,
      idleTimer: null,
      readTimer: null,
      graceTimer: null,
    };
    conns.set(conn.id, conn);
    counters.connectionsOpen++;
    counters.connectionsTotal++;
    emit({ type: 'open', conn: conn.id, remoteAddress: conn.remoteAddress, tls: isTls });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => onData(conn, chunk));
    socket.on('drain', () => {
      conn.writeBlocked = false;
      pump(conn);
    });
    socket.on('end', () => {
      if (conn.closing) return;
      if (conn.decoder.buffered > 0 && conn.decoder.error === null) {
        countError(conn, 'FRAME_TRUNCATED', `peer closed with ${conn.decoder.buffered} byte(s) of an incomplete frame`);
        beginClose(conn, 'FRAME_TRUNCATED');
      } else {
        beginClose(conn, 'PEER_CLOSED');
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      countError(conn, 'SOCKET_ERROR', err.code ?? err.message);
    });
    socket.on('close', () => {
      conn.readTimer = clearTimer(conn.readTimer);
      conn.idleTimer = clearTimer(conn.idleTimer);
      conn.graceTimer = clearTimer(conn.graceTimer);
      conns.delete(conn.id);
      counters.connectionsOpen--;
      emit({ type: 'close', conn: conn.id, reason: conn.closeReason ?? 'PEER_CLOSED' });
    });
    armIdle(conn);
    if (closing) beginClose(conn, 'SERVER_CLOSING');
  };

  // allowHalfOpen: a terminal that half-closes after its last request still gets the answers.
  const netOptions = { allowHalfOpen: true, highWaterMark: writeHighWaterMark, pauseOnConnect: false };
  let server: net.Server;
  if (opts.tls) {
    const tlsServer = tls.createServer({ ...netOptions, ...opts.tls, handshakeTimeout: readTimeoutMs });
    tlsServer.on('secureConnection', (socket) => onConnection(socket, true));
    tlsServer.on('tlsClientError', (err: NodeJS.ErrnoException, socket) => {
      countError(null, 'TLS_HANDSHAKE_FAILED', err.code ?? err.message);
      socket.destroy();
    });
    server = tlsServer;
  } else {
    server = net.createServer(netOptions, (socket) => onConnection(socket, false));
  }
  server.maxConnections = maxConnections;
  server.on('drop', () => {
    counters.connectionsRejected++;
    countError(null, 'CONNECTION_LIMIT', `connection cap of ${maxConnections} reached`);
  });

  const host = opts.host ?? '0.0.0.0';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8583, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // After listen, server errors (EMFILE on accept…) are counted instead of crashing the process.
  server.on('error', (err: NodeJS.ErrnoException) => countError(null, 'SOCKET_ERROR', err.code ?? err.message));
  const address = server.address() as net.AddressInfo;

  return {
    port: address.port,
    host,
    counters: () => ({ ...counters, errors: { ...counters.errors } }),
    connections: () =>
      [...conns.values()].map((c) => ({
        id: c.id,
        remoteAddress: c.remoteAddress,
        framing: c.decoder.framing,
        tls: c.tls,
        inFlight: c.inFlight,
        queued: c.queue.length,
        readPaused: c.readPaused,
        writeBlocked: c.writeBlocked,
        writableLength: c.socket.writableLength,
        closing: c.closing,
      })),
    send(connectionId, payload) {
      const conn = conns.get(connectionId);
      if (!conn || conn.closing) return false;
      return write(conn, payload);
    },
    close(closeOpts) {
      if (closePromise) return closePromise;
      closing = true;
      const graceMs = closeOpts?.graceMs ?? defaultGraceMs;
      closePromise = new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const conn of conns.values()) beginClose(conn, 'SERVER_CLOSING', graceMs);
      });
      return closePromise;
    },
  };
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new TransportError('CONFIG_INVALID', `${name} must be a positive number, got ${value}`);
  }
  return value;
}
