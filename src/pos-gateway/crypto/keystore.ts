/**
 * The key store / HSM boundary. Host code refers to keys by reference (e.g. `term:T0001:tak`) and
 * asks for operations; clear keys and clear PINs never cross this interface. A hardware module
 * plugs in by implementing `KeyStore`; `SoftwareKeyStore` is the in-process implementation.
 *
 * Error contract: anything derived from a received message (MAC bytes, PIN block, PAN, key
 * version, an unknown terminal key) comes back as `{ ok: false, code }`; configuration mistakes
 * (a MAC key asked to translate PINs, a bad key length at installation) throw `PosCryptoError`.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  PosCryptoError,
  assertKeyLength,
  generateClearKey,
  keyCheckValue,
  unwrapKeyChecked,
  wrapKey,
  type CryptoErrorCode,
  type KeyAlgorithm,
  type WrapMethod,
} from './keys.js';
import { computeMac, macEquals, macKeyAlgorithm, WIRE_MAC_LENGTH, type MacAlgorithm } from './mac.js';
import { assertFormatForAlgorithm, decryptPinBlock, encryptPinBlock, pinBlockLength, type PinBlockFormat } from './pin.js';

/**
 * tmk: terminal master key, only wraps session keys; kek: wraps other keys (e.g. TMKs for import);
 * tpk / tak / tdk: terminal PIN / MAC / data session keys; zpk: zone (issuer-side) PIN key;
 * pvk: PIN verification key (computes PIN verification values).
 */
export type KeyUsage = 'tmk' | 'kek' | 'tpk' | 'tak' | 'tdk' | 'zpk' | 'pvk';
export const KEY_USAGES: readonly KeyUsage[] = ['tmk', 'kek', 'tpk', 'tak', 'tdk', 'zpk', 'pvk'];

export interface KeySpec {
  algorithm: KeyAlgorithm;
  usage: KeyUsage;
}

export interface KeyInfo extends KeySpec {
  ref: string;
  length: number;
  /** Key version: 1 at creation, +1 on every replacement (rotation). DE 53 carries it. */
  version: number;
  /** KCV (hex, 3 bytes) with the algorithm's default method. */
  kcv: string;
  /** Version still accepted during a rollover, if any. */
  previousVersion: number | null;
}

export interface SessionKeyRequest {
  ref: string;
  usage: 'tpk' | 'tak' | 'tdk';
  algorithm: KeyAlgorithm;
  length?: number;
  /**
   * The version the terminal is known to hold (the one its request was verified under). It is the
   * one kept as `previous` on rotation, so a terminal that lost the answer of an earlier rotation
   * and signs on again under its old key does not lose that key. Default: the current version.
   */
  heldVersion?: number;
}

/** What the host sends the terminal at sign-on / key change: the key under the TMK plus its KCV. */
export interface SessionKeyDelivery {
  ref: string;
  usage: 'tpk' | 'tak' | 'tdk';
  algorithm: KeyAlgorithm;
  version: number;
  encrypted: Buffer;
  kcv: Buffer;
  wrapMethod: WrapMethod;
}

export type CryptoResult<T> = { ok: true; value: T } | { ok: false; code: CryptoOutcomeCode; detail: string };
export type CryptoOutcomeCode = CryptoErrorCode | 'MAC_MISMATCH' | 'PIN_MISMATCH';

export interface PinBlockRef {
  ref: string;
  format: PinBlockFormat;
  /** Key version the message named (DE 53); the current one when absent. */
  version?: number;
}

export interface KeyStore {
  /** Key ceremony / installation: loads a clear key (a TMK, a PVK). Optional KCV must match. */
  importClearKey(ref: string, spec: KeySpec, clear: Buffer, expectedKcv?: Buffer): Promise<KeyInfo>;
  /** Imports a key encrypted under a `tmk` or `kek` already in the store, checked against its KCV. */
  importWrappedKey(
    ref: string,
    spec: KeySpec,
    wrapped: { kekRef: string; encrypted: Buffer; kcv: Buffer; wrapMethod?: WrapMethod },
  ): Promise<KeyInfo>;
  generateKey(ref: string, spec: KeySpec, length?: number): Promise<KeyInfo>;
  /**
   * Generates (or rotates) session keys and returns them encrypted under the TMK, with KCVs.
   * A rotated key keeps its previous version usable until `retirePrevious`.
   */
  generateSessionKeys(
    tmkRef: string,
    requests: readonly SessionKeyRequest[],
    opts?: { wrapMethod?: WrapMethod },
  ): Promise<SessionKeyDelivery[]>;
  retirePrevious(ref: string): Promise<void>;
  describe(ref: string): Promise<KeyInfo | null>;
  deleteKey(ref: string): Promise<boolean>;

  macGenerate(ref: string, algorithm: MacAlgorithm, data: Buffer, version?: number): Promise<Buffer>;
  macVerify(ref: string, algorithm: MacAlgorithm, data: Buffer, mac: Buffer, version?: number): Promise<CryptoResult<true>>;
  /**
   * Re-encrypts a PIN block from a terminal/zone key to a zone PIN key (`zpk`) without exposing the
   * PIN. Only towards a `zpk`, only for the same PAN (`toPan`, if given, must equal `pan`), and never
   * from format 4 down to format 0: otherwise the store would be a PIN-block conversion oracle.
   */
  pinTranslate(req: { from: PinBlockRef; to: PinBlockRef; pinBlock: Buffer; pan: string; toPan?: string }): Promise<CryptoResult<Buffer>>;
  /**
   * Verifies a PIN block against the card's PIN verification value, which the caller looks up
   * (the PVV is not a secret that reveals the PIN; only the store can compute it).
   */
  pinVerify(req: {
    pin: PinBlockRef;
    pinBlock: Buffer;
    pan: string;
    pvkRef: string;
    lookupPvv: () => Promise<Buffer | null>;
  }): Promise<CryptoResult<true>>;
  /** Enrolment: the PVV to store for a card, computed from a PIN block (PIN change / issuance). */
  derivePvv(req: { pin: PinBlockRef; pinBlock: Buffer; pan: string; pvkRef: string }): Promise<CryptoResult<Buffer>>;
  /**
   * Verifies a PIN block against the platform's own PIN verify value (cards: pin_verify =
   * hex HMAC-SHA-256(FUELCARD_PIN_KEY, `${subject}:${pin}`)), the value every card already has, so an
   * ISO 8583 terminal and an HTTP terminal check the same PIN against the same record. The PIN
   * verification key is given to the store when it is opened and never leaves it. `pan` is the PAN
   * the block is bound to (DE 2); `subject` the card's pin_subject (its number when the PIN was set).
   * PIN_MISMATCH when the PIN differs; a block that does not decrypt to a PIN is PIN_BLOCK_*.
   */
  pinVerifyPlatform(req: { pin: PinBlockRef; pinBlock: Buffer; pan: string; subject: string; stored: string }): Promise<CryptoResult<true>>;
}

// ---------------------------------------------------------------------------------------------

interface SealedKey {
  version: number;
  length: number;
  kcv: string;
  iv: string;
  tag: string;
  ct: string;
}

interface Entry extends KeySpec {
  ref: string;
  current: SealedKey;
  previous: SealedKey | null;
}

/** Serialisable at-rest form: every key sealed with AES-256-GCM under the store's KEK. */
export interface KeyStoreState {
  format: 'fuelcard-keystore-v1';
  entries: Array<{ ref: string; algorithm: KeyAlgorithm; usage: KeyUsage; current: SealedKey; previous: SealedKey | null }>;
}

const PVV_LENGTH = 16;

function fail<T>(code: CryptoOutcomeCode, detail: string): CryptoResult<T> {
  return { ok: false, code, detail };
}

/** Codes that mean the store is misconfigured rather than that a message was bad: these stay exceptions. */
const CONFIG_CODES: ReadonlySet<CryptoErrorCode> = new Set(['KEY_USAGE', 'MAC_ALGORITHM', 'PIN_BLOCK_FORMAT', 'KEYSTORE_STATE_INVALID']);

function asOutcome<T>(e: unknown): CryptoResult<T> {
  if (e instanceof PosCryptoError && !CONFIG_CODES.has(e.code)) return fail(e.code, e.message);
  throw e;
}

/**
 * In-memory key store. Keys are kept sealed under the KEK given at construction and unsealed
 * only for the duration of one operation (then wiped). `exportState()` yields the sealed form
 * for persistence; a store constructed with the same KEK and that state has the same keys.
 */
export class SoftwareKeyStore implements KeyStore {
  readonly #kek: Buffer;
  readonly #entries = new Map<string, Entry>();

  readonly #pinVerifyKey: Buffer | null;

  constructor(opts: { kek: Buffer; state?: KeyStoreState; pinVerifyKey?: Buffer }) {
    if (!Buffer.isBuffer(opts.kek) || opts.kek.length !== 32) {
      throw new PosCryptoError('KEY_LENGTH', 'key store KEK must be 32 bytes (AES-256)');
    }
    this.#kek = Buffer.from(opts.kek);
    this.#pinVerifyKey = opts.pinVerifyKey ? Buffer.from(opts.pinVerifyKey) : null;
    if (opts.state) this.#load(opts.state);
  }

  exportState(): KeyStoreState {
    return {
      format: 'fuelcard-keystore-v1',
      entries: [...this.#entries.values()].map((e) => ({
        ref: e.ref,
        algorithm: e.algorithm,
        usage: e.usage,
        current: { ...e.current },
        previous: e.previous ? { ...e.previous } : null,
      })),
    };
  }

  #load(state: KeyStoreState): void {
    if (state?.format !== 'fuelcard-keystore-v1' || !Array.isArray(state.entries)) {
      throw new PosCryptoError('KEYSTORE_STATE_INVALID', 'unknown key store state format');
    }
    for (const e of state.entries) {
      const entry: Entry = { ref: e.ref, algorithm: e.algorithm, usage: e.usage, current: e.current, previous: e.previous };
      // Unsealing every key once proves the KEK is right before the store is used.
      for (const s of [entry.current, entry.previous]) if (s) this.#unseal(entry, s).fill(0);
      this.#entries.set(e.ref, entry);
    }
  }

  #aad(ref: string, spec: KeySpec, version: number): Buffer {
    return Buffer.from(JSON.stringify([ref, spec.algorithm, spec.usage, version]));
  }

  #seal(ref: string, spec: KeySpec, version: number, clear: Buffer): SealedKey {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.#kek, iv);
    c.setAAD(this.#aad(ref, spec, version));
    const ct = Buffer.concat([c.update(clear), c.final()]);
    return {
      version,
      length: clear.length,
      kcv: keyCheckValue(spec.algorithm, clear).toString('hex').toUpperCase(),
      iv: iv.toString('hex'),
      tag: c.getAuthTag().toString('hex'),
      ct: ct.toString('hex'),
    };
  }

  #unseal(entry: Entry, s: SealedKey): Buffer {
    try {
      const d = createDecipheriv('aes-256-gcm', this.#kek, Buffer.from(s.iv, 'hex'));
      d.setAAD(this.#aad(entry.ref, entry, s.version));
      d.setAuthTag(Buffer.from(s.tag, 'hex'));
      return Buffer.concat([d.update(Buffer.from(s.ct, 'hex')), d.final()]);
    } catch {
      throw new PosCryptoError('KEYSTORE_STATE_INVALID', `key ${entry.ref} cannot be unsealed with this KEK`);
    }
  }

  #info(e: Entry): KeyInfo {
    return {
      ref: e.ref,
      algorithm: e.algorithm,
      usage: e.usage,
      length: e.current.length,
      version: e.current.version,
      kcv: e.current.kcv,
      previousVersion: e.previous?.version ?? null,
    };
  }

  #entry(ref: string, usages: readonly KeyUsage[]): Entry {
    const e = this.#entries.get(ref);
    if (!e) throw new PosCryptoError('KEY_NOT_FOUND', `no key ${ref}`);
    if (!usages.includes(e.usage)) {
      throw new PosCryptoError('KEY_USAGE', `key ${ref} is a ${e.usage} key, this operation needs ${usages.join('/')}`);
    }
    return e;
  }

  /** Runs `fn` with the clear key, wiping it afterwards whatever happens. */
  #withKey<T>(e: Entry, version: number | undefined, fn: (key: Buffer) => T): T {
    let s: SealedKey | null = e.current;
    if (version !== undefined && version !== e.current.version) {
      s = e.previous && e.previous.version === version ? e.previous : null;
    }
    if (!s) throw new PosCryptoError('KEY_NOT_FOUND', `key ${e.ref} has no version ${String(version)}`);
    const key = this.#unseal(e, s);
    try {
      return fn(key);
    } finally {
      key.fill(0);
    }
  }

  #put(ref: string, spec: KeySpec, clear: Buffer, rotate: boolean, heldVersion?: number): KeyInfo {
    if (typeof ref !== 'string' || ref.length === 0 || ref.length > 200) {
      throw new PosCryptoError('KEY_NOT_FOUND', 'key reference must be a non-empty string');
    }
    assertKeyLength(spec.algorithm, clear);
    const old = this.#entries.get(ref);
    if (old && !rotate) throw new PosCryptoError('KEY_EXISTS', `key ${ref} exists`);
    if (old && (old.algorithm !== spec.algorithm || old.usage !== spec.usage)) {
      throw new PosCryptoError('KEY_USAGE', `key ${ref} is a ${old.algorithm} ${old.usage} key; rotation cannot change that`);
    }
    const version = old ? old.current.version + 1 : 1;
    const entry: Entry = {
      ref,
      algorithm: spec.algorithm,
      usage: spec.usage,
      current: this.#seal(ref, spec, version, clear),
      previous: old ? (heldVersion !== undefined && old.previous?.version === heldVersion ? old.previous : old.current) : null,
    };
    this.#entries.set(ref, entry);
    return this.#info(entry);
  }

  async importClearKey(ref: string, spec: KeySpec, clear: Buffer, expectedKcv?: Buffer): Promise<KeyInfo> {
    assertKeyLength(spec.algorithm, clear);
    if (expectedKcv && !macEquals(keyCheckValue(spec.algorithm, clear, { length: expectedKcv.length }), expectedKcv)) {
      throw new PosCryptoError('KCV_MISMATCH', `key check value does not match the key entered for ${ref}`);
    }
    return this.#put(ref, spec, clear, true);
  }

  async importWrappedKey(
    ref: string,
    spec: KeySpec,
    w: { kekRef: string; encrypted: Buffer; kcv: Buffer; wrapMethod?: WrapMethod },
  ): Promise<KeyInfo> {
    const kekEntry = this.#entry(w.kekRef, ['tmk', 'kek']);
    const clear = this.#withKey(kekEntry, undefined, (kek) =>
      unwrapKeyChecked(kekEntry.algorithm, kek, spec.algorithm, w.encrypted, w.kcv, w.wrapMethod ?? 'ecb'),
    );
    try {
      return this.#put(ref, spec, clear, true);
    } finally {
      clear.fill(0);
    }
  }

  async generateKey(ref: string, spec: KeySpec, length?: number): Promise<KeyInfo> {
    const clear = generateClearKey(spec.algorithm, length);
    try {
      return this.#put(ref, spec, clear, false);
    } finally {
      clear.fill(0);
    }
  }

  async generateSessionKeys(
    tmkRef: string,
    requests: readonly SessionKeyRequest[],
    opts: { wrapMethod?: WrapMethod } = {},
  ): Promise<SessionKeyDelivery[]> {
    const tmk = this.#entry(tmkRef, ['tmk']);
    const wrapMethod = opts.wrapMethod ?? 'ecb';
    const seen = new Set<string>();
    for (const r of requests) {
      if (!['tpk', 'tak', 'tdk'].includes(r.usage)) throw new PosCryptoError('KEY_USAGE', `${r.usage} is not a session key usage`);
      if (seen.has(r.ref)) throw new PosCryptoError('KEY_EXISTS', `${r.ref} requested twice`);
      seen.add(r.ref);
      const old = this.#entries.get(r.ref);
      if (old && (old.algorithm !== r.algorithm || old.usage !== r.usage)) {
        throw new PosCryptoError('KEY_USAGE', `key ${r.ref} is a ${old.algorithm} ${old.usage} key; rotation cannot change that`);
      }
      if (r.heldVersion !== undefined && r.heldVersion !== old?.current.version && r.heldVersion !== old?.previous?.version) {
        throw new PosCryptoError('KEY_NOT_FOUND', `key ${r.ref} has no version ${String(r.heldVersion)} to keep`);
      }
    }
    // Generate and wrap everything first so a failure leaves no half-rotated key set.
    const prepared = requests.map((r) => {
      const clear = generateClearKey(r.algorithm, r.length);
      try {
        const encrypted = this.#withKey(tmk, undefined, (kek) => wrapKey(tmk.algorithm, kek, clear, wrapMethod));
        return { r, clear, encrypted, kcv: keyCheckValue(r.algorithm, clear) };
      } catch (e) {
        clear.fill(0);
        throw e;
      }
    });
    try {
      return prepared.map(({ r, clear, encrypted, kcv }) => {
        const info = this.#put(r.ref, { algorithm: r.algorithm, usage: r.usage }, clear, true, r.heldVersion);
        return { ref: r.ref, usage: r.usage, algorithm: r.algorithm, version: info.version, encrypted, kcv, wrapMethod };
      });
    } finally {
      for (const p of prepared) p.clear.fill(0);
    }
  }

  async retirePrevious(ref: string): Promise<void> {
    const e = this.#entries.get(ref);
    if (!e) throw new PosCryptoError('KEY_NOT_FOUND', `no key ${ref}`);
    e.previous = null;
  }

  async describe(ref: string): Promise<KeyInfo | null> {
    const e = this.#entries.get(ref);
    return e ? this.#info(e) : null;
  }

  async deleteKey(ref: string): Promise<boolean> {
    return this.#entries.delete(ref);
  }

  #macEntry(ref: string, algorithm: MacAlgorithm): Entry {
    const e = this.#entry(ref, ['tak']);
    if (macKeyAlgorithm(algorithm) !== e.algorithm) {
      throw new PosCryptoError('MAC_ALGORITHM', `${algorithm} cannot use ${e.algorithm} key ${ref}`);
    }
    return e;
  }

  async macGenerate(ref: string, algorithm: MacAlgorithm, data: Buffer, version?: number): Promise<Buffer> {
    const e = this.#macEntry(ref, algorithm);
    return this.#withKey(e, version, (k) => computeMac(algorithm, k, data));
  }

  async macVerify(ref: string, algorithm: MacAlgorithm, data: Buffer, mac: Buffer, version?: number): Promise<CryptoResult<true>> {
    try {
      const e = this.#macEntry(ref, algorithm);
      if (!Buffer.isBuffer(mac) || mac.length !== WIRE_MAC_LENGTH) return fail('MAC_LENGTH', `MAC must be ${WIRE_MAC_LENGTH} bytes`);
      const expected = this.#withKey(e, version, (k) => computeMac(algorithm, k, data));
      return macEquals(expected, mac) ? { ok: true, value: true } : fail('MAC_MISMATCH', 'MAC does not verify');
    } catch (err) {
      return asOutcome(err);
    }
  }

  #pinEntry(p: PinBlockRef, usages: readonly KeyUsage[]): Entry {
    const e = this.#entry(p.ref, usages);
    assertFormatForAlgorithm(p.format, e.algorithm);
    return e;
  }

  /** Decrypts a PIN block to digits inside the store; callers must wipe the result. */
  #pinDigits(p: PinBlockRef, block: Buffer, pan: string): Buffer {
    const e = this.#pinEntry(p, ['tpk', 'zpk']);
    if (!Buffer.isBuffer(block) || block.length !== pinBlockLength(p.format)) {
      throw new PosCryptoError('PIN_BLOCK_LENGTH', `format ${p.format} PIN block must be ${pinBlockLength(p.format)} bytes`);
    }
    return this.#withKey(e, p.version, (k) => decryptPinBlock(p.format, e.algorithm, k, block, pan));
  }

  #pvv(pvkRef: string, pin: Buffer, pan: string): Buffer {
    const pvk = this.#entry(pvkRef, ['pvk']);
    // Own PVV scheme (not Visa PVV / IBM 3624): HMAC-SHA-256 under the PVK, bound to the PAN.
    return this.#withKey(pvk, undefined, (k) =>
      createHmac('sha256', k).update('fuelcard-pvv-v1\0').update(pan).update('\0').update(pin).digest().subarray(0, PVV_LENGTH),
    );
  }

  async pinTranslate(req: { from: PinBlockRef; to: PinBlockRef; pinBlock: Buffer; pan: string; toPan?: string }): Promise<CryptoResult<Buffer>> {
    let pin: Buffer | null = null;
    try {
      // Usage and format policy are configuration (they throw); a different PAN comes from a message.
      const dst = this.#pinEntry(req.to, ['zpk']);
      if (req.from.format === 4 && req.to.format === 0) {
        throw new PosCryptoError('PIN_BLOCK_FORMAT', 'a format 4 PIN block is never translated down to format 0');
      }
      if (req.toPan !== undefined && req.toPan !== req.pan) return fail('PAN_INVALID', 'a PIN block is translated for the same PAN only');
      pin = this.#pinDigits(req.from, req.pinBlock, req.pan);
      const p = pin;
      const out = this.#withKey(dst, req.to.version, (k) => encryptPinBlock(req.to.format, dst.algorithm, k, p, req.pan));
      return { ok: true, value: out };
    } catch (e) {
      return asOutcome(e);
    } finally {
      pin?.fill(0);
    }
  }

  async pinVerify(req: {
    pin: PinBlockRef;
    pinBlock: Buffer;
    pan: string;
    pvkRef: string;
    lookupPvv: () => Promise<Buffer | null>;
  }): Promise<CryptoResult<true>> {
    let computed: Buffer;
    try {
      this.#entry(req.pvkRef, ['pvk']);
      const pin = this.#pinDigits(req.pin, req.pinBlock, req.pan);
      try {
        computed = this.#pvv(req.pvkRef, pin, req.pan);
      } finally {
        pin.fill(0);
      }
    } catch (e) {
      return asOutcome(e);
    }
    const stored = await req.lookupPvv();
    if (!Buffer.isBuffer(stored) || stored.length !== PVV_LENGTH) return fail('PVV_UNAVAILABLE', 'no PIN verification value on file');
    return timingSafeEqual(computed, stored) ? { ok: true, value: true } : fail('PIN_MISMATCH', 'PIN does not verify');
  }

  async derivePvv(req: { pin: PinBlockRef; pinBlock: Buffer; pan: string; pvkRef: string }): Promise<CryptoResult<Buffer>> {
    try {
      this.#entry(req.pvkRef, ['pvk']);
      const pin = this.#pinDigits(req.pin, req.pinBlock, req.pan);
      try {
        return { ok: true, value: this.#pvv(req.pvkRef, pin, req.pan) };
      } finally {
        pin.fill(0);
      }
    } catch (e) {
      return asOutcome(e);
    }
  }

  async pinVerifyPlatform(req: { pin: PinBlockRef; pinBlock: Buffer; pan: string; subject: string; stored: string }): Promise<CryptoResult<true>> {
    const key = this.#pinVerifyKey;
    if (key === null) return fail('PVV_UNAVAILABLE', 'the key store was opened without the platform PIN verification key');
    let computed: Buffer;
    try {
      const pin = this.#pinDigits(req.pin, req.pinBlock, req.pan);
      try {
        computed = createHmac('sha256', key).update(`${req.subject}:`).update(pin).digest();
      } finally {
        pin.fill(0);
      }
    } catch (e) {
      return asOutcome(e);
    }
    const stored = /^[0-9a-f]{64}$/.test(req.stored) ? Buffer.from(req.stored, 'hex') : null;
    if (stored === null) return fail('PVV_UNAVAILABLE', 'no PIN verify value on file');
    return timingSafeEqual(computed, stored) ? { ok: true, value: true } : fail('PIN_MISMATCH', 'PIN does not verify');
  }
}
