import type { Logger } from 'pino';
import type { App, Config, Db, FieldCipher } from '../platform/index.js';

// Issue 4 scaffold: promotions fills this in.
export function promotionRoutes(app: App, deps: { db: Db; config: Config; cipher: FieldCipher; logger: Logger }): void {
  void app;
  void deps;
}
