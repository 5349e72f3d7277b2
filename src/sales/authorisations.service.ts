import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Config, Db, TerminalPrincipal, Trx } from '../platform/index.js';
import { maskCardNo, platformError } from '../platform/index.js';
import { getAccounts, hold, lockAccounts, uuidFrom } from '../ledger/index.js';
import { authoriseCardUse, type PinEntry } from '../cards/index.js';
import { claimTerminalRef, openShiftFor } from './forecourt-locks.js';
import { salesError } from './sales.errors.js';
import { assessRisk, forgetAuthorisation, type RiskConfirmation, type RiskGateDeps } from './sale-risk.js';
import { declineInfo, heldAmountOnce, inArrears, newApprovalCode, planSpend, spendable, stationFor } from './sale-parts.js';

export type AuthorisationMode = 'preauth' | 'prepay';

export interface AuthorisationRequest {
  cardNo: string;
  pin: PinEntry;
  nozzle: number;
  mode: AuthorisationMode;
  /** fen; prepay: the preset (required); preauth: defaults to config.preauthDefaultAmount. */
  amount?: number;
  /** A step-up done for this attempt after a RISK_STEP_UP answer (docs/risk-sale-path.md). */
  riskConfirmation?: RiskConfirmation;
}

export interface AuthorisationAnswer {
  /** null when declined: a declined authorisation holds nothing and is not kept as an authorisation. */
  authorisationId: string | null;
  /**
   * 'review': the risk engine asked for a person. The money is held, the pump is NOT released; the
   * terminal polls GET /api/v1/pos/authorisations/:id until it is 'held' (released: fuel) or
   * 'declined' (refused, holds voided) or 'expired' (nobody decided in time).
   */
  status: 'approved' | 'declined' | 'review';
  approvalCode?: string;
  declineCode?: string;
  /** ISO 8583 action code: 000 approved, 002 approved for a partial amount (pre-auth), else the decline's. */
  actionCode: string;
  message?: string;
  mode: AuthorisationMode;
  nozzle: number;
  grade: string;
  requestedAmount: number;
  heldAmount: number;
  expiresAt: string | null;
  balance: number | null;
}

/** One ledger hold of an authorisation, as pump_authorisations.holds records it (card priority order). */
export interface AuthorisationHold {
  transferId: string;
  accountId: number;
  amount: number;
}

/** A pre-auth is approved partially only down to this (fen): less would not start a pump. */
export const MIN_PARTIAL_HOLD = 100;
/**
 * The ledger's own expiry of a hold comes this long after the authorisation's: the authorisation
 * expiry job resolves it first (holds voided, status 'expired'), and the ledger's sweeper only
 * backs it up if that job is not running.
 */
export const LEDGER_HOLD_MARGIN_MS = 15 * 60_000;
/** The terminal's action code for an authorisation in review: request in progress, ask again. */
export const REVIEW_ACTION_CODE = '923';

/**
 * The ledger's timeout of a hold under review: the review window and, after a release, a fresh
 * expiry (releaseAuthorisationReview) must both fit before the ledger sweeps it.
 */
export function reviewLedgerTimeoutMs(config: Pick<Config, 'holdExpiryMs'>): number {
  return 2 * config.holdExpiryMs + LEDGER_HOLD_MARGIN_MS;
}

/** The nozzle's grade and pump, or 404 NOZZLE_UNKNOWN. */
export async function nozzleOf(trx: Trx, stationId: number, nozzle: number): Promise<{ grade: string; pump: number | null }> {
  const r = await sql<{ grade: string; pump: number | null }>`select grade, pump from station_nozzles where station_id = ${stationId} and nozzle = ${nozzle}`.execute(trx);
  const row = r.rows[0];
  if (!row) throw salesError('NOZZLE_UNKNOWN', { field: 'body.nozzle', nozzle });
  return row;
}

export interface AuthorisePumpOptions {
  /**
   * False for a channel that cannot poll an authorisation in review nor send a step-up answer (ISO
   * 8583): the risk engine's `delay` is then a plain RISK_REVIEW decline that holds nothing.
   */
  reviewable?: boolean;
}

/**
 * Pre-authorise (插卡即授权) or prepay (先付后加) a pump: the card is checked as for a sale, and the
 * amount is held on its accounts in priority order, tied to the station and nozzle. The holds are
 * placed by `last`, the hot settlement row's lock held only for the commit.
 *
 * Locks, in order: the terminal reference (against its reversal), the nozzle, the card, the card's
 * accounts (id order), the settlement account last.
 */
export async function authorisePump(
  trx: Trx,
  deps: { db: Db; config: Config; logger?: RiskGateDeps['logger'] },
  terminal: TerminalPrincipal,
  req: AuthorisationRequest,
  terminalRef: string,
  opts: AuthorisePumpOptions = {},
): Promise<{ answer: AuthorisationAnswer; last?: (trx: Trx) => Promise<void> }> {
  const { config } = deps;
  if (req.mode === 'prepay' && req.amount === undefined) {
    throw platformError('VALIDATION_FAILED', { field: 'body.amount', reason: 'a prepay authorisation needs the preset amount' });
  }
  const requested = req.amount ?? config.preauthDefaultAmount;
  if (requested > config.preauthMaxAmount) {
    throw salesError('AUTHORISATION_AMOUNT_TOO_LARGE', { field: 'body.amount', max: config.preauthMaxAmount });
  }
  const station = await stationFor(deps.db, trx, terminal.stationId);
  if (!station.active) throw salesError('SALE_STATION_CLOSED', { stationId: terminal.stationId });
  const nozzle = await nozzleOf(trx, terminal.stationId, req.nozzle);

  const base = { mode: req.mode, nozzle: req.nozzle, grade: nozzle.grade, requestedAmount: requested };
  const decline = (code: string, balance: number | null): { answer: AuthorisationAnswer } => {
    const info = declineInfo(code);
    return {
      answer: { authorisationId: null, status: 'declined', declineCode: code, actionCode: info.iso, message: `${info.zh} / ${info.en}`, ...base, heldAmount: 0, expiresAt: null, balance },
    };
  };

  if ((await claimTerminalRef(trx, terminal.id, terminalRef)).reversed) return decline('ALREADY_REVERSED', null);

  // One open authorisation per nozzle: the lock makes "is it free?" and the insert one step.
  await sql`select pg_advisory_xact_lock(7403, hashtext(${`${terminal.stationId}:${req.nozzle}`}))`.execute(trx);
  const open = await sql<{ id: string }>`select id from pump_authorisations where station_id = ${terminal.stationId} and nozzle = ${req.nozzle} and status in ('held','review')`.execute(trx);
  if (open.rows.length > 0) return decline('NOZZLE_BUSY', null);

  const partial = req.mode === 'preauth';
  const heldOf = heldAmountOnce(trx);
  const decision = await authoriseCardUse(
    trx,
    config,
    {
      cardNo: req.cardNo,
      pin: req.pin,
      grade: nozzle.grade,
      volumeMl: 0,
      amount: requested,
      // The card's other open holds count as spent: parallel holds on two nozzles cannot together pass a day limit.
      pendingAmount: heldOf,
      ...(partial ? { reduceAmountTo: MIN_PARTIAL_HOLD } : {}),
    },
  );
  if (!decision.ok) {
    const balance = decision.pinVerified && decision.card ? spendable(await getAccounts(trx, decision.card.account_ids)) : null;
    return decline(decision.declineCode, balance);
  }

  // The risk engine after the card's own checks, on the amount the limits allow (docs/risk-sale-path.md).
  const id = randomUUID();
  const shiftId = await openShiftFor(trx, terminal);
  const pending = await heldOf(decision.card.id);
  const risk = await assessRisk(trx, deps, {
    card: decision.card,
    channel: 'preauth',
    amount: decision.amount,
    volumeMl: null,
    grade: nozzle.grade,
    stationId: terminal.stationId,
    terminalId: terminal.id,
    at: decision.at,
    pendingAmount: pending,
    authorisationId: id,
    shiftId,
    ...(req.riskConfirmation ? { confirmation: req.riskConfirmation } : {}),
    ...(opts.reviewable === false ? { reviewable: false } : {}),
  });
  if (risk.action === 'decline') {
    return decline(risk.declineCode ?? 'RISK_DECLINED', spendable(await getAccounts(trx, decision.card.account_ids)));
  }
  const review = risk.action === 'review';

  // Accounts after the gate (lock order card → risk → accounts): a decline here creates no
  // authorisation, so the decision and its case item are detached from the id it would have had.
  const accounts = await lockAccounts(trx, decision.accountIds);
  const total = spendable(accounts);
  const held = partial ? Math.min(decision.amount, total) : requested;
  const fundsDecline = inArrears(accounts) ? 'CARD_IN_ARREARS' : total < held || held < Math.min(MIN_PARTIAL_HOLD, requested) ? 'INSUFFICIENT_FUNDS' : null;
  if (fundsDecline) {
    await forgetAuthorisation(trx, risk.decisionId, id);
    return decline(fundsDecline, total);
  }

  const holds: AuthorisationHold[] = planSpend(accounts, held).map((p) => ({ ...p, transferId: uuidFrom(`auth:${id}:${p.accountId}`) }));
  const approvalCode = newApprovalCode();
  const row = await sql<{ expires_at: Date }>`insert into pump_authorisations (id, terminal_id, terminal_ref, station_id, pump, nozzle, grade, card_id,
      card_no_masked, mode, requested_amount, held_amount, holds, status, approval_code, expires_at, business_day, shift_id, created_at, risk_decision_id, released_at)
    values (${id}, ${terminal.id}, ${terminalRef}, ${terminal.stationId}, ${nozzle.pump}, ${req.nozzle}, ${nozzle.grade}, ${decision.card.id},
      ${maskCardNo(decision.card.card_no)},
      ${req.mode}, ${requested}, ${held}, ${JSON.stringify(holds)}::jsonb, ${review ? 'review' : 'held'}, ${approvalCode},
      ${decision.at}::timestamptz + ${config.holdExpiryMs} * interval '1 millisecond', ${decision.businessDay}::date, ${shiftId}, ${decision.at},
      ${risk.decisionId}, ${review ? null : decision.at})
    returning expires_at`.execute(trx);
  const expiresAt = row.rows[0]!.expires_at;
  const info = review ? declineInfo('RISK_REVIEW') : null;
  return {
    answer: {
      authorisationId: id,
      status: review ? 'review' : 'approved',
      // In review the pump is not released: no approval code until a reviewer releases it (GET shows it then).
      ...(review ? { actionCode: REVIEW_ACTION_CODE, declineCode: 'RISK_REVIEW', message: `${info!.zh} / ${info!.en}` } : { approvalCode, actionCode: held < requested ? '002' : '000' }),
      ...base,
      heldAmount: held,
      expiresAt: expiresAt.toISOString(),
      balance: total - held,
    },
    last: async (t: Trx) => {
      for (const h of holds) {
        const res = await hold(t, {
          id: h.transferId,
          debitAccountId: h.accountId,
          creditAccountId: station.settlementAccountId,
          amount: h.amount,
          code: req.mode,
          timeoutMs: review ? reviewLedgerTimeoutMs(config) : config.holdExpiryMs + LEDGER_HOLD_MARGIN_MS,
          metadata: { authorisationId: id, terminalId: terminal.id, nozzle: req.nozzle },
        });
        // The accounts are locked and were checked: a refusal is a broken invariant, not a decline.
        if (!res.ok) throw new Error(`ledger refused a checked authorisation hold: ${res.code}`);
      }
    },
  };
}
