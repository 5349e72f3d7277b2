import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FRAMING_LIMITS, FrameDecoder, encodeFrame, type FramingKind, type FramingMode } from './framing.js';
import { TransportError } from './errors.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Pushes `bytes` cut at the given points; returns all frames and the error, if any. */
function decodeInChunks(decoder: FrameDecoder, bytes: Buffer, cuts: number[]) {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const frames: Buffer[] = [];
  let error = null;
  let start = 0;
  for (const p of [...points, bytes.length]) {
    const r = decoder.push(bytes.subarray(start, p));
    frames.push(...r.frames);
    error = r.error;
    start = p;
  }
  return { frames, error };
}

describe('encodeFrame', () => {
  it('writes a 2-byte big-endian binary length', () => {
    expect(encodeFrame(Buffer.from('0800'), 'binary2')).toEqual(hex('0004 30383030'));
    expect(encodeFrame(Buffer.alloc(300), 'binary2').subarray(0, 2)).toEqual(hex('012c'));
  });

  it('writes a 4-digit ASCII length', () => {
    expect(encodeFrame(Buffer.from('1804'), 'ascii4')).toEqual(Buffer.from('00041804'));
    expect(encodeFrame(Buffer.alloc(1234), 'ascii4').subarray(0, 4).toString()).toBe('1234');
  });

  it('refuses empty and oversize payloads with a typed error', () => {
    expect(() => encodeFrame(Buffer.alloc(0), 'binary2')).toThrow(expect.objectContaining({ code: 'FRAME_EMPTY' }));
    expect(() => encodeFrame(Buffer.alloc(10_000), 'ascii4')).toThrow(expect.objectContaining({ code: 'FRAME_OVERSIZE' }));
    expect(() => encodeFrame(Buffer.alloc(65_536), 'binary2')).toThrow(TransportError);
    expect(() => encodeFrame(Buffer.alloc(101), 'binary2', 100)).toThrow(expect.objectContaining({ code: 'FRAME_OVERSIZE' }));
    expect(encodeFrame(Buffer.alloc(65_535), 'binary2')).toHaveLength(65_537);
  });
});

describe('FrameDecoder', () => {
  it('rejects a maximum size the framing cannot express', () => {
    expect(() => new FrameDecoder({ framing: 'auto', maxMessageSize: 0x3030 })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
    expect(() => new FrameDecoder({ framing: 'ascii4', maxMessageSize: 10_000 })).toThrow(TransportError);
    expect(() => new FrameDecoder({ framing: 'binary2', maxMessageSize: 0 })).toThrow(TransportError);
    expect(new FrameDecoder({ framing: 'auto', maxMessageSize: 0x302f }).framing).toBeNull();
  });

  it('returns several frames from one chunk and keeps a partial one', () => {
    const d = new FrameDecoder({ framing: 'binary2', maxMessageSize: 100 });
    const r = d.push(hex('0002 aabb 0001 cc 0003 dd'));
    expect(r.error).toBeNull();
    expect(r.frames).toEqual([hex('aabb'), hex('cc')]);
    expect(d.buffered).toBe(3);
    expect(d.push(hex('eeff')).frames).toEqual([hex('ddeeff')]);
    expect(d.buffered).toBe(0);
  });

  it('decodes byte by byte (header split too)', () => {
    const d = new FrameDecoder({ framing: 'ascii4', maxMessageSize: 100 });
    const bytes = Buffer.concat([encodeFrame(Buffer.from('hello'), 'ascii4'), encodeFrame(Buffer.from('x'), 'ascii4')]);
    const frames: Buffer[] = [];
    for (const b of bytes) frames.push(...d.push(Buffer.from([b])).frames);
    expect(frames.map(String)).toEqual(['hello', 'x']);
  });

  it('refuses an oversize header before the body arrives', () => {
    const d = new FrameDecoder({ framing: 'binary2', maxMessageSize: 100 });
    const r = d.push(hex('0002 aabb 0065'));
    expect(r.frames).toEqual([hex('aabb')]);
    expect(r.error).toMatchObject({ code: 'FRAME_OVERSIZE', offset: 4 });
    expect(d.buffered).toBe(0);
  });

  it('refuses non-digits in an ASCII header and zero lengths', () => {
    expect(new FrameDecoder({ framing: 'ascii4', maxMessageSize: 100 }).push(Buffer.from('00a1x')).error).toMatchObject({
      code: 'FRAME_BAD_LENGTH',
      offset: 0,
    });
    expect(new FrameDecoder({ framing: 'ascii4', maxMessageSize: 100 }).push(Buffer.from('0000')).error?.code).toBe(
      'FRAME_EMPTY',
    );
    expect(new FrameDecoder({ framing: 'binary2', maxMessageSize: 100 }).push(hex('0000')).error?.code).toBe('FRAME_EMPTY');
  });

  it('stays failed after an error', () => {
    const d = new FrameDecoder({ framing: 'binary2', maxMessageSize: 10 });
    const first = d.push(hex('ffff'));
    expect(first.error?.code).toBe('FRAME_OVERSIZE');
    expect(d.push(hex('0001 aa'))).toEqual({ frames: [], error: first.error });
  });

  it('auto: detects binary and ASCII headers from the first two bytes', () => {
    const bin = new FrameDecoder({ framing: 'auto', maxMessageSize: 0x302f });
    expect(bin.push(hex('30')).frames).toEqual([]);
    expect(bin.framing).toBeNull();
    // 0x302f = 12335 bytes: the largest binary length auto accepts; its first byte is the digit '0'.
    expect(bin.push(hex('2f')).error).toBeNull();
    expect(bin.framing).toBe('binary2');

    const ascii = new FrameDecoder({ framing: 'auto', maxMessageSize: 0x302f });
    expect(ascii.push(Buffer.from('0003abc')).frames.map(String)).toEqual(['abc']);
    expect(ascii.framing).toBe('ascii4');

    const garbage = new FrameDecoder({ framing: 'auto', maxMessageSize: 4096 });
    expect(garbage.push(Buffer.from('GET / HTTP/1.1')).error).toMatchObject({ code: 'FRAME_BAD_LENGTH' });
    // A binary length between the maximum and 0x3030 is an oversize binary frame, not ASCII.
    expect(new FrameDecoder({ framing: 'auto', maxMessageSize: 4096 }).push(hex('1001')).error?.code).toBe('FRAME_OVERSIZE');
  });

  it('property: any bytes cut anywhere give the same frames and error as one push, and never throw', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<FramingMode>('binary2', 'ascii4', 'auto'),
        fc.uint8Array({ maxLength: 300 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (framing, raw, cuts) => {
          const bytes = Buffer.from(raw);
          const whole = new FrameDecoder({ framing, maxMessageSize: 64 }).push(bytes);
          const split = decodeInChunks(new FrameDecoder({ framing, maxMessageSize: 64 }), bytes, cuts);
          expect(split.frames).toEqual(whole.frames);
          expect(split.error).toEqual(whole.error);
          for (const f of whole.frames) {
            expect(f.length).toBeGreaterThan(0);
            expect(f.length).toBeLessThanOrEqual(64);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('property: encoded payloads come back in order whatever the chunking', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<FramingKind>('binary2', 'ascii4'),
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), { maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (framing, payloads, cuts) => {
          const stream = Buffer.concat(payloads.map((p) => encodeFrame(p, framing)));
          const mode: FramingMode = cuts.length % 2 === 0 ? framing : 'auto';
          const d = new FrameDecoder({ framing: mode, maxMessageSize: 200 });
          const { frames, error } = decodeInChunks(d, stream, cuts);
          expect(error).toBeNull();
          expect(frames).toEqual(payloads.map((p) => Buffer.from(p)));
          expect(d.buffered).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps a large frame trickled one byte at a time linear (no error, one frame)', () => {
    const d = new FrameDecoder({ framing: 'binary2', maxMessageSize: FRAMING_LIMITS.binary2 });
    const payload = Buffer.alloc(20_000, 7);
    const stream = encodeFrame(payload, 'binary2');
    let frames: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) frames = frames.concat(d.push(stream.subarray(i, i + 1)).frames);
    expect(frames).toEqual([payload]);
  });
});
