import { describe, expect, it } from 'vitest';
import { salesError } from '../../sales/index.js';
import { decodeMessage, encodeMessage, EXAMPLES, type FieldValue, type IsoMessage } from '../iso8583/index.js';
import {
  authorisationResponse,
  buildResponse,
  compareIsoTotals,
  errorResponse,
  formatAllowedProducts,
  formatBalance,
  isApprovedAnswer,
  mappingErrorResponse,
  offlineResponse,
  parseAllowedProducts,
  parseBalance,
  reconciliationResponse,
  reversalResponse,
  saleResponse,
} from './mapping-response.js';

/** A response must survive the codec the terminal decodes it with. */
function answer(request: IsoMessage, fields: ReadonlyMap<number, FieldValue>): IsoMessage {
  const built = buildResponse(request, fields);
  if (!built) throw new Error('no response MTI');
  const r = decodeMessage(encodeMessage(built));
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.detail}`);
  return r.message;
}

const auth = { status: 'approved' as const, approvalCode: '123456', actionCode: '000', grade: '92', requestedAmount: 30000, heldAmount: 30000, balance: 120000 };

describe('1110 from the authorisation answer', () => {
  it('full approval: 000, DE 38, DE 4 the amount held, DE 62 the grade, DE 54 the balance; request fields echoed', () => {
    const m = answer(EXAMPLES.preAuth1100, authorisationResponse(auth));
    expect(m.mti).toBe('1110');
    expect(m.fields.get(39)).toBe('000');
    expect(m.fields.get(38)).toBe('123456');
    expect(m.fields.get(4)).toBe('000000030000');
    expect(m.fields.has(30)).toBe(false);
    expect(parseAllowedProducts(m.fields.get(62) as string)).toEqual(['92']);
    expect(parseBalance(m.fields.get(54) as string)).toBe(120000);
    for (const n of [3, 7, 11, 12, 24, 26, 41, 42, 49]) expect(m.fields.get(n), `DE ${n}`).toEqual(EXAMPLES.preAuth1100.fields.get(n));
    // Never echoed: the PIN block, the track, the fuel data.
    for (const n of [35, 48, 52]) expect(m.fields.has(n), `DE ${n}`).toBe(false);
    expect(isApprovedAnswer(m.fields)).toBe(true);
  });

  it('partial approval: 002, DE 4 the amount held, DE 30 the amount asked', () => {
    const m = answer(EXAMPLES.preAuth1100, authorisationResponse({ ...auth, actionCode: '002', heldAmount: 12000 }));
    expect(m.fields.get(39)).toBe('002');
    expect(m.fields.get(4)).toBe('000000012000');
    expect(m.fields.get(30)).toBe('000000030000000000000000');
  });

  it('a decline: its action code, DE 4 echoed as asked, no approval code or products', () => {
    const m = answer(EXAMPLES.preAuth1100, authorisationResponse({ ...auth, status: 'declined', approvalCode: undefined, declineCode: 'INSUFFICIENT_FUNDS', actionCode: '116', heldAmount: 0, balance: null }));
    expect(m.fields.get(39)).toBe('116');
    expect(m.fields.get(4)).toBe('000000030000');
    for (const n of [38, 62, 54, 30]) expect(m.fields.has(n), `DE ${n}`).toBe(false);
    expect(isApprovedAnswer(m.fields)).toBe(false);
  });
});

describe('other answers', () => {
  it('1230 to a completion from the sale answer; arrears show as a D balance', () => {
    const m = answer(EXAMPLES.completion1220, saleResponse({ saleId: 'x', status: 'approved', approvalCode: '654321', actionCode: '000', amount: 25643, balance: -100 }));
    expect(m.mti).toBe('1230');
    expect(m.fields.get(39)).toBe('000');
    expect(m.fields.get(38)).toBe('654321');
    expect(m.fields.get(56)).toBe(EXAMPLES.completion1220.fields.get(56));
    expect(m.fields.get(54)).toBe('0002156D000000000100');
    expect(parseBalance(m.fields.get(54) as string)).toBe(-100);
  });

  it('1230 to an offline advice: posted and duplicate acknowledge, a reject answers its own code', () => {
    expect(offlineResponse({ status: 'posted' }).get(39)).toBe('000');
    expect(offlineResponse({ status: 'duplicate' }).get(39)).toBe('000');
    expect(offlineResponse({ status: 'rejected', code: 'OFFLINE_CARD_UNKNOWN' }).get(39)).toBe('111');
    expect(offlineResponse({ status: 'rejected', code: 'OFFLINE_SEQ_CONFLICT' }).get(39)).toBe('913');
    expect(offlineResponse({ status: 'rejected' }).get(39)).toBe('909');
  });

  it('1430 carries 400; 1530 500 or 501', () => {
    expect(answer(EXAMPLES.reversal1420, reversalResponse({ actionCode: '400' })).fields.get(39)).toBe('400');
    const rec = answer(EXAMPLES.reconciliation1520, reconciliationResponse(false));
    expect(rec.mti).toBe('1530');
    expect(rec.fields.get(39)).toBe('501');
    expect(reconciliationResponse(true).get(39)).toBe('500');
  });

  it('a thrown use-case error and a mapping error answer their action codes', () => {
    expect(errorResponse(salesError('AUTHORISATION_REVERSED')).get(39)).toBe('913');
    expect(errorResponse(new TypeError('x')).get(39)).toBe('909');
    expect(mappingErrorResponse({ code: 'MISSING_FIELD', field: 52, actionCode: '904', detail: '' }).get(39)).toBe('904');
  });

  it('no response to an MTI the host does not answer', () => {
    expect(buildResponse({ mti: '1110', fields: new Map() }, new Map())).toBeNull();
  });
});

describe('field layouts', () => {
  it('DE 62 lists product codes with a count', () => {
    expect(formatAllowedProducts(['92', '95'])).toBe('0292\\95\\');
    expect(parseAllowedProducts('0292\\95\\')).toEqual(['92', '95']);
    expect(parseAllowedProducts('0392\\95\\')).toBeNull();
    expect(() => formatAllowedProducts(['9\\2'])).toThrow(RangeError);
  });
  it('DE 54 is account 00, amount type 02 (available), currency, sign, n12', () => {
    expect(formatBalance(120000)).toBe('0002156C000000120000');
    expect(parseBalance('0002156C000000120000')).toBe(120000);
    expect(parseBalance('0001156C000000120000')).toBeNull();
  });
});

describe('1520 totals against the shift', () => {
  const computed = [
    { kind: 'online' as const, count: 1, amount: 30000 },
    { kind: 'completion' as const, count: 1, amount: 25643 },
    { kind: 'postpay' as const, count: 0, amount: 0 },
    { kind: 'offline' as const, count: 0, amount: 0 },
    { kind: 'voided' as const, count: 0, amount: 0 },
    { kind: 'reversed' as const, count: 1, amount: 30000 },
    { kind: 'goods' as const, count: 1, amount: 500 },
  ];
  const declared = {
    credits: { count: 0, amount: 0 },
    creditReversals: { count: 0, amount: 0 },
    debits: { count: 2, amount: 55643 },
    debitReversals: { count: 1, amount: 30000 },
    net: -25643,
  };
  it('in balance when debits are the approved sales of every flow and debit reversals the voided and reversed', () => {
    expect(compareIsoTotals(declared, computed)).toMatchObject({ balanced: true, differences: [] });
  });
  it('out of balance names the class; bigint amounts from the database count as numbers', () => {
    const r = compareIsoTotals({ ...declared, debits: { count: 2, amount: 55600 } }, computed.map((k) => ({ ...k, amount: String(k.amount) as unknown as number })));
    expect(r.balanced).toBe(false);
    expect(r.differences).toEqual([{ class: 'debits', declared: { count: 2, amount: 55600 }, computed: { count: 2, amount: 55643 } }]);
    expect(compareIsoTotals({ ...declared, credits: { count: 1, amount: 1 } }, computed).balanced).toBe(false);
  });
});
