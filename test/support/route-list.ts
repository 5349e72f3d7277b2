import type { RouteInfo } from '../../src/platform/index.js';
import { createLogger } from '../../src/platform/index.js';
import { buildServer } from '../../src/server.js';
import type { TestServer } from './server.js';

/**
 * Every route the server registers, with its access rule, as buildServer reports them.
 * Built on the test server's own database and config (the app is only built, never
 * listened on, and closed at once), so the list is exactly what the running server has.
 */
export async function registeredRoutes(server: TestServer): Promise<{ routes: RouteInfo[] }> {
  const { app, routes } = await buildServer({ db: server.db.db, config: server.config, logger: createLogger('silent') });
  await app.close();
  return { routes };
}
