/**
 * A small argument parser for the `fuelcard` command: `--name value`, `--name=value` and
 * boolean flags. Anything it does not know is refused, because a mistyped option that is
 * silently ignored would seed or reset something other than what the operator asked for.
 */
export class CliUsageError extends Error {
  constructor(
    readonly code: string,
    readonly zh: string,
    readonly en: string,
  ) {
    super(`${zh} / ${en}`);
    this.name = 'CliUsageError';
  }
}

export const usage = (zh: string, en: string): CliUsageError => new CliUsageError('CLI_USAGE', zh, en);

export interface OptionSpec {
  /** Takes a value (`--customers 50`) or is a flag (`--quiet`). */
  value: boolean;
}

export interface Parsed {
  positionals: string[];
  options: Map<string, string | true>;
}

export function parseArgs(argv: readonly string[], spec: Readonly<Record<string, OptionSpec>>): Parsed {
  const positionals: string[] = [];
  const options = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      if (arg.startsWith('-') && arg.length > 1) throw usage(`不认识的选项 ${arg}`, `unknown option ${arg}`);
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const opt = spec[name];
    if (!opt) throw usage(`不认识的选项 --${name}`, `unknown option --${name}`);
    if (options.has(name)) throw usage(`选项 --${name} 重复`, `option --${name} given twice`);
    if (!opt.value) {
      if (eq !== -1) throw usage(`选项 --${name} 不带值`, `option --${name} takes no value`);
      options.set(name, true);
      continue;
    }
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) throw usage(`选项 --${name} 缺少取值`, `option --${name} needs a value`);
      i++;
    }
    if (value === '') throw usage(`选项 --${name} 的值不能为空`, `option --${name} must not be empty`);
    options.set(name, value);
  }
  return { positionals, options };
}

export function stringOption(parsed: Parsed, name: string): string | undefined {
  const v = parsed.options.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function intOption(parsed: Parsed, name: string, min: number, max: number): number | undefined {
  const raw = stringOption(parsed, name);
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw usage(`--${name} 必须是整数，收到 "${raw}"`, `--${name} must be an integer, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw usage(`--${name} 必须在 ${min} 到 ${max} 之间`, `--${name} must be between ${min} and ${max}`);
  return n;
}

export function noMorePositionals(parsed: Parsed, command: string): void {
  if (parsed.positionals.length > 0) {
    throw usage(`${command} 不接受参数 "${parsed.positionals[0]}"`, `${command} takes no argument "${parsed.positionals[0]}"`);
  }
}
