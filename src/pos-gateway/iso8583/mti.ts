import { IsoEncodeError } from './errors.js';

/**
 * Message classes, function codes (DE 24), reason codes (DE 25) and business codes (DE 26) of
 * the terminal host, as issue 6 and the public IFSF material name them. The action code table
 * that maps onto the platform's decline codes belongs to the mapping layer, not the codec.
 */

export const MTI = {
  authorisationRequest: '1100',
  authorisationResponse: '1110',
  financialRequest: '1200',
  financialResponse: '1210',
  financialAdvice: '1220',
  financialAdviceRepeat: '1221',
  financialAdviceResponse: '1230',
  fileActionRequest: '1304',
  fileActionResponse: '1314',
  reversalAdvice: '1420',
  reversalAdviceRepeat: '1421',
  reversalAdviceResponse: '1430',
  reconciliationAdvice: '1520',
  reconciliationAdviceRepeat: '1521',
  reconciliationAdviceResponse: '1530',
  networkManagementRequest: '1804',
  networkManagementResponse: '1814',
  networkManagementAdvice: '1820',
  networkManagementAdviceResponse: '1830',
} as const;

const RESPONSES: ReadonlyMap<string, string> = new Map([
  ['1100', '1110'],
  ['1200', '1210'],
  ['1220', '1230'],
  ['1221', '1230'],
  ['1304', '1314'],
  ['1420', '1430'],
  ['1421', '1430'],
  ['1520', '1530'],
  ['1521', '1530'],
  ['1804', '1814'],
  ['1820', '1830'],
]);

/** The response MTI for a request or advice MTI this host answers, or null. */
export function responseMti(mti: string): string | null {
  return RESPONSES.get(mti) ?? null;
}

/** Repeats (1221, 1421, 1521) carry the same content as the first transmission. */
export function isRepeat(mti: string): boolean {
  return mti === '1221' || mti === '1421' || mti === '1521';
}

export const FUNCTION_CODE = {
  authAccurate: '100',
  authEstimated: '101',
  financial: '200',
  adviceStandIn: '200',
  adviceCompletionSameAmount: '201',
  adviceCompletionDifferentAmount: '202',
  fileAdd: '301',
  fileChange: '302',
  fileDelete: '303',
  fileReplaceRecord: '304',
  fileInquiry: '305',
  fileReplace: '309',
  reversalFull: '400',
  reconciliationFinal: '500',
  reconciliationCheckpoint: '501',
  signOn: '801',
  signOff: '802',
  keyChange: '811',
  echo: '831',
} as const;

export const REASON_CODE = {
  cardIssuerUnavailable: '1003',
  customerCancel: '4000',
  invalidResponse: '4020',
  timeout: '4021',
} as const;

/** DE 26: indoor (attended) and outdoor (unattended) fuel. */
export const MCC = { indoor: '5541', outdoor: '5542' } as const;

/**
 * DE 56 original data elements (LL n..35, ISO 8583:1993): original MTI n4, STAN n6, local
 * date/time n12, then the original acquirer ID as its own LL n..11 (2 length digits + digits).
 */
export interface OriginalData {
  readonly mti: string;
  readonly stan: string;
  readonly localDateTime: string;
  readonly acquirerId: string;
}

export function formatOriginalData(o: OriginalData): string {
  return `${o.mti}${o.stan}${o.localDateTime}${String(o.acquirerId.length).padStart(2, '0')}${o.acquirerId}`;
}

export type ParsedValue<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly code: 'BAD_SUBFIELD'; readonly detail: string };

export function parseOriginalData(de56: string): ParsedValue<OriginalData> {
  const m = typeof de56 === 'string' ? /^([0-9]{4})([0-9]{6})([0-9]{12})(?:([0-9]{2})([0-9]{0,11}))?$/.exec(de56) : null;
  const acquirerId = m?.[5] ?? '';
  if (!m || (m[4] !== undefined && Number(m[4]) !== acquirerId.length)) {
    return { ok: false, code: 'BAD_SUBFIELD', detail: 'DE 56: MTI n4, STAN n6, local date/time n12, then LL n..11 acquirer ID' };
  }
  return { ok: true, value: { mti: m[1]!, stan: m[2]!, localDateTime: m[3]!, acquirerId } };
}

/** DE 4 / DE 30 parts: minor units (fen) ↔ n12. Throws on a value n12 cannot carry. */
export function formatAmount(minor: number): string {
  if (!Number.isSafeInteger(minor) || minor < 0 || minor > 999_999_999_999) {
    throw new IsoEncodeError('BAD_LENGTH', `amount ${minor} does not fit n12`, 4);
  }
  return String(minor).padStart(12, '0');
}

export function parseAmount(n12: string): ParsedValue<number> {
  return typeof n12 === 'string' && /^[0-9]{12}$/.test(n12)
    ? { ok: true, value: Number(n12) }
    : { ok: false, code: 'BAD_SUBFIELD', detail: 'amount must be n12' };
}
