/**
 * UnionPay online payment (银联全渠道), ACP 5.1.0 wire format: form fields, the signature over
 * the SHA-256 hex digest, the signPubKeyCert chain check, and the protocol's times
 * (docs/channel-unionpay.md). Pure functions of their inputs; no I/O.
 */
import { createHash, createSign, createVerify, X509Certificate, type KeyObject } from 'node:crypto';

export const ACP_VERSION = '5.1.0';
/** The organisation UnionPay's signing certificates name in the third `@`-field of their CN. */
export const UNIONPAY_ORG = '中国银联股份有限公司';

export type AcpFields = Record<string, string>;

/**
 * The string UnionPay signs: every non-empty field but `signature`, sorted by key in UTF-16 code
 * unit order (Java's TreeMap order, which the SDK uses), joined as `k=v&…` with the values as
 * they are (decoded, never URL-encoded). The SDK drops blank values before signing and when it
 * reads a notification, so an empty field is not part of the signature on either side.
 */
export function signingString(fields: Readonly<AcpFields>): string {
  return Object.keys(fields)
    .filter((k) => k !== 'signature' && fields[k] !== '')
    .sort()
    .map((k) => `${k}=${fields[k]}`)
    .join('&');
}

/** Lower-case hex SHA-256 of the signing string: what the RSA signature is computed over (5.1.0, signMethod 01). */
export function signingDigest(fields: Readonly<AcpFields>): string {
  return createHash('sha256').update(signingString(fields), 'utf8').digest('hex');
}

export function signFields(fields: Readonly<AcpFields>, key: KeyObject | string): string {
  return createSign('RSA-SHA256').update(signingDigest(fields), 'utf8').sign(key, 'base64');
}

export function verifyFieldsSignature(fields: Readonly<AcpFields>, key: KeyObject | string): boolean {
  const sig = fields.signature;
  if (!sig || !/^[A-Za-z0-9+/]+={0,2}$/.test(sig)) return false;
  try {
    return createVerify('RSA-SHA256').update(signingDigest(fields), 'utf8').verify(key, sig, 'base64');
  } catch {
    return false;
  }
}

/** certId = the certificate's serial number in decimal (how UnionPay names a merchant's signing certificate). */
export function certIdOf(cert: X509Certificate): string {
  return BigInt(`0x${cert.serialNumber}`).toString(10);
}

/** The `@`-separated identity in the subject CN, e.g. `041@Z12@中国银联股份有限公司@00000001`. */
export function subjectCommonName(cert: X509Certificate): string | null {
  for (const line of cert.subject.split('\n')) if (line.startsWith('CN=')) return line.slice(3);
  return null;
}

export type CertCheck = { ok: true; cert: X509Certificate } | { ok: false; reason: string };

/**
 * The checks the UnionPay SDK makes on the signPubKeyCert of an answer or notification
 * (CertUtil.verifyCertificate), with node:crypto: the certificate parses; it was issued and
 * signed by the configured middle certificate, which was issued and signed by the configured
 * root (a self-signed root); the certificate and the middle are valid at `now`; the middle is a
 * CA and the leaf is not; and the third `@`-field of the leaf's CN is exactly 中国银联股份有限公司
 * (the SDK's production rule; its test-environment exception `00040000:SIGN` is not accepted).
 */
export function checkUnionPayCert(pem: string, trust: { root: X509Certificate; middle: X509Certificate }, now: Date): CertCheck {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    return { ok: false, reason: 'signPubKeyCert does not parse' };
  }
  const { root, middle } = trust;
  if (!root.checkIssued(root) || !root.verify(root.publicKey)) return { ok: false, reason: 'configured root certificate is not self-signed' };
  if (!middle.ca || !middle.checkIssued(root) || !middle.verify(root.publicKey)) return { ok: false, reason: 'configured middle certificate does not chain to the root' };
  if (cert.ca) return { ok: false, reason: 'signPubKeyCert is a CA certificate' };
  if (!cert.checkIssued(middle) || !cert.verify(middle.publicKey)) return { ok: false, reason: 'signPubKeyCert does not chain to the configured middle certificate' };
  for (const [name, c] of [['signPubKeyCert', cert], ['middle certificate', middle], ['root certificate', root]] as const) {
    if (now.getTime() < Date.parse(c.validFrom) || now.getTime() > Date.parse(c.validTo)) return { ok: false, reason: `${name} is outside its validity period` };
  }
  const cn = subjectCommonName(cert);
  if (cn === null || cn.split('@')[2] !== UNIONPAY_ORG) return { ok: false, reason: 'signPubKeyCert is not a UnionPay certificate (CN)' };
  return { ok: true, cert };
}

/** A signed message from UnionPay: certificate check, then the signature with that certificate's key. */
export function verifyUnionPaySigned(fields: Readonly<AcpFields>, trust: { root: X509Certificate; middle: X509Certificate }, now: Date): { ok: true } | { ok: false; reason: string } {
  const pem = fields.signPubKeyCert;
  if (!pem) return { ok: false, reason: 'no signPubKeyCert' };
  if (!fields.signature) return { ok: false, reason: 'no signature' };
  if (fields.signMethod !== '01') return { ok: false, reason: `unsupported signMethod ${fields.signMethod ?? ''}` };
  const check = checkUnionPayCert(pem, trust, now);
  if (!check.ok) return check;
  if (!verifyFieldsSignature(fields, check.cert.publicKey)) return { ok: false, reason: 'signature does not verify' };
  return { ok: true };
}

/* ── Form bodies ─────────────────────────────────────────────────────────────────────────────── */

/** application/x-www-form-urlencoded, UTF-8 (requests we send; notifications the sandbox sends). */
export function encodeForm(fields: Readonly<AcpFields>): string {
  return new URLSearchParams(Object.entries(fields)).toString();
}

/**
 * A form body, strictly: UTF-8 (invalid bytes refuse it), `+` is a space, `%XX` must decode, and
 * a field named twice refuses it (which of two values was signed would be ambiguous).
 */
export function parseForm(body: Buffer | string): AcpFields | null {
  let text: string;
  try {
    text = typeof body === 'string' ? body : new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return null;
  }
  const out: AcpFields = Object.create(null) as AcpFields;
  for (const part of text.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) return null;
    let k: string;
    let v: string;
    try {
      k = decodeURIComponent(part.slice(0, eq).replace(/\+/g, ' '));
      v = decodeURIComponent(part.slice(eq + 1).replace(/\+/g, ' '));
    } catch {
      return null;
    }
    if (Object.prototype.hasOwnProperty.call(out, k)) return null;
    out[k] = v;
  }
  return { ...out };
}

/**
 * UnionPay's synchronous answers are `k=v&…` with values NOT URL-encoded (the SDK's
 * convertResultStringToMap): the key ends at the first `=`, a pair ends at an `&` outside `{…}`.
 */
export function parseAnswer(text: string): AcpFields | null {
  const out: AcpFields = {};
  let depth = 0;
  let start = 0;
  const pairs: string[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '{') depth++;
    else if (ch === '}') depth = Math.max(0, depth - 1);
    else if (ch === '&' && depth === 0) {
      pairs.push(text.slice(start, i));
      start = i + 1;
    }
  }
  pairs.push(text.slice(start));
  for (const p of pairs) {
    if (p === '') continue;
    const eq = p.indexOf('=');
    if (eq <= 0) return null;
    const k = p.slice(0, eq);
    if (Object.prototype.hasOwnProperty.call(out, k)) return null;
    out[k] = p.slice(eq + 1);
  }
  return Object.keys(out).length > 0 ? out : null;
}

/** The answer format above (the sandbox's side). Values must not contain `&` outside braces. */
export function encodeAnswer(fields: Readonly<AcpFields>): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/* ── Times: UnionPay speaks Beijing time (UTC+8, no daylight saving since 1991) ───────────────── */

const BEIJING_MS = 8 * 3600_000;

/** yyyyMMddHHmmss in Beijing time (txnTime, payTimeout). */
export function beijingStamp(at: Date): string {
  return new Date(at.getTime() + BEIJING_MS).toISOString().replace(/[-T:]/g, '').slice(0, 14);
}

/** The instant of a yyyyMMddHHmmss Beijing-time stamp, or null when it is not a real time. */
export function parseBeijingStamp(s: string): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(s);
  if (!m) return null;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const t = Date.UTC(y, mo - 1, d, h, mi, se);
  const back = new Date(t);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) return null;
  return new Date(t - BEIJING_MS);
}

/** YYYY-MM-DD of an instant in Beijing time. */
export function beijingDay(at: Date): string {
  return new Date(at.getTime() + BEIJING_MS).toISOString().slice(0, 10);
}

/**
 * A month-day without a year (settleDate MMDD, the MMDD of traceTime) as YYYY-MM-DD: the year
 * that puts it nearest to `near` (a settleDate of 0101 on a payment sent 2026-12-31 23:30 is
 * 2027-01-01). Null when MMDD is not a day of any of the candidate years.
 */
export function resolveMonthDay(mmdd: string, near: Date): string | null {
  const m = /^(\d{2})(\d{2})$/.exec(mmdd);
  if (!m) return null;
  const mo = Number(m[1]);
  const d = Number(m[2]);
  const nearDay = beijingDay(near);
  const y0 = Number(nearDay.slice(0, 4));
  const nearT = Date.UTC(y0, Number(nearDay.slice(5, 7)) - 1, Number(nearDay.slice(8, 10)));
  let best: { t: number; day: string } | null = null;
  for (const y of [y0 - 1, y0, y0 + 1]) {
    const t = Date.UTC(y, mo - 1, d);
    const back = new Date(t);
    if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) continue;
    if (!best || Math.abs(t - nearT) < Math.abs(best.t - nearT)) best = { t, day: back.toISOString().slice(0, 10) };
  }
  return best?.day ?? null;
}

/** MMDDhhmmss (traceTime, 交易传输时间) as an instant, the year chosen nearest to `near`. */
export function resolveMonthDayTime(mmddhhmmss: string, near: Date): Date | null {
  const m = /^(\d{4})(\d{6})$/.exec(mmddhhmmss);
  if (!m) return null;
  const day = resolveMonthDay(m[1]!, near);
  if (!day) return null;
  return parseBeijingStamp(day.replace(/-/g, '') + m[2]!);
}

/** An amount field in fen: digits only, no sign, within the safe integer range. */
export function parseFen(s: string | undefined): number | null {
  if (s === undefined || !/^\d{1,15}$/.test(s)) return null;
  return Number(s);
}
