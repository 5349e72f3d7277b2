/**
 * Field specifications and profiles. A profile is the whole wire contract with a terminal
 * family: how numerics and length prefixes are encoded and which data elements exist.
 * The default profile follows the public IFSF material (PayEx H2H, iso8583.info): ASCII
 * MTI, binary bitmaps, ASCII numerics and ASCII LL/LLL prefixes. docs/pos-iso8583.md
 * documents every field.
 */

/**
 * Content formats of ISO 8583:
 * n numeric, an alphanumeric, anp alphanumeric and space, ans printable ASCII,
 * ns numeric and special, z track-2 code set (0x30–0x3F, '=' separator), b binary.
 */
export type FieldFormat = 'n' | 'an' | 'anp' | 'ans' | 'ns' | 'z' | 'b';
export type LengthKind = 'fixed' | 'LL' | 'LLL';
export type Encoding = 'ascii' | 'bcd';

export interface FieldSpec {
  readonly name: string;
  readonly format: FieldFormat;
  readonly length: LengthKind;
  /** Exact length when fixed, maximum when LL/LLL: digits for n/z, characters, or bytes for b. */
  readonly max: number;
  /** Minimum for variable fields (default 0). */
  readonly min?: number;
  /** DE 48 and DE 63 have sub-codecs; see de48.ts and de63.ts. */
  readonly structured?: 'de48' | 'de63';
}

export interface IsoProfile {
  readonly name: string;
  /** Encoding of the MTI. */
  readonly mtiEncoding: Encoding;
  /** Encoding of n and z contents (BCD packs two digits a byte). */
  readonly numericEncoding: Encoding;
  /** Encoding of LL/LLL prefixes (ASCII digits, or BCD in 1 / 2 bytes). */
  readonly lengthEncoding: Encoding;
  readonly fields: ReadonlyMap<number, FieldSpec>;
  /** Sub-elements of DE 48, numbered 1–64 under DE 48's own bitmap (48-0). */
  readonly de48: ReadonlyMap<number, FieldSpec>;
  /** Decode DE 48 and DE 63 into structured values (true) or keep their raw bytes (false). */
  readonly structured: boolean;
  /** Decoding refuses larger messages without looking at them. Below the transport's 12336. */
  readonly maxMessageBytes: number;
}

const f = (name: string, format: FieldFormat, length: LengthKind, max: number, extra: Partial<FieldSpec> = {}): FieldSpec => ({
  name,
  format,
  length,
  max,
  ...extra,
});

/** Data elements of the IFSF-style POS-to-host profile. DE 1 (secondary bitmap) is implicit. */
export const IFSF_FIELDS: ReadonlyMap<number, FieldSpec> = new Map<number, FieldSpec>([
  [2, f('Primary account number', 'n', 'LL', 19)],
  [3, f('Processing code', 'n', 'fixed', 6)],
  [4, f('Amount, transaction (minor units)', 'n', 'fixed', 12)],
  [7, f('Transmission date and time MMDDhhmmss', 'n', 'fixed', 10)],
  [11, f('Systems trace audit number (STAN)', 'n', 'fixed', 6)],
  [12, f('Local transaction date and time YYMMDDhhmmss', 'n', 'fixed', 12)],
  [14, f('Expiration date YYMM', 'n', 'fixed', 4)],
  [22, f('POS data code', 'an', 'fixed', 12)],
  [24, f('Function code', 'n', 'fixed', 3)],
  [25, f('Message reason code', 'n', 'fixed', 4)],
  [26, f('Card acceptor business code (MCC)', 'n', 'fixed', 4)],
  [30, f('Amounts, original (requested amount on a partial approval)', 'n', 'fixed', 24)],
  [32, f('Acquiring institution identification code', 'n', 'LL', 11)],
  [33, f('Forwarding institution identification code', 'n', 'LL', 11)],
  [35, f('Track 2 data', 'z', 'LL', 37)],
  [37, f('Retrieval reference number', 'anp', 'fixed', 12)],
  [38, f('Approval code', 'anp', 'fixed', 6)],
  [39, f('Action code', 'n', 'fixed', 3)],
  [41, f('Card acceptor terminal identification', 'ans', 'fixed', 8)],
  [42, f('Card acceptor identification code (site)', 'ans', 'fixed', 15)],
  [43, f('Card acceptor name/location', 'ans', 'LL', 99)],
  [48, f('Message control data (bitmapped fuel data)', 'b', 'LLL', 999, { structured: 'de48' })],
  [49, f('Currency code, transaction', 'an', 'fixed', 3)],
  [52, f('PIN data (encrypted PIN block)', 'b', 'fixed', 8)],
  [53, f('Security related control information', 'b', 'LL', 48)],
  [54, f('Amounts, additional', 'ans', 'LLL', 120)],
  [55, f('ICC data (EMV)', 'b', 'LLL', 255)],
  [56, f('Original data elements', 'n', 'LL', 35)],
  [59, f('Transport data (echoed)', 'ans', 'LLL', 999)],
  [61, f('PIN KSN (DUKPT), hex', 'ans', 'LLL', 24)],
  [62, f('Allowed product sets / product restrictions', 'ans', 'LLL', 999)],
  [63, f('Product data (product lines)', 'ans', 'LLL', 999, { structured: 'de63' })],
  [64, f('Message authentication code (primary)', 'b', 'fixed', 8)],
  [72, f('Data record (file action)', 'ans', 'LLL', 999)],
  [74, f('Credits, number', 'n', 'fixed', 10)],
  [75, f('Credits, reversal number', 'n', 'fixed', 10)],
  [76, f('Debits, number', 'n', 'fixed', 10)],
  [77, f('Debits, reversal number', 'n', 'fixed', 10)],
  [86, f('Credits, amount', 'n', 'fixed', 16)],
  [87, f('Credits, reversal amount', 'n', 'fixed', 16)],
  [88, f('Debits, amount', 'n', 'fixed', 16)],
  [89, f('Debits, reversal amount', 'n', 'fixed', 16)],
  // ISO 8583:1993 DE 96 "key management data": the session keys of a sign-on / key change (layout in docs/pos-session.md).
  [96, f('Key management data', 'b', 'LLL', 999)],
  [97, f('Amount, net reconciliation (C/D + n16)', 'an', 'fixed', 17)],
  [101, f('File name', 'ans', 'LL', 17)],
  [127, f('Encrypted track 2 / private data', 'b', 'LLL', 999)],
  [128, f('Message authentication code (secondary)', 'b', 'fixed', 8)],
]);

/** DE 48 sub-elements (numbers from the public PayEx IFSF profile; 48-40 is ours). */
export const IFSF_DE48: ReadonlyMap<number, FieldSpec> = new Map<number, FieldSpec>([
  [4, f('Batch/sequence number BBBBSSSSSS', 'n', 'fixed', 10)],
  [8, f('Customer data (prompts: driver, vehicle, odometer…)', 'ans', 'LLL', 250)],
  [9, f('Track 2 of the vehicle card', 'z', 'LL', 37)],
  [14, f('PIN encryption methodology', 'n', 'fixed', 2)],
  [32, f('VAT percentages', 'ans', 'LL', 99)],
  [37, f('Vehicle identification entry mode', 'an', 'fixed', 1)],
  [40, f('Pump and nozzle PPNN (platform extension)', 'n', 'fixed', 4)],
]);

export const IFSF_PROFILE: IsoProfile = {
  name: 'ifsf-ascii',
  mtiEncoding: 'ascii',
  numericEncoding: 'ascii',
  lengthEncoding: 'ascii',
  fields: IFSF_FIELDS,
  de48: IFSF_DE48,
  structured: true,
  maxMessageBytes: 8192,
};

/** Same fields, BCD numerics and lengths: the packing many Chinese and NAC-style terminals use. */
export const IFSF_BCD_PROFILE: IsoProfile = {
  ...IFSF_PROFILE,
  name: 'ifsf-bcd',
  mtiEncoding: 'bcd',
  numericEncoding: 'bcd',
  lengthEncoding: 'bcd',
};

/** A profile derived from the default with some settings changed (per-terminal option). */
export function defineProfile(overrides: Partial<IsoProfile> & { name: string }): IsoProfile {
  return { ...IFSF_PROFILE, ...overrides };
}
