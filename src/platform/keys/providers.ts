import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { closeSync, constants as fsConstants, fstatSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { ConfigError } from '../config-error.js';
import type { DataKey } from './field-cipher.js';

/**
 * Where the platform's keys come from (docs/keys.md). Keys never live in the database: the
 * database holds values encrypted under them and the id of the key each value used.
 *
 * - `env`: FUELCARD_DATA_KEYS / FUELCARD_BLIND_INDEX_KEY(S) / FUELCARD_PIN_KEY (development, containers
 *   whose secret store injects variables).
 * - `file`: a JSON key file (FUELCARD_KEY_FILE) outside the database, mode 0600.
 * - `local-kms`: envelope encryption. The key file holds data keys wrapped by a master key; the
 *   master key is in its own file (FUELCARD_KMS_MASTER_KEY_FILE, 0600). A production KMS/HSM replaces
 *   the master-key file by implementing `KmsAdapter` (the master key never leaves the KMS).
 */
export type KeyProviderName = 'env' | 'file' | 'local-kms';
export const KEY_PROVIDERS: readonly KeyProviderName[] = ['env', 'file', 'local-kms'];

export interface KeyProvider {
  readonly name: KeyProviderName | string;
  /** The data key new values are written with (the first in the list). */
  readonly currentKeyId: string;
  /** Every data key id, newest first. */
  listKeyIds(): readonly string[];
  dataKey(keyId: string): Buffer;
  /** Blind-index keys by id, newest first (the first computes new indexes). */
  readonly blindIndexKeys: readonly DataKey[];
  /** PIN verification key, when the provider holds one (else FUELCARD_PIN_KEY). */
  readonly pinKey: Buffer | null;
}

/** What a wrapped key is for. Bound into the wrapping with the id, so a key cannot be moved to another use. */
export type WrappedKeyKind = 'data' | 'blind-index' | 'pin';

/**
 * What a production KMS or HSM adapter implements: envelope encryption of data keys under a
 * master key that never leaves it. `wrapKey` encrypts a key with its kind and id bound in (as
 * AAD / encryption context, see `wrapLabel`), so a wrapped key cannot be relabelled: neither given
 * another id nor moved between dataKeys, blindIndexKeys and pinKey. `unwrapKey` reverses it and
 * must fail when kind or id differ. Both are async: a network round trip. The platform unwraps
 * every key once at start and keeps the clear keys in memory only.
 */
export interface KmsAdapter {
  readonly name: string;
  readonly masterKeyId: string;
  wrapKey(kind: WrappedKeyKind, keyId: string, clear: Buffer): Promise<string>;
  unwrapKey(kind: WrappedKeyKind, keyId: string, wrapped: string): Promise<Buffer>;
}

/** The context a wrapped key is bound to: `fuelcard/<kind>-key/<id>` (e.g. fuelcard/blind-index-key/b1). */
export function wrapLabel(kind: WrappedKeyKind, keyId: string): string {
  return `fuelcard/${kind}-key/${keyId}`;
}

/** The id the PIN key is wrapped under (there is only one PIN key). */
export const PIN_KEY_ID = 'pin';

/**
 * What the key CLI prints in place of a key: the first 8 hex digits of its SHA-256. Enough to tell
 * keys apart and to check that two hosts hold the same one, useless for recovering it.
 */
export function keyFingerprint(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

const KEY_ID = /^[A-Za-z0-9_-]{1,16}$/;

function b64Key(raw: unknown, variable: string, what: string): Buffer {
  if (typeof raw !== 'string') throw new ConfigError(variable, `${what}: expected a base64 string`);
  const buf = Buffer.from(raw, 'base64');
  if (buf.length !== 32) throw new ConfigError(variable, `${what} must be 32 bytes, base64 encoded (openssl rand -base64 32)`);
  return buf;
}

function checkIds(keys: readonly DataKey[], variable: string): void {
  const seen = new Set<string>();
  for (const k of keys) {
    if (!KEY_ID.test(k.id)) throw new ConfigError(variable, `key id "${k.id}" must be 1–16 letters, digits, _ or -`);
    // Values carry their key id; two keys with one id would make old values undecryptable.
    if (seen.has(k.id)) throw new ConfigError(variable, `key id ${k.id} appears twice`);
    seen.add(k.id);
  }
}

/** "keyId:base64key[,keyId:base64key…]", newest first. */
export function parseKeyList(raw: string, variable: string): DataKey[] {
  const keys: DataKey[] = [];
  for (const part of raw.split(',')) {
    const [id, b64, extra] = part.trim().split(':');
    if (!id || !b64 || extra !== undefined || !KEY_ID.test(id)) {
      throw new ConfigError(variable, 'expected "keyId:base64key[,keyId:base64key…]", newest first');
    }
    keys.push({ id, key: b64Key(b64, variable, `key ${id}`) });
  }
  checkIds(keys, variable);
  return keys;
}

/**
 * Reads a file holding keys. Refused unless it is a regular file owned by the user the server
 * runs as, that neither its group nor others can read or write (chmod 600): a key file anyone
 * on the host can read or replace is no secret. The file is opened once (not following a
 * symbolic link) and the checks are made on the open descriptor, so the file read is the file
 * checked: a path swapped between a check and the read cannot slip another file in.
 */
export function readSecretFile(file: string, variable: string): string {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO put in the key file's place must not hang the start; fstat refuses it below.
    fd = openSync(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    if (code === 'ELOOP') throw new ConfigError(variable, `${file} is a symbolic link: name the key file itself (ELOOP)`);
    throw new ConfigError(variable, `cannot read ${file}: ${code}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ConfigError(variable, `${file} is not a regular file`);
    if ((st.mode & 0o077) !== 0) {
      throw new ConfigError(variable, `${file} has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}: group or others may access it; run chmod 600 ${file}`);
    }
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) {
      throw new ConfigError(variable, `${file} is owned by uid ${st.uid}, not by the server's user (uid ${uid}); run chown ${uid} ${file}`);
    }
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** Writes a key file atomically (temp file, fsync, rename) with mode 0600. */
export function writeSecretFile(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

function parseJson(text: string, variable: string, file: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new ConfigError(variable, `${file} is not a JSON object (docs/keys.md shows the format)`);
}

function keyArray(v: unknown, variable: string, field: string): Array<Record<string, unknown>> {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((e) => !e || typeof e !== 'object')) throw new ConfigError(variable, `"${field}" must be a list of {"id", …} objects`);
  return v as Array<Record<string, unknown>>;
}

function providerOf(name: string, dataKeys: DataKey[], blindIndexKeys: DataKey[], pinKey: Buffer | null, variable: string): KeyProvider {
  if (dataKeys.length === 0) throw new ConfigError(variable, 'holds no data key ("dataKeys" is empty)');
  checkIds(dataKeys, variable);
  checkIds(blindIndexKeys, variable);
  const byId = new Map(dataKeys.map((k) => [k.id, k.key]));
  return {
    name,
    currentKeyId: dataKeys[0]!.id,
    listKeyIds: () => dataKeys.map((k) => k.id),
    dataKey(keyId) {
      const k = byId.get(keyId);
      if (!k) throw new Error(`data key ${keyId} is not configured`);
      return k;
    },
    blindIndexKeys,
    pinKey,
  };
}

/** Key file of the `file` provider: {"dataKeys":[{"id","key"}…], "blindIndexKeys":[…], "pinKey": "…"}, newest first. */
export interface KeyFile {
  dataKeys: Array<{ id: string; key: string }>;
  blindIndexKeys?: Array<{ id: string; key: string }>;
  pinKey?: string;
}

export function fileKeyProvider(file: string, variable = 'FUELCARD_KEY_FILE'): KeyProvider {
  const json = parseJson(readSecretFile(file, variable), variable, file);
  const clear = (field: string) =>
    keyArray(json[field], variable, field).map((e) => {
      if (typeof e.id !== 'string') throw new ConfigError(variable, `every entry of "${field}" needs an "id"`);
      return { id: e.id, key: b64Key(e.key, variable, `${field} ${e.id}`) };
    });
  const pinKey = json.pinKey === undefined ? null : b64Key(json.pinKey, variable, 'pinKey');
  return providerOf('file', clear('dataKeys'), clear('blindIndexKeys'), pinKey, variable);
}

// ---------------------------------------------------------------------------------------------
// local-kms: the master key in a file. Wrapped form "kw1.<masterKeyId>.<iv>.<tag>.<ct>",
// AES-256-GCM under the master key with wrapLabel(kind, id) as additional data.

/** Wrapped key file of the `local-kms` provider (and of any envelope KMS adapter). */
export interface WrappedKeyFile {
  masterKeyId: string;
  dataKeys: Array<{ id: string; wrapped: string }>;
  blindIndexKeys?: Array<{ id: string; wrapped: string }>;
  pinKey?: { wrapped: string };
}

export interface LocalKms extends KmsAdapter {
  wrapKeySync(kind: WrappedKeyKind, keyId: string, clear: Buffer): string;
  unwrapKeySync(kind: WrappedKeyKind, keyId: string, wrapped: string): Buffer;
}

/** The master key file: {"id": "m1", "key": "<32 bytes base64>"}, mode 0600. */
export function localKms(masterKeyFile: string, variable = 'FUELCARD_KMS_MASTER_KEY_FILE'): LocalKms {
  const json = parseJson(readSecretFile(masterKeyFile, variable), variable, masterKeyFile);
  if (typeof json.id !== 'string' || !KEY_ID.test(json.id)) throw new ConfigError(variable, `${masterKeyFile} needs an "id" (1–16 letters, digits, _ or -)`);
  const masterKeyId = json.id;
  const master = b64Key(json.key, variable, 'master key');
  const wrapKeySync = (kind: WrappedKeyKind, keyId: string, clear: Buffer): string => {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', master, iv);
    c.setAAD(Buffer.from(wrapLabel(kind, keyId)));
    const ct = Buffer.concat([c.update(clear), c.final()]);
    return ['kw1', masterKeyId, iv.toString('base64url'), c.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
  };
  const unwrapKeySync = (kind: WrappedKeyKind, keyId: string, wrapped: string): Buffer => {
    const [v, mk, iv, tag, ct, extra] = wrapped.split('.');
    if (v !== 'kw1' || !mk || iv === undefined || tag === undefined || ct === undefined || extra !== undefined) {
      throw new ConfigError(variable, `wrapped key ${keyId} is not in the kw1 format`);
    }
    if (mk !== masterKeyId) throw new ConfigError(variable, `wrapped key ${keyId} is under master key ${mk}, not ${masterKeyId}`);
    try {
      const d = createDecipheriv('aes-256-gcm', master, Buffer.from(iv, 'base64url'), { authTagLength: 16 });
      d.setAAD(Buffer.from(wrapLabel(kind, keyId)));
      d.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([d.update(Buffer.from(ct, 'base64url')), d.final()]);
    } catch {
      throw new ConfigError(variable, `wrapped ${kind} key ${keyId} does not unwrap under master key ${masterKeyId} (wrong master key, a key moved to another id or use, or an edited file)`);
    }
  };
  return {
    name: 'local-kms',
    masterKeyId,
    wrapKeySync,
    unwrapKeySync,
    wrapKey: async (kind, keyId, clear) => wrapKeySync(kind, keyId, clear),
    unwrapKey: async (kind, keyId, wrapped) => unwrapKeySync(kind, keyId, wrapped),
  };
}

function wrappedEntries(json: Record<string, unknown>, field: string, variable: string): Array<{ id: string; wrapped: string }> {
  return keyArray(json[field], variable, field).map((e) => {
    if (typeof e.id !== 'string' || typeof e.wrapped !== 'string') throw new ConfigError(variable, `every entry of "${field}" needs "id" and "wrapped"`);
    return { id: e.id, wrapped: e.wrapped };
  });
}

/**
 * The envelope provider for any KMS adapter: reads the wrapped key file and unwraps every key
 * through the adapter (once, at start). A production deployment calls this with its adapter and
 * starts the platform with the result (docs/keys.md §Production KMS).
 */
export async function envelopeKeyProvider(kms: KmsAdapter, keyFile: string, variable = 'FUELCARD_KEY_FILE'): Promise<KeyProvider> {
  const json = parseJson(readSecretFile(keyFile, variable), variable, keyFile);
  const unwrap = async (field: string, kind: WrappedKeyKind) => {
    const out: DataKey[] = [];
    for (const e of wrappedEntries(json, field, variable)) {
      const key = await kms.unwrapKey(kind, e.id, e.wrapped);
      if (key.length !== 32) throw new ConfigError(variable, `${field} ${e.id} unwraps to ${key.length} bytes, not 32`);
      out.push({ id: e.id, key });
    }
    return out;
  };
  const dataKeys = await unwrap('dataKeys', 'data');
  const blindIndexKeys = await unwrap('blindIndexKeys', 'blind-index');
  const pin = json.pinKey as { wrapped?: unknown } | undefined;
  const pinKey = pin && typeof pin.wrapped === 'string' ? await kms.unwrapKey('pin', PIN_KEY_ID, pin.wrapped) : null;
  if (pinKey && pinKey.length !== 32) throw new ConfigError(variable, `pinKey unwraps to ${pinKey.length} bytes, not 32`);
  return providerOf(kms.name, dataKeys, blindIndexKeys, pinKey, variable);
}

/** The `local-kms` provider, synchronously (its master key is local), for loadConfig. */
export function localKmsKeyProvider(kms: LocalKms, keyFile: string, variable = 'FUELCARD_KEY_FILE'): KeyProvider {
  const json = parseJson(readSecretFile(keyFile, variable), variable, keyFile);
  const unwrap = (field: string, kind: WrappedKeyKind) =>
    wrappedEntries(json, field, variable).map((e) => ({ id: e.id, key: kms.unwrapKeySync(kind, e.id, e.wrapped) }));
  const pin = json.pinKey as { wrapped?: unknown } | undefined;
  const pinKey = pin && typeof pin.wrapped === 'string' ? kms.unwrapKeySync('pin', PIN_KEY_ID, pin.wrapped) : null;
  const p = providerOf('local-kms', unwrap('dataKeys', 'data'), unwrap('blindIndexKeys', 'blind-index'), pinKey, variable);
  for (const k of [...p.listKeyIds().map((id) => p.dataKey(id)), ...p.blindIndexKeys.map((k) => k.key), ...(pinKey ? [pinKey] : [])]) {
    if (k.length !== 32) throw new ConfigError(variable, 'every unwrapped key must be 32 bytes');
  }
  return p;
}

/** Reads a key file as JSON (for the CLI's add/retire edits); the same permission rule applies. */
export function readKeyFileJson(file: string, variable = 'FUELCARD_KEY_FILE'): Record<string, unknown> {
  return parseJson(readSecretFile(file, variable), variable, file);
}
