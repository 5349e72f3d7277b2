/** 8-byte binary bitmaps; bit 1 is the most significant bit of the first byte. */

export function writeBitmap(bits: Iterable<number>, base: number): Buffer {
  const out = Buffer.alloc(8);
  for (const n of bits) {
    const bit = n - base;
    if (bit >= 1 && bit <= 64) out[(bit - 1) >> 3]! |= 0x80 >> ((bit - 1) & 7);
  }
  return out;
}

/** Set bit numbers (base + 1 .. base + 64) in ascending order. */
export function readBitmap(bytes: Buffer, base: number): number[] {
  const bits: number[] = [];
  for (let i = 0; i < 8; i++) {
    const b = bytes[i]!;
    if (b === 0) continue;
    for (let j = 0; j < 8; j++) if (b & (0x80 >> j)) bits.push(base + i * 8 + j + 1);
  }
  return bits;
}
