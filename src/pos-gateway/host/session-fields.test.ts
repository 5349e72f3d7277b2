import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, IFSF_PROFILE } from '../iso8583/index.js';
import { DE96_SPEC, decodeDe53, decodeDe96, encodeDe53, encodeDe96, withKeyManagement, type DeliveredKey } from './session-fields.js';

const key = (over: Partial<DeliveredKey> = {}): DeliveredKey => ({
  usage: 'tak',
  algorithm: 'tdes',
  wrapMethod: 'ecb',
  version: 2,
  encrypted: Buffer.alloc(16, 0xab),
  kcv: Buffer.from('123456', 'hex'),
  ...over,
});

describe('DE 53 key versions', () => {
  it('round-trips MAC and PIN key versions and refuses bad ones', () => {
    expect(encodeDe53({ mac: 2 }).toString('hex')).toBe('0002');
    expect(decodeDe53(encodeDe53({ mac: 258, pin: 3 }))).toEqual({ ok: true, value: { mac: 258, pin: 3 } });
    expect(() => encodeDe53({ mac: 0 })).toThrow(expect.objectContaining({ code: 'BAD_SUBFIELD' }));
    expect(decodeDe53(Buffer.from([0, 0]))).toMatchObject({ ok: false, code: 'BAD_DE53' });
    expect(decodeDe53(Buffer.from([0, 1, 2]))).toMatchObject({ ok: false, code: 'BAD_DE53' });
  });
});

describe('DE 96 key delivery', () => {
  it('round-trips TDES, AES-256 and SM4 keys and travels in a message of the extended profile', () => {
    const keys = [
      key({ usage: 'tpk' }),
      key({ usage: 'tak', algorithm: 'aes', wrapMethod: 'aes-kw', encrypted: Buffer.alloc(40, 1), version: 65535 }),
      key({ usage: 'tdk', algorithm: 'sm4' }),
    ];
    const de96 = encodeDe96(keys);
    expect(decodeDe96(de96)).toEqual({ ok: true, value: keys });
    // The IFSF profile carries DE 96 itself; withKeyManagement adds it to a profile that does not (idempotent).
    const profile = withKeyManagement(IFSF_PROFILE);
    expect(profile).toBe(IFSF_PROFILE);
    const bytes = encodeMessage({ mti: '1814', fields: new Map<number, string | Buffer>([[11, '000001'], [39, '800'], [96, de96]]) }, profile);
    const d = decodeMessage(bytes, profile);
    expect(d.ok && d.message.fields.get(96)).toEqual(de96);
    const bare = { ...IFSF_PROFILE, fields: new Map([...IFSF_PROFILE.fields].filter(([n]) => n !== 96)) };
    expect(decodeMessage(bytes, bare)).toMatchObject({ ok: false, error: { code: 'UNKNOWN_FIELD', field: 96 } });
    expect(withKeyManagement(bare).fields.get(96)).toEqual(DE96_SPEC);
  });

  it('refuses what it cannot encode', () => {
    expect(() => encodeDe96([])).toThrow(expect.objectContaining({ code: 'BAD_SUBFIELD', field: 96 }));
    expect(() => encodeDe96([key({ kcv: Buffer.alloc(2) })])).toThrow(expect.objectContaining({ code: 'BAD_SUBFIELD' }));
  });

  it('decoding any bytes returns keys or BAD_DE96, never throws', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
        const r = decodeDe96(Buffer.from(bytes));
        if (!r.ok) expect(r.code).toBe('BAD_DE96');
        else expect(encodeDe96(r.value).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 2000 },
    );
    const good = encodeDe96([key()]);
    for (let n = 0; n < good.length; n++) expect(decodeDe96(good.subarray(0, n)).ok).toBe(false);
    expect(decodeDe96(Buffer.concat([good, Buffer.from([0])]))).toMatchObject({ ok: false, code: 'BAD_DE96' });
  });
});
