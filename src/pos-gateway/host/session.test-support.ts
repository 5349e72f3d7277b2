/**
 * TEST SUPPORT ONLY: a simulated terminal built from wave-1 functions (codec, MAC, key unwrap).
 * It plays the PIN pad's secure memory, so it holds clear keys; production code never does.
 */
import { randomBytes } from 'node:crypto';
import {
  computeMac,
  generateClearKey,
  macEquals,
  SoftwareKeyStore,
  unwrapKeyChecked,
  type KeyAlgorithm,
  type MacAlgorithm,
} from '../crypto/index.js';
import { decodeMessage, encodeMessage, encodeWithMac, IFSF_PROFILE, macData, type FieldValue, type IsoMessage } from '../iso8583/index.js';
import { handleInbound, formatTransmissionTime, type HandlerTable, type InboundContext, type InboundResult } from './inbound.js';
import { InMemoryReplayGuard } from './replay.js';
import { InMemoryTerminalDirectory, type TerminalRecord } from './session-directory.js';
import { decodeDe53, decodeDe96, encodeDe53, withKeyManagement, KEY_MANAGEMENT_FIELD } from './session-fields.js';

export const PROFILE = withKeyManagement(IFSF_PROFILE);
export const NOW = new Date('2026-11-28T08:15:30Z');

export interface Suite {
  readonly alg: KeyAlgorithm;
  readonly mac: MacAlgorithm;
}

export class SimTerminal {
  tak: Buffer;
  takVersion = 1;
  tpk: Buffer;
  #stan = 0;
  constructor(
    readonly id: string,
    readonly suite: Suite,
    readonly tmk: Buffer,
    tak: Buffer,
    tpk: Buffer,
  ) {
    this.tak = tak;
    this.tpk = tpk;
  }

  nextStan(): string {
    this.#stan += 1;
    return String(this.#stan).padStart(6, '0');
  }

  /** A MACed message; `fields` may override DE 7/11/12/41. */
  build(
    mti: string,
    fields: ReadonlyArray<readonly [number, FieldValue]>,
    opts: { at?: Date; stan?: string; local?: string; key?: Buffer; withDe53?: number | null; noMac?: boolean } = {},
  ): Buffer {
    const at = opts.at ?? NOW;
    const f = new Map<number, FieldValue>([
      [7, formatTransmissionTime(at)],
      [11, opts.stan ?? this.nextStan()],
      [12, opts.local ?? '261128161530'],
      [41, this.id],
    ]);
    for (const [n, v] of fields) f.set(n, v);
    const version = opts.withDe53 === undefined ? this.takVersion : opts.withDe53;
    if (version !== null) f.set(53, encodeDe53({ mac: version }));
    if (opts.noMac) return encodeMessage({ mti, fields: f }, PROFILE);
    const key = opts.key ?? this.tak;
    return encodeWithMac({ mti, fields: f }, (d) => computeMac(this.suite.mac, key, d), PROFILE);
  }

  /** Decodes an answer and checks its MAC under `key` (the current TAK by default). */
  read(bytes: Buffer | null, key: Buffer = this.tak): { msg: IsoMessage; macOk: boolean; hasMac: boolean } {
    if (!bytes) throw new Error('no answer');
    const d = decodeMessage(bytes, PROFILE);
    if (!d.ok) throw new Error(`answer does not decode: ${d.error.code} ${d.error.detail}`);
    const md = macData(bytes, PROFILE);
    if (!md.ok) throw new Error('macData failed');
    const macOk = md.mac !== null && macEquals(computeMac(this.suite.mac, key, md.data), md.mac);
    return { msg: d.message, macOk, hasMac: md.mac !== null };
  }

  /**
   * What a PIN pad does with a 1814 carrying keys: unwrap each under the TMK, check its KCV
   * (throws KCV_MISMATCH otherwise), check the answer's MAC under the new TAK, then switch.
   */
  acceptKeys(bytes: Buffer): { macOk: boolean; versions: Record<string, number> } {
    const d = decodeMessage(bytes, PROFILE);
    if (!d.ok) throw new Error('1814 does not decode');
    const de96 = d.message.fields.get(KEY_MANAGEMENT_FIELD);
    if (!Buffer.isBuffer(de96)) throw new Error('no DE 96');
    const keys = decodeDe96(de96);
    if (!keys.ok) throw new Error(keys.detail);
    const versions: Record<string, number> = {};
    let newTak: Buffer | null = null;
    let newTpk: Buffer | null = null;
    for (const k of keys.value) {
      const clear = unwrapKeyChecked(this.suite.alg, this.tmk, k.algorithm, k.encrypted, k.kcv, k.wrapMethod);
      versions[k.usage] = k.version;
      if (k.usage === 'tak') newTak = clear;
      if (k.usage === 'tpk') newTpk = clear;
    }
    if (!newTak || !newTpk) throw new Error('TAK or TPK missing');
    const { macOk } = this.read(bytes, newTak);
    const de53 = d.message.fields.get(53);
    if (macOk && Buffer.isBuffer(de53)) {
      const v = decodeDe53(de53);
      if (!v.ok || v.value.mac !== versions.tak) throw new Error('DE 53 does not name the delivered TAK');
    }
    if (macOk) {
      this.tak = newTak;
      this.tpk = newTpk;
      this.takVersion = versions.tak!;
    }
    return { macOk, versions };
  }
}

export interface Harness {
  readonly ctx: InboundContext;
  readonly keyStore: SoftwareKeyStore;
  readonly directory: InMemoryTerminalDirectory;
  readonly replay: InMemoryReplayGuard;
  readonly terminal: SimTerminal;
  readonly record: TerminalRecord;
  clock: Date;
  send(bytes: Buffer): Promise<InboundResult>;
}

/** Installs one terminal (TMK + initial TAK/TPK v1, as at the key ceremony) and a host around it. */
export async function harness(
  opts: { suite?: Suite; handlers?: HandlerTable; record?: Partial<TerminalRecord>; id?: string } = {},
): Promise<Harness> {
  const suite = opts.suite ?? { alg: 'tdes', mac: 'retail-tdes-pad2' };
  const id = opts.id ?? 'OPT00001';
  const keyStore = new SoftwareKeyStore({ kek: randomBytes(32) });
  const tmk = generateClearKey(suite.alg);
  const tak = generateClearKey(suite.alg);
  const tpk = generateClearKey(suite.alg);
  const keys = { tmk: `term:${id}:tmk`, tak: `term:${id}:tak`, tpk: `term:${id}:tpk` };
  await keyStore.importClearKey(keys.tmk, { algorithm: suite.alg, usage: 'tmk' }, tmk);
  await keyStore.importClearKey(keys.tak, { algorithm: suite.alg, usage: 'tak' }, tak);
  await keyStore.importClearKey(keys.tpk, { algorithm: suite.alg, usage: 'tpk' }, tpk);
  const record: TerminalRecord = {
    terminalId: id,
    status: 'active',
    framing: 'binary',
    macAlgorithm: suite.mac,
    pinFormat: suite.alg === 'tdes' ? 0 : 4,
    keys,
    sessionKeys: { algorithm: suite.alg },
    ...opts.record,
  };
  const directory = new InMemoryTerminalDirectory([record]);
  const replay = new InMemoryReplayGuard({ skewWindowMs: 300_000 });
  const h: Harness = {
    ctx: undefined as unknown as InboundContext,
    keyStore,
    directory,
    replay,
    terminal: new SimTerminal(id, suite, tmk, tak, tpk),
    record,
    clock: NOW,
    send: (bytes) => handleInbound(bytes, h.ctx),
  };
  (h as { ctx: InboundContext }).ctx = {
    directory,
    replay,
    keyStore,
    handlers: opts.handlers ?? {},
    now: () => h.clock,
  };
  return h;
}
