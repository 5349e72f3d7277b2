import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PosCryptoError, encryptEcb, generateClearKey, hex, xor, type KeyAlgorithm } from './keys.js';
import {
  clearPinBlock0,
  decryptPinBlock,
  encipherPin,
  encryptPinBlock,
  panField0,
  panField4,
  pinDigitsFromString,
  pinField0,
  pinField4,
  type PinBlockFormat,
} from './pin.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PosCryptoError);
    return (e as PosCryptoError).code;
  }
  throw new Error('expected a PosCryptoError');
}

const digits = (s: string): Buffer => pinDigitsFromString(s);
const str = (b: Buffer): string => [...b].join('');

describe('ISO 9564-1 format 0 (KAT)', () => {
  it('ANSI X9.24-1:2009 A.4: PIN 1234, PAN 4012345678909 → clear block 041274EDCBA9876F', () => {
    // pos.md §4.6; openemv/dukpt test/dukpt_tdes_test.c.
    expect(pinField0(digits('1234')).toString('hex').toUpperCase()).toBe('041234FFFFFFFFFF');
    expect(panField0('4012345678909').toString('hex')).toBe('0000401234567890');
    expect(clearPinBlock0(digits('1234'), '4012345678909').toString('hex').toUpperCase()).toBe('041274EDCBA9876F');
  });

  it('ANSI X9.24-1:2009 A.4: encrypted under the KSN …E00001 PIN key → 1B9C1845EB993A7A, and back', () => {
    // Transaction key 042666B49184CFA368DE9628D0397BC9 (pos.md §4.6) XOR the X9.24-1 PIN variant
    // 00000000000000FF00000000000000FF gives the PIN encryption key.
    const pinKey = xor(hex('042666B49184CFA368DE9628D0397BC9'), hex('00000000000000FF00000000000000FF'));
    expect(pinKey.toString('hex').toUpperCase()).toBe('042666B49184CF5C68DE9628D0397B36');
    const block = encryptPinBlock(0, 'tdes', pinKey, digits('1234'), '4012345678909');
    expect(block.toString('hex').toUpperCase()).toBe('1B9C1845EB993A7A');
    expect(str(decryptPinBlock(0, 'tdes', pinKey, block, '4012345678909'))).toBe('1234');
  });

  it('format 0 needs a 13..19 digit PAN: shorter ones are refused, not zero-padded', () => {
    expect(codeOf(() => panField0('123456'))).toBe('PAN_INVALID');
    expect(codeOf(() => panField0('401234567890'))).toBe('PAN_INVALID');
    expect(panField0('4012345678909').toString('hex')).toBe('0000401234567890');
    expect(panField0('6228480402564890018').toString('hex')).toBe('0000040256489001');
  });
});

describe('ISO 9564-1:2017 format 4 (KAT)', () => {
  it('X9.24-3:2017 supplement p.31 (via openemv/pinblock test/pinblock_format4_test.c): PIN field 441234AAAAAAAAAA + random', () => {
    const f = pinField4(digits('1234'));
    expect(f.subarray(0, 8).toString('hex').toUpperCase()).toBe('441234AAAAAAAAAA');
    expect(f.length).toBe(16);
    expect(pinField4(digits('1234')).subarray(8).equals(f.subarray(8))).toBe(false); // random fill differs
    expect(pinField4(digits('12345')).subarray(0, 8).toString('hex').toUpperCase()).toBe('4512345AAAAAAAAA');
  });

  it('X9.24-3:2017 supplement p.31 PAN field for 4111111111111111, plus openemv hand-made 15- and 9-digit cases', () => {
    expect(panField4('4111111111111111').toString('hex')).toBe('44111111111111111000000000000000');
    expect(panField4('411111111111111').toString('hex')).toBe('34111111111111110000000000000000');
    expect(panField4('123456789').toString('hex')).toBe('00001234567890000000000000000000');
  });

  it('psec (Python) and paysec (Rust) deterministic vector: key 0011…EEFF, PIN 1234, PAN 1234567890123456789, fill FF… → 28B41FDD…', () => {
    // psec tests/test_pinblock.py test_encipher_pinblock_iso_4_det; paysec paysec-pinblock README (cross-implementation vector,
    // the ISO/X9 documents publish the fields but not an enciphered block).
    const key = hex('00112233445566778899AABBCCDDEEFF');
    const block = encryptPinBlock(4, 'aes', key, digits('1234'), '1234567890123456789', Buffer.alloc(8, 0xff));
    expect(block.toString('hex').toUpperCase()).toBe('28B41FDDD29B743E93124BD8E32D921E');
  });

  it('paysec decipher vectors (key 0011…EEFF)', () => {
    const key = hex('00112233445566778899AABBCCDDEEFF');
    const cases: Array<[string, string, string]> = [
      ['1234', '1234567890123456', '52DB178C6EDCE52E3A70F7FBC8E9C758'],
      ['123456', '123456789012345678', '847A0209C659E4C4A79CA6A2A2217D31'],
      ['12345678', '1234567890123456789', '018BFEC8B5EF60181A327AD8325A2BA4'],
    ];
    for (const [pin, pan, block] of cases) expect(str(decryptPinBlock(4, 'aes', key, hex(block), pan))).toBe(pin);
  });

  it('encipherment is AES(K, AES(K, PIN field) XOR PAN field)', () => {
    const key = generateClearKey('aes');
    const rnd = Buffer.alloc(8, 0x5a);
    const expected = encryptEcb('aes', key, xor(encryptEcb('aes', key, pinField4(digits('9876'), rnd)), panField4('6228480402564890018')));
    expect(encryptPinBlock(4, 'aes', key, digits('9876'), '6228480402564890018', rnd).equals(expected)).toBe(true);
  });
});

describe('round trips and refusals', () => {
  const combos: Array<[PinBlockFormat, KeyAlgorithm]> = [
    [0, 'tdes'],
    [4, 'aes'],
    [4, 'sm4'],
  ];

  it('property: any 4–12 digit PIN round-trips in every format/algorithm (format 0: 13–19 digit PAN, else refused)', () => {
    const keys = { tdes: generateClearKey('tdes'), aes: generateClearKey('aes', 32), sm4: generateClearKey('sm4') };
    fc.assert(
      fc.property(
        fc.constantFrom(...combos),
        fc.stringMatching(/^[0-9]{4,12}$/),
        fc.stringMatching(/^[0-9]{1,19}$/),
        ([format, alg], pin, pan) => {
          if (format === 0 && pan.length < 13) {
            expect(codeOf(() => encipherPin({ format, algorithm: alg, key: keys[alg], pin, pan }))).toBe('PAN_INVALID');
            return;
          }
          const block = encipherPin({ format, algorithm: alg, key: keys[alg], pin, pan });
          expect(block.length).toBe(format === 0 ? 8 : 16);
          expect(str(decryptPinBlock(format, alg, keys[alg], block, pan))).toBe(pin);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: arbitrary bytes as a PIN block decode to a valid PIN or a typed error, never anything else', () => {
    const keys = { tdes: generateClearKey('tdes'), aes: generateClearKey('aes'), sm4: generateClearKey('sm4') };
    fc.assert(
      fc.property(fc.constantFrom(...combos), fc.uint8Array({ maxLength: 20 }), ([format, alg], bytes) => {
        try {
          const pin = decryptPinBlock(format, alg, keys[alg], Buffer.from(bytes), '4012345678909');
          expect(pin.length).toBeGreaterThanOrEqual(4);
        } catch (e) {
          expect(e).toBeInstanceOf(PosCryptoError);
          expect(['PIN_BLOCK_LENGTH', 'PIN_BLOCK_INVALID']).toContain((e as PosCryptoError).code);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('the wrong key or a different PAN is PIN_BLOCK_INVALID', () => {
    const k = generateClearKey('aes');
    const block = encipherPin({ format: 4, algorithm: 'aes', key: k, pin: '1234', pan: '4111111111111111' });
    expect(codeOf(() => decryptPinBlock(4, 'aes', k, block, '4111111111111112'))).toBe('PIN_BLOCK_INVALID');
    expect(codeOf(() => decryptPinBlock(4, 'aes', generateClearKey('aes'), block, '4111111111111111'))).toBe('PIN_BLOCK_INVALID');
    const t = generateClearKey('tdes');
    const b0 = encipherPin({ format: 0, algorithm: 'tdes', key: t, pin: '1234', pan: '4012345678909' });
    // A change in the last PAN digits lands on the F fill of a 4-digit PIN.
    expect(codeOf(() => decryptPinBlock(0, 'tdes', t, b0, '4012345678999'))).toBe('PIN_BLOCK_INVALID');
  });

  it('format/algorithm mismatches, bad PINs and PANs are typed errors', () => {
    const k = generateClearKey('aes');
    expect(codeOf(() => encipherPin({ format: 0, algorithm: 'aes', key: k, pin: '1234', pan: '4111111111111111' }))).toBe(
      'PIN_BLOCK_FORMAT',
    );
    expect(codeOf(() => decryptPinBlock(4, 'tdes', generateClearKey('tdes'), Buffer.alloc(16), '4111'))).toBe('PIN_BLOCK_FORMAT');
    expect(codeOf(() => pinDigitsFromString('123'))).toBe('PIN_INVALID');
    expect(codeOf(() => pinDigitsFromString('1234567890123'))).toBe('PIN_INVALID');
    expect(codeOf(() => pinDigitsFromString('12a4'))).toBe('PIN_INVALID');
    expect(codeOf(() => pinField0(Buffer.from([1, 2, 3, 10])))).toBe('PIN_INVALID');
    expect(codeOf(() => panField4(''))).toBe('PAN_INVALID');
    expect(codeOf(() => panField4('12345678901234567890'))).toBe('PAN_INVALID');
    expect(codeOf(() => panField0('4111-1111'))).toBe('PAN_INVALID');
    expect(codeOf(() => decryptPinBlock(4, 'aes', k, Buffer.alloc(8), '4111'))).toBe('PIN_BLOCK_LENGTH');
    expect(codeOf(() => pinField4(digits('1234'), Buffer.alloc(7)))).toBe('DATA_LENGTH');
  });

  it('a clear block with a bad control nibble, length or fill is refused', () => {
    const k = generateClearKey('tdes');
    const pan = '4012345678909';
    const bad = (clearHex: string): string =>
      codeOf(() => decryptPinBlock(0, 'tdes', k, encryptEcb('tdes', k, xor(hex(clearHex), panField0(pan))), pan));
    expect(bad('141234FFFFFFFFFF')).toBe('PIN_BLOCK_INVALID'); // format 1 control nibble
    expect(bad('031234FFFFFFFFFF')).toBe('PIN_BLOCK_INVALID'); // length 3
    expect(bad('0D1234FFFFFFFFFF')).toBe('PIN_BLOCK_INVALID'); // length 13
    expect(bad('04123AFFFFFFFFFF')).toBe('PIN_BLOCK_INVALID'); // non-digit
    expect(bad('041234FFFFFFFFFE')).toBe('PIN_BLOCK_INVALID'); // fill
    expect(str(decryptPinBlock(0, 'tdes', k, encryptEcb('tdes', k, xor(hex('0C123456789012FF'), panField0(pan))), pan))).toBe(
      '123456789012',
    );
  });
});
