/**
 * The key ceremony (docs/pos-gateway.md "Key ceremony"): installs a terminal master key and the
 * initial MAC key under it, or, for a DUKPT terminal, its initial DUKPT key (docs/pos-dukpt.md).
 * A function of its own so that the staff API, the console and the demo seed (npm start) run
 * exactly the same ceremony, with the same checks and the same audit row.
 */
import { Type } from 'typebox';
import { sql } from 'kysely';
import type { Actor, Config, Db } from '../platform/index.js';
import { audit, platformError } from '../platform/index.js';
import { generateClearKey, keyCheckValue, macKeyAlgorithm, MAC_ALGORITHMS, type KeyAlgorithm, type MacAlgorithm, type PinBlockFormat } from './crypto/index.js';
import { posBdkRef, posKeyRefs, posKeyStoreFor, type PersistentKeyStore } from './host/db-keystore.js';

export const CeremonyBody = Type.Object(
  {
    algorithm: Type.Union([Type.Literal('tdes'), Type.Literal('aes'), Type.Literal('sm4')]),
    macAlgorithm: Type.Union(MAC_ALGORITHMS.map((a) => Type.Literal(a))),
    pinFormat: Type.Union([Type.Literal(0), Type.Literal(4)]),
    framing: Type.Optional(Type.Union([Type.Literal('binary2'), Type.Literal('ascii4'), Type.Literal('auto')])),
    isoTerminalId: Type.Optional(Type.String({ pattern: '^[ -~]{8}$', description: 'DE 41 (8 characters); default: the 8 digits of the terminal id' })),
    keyManagement: Type.Optional(
      Type.Union([Type.Literal('session'), Type.Literal('dukpt')], {
        description: 'session (default): TMK + session keys at sign-on; dukpt: a key per transaction from a BDK (TDES X9.24-1 or AES X9.24-3)',
      }),
    ),
    bdkId: Type.Optional(
      Type.String({
        pattern: '^([0-9A-Fa-f]{8}|[0-9A-Fa-f]{10})$',
        description: 'DUKPT: the BDK to derive from, TDES: the 5-byte key set ID (10 hex), AES: the 4-byte BDK ID (8 hex). Created in the key store on first use.',
      }),
    ),
  },
  { additionalProperties: false },
);

const KeyPartSchema = Type.Object({ hex: Type.String(), kcv: Type.String() });
export const CeremonyAnswer = Type.Object({
  terminalId: Type.String(),
  isoTerminalId: Type.String(),
  algorithm: Type.String(),
  macAlgorithm: Type.String(),
  pinFormat: Type.Integer(),
  framing: Type.String(),
  rotated: Type.Boolean({ description: 'true: a key ceremony had been done before; the old keys are gone' }),
  keyManagement: Type.String(),
  tmk: Type.Optional(
    Type.Object({
      components: Type.Array(KeyPartSchema, { description: 'two clear components; XORed they give the TMK. Shown once.' }),
      kcv: Type.String(),
    }),
  ),
  initialMacKey: Type.Optional(Type.Object({ version: Type.Integer(), encryptedUnderTmk: Type.String(), wrapMethod: Type.String(), kcv: Type.String() })),
  dukpt: Type.Optional(
    Type.Object({
      scheme: Type.String(),
      bdkId: Type.String(),
      bdkKcv: Type.String(),
      initialKsn: Type.String({ description: 'TDES: the 10-byte initial KSN (counter 0); AES: the 12-byte KSN with counter 0 (initial key ID + 00000000)' }),
      initialKey: Type.Object({
        components: Type.Array(KeyPartSchema, { description: 'two clear components; XORed they give the IPEK (TDES) / initial key (AES). Shown once.' }),
        kcv: Type.String(),
      }),
    }),
  ),
});


export interface CeremonyRequest {
  algorithm: KeyAlgorithm;
  macAlgorithm: MacAlgorithm | string;
  pinFormat: number;
  framing?: 'binary2' | 'ascii4' | 'auto';
  isoTerminalId?: string;
  keyManagement?: 'session' | 'dukpt';
  bdkId?: string;
}

export interface KeyPart {
  hex: string;
  kcv: string;
}

/** What the installer gets, once: the clear components never leave the key store again. */
export interface CeremonyResult {
  terminalId: string;
  isoTerminalId: string;
  algorithm: KeyAlgorithm;
  macAlgorithm: MacAlgorithm;
  pinFormat: PinBlockFormat;
  framing: 'binary2' | 'ascii4' | 'auto';
  rotated: boolean;
  keyManagement: 'session' | 'dukpt';
  tmk?: { components: KeyPart[]; kcv: string };
  initialMacKey?: { version: number; encryptedUnderTmk: string; wrapMethod: string; kcv: string };
  dukpt?: { scheme: 'tdes' | 'aes'; bdkId: string; bdkKcv: string; initialKsn: string; initialKey: { components: KeyPart[]; kcv: string } };
}

const hex = (b: Buffer): string => b.toString('hex').toUpperCase();

const DEFAULT_BDK_ID = { tdes: 'FFFF000001', aes: '00000001' } as const;
/** Devices one BDK can number: TDES has 19 bits of device ID in the KSN, AES 32. */
const MAX_DEVICE_NO = { tdes: 2 ** 19 - 1, aes: 2 ** 32 - 1 } as const;

/** The initial KSN (counter 0) of device `n` under a BDK ID: TDES KSI(5) ‖ device(19 bits) ‖ 0(21 bits); AES BDK ID(4) ‖ device(4) ‖ 0(4). */
function initialKsnOf(scheme: 'tdes' | 'aes', bdkId: string, n: number): Buffer {
  if (scheme === 'aes') {
    const out = Buffer.alloc(12);
    Buffer.from(bdkId, 'hex').copy(out, 0);
    out.writeUInt32BE(n, 4);
    return out;
  }
  const out = Buffer.alloc(10);
  Buffer.from(bdkId, 'hex').copy(out, 0);
  out[5] = (n >>> 11) & 0xff;
  out[6] = (n >>> 3) & 0xff;
  out[7] = (n & 0x07) << 5;
  return out;
}

/** Registers the next device under the BDK (pos_dukpt_devices) and returns its initial KSN; numbering races retry. */
async function nextDukptDevice(db: Db, scheme: 'tdes' | 'aes', bdkRef: string, bdkId: string): Promise<{ ksn: Buffer; device: string }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const n = Number(
      (await sql<{ n: string }>`select (coalesce(max(device_no), 0) + 1)::text as n from pos_dukpt_devices where bdk_ref = ${bdkRef}`.execute(db)).rows[0]!.n,
    );
    if (n > MAX_DEVICE_NO[scheme]) throw platformError('VALIDATION_FAILED', { field: 'bdkId' }, `该 BDK 的设备号已用完 / every device ID of BDK ${bdkId} is taken; use another bdkId`);
    const ksn = initialKsnOf(scheme, bdkId, n);
    const device = `${scheme}:${hex(scheme === 'tdes' ? ksn : ksn.subarray(0, 8))}`;
    const r = await sql`insert into pos_dukpt_devices (device, bdk_ref, device_no) values (${device}, ${bdkRef}, ${n}) on conflict do nothing`.execute(db);
    if (Number(r.numAffectedRows ?? 0) === 1) return { ksn, device };
  }
  throw platformError('SERVICE_UNAVAILABLE', {}, '设备号分配冲突，请重试 / device ID allocation raced five times; try again');
}

/**
 * DUKPT ceremony: the BDK stays in the store (created there on first use); the terminal gets the
 * initial key of a freshly numbered device as two components, the only time it leaves the store.
 */
async function dukptCeremony(db: Db, keyStore: PersistentKeyStore, algorithm: 'tdes' | 'aes', bdkIdIn: string | undefined) {
  const bdkId = (bdkIdIn ?? DEFAULT_BDK_ID[algorithm]).toUpperCase();
  if (bdkId.length !== (algorithm === 'tdes' ? 10 : 8)) {
    throw platformError('VALIDATION_FAILED', { field: 'bdkId' }, 'BDK 标识长度不符 / bdkId is 10 hex digits for TDES (key set ID), 8 for AES (BDK ID)');
  }
  const bdkRef = posBdkRef(algorithm, bdkId);
  const bdk = (await keyStore.describe(bdkRef)) ?? (await keyStore.generateKey(bdkRef, { algorithm, usage: 'bdk' }, 16));
  if (bdk.usage !== 'bdk' || bdk.algorithm !== algorithm) throw platformError('VALIDATION_FAILED', { field: 'bdkId' }, `${bdkRef} 不是 ${algorithm} BDK / is not a ${algorithm} BDK`);
  const { ksn, device } = await nextDukptDevice(db, algorithm, bdkRef, bdkId);
  const ik = await keyStore.dukptInitialKey(bdkRef, ksn);
  try {
    return {
      bdkRef,
      device,
      dukpt: {
        scheme: algorithm,
        bdkId,
        bdkKcv: bdk.kcv,
        initialKsn: hex(ksn),
        initialKey: { components: ik.components.map((c) => ({ hex: hex(c), kcv: hex(keyCheckValue(algorithm, c)) })), kcv: hex(ik.kcv) },
      },
    };
  } finally {
    for (const c of ik.components) c.fill(0);
  }
}

/**
 * Runs the ceremony for platform terminal `terminalId` (T + 8 digits): checks the choices, replaces
 * every key the terminal had (it must sign on again), records pos_terminals and the audit row
 * (check values only, never key material). Bad choices are VALIDATION_FAILED, an unknown terminal
 * NOT_FOUND. The caller hands the answer over once and keeps no copy.
 */
export async function keyCeremony(deps: { db: Db; config: Config }, actor: Actor, terminalId: string, body: CeremonyRequest): Promise<CeremonyResult> {
  const { db, config } = deps;
  const algorithm: KeyAlgorithm = body.algorithm;
  const macAlgorithm = body.macAlgorithm as MacAlgorithm;
  const pinFormat = body.pinFormat as PinBlockFormat;
  if (!(MAC_ALGORITHMS as readonly string[]).includes(macAlgorithm)) {
    throw platformError('VALIDATION_FAILED', { field: 'macAlgorithm' }, `未知 MAC 算法 / unknown MAC algorithm ${macAlgorithm}`);
  }
  if (macKeyAlgorithm(macAlgorithm) !== algorithm) {
    throw platformError('VALIDATION_FAILED', { field: 'macAlgorithm' }, `MAC 算法与密钥算法不符 / ${macAlgorithm} needs a ${macKeyAlgorithm(macAlgorithm)} key, not ${algorithm}`);
  }
  if ((pinFormat === 0) !== (algorithm === 'tdes')) {
    throw platformError('VALIDATION_FAILED', { field: 'pinFormat' }, 'PIN 块格式与密钥算法不符 / PIN block format 0 goes with TDES, format 4 with AES or SM4');
  }
  const terminal = (await sql<{ id: string }>`select id from terminals where id = ${terminalId}`.execute(db)).rows[0];
  if (!terminal) throw platformError('NOT_FOUND', { terminalId });
  const keyManagement = body.keyManagement ?? 'session';
  if (keyManagement === 'dukpt' && algorithm === 'sm4') {
    throw platformError('VALIDATION_FAILED', { field: 'algorithm' }, 'DUKPT 仅支持 TDES 或 AES / DUKPT is TDES (X9.24-1) or AES (X9.24-3), there is no SM4 DUKPT');
  }
  if (body.bdkId !== undefined && keyManagement !== 'dukpt') throw platformError('VALIDATION_FAILED', { field: 'bdkId' }, 'bdkId 仅用于 DUKPT / bdkId is for keyManagement dukpt');
  const isoTerminalId = body.isoTerminalId ?? terminalId.slice(1);
  const clash = (await sql<{ terminal_id: string }>`select terminal_id from pos_terminals where iso_terminal_id = ${isoTerminalId} and terminal_id <> ${terminalId}`.execute(db)).rows[0];
  if (clash) throw platformError('VALIDATION_FAILED', { field: 'isoTerminalId' }, `DE 41 ${isoTerminalId} 已被其他终端使用 / already used by another terminal`);

  const keyStore = await posKeyStoreFor(db, config.dataKeys, config.pinKey);
  const refs = posKeyRefs(terminalId);
  const before = (await sql<{ key_management: string }>`select key_management from pos_terminals where terminal_id = ${terminalId}`.execute(db)).rows[0];
  const rotated = (await keyStore.describe(refs.tmk)) !== null || before?.key_management === 'dukpt';
  // A ceremony starts the terminal over: every key version begins at 1 again (and a DUKPT terminal gets a new device).
  for (const ref of [refs.tpk, refs.tak, refs.tmk]) await keyStore.deleteKey(ref);
  const framing = body.framing ?? 'auto';
  if (keyManagement === 'dukpt') {
    const d = await dukptCeremony(db, keyStore, algorithm as 'tdes' | 'aes', body.bdkId);
    await db.transaction().execute(async (trx) => {
      await sql`insert into pos_terminals (terminal_id, iso_terminal_id, framing, mac_algorithm, pin_format, key_algorithm, enabled, signed_on,
          key_management, dukpt_bdk_ref, dukpt_device)
        values (${terminalId}, ${isoTerminalId}, ${framing}, ${macAlgorithm}, ${pinFormat}, ${algorithm}, true, false, 'dukpt', ${d.bdkRef}, ${d.device})
        on conflict (terminal_id) do update set iso_terminal_id = excluded.iso_terminal_id, framing = excluded.framing,
          mac_algorithm = excluded.mac_algorithm, pin_format = excluded.pin_format, key_algorithm = excluded.key_algorithm,
          enabled = true, signed_on = false, tak_version = null, tpk_version = null,
          key_management = 'dukpt', dukpt_bdk_ref = excluded.dukpt_bdk_ref, dukpt_device = excluded.dukpt_device, updated_at = now()`.execute(trx);
      await audit(trx, actor, {
        action: 'pos.key_ceremony',
        targetType: 'terminal',
        targetId: terminalId,
        details: { isoTerminalId, keyManagement, algorithm, macAlgorithm, pinFormat, framing, rotated, bdkId: d.dukpt.bdkId, bdkKcv: d.dukpt.bdkKcv, initialKsn: d.dukpt.initialKsn, initialKeyKcv: d.dukpt.initialKey.kcv },
      });
    });
    return { terminalId, isoTerminalId, algorithm, macAlgorithm, pinFormat, framing, rotated, keyManagement, dukpt: d.dukpt };
  }
  const tmk = generateClearKey(algorithm);
  const c1 = generateClearKey(algorithm);
  const c2 = Buffer.alloc(tmk.length);
  for (let i = 0; i < tmk.length; i++) c2[i] = tmk[i]! ^ c1[i]!;
  let answer;
  try {
    const info = await keyStore.importClearKey(refs.tmk, { algorithm, usage: 'tmk' }, tmk);
    const [tak] = await keyStore.generateSessionKeys(refs.tmk, [{ ref: refs.tak, usage: 'tak', algorithm }]);
    answer = {
      tmk: {
        // A component's check value is taken as a key of the same algorithm (TDES parity is not forced on components).
        components: [c1, c2].map((c) => ({ hex: hex(c), kcv: hex(keyCheckValue(algorithm, c)) })),
        kcv: info.kcv,
      },
      initialMacKey: { version: tak!.version, encryptedUnderTmk: hex(tak!.encrypted), wrapMethod: tak!.wrapMethod, kcv: hex(tak!.kcv) },
    };
  } finally {
    tmk.fill(0);
    c1.fill(0);
    c2.fill(0);
  }
  await db.transaction().execute(async (trx) => {
    await sql`insert into pos_terminals (terminal_id, iso_terminal_id, framing, mac_algorithm, pin_format, key_algorithm, enabled, signed_on)
      values (${terminalId}, ${isoTerminalId}, ${framing}, ${macAlgorithm}, ${pinFormat}, ${algorithm}, true, false)
      on conflict (terminal_id) do update set iso_terminal_id = excluded.iso_terminal_id, framing = excluded.framing,
        mac_algorithm = excluded.mac_algorithm, pin_format = excluded.pin_format, key_algorithm = excluded.key_algorithm,
        enabled = true, signed_on = false, tak_version = null, tpk_version = null,
        key_management = 'session', dukpt_bdk_ref = null, dukpt_device = null, updated_at = now()`.execute(trx);
    await audit(trx, actor, {
      action: 'pos.key_ceremony',
      targetType: 'terminal',
      targetId: terminalId,
      details: { isoTerminalId, keyManagement, algorithm, macAlgorithm, pinFormat, framing, rotated, tmkKcv: answer.tmk.kcv, takKcv: answer.initialMacKey.kcv },
    });
  });
  return { terminalId, isoTerminalId, algorithm, macAlgorithm, pinFormat, framing, rotated, keyManagement, ...answer };
}
