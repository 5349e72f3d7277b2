import client from 'prom-client';
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Config, Db, Executor, FieldCipher } from '../platform/index.js';
import { registry } from '../platform/index.js';
import { createMessageSender, type MessageSender, type OutgoingMessage } from './messaging.senders.js';
import { messagingSettings } from './messaging.settings.js';

export interface MessagingDeps {
  db: Db;
  config: Config;
  cipher: FieldCipher;
  logger: Logger;
}

/** Sends per message before it is given up as failed; the waits between them double from 5 s to an hour. */
export const MAX_SEND_ATTEMPTS = 8;
const FIRST_RETRY_MS = 5_000;
const MAX_RETRY_MS = 3_600_000;
/**
 * How long a claimed message is left alone before another dispatcher may take it (a send that
 * never returned). It covers one send: well beyond the webhook sender's 10 s timeout.
 */
const CLAIM_LEASE_MS = 60_000;
const BATCH = 20;
/** Delivered, failed and expired messages are deleted after this. */
export const MESSAGE_RETENTION_MS = 30 * 86_400_000;
const MAX_TEXT = 500;

const messageOutcomes = new client.Counter({
  name: 'fuelcard_messages_total',
  help: 'Message delivery attempts by outcome (sent, retry, failed, expired)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export function retryDelayMs(attempts: number): number {
  return Math.min(FIRST_RETRY_MS * 2 ** Math.max(0, attempts - 1), MAX_RETRY_MS);
}

/**
 * Record a message in the caller's transaction: it is delivered only if that transaction
 * commits. Call kickMessageDispatcher() after the commit for prompt delivery (the dispatcher
 * also polls).
 */
export async function enqueueMessage(trx: Executor, cipher: FieldCipher, msg: OutgoingMessage & { expiresAt?: Date }): Promise<number> {
  if (!/^[a-z0-9_.]{1,64}$/.test(msg.template)) throw new Error(`bad message template name ${msg.template}`);
  if (msg.to === '' || msg.text === '' || [...msg.text].length > MAX_TEXT) throw new Error('message needs a recipient and a text of at most 500 characters');
  const r = await sql<{ id: number }>`insert into messages (to_enc, template, text_enc, expires_at)
    values (${cipher.encrypt(msg.to)}, ${msg.template}, ${cipher.encrypt(msg.text)}, ${msg.expiresAt ?? null}) returning id`.execute(trx);
  return r.rows[0]!.id;
}

const kickListeners = new Set<() => void>();

/** Wake the dispatchers of this process (after a commit that enqueued messages). */
export function kickMessageDispatcher(): void {
  for (const listener of kickListeners) setImmediate(listener);
}

export interface DeliveryRound {
  claimed: number;
  sent: number;
  retrying: number;
  failed: number;
  expired: number;
}

/**
 * One round of delivery: messages past their expiry are marked expired, then up to `limit` due
 * messages are delivered one at a time: each is claimed alone (skip locked, so dispatchers in
 * several processes share the work) with its own lease, sent outside any transaction, and its
 * outcome recorded. A lease covers one send (the webhook gives up after 10 s), never a queue of
 * them, so a slow gateway cannot let the lease run out on messages still waiting their turn.
 * The outcome is recorded only while the claim is still ours (attempts is the claim's token).
 * A process that dies mid-send leaves its claim to expire: delivery is at least once (the
 * webhook gets the id).
 */
export async function deliverPendingMessages(
  deps: Pick<MessagingDeps, 'db' | 'cipher'>,
  sender: MessageSender,
  opts: { limit?: number; leaseMs?: number } = {},
): Promise<DeliveryRound> {
  const round: DeliveryRound = { claimed: 0, sent: 0, retrying: 0, failed: 0, expired: 0 };
  const expired = await sql`update messages set status = 'expired', last_error = 'expired before it could be delivered'
    where status = 'pending' and expires_at <= now()`.execute(deps.db);
  round.expired = Number(expired.numAffectedRows ?? 0);
  if (round.expired > 0) messageOutcomes.inc({ outcome: 'expired' }, round.expired);

  const limit = opts.limit ?? BATCH;
  const leaseMs = opts.leaseMs ?? CLAIM_LEASE_MS;
  while (round.claimed < limit) {
    const claimed = await sql<{ id: number; to_enc: string; template: string; text_enc: string; attempts: number }>`
      update messages m set attempts = m.attempts + 1, next_attempt_at = now() + ${leaseMs} * interval '1 millisecond'
      where m.id = (select id from messages where status = 'pending' and next_attempt_at <= now()
                    and (expires_at is null or expires_at > now())
                    order by id limit 1 for update skip locked)
      returning m.id, m.to_enc, m.template, m.text_enc, m.attempts`.execute(deps.db);
    const row = claimed.rows[0];
    if (!row) break;
    round.claimed++;
    const ours = sql`id = ${row.id} and status = 'pending' and attempts = ${row.attempts}`;
    try {
      const msg = { id: row.id, to: deps.cipher.decrypt(row.to_enc), template: row.template, text: deps.cipher.decrypt(row.text_enc) };
      await sender.send(msg);
      await sql`update messages set status = 'sent', sent_at = now(), sender = ${sender.name}, last_error = null where ${ours}`.execute(deps.db);
      round.sent++;
      messageOutcomes.inc({ outcome: 'sent' });
    } catch (err) {
      const error = (err instanceof Error ? err.message : String(err)).slice(0, 500);
      if (row.attempts >= MAX_SEND_ATTEMPTS) {
        await sql`update messages set status = 'failed', sender = ${sender.name}, last_error = ${error} where ${ours}`.execute(deps.db);
        round.failed++;
        messageOutcomes.inc({ outcome: 'failed' });
      } else {
        await sql`update messages set next_attempt_at = now() + ${retryDelayMs(row.attempts)} * interval '1 millisecond',
          sender = ${sender.name}, last_error = ${error} where ${ours}`.execute(deps.db);
        round.retrying++;
        messageOutcomes.inc({ outcome: 'retry' });
      }
    }
  }
  return round;
}

/** Delete finished messages older than the retention period, in batches. */
export async function pruneMessages(db: Db, retentionMs = MESSAGE_RETENTION_MS, batch = 5000, maxBatches = 100): Promise<number> {
  let total = 0;
  for (let i = 0; i < maxBatches; i++) {
    const r = await sql`delete from messages where id in (
      select id from messages where status <> 'pending' and created_at < now() - ${retentionMs} * interval '1 millisecond' limit ${batch})`.execute(db);
    const n = Number(r.numAffectedRows ?? 0);
    total += n;
    if (n < batch) break;
  }
  return total;
}

/**
 * Deliver pending messages in the background: at once when kicked after a commit, and every
 * `pollMs` for messages enqueued by other processes and for retries. Returns a stop function
 * that waits for the round under way.
 */
export function startMessageDispatcher(deps: MessagingDeps, opts: { pollMs?: number; sender?: MessageSender } = {}): () => Promise<void> {
  const sender = opts.sender ?? createMessageSender(messagingSettings(deps.config), deps.logger);
  let stopped = false;
  let running: Promise<void> | null = null;
  let again = false;
  let lastPrune = 0;
  const run = (): void => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      do {
        again = false;
        try {
          const round = await deliverPendingMessages(deps, sender);
          // A full batch: there is probably more.
          if (round.claimed >= BATCH) again = true;
          if (Date.now() - lastPrune > 3_600_000) {
            lastPrune = Date.now();
            await pruneMessages(deps.db);
          }
        } catch (err) {
          deps.logger.error({ err }, 'message delivery failed');
        }
      } while (again && !stopped);
    })().finally(() => {
      running = null;
    });
  };
  const timer = setInterval(run, opts.pollMs ?? 2_000);
  kickListeners.add(run);
  run();
  return async () => {
    stopped = true;
    clearInterval(timer);
    kickListeners.delete(run);
    await running;
  };
}

export interface StoredMessage {
  id: number;
  to: string;
  template: string;
  text: string;
  status: string;
  createdAt: string;
}

/** The newest messages, decrypted (the dev outbox). */
export async function listMessages(deps: Pick<MessagingDeps, 'db' | 'cipher'>, limit: number): Promise<StoredMessage[]> {
  const r = await sql<{ id: number; to_enc: string; template: string; text_enc: string; status: string; created_at: Date }>`
    select id, to_enc, template, text_enc, status, created_at from messages order by id desc limit ${limit}`.execute(deps.db);
  const open = (v: string) => {
    try {
      return deps.cipher.decrypt(v);
    } catch {
      return '[unreadable: data key not configured]';
    }
  };
  return r.rows.map((m) => ({ id: m.id, to: open(m.to_enc), template: m.template, text: open(m.text_enc), status: m.status, createdAt: m.created_at.toISOString() }));
}
