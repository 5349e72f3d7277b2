import { intOption, parseArgs, stringOption, usage, type OptionSpec } from './args.js';
import { posCrypto, posTransport } from '../pos-gateway/index.js';

/**
 * `fuelcard pos-sim --iso8583` arguments: a terminal speaking ISO 8583 over TCP to the terminal
 * host (docs/pos-gateway.md), keyed from what the key ceremony handed the installer.
 */

export const ISO_SCENARIOS = ['signon'] as const;
export type IsoScenario = (typeof ISO_SCENARIOS)[number];

const SPEC: Record<string, OptionSpec> = Object.fromEntries(
  [
    ['iso8583', false],
    ['host', true],
    ['port', true],
    ['terminal', true],
    ['tmk', true],
    ['tmk-env', true],
    ['tak', true],
    ['algorithm', true],
    ['mac-algorithm', true],
    ['framing', true],
    ['timeout-ms', true],
  ].map(([name, value]) => [name, { value: value as boolean }]),
);

/** Each key algorithm's MAC when none is named: the one the ceremony's own examples use. */
const DEFAULT_MAC: Record<posCrypto.KeyAlgorithm, posCrypto.MacAlgorithm> = { tdes: 'retail-tdes-pad2', aes: 'aes-cmac', sm4: 'sm4-cmac' };

export interface PosSimIsoArgs {
  scenario: IsoScenario;
  host: string;
  port: number;
  /** DE 41: 8 characters. */
  isoTerminalId: string;
  tmk: { hex: string } | { env: string };
  /** The initial TAK as the ceremony answers it: encrypted under the TMK, with its KCV when given. */
  tak: { encrypted: Buffer; kcv: Buffer | null };
  algorithm: posCrypto.KeyAlgorithm;
  macAlgorithm: posCrypto.MacAlgorithm;
  framing: posTransport.FramingKind;
  timeoutMs: number;
}

const HEX = /^(?:[0-9a-fA-F]{2})+$/;

export function parsePosSimIsoArgs(argv: readonly string[]): PosSimIsoArgs {
  const parsed = parseArgs(argv, SPEC);
  const [scenario = 'signon', extra] = parsed.positionals;
  if (!(ISO_SCENARIOS as readonly string[]).includes(scenario)) {
    throw usage(`未知 ISO 8583 场景 "${scenario}"，可选：${ISO_SCENARIOS.join(' | ')}`, `unknown ISO 8583 scenario "${scenario}"; one of ${ISO_SCENARIOS.join(' | ')}`);
  }
  if (extra !== undefined) throw usage(`pos-sim --iso8583 不接受参数 "${extra}"`, `pos-sim --iso8583 takes no argument "${extra}"`);

  const host = stringOption(parsed, 'host');
  if (host === undefined) throw usage('缺少 --host（终端主机地址）', 'missing --host (the terminal host)');
  const port = intOption(parsed, 'port', 1, 65535) ?? 8583;

  const isoTerminalId = stringOption(parsed, 'terminal');
  if (isoTerminalId === undefined) throw usage('缺少 --terminal（ISO 终端号 DE 41，8 位）', 'missing --terminal (the ISO terminal id, DE 41, 8 characters)');
  if (!/^[0-9A-Za-z]{8}$/.test(isoTerminalId)) {
    throw usage(`--terminal "${isoTerminalId}" 无效：ISO 终端号为 8 位（如 00000001，不带 T）`, `--terminal "${isoTerminalId}" is not valid: DE 41 is 8 characters (e.g. 00000001, no T)`);
  }

  const algorithm = (stringOption(parsed, 'algorithm') ?? 'tdes') as posCrypto.KeyAlgorithm;
  if (!['tdes', 'aes', 'sm4'].includes(algorithm)) throw usage('--algorithm 必须是 tdes | aes | sm4', '--algorithm must be tdes | aes | sm4');
  const macRaw = stringOption(parsed, 'mac-algorithm') ?? DEFAULT_MAC[algorithm];
  if (!posCrypto.isMacAlgorithm(macRaw)) throw usage(`--mac-algorithm 必须是 ${posCrypto.MAC_ALGORITHMS.join(' | ')}`, `--mac-algorithm must be ${posCrypto.MAC_ALGORITHMS.join(' | ')}`);
  if (posCrypto.macKeyAlgorithm(macRaw) !== algorithm) {
    throw usage(`MAC 算法 ${macRaw} 需要 ${posCrypto.macKeyAlgorithm(macRaw)} 密钥，而不是 ${algorithm}`, `${macRaw} needs a ${posCrypto.macKeyAlgorithm(macRaw)} key, not ${algorithm}`);
  }
  const framing = (stringOption(parsed, 'framing') ?? 'binary2') as posTransport.FramingKind;
  if (framing !== 'binary2' && framing !== 'ascii4') throw usage('--framing 必须是 binary2 | ascii4', '--framing must be binary2 | ascii4');

  const tmkArg = stringOption(parsed, 'tmk');
  const tmkEnv = stringOption(parsed, 'tmk-env');
  if ((tmkArg === undefined) === (tmkEnv === undefined)) {
    throw usage('需要 --tmk <hex 或 组件1+组件2> 或 --tmk-env <变量名>（二选一）', 'give one of --tmk <hex or component1+component2> and --tmk-env <VAR>');
  }
  if (tmkEnv !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(tmkEnv)) throw usage(`--tmk-env "${tmkEnv}" 不是有效的环境变量名`, `--tmk-env "${tmkEnv}" is not an environment variable name`);

  const takArg = stringOption(parsed, 'tak');
  if (takArg === undefined) {
    throw usage('缺少 --tak <加密的初始 MAC 密钥 hex>[:<KCV>]（密钥仪式的 initialMacKey）', 'missing --tak <encrypted initial MAC key hex>[:<KCV>] (the ceremony\'s initialMacKey)');
  }
  const [encHex = '', kcvHex, more] = takArg.split(':');
  if (more !== undefined || !HEX.test(encHex) || (kcvHex !== undefined && !HEX.test(kcvHex))) {
    throw usage('--tak 格式：<hex>[:<KCV hex>]', '--tak takes <hex>[:<KCV hex>]');
  }

  return {
    scenario: scenario as IsoScenario,
    host,
    port,
    isoTerminalId,
    tmk: tmkArg !== undefined ? { hex: tmkArg } : { env: tmkEnv! },
    tak: { encrypted: Buffer.from(encHex, 'hex'), kcv: kcvHex === undefined ? null : Buffer.from(kcvHex, 'hex') },
    algorithm,
    macAlgorithm: macRaw,
    framing,
    timeoutMs: intOption(parsed, 'timeout-ms', 100, 120_000) ?? 10_000,
  };
}

/**
 * The TMK from its text: one hex key, or the two clear components as the ceremony gave them,
 * joined with `+`, `,` or `:` — XORed here so the installer never has to do it by hand.
 */
export function parseTmk(text: string, algorithm: posCrypto.KeyAlgorithm): Buffer {
  const parts = text.trim().split(/[+,:]/);
  if (parts.length > 2 || parts.some((p) => !HEX.test(p))) {
    throw usage('TMK 必须是 hex，或两个 hex 组件用 + 连接', 'the TMK must be hex, or two hex components joined with +');
  }
  const bufs = parts.map((p) => Buffer.from(p, 'hex'));
  if (bufs.length === 2 && bufs[0]!.length !== bufs[1]!.length) throw usage('两个 TMK 组件长度不同', 'the two TMK components differ in length');
  const tmk = bufs.length === 2 ? Buffer.from(bufs[0]!.map((b, i) => b ^ bufs[1]![i]!)) : bufs[0]!;
  if (!posCrypto.validKeyLengths(algorithm).includes(tmk.length)) {
    throw usage(`TMK 长度 ${tmk.length} 字节不是 ${algorithm} 密钥`, `a TMK of ${tmk.length} bytes is not a ${algorithm} key`);
  }
  return tmk;
}
