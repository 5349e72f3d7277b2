import type { Logger } from 'pino';
import type { Config, Db } from '../platform/index.js';

// Issue 4 scaffold: the pump authorisation expiry job. Returns a stop function.
export function startAuthorisationJobs(deps: { db: Db; config: Config; logger: Logger }): () => void {
  void deps;
  return () => {};
}
