import type { Logger } from 'pino';
import type { App, Config, Db, FieldCipher } from '../platform/index.js';

// Issue 4 scaffold: stock fills this in.
export function stockRoutes(app: App, deps: { db: Db; config: Config; cipher: FieldCipher; logger: Logger }): void {
  void app;
  void deps;
}
