import type { Actor, Config, Db, Trx } from '../platform/index.js';
import { refuseAuthorisationReview, releaseAuthorisationReview } from '../sales/index.js';

/**
 * The sales module settles a pump authorisation the risk engine held for review (status
 * 'review'): release lets the pump run with a fresh expiry, refuse voids the holds and declines it.
 * Both are no-ops when repeated, so a retried resolution cannot move money twice.
 */
export async function releaseReview(trx: Trx, deps: { db: Db; config: Config }, actor: Actor, authorisationId: string): Promise<void> {
  await releaseAuthorisationReview(trx, deps, actor, authorisationId);
}

export async function refuseReview(trx: Trx, deps: { db: Db; config: Config }, actor: Actor, authorisationId: string, reason: string): Promise<void> {
  await refuseAuthorisationReview(trx, deps, actor, authorisationId, reason);
}
