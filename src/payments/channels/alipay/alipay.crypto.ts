/**
 * The pieces of Alipay's OpenAPI wire format that both the adapter and the sandbox need:
 * RSA2 signing of parameter sets, the signed-substring rule of gateway answers, yuan strings
 * and Beijing-time timestamps. Pure functions, no I/O (docs/channel-alipay.md).
 */
import { createPrivateKey, createPublicKey, createSign, createVerify, type KeyObject } from 'node:crypto';

/** Accepts PEM (PKCS#8, PKCS#1, SPKI) or the bare base64 the Alipay key tool hands out. */
export function loadPrivateKey(text: string): KeyObject {
  const t = text.trim();
  if (t.includes('-----BEGIN')) return createPrivateKey(t);
  const der = Buffer.from(t.replace(/\s+/g, ''), 'base64');
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } catch {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs1' });
  }
}

export function loadPublicKey(text: string): KeyObject {
  const t = text.trim();
  if (t.includes('-----BEGIN')) return createPublicKey(t);
  return createPublicKey({ key: Buffer.from(t.replace(/\s+/g, ''), 'base64'), format: 'der', type: 'spki' });
}

/**
 * The string Alipay signs: parameters sorted by key (ASCII), `k=v` joined by `&`, values as
 * decoded (never URL-encoded), the `omit` keys left out. Requests omit only `sign` and leave
 * out empty values (we never send one). Notifications omit `sign` and `sign_type` and keep
 * empty values as `k=`: the verification Alipay documents ("all parameters returned except
 * sign and sign_type") and alipay-sdk's checkNotifySignV2 both keep them (`keepEmpty`).
 */
export function signingString(params: Readonly<Record<string, string>>, omit: readonly string[], o: { keepEmpty?: boolean } = {}): string {
  return Object.keys(params)
    .filter((k) => !omit.includes(k) && params[k] !== undefined && (o.keepEmpty === true || params[k] !== ''))
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
}

export function rsa2Sign(content: string, key: KeyObject): string {
  return createSign('RSA-SHA256').update(content, 'utf8').sign(key, 'base64');
}

export function rsa2Verify(content: string, signature: string, key: KeyObject): boolean {
  try {
    return createVerify('RSA-SHA256').update(content, 'utf8').verify(key, signature, 'base64');
  } catch {
    return false;
  }
}

/** Sign a parameter set as a notification (what the Alipay side, here the sandbox, does). */
export function signNotificationParams(params: Record<string, string>, alipayPrivateKey: KeyObject): Record<string, string> {
  const out = { ...params, sign_type: 'RSA2' };
  return { ...out, sign: rsa2Sign(signingString(out, ['sign', 'sign_type'], { keepEmpty: true }), alipayPrivateKey) };
}

/** Sign a parameter set as a request (what the merchant, here the adapter, does). */
export function signRequestParams(params: Record<string, string>, appPrivateKey: KeyObject): Record<string, string> {
  return { ...params, sign: rsa2Sign(signingString(params, ['sign']), appPrivateKey) };
}

// ── Gateway answers ──

/**
 * The members of a top-level JSON object as raw text spans. Alipay signs the response object
 * exactly as it stands in the text (`{"x_response":{…},"sign":"…"}` → the `{…}`), so the span
 * must be cut from the bytes received, never re-serialised. A duplicate key or anything that
 * is not one JSON object throws.
 */
export function topLevelMembers(text: string): Map<string, string> {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && ' \t\r\n'.includes(text[i]!)) i++;
  };
  const fail = (why: string): never => {
    throw new Error(`malformed JSON answer: ${why} at ${i}`);
  };
  const scanString = (): void => {
    if (text[i] !== '"') fail('string expected');
    i++;
    while (i < text.length) {
      const c = text[i]!;
      if (c === '\\') i += 2;
      else if (c === '"') {
        i++;
        return;
      } else i++;
    }
    fail('unterminated string');
  };
  const scanValue = (): void => {
    const c = text[i];
    if (c === '"') return scanString();
    if (c === '{' || c === '[') {
      let depth = 0;
      while (i < text.length) {
        const d = text[i]!;
        if (d === '"') {
          scanString();
          continue;
        }
        if (d === '{' || d === '[') depth++;
        else if (d === '}' || d === ']') {
          depth--;
          if (depth === 0) {
            i++;
            return;
          }
        }
        i++;
      }
      fail('unterminated value');
    }
    const start = i;
    while (i < text.length && !',}] \t\r\n'.includes(text[i]!)) i++;
    if (i === start) fail('value expected');
  };
  const out = new Map<string, string>();
  ws();
  if (text[i] !== '{') fail('object expected');
  i++;
  ws();
  if (text[i] === '}') i++;
  else {
    for (;;) {
      ws();
      const ks = i;
      scanString();
      const key = JSON.parse(text.slice(ks, i)) as string;
      ws();
      if (text[i] !== ':') fail('colon expected');
      i++;
      ws();
      const vs = i;
      scanValue();
      if (out.has(key)) fail(`duplicate key ${key}`);
      out.set(key, text.slice(vs, i));
      ws();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        break;
      }
      fail('comma or end expected');
    }
  }
  ws();
  if (i !== text.length) fail('trailing content');
  return out;
}

/** `alipay.trade.query` → `alipay_trade_query_response`. */
export const responseKey = (method: string): string => `${method.replace(/\./g, '_')}_response`;

/**
 * Alipay escapes `/` in its JSON (`https:\/\/…`): the sandbox does too, so a verifier that
 * re-serialises the object instead of using the received text fails in tests as it would in
 * production.
 */
export function alipayJson(value: unknown): string {
  return JSON.stringify(value).replace(/\//g, '\\/');
}

// ── Money and time ──

const YUAN = /^(-)?(0|[1-9]\d{0,11})(?:\.(\d{1,2}))?$/;

/** '100.00' / '0.1' / '-3000.00' → fen, by string arithmetic (never parseFloat). null when not a yuan amount. */
export function yuanToFen(value: string | number | undefined | null, allowNegative = false): number | null {
  if (value === undefined || value === null) return null;
  const s = typeof value === 'number' ? String(value) : value.trim();
  const m = YUAN.exec(s);
  if (!m) return null;
  if (m[1] && !allowNegative) return null;
  const fen = Number(m[2]) * 100 + Number((m[3] ?? '').padEnd(2, '0'));
  return m[1] && fen !== 0 ? -fen : fen;
}

export function fenToYuan(fen: number): string {
  if (!Number.isSafeInteger(fen)) throw new Error(`not an amount in fen: ${fen}`);
  const abs = Math.abs(fen);
  return `${fen < 0 ? '-' : ''}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** China has kept UTC+8 without daylight saving since 1991: a fixed offset is exact. */
const BEIJING_MS = 8 * 3600_000;

/** yyyy-MM-dd HH:mm:ss in Beijing time, the format of every Alipay timestamp. */
export function formatBeijing(at: Date, millis = false): string {
  const iso = new Date(at.getTime() + BEIJING_MS).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, millis ? 23 : 19)}`;
}

const BEIJING_TIME = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/;

/** 'yyyy-MM-dd HH:mm:ss[.SSS]' (Beijing time) → Date; null when malformed or not a real date. */
export function parseBeijing(value: string | undefined | null): Date | null {
  if (!value) return null;
  const m = BEIJING_TIME.exec(value.trim());
  if (!m) return null;
  const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((k) => Number(m[k]));
  const ms = Number((m[7] ?? '').padEnd(3, '0'));
  const utc = Date.UTC(y!, mo! - 1, d!, h!, mi!, s!, ms);
  const check = new Date(utc);
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo! - 1 || check.getUTCDate() !== d || h! > 23 || mi! > 59 || s! > 59) return null;
  return new Date(utc - BEIJING_MS);
}

/** The Beijing business day (YYYY-MM-DD) of an instant. */
export const beijingDay = (at: Date): string => formatBeijing(at).slice(0, 10);
