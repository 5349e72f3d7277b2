// TEMPORARY placeholder so the server starts while the CLI is being written; replaced by the real seed.
import type { Config, Db, Role } from '../platform/index.js';
export const DEMO_LOGINS: Array<{ username: string; password: string; role: Role }> = [];
export async function seedDemo(_db: Db, _config: Config, _opts: { quiet?: boolean }): Promise<void> {}
