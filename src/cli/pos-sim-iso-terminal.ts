import { iso8583, posCrypto, posHost, posTransport } from '../pos-gateway/index.js';

/**
 * The PIN pad side of `fuelcard pos-sim --iso8583`: keys, STAN counter, one framed connection and
 * the request/answer exchange with its checks (STAN echoed, MAC under the TAK). It holds clear
 * keys, as the pad's secure memory does; it is a test and installation tool, never the host.
 * Shared by the scenarios (pos-sim-iso-flows.ts), the load (pos-sim-iso-load.ts) and bench/pos-iso.ts.
 */

export const PROFILE = posHost.withKeyManagement(iso8583.IFSF_PROFILE);

export class IsoSimFailure extends Error {
  constructor(
    readonly code: string,
    readonly zh: string,
    readonly en: string,
  ) {
    super(`${zh} / ${en}`);
    this.name = 'IsoSimFailure';
  }
}

export interface IsoTerminalConfig {
  /** DE 41. */
  readonly isoTerminalId: string;
  readonly algorithm: posCrypto.KeyAlgorithm;
  readonly macAlgorithm: posCrypto.MacAlgorithm;
  /** The station's zone: DE 12 is station local time (the host reads offline sale times in it). */
  readonly timeZone: string;
  readonly timeoutMs: number;
}

/**
 * One terminal's secure memory and counters, shared by every connection it opens (the host keys a
 * session per terminal, not per connection, and refuses a STAN it has seen within the window).
 */
export class IsoTerminalState {
  tak: Buffer;
  takVersion = 1;
  tpk: Buffer | null = null;
  #stan: number;
  constructor(
    readonly cfg: IsoTerminalConfig,
    readonly tmk: Buffer,
    initialTak: Buffer,
  ) {
    this.tak = initialTak;
    // A random start: two runs of the same terminal within one second never reuse an identity.
    this.#stan = Math.floor(Math.random() * 900_000);
  }

  nextStan(): string {
    this.#stan = (this.#stan % 999_999) + 1;
    return String(this.#stan).padStart(6, '0');
  }

  /**
   * 48-4 BBBBSSSSSS. The batch is drawn per run (the simulator keeps no journal between runs); an
   * offline advice's batch/sequence names its sale (iso-BBBB-SSSSSS), so it must not repeat.
   */
  readonly batch = String(1000 + Math.floor(Math.random() * 9000));
  #seq = 0;
  nextBatchSequence(): string {
    this.#seq = (this.#seq % 999_999) + 1;
    return `${this.batch}${String(this.#seq).padStart(6, '0')}`;
  }

  localTime(at: Date): string {
    return localDateTime(at, this.cfg.timeZone);
  }
}

/** DE 12 YYMMDDhhmmss in `zone`. */
export function localDateTime(at: Date, zone: string): string {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: zone,
    year: '2-digit',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(at);
  const v = (t: string): string => parts.find((x) => x.type === t)!.value;
  return `${v('year')}${v('month')}${v('day')}${v('hour')}${v('minute')}${v('second')}`;
}

export interface IsoAnswer {
  readonly mti: string;
  readonly stan: string;
  readonly local: string;
  readonly msg: iso8583.IsoMessage;
  readonly action: string;
  /** The answer carried a MAC and it verified under the key the exchange expected. */
  readonly macOk: boolean;
  readonly hasMac: boolean;
  readonly ms: number;
  field(n: number): iso8583.FieldValue | undefined;
}

export interface SendOptions {
  stan?: string;
  local?: string;
  /** The key the answer's MAC is checked under, from the answer itself (a key delivery's new TAK). */
  answerKey?: (msg: iso8583.IsoMessage) => Buffer;
}

export const meaningOf = (action: string): string => posHost.ACTION_CODE_MEANINGS[action] ?? 'unknown';

/** One connection of a terminal. Requests are not pipelined: one in flight, like a closed-loop terminal. */
export class IsoLink {
  constructor(
    readonly t: IsoTerminalState,
    readonly client: posTransport.IsoClient,
  ) {}

  static async open(t: IsoTerminalState, host: string, port: number, framing: posTransport.FramingKind): Promise<IsoLink> {
    try {
      const client = await posTransport.connectIsoClient({ host, port, framing });
      // One frame per request, then wait: nothing to coalesce, so no Nagle delay on a pad's link.
      client.socket.setNoDelay(true);
      return new IsoLink(t, client);
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      throw new IsoSimFailure('CLI_SERVER_UNREACHABLE', `无法连接终端主机 ${host}:${port}：${reason}`, `cannot reach the terminal host ${host}:${port}: ${reason}`);
    }
  }

  close(): void {
    this.client.close();
  }

  /** The request's bytes: DE 7, 11, 12, 41, 53 set here, `fields` over them, MACed under the TAK. */
  build(mti: string, fields: ReadonlyArray<readonly [number, iso8583.FieldValue]>, stan: string, local: string, at = new Date()): Buffer {
    const f = new Map<number, iso8583.FieldValue>([
      [7, posHost.formatTransmissionTime(at)],
      [11, stan],
      [12, local],
      [41, this.t.cfg.isoTerminalId],
    ]);
    for (const [n, v] of fields) f.set(n, v);
    f.set(53, posHost.encodeDe53({ mac: this.t.takVersion }));
    return iso8583.encodeWithMac({ mti, fields: f }, (d) => posCrypto.computeMac(this.t.cfg.macAlgorithm, this.t.tak, d), PROFILE);
  }

  /** Sends one request and reads its answer; throws only for no answer or an answer that is not one. */
  async send(mti: string, fields: ReadonlyArray<readonly [number, iso8583.FieldValue]>, opts: SendOptions = {}): Promise<IsoAnswer> {
    const stan = opts.stan ?? this.t.nextStan();
    const now = new Date();
    const local = opts.local ?? this.t.localTime(now);
    const bytes = this.build(mti, fields, stan, local, now);
    const started = performance.now();
    this.client.send(bytes);
    let answer: Buffer;
    try {
      answer = await this.client.next(this.t.cfg.timeoutMs);
    } catch (e) {
      const code = e instanceof posTransport.TransportError ? e.code : 'TRANSPORT';
      throw new IsoSimFailure('ISO_NO_ANSWER', `主机未应答 ${mti}（${code}）`, `no answer from the host to ${mti} (${code})`);
    }
    const ms = performance.now() - started;
    const d = iso8583.decodeMessage(answer, PROFILE);
    if (!d.ok) throw new IsoSimFailure('ISO_BAD_ANSWER', `应答无法解码：${d.error.code}`, `the answer does not decode: ${d.error.code} ${d.error.detail}`);
    const msg = d.message;
    if (msg.fields.get(11) !== stan) throw new IsoSimFailure('ISO_BAD_ANSWER', `应答流水号不符 ${String(msg.fields.get(11))}`, `the answer's STAN ${String(msg.fields.get(11))} is not ${stan}`);
    const action = String(msg.fields.get(39) ?? '');
    const md = iso8583.macData(answer, PROFILE);
    const hasMac = md.ok && md.mac !== null;
    let macOk = false;
    if (hasMac && md.ok && md.mac !== null) {
      const key = opts.answerKey ? opts.answerKey(msg) : this.t.tak;
      macOk = posCrypto.macEquals(posCrypto.computeMac(this.t.cfg.macAlgorithm, key, md.data), md.mac);
    }
    return { mti: msg.mti, stan, local, msg, action, macOk, hasMac, ms, field: (n) => msg.fields.get(n) };
  }

  /**
   * An answer the scenario needs to be one of `expected`, MACed. An unMACed answer is the host
   * saying it could not authenticate us, so its action code is what we report.
   */
  static expect(a: IsoAnswer, request: string, expected: readonly string[]): IsoAnswer {
    if (!expected.includes(a.action)) {
      throw new IsoSimFailure(
        'ISO_HOST_DECLINED',
        `主机拒绝 ${request}：应答码 ${a.action}${a.hasMac ? '' : '（无 MAC：主机未能验证本终端）'}`,
        `the host refused ${request}: action ${a.action} ${meaningOf(a.action)}${a.hasMac ? '' : ' (unMACed: the host could not authenticate this terminal)'} (expected ${expected.join('/')})`,
      );
    }
    if (!a.macOk) throw new IsoSimFailure('ISO_ANSWER_MAC_INVALID', `${request} 应答的 MAC 校验失败`, `the MAC of the answer to ${request} does not verify`);
    return a;
  }

  /** What the pad does with a 1814 carrying keys: unwrap each under the TMK and check its KCV. */
  unwrapDelivered(msg: iso8583.IsoMessage): { tak: Buffer; tpk: Buffer; takVersion: number; tpkVersion: number } {
    const de96 = msg.fields.get(posHost.KEY_MANAGEMENT_FIELD);
    if (!Buffer.isBuffer(de96)) throw new IsoSimFailure('ISO_BAD_ANSWER', '1814 没有 DE 96（会话密钥）', 'the 1814 carries no DE 96 (session keys)');
    const keys = posHost.decodeDe96(de96);
    if (!keys.ok) throw new IsoSimFailure('ISO_BAD_ANSWER', `DE 96 无效：${keys.detail}`, `DE 96 is invalid: ${keys.detail}`);
    let tak: { key: Buffer; version: number } | null = null;
    let tpk: { key: Buffer; version: number } | null = null;
    for (const k of keys.value) {
      let clear: Buffer;
      try {
        clear = posCrypto.unwrapKeyChecked(this.t.cfg.algorithm, this.t.tmk, k.algorithm, k.encrypted, k.kcv, k.wrapMethod);
      } catch (e) {
        const code = posCrypto.isPosCryptoError(e) ? e.code : 'UNWRAP';
        throw new IsoSimFailure('ISO_KCV_MISMATCH', `会话密钥 ${k.usage} 解密后校验值不符（${code}）：TMK 不对？`, `session key ${k.usage} fails its check value (${code}): wrong TMK?`);
      }
      if (k.usage === 'tak') tak = { key: clear, version: k.version };
      if (k.usage === 'tpk') tpk = { key: clear, version: k.version };
    }
    if (!tak || !tpk) throw new IsoSimFailure('ISO_BAD_ANSWER', 'DE 96 缺少 TAK 或 TPK', 'DE 96 lacks the TAK or the TPK');
    const de53 = msg.fields.get(53);
    const named = Buffer.isBuffer(de53) ? posHost.decodeDe53(de53) : null;
    if (!named?.ok || named.value.mac !== tak.version) {
      throw new IsoSimFailure('ISO_BAD_ANSWER', 'DE 53 未指明新下发的 MAC 密钥版本', 'DE 53 does not name the delivered MAC key version');
    }
    return { tak: tak.key, tpk: tpk.key, takVersion: tak.version, tpkVersion: tpk.version };
  }

  /** Sign-on (801) or key change (811): the answer is MACed under the NEW TAK, which proves the whole delivery. */
  async deliverKeys(fc: string): Promise<{ takVersion: number; tpkVersion: number; takKcv: string; tpkKcv: string; ms: number }> {
    let got: ReturnType<IsoLink['unwrapDelivered']> | undefined;
    const a = await this.send('1804', [[24, fc]], {
      answerKey: (msg) => {
        // Unwrapped only for an accepted answer: a refusal carries no keys and is reported by its code.
        if (String(msg.fields.get(39) ?? '') !== posHost.ACTION.networkAccepted) return this.t.tak;
        got = this.unwrapDelivered(msg);
        return got.tak;
      },
    });
    IsoLink.expect(a, `1804/${fc}`, [posHost.ACTION.networkAccepted]);
    const kcv = (k: Buffer): string => posCrypto.keyCheckValue(this.t.cfg.algorithm, k, { length: 3 }).toString('hex').toUpperCase();
    this.t.tak.fill(0);
    this.t.tpk?.fill(0);
    this.t.tak = got!.tak;
    this.t.tpk = got!.tpk;
    this.t.takVersion = got!.takVersion;
    return { takVersion: got!.takVersion, tpkVersion: got!.tpkVersion, takKcv: kcv(got!.tak), tpkKcv: kcv(got!.tpk), ms: a.ms };
  }

  /** DE 52 under the TPK of the last sign-on: format 0 with TDES, format 4 with AES / SM4 (the ceremony's rule). */
  pinBlock(pan: string, pin: string): Buffer {
    if (!this.t.tpk) throw new IsoSimFailure('ISO_NOT_SIGNED_ON', '尚无 PIN 密钥：先签到', 'no PIN key yet: sign on first');
    const format = this.t.cfg.algorithm === 'tdes' ? 0 : 4;
    return posCrypto.encryptPinBlock(format, this.t.cfg.algorithm, this.t.tpk, Buffer.from([...pin].map(Number)), pan);
  }

  /** 48-14: the PIN method the block was made with. */
  pinMethod(): string {
    const m = iso8583.PIN_METHODS;
    return this.t.cfg.algorithm === 'tdes' ? m.tdesFormat0 : this.t.cfg.algorithm === 'aes' ? m.aesFormat4 : m.sm4Format0;
  }
}
