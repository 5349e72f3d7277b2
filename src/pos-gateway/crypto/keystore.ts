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
import {
  checkKsnCounter,
  DukptError,
  ksnDeviceKey,
  parseKsn,
  type DukptErrorCode,
  type DukptScheme,
  type Ksn,
} from './dukpt-ksn.js';
import { deriveTdesIpek, deriveTdesWorkingKey } from './dukpt-tdes.js';
import { aesKeyTypeOf, deriveAesInitialKey, deriveAesWorkingKey, type AesDukptUsage } from './dukpt-aes.js';

/**
 * tmk: terminal master key, only wraps session keys; kek: wraps other keys (e.g. TMKs for import);
 * tpk / tak / tdk: terminal PIN / MAC / data session keys; zpk: zone (issuer-side) PIN key;
 * pvk: PIN verification key (computes PIN verification values); bdk: DUKPT base derivation key
 * (a `tdes` BDK is X9.24-1, an `aes` BDK X9.24-3), from which every device's keys are derived
 * inside the store per KSN (docs/pos-dukpt.md).
 */
export type KeyUsage = 'tmk' | 'kek' | 'tpk' | 'tak' | 'tdk' | 'zpk' | 'pvk' | 'bdk';
export const KEY_USAGES: readonly KeyUsage[] = ['tmk', 'kek', 'tpk', 'tak', 'tdk', 'zpk', 'pvk', 'bdk'];

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
  /**
   * When the current version became current (its creation or rotation, on the clock of whoever
   * asked for it: `generateSessionKeys({ at })`). The rollover deadline counts from here. null for
   * a key sealed before the store recorded it.
   */
  since: Date | null;
  /**
   * When the previous version stopped being current: the rotation that pushed it out, and not a
   * later one that kept it (`heldVersion`), so its rollover deadline counts from here and cannot be
   * renewed. Sealed with that version like `since`. null when there is no previous version or no
   * time was ever recorded for it (treat as long past).
   */
  previousSupersededAt: Date | null;
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
   * A kept previous version keeps its own `previousSupersededAt`: holding it again never moves
   * its rollover deadline.
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
export type CryptoOutcomeCode = CryptoErrorCode | DukptErrorCode | 'MAC_MISMATCH' | 'PIN_MISMATCH';

export interface PinBlockRef {
  /** A `tpk`/`zpk`, or for a DUKPT terminal its `bdk` (then `ksn` is required). */
  ref: string;
  format: PinBlockFormat;
  /** Key version the message named (DE 53); the current one when absent. */
  version?: number;
  /** DUKPT: the transaction's KSN; the PIN key is that KSN's PIN working key under the BDK `ref`. */
  ksn?: Buffer;
}

/** A DUKPT transaction key: the BDK in the store and the KSN the message carries. */
export interface DukptKeyRef {
  bdkRef: string;
  ksn: Buffer;
}

/** What the store tells about a KSN it used or accepted (no key material). */
export interface DukptKsnInfo {
  scheme: DukptScheme;
  /** The device's identity (`tdes:<initial KSN>` / `aes:<initial key ID>`), see ksnDeviceKey. */
  device: string;
  counter: number;
  /** Transactions the device has left after this one; 0 = it must be re-injected. */
  remaining: number;
  exhausted: boolean;
}

/** The one export of a DUKPT device key: for injection into the terminal, as two XOR components. */
export interface DukptInitialKeyExport {
  scheme: DukptScheme;
  device: string;
  components: [Buffer, Buffer];
  /** KCV of the initial key (IPEK / IK), the algorithm's default method. */
  kcv: Buffer;
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
    opts?: { wrapMethod?: WrapMethod; at?: Date },
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

  // ---- DUKPT (docs/pos-dukpt.md): the BDK never leaves the store, nor does any key derived from it,
  // except the device's initial key once, at injection.

  /**
   * Key injection: the initial key (TDES IPEK, AES IK) of the device whose initial KSN (TDES, counter
   * bits ignored) or KSN / 8-byte initial key ID (AES) is given, as two random XOR components.
   */
  dukptInitialKey(bdkRef: string, initialKsn: Buffer): Promise<DukptInitialKeyExport>;
  /**
   * Verifies a request MAC under the KSN's request MAC key (TDES `mac-request` variant, AES `mac-gen`).
   * Checks the KSN's form and counter, not its freshness: that is `dukptAcceptKsn`, called after this.
   */
  dukptMacVerify(req: DukptKeyRef & { algorithm: MacAlgorithm; data: Buffer; mac: Buffer }): Promise<CryptoResult<DukptKsnInfo>>;
  /** MACs a response under the KSN's response MAC key (TDES `mac-response` variant, AES `mac-verify`). */
  dukptMacGenerate(req: DukptKeyRef & { algorithm: MacAlgorithm; data: Buffer }): Promise<Buffer>;
  /**
   * The KSN replay guard: compare-and-set of the device's last accepted counter. Accepted when the
   * counter is above the last one, or equal to it for the same `requestId` (a retransmission of the
   * request that advanced it, e.g. after its handling failed). Otherwise DUKPT_KSN_REPLAY, or
   * DUKPT_KSN_EXHAUSTED once the device used its last counter. Call only after the MAC verified
   * under this KSN, so a forged message cannot burn a device's counters.
   */
  dukptAcceptKsn(req: DukptKeyRef & { requestId: string }): Promise<CryptoResult<DukptKsnInfo>>;
}

// ---------------------------------------------------------------------------------------------

interface SealedKey {
  version: number;
  /** ISO time the version became current; bound into the seal's AAD, so it cannot be moved at rest. */
  since?: string;
  /**
   * ISO time the version stopped being current (a previous version only), bound into the AAD like
   * `since`: the rollover deadline counts from it, so editing the row cannot stretch it.
   */
  supersededAt?: string;
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
const CONFIG_CODES: ReadonlySet<CryptoErrorCode | DukptErrorCode> = new Set([
  'KEY_USAGE',
  'MAC_ALGORITHM',
  'PIN_BLOCK_FORMAT',
  'KEYSTORE_STATE_INVALID',
  'DUKPT_BAD_KEY',
  'DUKPT_BAD_KEY_TYPE',
  'DUKPT_BAD_USAGE',
]);

function asOutcome<T>(e: unknown): CryptoResult<T> {
  if ((e instanceof PosCryptoError || e instanceof DukptError) && !CONFIG_CODES.has(e.code)) return fail(e.code, e.message);
  throw e;
}

/** The scheme's MAC working keys: the terminal MACs requests with the first, the host answers with the second. */
const DUKPT_MAC_USAGE = {
  tdes: { request: 'mac-request', response: 'mac-response' },
  aes: { request: 'mac-gen', response: 'mac-verify' },
} as const;

/** A KSN from a message: its form and a counter a device can use (freshness is dukptAcceptKsn's). */
export function dukptKsnInfo(ksn: Ksn): DukptKsnInfo {
  const c = checkKsnCounter(null, ksn);
  if (!c.ok) throw new DukptError(c.error.code, c.error.detail);
  return { scheme: ksn.scheme, device: ksnDeviceKey(ksn), counter: c.value.counter, remaining: c.value.remaining, exhausted: c.value.exhausted };
}

/**
 * The freshness rule of dukptAcceptKsn on a stored state (shared by the in-memory and the
 * PostgreSQL implementation, so both refuse the same KSNs).
 */
export function dukptFreshness(
  last: { ksn: Buffer | null; requestId: string | null } | null,
  ksn: Ksn,
  requestId: string,
): CryptoResult<DukptKsnInfo> {
  const info = dukptKsnInfo(ksn);
  if (!last?.ksn) return { ok: true, value: info };
  const prev = parseKsn(last.ksn, ksn.scheme);
  if (prev.ok && prev.value.counter === ksn.counter && last.requestId === requestId && ksnDeviceKey(prev.value) === info.device) {
    return { ok: true, value: info };
  }
  const c = checkKsnCounter(last.ksn, ksn, ksn.scheme);
  return c.ok ? { ok: true, value: info } : fail(c.error.code, c.error.detail);
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
  /** DUKPT replay state by device (ksnDeviceKey); PersistentKeyStore keeps it in PostgreSQL instead. */
  readonly #ksnState = new Map<string, { ksn: Buffer; requestId: string }>();

  constructor(opts: { kek: Buffer; state?: KeyStoreState; pinVerifyKey?: Buffer }) {
    if (!Buffer.isBuffer(opts.kek) || opts.kek.length !== 32) {
      throw new PosCryptoError('KEY_LENGTH', 'key store KEK must be 32 bytes (AES-256)');
    }
    this.#kek = Buffer.from(opts.kek);
    this.#pinVerifyKey = opts.pinVerifyKey ? Buffer.from(opts.pinVerifyKey) : null;
    if (opts.state) this.#load(opts.state);
  }

  /**
   * The same state sealed under another KEK (data key rotation, docs/keys.md): every version is
   * unsealed with `fromKek` (proving it first) and sealed again under `toKek` with a fresh IV and the
   * same additional data, so versions, times and KCVs are unchanged.
   */
  static resealState(state: KeyStoreState, fromKek: Buffer, toKek: Buffer): KeyStoreState {
    const from = new SoftwareKeyStore({ kek: fromKek, state });
    const to = new SoftwareKeyStore({ kek: toKek });
    return {
      format: 'fuelcard-keystore-v1',
      entries: [...from.#entries.values()].map((e) => {
        const again = (s: SealedKey): SealedKey => {
          const clear = from.#unseal(e, s);
          try {
            return to.#seal(e.ref, e, s.version, clear, s.since, s.supersededAt);
          } finally {
            clear.fill(0);
          }
        };
        return { ref: e.ref, algorithm: e.algorithm, usage: e.usage, current: again(e.current), previous: e.previous ? again(e.previous) : null };
      }),
    };
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

  #aad(ref: string, spec: KeySpec, version: number, since: string | undefined, supersededAt?: string): Buffer {
    // Seals made before `since` / `supersededAt` existed keep their original AAD, so they still open.
    if (supersededAt !== undefined) return Buffer.from(JSON.stringify([ref, spec.algorithm, spec.usage, version, since ?? null, supersededAt]));
    return Buffer.from(JSON.stringify(since === undefined ? [ref, spec.algorithm, spec.usage, version] : [ref, spec.algorithm, spec.usage, version, since]));
  }

  #seal(ref: string, spec: KeySpec, version: number, clear: Buffer, since: Date | string | undefined, supersededAt?: string): SealedKey {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.#kek, iv);
    const at = since instanceof Date ? since.toISOString() : since;
    c.setAAD(this.#aad(ref, spec, version, at, supersededAt));
    const ct = Buffer.concat([c.update(clear), c.final()]);
    return {
      version,
      ...(at !== undefined ? { since: at } : {}),
      ...(supersededAt !== undefined ? { supersededAt } : {}),
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
      d.setAAD(this.#aad(entry.ref, entry, s.version, s.since, s.supersededAt));
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
      since: e.current.since ? new Date(e.current.since) : null,
      previousSupersededAt: this.#supersededAt(e),
    };
  }

  /** A previous version sealed before `supersededAt` existed stopped being current when the current one became current. */
  #supersededAt(e: Entry): Date | null {
    const at = e.previous ? (e.previous.supersededAt ?? e.current.since) : undefined;
    return at === undefined ? null : new Date(at);
  }

  /** The same key version sealed again with the time it stopped being current. */
  #retireToPrevious(e: Entry, s: SealedKey, supersededAt: string): SealedKey {
    const clear = this.#unseal(e, s);
    try {
      return this.#seal(e.ref, e, s.version, clear, s.since, supersededAt);
    } finally {
      clear.fill(0);
    }
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

  #put(ref: string, spec: KeySpec, clear: Buffer, rotate: boolean, heldVersion?: number, at?: Date): KeyInfo {
    if (typeof ref !== 'string' || ref.length === 0 || ref.length > 200) {
      throw new PosCryptoError('KEY_NOT_FOUND', 'key reference must be a non-empty string');
    }
    assertKeyLength(spec.algorithm, clear);
    if (spec.usage === 'bdk' && (spec.algorithm === 'sm4' || (spec.algorithm === 'tdes' && clear.length !== 16))) {
      // X9.24-1 DUKPT is double-length TDES only; there is no SM4 DUKPT.
      throw new PosCryptoError('KEY_LENGTH', 'a BDK is a 16-byte TDES key or an AES key');
    }
    const old = this.#entries.get(ref);
    if (old && !rotate) throw new PosCryptoError('KEY_EXISTS', `key ${ref} exists`);
    if (old && (old.algorithm !== spec.algorithm || old.usage !== spec.usage)) {
      throw new PosCryptoError('KEY_USAGE', `key ${ref} is a ${old.algorithm} ${old.usage} key; rotation cannot change that`);
    }
    const version = old ? old.current.version + 1 : 1;
    const now = at ?? new Date();
    let previous: SealedKey | null = null;
    if (old && heldVersion !== undefined && old.previous?.version === heldVersion) {
      // Kept, not renewed: the held version's deadline still counts from the rotation that first
      // pushed it out, so whoever holds an old key cannot keep it alive by signing on under it.
      // A seal from before `supersededAt` existed gets the time its successor became current (epoch if unknown).
      previous = old.previous.supersededAt !== undefined ? old.previous : this.#retireToPrevious(old, old.previous, old.current.since ?? new Date(0).toISOString());
    } else if (old) {
      previous = this.#retireToPrevious(old, old.current, now.toISOString());
    }
    const entry: Entry = {
      ref,
      algorithm: spec.algorithm,
      usage: spec.usage,
      current: this.#seal(ref, spec, version, clear, now),
      previous,
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
    opts: { wrapMethod?: WrapMethod; at?: Date } = {},
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
        const info = this.#put(r.ref, { algorithm: r.algorithm, usage: r.usage }, clear, true, r.heldVersion, opts.at);
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
    const e = this.#pinEntry(p, p.ksn !== undefined ? ['bdk'] : ['tpk', 'zpk']);
    if (!Buffer.isBuffer(block) || block.length !== pinBlockLength(p.format)) {
      throw new PosCryptoError('PIN_BLOCK_LENGTH', `format ${p.format} PIN block must be ${pinBlockLength(p.format)} bytes`);
    }
    if (p.ksn !== undefined) {
      // DUKPT: the KSN's PIN working key (TDES PIN variant / AES `pin` key), derived and wiped here.
      const ksn = this.#ksnFor(e, p.ksn);
      return this.#withDukptKey(e, ksn, 'pin', (k) => decryptPinBlock(p.format, e.algorithm, k, block, pan));
    }
    return this.#withKey(e, p.version, (k) => decryptPinBlock(p.format, e.algorithm, k, block, pan));
  }

  // ---- DUKPT ------------------------------------------------------------------------------

  #dukptScheme(e: Entry): DukptScheme {
    if (e.algorithm === 'tdes') return 'tdes';
    if (e.algorithm === 'aes') return 'aes';
    throw new PosCryptoError('KEY_ALGORITHM', `BDK ${e.ref} is ${e.algorithm}; DUKPT is TDES or AES`);
  }

  /** The KSN of a message, read for the BDK's scheme; a malformed or impossible one is a DukptError (an outcome). */
  #ksnFor(e: Entry, raw: Buffer): Ksn {
    const k = parseKsn(Buffer.isBuffer(raw) ? raw : Buffer.alloc(0), this.#dukptScheme(e));
    if (!k.ok) throw new DukptError(k.error.code, k.error.detail);
    dukptKsnInfo(k.value);
    return k.value;
  }

  /** Runs `fn` with the KSN's working key for `use`, wiping it (and the BDK) afterwards. */
  #withDukptKey<T>(e: Entry, ksn: Ksn, use: 'pin' | 'mac-request' | 'mac-response', fn: (key: Buffer) => T): T {
    return this.#withKey(e, undefined, (bdk) => {
      let key: Buffer;
      if (ksn.scheme === 'tdes') {
        key = deriveTdesWorkingKey({ bdk }, ksn, use);
      } else {
        const usage: AesDukptUsage = use === 'pin' ? 'pin' : DUKPT_MAC_USAGE.aes[use === 'mac-request' ? 'request' : 'response'];
        // Working keys as long as the BDK: an AES-128 BDK gives AES-128 MAC and PIN keys.
        key = deriveAesWorkingKey({ bdk }, ksn, usage, aesKeyTypeOf(bdk));
      }
      try {
        return fn(key);
      } finally {
        key.fill(0);
      }
    });
  }

  #dukptMacEntry(bdkRef: string, algorithm: MacAlgorithm): Entry {
    const e = this.#entry(bdkRef, ['bdk']);
    if (macKeyAlgorithm(algorithm) !== e.algorithm) {
      throw new PosCryptoError('MAC_ALGORITHM', `${algorithm} cannot use keys derived from ${e.algorithm} BDK ${bdkRef}`);
    }
    return e;
  }

  async dukptInitialKey(bdkRef: string, initialKsn: Buffer): Promise<DukptInitialKeyExport> {
    const e = this.#entry(bdkRef, ['bdk']);
    const scheme = this.#dukptScheme(e);
    const raw = scheme === 'aes' && Buffer.isBuffer(initialKsn) && initialKsn.length === 8 ? Buffer.concat([initialKsn, Buffer.alloc(4)]) : initialKsn;
    const parsed = parseKsn(Buffer.isBuffer(raw) ? raw : Buffer.alloc(0), scheme);
    if (!parsed.ok) throw new DukptError(parsed.error.code, parsed.error.detail);
    const ksn = parsed.value;
    const ik = this.#withKey(e, undefined, (bdk) => (ksn.scheme === 'tdes' ? deriveTdesIpek(bdk, ksn) : deriveAesInitialKey(bdk, ksn.initialKeyId)));
    try {
      const c1 = randomBytes(ik.length);
      const c2 = Buffer.alloc(ik.length);
      for (let i = 0; i < ik.length; i++) c2[i] = ik[i]! ^ c1[i]!;
      return { scheme, device: ksnDeviceKey(ksn), components: [c1, c2], kcv: keyCheckValue(e.algorithm, ik) };
    } finally {
      ik.fill(0);
    }
  }

  async dukptMacVerify(req: DukptKeyRef & { algorithm: MacAlgorithm; data: Buffer; mac: Buffer }): Promise<CryptoResult<DukptKsnInfo>> {
    try {
      const e = this.#dukptMacEntry(req.bdkRef, req.algorithm);
      if (!Buffer.isBuffer(req.mac) || req.mac.length !== WIRE_MAC_LENGTH) return fail('MAC_LENGTH', `MAC must be ${WIRE_MAC_LENGTH} bytes`);
      const ksn = this.#ksnFor(e, req.ksn);
      const expected = this.#withDukptKey(e, ksn, 'mac-request', (k) => computeMac(req.algorithm, k, req.data));
      return macEquals(expected, req.mac) ? { ok: true, value: dukptKsnInfo(ksn) } : fail('MAC_MISMATCH', 'MAC does not verify');
    } catch (err) {
      return asOutcome(err);
    }
  }

  async dukptMacGenerate(req: DukptKeyRef & { algorithm: MacAlgorithm; data: Buffer }): Promise<Buffer> {
    const e = this.#dukptMacEntry(req.bdkRef, req.algorithm);
    const ksn = this.#ksnFor(e, req.ksn);
    return this.#withDukptKey(e, ksn, 'mac-response', (k) => computeMac(req.algorithm, k, req.data));
  }

  /** The KSN of a message as this BDK reads it, or the outcome that refuses it (for dukptAcceptKsn implementations). */
  dukptParse(bdkRef: string, raw: Buffer): CryptoResult<Ksn> {
    try {
      return { ok: true, value: this.#ksnFor(this.#entry(bdkRef, ['bdk']), raw) };
    } catch (err) {
      return asOutcome(err);
    }
  }

  async dukptAcceptKsn(req: DukptKeyRef & { requestId: string }): Promise<CryptoResult<DukptKsnInfo>> {
    const k = this.dukptParse(req.bdkRef, req.ksn);
    if (!k.ok) return k;
    try {
      const device = ksnDeviceKey(k.value);
      // Check and set in one synchronous step: no other call can interleave (single-threaded store).
      const r = dukptFreshness(this.#ksnState.get(device) ?? null, k.value, req.requestId);
      if (r.ok) this.#ksnState.set(device, { ksn: Buffer.from(k.value.bytes), requestId: req.requestId });
      return r;
    } catch (err) {
      return asOutcome(err);
    }
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
        // The block holds digit values (0–9); the platform's verify value is over the ASCII digits.
        const ascii = Buffer.from(pin.map((d) => d + 0x30));
        try {
          computed = createHmac('sha256', key).update(`${req.subject}:`).update(ascii).digest();
        } finally {
          ascii.fill(0);
        }
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
