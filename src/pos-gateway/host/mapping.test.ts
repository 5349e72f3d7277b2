import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeMessage, encodeMessage, EXAMPLES, type De63Value, type FieldValue, type IsoMessage, type ProductLine } from '../iso8583/index.js';
import { isKnownActionCode } from './action-codes.js';
import { localTimeToIso } from './mapping-fields.js';
import { declaredOf, formatDeclared, mapRequest, terminalRefOf, type MappedRequest, type MappingContext, type MappingError } from './mapping.js';

const CTX: MappingContext = { timeZone: 'Asia/Shanghai' };

/** Every message goes through the codec, as it would arrive: encode, then decode. */
function wire(mti: string, fields: Map<number, FieldValue>): IsoMessage {
  const r = decodeMessage(encodeMessage({ mti, fields }));
  if (!r.ok) throw new Error(`example does not decode: ${r.error.code} ${r.error.detail}`);
  return r.message;
}

function from(example: IsoMessage, edit: (f: Map<number, FieldValue>) => void = () => {}, mti = example.mti): IsoMessage {
  const f = new Map(example.fields);
  edit(f);
  return wire(mti, f);
}

function ok(m: IsoMessage): MappedRequest {
  const r = mapRequest(m, CTX);
  if (!r.ok) throw new Error(`expected ok, got ${JSON.stringify(r.error)}`);
  return r.value;
}

function err(m: IsoMessage): MappingError {
  const r = mapRequest(m, CTX);
  if (r.ok) throw new Error(`expected an error, got ${r.value.kind}`);
  return r.error;
}

const line = (l: Partial<ProductLine> & Pick<ProductLine, 'productCode' | 'unit' | 'amount'>): ProductLine => ({
  quantity: { scale: 0, value: 1 },
  unitPrice: { scale: 0, value: l.amount },
  taxCode: '',
  additionalCode: '',
  ...l,
});
const de63 = (...lines: ProductLine[]): De63Value => ({ kind: 'de63', serviceLevel: 'F', lines });
const FUEL_92 = line({ productCode: '92', unit: 'L', quantity: { scale: 2, value: 3250 }, unitPrice: { scale: 0, value: 789 }, amount: 25643 });
const WATER = line({ productCode: 'W550', unit: 'U', quantity: { scale: 0, value: 2 }, unitPrice: { scale: 0, value: 250 }, amount: 500 });

const preAuth = EXAMPLES.preAuth1100;
/** 1200 indoor post-pay: fuel at nozzle 02 of pump 03 and two bottles of water. */
const postPay = from(preAuth, (f) => {
  f.set(4, '000000026143');
  f.set(11, '000010');
  f.set(24, '200');
  f.set(26, '5541');
  f.set(48, { kind: 'de48', batchSequence: '0007000130', pumpNozzle: '0302', pinMethod: '01' });
  f.set(63, de63(FUEL_92, WATER));
}, '1200');
/** 1220 stand-in (200): an offline fuel sale uploaded after recovery. */
const offline = from(EXAMPLES.completion1220, (f) => {
  f.set(24, '200');
  f.set(25, '1003');
  f.delete(56);
  f.set(35, '9100123456789012=3012');
  f.set(38, '482913');
  f.set(48, { kind: 'de48', batchSequence: '0007000131', pumpNozzle: '0302' });
});

describe('1100 authorisation → authorisePump', () => {
  it('fc 101 (estimated) is a pre-auth of DE 4 at the 48-40 nozzle, keyed by STAN and local time', () => {
    const m = ok(wire(preAuth.mti, new Map(preAuth.fields)));
    expect(m.kind).toBe('authorisation');
    if (m.kind !== 'authorisation') return;
    expect(m.input).toEqual({ cardNo: '9100123456789012', nozzle: 2, mode: 'preauth', amount: 30000 });
    expect(m.environment).toBe('outdoor');
    expect(m.key).toEqual({ stan: '000003', localDateTime: '261128161600', terminalRef: 'iso:000003:261128161600', batchSequence: '0007000123' });
    expect(m.pin.block.toString('hex')).toBe('1b9c1845eb993a7a');
    expect(m.pin.method).toBe('01');
    expect(m.repeat).toBe(false);
    expect(JSON.stringify(m.input)).not.toMatch(/pin/i);
  });

  it('fc 100 (accurate amount) is a prepay of the preset', () => {
    const m = ok(from(preAuth, (f) => f.set(24, '100')));
    expect(m.kind === 'authorisation' && m.input).toMatchObject({ mode: 'prepay', amount: 30000 });
  });

  it('the card may come keyed in DE 2 instead of track 2', () => {
    const m = ok(from(preAuth, (f) => (f.delete(35), f.set(2, '9100123456789012'))));
    expect(m.kind === 'authorisation' && m.input.cardNo).toBe('9100123456789012');
  });

  it.each([
    ['PIN block', 52, (f: Map<number, FieldValue>) => f.delete(52), { code: 'MISSING_FIELD', field: 52, actionCode: '904' }],
    ['amount', 4, (f: Map<number, FieldValue>) => f.delete(4), { code: 'MISSING_FIELD', field: 4, actionCode: '904' }],
    ['STAN', 11, (f: Map<number, FieldValue>) => f.delete(11), { code: 'MISSING_FIELD', field: 11, actionCode: '904' }],
    ['local time', 12, (f: Map<number, FieldValue>) => f.delete(12), { code: 'MISSING_FIELD', field: 12, actionCode: '904' }],
    ['terminal', 41, (f: Map<number, FieldValue>) => f.delete(41), { code: 'MISSING_FIELD', field: 41, actionCode: '904' }],
    ['card', 35, (f: Map<number, FieldValue>) => f.delete(35), { code: 'MISSING_FIELD', field: 35, actionCode: '904' }],
    ['function code', 24, (f: Map<number, FieldValue>) => f.delete(24), { code: 'MISSING_FIELD', field: 24, actionCode: '904' }],
    ['business code', 26, (f: Map<number, FieldValue>) => f.delete(26), { code: 'MISSING_FIELD', field: 26, actionCode: '904' }],
    ['nozzle', 48, (f: Map<number, FieldValue>) => f.set(48, { kind: 'de48', batchSequence: '0007000123' }), { code: 'MISSING_FIELD', field: 48, subfield: 40, actionCode: '904' }],
  ])('missing %s → MISSING_FIELD with the field and 904', (_name, _n, edit, expected) => {
    expect(err(from(preAuth, edit))).toMatchObject(expected);
  });

  it.each([
    ['amount zero', (f: Map<number, FieldValue>) => f.set(4, '000000000000'), { code: 'BAD_AMOUNT', field: 4, actionCode: '110' }],
    ['amount beyond the sale bound', (f: Map<number, FieldValue>) => f.set(4, '000100000001'), { code: 'BAD_AMOUNT', field: 4, actionCode: '110' }],
    ['function 108 inquiry', (f: Map<number, FieldValue>) => f.set(24, '108'), { code: 'UNSUPPORTED_FUNCTION', field: 24, actionCode: '902' }],
    ['MCC not fuel', (f: Map<number, FieldValue>) => f.set(26, '5999'), { code: 'UNSUPPORTED_FUNCTION', field: 26, actionCode: '902' }],
    ['USD', (f: Map<number, FieldValue>) => f.set(49, '840'), { code: 'UNSUPPORTED_FUNCTION', field: 49, actionCode: '902' }],
    ['a refund processing code', (f: Map<number, FieldValue>) => f.set(3, '200000'), { code: 'UNSUPPORTED_FUNCTION', field: 3, actionCode: '902' }],
    ['nozzle 00', (f: Map<number, FieldValue>) => f.set(48, { kind: 'de48', pumpNozzle: '0300' }), { code: 'BAD_FIELD', field: 48, subfield: 40, actionCode: '904' }],
    ['a PAN of letters in track 2', (f: Map<number, FieldValue>) => f.set(35, '=3012'), { code: 'BAD_FIELD', field: 35, actionCode: '904' }],
  ])('%s → a typed refusal', (_name, edit, expected) => {
    expect(err(from(preAuth, edit))).toMatchObject(expected);
  });

  it('MCC 5541 is indoor', () => {
    const m = ok(from(preAuth, (f) => f.set(26, '5541')));
    expect(m.kind === 'authorisation' && m.environment).toBe('indoor');
  });
});

describe('1200 financial → decideSale (indoor post-pay)', () => {
  it('takes the fuel line as grade/volume/price at the nozzle and other lines as store items; DE 4 is the whole', () => {
    const m = ok(postPay);
    expect(m.kind).toBe('sale');
    if (m.kind !== 'sale') return;
    expect(m.environment).toBe('indoor');
    expect(m.input).toEqual({ cardNo: '9100123456789012', amount: 26143, grade: '92', volumeMl: 32500, unitPrice: 789, nozzle: 2, items: [{ sku: 'W550', quantity: 2 }] });
    expect(m.key.terminalRef).toBe('iso:000010:261128161600');
  });

  it('goods only: no fuel fields and no nozzle needed', () => {
    const m = ok(from(postPay, (f) => (f.set(4, '000000000500'), f.set(63, de63(WATER)), f.set(48, { kind: 'de48', pinMethod: '01' }))));
    expect(m.kind === 'sale' && m.input).toEqual({ cardNo: '9100123456789012', amount: 500, items: [{ sku: 'W550', quantity: 2 }] });
  });

  it('volume in litres with 3 or 4 decimals becomes millilitres; unit price may carry zero decimals', () => {
    const l = line({ productCode: '95', unit: 'L', quantity: { scale: 4, value: 100000 }, unitPrice: { scale: 2, value: 84000 }, amount: 8400 });
    const m = ok(from(postPay, (f) => (f.set(4, '000000008400'), f.set(63, de63(l)))));
    expect(m.kind === 'sale' && m.input).toMatchObject({ grade: '95', volumeMl: 10000, unitPrice: 840, amount: 8400 });
  });

  it.each([
    ['DE 63 missing', (f: Map<number, FieldValue>) => f.delete(63), { code: 'MISSING_FIELD', field: 63, actionCode: '904' }],
    ['lines not adding up to DE 4', (f: Map<number, FieldValue>) => f.set(4, '000000026144'), { code: 'LINES_MISMATCH', field: 63, actionCode: '904' }],
    ['two fuel lines', (f: Map<number, FieldValue>) => (f.set(4, '000000051286'), f.set(63, de63(FUEL_92, FUEL_92))), { code: 'UNSUPPORTED_FUNCTION', field: 63, subfield: 2, actionCode: '902' }],
    [
      'a volume finer than a millilitre',
      (f: Map<number, FieldValue>) => (f.set(4, '000000000789'), f.set(63, de63(line({ productCode: '92', unit: 'L', quantity: { scale: 4, value: 10001 }, unitPrice: { scale: 0, value: 789 }, amount: 789 })))),
      { code: 'BAD_FIELD', field: 63, subfield: 1, actionCode: '904' },
    ],
    [
      'a unit price in fractions of a fen',
      (f: Map<number, FieldValue>) => (f.set(4, '000000000789'), f.set(63, de63(line({ productCode: '92', unit: 'L', quantity: { scale: 0, value: 1 }, unitPrice: { scale: 1, value: 7895 }, amount: 789 })))),
      { code: 'BAD_FIELD', field: 63, subfield: 1, actionCode: '904' },
    ],
    [
      'half a bottle',
      (f: Map<number, FieldValue>) => (f.set(4, '000000000250'), f.set(63, de63(line({ productCode: 'W550', unit: 'U', quantity: { scale: 1, value: 5 }, unitPrice: { scale: 0, value: 500 }, amount: 250 })))),
      { code: 'BAD_FIELD', field: 63, subfield: 1, actionCode: '904' },
    ],
    [
      'a refund line',
      (f: Map<number, FieldValue>) => (f.set(4, '000000025143'), f.set(63, de63(FUEL_92, line({ productCode: 'W550', unit: 'U', unitPrice: { scale: 0, value: 500 }, amount: -500 })))),
      { code: 'UNSUPPORTED_FUNCTION', field: 63, subfield: 2, actionCode: '902' },
    ],
    ['a fuel line without its nozzle', (f: Map<number, FieldValue>) => f.set(48, { kind: 'de48', pinMethod: '01' }), { code: 'MISSING_FIELD', field: 48, subfield: 40, actionCode: '904' }],
    ['function code 201', (f: Map<number, FieldValue>) => f.set(24, '201'), { code: 'UNSUPPORTED_FUNCTION', field: 24, actionCode: '902' }],
  ])('%s → a typed refusal', (_name, edit, expected) => {
    expect(err(from(postPay, edit))).toMatchObject(expected);
  });
});

describe('1220 / 1221 advice', () => {
  it('fc 202 completes the 1100 named by DE 56 for the delivered fuel', () => {
    const m = ok(wire('1220', new Map(EXAMPLES.completion1220.fields)));
    expect(m.kind).toBe('completion');
    if (m.kind !== 'completion') return;
    // The very reference the 1100 was posted under: the authorisation is found by it.
    const auth = ok(wire(preAuth.mti, new Map(preAuth.fields)));
    expect(m.originalRef).toBe(auth.key.terminalRef);
    expect(m.input).toEqual({ volumeMl: 32500, unitPrice: 789, amount: 25643 });
    expect(m.sameAmount).toBe(false);
    expect(m.approvalCode).toBe('A1B2C3');
    expect(m.repeat).toBe(false);
  });

  it('prepay: the completion of the preset for the amount delivered, goods priced separately', () => {
    const m = ok(from(EXAMPLES.completion1220, (f) => (f.set(24, '201'), f.set(4, '000000026143'), f.set(63, de63(FUEL_92, WATER)))));
    expect(m.kind === 'completion' && m).toMatchObject({ sameAmount: true, input: { amount: 25643, items: [{ sku: 'W550', quantity: 2 }] } });
  });

  it('1221 is the same advice, marked as a repeat', () => {
    const m = ok(from(EXAMPLES.completion1220, () => {}, '1221'));
    expect(m).toMatchObject({ kind: 'completion', repeat: true, mti: '1221' });
  });

  it.each([
    ['DE 56 missing', (f: Map<number, FieldValue>) => f.delete(56), { code: 'MISSING_FIELD', field: 56, actionCode: '904' }],
    ['DE 56 malformed', (f: Map<number, FieldValue>) => f.set(56, '1100123'), { code: 'BAD_FIELD', field: 56, actionCode: '904' }],
    ['DE 56 naming a 1200', (f: Map<number, FieldValue>) => f.set(56, '120000000326112816160000'), { code: 'UNSUPPORTED_FUNCTION', field: 56, actionCode: '902' }],
    ['no fuel line', (f: Map<number, FieldValue>) => (f.set(4, '000000000500'), f.set(63, de63(WATER))), { code: 'MISSING_FIELD', field: 63, actionCode: '904' }],
    ['function code 203', (f: Map<number, FieldValue>) => f.set(24, '203'), { code: 'UNSUPPORTED_FUNCTION', field: 24, actionCode: '902' }],
  ])('completion with %s → a typed refusal', (_name, edit, expected) => {
    expect(err(from(EXAMPLES.completion1220, edit))).toMatchObject(expected);
  });

  it('fc 200 (stand-in) is an offline batch of one, numbered by 48-4, at the station-local time of DE 12', () => {
    const m = ok(offline);
    expect(m.kind).toBe('offline');
    if (m.kind !== 'offline') return;
    expect(m.input).toEqual({
      batchNo: 'iso-0007-000131',
      sales: [
        {
          seq: 7000131,
          cardNo: '9100123456789012',
          grade: '92',
          volumeMl: 32500,
          unitPrice: 789,
          amount: 25643,
          nozzle: 2,
          occurredAt: '2026-11-28T08:20:00.000Z',
          approvalCode: '482913',
        },
      ],
    });
  });

  it.each([
    ['no approval code', (f: Map<number, FieldValue>) => f.delete(38), { code: 'MISSING_FIELD', field: 38, actionCode: '904' }],
    ['a letter approval code', (f: Map<number, FieldValue>) => f.set(38, 'A1B2C3'), { code: 'BAD_FIELD', field: 38, actionCode: '904' }],
    ['no 48-4', (f: Map<number, FieldValue>) => f.set(48, { kind: 'de48', pumpNozzle: '0302' }), { code: 'MISSING_FIELD', field: 48, subfield: 4, actionCode: '904' }],
    ['goods', (f: Map<number, FieldValue>) => (f.set(4, '000000026143'), f.set(63, de63(FUEL_92, WATER))), { code: 'UNSUPPORTED_FUNCTION', field: 63, actionCode: '902' }],
    ['no card', (f: Map<number, FieldValue>) => f.delete(35), { code: 'MISSING_FIELD', field: 35, actionCode: '904' }],
    ['a local time that is no date', (f: Map<number, FieldValue>) => f.set(12, '261331250000'), { code: 'BAD_FIELD', field: 12, actionCode: '904' }],
  ])('offline advice with %s → a typed refusal', (_name, edit, expected) => {
    expect(err(from(offline, edit))).toMatchObject(expected);
  });
});

describe('1420 / 1421 reversal → reverseByRef', () => {
  it.each([
    ['4021', 'timeout'],
    ['4000', 'customer_cancel'],
    ['4020', 'bad_response'],
    ['4351', 'other'],
  ])('reason %s → %s, naming the original by its reference', (code, reason) => {
    const m = ok(from(EXAMPLES.reversal1420, (f) => f.set(25, code)));
    expect(m.kind === 'reversal' && m).toMatchObject({ originalAmount: 30000, input: { originalRef: 'iso:000003:261128161600', reason } });
  });

  it('1421 is a repeat; a reversal of a 1200 names the sale', () => {
    const m = ok(from(EXAMPLES.reversal1420, (f) => f.set(56, '120000001026112816160000'), '1421'));
    expect(m).toMatchObject({ kind: 'reversal', repeat: true, input: { originalRef: terminalRefOf('000010', '261128161600') } });
  });

  it.each([
    ['no reason', (f: Map<number, FieldValue>) => f.delete(25), { code: 'MISSING_FIELD', field: 25, actionCode: '904' }],
    ['no DE 56', (f: Map<number, FieldValue>) => f.delete(56), { code: 'MISSING_FIELD', field: 56, actionCode: '904' }],
    ['no DE 4', (f: Map<number, FieldValue>) => f.delete(4), { code: 'MISSING_FIELD', field: 4, actionCode: '904' }],
    ['a partial reversal (401)', (f: Map<number, FieldValue>) => f.set(24, '401'), { code: 'UNSUPPORTED_FUNCTION', field: 24, actionCode: '902' }],
    ['an advice as original', (f: Map<number, FieldValue>) => f.set(56, '122000000426112816200000'), { code: 'UNSUPPORTED_FUNCTION', field: 56, actionCode: '902' }],
  ])('%s → a typed refusal', (_name, edit, expected) => {
    expect(err(from(EXAMPLES.reversal1420, edit))).toMatchObject(expected);
  });
});

describe('1520 / 1521 reconciliation → closeShift', () => {
  it('reads the ISO totals; without DE 72 there is no per-kind close input', () => {
    const m = ok(wire('1520', new Map(EXAMPLES.reconciliation1520.fields)));
    expect(m).toMatchObject({
      kind: 'reconciliation',
      final: true,
      close: null,
      totals: { credits: { count: 0, amount: 0 }, debits: { count: 2, amount: 55643 }, debitReversals: { count: 1, amount: 30000 }, net: -25643 },
    });
  });

  it('DE 72 carries the per-kind totals closeShift takes; 501 is a checkpoint; 1521 a repeat', () => {
    const declared = [
      { kind: 'online' as const, count: 1, amount: 30000 },
      { kind: 'completion' as const, count: 1, amount: 25643 },
      { kind: 'reversed' as const, count: 1, amount: 30000 },
    ];
    const m = ok(from(EXAMPLES.reconciliation1520, (f) => (f.set(72, formatDeclared(declared)), f.set(24, '501')), '1521'));
    expect(m).toMatchObject({ kind: 'reconciliation', final: false, repeat: true, close: { declared } });
  });

  it.each([
    ['a kind the platform does not count', 'online=1/100;refunds=1/5', 72],
    ['a kind twice', 'online=1/100;online=1/5', 72],
    ['no separator', 'online1/100', 72],
  ])('DE 72 with %s → BAD_FIELD 904', (_name, v, field) => {
    expect(err(from(EXAMPLES.reconciliation1520, (f) => f.set(72, v)))).toMatchObject({ code: 'BAD_FIELD', field, actionCode: '904' });
  });

  it('no totals at all, or a bad net → 904', () => {
    expect(err(from(EXAMPLES.reconciliation1520, (f) => [74, 75, 76, 77, 86, 87, 88, 89].forEach((n) => f.delete(n))))).toMatchObject({ code: 'MISSING_FIELD', actionCode: '904' });
    expect(err(from(EXAMPLES.reconciliation1520, (f) => f.set(97, 'X0000000000025643')))).toMatchObject({ code: 'BAD_FIELD', field: 97 });
  });

  it('declaredOf and formatDeclared are inverse', () => {
    expect(declaredOf(formatDeclared([{ kind: 'goods', count: 3, amount: 1500 }]))).toEqual([{ kind: 'goods', count: 3, amount: 1500 }]);
    expect(declaredOf(undefined)).toBeNull();
  });
});

describe('anything else', () => {
  it('network management and file actions are not sale messages: 902', () => {
    expect(err(wire('1804', new Map(EXAMPLES.signOn1804.fields)))).toMatchObject({ code: 'UNSUPPORTED_MESSAGE', actionCode: '902' });
    expect(err(wire('1304', new Map(EXAMPLES.fileAction1304.fields)))).toMatchObject({ code: 'UNSUPPORTED_MESSAGE', actionCode: '902' });
  });

  it('a raw (unstructured) DE 48 is a typed error, not a crash', () => {
    const m: IsoMessage = { mti: '1100', fields: new Map([...preAuth.fields, [48, Buffer.alloc(8)]]) };
    expect(err(m)).toMatchObject({ code: 'BAD_FIELD', field: 48, actionCode: '904' });
  });

  it('property: any subset of any example\'s fields maps to a request or a typed error with a known action code', () => {
    const bases = [preAuth, postPay, EXAMPLES.completion1220, offline, EXAMPLES.reversal1420, EXAMPLES.reconciliation1520];
    fc.assert(
      fc.property(fc.constantFrom(...bases), fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }), fc.constantFrom('1100', '1200', '1220', '1221', '1420', '1421', '1520', '1820'), (b, keep, mti) => {
        const fields = new Map([...b.fields].filter((_, i) => keep[i]));
        if (fields.size === 0) return;
        const r = mapRequest({ mti, fields }, CTX);
        if (!r.ok) {
          expect(isKnownActionCode(r.error.actionCode)).toBe(true);
          expect(['904', '902', '110']).toContain(r.error.actionCode);
        } else {
          expect(r.value.key.terminalRef).toMatch(/^iso:[0-9]{6}:[0-9]{12}$/);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('station local time (DE 12) → instant', () => {
  it('Asia/Shanghai is UTC+8', () => {
    expect(localTimeToIso('261128161600', 'Asia/Shanghai')).toBe('2026-11-28T08:16:00.000Z');
  });
  it('follows a daylight-saving zone on both sides of the change', () => {
    expect(localTimeToIso('260115120000', 'Europe/Berlin')).toBe('2026-01-15T11:00:00.000Z');
    expect(localTimeToIso('260715120000', 'Europe/Berlin')).toBe('2026-07-15T10:00:00.000Z');
  });
  it('refuses 29 February of a common year', () => {
    expect(() => localTimeToIso('270229120000', 'Asia/Shanghai')).toThrow(/DE 12/);
    expect(localTimeToIso('280229120000', 'UTC')).toBe('2028-02-29T12:00:00.000Z');
  });
});
