import { describe, expect, it } from 'vitest';
import {
  EXAMPLES,
  IFSF_BCD_PROFILE,
  IFSF_PROFILE,
  IsoEncodeError,
  applyMac,
  decodeMessage,
  defineProfile,
  encodeMessage,
  encodeWithMac,
  formatOriginalData,
  macData,
  maskMessage,
  parseOriginalData,
  prepareMac,
  responseMti,
  type De48Value,
  type FieldValue,
  type IsoMessage,
} from './index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const ascii = (s: string): string => Buffer.from(s, 'latin1').toString('hex');
const msg = (mti: string, fields: Array<[number, FieldValue]>): IsoMessage => ({ mti, fields: new Map(fields) });

function encodeError(m: IsoMessage, profile = IFSF_PROFILE): IsoEncodeError {
  try {
    encodeMessage(m, profile);
  } catch (e) {
    expect(e).toBeInstanceOf(IsoEncodeError);
    return e as IsoEncodeError;
  }
  throw new Error('expected encodeMessage to throw');
}

function decodeError(bytes: Buffer, profile = IFSF_PROFILE) {
  const r = decodeMessage(bytes, profile);
  if (r.ok) throw new Error('expected a decode error');
  return r.error;
}

describe('1820 echo, byte for byte', () => {
  // Layout of the PayEx IFSF H2H 1820 example (pos.md §1.2): ASCII MTI, binary bitmap, DE 7,
  // DE 11, DE 12, DE 24 "831", DE 33 with an ASCII LL prefix, then the MAC in DE 64.
  const expected = hex(
    ascii('1820') +
      '0230010080000001' +
      ascii('1128081530') +
      ascii('000001') +
      ascii('261128161530') +
      ascii('831') +
      ascii('05') +
      ascii('12345') +
      '0000000000000000',
  );

  it('encodes to the documented bytes', () => {
    expect(encodeMessage(EXAMPLES.echo1820)).toEqual(expected);
  });

  it('decodes back to the same fields', () => {
    const r = decodeMessage(expected);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.message.mti).toBe('1820');
    expect([...r.message.fields.keys()]).toEqual([7, 11, 12, 24, 33, 64]);
    expect(r.message.fields.get(24)).toBe('831');
    expect(r.message.fields.get(33)).toBe('12345');
  });

  it('BCD profile packs MTI, numerics and lengths', () => {
    const bytes = encodeMessage(EXAMPLES.echo1820, IFSF_BCD_PROFILE);
    expect(bytes).toEqual(hex('1820 0230010080000001 1128081530 000001 261128161530 0831 05 012345 0000000000000000'));
    const r = decodeMessage(bytes, IFSF_BCD_PROFILE);
    expect(r.ok && r.message.fields.get(33)).toBe('12345');
    expect(r.ok && r.message.fields.get(24)).toBe('831');
  });
});

describe('every example message round-trips', () => {
  for (const [name, m] of Object.entries(EXAMPLES)) {
    for (const profile of [IFSF_PROFILE, IFSF_BCD_PROFILE]) {
      it(`${name} (${profile.name})`, () => {
        const bytes = encodeMessage(m, profile);
        const r = decodeMessage(bytes, profile);
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(r.message.mti).toBe(m.mti);
        expect(r.message.fields).toEqual(m.fields);
        expect(encodeMessage(r.message, profile)).toEqual(bytes);
      });
    }
  }
});

describe('DE 48 and DE 63 structure', () => {
  it('DE 48 has its own bitmap and named sub-elements', () => {
    const bytes = encodeMessage(msg('1100', [[48, { kind: 'de48', batchSequence: '0007000123', pinMethod: '01' }]]));
    // MTI, bitmap with only bit 48, LLL "030", 48-0 bitmap (bits 4 and 14), 48-4 n10, 48-14 n2.
    expect(bytes).toEqual(hex(ascii('1100') + '0000000000010000' + ascii('020') + '1004000000000000' + ascii('0007000123') + ascii('01')));
  });

  it('48-8 customer data carries the prompts', () => {
    const r = decodeMessage(encodeMessage(EXAMPLES.preAuth1100));
    const de48 = r.ok ? (r.message.fields.get(48) as De48Value) : null;
    expect(de48?.customerData).toEqual({ driverId: 'D042', vehicleId: 'ZheA12345', odometer: '123456' });
    expect(de48?.pumpNozzle).toBe('0302');
  });

  it('a profile without structure keeps DE 48 and DE 63 raw, and re-encodes them identically', () => {
    const raw = defineProfile({ name: 'raw', structured: false });
    const bytes = encodeMessage(EXAMPLES.completion1220);
    const r = decodeMessage(bytes, raw);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(Buffer.isBuffer(r.message.fields.get(48))).toBe(true);
    expect(r.message.fields.get(63)).toBe('S0192\\L\\23250\\0789\\25643\\13\\\\');
    expect(encodeMessage(r.message, raw)).toEqual(bytes);
  });

  it('rejects a bad 48-8 prompt and a malformed DE 63 with the field and sub-element', () => {
    expect(encodeError(msg('1100', [[48, { kind: 'de48', customerData: { odometer: '12a' } }]]))).toMatchObject({ code: 'BAD_SUBFIELD', field: 48, subfield: 8 });
    const badLines = msg('1220', [[63, 'S02' + '92\\L\\23250\\0789\\25643\\13\\\\']]);
    expect(decodeError(encodeMessage(badLines))).toMatchObject({ code: 'BAD_SUBFIELD', field: 63, subfield: 2, mti: '1220' });
    expect(decodeError(encodeMessage(msg('1220', [[63, 'S01' + '92\\L\\93250\\0789\\25643\\13\\\\']])))).toMatchObject({ code: 'BAD_SUBFIELD', field: 63, subfield: 1 });
    expect(decodeError(encodeMessage(msg('1220', [[63, 'S0192\\L\\23250\\0789\\25643\\13\\\\xx']])))).toMatchObject({ code: 'BAD_SUBFIELD', field: 63 });
  });

  it('rejects unknown or malformed DE 48 sub-elements', () => {
    const withBits = (bitmap: string, rest: string) => msg('1100', [[48, hex(bitmap + rest)]]);
    expect(decodeError(encodeMessage(withBits('0200000000000000', '')))).toMatchObject({ code: 'UNKNOWN_SUBFIELD', field: 48, subfield: 7 });
    expect(decodeError(encodeMessage(withBits('8000000000000000', '')))).toMatchObject({ code: 'BAD_BITMAP', field: 48 });
    expect(decodeError(encodeMessage(withBits('1000000000000000', ascii('00070001'))))).toMatchObject({ code: 'TRUNCATED', field: 48, subfield: 4 });
    expect(decodeError(encodeMessage(withBits('1000000000000000', ascii('0007000123X'))))).toMatchObject({ code: 'TRAILING_BYTES', field: 48 });
    expect(decodeError(encodeMessage(msg('1100', [[48, hex('1000')]])))).toMatchObject({ code: 'TRUNCATED', field: 48 });
    expect(encodeError(msg('1100', [[48, { kind: 'de48', other: new Map([[50, 'x']]) }]]))).toMatchObject({ code: 'UNKNOWN_SUBFIELD', subfield: 50 });
  });
});

describe('encode errors are typed', () => {
  it.each([
    ['BAD_MTI', msg('11a0', [[11, '000001']]), undefined],
    ['UNKNOWN_FIELD', msg('1100', [[5, '000000000001']]), 5],
    ['UNKNOWN_FIELD', msg('1100', [[65, Buffer.alloc(8)]]), 65],
    ['BAD_LENGTH', msg('1100', [[11, '12345']]), 11],
    ['BAD_LENGTH', msg('1100', [[2, '1'.repeat(20)]]), 2],
    ['BAD_CHARSET', msg('1100', [[4, '00000000010A']]), 4],
    ['BAD_CHARSET', msg('1100', [[41, 'TERM\u00e91']]), 41],
    ['BAD_TYPE', msg('1100', [[52, '1B9C1845EB993A7A']]), 52],
    ['BAD_TYPE', msg('1100', [[11, Buffer.from('000001')]]), 11],
    ['MAC_POSITION', msg('1520', [[74, '0000000001'], [64, Buffer.alloc(8)]]), 64],
  ] as const)('%s', (code, m, field) => {
    const e = encodeError(m);
    expect(e.code).toBe(code);
    expect(e.field).toBe(field);
  });

  it('TOO_LARGE past the profile maximum', () => {
    const small = defineProfile({ name: 'small', maxMessageBytes: 64 });
    expect(encodeError(msg('1100', [[59, 'x'.repeat(100)]]), small).code).toBe('TOO_LARGE');
  });
});

describe('decode errors are typed, with field and offset', () => {
  const good = encodeMessage(EXAMPLES.echo1820);

  it('empty, short and too large inputs', () => {
    expect(decodeError(Buffer.alloc(0)).code).toBe('EMPTY');
    expect(decodeError(good.subarray(0, 3)).code).toBe('TRUNCATED');
    expect(decodeError(good.subarray(0, 10))).toMatchObject({ code: 'TRUNCATED', offset: 4, mti: '1820' });
    expect(decodeError(Buffer.alloc(IFSF_PROFILE.maxMessageBytes + 1, 0x31)).code).toBe('TOO_LARGE');
  });

  it('every truncation of a valid message is TRUNCATED, never a throw', () => {
    for (let n = 1; n < good.length; n++) expect(decodeError(good.subarray(0, n)).code).toBe('TRUNCATED');
  });

  it('bad MTI, bad bitmap, unknown field', () => {
    expect(decodeError(Buffer.concat([Buffer.from('18X0'), good.subarray(4)])).code).toBe('BAD_MTI');
    expect(decodeError(hex(ascii('1820') + '0000000000000000')).code).toBe('BAD_BITMAP');
    expect(decodeError(hex(ascii('1820') + '8000000000000000' + '0000000000000000'))).toMatchObject({ code: 'BAD_BITMAP', field: 1 });
    expect(decodeError(hex(ascii('1820') + '8000000000000000' + '8000000000000000'))).toMatchObject({ code: 'BAD_BITMAP', field: 65 });
    expect(decodeError(hex(ascii('1820') + '0800000000000000' + ascii('000000000001')))).toMatchObject({ code: 'UNKNOWN_FIELD', field: 5, offset: 12 });
  });

  it('a MAC in DE 64 beside a secondary bitmap is refused', () => {
    const bytes = hex(ascii('1520') + '8000000000000001' + '0004000000000000' + '0000000000000000' + ascii('0000000001'));
    expect(decodeError(bytes)).toMatchObject({ code: 'MAC_POSITION', field: 64 });
    // macData never picks a MAC out of such a message either.
    expect(macData(bytes)).toMatchObject({ ok: false, error: { code: 'MAC_POSITION' } });
  });

  it('DE 64 together with DE 128 is refused by decode and macData, and never encoded', () => {
    // Bitmaps: primary with bit 1 (secondary) and bit 64, secondary with bit 128 only.
    const bytes = hex(ascii('1820') + '8000000000000001' + '0000000000000001' + '0000000000000000' + '1111111111111111');
    expect(decodeError(bytes)).toMatchObject({ code: 'MAC_POSITION', field: 64 });
    expect(macData(bytes)).toMatchObject({ ok: false, error: { code: 'MAC_POSITION' } });
    expect(encodeError(msg('1820', [[64, Buffer.alloc(8)], [128, Buffer.alloc(8)]]))).toMatchObject({ code: 'MAC_POSITION', field: 64 });
  });

  it('bad length prefixes and content', () => {
    const ll = (prefix: string) => hex(ascii('1820') + '0000000080000000' + ascii(prefix) + ascii('12345'));
    expect(decodeError(ll('0a'))).toMatchObject({ code: 'BAD_LENGTH', field: 33, offset: 12 });
    expect(decodeError(ll('12'))).toMatchObject({ code: 'BAD_LENGTH', field: 33 }); // n..11
    expect(decodeError(ll('06'))).toMatchObject({ code: 'TRUNCATED', field: 33 });
    expect(decodeError(ll('04'))).toMatchObject({ code: 'TRAILING_BYTES', offset: 18 });
    expect(decodeError(hex(ascii('1820') + '0000000080000000' + ascii('05') + ascii('12 45')))).toMatchObject({ code: 'BAD_CHARSET', field: 33, offset: 14 });
  });

  it('BCD: non-decimal nibbles and a wrong pad nibble are refused', () => {
    expect(decodeError(hex('1820 0020000000000000 00000A'), IFSF_BCD_PROFILE)).toMatchObject({ code: 'BAD_CHARSET', field: 11 });
    expect(decodeError(hex('1820 0000000080000000 05 112345'), IFSF_BCD_PROFILE)).toMatchObject({ code: 'BAD_CHARSET', field: 33 });
    expect(decodeError(hex('1820 0000000080000000 0A 012345'), IFSF_BCD_PROFILE)).toMatchObject({ code: 'BAD_LENGTH', field: 33 });
    expect(decodeError(hex('18A0 0000000080000000'), IFSF_BCD_PROFILE).code).toBe('BAD_MTI');
  });

  it('BCD z (track 2) keeps the separator and pads odd lengths with F', () => {
    const m = msg('1100', [[35, '9100123456789012=3012']]);
    const bytes = encodeMessage(m, IFSF_BCD_PROFILE);
    expect(bytes.subarray(10).toString('hex').toUpperCase()).toBe('219100123456789012D3012F');
    const r = decodeMessage(bytes, IFSF_BCD_PROFILE);
    expect(r.ok && r.message.fields.get(35)).toBe('9100123456789012=3012');
  });

  it('accepts a plain Uint8Array and refuses a non-byte input', () => {
    expect(decodeMessage(new Uint8Array(good)).ok).toBe(true);
    expect(decodeMessage('1820' as unknown as Uint8Array)).toMatchObject({ ok: false, error: { code: 'BAD_TYPE' } });
  });
});

describe('MAC placement', () => {
  const fakeMac = (data: Buffer) => Buffer.from(data.toString('hex').slice(0, 32), 'hex'); // 16 bytes, deterministic

  it('macData is everything before DE 64 and returns the MAC', () => {
    const bytes = encodeWithMac(EXAMPLES.echo1820, fakeMac);
    const m = macData(bytes);
    expect(m.ok).toBe(true);
    if (!m.ok) return;
    expect(m.macField).toBe(64);
    expect(m.data).toEqual(bytes.subarray(0, bytes.length - 8));
    expect(m.mac).toEqual(fakeMac(m.data).subarray(0, 8));
  });

  it('with fields above 64 the MAC goes in DE 128 and DE 64 is dropped', () => {
    const m = msg('1520', [...EXAMPLES.reconciliation1520.fields].filter(([n]) => n !== 128).concat([[64, Buffer.alloc(8)]]));
    const p = prepareMac(m);
    expect(p.macField).toBe(128);
    const signed = applyMac(p.bytes, Buffer.alloc(8, 0xab));
    const d = macData(signed);
    expect(d.ok && d.macField).toBe(128);
    expect(d.ok && d.mac).toEqual(Buffer.alloc(8, 0xab));
    expect(d.ok && d.data).toEqual(p.data);
  });

  it('a message without a MAC field: data is the whole message, mac null', () => {
    const bytes = encodeMessage(msg('1820', [[11, '000001'], [24, '831']]));
    expect(macData(bytes)).toEqual({ ok: true, data: bytes, mac: null, macField: null });
  });

  it('macData of garbage is a typed error', () => {
    expect(macData(Buffer.from('garbage'))).toMatchObject({ ok: false, error: { code: 'BAD_MTI' } });
  });

  it('applyMac refuses a short MAC', () => {
    expect(() => applyMac(encodeMessage(EXAMPLES.echo1820), Buffer.alloc(4))).toThrow(IsoEncodeError);
  });
});

describe('helpers', () => {
  it('response MTIs, repeats included', () => {
    expect(responseMti('1100')).toBe('1110');
    expect(responseMti('1221')).toBe('1230');
    expect(responseMti('1421')).toBe('1430');
    expect(responseMti('1820')).toBe('1830');
    expect(responseMti('1110')).toBeNull();
  });

  it('DE 56 original data elements', () => {
    const o = { mti: '1100', stan: '000003', localDateTime: '261128161600', acquirerId: '12345' };
    expect(formatOriginalData(o)).toBe('11000000032611281616000512345');
    expect(parseOriginalData(formatOriginalData(o))).toEqual({ ok: true, value: o });
    expect(parseOriginalData('110000000326112816160000')).toEqual({ ok: true, value: { ...o, acquirerId: '' } });
    expect(parseOriginalData('1100000003261128161600')).toEqual({ ok: true, value: { ...o, acquirerId: '' } });
    expect(parseOriginalData('11000000032611281616000612345')).toMatchObject({ ok: false, code: 'BAD_SUBFIELD' });
  });

  it('maskMessage hides PAN, track data, PIN block and MAC', () => {
    const m = msg('1100', [...EXAMPLES.preAuth1100.fields, [2, '9100123456789012']]);
    const shown = JSON.stringify(maskMessage(m));
    expect(shown).toContain('910012******9012');
    expect(shown).not.toContain('9100123456789012');
    expect(shown).not.toContain('3012"');
    expect(shown).not.toContain('1b9c');
    expect(maskMessage(m).fields[52]).toBe('[8 bytes]');
  });
});

describe('amount helpers', () => {
  it('n12 both ways', async () => {
    const { formatAmount, parseAmount, IsoEncodeError: E } = await import('./index.js');
    expect(formatAmount(25643)).toBe('000000025643');
    expect(parseAmount('000000025643')).toEqual({ ok: true, value: 25643 });
    expect(parseAmount('25643')).toMatchObject({ ok: false, code: 'BAD_SUBFIELD' });
    expect(() => formatAmount(-1)).toThrow(E);
    expect(() => formatAmount(1e12)).toThrow(E);
  });
});

describe('docs/pos-iso8583.md', () => {
  it('shows the exact hex of every example message', async () => {
    const { readFile } = await import('node:fs/promises');
    const doc = await readFile(new URL('../../../docs/pos-iso8583.md', import.meta.url), 'utf8');
    for (const [name, m] of Object.entries(EXAMPLES)) {
      const wrapped = encodeMessage(m).toString('hex').toUpperCase().replace(/(.{64})/g, '$1\n').trim();
      expect(doc, name).toContain(`#### ${name} (`);
      expect(doc, name).toContain(wrapped);
    }
  });
});
