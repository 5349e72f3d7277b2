/**
 * Persistence of the software key store (docs/pos-gateway.md §Keys). The store's entries are
 * saved as SoftwareKeyStore seals them (AES-256-GCM under a KEK): a clear key never reaches the
 * database. The KEK is derived from the platform's first data key with HKDF and a fixed label, so
 * a development install (generated data keys) keeps working keys across restarts.
 */
import { sql } from 'kysely';
import type { Db } from '../../platform/index.js';
import {
  dukptFreshness,
  keyStoreKekOf,
  posKeysSealedStore,
  ksnDeviceKey,
  PosCryptoError,
  SoftwareKeyStore,
  type CryptoResult,
  type DukptInitialKeyExport,
  type DukptKeyRef,
  type DukptKsnInfo,
  type KeyInfo,
  type KeySpec,
  type KeyStore,
  type KeyStoreState,
  type MacAlgorithm,
  type PinBlockRef,
  type SessionKeyDelivery,
  type SessionKeyRequest,
  type WrapMethod,
} from '../crypto/index.js';

/** The key store's KEK: HKDF-SHA-256 of the data key, domain-separated from every other use of it. */
export function deriveKeyStoreKek(dataKey: Buffer): Buffer {
  return keyStoreKekOf(dataKey);
}

type Entry = KeyStoreState['entries'][number];

/**
 * A SoftwareKeyStore whose every change is written to pos_keys before the call returns. Changes
 * are serialised, so the rows always follow the order of the changes. If a save fails the call
 * throws (the inbound pipeline answers 909 and the terminal keeps its previous key, which the
 * store still holds as the previous version).
 */
export class PersistentKeyStore implements KeyStore {
  #inner: SoftwareKeyStore;
  #chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly db: Db,
    private readonly kekId: string,
    private readonly kek: Buffer,
    state: KeyStoreState,
    pinVerifyKey?: Buffer,
  ) {
    this.#inner = new SoftwareKeyStore({ kek, state, ...(pinVerifyKey ? { pinVerifyKey } : {}) });
  }

  /** Loads every sealed key; keys sealed under another data key are refused (re-seal first: docs). */
  static async open(db: Db, dataKey: { id: string; key: Buffer }, pinVerifyKey?: Buffer): Promise<PersistentKeyStore> {
    const rows = (await sql<{ ref: string; kek_id: string; sealed: Entry }>`select ref, kek_id, sealed from pos_keys order by ref`.execute(db)).rows;
    const foreign = rows.filter((r) => r.kek_id !== dataKey.id);
    if (foreign.length > 0) {
      throw new PosCryptoError('KEYSTORE_STATE_INVALID', `${foreign.length} terminal key(s) are sealed under data key ${foreign[0]!.kek_id}, not ${dataKey.id}`);
    }
    const state: KeyStoreState = { format: 'fuelcard-keystore-v1', entries: rows.map((r) => r.sealed) };
    return new PersistentKeyStore(db, dataKey.id, deriveKeyStoreKek(dataKey.key), state, pinVerifyKey);
  }

  /** Runs a change and saves the refs it touched, one change at a time. */
  #change<T>(refs: readonly string[], fn: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const out = await fn();
      const entries = new Map(this.#inner.exportState().entries.map((e) => [e.ref, e]));
      await this.db.transaction().execute(async (trx) => {
        for (const ref of refs) {
          const e = entries.get(ref);
          if (e) {
            await sql`insert into pos_keys (ref, kek_id, sealed, updated_at) values (${ref}, ${this.kekId}, ${JSON.stringify(e)}::jsonb, now())
              on conflict (ref) do update set kek_id = excluded.kek_id, sealed = excluded.sealed, updated_at = now()`.execute(trx);
          } else {
            await sql`delete from pos_keys where ref = ${ref}`.execute(trx);
          }
        }
      });
      return out;
    };
    const p = this.#chain.then(run, run);
    this.#chain = p.catch(() => undefined);
    return p;
  }

  importClearKey(ref: string, spec: KeySpec, clear: Buffer, expectedKcv?: Buffer): Promise<KeyInfo> {
    return this.#change([ref], () => this.#inner.importClearKey(ref, spec, clear, expectedKcv));
  }
  importWrappedKey(ref: string, spec: KeySpec, wrapped: { kekRef: string; encrypted: Buffer; kcv: Buffer; wrapMethod?: WrapMethod }): Promise<KeyInfo> {
    return this.#change([ref], () => this.#inner.importWrappedKey(ref, spec, wrapped));
  }
  generateKey(ref: string, spec: KeySpec, length?: number): Promise<KeyInfo> {
    return this.#change([ref], () => this.#inner.generateKey(ref, spec, length));
  }
  generateSessionKeys(tmkRef: string, requests: readonly SessionKeyRequest[], opts?: { wrapMethod?: WrapMethod; at?: Date }): Promise<SessionKeyDelivery[]> {
    return this.#change(
      requests.map((r) => r.ref),
      () => this.#inner.generateSessionKeys(tmkRef, requests, opts),
    );
  }
  retirePrevious(ref: string): Promise<void> {
    return this.#change([ref], () => this.#inner.retirePrevious(ref));
  }
  deleteKey(ref: string): Promise<boolean> {
    return this.#change([ref], () => this.#inner.deleteKey(ref));
  }
  describe(ref: string): Promise<KeyInfo | null> {
    return this.#inner.describe(ref);
  }
  macGenerate(ref: string, algorithm: MacAlgorithm, data: Buffer, version?: number): Promise<Buffer> {
    return this.#inner.macGenerate(ref, algorithm, data, version);
  }
  macVerify(ref: string, algorithm: MacAlgorithm, data: Buffer, mac: Buffer, version?: number): Promise<CryptoResult<true>> {
    return this.#inner.macVerify(ref, algorithm, data, mac, version);
  }
  pinTranslate(req: { from: PinBlockRef; to: PinBlockRef; pinBlock: Buffer; pan: string; toPan?: string }): Promise<CryptoResult<Buffer>> {
    return this.#inner.pinTranslate(req);
  }
  pinVerify(req: { pin: PinBlockRef; pinBlock: Buffer; pan: string; pvkRef: string; lookupPvv: () => Promise<Buffer | null> }): Promise<CryptoResult<true>> {
    return this.#inner.pinVerify(req);
  }
  derivePvv(req: { pin: PinBlockRef; pinBlock: Buffer; pan: string; pvkRef: string }): Promise<CryptoResult<Buffer>> {
    return this.#inner.derivePvv(req);
  }

  pinVerifyPlatform(req: { pin: PinBlockRef; pinBlock: Buffer; pan: string; subject: string; stored: string }): Promise<CryptoResult<true>> {
    return this.#inner.pinVerifyPlatform(req);
  }

  dukptInitialKey(bdkRef: string, initialKsn: Buffer): Promise<DukptInitialKeyExport> {
    return this.#inner.dukptInitialKey(bdkRef, initialKsn);
  }
  dukptMacVerify(req: DukptKeyRef & { algorithm: MacAlgorithm; data: Buffer; mac: Buffer }): Promise<CryptoResult<DukptKsnInfo>> {
    return this.#inner.dukptMacVerify(req);
  }
  dukptMacGenerate(req: DukptKeyRef & { algorithm: MacAlgorithm; data: Buffer }): Promise<Buffer> {
    return this.#inner.dukptMacGenerate(req);
  }

  /**
   * The replay guard on pos_dukpt_devices: the device's row is locked, the freshness rule is the
   * in-memory store's (dukptFreshness), and the new KSN is written in the same transaction, so two
   * connections (or two host processes) presenting the same KSN cannot both be accepted.
   */
  async dukptAcceptKsn(req: DukptKeyRef & { requestId: string }): Promise<CryptoResult<DukptKsnInfo>> {
    const k = this.#inner.dukptParse(req.bdkRef, req.ksn);
    if (!k.ok) return k;
    const ksn = k.value;
    const device = ksnDeviceKey(ksn);
    return this.db.transaction().execute(async (trx) => {
      await sql`insert into pos_dukpt_devices (device, bdk_ref) values (${device}, ${req.bdkRef}) on conflict (device) do nothing`.execute(trx);
      const row = (
        await sql<{ last_ksn: Buffer | null; last_request: string | null }>`select last_ksn, last_request from pos_dukpt_devices
          where device = ${device} for update`.execute(trx)
      ).rows[0]!;
      const r = dukptFreshness({ ksn: row.last_ksn, requestId: row.last_request }, ksn, req.requestId);
      if (r.ok) {
        await sql`update pos_dukpt_devices set last_ksn = ${ksn.bytes}, last_counter = ${ksn.counter}, last_request = ${req.requestId}, updated_at = now()
          where device = ${device}`.execute(trx);
      }
      return r;
    });
  }
}

const stores = new WeakMap<Db, Promise<PersistentKeyStore>>();

/**
 * One key store per database per process: the staff API's key ceremony and the TCP host must see
 * the same keys (a TMK loaded through the API is used by the next sign-on without a restart).
 */
export function posKeyStoreFor(db: Db, dataKeys: ReadonlyArray<{ id: string; key: Buffer }>, pinVerifyKey: Buffer): Promise<PersistentKeyStore> {
  let p = stores.get(db);
  if (!p) {
    const first = dataKeys[0];
    if (!first) throw new PosCryptoError('KEYSTORE_STATE_INVALID', 'no data key configured');
    // A new data key made current: re-seal pos_keys under it first, so the gateway starts without waiting for the job.
    p = (async () => {
      const sealed = posKeysSealedStore(dataKeys);
      while ((await sealed.reseal(db, 500)).resealed > 0);
      return PersistentKeyStore.open(db, first, pinVerifyKey);
    })();
    // A failed open is not cached: the next call tries again.
    p.catch(() => stores.delete(db));
    stores.set(db, p);
  }
  return p;
}

/** Key references of a platform terminal in the key store. */
export function posKeyRefs(terminalId: string): { tmk: string; tak: string; tpk: string } {
  return { tmk: `pos:${terminalId}:tmk`, tak: `pos:${terminalId}:tak`, tpk: `pos:${terminalId}:tpk` };
}

/** Key reference of a DUKPT base derivation key, by scheme and BDK ID (TDES: the 5-byte KSI; AES: the 4-byte BDK ID), hex. */
export function posBdkRef(scheme: 'tdes' | 'aes', bdkId: string): string {
  return `pos:bdk:${scheme}:${bdkId.toUpperCase()}`;
}
