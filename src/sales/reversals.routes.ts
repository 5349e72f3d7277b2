import type { Logger } from 'pino';
import type { App, Config, Db, FieldCipher } from '../platform/index.js';

// Issue 4 scaffold: reversals and voids fills this in.
export function reversalRoutes(app: App, deps: { db: Db; config: Config; cipher: FieldCipher; logger: Logger }): void {
  void app;
  void deps;
}
