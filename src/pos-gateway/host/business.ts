/**
 * The sale messages of the terminal host (issue 6 §2): each decoded, authenticated request is
 * translated by mapping.ts and run through the very use cases the HTTP terminal API runs
 * (authorisePump, decideSale, completeAuthorisation, uploadOfflineBatch, reverseByRef,
 * closeShift), under the same exactly-once wrapper (runTerminalRequest / runIdempotent keyed by
 * the terminal reference `iso:<STAN>:<local time>`), so an ISO sale and an HTTP sale are one path.
 * The session layer in front has already verified the MAC, the time window and the journal; it
 * echoes the request fields and MACs what this returns.
 *
 * Two layers of exactly-once: the host journal (pos_exchanges) answers a repeat with the first
 * answer's bytes; when the journal lost the answer (the process died between the commit and the
 * journal write), the use case's idempotency record gives the same business answer again.
 */
import type { Logger } from 'pino';
import { sql } from 'kysely';
import { isAppError, runIdempotent, saleOutcomes, type Config, type Db, type TerminalPrincipal } from '../../platform/index.js';
import type { PinVerifier } from '../../cards/index.js';
import {
  authorisePump,
  checkDeclared,
  closeShift,
  compareTotals,
  completeAuthorisation,
  currentShift,
  decideSale,
  reverseByRef,
  runTerminalRequest,
  salesError,
  uploadOfflineBatch,
  type AuthorisationAnswer,
  type OfflineBatchAnswer,
  type ReversalAnswer,
  type SaleAnswer,
  type ShiftView,
} from '../../sales/index.js';
import { MTI, type FieldValue } from '../iso8583/index.js';
import type { HandlerResult, HandlerTable, InboundContext, InboundHandler, InboundRequest } from './inbound-types.js';
import { ACTION, isKnownActionCode } from './action-codes.js';
import { mapRequest, type MappedRequest, type PinData } from './mapping.js';
import {
  authorisationResponse,
  compareIsoTotals,
  errorResponse,
  mappingErrorResponse,
  offlineResponse,
  reconciliationResponse,
  reversalResponse,
  saleResponse,
} from './mapping-response.js';
import { platformTerminalOf } from './platform-terminal.js';
import { pinRefFor } from './pin-ref.js';
import { gradeForProductCode, isoProductCode } from './product-codes.js';

export interface BusinessDeps {
  readonly db: Db;
  readonly config: Config;
  readonly logger: Logger;
}


/**
 * Thrown from inside a use case's transaction when the key store cannot open the PIN block: the
 * transaction rolls back (no PIN try counted against the cardholder for the terminal's key
 * problem) and the terminal is answered 919.
 */
class PinBlockUnusable extends Error {
  constructor(readonly code: string) {
    super(`PIN block not usable: ${code}`);
  }
}

type Fields = Map<number, FieldValue>;

/** The handlers for every sale MTI (repeats 1221/1421/1521 fall back to these in the session layer). */
export function businessHandlers(deps: BusinessDeps): HandlerTable {
  const handler: InboundHandler = (req, ctx) => handleBusiness(deps, req, ctx);
  return {
    [MTI.authorisationRequest]: handler,
    [MTI.financialRequest]: handler,
    [MTI.financialAdvice]: handler,
    [MTI.reversalAdvice]: handler,
    [MTI.reconciliationAdvice]: handler,
  };
}

async function handleBusiness(deps: BusinessDeps, req: InboundRequest, ctx: InboundContext): Promise<HandlerResult> {
  const m = mapRequest(req.message, { timeZone: deps.config.timeZone });
  if (!m.ok) return result(mappingErrorResponse(m.error));
  // Read with the directory's record of this message (not cached): a DE 41 re-bound by a key ceremony acts for its new terminal at once.
  const terminal = req.terminal.platform ?? (await platformTerminalOf(deps.db, req.terminal.terminalId));
  // The directory found the terminal by DE 41 a moment ago; gone now means it was just removed.
  if (!terminal) return result(new Map([[39, ACTION.invalidTransaction]]));
  const mapped = await withPlatformGrade(deps, m.value);
  if (!mapped) return result(new Map([[39, ACTION.formatError]]));
  try {
    return result(await run(deps, req, ctx, terminal, mapped));
  } catch (err) {
    if (err instanceof PinBlockUnusable) return result(new Map([[39, ACTION.pinKeySync]]));
    // A refusal of the use case (unknown authorisation, amount mismatch…): its catalogue code's DE 39.
    if (isAppError(err)) return result(errorResponse(err));
    throw err;
  }
}

function result(fields: Fields): HandlerResult {
  const code = fields.get(39);
  return { actionCode: typeof code === 'string' && isKnownActionCode(code) ? code : ACTION.systemMalfunction, fields };
}

async function run(deps: BusinessDeps, req: InboundRequest, ctx: InboundContext, terminal: TerminalPrincipal, m: MappedRequest): Promise<Fields> {
  const { db } = deps;
  const key = m.key.terminalRef;
  switch (m.kind) {
    case 'authorisation': {
      const pin = pinVerifier(ctx, req, m.pin, m.input.cardNo);
      const out = await runTerminalRequest<AuthorisationAnswer>(db, terminal, 'pos-authorisation', key, { iso: m.input }, { requireKey: true }, async (trx) => {
        // ISO 8583 has no way to poll an authorisation in review nor to send a step-up answer: the
        // engine's delay is a plain RISK_REVIEW decline holding nothing (docs/risk-sale-path.md).
        const decided = await authorisePump(trx, deps, terminal, { ...m.input, pin }, key, { reviewable: false });
        return { status: 200, body: decided.answer, last: decided.last };
      });
      if (!out.replayed) saleOutcomes.inc({ status: out.body.status, code: out.body.declineCode ?? 'APPROVED' });
      // Not reviewable here, so never 'review'; an answer stored before that was a decline too (no hold fields).
      const status = out.body.status === 'review' ? 'declined' : out.body.status;
      return authorisationResponse({ ...out.body, status, grade: isoProductCode(out.body.grade) });
    }
    case 'sale': {
      const pin = pinVerifier(ctx, req, m.pin, m.input.cardNo);
      const out = await runTerminalRequest<SaleAnswer>(db, terminal, 'pos-sale', key, { iso: m.input }, { requireKey: false }, async (trx) => {
        const decided = await decideSale(trx, deps, terminal, { ...m.input, pin }, undefined, { terminalRef: key });
        return { status: 200, body: decided.answer, last: decided.debit };
      });
      if (!out.replayed) saleOutcomes.inc({ status: out.body.status, code: out.body.declineCode ?? 'APPROVED' });
      return saleResponse(out.body);
    }
    case 'completion': {
      const authorisationId = await authorisationByRef(deps, terminal, m.originalRef);
      // An advice: the fuel is out of the nozzle. The use case posts it whatever it finds (an overrun as
      // arrears, a price that is not in force, goods that do not fit), flagged, never refused.
      const out = await runTerminalRequest<SaleAnswer>(db, terminal, 'pos-completion', key, { iso: m.input, authorisationId, terminalTotal: m.terminalTotal }, { requireKey: true }, async (trx) => {
        const decided = await completeAuthorisation(trx, deps, terminal, authorisationId, m.input, key, { advice: { terminalTotal: m.terminalTotal } });
        return { status: 200, body: decided.answer, last: decided.last };
      });
      if (!out.replayed) saleOutcomes.inc({ status: out.body.status, code: out.body.declineCode ?? 'APPROVED' });
      return saleResponse(out.body);
    }
    case 'offline': {
      // The batch number is the advice's own (iso-<batch>-<seq>): a repeat is answered from the batch.
      const answer: OfflineBatchAnswer = await db.transaction().execute((trx) => uploadOfflineBatch(trx, deps, terminal, m.input));
      const first = answer.results[0];
      return offlineResponse(first ?? { status: 'rejected', code: 'OFFLINE_BATCH_CONFLICT' });
    }
    case 'reversal': {
      const out = await runIdempotent<ReversalAnswer>(db, `pos-reversal:${terminal.id}`, key, { iso: m.input }, async (trx) => ({ status: 200, body: await reverseByRef(trx, terminal, m.input) }));
      return reversalResponse(out.body);
    }
    case 'reconciliation':
      return reconcile(deps, terminal, key, m);
  }
}

/**
 * 1520/1521: with per-kind totals in DE 72 the shift is closed (fc 500) or checked (fc 501) exactly
 * as the HTTP close does. With the ISO class totals alone (DE 74–77, 86–89) the shift is compared
 * class by class; a final 1520 closes it only when the classes agree (declared := the platform's own
 * per-kind totals, which the terminal has then confirmed), otherwise 501 and the shift stays open
 * for the terminal's re-upload or the station's close at the console (docs/pos-gateway.md).
 */
async function reconcile(deps: BusinessDeps, terminal: TerminalPrincipal, key: string, m: Extract<MappedRequest, { kind: 'reconciliation' }>): Promise<Fields> {
  const { db, config } = deps;
  const out = await runIdempotent<{ balanced: boolean; shiftId: number }>(db, `pos-shift-close:${terminal.id}`, key, { iso: { final: m.final, totals: m.totals, close: m.close } }, async (trx) => {
    let shift: ShiftView;
    if (m.close) {
      if (m.final) shift = await closeShift(trx, terminal, m.close, config.timeZone);
      else {
        shift = await currentShift(trx, terminal);
        const differences = compareTotals(checkDeclared(m.close.declared), shift.computed);
        return { status: 200, body: { balanced: differences.length === 0, shiftId: shift.shiftId } };
      }
      return { status: 200, body: { balanced: shift.balanced === true, shiftId: shift.shiftId } };
    }
    shift = await currentShift(trx, terminal);
    const cmp = compareIsoTotals(m.totals, shift.computed);
    if (!cmp.balanced || !m.final) return { status: 200, body: { balanced: cmp.balanced, shiftId: shift.shiftId } };
    const closed = await closeShift(trx, terminal, { declared: shift.computed }, config.timeZone);
    return { status: 200, body: { balanced: closed.balanced === true, shiftId: closed.shiftId } };
  });
  return reconciliationResponse(out.body.balanced);
}

/**
 * DE 63 names the fuel by its product code (92, M10); the use cases by the grade (92#, -10#). An
 * unknown code is passed on as it came (the use case declines it like any unknown grade); a code
 * two grades share gives null (904).
 */
async function withPlatformGrade(deps: BusinessDeps, m: MappedRequest): Promise<MappedRequest | null> {
  const resolve = async (code: string): Promise<string | null> => {
    const g = await gradeForProductCode(deps.db, code);
    return g.ok ? g.grade : g.reason === 'unknown' ? code : null;
  };
  if (m.kind === 'sale' && m.input.grade !== undefined) {
    const grade = await resolve(m.input.grade);
    return grade === null ? null : { ...m, input: { ...m.input, grade } };
  }
  if (m.kind === 'offline') {
    const sale = m.input.sales[0];
    const grade = await resolve(sale.grade);
    return grade === null ? null : { ...m, input: { ...m.input, sales: [{ ...sale, grade }] } };
  }
  return m;
}

/** The authorisation a completion's DE 56 names: the one this terminal posted under that reference. */
async function authorisationByRef(deps: BusinessDeps, terminal: TerminalPrincipal, originalRef: string): Promise<string> {
  const r = await sql<{ id: string }>`select id from pump_authorisations where terminal_id = ${terminal.id} and terminal_ref = ${originalRef}`.execute(deps.db);
  const id = r.rows[0]?.id;
  if (!id) throw salesError('AUTHORISATION_NOT_FOUND', { originalRef });
  return id;
}

/**
 * The PIN as a proof for the card use case: the key store opens DE 52 with the terminal's PIN key
 * and compares against the card's verify value; the digits never leave the store.
 */
function pinVerifier(ctx: InboundContext, req: InboundRequest, pin: PinData, pan: string): PinVerifier {
  return {
    kind: 'verifier',
    async matches(subject, stored) {
      const ref = await pinRefFor(ctx.keyStore, req.terminal, req.macKeyVersion, pin);
      const r = await ctx.keyStore.pinVerifyPlatform({ pin: ref, pinBlock: pin.block, pan, subject, stored });
      if (r.ok) return true;
      if (r.code === 'PIN_MISMATCH') return false;
      throw new PinBlockUnusable(r.code);
    },
  };
}
