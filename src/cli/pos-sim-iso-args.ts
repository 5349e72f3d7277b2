import { intOption, parseArgs, stringOption, usage, type OptionSpec } from './args.js';
import { posCrypto, posTransport } from '../pos-gateway/index.js';

/**
 * `fuelcard pos-sim --iso8583` arguments: a terminal speaking ISO 8583 over TCP to the terminal
 * host (docs/pos-gateway.md), keyed from what the key ceremony handed the installer.
 */

export const ISO_SCENARIOS = ['signon', 'sale-flow', 'prepay', 'reversal', 'postpay', 'offline', 'reconcile', 'all', 'load'] as const;
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
    ['card', true],
    ['pin', true],
    ['pin-env', true],
    ['nozzle', true],
    ['pump', true],
    ['amount', true],
    ['unit-price', true],
    ['product', true],
    ['count', true],
    ['clients', true],
    ['seconds', true],
    ['time-zone', true],
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
  /** Cards (19 digits); `load` takes several, comma-separated, used in turn. */
  cards: string[];
  pin: { text: string } | { env: string } | null;
  /** The nozzles to sell on: one, or for `load` one per client (a list, or consecutive from the one given). */
  nozzles: number[];
  pump: number;
  /** fen; null = each scenario's default. */
  amount: number | null;
  /** fen per litre of the DE 63 fuel line; must be the station's price for the grade when it has one. */
  unitPrice: number;
  /** DE 63 product code of the nozzle's grade (92# → 92, -10# → M10). */
  product: string;
  count: number;
  clients: number;
  seconds: number;
  /** The station's IANA zone: DE 12 is station local time. */
  timeZone: string;
}

/** Which options each scenario takes (beyond the connection and key options every one takes). */
const SCENARIO_OPTIONS: Record<IsoScenario, readonly string[]> = {
  signon: [],
  'sale-flow': ['card', 'pin', 'pin-env', 'nozzle', 'pump', 'amount', 'unit-price', 'product'],
  prepay: ['card', 'pin', 'pin-env', 'nozzle', 'pump', 'amount', 'unit-price', 'product'],
  reversal: ['card', 'pin', 'pin-env', 'nozzle', 'pump', 'amount', 'unit-price', 'product'],
  postpay: ['card', 'pin', 'pin-env', 'nozzle', 'pump', 'amount', 'unit-price', 'product'],
  offline: ['card', 'nozzle', 'pump', 'amount', 'unit-price', 'product', 'count'],
  reconcile: ['nozzle', 'pump'],
  all: ['card', 'pin', 'pin-env', 'nozzle', 'pump', 'unit-price', 'product', 'count'],
  load: ['card', 'pin', 'pin-env', 'nozzle', 'pump', 'amount', 'unit-price', 'product', 'clients', 'seconds'],
};
const COMMON = new Set(['iso8583', 'host', 'port', 'terminal', 'tmk', 'tmk-env', 'tak', 'algorithm', 'mac-algorithm', 'framing', 'timeout-ms', 'time-zone']);
const NEEDS_CARD: readonly IsoScenario[] = ['sale-flow', 'prepay', 'reversal', 'postpay', 'offline', 'all', 'load'];
const NEEDS_PIN: readonly IsoScenario[] = ['sale-flow', 'prepay', 'reversal', 'postpay', 'all', 'load'];

const HEX = /^(?:[0-9a-fA-F]{2})+$/;

export function parsePosSimIsoArgs(argv: readonly string[]): PosSimIsoArgs {
  const parsed = parseArgs(argv, SPEC);
  const [scenario = 'signon', extra] = parsed.positionals;
  if (!(ISO_SCENARIOS as readonly string[]).includes(scenario)) {
    throw usage(`未知 ISO 8583 场景 "${scenario}"，可选：${ISO_SCENARIOS.join(' | ')}`, `unknown ISO 8583 scenario "${scenario}"; one of ${ISO_SCENARIOS.join(' | ')}`);
  }
  if (extra !== undefined) throw usage(`pos-sim --iso8583 不接受参数 "${extra}"`, `pos-sim --iso8583 takes no argument "${extra}"`);
  const sc = scenario as IsoScenario;
  for (const name of parsed.options.keys()) {
    if (!COMMON.has(name) && !SCENARIO_OPTIONS[sc].includes(name)) {
      throw usage(`场景 ${sc} 不接受 --${name}`, `scenario ${sc} does not take --${name}`);
    }
  }

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

  const cardArg = stringOption(parsed, 'card');
  const cards = cardArg === undefined ? [] : cardArg.split(',').map((c) => c.trim());
  if (cards.some((c) => !/^[0-9]{19}$/.test(c))) throw usage('--card 为 19 位卡号（load 可用逗号分隔多张）', '--card is a 19-digit card number (comma-separated for load)');
  if (cards.length > 1 && sc !== 'load') throw usage('只有 load 接受多张卡', 'only load takes several cards');
  if (cards.length > 1000) throw usage('--card 最多 1000 张', '--card takes at most 1000 cards');
  if (NEEDS_CARD.includes(sc) && cards.length === 0) throw usage(`场景 ${sc} 需要 --card`, `scenario ${sc} needs --card`);

  const pinArg = stringOption(parsed, 'pin');
  const pinEnv = stringOption(parsed, 'pin-env');
  if (pinArg !== undefined && pinEnv !== undefined) throw usage('--pin 与 --pin-env 二选一', 'give one of --pin and --pin-env');
  if (pinArg !== undefined && !/^[0-9]{4,12}$/.test(pinArg)) throw usage('--pin 为 4–12 位数字', '--pin is 4–12 digits');
  if (pinEnv !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(pinEnv)) throw usage(`--pin-env "${pinEnv}" 不是有效的环境变量名`, `--pin-env "${pinEnv}" is not an environment variable name`);
  if (NEEDS_PIN.includes(sc) && pinArg === undefined && pinEnv === undefined) throw usage(`场景 ${sc} 需要 --pin 或 --pin-env`, `scenario ${sc} needs --pin or --pin-env`);

  const clients = intOption(parsed, 'clients', 1, 200) ?? 2;
  const nozzleArg = stringOption(parsed, 'nozzle') ?? '1';
  if (!/^[0-9]{1,2}(,[0-9]{1,2})*$/.test(nozzleArg)) throw usage('--nozzle 为 1–99 的油枪号（load 可用逗号分隔）', '--nozzle is a nozzle 1–99 (comma-separated for load)');
  let nozzles = nozzleArg.split(',').map(Number);
  if (nozzles.length > 1 && sc !== 'load') throw usage('只有 load 接受多个油枪', 'only load takes several nozzles');
  // One open authorisation per nozzle: each load client needs its own.
  if (sc === 'load' && nozzles.length === 1) nozzles = Array.from({ length: clients }, (_, i) => nozzles[0]! + i);
  if (nozzles.some((n) => n < 1 || n > 99)) throw usage('油枪号须在 1–99 之间', 'nozzles are 1–99');
  if (new Set(nozzles).size !== nozzles.length) throw usage('--nozzle 重复', '--nozzle names a nozzle twice');
  if (sc === 'load' && nozzles.length < clients) throw usage(`${clients} 个客户端需要 ${clients} 个油枪`, `${clients} clients need ${clients} nozzles`);

  const product = stringOption(parsed, 'product') ?? '92';
  if (!/^[A-Za-z0-9]{1,8}$/.test(product)) throw usage('--product 为 1–8 位字母数字（92# → 92）', '--product is 1–8 letters or digits (92# → 92)');
  const timeZone = stringOption(parsed, 'time-zone') ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone });
  } catch {
    throw usage(`--time-zone "${timeZone}" 不是 IANA 时区`, `--time-zone "${timeZone}" is not an IANA zone`);
  }

  return {
    scenario: sc,
    host,
    port,
    isoTerminalId,
    tmk: tmkArg !== undefined ? { hex: tmkArg } : { env: tmkEnv! },
    tak: { encrypted: Buffer.from(encHex, 'hex'), kcv: kcvHex === undefined ? null : Buffer.from(kcvHex, 'hex') },
    algorithm,
    macAlgorithm: macRaw,
    framing,
    timeoutMs: intOption(parsed, 'timeout-ms', 100, 120_000) ?? 10_000,
    cards,
    pin: pinArg !== undefined ? { text: pinArg } : pinEnv !== undefined ? { env: pinEnv } : null,
    nozzles,
    pump: intOption(parsed, 'pump', 1, 99) ?? 1,
    amount: intOption(parsed, 'amount', 1, 100_000_000) ?? null,
    unitPrice: intOption(parsed, 'unit-price', 1, 100_000) ?? 800,
    product,
    count: intOption(parsed, 'count', 1, 200) ?? 3,
    clients,
    seconds: intOption(parsed, 'seconds', 1, 3600) ?? 10,
    timeZone,
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
