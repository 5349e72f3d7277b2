import http from 'node:http';
import { Writable } from 'node:stream';
import pino from 'pino';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../test/support/server.js';
import { createLogger, loadConfig, type Config } from '../platform/index.js';
import { buildServer } from '../server.js';
import {
  deliverPendingMessages,
  devSender,
  enqueueMessage,
  kickMessageDispatcher,
  MAX_SEND_ATTEMPTS,
  messagingSettings,
  retryDelayMs,
  startMessageDispatcher,
  webhookSender,
  type MessageSender,
} from './index.js';

/** The message table, the dispatcher with both senders, and the dev outbox, on a real database. */
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server?.close());

const db = () => server.db.db;
const phone = '13800138000';

async function enqueue(text: string, extra: { expiresAt?: Date } = {}): Promise<number> {
  return db().transaction().execute((trx) => enqueueMessage(trx, server.deps.cipher, { to: phone, template: 'test.note', text, ...extra }));
}
async function row(id: number) {
  const r = await sql<{ status: string; attempts: number; last_error: string | null; sender: string | null; wait_ms: number; sent_at: Date | null }>`
    select status, attempts, last_error, sender, sent_at, (extract(epoch from next_attempt_at - now()) * 1000)::float8 as wait_ms from messages where id = ${id}`.execute(db());
  return r.rows[0]!;
}
/** Only this message is due: earlier tests' leftovers are pushed out of the way. */
async function onlyDue(id: number) {
  await sql`update messages set next_attempt_at = now() + interval '1 day' where status = 'pending' and id <> ${id}`.execute(db());
  await sql`update messages set next_attempt_at = now() where id = ${id}`.execute(db());
}

/** A webhook receiver that answers with the given statuses in turn (then 200). */
async function receiver(statuses: number[]) {
  const received: Array<{ headers: http.IncomingHttpHeaders; body: any }> = [];
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: JSON.parse(body) });
      res.statusCode = statuses.shift() ?? 200;
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const addr = srv.address() as { port: number };
  return { url: `http://127.0.0.1:${addr.port}/sms`, received, close: () => new Promise<void>((r) => srv.close(() => r())) };
}

describe('enqueue', () => {
  it('a message exists only if the caller’s transaction commits; recipient and text are encrypted', async () => {
    const marker = `rolled-back-${Date.now()}`;
    await expect(
      db().transaction().execute(async (trx) => {
        await enqueueMessage(trx, server.deps.cipher, { to: phone, template: 'test.note', text: marker });
        throw new Error('business change failed');
      }),
    ).rejects.toThrow('business change failed');
    const items = (await server.api('GET', '/api/v1/dev/messages', { role: null })).body.items as Array<{ text: string }>;
    expect(items.some((m) => m.text === marker)).toBe(false);

    const id = await enqueue('hello 你好');
    const stored = await sql<{ to_enc: string; text_enc: string; status: string }>`select to_enc, text_enc, status from messages where id = ${id}`.execute(db());
    expect(stored.rows[0]!.status).toBe('pending');
    expect(stored.rows[0]!.to_enc).not.toContain(phone);
    expect(stored.rows[0]!.text_enc).not.toContain('hello');
  });
});

describe('dispatcher', () => {
  it('dev sender: logs the message at info level and marks it sent', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) }));
    const id = await enqueue('dev message 123');
    await onlyDue(id);
    const round = await deliverPendingMessages(server.deps, devSender(logger));
    expect(round).toMatchObject({ claimed: 1, sent: 1, retrying: 0, failed: 0 });
    expect(await row(id)).toMatchObject({ status: 'sent', attempts: 1, sender: 'dev', last_error: null });
    const logged = lines.map((l) => JSON.parse(l)).find((l) => l.messageId === id);
    expect(logged).toMatchObject({ level: 30, template: 'test.note', text: 'dev message 123', to: '138****8000' });
    // Sent is sent: another round does not send it again.
    expect((await deliverPendingMessages(server.deps, devSender(logger))).claimed).toBe(0);
  });

  it('webhook sender: POSTs JSON; a failure is retried with backoff and the outcome recorded', async () => {
    const hook = await receiver([503]);
    try {
      const id = await enqueue('webhook message');
      await onlyDue(id);
      const first = await deliverPendingMessages(server.deps, webhookSender(hook.url));
      expect(first).toMatchObject({ claimed: 1, sent: 0, retrying: 1 });
      const failed = await row(id);
      expect(failed).toMatchObject({ status: 'pending', attempts: 1, sender: 'webhook', last_error: 'webhook answered HTTP 503' });
      // Not due again before the backoff has passed.
      expect(failed.wait_ms).toBeGreaterThan(retryDelayMs(1) - 2_000);
      expect(failed.wait_ms).toBeLessThanOrEqual(retryDelayMs(1));
      expect((await deliverPendingMessages(server.deps, webhookSender(hook.url))).claimed).toBe(0);

      await onlyDue(id);
      const second = await deliverPendingMessages(server.deps, webhookSender(hook.url));
      expect(second).toMatchObject({ claimed: 1, sent: 1 });
      expect(await row(id)).toMatchObject({ status: 'sent', attempts: 2, last_error: null });
      expect(hook.received.length).toBe(2);
      expect(hook.received[1]!.body).toEqual({ id, to: phone, template: 'test.note', text: 'webhook message' });
      expect(hook.received[1]!.headers['x-message-id']).toBe(String(id));
    } finally {
      await hook.close();
    }
  });

  it('gives up after MAX_SEND_ATTEMPTS: status failed with the last error; an unreachable gateway is a failure too', async () => {
    const id = await enqueue('never delivered');
    await sql`update messages set attempts = ${MAX_SEND_ATTEMPTS - 1} where id = ${id}`.execute(db());
    await onlyDue(id);
    const round = await deliverPendingMessages(server.deps, webhookSender('http://127.0.0.1:9/unreachable'));
    expect(round).toMatchObject({ claimed: 1, failed: 1 });
    const r = await row(id);
    expect(r.status).toBe('failed');
    expect(r.attempts).toBe(MAX_SEND_ATTEMPTS);
    expect(r.last_error).toBeTruthy();
  });

  it('a message past its expiry (a stale sign-in code) is not sent', async () => {
    const id = await enqueue('code 000000', { expiresAt: new Date(Date.now() - 1_000) });
    await onlyDue(id);
    const sent: number[] = [];
    const recorder: MessageSender = { name: 'recorder', send: async (m) => void sent.push(m.id) };
    const round = await deliverPendingMessages(server.deps, recorder);
    expect(round.expired).toBeGreaterThanOrEqual(1);
    expect(sent).not.toContain(id);
    expect((await row(id)).status).toBe('expired');
  });

  it('two dispatchers and a slow gateway: each message is claimed alone with its own lease and sent exactly once', async () => {
    // A gateway that takes 300 ms per message, against a 1.5 s lease: a lease per message
    // outlasts its send, where one lease over a queue of 8 sends (2.4 s) would run out on the
    // queue's tail and the second dispatcher would send the tail again.
    const received: number[] = [];
    const srv = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push(JSON.parse(body).id);
        setTimeout(() => res.end('{}'), 300);
      });
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(srv.address() as { port: number }).port}/sms`;
    try {
      await sql`update messages set status = 'failed' where status = 'pending'`.execute(db());
      const ids: number[] = [];
      for (let i = 0; i < 8; i++) ids.push(await enqueue(`slow gateway ${i}`));
      const opts = { leaseMs: 1_500 };
      let firstDone = false;
      const first = deliverPendingMessages(server.deps, webhookSender(url), opts).finally(() => (firstDone = true));
      // The second process polls while the first is still sending.
      const second = (async () => {
        let claimed = 0;
        await new Promise((r) => setTimeout(r, 350));
        while (!firstDone) {
          claimed += (await deliverPendingMessages(server.deps, webhookSender(url), opts)).claimed;
          await new Promise((r) => setTimeout(r, 100));
        }
        return claimed;
      })();
      const [round, secondClaimed] = await Promise.all([first, second]);
      expect(round.claimed + secondClaimed).toBe(8);
      expect([...received].sort((a, b) => a - b)).toEqual(ids);
      for (const id of ids) expect(await row(id)).toMatchObject({ status: 'sent', attempts: 1 });
    } finally {
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });

  it('an outcome is recorded only while the claim is still the dispatcher’s own', async () => {
    const id = await enqueue('reclaimed');
    await onlyDue(id);
    const stale: MessageSender = {
      name: 'stale',
      // While this send hangs, its lease runs out and another dispatcher takes the message.
      send: async () => {
        await sql`update messages set attempts = attempts + 1, next_attempt_at = now() + interval '1 minute' where id = ${id}`.execute(db());
        throw new Error('gateway gave up');
      },
    };
    const round = await deliverPendingMessages(server.deps, stale);
    expect(round).toMatchObject({ claimed: 1, retrying: 1 });
    // The newer claim's state stands: no retry time or error from the stale one.
    expect(await row(id)).toMatchObject({ status: 'pending', attempts: 2, last_error: null, sender: null });
  });

  it('startMessageDispatcher delivers at once when kicked after a commit, and stops cleanly', async () => {
    await sql`update messages set status = 'failed' where status = 'pending'`.execute(db());
    const sent: number[] = [];
    const recorder: MessageSender = { name: 'recorder', send: async (m) => void sent.push(m.id) };
    // A poll far in the future: only the kick can explain a prompt delivery.
    const stop = startMessageDispatcher(server.deps, { sender: recorder, pollMs: 600_000 });
    try {
      await new Promise((r) => setTimeout(r, 100));
      const id = await enqueue('kicked');
      kickMessageDispatcher();
      for (let i = 0; i < 100 && !sent.includes(id); i++) await new Promise((r) => setTimeout(r, 20));
      expect(sent).toEqual([id]);
      expect((await row(id)).status).toBe('sent');
    } finally {
      await stop();
    }
    const later = await enqueue('after stop');
    kickMessageDispatcher();
    await new Promise((r) => setTimeout(r, 100));
    expect(sent).not.toContain(later);
  });
});

describe('dev outbox', () => {
  it('GET /api/v1/dev/messages: newest first, decrypted, limited', async () => {
    const a = await enqueue('first');
    const b = await enqueue('second');
    const r = await server.api('GET', '/api/v1/dev/messages?limit=2', { role: null });
    expect(r.status).toBe(200);
    expect(r.body.items.map((m: { id: number }) => m.id)).toEqual([b, a]);
    expect(r.body.items[0]).toEqual({ id: b, to: phone, template: 'test.note', text: 'second', status: 'pending', createdAt: expect.any(String) });
    expect((await server.api('GET', '/api/v1/dev/messages?limit=0', { role: null })).status).toBe(400);
  });

  it('GET /dev/outbox: an auto-refreshing bilingual HTML page with everything escaped', async () => {
    await enqueue('<script>alert("x")</script> & <b>bold</b>');
    const res = await fetch(`${server.baseUrl}/dev/outbox`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html; charset=utf-8/);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await res.text();
    expect(html).toContain('<meta http-equiv="refresh"');
    expect(html).toContain('开发发件箱');
    expect(html).toContain('Dev outbox');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;');
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<b>bold');
  });

  it('exists only with the dev sender', async () => {
    const config = { ...server.config, messageSender: 'webhook', messageWebhookUrl: 'http://127.0.0.1:9/sms' } as Config;
    const { app } = await buildServer({ db: db(), config, logger: createLogger('silent') });
    try {
      for (const url of ['/api/v1/dev/messages', '/dev/outbox']) {
        const r = await app.inject({ method: 'GET', url });
        expect(r.statusCode).toBe(404);
        expect(r.json().error.code).toBe('ROUTE_NOT_FOUND');
      }
    } finally {
      await app.close();
    }
  });
});

describe('settings', () => {
  it('come from the platform config (validated there: see config.test.ts)', () => {
    expect(messagingSettings(loadConfig({}))).toEqual({ sender: 'dev', webhookUrl: null });
    expect(messagingSettings(loadConfig({ FUELCARD_MESSAGE_SENDER: 'webhook', FUELCARD_MESSAGE_WEBHOOK_URL: 'https://sms.example.com/send' }))).toEqual({
      sender: 'webhook',
      webhookUrl: 'https://sms.example.com/send',
    });
  });
});
