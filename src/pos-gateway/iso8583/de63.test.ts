import { describe, expect, it } from 'vitest';
import { checkProductLines, decodeDe63, encodeDe63, IsoEncodeError, lineValue, type De63Value, type ProductLine } from './index.js';

const line = (amount: number, extra: Partial<ProductLine> = {}): ProductLine => ({
  productCode: '92',
  unit: 'L',
  quantity: { scale: 2, value: 3250 }, // 32.50 L
  unitPrice: { scale: 0, value: 789 }, // 789 fen per litre
  amount,
  taxCode: '13',
  additionalCode: '',
  ...extra,
});
const de63 = (...lines: ProductLine[]): De63Value => ({ kind: 'de63', serviceLevel: 'S', lines });

describe('DE 63 product lines', () => {
  it('layout: service level, count, then 7 fields each terminated by a backslash', () => {
    const s = encodeDe63(de63(line(25643), line(-500, { productCode: 'LUB1', unit: 'U', quantity: { scale: 0, value: 1 }, unitPrice: { scale: 0, value: 500 }, additionalCode: 'REFUND' })));
    expect(s).toBe('S02' + '92\\L\\23250\\0789\\25643\\13\\\\' + 'LUB1\\U\\01\\0500\\-500\\13\\REFUND\\');
    expect(decodeDe63(s)).toEqual({ ok: true, value: de63(line(25643), line(-500, { productCode: 'LUB1', unit: 'U', quantity: { scale: 0, value: 1 }, unitPrice: { scale: 0, value: 500 }, additionalCode: 'REFUND' })) });
  });

  it('accepts leading zeros on decode and writes the canonical form', () => {
    const d = decodeDe63('S0192\\L\\2003250\\00789\\0025643\\13\\\\');
    expect(d.ok && d.value.lines[0]).toEqual(line(25643));
    expect(d.ok && encodeDe63(d.value)).toBe('S0192\\L\\23250\\0789\\25643\\13\\\\');
  });

  it('refuses 0 or more than 18 lines, bad scales and backslashes in values', () => {
    expect(() => encodeDe63(de63())).toThrow(IsoEncodeError);
    expect(() => encodeDe63(de63(...Array.from({ length: 19 }, () => line(1))))).toThrow(/1\.\.18/);
    expect(() => encodeDe63(de63(line(1, { quantity: { scale: 5, value: 1 } })))).toThrow(IsoEncodeError);
    expect(() => encodeDe63(de63(line(1, { additionalCode: 'a\\b' })))).toThrow(IsoEncodeError);
    expect(() => encodeDe63(de63(line(1.5)))).toThrow(IsoEncodeError);
    expect(decodeDe63('S00')).toMatchObject({ ok: false, at: 1 });
    expect(decodeDe63('S19')).toMatchObject({ ok: false });
    expect(decodeDe63('s01')).toMatchObject({ ok: false, at: 0 });
    expect(decodeDe63('S0192\\L\\23250\\0789')).toMatchObject({ ok: false, line: 1 });
  });
});

describe('checkProductLines', () => {
  it('lines that add up to DE 4 pass', () => {
    expect(checkProductLines('000000025143', de63(line(25643), line(-500)))).toEqual({ ok: true, total: 25143 });
    expect(checkProductLines(25643, de63(line(25643)))).toEqual({ ok: true, total: 25643 });
  });

  it('a sum that differs from DE 4 is LINES_SUM_MISMATCH', () => {
    expect(checkProductLines('000000025644', de63(line(25643)))).toMatchObject({ ok: false, code: 'LINES_SUM_MISMATCH', expected: 25644, actual: 25643 });
  });

  it('DE 4 that is not an amount is BAD_AMOUNT', () => {
    expect(checkProductLines('12x', de63(line(1)))).toMatchObject({ ok: false, code: 'BAD_AMOUNT' });
    expect(checkProductLines(-1, de63(line(1)))).toMatchObject({ ok: false, code: 'BAD_AMOUNT' });
  });

  it('optionally checks each line against quantity × unit price (rounded half up)', () => {
    // 32.50 L × 789 fen/L = 25642.5 fen → 25643
    expect(lineValue(line(0))).toBe(25643);
    expect(checkProductLines(25643, de63(line(25643)), { lineTolerance: 0 }).ok).toBe(true);
    expect(checkProductLines(25642, de63(line(25642)), { lineTolerance: 0 })).toMatchObject({ ok: false, code: 'LINE_AMOUNT_MISMATCH', line: 1, expected: 25643 });
    expect(checkProductLines(25642, de63(line(25642)), { lineTolerance: 1 }).ok).toBe(true);
  });
});
