/**
 * Request signing for a forecourt terminal, as docs/terminals.md specifies:
 *
 *   X-Signature = hex HMAC-SHA256(secret as UTF-8, METHOD \n PATH \n TIMESTAMP \n NONCE \n hex SHA-256(body))
 *
 * Everything here runs on WebCrypto (crypto.subtle), which browsers offer only in a secure
 * context (https, or http on localhost): callers check signingAvailable() and explain when not.
 */

/** SHA-256 of the empty body, the BODY-SHA256 line of every GET. */
export const EMPTY_BODY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const encoder = new TextEncoder();

export function signingAvailable(): boolean {
  return typeof crypto !== 'undefined' && typeof crypto.subtle?.importKey === 'function';
}

function hex(buf: ArrayBuffer): string {
  let out = '';
  for (const b of new Uint8Array(buf)) out += b.toString(16).padStart(2, '0');
  return out;
}

export async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return hex(await crypto.subtle.digest('SHA-256', bytes));
}

export async function hmacSha256Hex(secret: string, message: string): Promise<string> {
  // The key is the secret string's UTF-8 bytes exactly as the console showed it, not base64-decoded.
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return hex(await crypto.subtle.sign('HMAC', key, encoder.encode(message)));
}

/** A fresh nonce: 128 random bits as 32 hex characters (getRandomValues works in any context). */
export function newNonce(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  let out = '';
  for (const x of b) out += x.toString(16).padStart(2, '0');
  return out;
}

export interface SignInput {
  terminalId: string;
  secret: string;
  /** Upper case, as sent. */
  method: string;
  /** Path and query string exactly as sent, e.g. /api/v1/pos/ping?probe=1. */
  target: string;
  /** The exact body bytes that will be sent; omit (or empty) for a GET. */
  body?: Uint8Array<ArrayBuffer>;
  /** Unix seconds; defaults to the device clock. */
  timestamp?: number;
  nonce?: string;
}

export interface SignedHeaders {
  'x-terminal-id': string;
  'x-timestamp': string;
  'x-nonce': string;
  'x-signature': string;
}

export function stringToSign(method: string, target: string, timestamp: string, nonce: string, bodySha256: string): string {
  return [method, target, timestamp, nonce, bodySha256].join('\n');
}

export async function signRequest(input: SignInput): Promise<SignedHeaders> {
  const timestamp = String(input.timestamp ?? Math.floor(Date.now() / 1000));
  const nonce = input.nonce ?? newNonce();
  const bodyHash = input.body && input.body.byteLength > 0 ? await sha256Hex(input.body) : EMPTY_BODY_SHA256;
  const signature = await hmacSha256Hex(input.secret, stringToSign(input.method.toUpperCase(), input.target, timestamp, nonce, bodyHash));
  return { 'x-terminal-id': input.terminalId, 'x-timestamp': timestamp, 'x-nonce': nonce, 'x-signature': signature };
}

/**
 * Serialises a JSON body once. The bytes returned are both what gets hashed for the signature and
 * what fetch sends, so the server hashes exactly what was signed.
 */
export function jsonBody(value: unknown): Uint8Array<ArrayBuffer> {
  return encoder.encode(JSON.stringify(value));
}
