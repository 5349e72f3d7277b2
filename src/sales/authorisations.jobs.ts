import type { Logger } from 'pino';
import { sql } from 'kysely';
import type { Config, Db, Trx } from '../platform/index.js';
import { lockAccounts, uuidFrom, voidHold } from '../ledger/index.js';
import type { AuthorisationHold } from './authorisations.service.js';

/** How often the job looks for held authorisations past their expiry, and how many it takes per run. */
export const AUTHORISATION_JOB_INTERVAL_MS = 10_000;
const BATCH = 200;

/**
 * A hold the ledger no longer has pending because it released itself: the ledger's own expiry
 * sweeper (main.ts) got there first, e.g. after the job was down longer than the margin. The money
 * is free either way, so the authorisation counts it as released.
 */
export function alreadyReleased(code: string): boolean {
  return code === 'LEDGER_PENDING_ALREADY_EXPIRED' || code === 'LEDGER_PENDING_ALREADY_VOIDED';
}

/**
 * Void every hold of an authorisation; returns what was released (a hold the ledger had already
 * released counts as nothing). The holds' customer accounts are locked first, all of them, in id
 * order: every money movement locks customer accounts before the station's settlement account
 * (ledger_apply does so within one transfer, migration 038), and voiding hold after hold without
 * that would take the settlement account before the next hold's customer account. That order
 * deadlocked a reversal against a pre-auth on the same card under load.
 */
export async function voidAuthorisationHolds(trx: Trx, auth: { id: string; holds: AuthorisationHold[] }, how: { idPrefix: string; code: string }): Promise<number> {
  await lockAccounts(trx, [...new Set(auth.holds.map((h) => h.accountId))]);
  let released = 0;
  for (const h of auth.holds) {
    const res = await voidHold(trx, { id: uuidFrom(`${how.idPrefix}:${auth.id}:${h.transferId}`), pendingId: h.transferId, code: how.code, metadata: { authorisationId: auth.id } });
    if (res.ok) released += res.amount;
    // Posted is impossible under the authorisation's row lock (only a completion posts, and it sets the status).
    else if (!alreadyReleased(res.code)) throw new Error(`ledger refused to void hold ${h.transferId} of authorisation ${auth.id} (${how.code}): ${res.code}`);
  }
  return released;
}

/**
 * Release an authorisation whose time ran out: its holds voided, status 'expired'. The caller has
 * the row locked and has seen it 'held' and due. Void ids derive from the hold, so whoever runs
 * this (the job, or a late completion) voids each hold once.
 */
export async function releaseExpired(trx: Trx, auth: { id: string; holds: AuthorisationHold[] }): Promise<void> {
  await voidAuthorisationHolds(trx, auth, { idPrefix: 'auth-expire', code: 'preauth_expiry' });
  await sql`update pump_authorisations set status = 'expired', resolved_at = clock_timestamp() where id = ${auth.id}`.execute(trx);
}

/**
 * Expire held authorisations (and ones in risk review nobody decided) past expires_at, each in its own transaction. A row a completion (or a
 * reversal) holds locked is skipped: that request resolves it, and if it does not, the next run
 * takes it. Returns how many expired. Safe to run from several processes at once.
 */
export async function expireAuthorisations(db: Db, limit = BATCH, logger?: Pick<Logger, 'error'>): Promise<number> {
  const due = await sql<{ id: string }>`select id from pump_authorisations where status in ('held','review') and expires_at <= clock_timestamp()
    order by expires_at limit ${limit}`.execute(db);
  let expired = 0;
  for (const { id } of due.rows) {
    // One authorisation that cannot be released must not stop every later one from expiring.
    try {
      const done = await db.transaction().execute(async (trx) => {
        const r = await sql<{ id: string; holds: AuthorisationHold[] }>`select id, holds from pump_authorisations
          where id = ${id} and status in ('held','review') and expires_at <= clock_timestamp() for update skip locked`.execute(trx);
        const auth = r.rows[0];
        if (!auth) return false;
        await releaseExpired(trx, auth);
        return true;
      });
      if (done) expired++;
    } catch (err) {
      logger?.error({ err, authorisationId: id }, 'pump authorisation could not be expired');
    }
  }
  return expired;
}

/** The authorisation expiry job, every 10 s (wired in main.ts). Returns a stop function. */
export function startAuthorisationJobs(deps: { db: Db; config: Config; logger: Logger }): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    void expireAuthorisations(deps.db, BATCH, deps.logger)
      .then((n) => {
        if (n > 0) deps.logger.info({ expired: n }, 'pump authorisations expired');
      })
      .catch((err: unknown) => deps.logger.error({ err }, 'pump authorisation expiry failed'))
      .finally(() => {
        running = false;
      });
  }, AUTHORISATION_JOB_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
