import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateCardNo, isValidCardNo, luhnCheckDigit } from './card.numbers.js';

describe('Luhn check digit', () => {
  it.each([
    // Published examples: the payload and the check digit that completes it.
    ['7992739871', 3],
    ['411111111111111', 1],
    ['555555555555444', 4],
    ['37828224631000', 5],
    ['0', 0],
    ['', 0],
  ])('of %s is %i', (payload, digit) => {
    expect(luhnCheckDigit(payload)).toBe(digit);
  });

  it('catches every single-digit error and every adjacent transposition (except 09/90)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{18}$/), fc.nat(17), fc.integer({ min: 1, max: 9 }), (payload, pos, delta) => {
        const cardNo = payload + String(luhnCheckDigit(payload));
        expect(isValidCardNo(cardNo)).toBe(true);
        const digits = [...cardNo];
        digits[pos] = String((Number(digits[pos]) + delta) % 10);
        expect(isValidCardNo(digits.join(''))).toBe(false);
        const swapped = [...cardNo];
        const [a, b] = [swapped[pos]!, swapped[pos + 1]!];
        if (a !== b && !((a === '0' && b === '9') || (a === '9' && b === '0'))) {
          [swapped[pos], swapped[pos + 1]] = [b, a];
          expect(isValidCardNo(swapped.join(''))).toBe(false);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('card numbers', () => {
  it('are 19 digits: the issuer prefix, a random body and a Luhn check digit', () => {
    const seen = new Set<string>();
    for (const prefix of ['900001', '6214830', '88889999']) {
      for (let i = 0; i < 200; i++) {
        const no = generateCardNo(prefix);
        expect(no).toMatch(/^\d{19}$/);
        expect(no.startsWith(prefix)).toBe(true);
        expect(isValidCardNo(no)).toBe(true);
        expect(Number(no.at(-1))).toBe(luhnCheckDigit(no.slice(0, 18)));
        seen.add(no);
      }
    }
    expect(seen.size).toBe(600);
  });

  it('refuses anything that is not 19 digits with a correct check digit', () => {
    const good = generateCardNo('900001');
    const wrongDigit = good.slice(0, 18) + String((Number(good.at(-1)) + 1) % 10);
    for (const bad of [wrongDigit, good.slice(0, 18), `${good}0`, `${good.slice(0, 18)}x`, '', ` ${good.slice(1)}`]) {
      expect(isValidCardNo(bad), bad).toBe(false);
    }
  });
});
