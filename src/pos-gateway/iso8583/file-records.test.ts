import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IsoEncodeError } from './errors.js';
import {
  decodeFilePage,
  encodeFilePage,
  encodeFileRequest,
  parseFileRequest,
  RECORD_CHARS,
  recordsPerField,
  REQUEST_RECORD_CHARS,
  RESPONSE_HEADER_CHARS,
} from './file-records.js';

const pan = fc.stringMatching(/^[0-9]{19}$/);
const version = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });

describe('file action records (docs/pos-file-actions.md)', () => {
  it('the request record: first page, continuation, and the layout in the docs', () => {
    expect(encodeFileRequest({ held: 0 })).toBe('0'.repeat(19) + ' ' + '0'.repeat(19) + ' '.repeat(19));
    expect(REQUEST_RECORD_CHARS).toBe(58);
    const c = encodeFileRequest({ held: 812345, continuation: { mode: 'D', version: 812399, after: '9100000000000000018' } });
    expect(c).toBe('0000000000000812345D00000000000008123999100000000000000018');
    expect(parseFileRequest(c)).toEqual({ ok: true, value: { held: 812345, continuation: { mode: 'D', version: 812399, after: '9100000000000000018' } } });
    expect(parseFileRequest(undefined)).toEqual({ ok: true, value: { held: 0 } });
  });

  it('refuses a bad request record with a typed code', () => {
    expect(parseFileRequest('123')).toMatchObject({ ok: false, code: 'BAD_LENGTH' });
    expect(parseFileRequest('9'.repeat(19) + ' ' + '0'.repeat(19) + ' '.repeat(19))).toMatchObject({ ok: false, code: 'BAD_VERSION' });
    expect(parseFileRequest('0'.repeat(19) + 'F' + '0'.repeat(19) + '1'.repeat(19))).toMatchObject({ ok: false, code: 'BAD_CONTINUATION' });
    expect(parseFileRequest('0'.repeat(19) + 'F' + '0'.repeat(18) + '1' + ' '.repeat(19))).toMatchObject({ ok: false, code: 'BAD_CONTINUATION' });
    // A first page carries no marker.
    expect(parseFileRequest('0'.repeat(19) + ' ' + '0'.repeat(19) + '1'.repeat(19))).toMatchObject({ ok: false, code: 'BAD_CONTINUATION' });
  });

  it('whatever DE 72 a terminal sends, parsing returns a value or a typed error, never throws', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.string({ minLength: 58, maxLength: 58 }), fc.constant(undefined)), (s) => {
        const r = parseFileRequest(s);
        if (r.ok) expect(parseFileRequest(encodeFileRequest(r.value))).toEqual(r);
        else expect(['BAD_LENGTH', 'BAD_VERSION', 'BAD_CONTINUATION']).toContain(r.code);
      }),
    );
  });

  it('a hot-list page round-trips and names its last key', () => {
    fc.assert(
      fc.property(version, fc.boolean(), fc.array(fc.record({ op: fc.constantFrom('A' as const, 'R' as const), cardNo: pan }), { maxLength: 47 }), (v, more, records) => {
        const de72 = encodeFilePage('HOTLIST', { mode: 'D', version: v, more, records });
        expect(de72.length).toBe(RESPONSE_HEADER_CHARS + records.length * RECORD_CHARS.HOTLIST);
        expect(de72.length).toBeLessThanOrEqual(999);
        const d = decodeFilePage('HOTLIST', de72);
        expect(d).toEqual({ ok: true, value: { mode: 'D', version: v, more, records, nextKey: records.at(-1)?.cardNo ?? '' } });
      }),
    );
  });

  it('the documented example pages', () => {
    expect(encodeFilePage('HOTLIST', { mode: 'F', version: 812399, more: true, records: [{ op: 'A', cardNo: '9100000000000000018' }] })).toBe(
      'F0000000000000812399Y0019100000000000000018A9100000000000000018',
    );
    const at = new Date('2026-11-28T16:00:00Z');
    expect(encodeFilePage('PRICES', { mode: 'F', version: 7, more: false, records: [{ grade: '95#', unitPrice: 793, next: { unitPrice: 805, effectiveFrom: at } }] })).toBe(
      'F0000000000000000007N001' + '95#'.padEnd(19) + '95#'.padEnd(16) + '000793' + '000805' + '20261128160000',
    );
    expect(encodeFilePage('PARAMS', { mode: 'U', version: 7, more: false, records: [] })).toBe('U0000000000000000007N000' + ' '.repeat(19));
  });

  it('per-file page sizes under DE 72 (999)', () => {
    expect({
      HOTLIST: recordsPerField('HOTLIST', 999),
      WHITELIST: recordsPerField('WHITELIST', 999),
      PRICES: recordsPerField('PRICES', 999),
      PARAMS: recordsPerField('PARAMS', 999),
    }).toEqual({ HOTLIST: 47, WHITELIST: 23, PRICES: 22, PARAMS: 19 });
  });

  it('whitelist, prices and params records round-trip; a bad host value throws IsoEncodeError', () => {
    const w = { op: 'A' as const, cardNo: '9100000000000000018', floorSale: 30000, floorDay: 90000 };
    expect(decodeFilePage('WHITELIST', encodeFilePage('WHITELIST', { mode: 'F', version: 3, more: false, records: [w] }))).toMatchObject({ ok: true, value: { records: [w] } });
    const p = { grade: '-10#', unitPrice: 0, next: null };
    expect(decodeFilePage('PRICES', encodeFilePage('PRICES', { mode: 'F', version: 3, more: false, records: [p] }))).toMatchObject({ ok: true, value: { records: [p] } });
    const q = { name: 'TIMEZONE', value: 'Asia/Shanghai' };
    expect(decodeFilePage('PARAMS', encodeFilePage('PARAMS', { mode: 'F', version: 3, more: false, records: [q] }))).toMatchObject({ ok: true, value: { records: [q] } });
    expect(() => encodeFilePage('PRICES', { mode: 'F', version: 3, more: false, records: [{ grade: '95#', unitPrice: 1_000_000, next: null }] })).toThrow(IsoEncodeError);
    expect(() => encodeFilePage('PARAMS', { mode: 'F', version: 3, more: false, records: [{ name: '时区', value: '' }] })).toThrow(IsoEncodeError);
    expect(decodeFilePage('HOTLIST', 'F0000000000000000001N002' + ' '.repeat(19) + 'A1')).toMatchObject({ ok: false });
  });
});
