import { sql } from 'kysely';
import type { Actor, Config, Db, Trx } from '../platform/index.js';
import { audit, publish } from '../platform/index.js';
import { requireLockedCard, type CardRow } from '../cards/index.js';
import { salesError } from './sales.errors.js';
import { voidAuthorisationHolds } from './authorisations.jobs.js';
import { getAuthorisation, type AuthorisationRecord } from './authorisations.read.js';
import type { AuthorisationHold } from './authorisations.service.js';

/**
 * A reviewer's answer to a pump authorisation the risk engine put in 'review' (the cases module
 * calls these from a case). The money stays held throughout; the terminal learns the answer by
 * reading the authorisation (GET /api/v1/pos/authorisations/:id).
 */

interface ReviewRow {
  id: string;
  status: string;
  holds: AuthorisationHold[];
  card_id: number;
  due: boolean;
}

async function lockForReview(trx: Trx, authorisationId: string): Promise<ReviewRow> {
  const r = await sql<ReviewRow>`select id, status, holds, card_id, expires_at <= clock_timestamp() as due
    from pump_authorisations where id = ${authorisationId} for update`.execute(trx);
  const row = r.rows[0];
  if (!row) throw salesError('AUTHORISATION_NOT_FOUND', { authorisationId });
  return row;
}

/** Why the card cannot buy fuel any more (the statuses a sale declines), or null. */
function cardBlock(card: CardRow): string | null {
  if (card.status !== 'active') return card.status;
  if (card.kind === 'sub' && card.master_status === 'frozen') return 'master_frozen';
  return null;
}

/**
 * Release: review → held with a fresh expiry, so the pump can start. Releasing a released one is
 * a no-op; a review already past its expiry is not released (the expiry job voids its holds).
 * Only a release that has something to release locks the card (see below).
 *
 * The card is locked first (the sale path's order: card, then the authorisation), and a card that
 * was reported lost, frozen or closed meanwhile is not released: 409
 * AUTHORISATION_RELEASE_CARD_BLOCKED. The review is left as it is, money held, for the reviewer to
 * refuse (holds voided at once) or for the expiry job; the refusal is not done here because this
 * transaction rolls back with the error.
 */
export async function releaseAuthorisationReview(trx: Trx, deps: { db: Db; config: Config }, actor: Actor, authorisationId: string): Promise<AuthorisationRecord> {
  const head = (await sql<{ card_no: string; status: string }>`select c.card_no, a.status from pump_authorisations a join cards c on c.id = a.card_id where a.id = ${authorisationId}`.execute(trx)).rows[0];
  if (!head) throw salesError('AUTHORISATION_NOT_FOUND', { authorisationId });
  if (head.status !== 'review') {
    // Nothing to release (no status leads back to review), so the card is not locked: a released
    // pump may be completing, and a completion locks the authorisation before the card. Taking the
    // card first here deadlocked a repeated release against that completion.
    const row = await lockForReview(trx, authorisationId);
    if (row.status === 'held') return getAuthorisation(trx, authorisationId);
    throw salesError('AUTHORISATION_NOT_IN_REVIEW', { authorisationId, status: row.status });
  }
  const card = await requireLockedCard(trx, head.card_no);
  const row = await lockForReview(trx, authorisationId);
  if (row.status === 'held') return getAuthorisation(trx, authorisationId);
  if (row.status !== 'review' || row.due) throw salesError('AUTHORISATION_NOT_IN_REVIEW', { authorisationId, status: row.due && row.status === 'review' ? 'expired' : row.status });
  const blocked = cardBlock(card);
  if (blocked) throw salesError('AUTHORISATION_RELEASE_CARD_BLOCKED', { authorisationId, cardStatus: blocked });
  // The ledger's hold outlives this new expiry: it was placed with reviewLedgerTimeoutMs.
  await sql`update pump_authorisations set status = 'held', released_at = clock_timestamp(),
      expires_at = clock_timestamp() + ${deps.config.holdExpiryMs} * interval '1 millisecond'
    where id = ${authorisationId}`.execute(trx);
  await audit(trx, actor, { action: 'authorisation.review_release', targetType: 'pump_authorisation', targetId: authorisationId, details: { cardId: row.card_id } });
  await publish(trx, 'authorisation.review_released', authorisationId, { authorisationId, cardId: row.card_id });
  return getAuthorisation(trx, authorisationId);
}

/** Refuse: review → declined, every hold voided. Refusing a refused one is a no-op. */
export async function refuseAuthorisationReview(
  trx: Trx,
  _deps: { db: Db; config: Config },
  actor: Actor,
  authorisationId: string,
  reason: string,
): Promise<AuthorisationRecord> {
  const row = await lockForReview(trx, authorisationId);
  if (row.status === 'declined') return getAuthorisation(trx, authorisationId);
  if (row.status !== 'review') throw salesError('AUTHORISATION_NOT_IN_REVIEW', { authorisationId, status: row.status });
  const released = await voidAuthorisationHolds(trx, row, { idPrefix: 'auth-review-refuse', code: 'risk_review_refused' });
  await sql`update pump_authorisations set status = 'declined', resolved_at = clock_timestamp(), review_note = ${reason} where id = ${authorisationId}`.execute(trx);
  await audit(trx, actor, { action: 'authorisation.review_refuse', targetType: 'pump_authorisation', targetId: authorisationId, details: { cardId: row.card_id, reason, released } });
  await publish(trx, 'authorisation.review_refused', authorisationId, { authorisationId, cardId: row.card_id, released });
  return getAuthorisation(trx, authorisationId);
}
