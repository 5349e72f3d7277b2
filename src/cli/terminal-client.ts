import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';

/**
 * A forecourt terminal's side of the signing contract in docs/terminals.md, in plain Node:
 * the simulator must sign exactly as a real terminal would, so it shares no code with the
 * server's verifier (a shared bug would then pass unnoticed).
 */

export const EMPTY_BODY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export interface SignInput {
  secret: string;
  method: string;
  /** Path and query exactly as sent, e.g. /api/v1/pos/hotlist?since=12. */
  target: string;
  timestamp: string;
  nonce: string;
  /** The exact body bytes sent; '' for a GET. */
  body: string;
}

/** The string to sign (five LF-joined lines) and its HMAC-SHA256, keyed by the secret's UTF-8 bytes. */
export function signTerminal(input: SignInput): { stringToSign: string; signature: string } {
  const bodyHash = createHash('sha256').update(input.body, 'utf8').digest('hex');
  const stringToSign = `${input.method.toUpperCase()}\n${input.target}\n${input.timestamp}\n${input.nonce}\n${bodyHash}`;
  return { stringToSign, signature: createHmac('sha256', Buffer.from(input.secret, 'utf8')).update(stringToSign, 'utf8').digest('hex') };
}

/** The server's error answer: `{error: {code, message, details}}`. */
export interface ServerError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

export interface TerminalResponse<T = any> {
  status: number;
  body: T;
  /** The error when the server refused the request (4xx/5xx with an error body). */
  error: ServerError | null;
  headers: Headers;
  /** Round trip, milliseconds. */
  ms: number;
}

/** The server could not be reached at all (refused, unresolvable, timed out): the terminal is offline. */
export class TerminalUnreachable extends Error {
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`cannot reach ${url}: ${reason}`);
    this.name = 'TerminalUnreachable';
  }
}

export interface TerminalClientOptions {
  baseUrl: string;
  terminalId: string;
  secret: string;
  /** Per-request timeout; a timeout counts as unreachable. */
  timeoutMs?: number;
  /** Seconds to add to the local clock, learned from a TERMINAL_TIMESTAMP_SKEW refusal. */
  clockOffsetS?: number;
}

export class TerminalClient {
  readonly baseUrl: string;
  readonly terminalId: string;
  private readonly secret: string;
  private readonly timeoutMs: number;
  clockOffsetS: number;

  constructor(opts: TerminalClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.terminalId = opts.terminalId;
    this.secret = opts.secret;
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.clockOffsetS = opts.clockOffsetS ?? 0;
  }

  get(target: string, headers: Record<string, string> = {}): Promise<TerminalResponse> {
    return this.request('GET', target, undefined, headers);
  }

  /** A money-moving POST: the Idempotency-Key makes a retry answer the first answer. */
  post(target: string, body: unknown, idempotencyKey?: string): Promise<TerminalResponse> {
    return this.request('POST', target, body, idempotencyKey ? { 'idempotency-key': idempotencyKey } : {});
  }

  /**
   * One signed request. Each call is freshly signed (new timestamp, new nonce), so calling it
   * again with the same body and Idempotency-Key is a proper retry, never a replay.
   */
  async request(method: string, target: string, body?: unknown, extra: Record<string, string> = {}): Promise<TerminalResponse> {
    const payload = body === undefined ? '' : JSON.stringify(body);
    const timestamp = String(Math.floor(Date.now() / 1000) + this.clockOffsetS);
    const nonce = randomBytes(16).toString('base64url');
    const { signature } = signTerminal({ secret: this.secret, method, target, timestamp, nonce, body: payload });
    const headers: Record<string, string> = {
      'x-terminal-id': this.terminalId,
      'x-timestamp': timestamp,
      'x-nonce': nonce,
      'x-signature': signature,
      ...extra,
    };
    if (payload !== '') headers['content-type'] = 'application/json';
    const started = performance.now();
    let res: Response;
    let text: string;
    try {
      res = await fetch(this.baseUrl + target, { method, headers, body: payload === '' ? undefined : payload, signal: AbortSignal.timeout(this.timeoutMs) });
      text = await res.text();
    } catch (err) {
      throw new TerminalUnreachable(this.baseUrl, describeNetworkError(err));
    }
    const ms = performance.now() - started;
    let parsed: any;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      parsed = text;
    }
    const error = res.status >= 400 ? toServerError(res.status, parsed) : null;
    return { status: res.status, body: parsed, error, headers: res.headers, ms };
  }
}

function toServerError(status: number, body: any): ServerError {
  const e = body && typeof body === 'object' ? body.error : undefined;
  if (e && typeof e.code === 'string') return { code: e.code, message: String(e.message ?? ''), details: e.details };
  return { code: `HTTP_${status}`, message: typeof body === 'string' ? body.slice(0, 200) : `HTTP ${status}` };
}

function describeNetworkError(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timed out';
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    if (cause?.code) return cause.code;
    if (cause?.message) return cause.message;
    return err.message;
  }
  return String(err);
}

/** A fresh Idempotency-Key (also the terminal's reference a reversal names). */
export const newTerminalRef = (): string => randomUUID();
