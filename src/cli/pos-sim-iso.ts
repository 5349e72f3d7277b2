import { CliUsageError, usage } from './args.js';
import { parsePosSimIsoArgs, parseTmk, type PosSimIsoArgs } from './pos-sim-iso-args.js';
import type { PosSimIo } from './pos-sim-core.js';
import { iso8583, posCrypto, posHost, posTransport } from '../pos-gateway/index.js';

/**
 * `fuelcard pos-sim --iso8583`: a PIN pad talking ISO 8583 to the terminal host (docs/pos-sim.md).
 * It holds clear keys, as the pad's secure memory does; it is a test and installation tool.
 * Scenario `signon`: sign on (1804/801), echo (1820/831), key change (1804/811), echo, sign off (1804/802).
 */

const PROFILE = posHost.withKeyManagement(iso8583.IFSF_PROFILE);

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

/** DE 12, the terminal's local date and time: YYMMDDhhmmss. */
function localDateTime(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${p(d.getFullYear() % 100)}${p(d.getMonth() + 1)}${p(d.getDate())}${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

interface Keys {
  tak: Buffer;
  takVersion: number;
  tpk: Buffer | null;
}

class IsoTerminal {
  #stan = Math.floor(Math.random() * 900_000);
  constructor(
    readonly a: PosSimIsoArgs,
    readonly tmk: Buffer,
    readonly keys: Keys,
    readonly client: posTransport.IsoClient,
    readonly say: (line: string) => void,
  ) {}

  /**
   * One request and its answer. The answer's MAC is checked under `macKey` (the current TAK, or
   * for a key delivery the TAK that came with it); an unMACed answer is the host saying it could
   * not authenticate us, so its action code is all we show.
   */
  async exchange(mti: string, fc: string, onKeys?: (msg: iso8583.IsoMessage, bytes: Buffer) => Buffer): Promise<{ msg: iso8583.IsoMessage; ms: number }> {
    this.#stan = (this.#stan % 999_999) + 1;
    const stan = String(this.#stan).padStart(6, '0');
    const now = new Date();
    const fields = new Map<number, iso8583.FieldValue>([
      [7, posHost.formatTransmissionTime(now)],
      [11, stan],
      [12, localDateTime(now)],
      [24, fc],
      [41, this.a.isoTerminalId],
      [53, posHost.encodeDe53({ mac: this.keys.takVersion })],
    ]);
    const bytes = iso8583.encodeWithMac({ mti, fields }, (d) => posCrypto.computeMac(this.a.macAlgorithm, this.keys.tak, d), PROFILE);
    const started = Date.now();
    this.client.send(bytes);
    let answer: Buffer;
    try {
      answer = await this.client.next(this.a.timeoutMs);
    } catch (e) {
      const code = e instanceof posTransport.TransportError ? e.code : 'TRANSPORT';
      throw new IsoSimFailure('ISO_NO_ANSWER', `主机未应答 ${mti}（${code}）`, `no answer from the host to ${mti} (${code})`);
    }
    const ms = Date.now() - started;
    const d = iso8583.decodeMessage(answer, PROFILE);
    if (!d.ok) throw new IsoSimFailure('ISO_BAD_ANSWER', `应答无法解码：${d.error.code}`, `the answer does not decode: ${d.error.code} ${d.error.detail}`);
    const msg = d.message;
    if (msg.fields.get(11) !== stan) throw new IsoSimFailure('ISO_BAD_ANSWER', `应答流水号不符 ${String(msg.fields.get(11))}`, `the answer's STAN ${String(msg.fields.get(11))} is not ${stan}`);
    const action = String(msg.fields.get(39) ?? '');
    const md = iso8583.macData(answer, PROFILE);
    const hasMac = md.ok && md.mac !== null;
    if (action !== posHost.ACTION.networkAccepted) {
      const meaning = posHost.ACTION_CODE_MEANINGS[action] ?? 'unknown';
      throw new IsoSimFailure(
        'ISO_HOST_DECLINED',
        `主机拒绝 ${mti}/${fc}：应答码 ${action}${hasMac ? '' : '（无 MAC：主机未能验证本终端）'}`,
        `the host refused ${mti}/${fc}: action ${action} ${meaning}${hasMac ? '' : ' (unMACed: the host could not authenticate this terminal)'}`,
      );
    }
    const macKey = onKeys ? onKeys(msg, answer) : this.keys.tak;
    if (!md.ok || md.mac === null || !posCrypto.macEquals(posCrypto.computeMac(this.a.macAlgorithm, macKey, md.data), md.mac)) {
      throw new IsoSimFailure('ISO_ANSWER_MAC_INVALID', `${mti} 应答的 MAC 校验失败`, `the MAC of the answer to ${mti} does not verify`);
    }
    return { msg, ms };
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
        clear = posCrypto.unwrapKeyChecked(this.a.algorithm, this.tmk, k.algorithm, k.encrypted, k.kcv, k.wrapMethod);
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

  /** Sign-on and key change: the answer is MACed under the NEW TAK, which proves the whole delivery. */
  async deliverKeys(fc: string, label: string): Promise<void> {
    let got: ReturnType<IsoTerminal['unwrapDelivered']> | undefined;
    const { ms } = await this.exchange('1804', fc, (msg) => {
      got = this.unwrapDelivered(msg);
      return got.tak;
    });
    const kcv = (k: Buffer): string => posCrypto.keyCheckValue(this.a.algorithm, k, { length: 3 }).toString('hex').toUpperCase();
    this.keys.tak.fill(0);
    this.keys.tpk?.fill(0);
    this.keys.tak = got!.tak;
    this.keys.tpk = got!.tpk;
    this.keys.takVersion = got!.takVersion;
    this.say(`  ✓ ${label}：800  TAK v${got!.takVersion} KCV ${kcv(got!.tak)} · TPK v${got!.tpkVersion} KCV ${kcv(got!.tpk)} · 应答 MAC 正确 / answer MAC ok (${ms} ms)`);
  }

  async echo(): Promise<void> {
    const { ms } = await this.exchange('1820', posHost.NETWORK_FUNCTION.echo);
    this.say(`  ✓ 回响 echo 1820/831 → 1830 800 · MAC v${this.keys.takVersion} 正确 / ok (${ms} ms)`);
  }
}

function initialTak(a: PosSimIsoArgs, tmk: Buffer): Buffer {
  try {
    if (a.tak.kcv) return posCrypto.unwrapKeyChecked(a.algorithm, tmk, a.algorithm, a.tak.encrypted, a.tak.kcv, 'ecb');
    const key = posCrypto.unwrapKey(a.algorithm, tmk, a.tak.encrypted, 'ecb');
    if (!posCrypto.validKeyLengths(a.algorithm).includes(key.length)) throw usage(`--tak 解密后 ${key.length} 字节，不是 ${a.algorithm} 密钥`, `--tak unwraps to ${key.length} bytes, not a ${a.algorithm} key`);
    return key;
  } catch (e) {
    if (posCrypto.isPosCryptoError(e) && e.code === 'KCV_MISMATCH') {
      throw new IsoSimFailure('ISO_KCV_MISMATCH', '初始 MAC 密钥校验值不符：TMK 或 --tak 不对', 'the initial MAC key fails its check value: wrong TMK or --tak');
    }
    if (posCrypto.isPosCryptoError(e)) throw usage(`--tak 无效：${e.message}`, `--tak is invalid: ${e.message}`);
    throw e;
  }
}

export async function runPosSimIso(argv: readonly string[], io: PosSimIo): Promise<number> {
  const fail = (code: string, zh: string, en: string, exit: number): number => {
    io.stderr(`fuelcard pos-sim: [${code}] ${zh} / ${en}\n`);
    if (exit === 2) io.stderr('运行 fuelcard help 查看用法 / run `fuelcard help` for usage; see docs/pos-sim.md\n');
    return exit;
  };
  let client: posTransport.IsoClient | undefined;
  const say = (line: string): void => io.stdout(`${line}\n`);
  try {
    const a = parsePosSimIsoArgs(argv);
    const tmkText = 'hex' in a.tmk ? a.tmk.hex : io.env[a.tmk.env];
    if (!tmkText) throw usage(`环境变量 ${'env' in a.tmk ? a.tmk.env : ''} 未设置或为空`, `environment variable ${'env' in a.tmk ? a.tmk.env : ''} is not set or empty`);
    const tmk = parseTmk(tmkText, a.algorithm);
    const tak = initialTak(a, tmk);
    try {
      client = await posTransport.connectIsoClient({ host: a.host, port: a.port, framing: a.framing });
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      throw new IsoSimFailure('CLI_SERVER_UNREACHABLE', `无法连接终端主机 ${a.host}:${a.port}：${reason}`, `cannot reach the terminal host ${a.host}:${a.port}: ${reason}`);
    }
    say(`ISO 8583 终端 terminal ${a.isoTerminalId} · ${a.algorithm}/${a.macAlgorithm} · ${a.framing} · tcp://${a.host}:${a.port}`);
    const t = new IsoTerminal(a, tmk, { tak, takVersion: 1, tpk: null }, client, say);
    say('→ 签到 / sign on 1804/801');
    await t.deliverKeys(posHost.NETWORK_FUNCTION.signOn, '签到 signed on');
    say('→ 回响 / echo');
    await t.echo();
    say('→ 换密钥 / key change 1804/811');
    await t.deliverKeys(posHost.NETWORK_FUNCTION.keyChange, '换密钥 keys changed');
    say('→ 回响 / echo');
    await t.echo();
    say('→ 签退 / sign off 1804/802');
    const off = await t.exchange('1804', posHost.NETWORK_FUNCTION.signOff);
    say(`  ✓ 签退 signed off：800 (${off.ms} ms)`);
    say('\n结果 / result: ✓ 符合预期 / as expected');
    return 0;
  } catch (err) {
    if (err instanceof CliUsageError) return fail(err.code, err.zh, err.en, 2);
    if (err instanceof IsoSimFailure) {
      io.stdout('\n结果 / result: ✗ 未达预期 / not as expected\n');
      return fail(err.code, err.zh, err.en, 1);
    }
    const m = err instanceof Error ? err.message : String(err);
    return fail('CLI_FAILED', `失败：${m}`, `failed: ${m}`, 1);
  } finally {
    client?.close();
  }
}
