import type { Logger } from 'pino';
import type { App, Config, Db, FieldCipher, RouteInfo } from './platform/index.js';
import { access, fieldCipherFor, createHttp, registerPoolMetrics } from './platform/index.js';
import { ledgerRoutes } from './ledger/index.js';
import { permissionsRoute, staffAuthenticator, staffRoutes } from './staff/index.js';
import { customersRoutes } from './customers/index.js';
import { cardsRoutes, vehiclesRoutes } from './cards/index.js';
import { finderRoutes, goodsRoutes, priceStreamRoutes, promotionRoutes, stationsRoutes, stockRoutes, terminalAuthenticator, whitelistRoutes } from './stations/index.js';
import { authorisationRoutes, offlineBatchRoutes, postpayRoutes, reversalRoutes, salesRoutes, settlementRoutes, shiftRoutes } from './sales/index.js';
import { bankTransfersRoutes, createPaymentsRuntime, paymentsRoutes, refundsRoutes, type PaymentsRuntime } from './payments/index.js';
import { reconciliationRoutes } from './reconciliation/index.js';
import { posGatewayRoutes, terminalHostRoutes } from './pos-gateway/index.js';
import { statementsRoutes } from './statements/index.js';
import { reportsRoutes } from './reports/index.js';
import { cardholderAuthenticator, portalRoutes } from './portal/index.js';
import { messagingRoutes } from './messaging/index.js';
import { privacyRoutes } from './privacy/index.js';
import { riskRoutes } from './risk/index.js';
import { casesRoutes } from './cases/index.js';
import { WEB_DIST, webRoutes } from './web/index.js';
import { sql } from 'kysely';

/** What every module's routes receive. */
export interface Deps {
  db: Db;
  config: Config;
  cipher: FieldCipher;
  logger: Logger;
  /** The server's pool, when it has one: the price push channel takes its listening connection from the same server. */
  pool?: import('pg').Pool;
  /** The payment channels (real merchant accounts or the local sandbox providers). */
  payments: PaymentsRuntime;
}

/** Composition root for HTTP: platform first, then each module's routes. */
export async function buildServer(input: { db: Db; config: Config; logger: Logger; pool?: import('pg').Pool; webDistDir?: string }): Promise<{ app: App; routes: RouteInfo[]; deps: Deps }> {
  if (input.pool) registerPoolMetrics(input.pool);
  const base = { db: input.db, config: input.config, logger: input.logger, cipher: fieldCipherFor(input.config), pool: input.pool };
  const { app, routes } = await createHttp({
    logger: input.logger,
    staffAuth: staffAuthenticator(base.db),
    terminalAuth: terminalAuthenticator(base),
    cardholderAuth: cardholderAuthenticator(base.db),
    trustProxy: input.config.trustProxy,
    rateLimits: input.config.rateLimits,
  });
  const deps: Deps = { ...base, payments: createPaymentsRuntime({ config: input.config, app, logger: input.logger }) };

  app.get('/readyz', { config: { access: access.public }, schema: { hide: true } }, async (_req, reply) => {
    try {
      await sql`select 1`.execute(deps.db);
      return { status: 'ready' };
    } catch {
      return reply.status(503).send({ status: 'database unavailable' });
    }
  });

  staffRoutes(app, deps);
  ledgerRoutes(app, deps);
  customersRoutes(app, deps);
  cardsRoutes(app, deps);
  vehiclesRoutes(app, deps);
  stationsRoutes(app, deps);
  paymentsRoutes(app, deps);
  refundsRoutes(app, deps);
  bankTransfersRoutes(app, deps);
  reconciliationRoutes(app, deps);
  goodsRoutes(app, deps);
  priceStreamRoutes(app, deps);
  stockRoutes(app, deps);
  finderRoutes(app, deps);
  promotionRoutes(app, deps);
  whitelistRoutes(app, deps);
  salesRoutes(app, deps);
  authorisationRoutes(app, deps);
  postpayRoutes(app, deps);
  reversalRoutes(app, deps);
  shiftRoutes(app, deps);
  settlementRoutes(app, deps);
  offlineBatchRoutes(app, deps);
  posGatewayRoutes(app, deps);
  terminalHostRoutes(app, deps);
  statementsRoutes(app, deps);
  reportsRoutes(app, deps);
  messagingRoutes(app, deps);
  privacyRoutes(app, deps);
  riskRoutes(app, deps);
  casesRoutes(app, deps);
  portalRoutes(app, deps);
  webRoutes(app, { distDir: input.webDistDir ?? WEB_DIST });
  // Last: it lists every route registered before it.
  permissionsRoute(app, routes);
  await app.ready();
  return { app, routes, deps };
}
