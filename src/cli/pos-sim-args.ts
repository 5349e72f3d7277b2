import { intOption, parseArgs, stringOption, usage, type OptionSpec } from './args.js';
import type { StoreItem } from './pos-sim-flows.js';

/**
 * `fuelcard pos-sim` arguments. Each scenario takes only the options that mean something to
 * it: a --deliver given to a plain sale is refused, not silently ignored.
 */

export const SCENARIOS = ['sale', 'preauth', 'prepay', 'postpay', 'reversal', 'void', 'offline', 'shift-close', 'demo', 'load'] as const;
export type Scenario = (typeof SCENARIOS)[number];

const COMMON = ['url', 'terminal', 'secret-env', 'secret-stdin', 'json', 'timeout-ms', 'journal', 'nozzle'];
const CARD = ['card', 'pin'];
const PER_SCENARIO: Record<Scenario, string[]> = {
  sale: [...CARD, 'amount', 'items'],
  preauth: [...CARD, 'amount', 'deliver'],
  prepay: [...CARD, 'amount', 'deliver'],
  postpay: [...CARD, 'amount', 'items'],
  reversal: [...CARD, 'amount'],
  void: [...CARD, 'amount', 'cashier'],
  offline: [...CARD, 'amount', 'count', 'hot-card', 'batch-size'],
  'shift-close': ['cashier', 'end-of-day', 'miscount'],
  demo: [...CARD, 'hot-card', 'cashier'],
  load: [...CARD, 'clients', 'duration'],
};
const FLAGS = new Set(['secret-stdin', 'json', 'end-of-day', 'miscount']);
const SPEC: Record<string, OptionSpec> = Object.fromEntries(
  [...new Set([...COMMON, ...Object.values(PER_SCENARIO).flat()])].map((name) => [name, { value: !FLAGS.has(name) }]),
);

export interface PosSimArgs {
  scenario: Scenario;
  url: string;
  terminalId: string;
  secret: { env: string } | { stdin: true };
  json: boolean;
  timeoutMs: number;
  journal?: string;
  nozzle?: number;
  /** One card, or several for load. */
  cards: string[];
  pin: string;
  amount?: number;
  deliver?: number;
  items?: StoreItem[];
  count?: number;
  hotCard?: string;
  batchSize?: number;
  cashier?: string;
  endOfDay: boolean;
  miscount: boolean;
  clients: number;
  durationS: number;
}

const CARD_NO = /^\d{1,19}$/;

export function parsePosSimArgs(argv: readonly string[]): PosSimArgs {
  const parsed = parseArgs(argv, SPEC);
  const [scenario, extra] = parsed.positionals;
  if (scenario === undefined) throw usage(`缺少场景：${SCENARIOS.join(' | ')}`, `no scenario given: ${SCENARIOS.join(' | ')}`);
  if (!(SCENARIOS as readonly string[]).includes(scenario)) throw usage(`未知场景 "${scenario}"，可选：${SCENARIOS.join(' | ')}`, `unknown scenario "${scenario}"; one of ${SCENARIOS.join(' | ')}`);
  if (extra !== undefined) throw usage(`pos-sim 不接受参数 "${extra}"`, `pos-sim takes no argument "${extra}"`);
  const s = scenario as Scenario;
  const allowed = new Set([...COMMON, ...PER_SCENARIO[s]]);
  for (const name of parsed.options.keys()) {
    if (!allowed.has(name)) throw usage(`场景 ${s} 不接受选项 --${name}`, `scenario ${s} takes no option --${name}`);
  }

  const url = stringOption(parsed, 'url');
  if (url === undefined) throw usage('缺少 --url（服务器地址，如 http://localhost:3000）', 'missing --url (the server, e.g. http://localhost:3000)');
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(url);
  } catch {
    throw usage(`--url "${url}" 不是有效地址`, `--url "${url}" is not a valid URL`);
  }
  if (parsedUrl.protocol !== 'http:' && parsedUrl.protocol !== 'https:') throw usage('--url 必须是 http:// 或 https://', '--url must be http:// or https://');

  const terminalId = stringOption(parsed, 'terminal');
  if (terminalId === undefined) throw usage('缺少 --terminal（终端号，如 T00000001）', 'missing --terminal (the terminal id, e.g. T00000001)');
  if (!/^T\d{8}$/.test(terminalId)) throw usage(`--terminal "${terminalId}" 无效：T 加 8 位数字`, `--terminal "${terminalId}" is not valid: T and 8 digits`);

  const secretEnv = stringOption(parsed, 'secret-env');
  const secretStdin = parsed.options.has('secret-stdin');
  if (secretEnv !== undefined && secretStdin) throw usage('--secret-env 与 --secret-stdin 只能用一个', 'use either --secret-env or --secret-stdin, not both');
  if (secretEnv === undefined && !secretStdin) throw usage('缺少终端密钥：--secret-env <变量名> 或 --secret-stdin', 'missing the terminal secret: --secret-env <VAR> or --secret-stdin');
  if (secretEnv !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(secretEnv)) throw usage(`--secret-env "${secretEnv}" 不是有效的环境变量名`, `--secret-env "${secretEnv}" is not an environment variable name`);

  const needsCard = PER_SCENARIO[s].includes('card');
  const cardArg = stringOption(parsed, 'card');
  const cards = cardArg === undefined ? [] : cardArg.split(',').map((c) => c.trim());
  if (needsCard && cards.length === 0) throw usage(`场景 ${s} 需要 --card`, `scenario ${s} needs --card`);
  if (cards.length > 1 && s !== 'load') throw usage('只有 load 接受多张卡（逗号分隔）', 'only load takes several cards (comma-separated)');
  if (cards.length > 1000) throw usage('--card 最多 1000 张', '--card takes at most 1000 cards');
  for (const c of cards) if (!CARD_NO.test(c)) throw usage(`--card "${c}" 不是卡号（最多 19 位数字）`, `--card "${c}" is not a card number (up to 19 digits)`);
  const pin = stringOption(parsed, 'pin');
  if (needsCard && pin === undefined) throw usage(`场景 ${s} 需要 --pin`, `scenario ${s} needs --pin`);
  if (pin !== undefined && !/^\d{4,12}$/.test(pin)) throw usage('--pin 必须是 4–12 位数字', '--pin must be 4–12 digits');

  const hotCard = stringOption(parsed, 'hot-card');
  if (hotCard !== undefined && !CARD_NO.test(hotCard)) throw usage(`--hot-card "${hotCard}" 不是卡号`, `--hot-card "${hotCard}" is not a card number`);
  const cashier = stringOption(parsed, 'cashier');
  if (cashier !== undefined && cashier.length > 40) throw usage('--cashier 最多 40 个字符', '--cashier takes at most 40 characters');

  return {
    scenario: s,
    url: url.replace(/\/+$/, ''),
    terminalId,
    secret: secretEnv !== undefined ? { env: secretEnv } : { stdin: true },
    json: parsed.options.has('json'),
    timeoutMs: intOption(parsed, 'timeout-ms', 100, 120_000) ?? 15_000,
    journal: stringOption(parsed, 'journal'),
    nozzle: intOption(parsed, 'nozzle', 1, 99),
    cards,
    pin: pin ?? '',
    amount: intOption(parsed, 'amount', 1, 100_000_000),
    deliver: intOption(parsed, 'deliver', 1, 100_000_000),
    items: parseItems(stringOption(parsed, 'items')),
    count: intOption(parsed, 'count', 1, 200),
    hotCard,
    batchSize: intOption(parsed, 'batch-size', 1, 200),
    cashier,
    endOfDay: parsed.options.has('end-of-day'),
    miscount: parsed.options.has('miscount'),
    clients: intOption(parsed, 'clients', 1, 200) ?? 4,
    durationS: intOption(parsed, 'duration', 1, 3600) ?? 10,
  };
}

/** `SKU:QTY,SKU:QTY` (quantity 1 when left out). */
export function parseItems(raw: string | undefined): StoreItem[] | undefined {
  if (raw === undefined) return undefined;
  const items = raw.split(',').map((part) => {
    const [sku = '', qty = '1', more] = part.trim().split(':');
    if (more !== undefined || !/^[A-Za-z0-9_-]{1,32}$/.test(sku) || !/^\d{1,3}$/.test(qty) || Number(qty) < 1) {
      throw usage(`--items "${part}" 无效：商品编码:数量（1–999）`, `--items "${part}" is not valid: SKU:QUANTITY (1–999)`);
    }
    return { sku, quantity: Number(qty) };
  });
  if (items.length > 50) throw usage('--items 最多 50 行', '--items takes at most 50 lines');
  return items;
}
