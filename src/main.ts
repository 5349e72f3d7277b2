import { blindIndexKeysOf, loadConfig, ConfigError, createLogger, openDb, migrate, pruneIdempotencyKeys, startAuditSealer, startEmbeddedPostgres, startKeyRotationJobs } from './platform/index.js';
import type { EmbeddedDb } from './platform/index.js';
import { ensureAdmin } from './staff/index.js';
import { expireHolds } from './ledger/index.js';
import { buildServer } from './server.js';
import { seedDemo, CASHIER_STATION, DEMO_CARD_PIN, DEMO_LOGINS, type SeedSummary } from './cli/seed-demo.js';
import { pruneNonces } from './stations/index.js';
import { buildWeb, webIsBuilt } from './web/index.js';
import { startMessageDispatcher } from './messaging/index.js';
import { startPortalJobs } from './portal/index.js';
import { startAuthorisationJobs } from './sales/index.js';
import { backfillCustomerNameIndex } from './customers/index.js';
import { startPaymentJobs } from './payments/index.js';
import { seedDemoPayments } from './cli/seed-demo-payments.js';
import { seedDemoIso, type DemoIso } from './cli/seed-demo-iso.js';
import { startReconciliationJobs } from './reconciliation/index.js';
import { posCrypto, startPosGateway, startPosHostJobs } from './pos-gateway/index.js';
import { startPrivacyJobs } from './privacy/index.js';
import { startCaseJobs } from './cases/index.js';
import { startRiskProfileJobs } from './risk/index.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`fuelcard: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  if (config.generatedSecrets) {
    logger.warn('running on development keys: set FUELCARD_DATA_KEYS, FUELCARD_BLIND_INDEX_KEY and FUELCARD_PIN_KEY in production');
  }

  // The web front ends are built once (web/dist); a fresh checkout builds them here.
  if (config.webBuild === 'auto' && !webIsBuilt()) {
    logger.info('web front ends not built yet: building them (once)');
    await buildWeb({ quiet: true });
  }

  let embedded: EmbeddedDb | null = null;
  let url = config.databaseUrl;
  if (url === null) {
    logger.info({ dataDir: config.dataDir }, 'starting embedded PostgreSQL');
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, onLog: (m) => logger.debug({ pg: m }) });
    url = embedded.url;
  }
  const migrated = await migrate(url);
  if (migrated.applied.length > 0) logger.info({ applied: migrated.applied }, 'migrations applied');

  const dbh = openDb(url, config.dbPoolSize);
  const admin = await ensureAdmin(dbh.db, config.adminPassword);
  let seeded: SeedSummary | null = null;
  const demoWanted = config.demoData === 'on' || (config.demoData === 'auto' && embedded !== null);
  if (admin.created && demoWanted) {
    logger.info('fresh database: loading demo data');
    seeded = await seedDemo(dbh.db, config, { quiet: true });
  }

  const { app, deps } = await buildServer({ db: dbh.db, config, logger, pool: dbh.pool });
  const names = await backfillCustomerNameIndex(deps);
  if (names.filled > 0 || names.unreadable > 0) logger.info(names, 'customer name search index filled');
  await app.listen({ port: config.port, host: config.host });
  // Messages to cardholders (sign-in codes, alerts) and the low-balance alert scan.
  // Payments: orders past their time are asked about and closed, refunds followed, card-close payouts started.
  const stopJobs = [startMessageDispatcher(deps), startPortalJobs(deps), startAuthorisationJobs(deps), startPaymentJobs(deps), startReconciliationJobs(deps), startPosHostJobs(deps), startAuditSealer({ db: dbh.db, logger }), startPrivacyJobs(deps)];
  // Review cases: SLA breaches marked, risk staff and cardholders alerted (src/cases, docs/risk-cases.md).
  stopJobs.push(startCaseJobs(deps));
  // Risk profiles (90-day amount statistics per card) kept fresh for the sale path (docs/risk.md).
  stopJobs.push(startRiskProfileJobs(deps));
  if (config.reencryptBatch > 0) {
    stopJobs.push(
      startKeyRotationJobs(dbh.db, deps.cipher, {
        batch: config.reencryptBatch,
        blindIndex: blindIndexKeysOf(config),
        stores: [posCrypto.posKeysSealedStore(config.dataKeys)],
        onError: (err) => logger.error({ err }, 'key rotation pass failed'),
      }),
    );
  }
  // Demo top-ups go through the sandbox providers, which notify this server: only once it listens.
  if (seeded?.cardholder) {
    try {
      const p = await seedDemoPayments(deps, seeded.cardholder.cardNo);
      logger.info(p, 'demo payments made through the sandbox providers');
    } catch (err) {
      logger.warn({ err }, 'demo payments could not be made; the rest of the demo is unaffected');
    }
  }
  // The ISO 8583 terminal host shares the database and key store with the HTTP API (key ceremony).
  const pos = config.posPort === null ? null : await startPosGateway({ db: dbh.db, config, logger });
  // The demo's ISO 8583 terminal: development keys only, so its clear TMK may be printed (docs/pos-operations.md).
  let demoIso: DemoIso | null = null;
  if (seeded && config.generatedSecrets && pos && !pos.tls) {
    const posTerminal = seeded.terminals.find((t) => t.stationCode === CASHIER_STATION);
    if (posTerminal) {
      try {
        demoIso = await seedDemoIso({ db: dbh.db, config }, posTerminal.terminalId, { port: pos.port, cardNo: seeded.cardholder?.cardNo ?? null });
      } catch (err) {
        logger.warn({ err }, 'demo ISO terminal could not be keyed; the rest of the demo is unaffected');
      }
    }
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const base = `http://localhost:${port}`;

  const timers = [
    setInterval(() => void expireHolds(dbh.db).catch((err: unknown) => logger.error({ err }, 'hold expiry failed')), 10_000),
    setInterval(() => void pruneNonces(dbh.db, config.terminalClockSkewMs).catch((err: unknown) => logger.error({ err }, 'nonce pruning failed')), 60_000),
    setInterval(
      () => void pruneIdempotencyKeys(dbh.db, config.idempotencyRetentionMs).catch((err: unknown) => logger.error({ err }, 'idempotency pruning failed')),
      3_600_000,
    ),
  ];

  const lines = [
    '',
    '  加油卡系统 / Fuel card platform is running',
    `  Console      ${base}/admin/    (运营管理后台)`,
    `  Portal       ${base}/portal/   (会员自助)`,
    `  Station POS  ${base}/pos/      (加油站收银台)`,
    `  API          ${base}/api/v1`,
    `  API docs     ${base}/docs`,
    `  OpenAPI      ${base}/api/v1/openapi.json`,
    `  Health       ${base}/healthz   ${base}/readyz   ${base}/metrics`,
    ...(pos ? [`  Terminal host  ${pos.tls ? 'tls' : 'tcp'}://localhost:${pos.port} (ISO 8583)`] : []),
    `  Database     ${embedded ? `embedded PostgreSQL in ${config.dataDir}` : 'DATABASE_URL'}`,
  ];
  if (admin.created && admin.generated) lines.push(`  admin login  admin / ${admin.password}   (generated; shown once, keep it)`);
  else if (admin.created) lines.push('  admin login  admin / (FUELCARD_ADMIN_PASSWORD)');
  else lines.push('  admin login  admin / (password chosen at first start)');
  if (demoWanted) for (const d of DEMO_LOGINS) lines.push(`  demo login   ${d.username} / ${d.password}   (${d.role})`);
  if (seeded) {
    // Shown at the first start only: the terminal secret is never shown again (the console can register a new terminal).
    const terminal = seeded.terminals.find((t) => t.stationCode === CASHIER_STATION) ?? seeded.terminals[0];
    if (terminal) lines.push(`  demo POS     terminal ${terminal.terminalId} / secret ${terminal.secret}   (pair ${base}/pos/ with these; shown once)`);
    if (seeded.cardholder) {
      lines.push(`  demo portal  ${seeded.cardholder.phone} / ${seeded.cardholder.password}   (cardholder; card ${seeded.cardholder.cardNo}, PIN ${DEMO_CARD_PIN})`);
    }
    if (demoIso) lines.push(`  demo ISO     ${demoIso.line}`);
  }
  if (config.messageSender === 'dev') lines.push(`  dev outbox   ${base}/dev/outbox   (messages to cardholders — sign-in codes, alerts; development only)`);
  lines.push('');
  console.log(lines.join('\n'));

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    const force = setTimeout(() => {
      logger.error('shutdown timed out');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    for (const t of timers) clearInterval(t);
    try {
      await app.close();
      await Promise.all(stopJobs.map((stop) => stop()));
      if (pos) await pos.stop();
      await dbh.close();
      if (embedded) await embedded.stop();
      logger.info('stopped cleanly');
      clearTimeout(force);
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error('fuelcard failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
