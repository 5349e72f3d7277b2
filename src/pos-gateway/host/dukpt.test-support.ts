/**
 * TEST SUPPORT ONLY: a DUKPT terminal built from what the DUKPT key ceremony hands the installer
 * (initial key components + initial KSN) and the terminal-side originators of crypto/dukpt-*.ts.
 * It plays the PIN pad's secure memory, so it holds clear keys; production code never does.
 */
import type { TestServer } from '../../../test/support/server.js';
import { newStation, ok } from '../../../test/support/cards-factory.js';
import {
  AesDukptOriginator,
  aesKeyTypeOf,
  computeMac,
  deriveAesWorkingKeyFromDerivationKey,
  encipherPin,
  keyCheckValue,
  macEquals,
  TdesDukptOriginator,
  tdesVariant,
  type MacAlgorithm,
} from '../crypto/index.js';
import { decodeMessage, encodeWithMac, macData, type FieldValue, type IsoMessage } from '../iso8583/index.js';
import { formatTransmissionTime } from './inbound.js';
import { PROFILE } from './session.test-support.js';

/** The keys of one DUKPT transaction as the terminal holds them. */
export interface TxnKeys {
  readonly ksn: Buffer;
  readonly counter: number;
  readonly macRequest: Buffer;
  readonly macResponse: Buffer;
  readonly pin: Buffer;
}

export class DukptSimTerminal {
  readonly #orig: TdesDukptOriginator | AesDukptOriginator;
  #stan = 0;
  constructor(
    readonly id: string,
    readonly scheme: 'tdes' | 'aes',
    readonly mac: MacAlgorithm,
    readonly initialKey: Buffer,
    readonly initialKsn: Buffer,
  ) {
    this.#orig = scheme === 'tdes' ? new TdesDukptOriginator(initialKey, initialKsn) : new AesDukptOriginator(initialKey, initialKsn.subarray(0, 8));
  }

  nextStan(): string {
    this.#stan += 1;
    return String(this.#stan).padStart(6, '0');
  }

  /** The next transaction's KSN and working keys (the originator erases its register). */
  nextKeys(): TxnKeys {
    if (this.#orig instanceof TdesDukptOriginator) {
      const { ksn, counter, transactionKey } = this.#orig.next();
      return { ksn, counter, macRequest: tdesVariant(transactionKey, 'mac-request'), macResponse: tdesVariant(transactionKey, 'mac-response'), pin: tdesVariant(transactionKey, 'pin') };
    }
    const { ksn, counter, derivationKey } = this.#orig.next();
    const type = aesKeyTypeOf(this.initialKey);
    const w = (u: 'mac-gen' | 'mac-verify' | 'pin'): Buffer => deriveAesWorkingKeyFromDerivationKey(derivationKey, ksn, u, type);
    return { ksn, counter, macRequest: w('mac-gen'), macResponse: w('mac-verify'), pin: w('pin') };
  }

  /** A message MACed under `keys` (a fresh KSN by default) with the KSN in DE 53. `macKey` forges. */
  build(
    mti: string,
    fields: ReadonlyArray<readonly [number, FieldValue]>,
    opts: { at?: Date; stan?: string; local?: string; keys?: TxnKeys; macKey?: Buffer } = {},
  ): { bytes: Buffer; keys: TxnKeys } {
    const keys = opts.keys ?? this.nextKeys();
    const f = new Map<number, FieldValue>([
      [7, formatTransmissionTime(opts.at ?? new Date())],
      [11, opts.stan ?? this.nextStan()],
      [12, opts.local ?? '261128161530'],
      [41, this.id],
      [53, keys.ksn],
    ]);
    for (const [n, v] of fields) f.set(n, v);
    const key = opts.macKey ?? keys.macRequest;
    return { bytes: encodeWithMac({ mti, fields: f }, (d) => computeMac(this.mac, key, d), PROFILE), keys };
  }

  /** PIN block (DE 52) under the transaction's PIN key: format 0 (TDES) or 4 (AES). */
  pinBlock(keys: TxnKeys, pin: string, pan: string): Buffer {
    return encipherPin({ format: this.scheme === 'tdes' ? 0 : 4, algorithm: this.scheme, key: keys.pin, pin, pan });
  }

  /** Decodes an answer and checks its MAC under the transaction's response MAC key. */
  read(bytes: Buffer, keys: TxnKeys): { msg: IsoMessage; macOk: boolean; hasMac: boolean } {
    const d = decodeMessage(bytes, PROFILE);
    if (!d.ok) throw new Error(`answer does not decode: ${d.error.code} ${d.error.detail}`);
    const md = macData(bytes, PROFILE);
    if (!md.ok) throw new Error('macData failed');
    const macOk = md.mac !== null && macEquals(computeMac(this.mac, keys.macResponse, md.data), md.mac);
    return { msg: d.message, macOk, hasMac: md.mac !== null };
  }
}

/** The DUKPT key ceremony through the staff API, and the terminal built from what the installer receives. */
export async function dukptCeremony(
  s: TestServer,
  scheme: 'tdes' | 'aes' = 'tdes',
  extra: { bdkId?: string } = {},
): Promise<{ sim: DukptSimTerminal; terminalId: string; body: any }> {
  const { terminal } = await newStation(s);
  const mac: MacAlgorithm = scheme === 'tdes' ? 'retail-tdes-pad2' : 'aes-cmac';
  const body = ok(
    await s.api('POST', `/api/v1/terminals/${terminal.terminalId}/iso-keys`, {
      body: { keyManagement: 'dukpt', algorithm: scheme, macAlgorithm: mac, pinFormat: scheme === 'tdes' ? 0 : 4, ...extra },
    }),
    200,
    'DUKPT key ceremony',
  );
  const c = body.dukpt.initialKey.components.map((p: { hex: string }) => Buffer.from(p.hex, 'hex')) as [Buffer, Buffer];
  const ik = Buffer.from(c[0].map((b, i) => b ^ c[1][i]!));
  if (keyCheckValue(scheme, ik).toString('hex').toUpperCase() !== body.dukpt.initialKey.kcv) throw new Error('initial key KCV does not match');
  return { sim: new DukptSimTerminal(body.isoTerminalId, scheme, mac, ik, Buffer.from(body.dukpt.initialKsn, 'hex')), terminalId: terminal.terminalId, body };
}
