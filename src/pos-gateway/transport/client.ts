import net from 'node:net';
import tls from 'node:tls';
import { TransportError } from './errors.js';
import { FRAMING_LIMITS, FrameDecoder, encodeFrame, type FramingKind } from './framing.js';

/**
 * A minimal framed client (terminal side): used by the transport tests and meant for the terminal
 * simulator. It does no request matching; `next()` returns answers in arrival order.
 */
export interface IsoClientOptions {
  host: string;
  port: number;
  framing: FramingKind;
  maxMessageSize?: number;
  /** Connect with TLS using these options (ca, servername…). */
  tls?: tls.ConnectionOptions;
}

export interface IsoClient {
  readonly socket: net.Socket;
  send(payload: Buffer): void;
  /** Next answer frame; rejects with TransportError READ_TIMEOUT after `timeoutMs`, or if the connection closed. */
  next(timeoutMs?: number): Promise<Buffer>;
  /** Resolves when the server closed the connection. */
  readonly closed: Promise<void>;
  close(): void;
}

export async function connectIsoClient(opts: IsoClientOptions): Promise<IsoClient> {
  const decoder = new FrameDecoder({ framing: opts.framing, maxMessageSize: opts.maxMessageSize ?? FRAMING_LIMITS[opts.framing] });
  const socket = await new Promise<net.Socket>((resolve, reject) => {
    const s: net.Socket = opts.tls
      ? tls.connect({ host: opts.host, port: opts.port, ...opts.tls }, () => resolve(s))
      : net.connect({ host: opts.host, port: opts.port }, () => resolve(s));
    s.once('error', reject);
  });
  const frames: Buffer[] = [];
  const waiters: Array<() => void> = [];
  let ended = false;
  const wake = (): void => {
    for (const w of waiters.splice(0)) w();
  };
  socket.on('data', (chunk: Buffer) => {
    const { frames: got, error } = decoder.push(chunk);
    frames.push(...got);
    if (error) socket.destroy();
    wake();
  });
  socket.on('error', () => {
    // Surfaced through `closed` / next().
  });
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      ended = true;
      wake();
      resolve();
    }),
  );
  return {
    socket,
    closed,
    send(payload) {
      socket.write(encodeFrame(payload, opts.framing));
    },
    async next(timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const frame = frames.shift();
        if (frame) return frame;
        if (ended) throw new TransportError('RESPONSE_DROPPED', 'connection closed before an answer arrived');
        const left = deadline - Date.now();
        if (left <= 0) throw new TransportError('READ_TIMEOUT', `no answer within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    },
    close() {
      socket.end();
    },
  };
}
