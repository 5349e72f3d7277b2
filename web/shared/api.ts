import { pickLang, type Lang } from './i18n';

/** An answer of the platform's error shape: {"error":{"code","message","details"}}. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly serverMessage: string,
    readonly details: Record<string, unknown> | undefined,
  ) {
    super(`${code}: ${serverMessage}`);
  }
  /** The message for people, in the chosen language (the server sends both). */
  text(lang: Lang): string {
    return pickLang(this.serverMessage, lang);
  }
}

/** The request never got an answer (offline, server down). */
export class NetworkError extends Error {
  readonly code = 'NETWORK';
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | null | undefined>;
  idempotencyKey?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface ApiClient {
  request<T = unknown>(method: string, path: string, opts?: RequestOptions): Promise<T>;
  /** GET a file (e.g. an .xlsx export) with the bearer header and save it under its server name. */
  download(path: string, query?: RequestOptions['query'], fallbackName?: string): Promise<void>;
}

export function withQuery(path: string, query?: RequestOptions['query']): string {
  if (!query) return path;
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

async function toError(res: Response): Promise<ApiError> {
  let body: any = null;
  try {
    body = await res.json();
  } catch {
    // Not JSON (a proxy's error page): fall through to a generic error.
  }
  const e = body?.error;
  if (e && typeof e.code === 'string') return new ApiError(res.status, e.code, String(e.message ?? e.code), e.details);
  return new ApiError(res.status, `HTTP_${res.status}`, `请求失败（${res.status}） / Request failed (${res.status})`, undefined);
}

/**
 * A JSON client for one kind of session (staff or cardholder). getToken supplies the bearer
 * token; onUnauthenticated runs on a 401 so the app can send the user back to sign in.
 */
export function createApi(opts: { getToken: () => string | null; onUnauthenticated?: () => void }): ApiClient {
  const send = async (method: string, path: string, o: RequestOptions = {}): Promise<Response> => {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    const token = opts.getToken();
    if (token) headers.authorization = `Bearer ${token}`;
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    if (o.idempotencyKey) headers['idempotency-key'] = o.idempotencyKey;
    let res: Response;
    try {
      res = await fetch(withQuery(path, o.query), {
        method,
        headers,
        body: o.body === undefined ? undefined : JSON.stringify(o.body),
        signal: o.signal,
      });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw new NetworkError((err as Error).message);
    }
    if (res.status === 401 && token) opts.onUnauthenticated?.();
    if (!res.ok) throw await toError(res);
    return res;
  };
  return {
    async request<T>(method: string, path: string, o?: RequestOptions): Promise<T> {
      const res = await send(method, path, o);
      if (res.status === 204) return undefined as T;
      const text = await res.text();
      return (text ? JSON.parse(text) : undefined) as T;
    },
    async download(path, query, fallbackName = 'export.xlsx') {
      const res = await send('GET', path, { query });
      const blob = await res.blob();
      const disposition = res.headers.get('content-disposition') ?? '';
      // RFC 6266: filename* carries the real (e.g. Chinese) name; filename is its ASCII fallback.
      const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition)?.[1];
      let name = /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? fallbackName;
      if (star) {
        try {
          name = decodeURIComponent(star);
        } catch {
          /* a malformed filename*: keep the ASCII one */
        }
      }
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = name;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    },
  };
}

/** A fresh Idempotency-Key for one business operation; keep it across retries of that operation. */
export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}

/** The text to show for any error thrown by the client. */
export function errorText(err: unknown, lang: Lang): string {
  if (err instanceof ApiError) return err.text(lang);
  if (err instanceof NetworkError) return lang === 'en' ? 'Network error: check the connection and try again' : '网络异常，请检查连接后重试';
  return lang === 'en' ? 'Something went wrong' : '出错了';
}
