/**
 * Test helpers for the portal tests (not used by the server): customers with a given phone, the
 * sign-in code read back from the dev outbox, and a signed-in cardholder.
 */
import { randomInt } from 'node:crypto';
import { sql } from 'kysely';
import type { ApiResponse, TestServer } from '../../test/support/server.js';
import { blindIndex } from '../platform/index.js';

export const PORTAL_PASSWORD = 'portal-pass-1';

export function newPhone(): string {
  return `13${randomInt(5, 10)}${String(randomInt(0, 100_000_000)).padStart(8, '0')}`;
}

function expectStatus(r: ApiResponse, status: number, what: string): void {
  if (r.status !== status) throw new Error(`${what}: expected ${status}, got ${r.status} ${JSON.stringify(r.body)}`);
}

/** A customer registered at the counter with this phone. */
export async function customerWithPhone(server: TestServer, phone = newPhone(), name = '王小明'): Promise<{ id: number; phone: string }> {
  const r = await server.api('POST', '/api/v1/customers', {
    body: { name, phone, idType: 'passport', idNumber: `E${randomInt(10_000_000, 99_999_999)}` },
  });
  expectStatus(r, 201, 'create customer');
  return { id: r.body.id, phone };
}

export async function outbox(server: TestServer, limit = 200): Promise<Array<{ id: number; to: string; template: string; text: string; status: string; createdAt: string }>> {
  const r = await server.api('GET', `/api/v1/dev/messages?limit=${limit}`, { role: null });
  expectStatus(r, 200, 'dev outbox');
  return r.body.items;
}

/** The newest sign-in code sent to the phone, read from the dev outbox as a person would read the SMS. */
export async function latestCode(server: TestServer, phone: string): Promise<string | undefined> {
  const msg = (await outbox(server)).find((m) => m.to === phone && m.template === 'portal.code');
  return msg ? /\b(\d{6})\b/.exec(msg.text)?.[1] : undefined;
}

export function phoneBidx(server: TestServer, phone: string): string {
  return blindIndex(server.config.blindIndexKey, 'phone', phone);
}

/** Lets the next code request through at once (instead of waiting the 60 s spacing). */
export async function forgetLastCodeRequest(server: TestServer, phone: string): Promise<void> {
  await sql`update portal_codes set created_at = created_at - interval '61 seconds' where phone_bidx = ${phoneBidx(server, phone)}`.execute(server.db.db);
}

export async function requestCode(server: TestServer, phone: string): Promise<ApiResponse> {
  return server.api('POST', '/api/v1/portal/auth/code', { role: null, body: { phone } });
}

/**
 * Anonymous requests from a given client address (the test server's own requests all come from
 * 127.0.0.1): through Fastify's inject, which goes through every hook and handler as a real
 * request does, with the address as request.ip.
 */
export function fromAddress(server: TestServer, ip: string) {
  const call = async (method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown): Promise<ApiResponse> => {
    const res = await server.app.inject({ method, url, remoteAddress: ip, ...(body === undefined ? {} : { payload: body as object }) });
    const headers = new Headers();
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.set(k, String(v));
    return { status: res.statusCode, body: res.body === '' ? null : res.json(), headers };
  };
  return {
    ip,
    requestCode: (phone: string) => call('POST', '/api/v1/portal/auth/code', { phone }),
    setPassword: (phone: string, code: string, password = PORTAL_PASSWORD, challenge?: string) =>
      call('POST', '/api/v1/portal/auth/password', { phone, code, password, ...(challenge === undefined ? {} : { challenge }) }),
    login: (phone: string, password = PORTAL_PASSWORD) => call('POST', '/api/v1/portal/auth/login', { phone, password }),
  };
}

/** First sign-in: code to the phone, password set with it and the request's challenge. Returns the cardholder's token. */
export async function signIn(server: TestServer, phone: string, password = PORTAL_PASSWORD): Promise<string> {
  await forgetLastCodeRequest(server, phone);
  const sent = await requestCode(server, phone);
  expectStatus(sent, 202, 'request code');
  const code = await latestCode(server, phone);
  if (!code) throw new Error(`no code in the dev outbox for ${phone}`);
  const r = await server.api('POST', '/api/v1/portal/auth/password', { role: null, body: { phone, code, password, challenge: sent.body.challenge } });
  expectStatus(r, 200, 'set password');
  return r.body.token;
}

/** A request as the cardholder with this token. */
export function asCardholder(server: TestServer, token: string, method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse> {
  return server.api(method, path, { token, body, headers });
}
