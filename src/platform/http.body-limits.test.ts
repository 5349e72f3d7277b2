import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';

/**
 * Request size limits on the real server (docs/hardening.md, "Request size"): 1 MiB on API routes,
 * 64 KiB on the payment notifications, whose bodies are read as raw bytes by their own parser.
 * An oversize body is a 413 with the stable code in the error shape, never a stack trace, whether
 * the size was declared (Content-Length) or found while streaming (chunked).
 * http.test.ts covers the 1 MiB limit with a declared length on the login route.
 */

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());

function expectPayloadTooLarge(status: number, text: string): void {
  expect(status).toBe(413);
  const body = JSON.parse(text);
  expect(body).toEqual({ error: { code: 'PAYLOAD_TOO_LARGE', message: expect.any(String) } });
  expect(text).not.toMatch(/stack|\.ts:|\.js:|node_modules|FST_/);
}

async function post(path: string, body: string, contentType: string): Promise<{ status: number; text: string }> {
  const res = await fetch(server.baseUrl + path, { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: res.status, text: await res.text() };
}

/** Streamed without Content-Length: the limit must hold while reading, not only on the declared size. */
function postChunked(path: string, chunk: string, times: number, contentType: string): Promise<{ status: number; text: string }> {
  const url = new URL(server.baseUrl + path);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': contentType, 'transfer-encoding': 'chunked' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    // The server may answer and close before the whole body is sent.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    let i = 0;
    const write = (): void => {
      while (i < times) {
        i++;
        if (!req.write(chunk)) {
          req.once('drain', write);
          return;
        }
      }
      req.end();
    };
    write();
  });
}

describe('request size limits', () => {
  it('an API route: over 1 MiB streamed is 413 PAYLOAD_TOO_LARGE in the error shape', async () => {
    const r = await postChunked('/api/v1/auth/login', 'x'.repeat(64 * 1024), 20, 'application/json');
    expectPayloadTooLarge(r.status, r.text);
  });

  it.each(['wechat', 'alipay', 'unionpay'])('payment notifications (%s): over 64 KiB is 413, declared or streamed', async (channel) => {
    const path = `/api/v1/payments/notify/${channel}`;
    const big = 'a'.repeat(64 * 1024 + 1);
    for (const type of ['application/json', 'application/x-www-form-urlencoded', 'text/xml']) {
      const r = await post(path, big, type);
      expectPayloadTooLarge(r.status, r.text);
    }
    const streamed = await postChunked(path, 'a'.repeat(8 * 1024), 9, 'application/x-www-form-urlencoded');
    expectPayloadTooLarge(streamed.status, streamed.text);
  });

  it('the notification limit is theirs alone: 100 KiB of JSON on an API route reaches validation', async () => {
    const r = await post('/api/v1/auth/login', JSON.stringify({ username: 'admin', password: 'x'.repeat(100 * 1024) }), 'application/json');
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).error.code).toBe('VALIDATION_FAILED');
  });

  it('a notification within the limit reaches the channel, which refuses it as unsigned (not a 413, not a 5xx)', async () => {
    const r = await post('/api/v1/payments/notify/wechat', JSON.stringify({ id: 'n1', pad: 'a'.repeat(60 * 1024) }), 'application/json');
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(r.status).not.toBe(413);
  });
});
