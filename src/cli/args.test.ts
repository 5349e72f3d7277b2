import { describe, expect, it } from 'vitest';
import { CliUsageError, intOption, parseArgs } from './args.js';

const spec = { customers: { value: true }, quiet: { value: false } } as const;

describe('CLI arguments', () => {
  it('reads --name value, --name=value and flags', () => {
    const p = parseArgs(['--customers', '12', '--quiet', 'x'], spec);
    expect(intOption(p, 'customers', 1, 100)).toBe(12);
    expect(p.options.get('quiet')).toBe(true);
    expect(p.positionals).toEqual(['x']);
    expect(intOption(parseArgs(['--customers=7'], spec), 'customers', 1, 100)).toBe(7);
  });

  it.each([
    [['--nope']],
    [['-x']],
    [['--customers']],
    [['--customers', '--quiet']],
    [['--customers=']],
    [['--quiet=yes']],
    [['--quiet', '--quiet']],
  ])('refuses %j with CLI_USAGE', (argv) => {
    expect(() => parseArgs(argv, spec)).toThrow(CliUsageError);
  });

  it('refuses numbers that are not integers or out of range', () => {
    for (const v of ['x', '1.5', '-3', '0', '101']) {
      const err = (() => {
        try {
          intOption(parseArgs(['--customers', v], spec), 'customers', 1, 100);
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(err).toBeInstanceOf(CliUsageError);
      expect((err as CliUsageError).code).toBe('CLI_USAGE');
    }
  });
});
