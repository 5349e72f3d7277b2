/**
 * The cryptography of WeChat Pay API v3, with node:crypto only (docs/channel-wechat.md). Both
 * the adapter and the sandbox provider use these pieces, so the sandbox signs exactly what the
 * adapter verifies and the other way round; the tamper tests pin each check.
 */
import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  sign as rsaSign,
  verify as rsaVerify,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';

export const AUTH_SCHEMA = 'WECHATPAY2-SHA256-RSA2048';
/** WeChat's deliberate bad-signature probes (签名探测流量) start with this. */
export const SIGNTEST_PREFIX = 'WECHATPAY/SIGNTEST/';
/** Official advice: refuse a timestamp more than 5 minutes off. */
export const TIME_WINDOW_S = 300;

const NONCE_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** A random string of [A-Z0-9], as WeChat's own nonces look. */
export function randomNonce(length = 32): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += NONCE_ALPHABET[b % NONCE_ALPHABET.length];
  return out;
}

export function toPrivateKey(pem: string | KeyObject): KeyObject {
  return typeof pem === 'string' ? createPrivateKey(pem) : pem;
}

/** SHA256withRSA, base64: every signature of API v3 (requests, answers, notifications, JSAPI paySign). */
export function signSha256Rsa(message: Buffer | string, key: KeyObject): string {
  return rsaSign('RSA-SHA256', typeof message === 'string' ? Buffer.from(message, 'utf8') : message, key).toString('base64');
}

export function verifySha256Rsa(message: Buffer, signatureB64: string, key: KeyObject): boolean {
  try {
    return rsaVerify('RSA-SHA256', message, key, Buffer.from(signatureB64, 'base64'));
  } catch {
    return false;
  }
}

/** The string a merchant signs for a request: METHOD \n URL(path+query) \n timestamp \n nonce \n body \n. */
export function requestMessage(method: string, pathAndQuery: string, timestamp: string, nonce: string, body: Buffer | string): Buffer {
  return Buffer.concat([
    Buffer.from(`${method.toUpperCase()}\n${pathAndQuery}\n${timestamp}\n${nonce}\n`, 'utf8'),
    typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
    Buffer.from('\n'),
  ]);
}

/** The string WeChat signs for an answer or a notification: timestamp \n nonce \n body \n, over the raw body bytes. */
export function responseMessage(timestamp: string, nonce: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${timestamp}\n${nonce}\n`, 'utf8'), body, Buffer.from('\n')]);
}

export interface AuthorizationParts {
  mchid: string;
  nonce_str: string;
  signature: string;
  timestamp: string;
  serial_no: string;
}

export function buildAuthorization(input: {
  mchId: string;
  serialNo: string;
  key: KeyObject;
  method: string;
  pathAndQuery: string;
  body: Buffer | string;
  timestamp?: string;
  nonce?: string;
}): string {
  const timestamp = input.timestamp ?? String(Math.floor(Date.now() / 1000));
  const nonce = input.nonce ?? randomNonce();
  const signature = signSha256Rsa(requestMessage(input.method, input.pathAndQuery, timestamp, nonce, input.body), input.key);
  return `${AUTH_SCHEMA} mchid="${input.mchId}",nonce_str="${nonce}",signature="${signature}",timestamp="${timestamp}",serial_no="${input.serialNo}"`;
}

/** Parse an Authorization header of API v3; null when it is not one. */
export function parseAuthorization(header: string | undefined): AuthorizationParts | null {
  if (!header || !header.startsWith(`${AUTH_SCHEMA} `)) return null;
  const parts: Record<string, string> = {};
  for (const m of header.slice(AUTH_SCHEMA.length + 1).matchAll(/([a-z_]+)="([^"]*)"/g)) parts[m[1]!] = m[2]!;
  const { mchid, nonce_str, signature, timestamp, serial_no } = parts;
  if (!mchid || !nonce_str || !signature || !timestamp || !serial_no) return null;
  return { mchid, nonce_str, signature, timestamp, serial_no };
}

/** The JSAPI payment parameters wx.requestPayment / WeixinJSBridge take, paySign over appId \n timeStamp \n nonceStr \n package \n. */
export function jsapiParams(appId: string, prepayId: string, key: KeyObject, now = new Date()): Record<string, string> {
  const timeStamp = String(Math.floor(now.getTime() / 1000));
  const nonceStr = randomNonce();
  const pkg = `prepay_id=${prepayId}`;
  return { appId, timeStamp, nonceStr, package: pkg, signType: 'RSA', paySign: signSha256Rsa(`${appId}\n${timeStamp}\n${nonceStr}\n${pkg}\n`, key) };
}

// ── WeChat's keys: public-key mode (PUB_KEY_ID_…) and platform-certificate mode (serial) ──

export interface PlatformKey {
  id: string;
  key: KeyObject;
  /** Certificate mode: the certificate's validity; a signature by an expired certificate is refused. */
  notBefore?: Date;
  notAfter?: Date;
}

/**
 * Build the lookup of WeChat's verification keys from configuration: 'PUB_KEY_ID_…' → public
 * key PEM, or a platform certificate serial → certificate PEM. A certificate whose serial is not
 * the one it is filed under is a configuration error: it would never match a Wechatpay-Serial.
 */
export function loadPlatformKeys(map: Readonly<Record<string, string>>): Map<string, PlatformKey> {
  const out = new Map<string, PlatformKey>();
  for (const [id, pem] of Object.entries(map)) {
    if (pem.includes('-----BEGIN CERTIFICATE-----')) {
      const cert = new X509Certificate(pem);
      if (normaliseSerial(cert.serialNumber) !== normaliseSerial(id)) {
        throw new Error(`WeChat Pay platform certificate filed under ${id} has serial ${cert.serialNumber}`);
      }
      out.set(normaliseSerial(id), { id, key: cert.publicKey, notBefore: new Date(cert.validFrom), notAfter: new Date(cert.validTo) });
    } else {
      out.set(id.startsWith('PUB_KEY_ID_') ? id : normaliseSerial(id), { id, key: createPublicKey(pem) });
    }
  }
  return out;
}

/** Certificate serials are hex; WeChat sends them upper case, some tools lower case, some with leading zeros. */
function normaliseSerial(s: string): string {
  return s.startsWith('PUB_KEY_ID_') ? s : s.toUpperCase().replace(/^0+(?=.)/, '');
}

export function findPlatformKey(keys: ReadonlyMap<string, PlatformKey>, serial: string): PlatformKey | undefined {
  return keys.get(serial) ?? keys.get(normaliseSerial(serial));
}

export type SignatureCheck = { ok: true } | { ok: false; reason: 'missing' | 'stale' | 'probe' | 'unknown_serial' | 'expired_key' | 'bad_signature' | 'bad_type' };

/**
 * Check Wechatpay-* headers over the raw body: presence, the ±300 s window, WeChat's probes,
 * the key named by the serial, the signature. Headers are read lower case.
 */
export function checkWechatSignature(
  headers: Readonly<Record<string, string | undefined>>,
  body: Buffer,
  keys: ReadonlyMap<string, PlatformKey>,
  now: Date,
): SignatureCheck {
  const ts = headers['wechatpay-timestamp'];
  const nonce = headers['wechatpay-nonce'];
  const signature = headers['wechatpay-signature'];
  const serial = headers['wechatpay-serial'];
  const type = headers['wechatpay-signature-type'];
  if (!ts || !nonce || !signature || !serial) return { ok: false, reason: 'missing' };
  if (type !== undefined && type !== AUTH_SCHEMA) return { ok: false, reason: 'bad_type' };
  if (!/^\d{1,12}$/.test(ts) || Math.abs(now.getTime() / 1000 - Number(ts)) > TIME_WINDOW_S) return { ok: false, reason: 'stale' };
  // A probe is refused before any key lookup, so it can never be mistaken for something to skip.
  if (signature.startsWith(SIGNTEST_PREFIX)) return { ok: false, reason: 'probe' };
  const key = findPlatformKey(keys, serial);
  if (!key) return { ok: false, reason: 'unknown_serial' };
  if ((key.notBefore && now < key.notBefore) || (key.notAfter && now > key.notAfter)) return { ok: false, reason: 'expired_key' };
  return verifySha256Rsa(responseMessage(ts, nonce, body), signature, key.key) ? { ok: true } : { ok: false, reason: 'bad_signature' };
}

/** Headers WeChat puts on a signed answer or notification. */
export function signedHeaders(body: Buffer, key: KeyObject, serial: string, now = new Date()): Record<string, string> {
  const ts = String(Math.floor(now.getTime() / 1000));
  const nonce = randomNonce();
  return {
    'wechatpay-timestamp': ts,
    'wechatpay-nonce': nonce,
    'wechatpay-signature': signSha256Rsa(responseMessage(ts, nonce, body), key),
    'wechatpay-serial': serial,
    'wechatpay-signature-type': AUTH_SCHEMA,
  };
}

// ── AEAD_AES_256_GCM resources of notifications ──

export interface EncryptedResource {
  original_type: string;
  algorithm: 'AEAD_AES_256_GCM';
  ciphertext: string;
  associated_data: string;
  nonce: string;
}

export function encryptResource(plaintext: string, apiV3Key: string, originalType: string, associatedData = originalType, nonce = randomNonce(12)): EncryptedResource {
  const c = createCipheriv('aes-256-gcm', Buffer.from(apiV3Key, 'utf8'), Buffer.from(nonce, 'utf8'));
  c.setAAD(Buffer.from(associatedData, 'utf8'));
  const data = Buffer.concat([c.update(plaintext, 'utf8'), c.final(), c.getAuthTag()]);
  return { original_type: originalType, algorithm: 'AEAD_AES_256_GCM', ciphertext: data.toString('base64'), associated_data: associatedData, nonce };
}

/** Decrypt a resource; throws when the tag, key, nonce or AAD do not check out (final() verifies the tag). */
export function decryptResource(r: { ciphertext: string; nonce: string; associated_data?: string | null }, apiV3Key: string): string {
  const buf = Buffer.from(r.ciphertext, 'base64');
  if (buf.length <= 16) throw new Error('ciphertext too short');
  const d = createDecipheriv('aes-256-gcm', Buffer.from(apiV3Key, 'utf8'), Buffer.from(r.nonce, 'utf8'), { authTagLength: 16 });
  d.setAuthTag(buf.subarray(buf.length - 16));
  d.setAAD(Buffer.from(r.associated_data ?? '', 'utf8'));
  return Buffer.concat([d.update(buf.subarray(0, buf.length - 16)), d.final()]).toString('utf8');
}

// ── Times: API v3 speaks RFC 3339 with the +08:00 offset ──

const SHANGHAI_OFFSET_MS = 8 * 3600_000;

/** 2026-06-05T13:29:35+08:00 (China has no daylight saving time, so a fixed offset is exact). */
export function rfc3339Shanghai(at: Date): string {
  return `${new Date(Math.floor(at.getTime() / 1000) * 1000 + SHANGHAI_OFFSET_MS).toISOString().slice(0, 19)}+08:00`;
}

/** 2026-06-05 13:29:35, Beijing time, as the trade bill writes it. */
export function billTime(at: Date): string {
  return new Date(at.getTime() + SHANGHAI_OFFSET_MS).toISOString().slice(0, 19).replace('T', ' ');
}

export function parseBillTime(s: string): Date | null {
  if (!/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(s)) return null;
  const d = new Date(`${s.replace(' ', 'T')}+08:00`);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** The Beijing calendar day of an instant, YYYY-MM-DD. */
export function shanghaiDay(at: Date): string {
  return new Date(at.getTime() + SHANGHAI_OFFSET_MS).toISOString().slice(0, 10);
}

export function parseRfc3339(s: unknown): Date | undefined {
  if (typeof s !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s)) return undefined;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? undefined : d;
}
