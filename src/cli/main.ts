import { sql } from 'kysely';
import type { Config, Db, EmbeddedDb } from '../platform/index.js';
import { audit, ConfigError, isAppError, loadConfig, migrate, openDb, pgErrorCode, randomToken, startEmbeddedPostgres } from '../platform/index.js';
import { createStaff, ensureAdmin, resetTotp, setPassword } from '../staff/index.js';
import { verifyLedger, type VerifyReport } from '../ledger/index.js';
import { cliActor } from './actor.js';
import { CliUsageError, intOption, noMorePositionals, parseArgs, stringOption, usage } from './args.js';
import { POS_SIM_HELP, processIo, runPosSim } from './pos-sim.js';
import { AUDIT_HELP, runAuditCommand } from './audit-verify.js';
import { KEYS_HELP, runKeysCommand } from './keys.js';
import { DEMO_CARD_PIN, DEMO_DEFAULTS, DEMO_LIMITS, DEMO_LOGINS, DemoDataExistsError, seedDemo, type SeedSummary } from './seed-demo.js';

const HELP = `fuelcard — 加油卡系统命令行 / fuel card platform command line

用法 / usage:  fuelcard <command> [options]

  migrate                         执行数据库迁移 / apply database migrations
  create-admin [--username admin] [--role admin|security_officer|auditor] [--password <pw> | --password-stdin]
                                  创建管理员（系统/安全/审计，默认系统管理员），或重置其密码（不给密码则生成一个，只显示一次）
                                  create an administrator (default admin), or reset its password (a generated one is shown once)
  reset-totp <username>           重置该员工的动态口令并打印启用码（只显示一次）；唯一的管理员手机和恢复码都丢失时的恢复途径
                                  reset a staff member's second factor and print the enrolment code (shown once); the recovery
                                  path when the only administrator lost both phone and recovery codes
  seed-demo [--customers ${DEMO_DEFAULTS.customers}] [--days ${DEMO_DEFAULTS.days}] [--seed <n>] [--quiet]
                                  导入演示数据（油站、员工、客户、卡、充值、数周交易）
                                  load the demo dataset (stations, staff, customers, cards, recharges, weeks of sales);
                                  on a database without staff it first creates admin, as the server's first start does
  ledger verify [--json]          核对账本不变式；通过退出码 0，否则 1
                                  prove the ledger invariants; exit code 0 when they hold, 1 when not
${AUDIT_HELP}
${KEYS_HELP}
${POS_SIM_HELP}
  help                            显示本帮助 / show this help

数据库 / database: DATABASE_URL if set, else the embedded PostgreSQL in FUELCARD_DATA_DIR (default ./data).
退出码 / exit codes: 0 ok, 1 failed or refused, 2 bad arguments or configuration, 130 interrupted.
`;

/** A refusal or failure with a stable code, printed in both languages. */
class CliFailure extends Error {
  constructor(
    readonly code: string,
    readonly zh: string,
    readonly en: string,
    cause?: unknown,
  ) {
    super(`${zh} / ${en}`, { cause });
    this.name = 'CliFailure';
  }
}

/**
 * The PostgreSQL server exactly as the server finds it (src/main.ts): DATABASE_URL, else the
 * embedded one in FUELCARD_DATA_DIR, which is stopped again when the command ends.
 */
async function withServer<T>(config: Config, fn: (url: string) => Promise<T>): Promise<T> {
  if (config.databaseUrl !== null) return fn(config.databaseUrl);
  process.stderr.write(`启动嵌入式 PostgreSQL / starting embedded PostgreSQL in ${config.dataDir}\n`);
  let embedded: EmbeddedDb;
  try {
    embedded = await startEmbeddedPostgres({
      dataDir: config.dataDir,
      port: config.embeddedPgPort,
      onLog: (m) => {
        if (config.logLevel === 'debug' || config.logLevel === 'trace') process.stderr.write(`[pg] ${m}\n`);
      },
    });
  } catch (err) {
    throw new CliFailure(
      'CLI_DATABASE_UNAVAILABLE',
      `无法启动 ${config.dataDir} 中的嵌入式数据库（服务器是否正在使用它？可先停止服务器，或设置 DATABASE_URL）`,
      `cannot start the embedded database in ${config.dataDir} (is the server using it? stop the server first, or set DATABASE_URL)`,
      err,
    );
  }
  try {
    return await fn(embedded.url);
  } finally {
    await embedded.stop().catch(() => {});
  }
}

/** A pool on the database; migrated first for commands that write (as the server does on start). */
async function withDatabase<T>(config: Config, opts: { migrate: boolean }, fn: (db: Db) => Promise<T>): Promise<T> {
  return withServer(config, async (url) => {
    if (opts.migrate) await runMigrations(url);
    const handle = openDb(url, config.dbPoolSize);
    try {
      return await fn(handle.db);
    } finally {
      await handle.close().catch(() => {});
    }
  });
}

async function runMigrations(url: string, announce = true): Promise<{ applied: string[]; alreadyApplied: number }> {
  const result = await migrate(url);
  if (result.applied.length > 0) {
    if (announce) process.stderr.write(`已执行迁移 / applied migrations: ${result.applied.join(', ')}\n`);
    // The audit log exists once 001 has run; record who changed the schema.
    const handle = openDb(url, 1);
    try {
      await audit(handle.db, cliActor('migrate'), { action: 'schema.migrate', targetType: 'database', targetId: null, details: { applied: result.applied } });
    } finally {
      await handle.close();
    }
  }
  return result;
}

async function cmdMigrate(config: Config, argv: string[]): Promise<number> {
  noMorePositionals(parseArgs(argv, {}), 'migrate');
  const result = await withServer(config, (url) => runMigrations(url, false));
  process.stdout.write(
    result.applied.length > 0
      ? `已执行 ${result.applied.length} 个迁移 / applied ${result.applied.length} migrations: ${result.applied.join(', ')}\n`
      : `数据库已是最新 / database is up to date (${result.alreadyApplied} migrations applied earlier)\n`,
  );
  return 0;
}

const USERNAME = /^[a-z0-9_.-]{3,32}$/;

async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

/**
 * The three administrators of 三员分立 (docs/access.md). The system administrator may not create a
 * security officer or an auditor, so in production the first of each comes from here.
 */
const ADMIN_ROLES = {
  admin: { zh: '系统管理员', en: 'admin' },
  security_officer: { zh: '安全管理员', en: 'security officer' },
  auditor: { zh: '审计管理员', en: 'auditor' },
} as const;
type AdminRole = keyof typeof ADMIN_ROLES;

async function cmdCreateAdmin(config: Config, argv: string[]): Promise<number> {
  const parsed = parseArgs(argv, { username: { value: true }, role: { value: true }, password: { value: true }, 'password-stdin': { value: false } });
  noMorePositionals(parsed, 'create-admin');
  const roleRaw = stringOption(parsed, 'role') ?? 'admin';
  if (!Object.hasOwn(ADMIN_ROLES, roleRaw)) {
    throw usage(`--role 只能是 admin、security_officer 或 auditor，收到 "${roleRaw}"`, `--role must be admin, security_officer or auditor, got "${roleRaw}"`);
  }
  const role = roleRaw as AdminRole;
  const names = ADMIN_ROLES[role];
  const username = stringOption(parsed, 'username') ?? 'admin';
  if (!USERNAME.test(username)) {
    throw usage(`用户名 "${username}" 无效：3–32 位小写字母、数字或 _ . -`, `username "${username}" is not valid: 3–32 of a-z 0-9 _ . -`);
  }
  let password = stringOption(parsed, 'password');
  if (parsed.options.has('password-stdin')) {
    if (password !== undefined) throw usage('--password 与 --password-stdin 只能用一个', 'use either --password or --password-stdin, not both');
    password = await readStdinLine();
  }
  if (password !== undefined && password.length < 10) throw new CliUsageError('STAFF_PASSWORD_WEAK', '密码至少 10 位', 'Password must be at least 10 characters');
  const generated = password === undefined;
  const secret = password ?? randomToken(12);
  const actor = cliActor('create-admin');

  const outcome = await withDatabase(config, { migrate: true }, async (db) => {
    // staff exports no lookup by name; the role decides whether this is a reset or a refusal.
    const existing = await sql<{ role: string; status: string }>`select role, status from staff_users where username = ${username}`.execute(db);
    const row = existing.rows[0];
    if (!row) {
      await db.transaction().execute((trx) => createStaff(trx, actor, { username, password: secret, role, displayName: names.zh }));
      return { created: true, disabled: false };
    }
    // Never a role change here: that is the security officer's, audited as such.
    if (row.role !== role) {
      throw new CliFailure('CLI_NOT_ADMIN', `用户 ${username} 已存在，角色为 ${row.role}，不是${names.zh}；未做修改`, `user ${username} exists with role ${row.role}, not ${role}; nothing changed`);
    }
    await setPassword(db, actor, username, secret);
    return { created: false, disabled: row.status !== 'active' };
  });

  process.stdout.write(
    outcome.created
      ? `已创建${names.zh} / created ${names.en}: ${username}\n`
      : `已重置${names.zh}密码，原有登录会话已失效 / reset the password of ${names.en} ${username}; existing sessions were revoked\n`,
  );
  if (outcome.disabled) process.stdout.write(`注意：该账号处于停用状态 / note: this account is disabled\n`);
  if (generated) process.stdout.write(`密码（仅显示这一次，请妥善保存）/ password (shown once, keep it): ${secret}\n`);
  return 0;
}

/**
 * The way back in when no administrator can sign in any more (phone and recovery codes both lost):
 * whoever holds the server's shell acts as the system actor, which may reset any role. The code is
 * printed once; the holder signs in with their password and enrols with it (docs/access.md).
 */
async function cmdResetTotp(config: Config, argv: string[]): Promise<number> {
  const parsed = parseArgs(argv, {});
  const [username, ...rest] = parsed.positionals;
  if (username === undefined) throw usage('reset-totp 需要用户名', 'reset-totp needs a username');
  if (rest.length > 0) throw usage(`reset-totp 只接受一个用户名，多出 "${rest[0]}"`, `reset-totp takes one username, got also "${rest[0]}"`);
  const actor = cliActor('reset-totp');
  const { enrolmentCode } = await withDatabase(config, { migrate: true }, async (db) => {
    // staff exports no lookup by name (as in create-admin).
    const row = (await sql<{ id: number }>`select id from staff_users where username = ${username}`.execute(db)).rows[0];
    if (!row) throw new CliFailure('CLI_UNKNOWN_USER', `没有用户名为 ${username} 的员工；未做修改`, `no staff member is named ${username}; nothing changed`);
    return resetTotp(db, actor, Number(row.id));
  });
  process.stdout.write(`已重置 ${username} 的动态口令，原有登录会话已失效 / reset the second factor of ${username}; existing sessions were revoked\n`);
  process.stdout.write(`启用码（仅显示这一次，请当面交给本人）/ enrolment code (shown once, hand it over in person): ${enrolmentCode}\n`);
  return 0;
}

function yuan(fen: number): string {
  return (fen / 100).toLocaleString('zh-CN', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

function printSeedSummary(s: SeedSummary): void {
  const declines = Object.entries(s.sales.declinesByCode)
    .sort((a, b) => b[1] - a[1])
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
  const lines = [
    '',
    `演示数据已导入 / demo data loaded (seed ${s.seed}, ${(s.elapsedMs / 1000).toFixed(1)}s)`,
    `  期间 period        ${s.period.from.slice(0, 10)} … ${s.period.to.slice(0, 10)}`,
    `  油站 stations      ${s.stations}（每站一台终端 / one terminal each）`,
    `  员工 staff         ${s.staff}`,
    `  客户 customers     ${s.customers}`,
    `  卡 cards           个人 personal ${s.cards.personal}, 不记名 anonymous ${s.cards.anonymous}, 主卡 master ${s.cards.master}, 副卡 sub ${s.cards.sub}   PIN ${DEMO_CARD_PIN}`,
    `  充值 recharges     ${s.recharges.count} 笔, ¥${yuan(s.recharges.amountFen)}`,
    `  分配 allocations   ${s.allocations.count} 笔, ¥${yuan(s.allocations.amountFen)}${s.allocations.refused ? `（备用金不足未分配 / refused for want of reserve: ${s.allocations.refused}）` : ''}`,
    `  交易 sales         批准 approved ${s.sales.approved} (¥${yuan(s.sales.amountFen)}, ${(s.sales.volumeMl / 1000).toFixed(0)} L), 拒绝 declined ${s.sales.declined}${declines ? ` (${declines})` : ''}`,
    `  账本 ledger        ${s.ledger.ok ? '核对通过 / verified' : '核对失败 / NOT verified'} (${s.ledger.accounts} accounts, ${s.ledger.transfers} transfers)`,
    '',
    '  演示终端（密钥仅显示这一次）/ demo terminals (secrets shown once):',
    ...s.terminals.map((t) => `    ${t.stationCode}  ${t.terminalId}  ${t.secret}`),
    '',
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

async function cmdSeedDemo(config: Config, argv: string[], signal: AbortSignal): Promise<number> {
  const parsed = parseArgs(argv, { customers: { value: true }, days: { value: true }, seed: { value: true }, quiet: { value: false } });
  noMorePositionals(parsed, 'seed-demo');
  const customers = intOption(parsed, 'customers', DEMO_LIMITS.customers.min, DEMO_LIMITS.customers.max);
  const days = intOption(parsed, 'days', DEMO_LIMITS.days.min, DEMO_LIMITS.days.max);
  const seed = intOption(parsed, 'seed', 0, 2 ** 31 - 1);
  const quiet = parsed.options.has('quiet');
  if (!quiet) {
    process.stderr.write('演示登录（密码公开，切勿用于生产库）/ demo logins (public passwords: never seed a production database):\n');
    for (const l of DEMO_LOGINS) process.stderr.write(`  ${l.username.padEnd(14)} ${l.password.padEnd(20)} ${l.role}\n`);
  }
  const summary = await withDatabase(config, { migrate: true }, async (db) => {
    // Seed a fresh database into the state the server's first start leaves (an admin, then the demo):
    // the server creates its admin only while there is no staff at all, which the demo staff would end.
    // Printed at once: should the seed fail or be interrupted, the admin exists all the same.
    const admin = await ensureAdmin(db, config.adminPassword);
    if (admin.created && admin.generated) process.stdout.write(`管理员 / admin login: admin / ${admin.password}   (生成的密码仅显示这一次 / generated; shown once)\n`);
    else if (admin.created) process.stdout.write('管理员 / admin login: admin / (FUELCARD_ADMIN_PASSWORD)\n');
    return seedDemo(db, config, { quiet, signal, actor: cliActor('seed-demo'), ...(customers !== undefined ? { customers } : {}), ...(days !== undefined ? { days } : {}), ...(seed !== undefined ? { seed } : {}) });
  });
  if (!quiet) printSeedSummary(summary);
  return 0;
}

function printVerify(r: VerifyReport): void {
  const lines = [
    r.ok ? '账本核对通过 / ledger verified: ok' : '账本核对失败 / ledger verification FAILED',
    `  accounts ${r.accounts}, transfers ${r.transfers}, open holds ${r.pendingOpen}, accounts in arrears (flagged) ${r.arrearsAccounts}`,
    `  checked at ${r.checkedAt}`,
  ];
  for (const p of r.problems) {
    const where = [p.accountId !== undefined ? `account ${p.accountId}` : '', p.transferId ? `transfer ${p.transferId}` : '', p.currency ? `currency ${p.currency}` : '']
      .filter(Boolean)
      .join(' ');
    lines.push(`  ✗ ${p.check} ${where}: expected ${p.expected ?? '?'}, actual ${p.actual ?? '?'}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
}

async function cmdLedger(config: Config, argv: string[]): Promise<number> {
  const parsed = parseArgs(argv, { json: { value: false } });
  const [sub, ...rest] = parsed.positionals;
  if (sub !== 'verify') {
    throw usage(sub === undefined ? 'ledger 需要子命令：verify' : `ledger 没有子命令 "${sub}"，只有 verify`, sub === undefined ? 'ledger needs a subcommand: verify' : `ledger has no subcommand "${sub}", only verify`);
  }
  if (rest.length > 0) throw usage(`ledger verify 不接受参数 "${rest[0]}"`, `ledger verify takes no argument "${rest[0]}"`);
  // Verifying only reads: it does not migrate a database it was asked to inspect.
  const report = await withDatabase(config, { migrate: false }, async (db) => {
    try {
      return await verifyLedger(db);
    } catch (err) {
      if (pgErrorCode(err) === '42P01') {
        throw new CliFailure('CLI_NOT_MIGRATED', '数据库尚未迁移，请先运行 fuelcard migrate', 'the database is not migrated; run `fuelcard migrate` first', err);
      }
      throw err;
    }
  });
  if (parsed.options.has('json')) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else printVerify(report);
  return report.ok ? 0 : 1;
}

const COMMANDS: Record<string, (config: Config, argv: string[], signal: AbortSignal) => Promise<number>> = {
  migrate: cmdMigrate,
  'create-admin': cmdCreateAdmin,
  'reset-totp': cmdResetTotp,
  'seed-demo': cmdSeedDemo,
  ledger: cmdLedger,
  audit: (config, argv) =>
    runAuditCommand(argv, (fn) => withDatabase(config, { migrate: false }, fn), { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }),
  keys: (config, argv, signal) =>
    runKeysCommand(config, argv, (fn) => withDatabase(config, { migrate: true }, fn), { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }, signal),
};

/** Network errors, and PostgreSQL's refusals to let us in (auth failed, no such database, too many connections). */
const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', '28P01', '28000', '3D000', '53300', '57P03']);

function fail(code: string, message: string): void {
  process.stderr.write(`fuelcard: [${code}] ${message}\n`);
}

export async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(HELP);
    return 0;
  }
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write('\n正在中断，已提交的数据保留 / interrupting; what was committed stays (Ctrl-C again to force)\n');
    controller.abort();
  };
  try {
    if (command === undefined) throw usage('缺少命令', 'no command given');
    // A terminal over HTTP needs no database, only the server's URL and the terminal's secret: the
    // server's own configuration (and its validation) is none of its business.
    const posSim = command === 'pos-sim';
    const handler = COMMANDS[command];
    if (!handler && !posSim) throw usage(`未知命令 "${command}"`, `unknown command "${command}"`);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    if (posSim || !handler) return await runPosSim(rest, processIo(controller.signal));
    return await handler(loadConfig(), rest, controller.signal);
  } catch (err) {
    if (err instanceof CliUsageError) {
      fail(err.code, `${err.zh} / ${err.en}`);
      process.stderr.write('运行 fuelcard help 查看用法 / run `fuelcard help` for usage\n');
      return 2;
    }
    if (err instanceof ConfigError) {
      fail(err.code, `配置无效 / ${err.message}`);
      return 2;
    }
    if (controller.signal.aborted) {
      fail('CLI_INTERRUPTED', '已中断 / interrupted');
      return 130;
    }
    if (err instanceof CliFailure) {
      fail(err.code, `${err.zh} / ${err.en}`);
      if (err.cause instanceof Error && process.env.FUELCARD_CLI_DEBUG) process.stderr.write(`${err.cause.stack}\n`);
      return 1;
    }
    if (err instanceof DemoDataExistsError) {
      fail(err.code, err.message);
      return 1;
    }
    const code = pgErrorCode(err);
    if (code !== undefined && CONNECTION_ERRORS.has(code)) {
      fail('CLI_DATABASE_UNAVAILABLE', `无法连接数据库 / cannot reach the database: ${(err as Error).message}`);
      return 1;
    }
    if (isAppError(err)) {
      fail(err.code, `${err.spec.zh} / ${err.spec.en}${err.details ? ` ${JSON.stringify(err.details)}` : ''}`);
      return err.status === 400 ? 2 : 1;
    }
    fail('CLI_FAILED', `失败 / failed: ${err instanceof Error ? err.message : String(err)}`);
    if (err instanceof Error && process.env.FUELCARD_CLI_DEBUG) process.stderr.write(`${err.stack}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    fail('CLI_FAILED', err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
