import type { Logger } from 'pino';
import type { App, Config, Db, FieldCipher } from '../platform/index.js';

// Issue 4 scaffold: offline whitelist fills this in.
export function whitelistRoutes(app: App, deps: { db: Db; config: Config; cipher: FieldCipher; logger: Logger }): void {
  void app;
  void deps;
}
