import { ApiError, NetworkError } from '../shared/api';
import { jsonBody, signRequest } from './sign';

/** What pairing stores on this device. */
export interface TerminalCredentials {
  terminalId: string;
  secret: string;
  pairedAt: string;
}

const STORAGE_KEY = 'fuelcard.pos.terminal';

export function loadCredentials(): TerminalCredentials | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const v = JSON.parse(raw) as Partial<TerminalCredentials>;
    if (typeof v.terminalId === 'string' && typeof v.secret === 'string') return { terminalId: v.terminalId, secret: v.secret, pairedAt: String(v.pairedAt ?? '') };
  } catch {
    // Unreadable or blocked storage: the device is simply not paired.
  }
  return null;
}

export function saveCredentials(c: TerminalCredentials): void {
  localStorage.setItem(STORAGE_KEY, JSON.stringify(c));
}

export function forgetCredentials(): void {
  try {
    localStorage.removeItem(STORAGE_KEY);
  } catch {
    // Nothing stored.
  }
}

export const TERMINAL_ID_PATTERN = /^T\d{8}$/;
/** The console shows the secret as base64url of 32 bytes (43 characters); allow some slack for other issuers. */
export const SECRET_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;

/** Error codes that mean the stored pairing no longer works: the cashier must pair again. */
export const REPAIR_CODES = new Set(['TERMINAL_SIGNATURE_INVALID', 'TERMINAL_UNKNOWN']);

export interface SignedOptions {
  /** A JSON value to send; serialised once, and those bytes are both signed and sent. */
  body?: unknown;
  /** Already serialised bytes (a retry resends exactly these). */
  bodyBytes?: Uint8Array<ArrayBuffer>;
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export interface TerminalClient {
  readonly terminalId: string;
  request<T>(method: string, target: string, opts?: SignedOptions): Promise<T>;
  /** Seconds to add to the device clock to get the server's (learnt from ping or a skew refusal). */
  clockOffset(): number;
  setClockOffset(seconds: number): void;
}

async function toApiError(res: Response): Promise<ApiError> {
  let body: any = null;
  try {
    body = await res.json();
  } catch {
    // A proxy's HTML error page: fall through to a generic error.
  }
  const e = body?.error;
  if (e && typeof e.code === 'string') return new ApiError(res.status, e.code, String(e.message ?? e.code), e.details);
  return new ApiError(res.status, `HTTP_${res.status}`, `请求失败（${res.status}） / Request failed (${res.status})`, undefined);
}

/**
 * A client whose every request is signed with the terminal's secret. Each call is a newly signed
 * request (fresh timestamp and nonce), so retrying means calling again with the same bodyBytes and
 * Idempotency-Key, never resending old headers.
 */
export function createTerminalClient(creds: Pick<TerminalCredentials, 'terminalId' | 'secret'>): TerminalClient {
  let offset = 0;
  return {
    terminalId: creds.terminalId,
    clockOffset: () => offset,
    setClockOffset: (s) => {
      offset = s;
    },
    async request<T>(method: string, target: string, o: SignedOptions = {}): Promise<T> {
      const bytes = o.bodyBytes ?? (o.body === undefined ? undefined : jsonBody(o.body));
      const signed = await signRequest({
        terminalId: creds.terminalId,
        secret: creds.secret,
        method,
        target,
        body: bytes,
        timestamp: Math.floor(Date.now() / 1000) + offset,
      });
      const headers: Record<string, string> = { ...signed };
      if (bytes) headers['content-type'] = 'application/json';
      if (o.idempotencyKey) headers['idempotency-key'] = o.idempotencyKey;
      let res: Response;
      try {
        res = await fetch(target, { method, headers, body: bytes, signal: o.signal, cache: 'no-store' });
      } catch (err) {
        if ((err as Error).name === 'AbortError') throw err;
        throw new NetworkError((err as Error).message);
      }
      if (!res.ok) {
        const err = await toApiError(res);
        // The server tells a terminal its clock when refusing a skewed timestamp: adopt it so the next try is in time.
        if (err.code === 'TERMINAL_TIMESTAMP_SKEW') {
          const serverTime = Number(err.details?.serverTime);
          if (Number.isFinite(serverTime) && serverTime > 0) offset = Math.round(serverTime - Date.now() / 1000);
        }
        throw err;
      }
      const text = await res.text();
      try {
        return (text ? JSON.parse(text) : undefined) as T;
      } catch {
        // A 200 that is not JSON is not our server (a captive portal, a proxy): no usable answer.
        throw new NetworkError('answer is not JSON');
      }
    },
  };
}

/** GET /api/v1/pos/ping */
export interface PingAnswer {
  terminalId: string;
  stationId: number;
  serverTime: number;
}

/** GET /api/v1/pos/forecourt */
export interface Forecourt {
  terminalId: string;
  station: { id: number; name: string };
  businessDay: string;
  /** gradeNameEn is sent by the server beyond the contract; shown when the POS is in English. */
  nozzles: Array<{ nozzle: number; grade: string; gradeName: string; gradeNameEn?: string; unitPrice: number | null }>;
}

/**
 * Runs a signed call and, if the server refused the device clock (it then says its own time, which
 * the client adopts), runs it once more.
 */
export async function withClockRetry<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 'TERMINAL_TIMESTAMP_SKEW')) throw err;
    return call();
  }
}

export function loadForecourt(client: TerminalClient): Promise<Forecourt> {
  return withClockRetry(() => client.request<Forecourt>('GET', '/api/v1/pos/forecourt'));
}

/**
 * Pings and, when the device clock is off, signs with the server's time from then on, so a till
 * whose clock drifted keeps working. Returns the answer and the offset in seconds.
 */
export async function pingWithClock(client: TerminalClient): Promise<{ ping: PingAnswer; offset: number }> {
  const ping = await withClockRetry(() => client.request<PingAnswer>('GET', '/api/v1/pos/ping'));
  const drift = Math.round(ping.serverTime - Date.now() / 1000);
  // Small drift is within the server's tolerance; only correct what would risk a refusal.
  if (Math.abs(drift) > 30) client.setClockOffset(drift);
  return { ping, offset: client.clockOffset() };
}
