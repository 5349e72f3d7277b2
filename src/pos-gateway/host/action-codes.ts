/**
 * The ONE table from platform codes to ISO 8583:1993 action codes (DE 39). It is derived, not
 * typed: every error a terminal can meet already carries its `iso` in its module's defineErrors
 * table, and every decline / offline reject in its decline table (the same sources
 * scripts/generate.ts writes docs/errors.md from). A code added to any of those tables is in
 * here without an edit; a code whose `iso` is not a known action code fails the test.
 */
import { isAppError, platformError, type ErrorTable } from '../../platform/index.js';
import { ledgerError } from '../../ledger/index.js';
import { CARD_DECLINES, cardsError, type DeclineSpec } from '../../cards/index.js';
import { promotionsError, stationsError, stockError, whitelistError } from '../../stations/index.js';
import { OFFLINE_REJECTS, offlineError, reversalsError, SALE_DECLINES, salesError } from '../../sales/index.js';

/** ISO 8583:1993 action codes this host sends (pos.md §1.2; meanings as scripts/generate.ts lists them). */
export const ACTION_CODE_MEANINGS: Readonly<Record<string, string>> = {
  '000': 'approved',
  '001': 'honour with identification',
  '002': 'approved for partial amount',
  '100': 'do not honour',
  '101': 'expired card',
  '106': 'allowable PIN tries exceeded',
  '110': 'invalid amount',
  '111': 'invalid card number',
  '116': 'not sufficient funds',
  '117': 'incorrect PIN',
  '119': 'transaction not permitted to cardholder',
  '121': 'exceeds withdrawal amount limit',
  '123': 'exceeds withdrawal frequency limit',
  '125': 'card not effective',
  '200': 'do not honour (pick up)',
  '208': 'lost card (pick up)',
  '209': 'stolen card (pick up)',
  '300': 'file action accepted',
  '301': 'file action not supported by receiver',
  '306': 'file action not successful',
  '307': 'file action format error',
  '309': 'unknown file',
  '400': 'reversal accepted',
  '500': 'reconciled, in balance',
  '501': 'reconciled, out of balance',
  '800': 'network management accepted',
  '900': 'advice acknowledged, no financial liability accepted',
  '902': 'invalid transaction',
  '904': 'format error',
  '907': 'card issuer or switch inoperative',
  '909': 'system malfunction',
  '911': 'card issuer timed out',
  '912': 'card issuer unavailable',
  '913': 'duplicate transmission',
  '916': 'MAC incorrect',
  '917': 'MAC key synchronisation error',
  '919': 'encryption key synchronisation error',
  '923': 'request in progress',
};

export const ACTION = {
  approved: '000',
  partial: '002',
  reversalAccepted: '400',
  reconciledInBalance: '500',
  reconciledOutOfBalance: '501',
  networkAccepted: '800',
  adviceAcknowledged: '900',
  invalidTransaction: '902',
  formatError: '904',
  systemMalfunction: '909',
  duplicate: '913',
  duplicateTransmission: '913',
  macIncorrect: '916',
  macKeySync: '917',
  pinKeySync: '919',
  outOfSequence: '922',
} as const;

export type ActionSource = 'error' | 'decline' | 'offline-reject';

export interface ActionCodeEntry {
  /** The platform code: an error code, a decline code or an offline reject code. */
  readonly code: string;
  readonly module: string;
  readonly source: ActionSource;
  /** ISO 8583:1993 DE 39, n3. */
  readonly iso: string;
  readonly zh: string;
  readonly en: string;
}

/**
 * Error tables a terminal can meet on the sale paths: the request layer (platform), the card
 * checks, the ledger under a sale, the station's nozzles/prices/stock/promotions/whitelist, the
 * sale use cases, reversals and shifts, offline upload. Staff, customer, payment, portal, report
 * and web errors answer staff and cardholders, never a terminal.
 */
const TERMINAL_ERROR_TABLES: ReadonlyArray<{ readonly module: string; readonly table: ErrorTable }> = [
  platformError,
  ledgerError,
  cardsError,
  stationsError,
  whitelistError,
  stockError,
  promotionsError,
  salesError,
  reversalsError,
  offlineError,
];

const DECLINE_TABLES: ReadonlyArray<{ readonly module: string; readonly source: ActionSource; readonly table: Readonly<Record<string, DeclineSpec>> }> = [
  { module: 'cards', source: 'decline', table: CARD_DECLINES },
  { module: 'sales', source: 'decline', table: SALE_DECLINES },
  { module: 'offline', source: 'offline-reject', table: OFFLINE_REJECTS },
];

function buildTable(): ReadonlyMap<string, ActionCodeEntry> {
  const out = new Map<string, ActionCodeEntry>();
  const add = (e: ActionCodeEntry): void => {
    const before = out.get(e.code);
    // A code in two tables could carry two action codes: the catalogue generator refuses that too.
    if (before) throw new Error(`platform code ${e.code} is defined by both ${before.module} and ${e.module}`);
    out.set(e.code, e);
  };
  for (const { module, table } of TERMINAL_ERROR_TABLES) {
    for (const [code, spec] of Object.entries(table)) add({ code, module, source: 'error', iso: spec.iso, zh: spec.zh, en: spec.en });
  }
  for (const { module, source, table } of DECLINE_TABLES) {
    for (const [code, spec] of Object.entries(table)) add({ code, module, source, iso: spec.iso, zh: spec.zh, en: spec.en });
  }
  return out;
}

/** Every platform code a terminal can meet → its action code. */
export const ACTION_CODES: ReadonlyMap<string, ActionCodeEntry> = buildTable();

/** The action code of a platform code; unknown codes are a host fault (909), never an approval. */
export function actionCodeFor(code: string | undefined | null): string {
  if (code === undefined || code === null) return ACTION.systemMalfunction;
  return ACTION_CODES.get(code)?.iso ?? ACTION.systemMalfunction;
}

/**
 * The action code for whatever a use case threw: an AppError by its code (the table; the spec's
 * own `iso` when the code is not in it, e.g. a module added later), anything else 909.
 */
export function actionCodeForError(err: unknown): { code: string; iso: string } {
  if (isAppError(err)) {
    const iso = ACTION_CODES.get(err.code)?.iso ?? err.spec.iso;
    return { code: err.code, iso: isKnownActionCode(iso) ? iso : ACTION.systemMalfunction };
  }
  return { code: 'INTERNAL', iso: ACTION.systemMalfunction };
}

export function isKnownActionCode(iso: string): boolean {
  return /^[0-9]{3}$/.test(iso) && Object.hasOwn(ACTION_CODE_MEANINGS, iso);
}

/** Approved classes: 0xx. Everything else declines, refuses or acknowledges. */
export function isApproval(iso: string): boolean {
  return /^0[0-9]{2}$/.test(iso);
}
