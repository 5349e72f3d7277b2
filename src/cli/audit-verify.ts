import type { Db } from '../platform/index.js';
import { pgErrorCode, verifyAuditChain, type AuditVerifyReport } from '../platform/index.js';
import { intOption, parseArgs, stringOption, usage } from './args.js';

export const AUDIT_HELP = `  audit verify [--json] [--no-seal] [--stale-minutes 5] [--anchor <seq>:<sha256hex>[,…]]
                                  核对审计日志哈希链（先封存待封存的记录）；通过退出码 0，否则 1，并指出第一个断开的序号
                                  recompute the audit log's hash chain (sealing pending rows first); exit code 0
                                  when intact, 1 naming the first broken seq; --anchor checks heads copied from the app log
`;

export interface AuditCliIo {
  out(text: string): void;
  err(text: string): void;
}

const ANCHOR = /^(\d{1,15}):([0-9a-fA-F]{64})$/;

function parseAnchors(raw: string | undefined): Array<{ seq: number; hash: string }> {
  if (raw === undefined) return [];
  return raw.split(',').map((part) => {
    const m = ANCHOR.exec(part.trim());
    if (!m) throw usage(`--anchor 格式应为 <序号>:<64位十六进制哈希>，收到 "${part}"`, `--anchor takes <seq>:<64 hex digits>, got "${part}"`);
    return { seq: Number(m[1]), hash: m[2]!.toLowerCase() };
  });
}

export function printAuditVerify(r: AuditVerifyReport, io: AuditCliIo): void {
  const lines = [
    r.ok ? '审计链核对通过 / audit chain verified: ok' : `审计链核对失败 / audit chain verification FAILED${r.brokenSeq !== null ? `: first broken seq ${r.brokenSeq}` : ''}`,
    `  rows checked ${r.rowsChecked} (seq ${r.firstSeq ?? '-'}…${r.lastSeq ?? '-'}), verified up to seq ${r.verifiedSeq}, sealed now ${r.sealedNow}`,
    `  head seq ${r.head.seq} ${r.head.hash} (sealed ${r.head.sealedAt})`,
    `  checked at ${r.checkedAt}`,
  ];
  for (const p of r.problems) lines.push(`  ✗ ${p.check}${p.seq !== null ? ` seq ${p.seq}` : ''}${p.id !== undefined ? ` id ${p.id}` : ''}: ${p.detail}`);
  io.out(lines.join('\n') + '\n');
}

/**
 * `fuelcard audit verify`. The caller opens the database (as `ledger verify` does, without
 * migrating it) and owns the exit code; usage errors are thrown as CliUsageError.
 */
export async function runAuditCommand(argv: readonly string[], withDb: <T>(fn: (db: Db) => Promise<T>) => Promise<T>, io: AuditCliIo): Promise<number> {
  const parsed = parseArgs(argv, { json: { value: false }, 'no-seal': { value: false }, 'stale-minutes': { value: true }, anchor: { value: true } });
  const [sub, ...rest] = parsed.positionals;
  if (sub !== 'verify') {
    throw usage(sub === undefined ? 'audit 需要子命令：verify' : `audit 没有子命令 "${sub}"，只有 verify`, sub === undefined ? 'audit needs a subcommand: verify' : `audit has no subcommand "${sub}", only verify`);
  }
  if (rest.length > 0) throw usage(`audit verify 不接受参数 "${rest[0]}"`, `audit verify takes no argument "${rest[0]}"`);
  const staleMinutes = intOption(parsed, 'stale-minutes', 0, 10_080);
  const anchors = parseAnchors(stringOption(parsed, 'anchor'));
  let report: AuditVerifyReport;
  try {
    report = await withDb((db) =>
      verifyAuditChain(db, {
        seal: !parsed.options.has('no-seal'),
        anchors,
        // --no-seal is for a read-only look (a replica): recording the outcome would write.
        ...(parsed.options.has('no-seal') ? {} : { record: 'cli' as const }),
        ...(staleMinutes !== undefined ? { staleUnsealedMs: staleMinutes * 60_000 } : {}),
      }),
    );
  } catch (err) {
    if (pgErrorCode(err) === '42P01' || pgErrorCode(err) === '42703') {
      io.err('fuelcard: [CLI_NOT_MIGRATED] 数据库尚未迁移，请先运行 fuelcard migrate / the database is not migrated; run `fuelcard migrate` first\n');
      return 1;
    }
    throw err;
  }
  if (parsed.options.has('json')) io.out(JSON.stringify(report, null, 2) + '\n');
  else printAuditVerify(report, io);
  return report.ok ? 0 : 1;
}
