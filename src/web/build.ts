import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** web/ at the repository root: the front ends' sources and their build output (web/dist). */
export const WEB_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web');
export const WEB_DIST = path.join(WEB_ROOT, 'dist');

export function webIsBuilt(distDir = WEB_DIST): boolean {
  return ['index.html', 'admin/index.html', 'portal/index.html', 'pos/index.html'].every((f) => existsSync(path.join(distDir, f)));
}

/** Builds the front ends with Vite (npm start does this when web/dist is missing). */
export async function buildWeb(opts: { outDir?: string; quiet?: boolean } = {}): Promise<void> {
  const { build } = await import('vite');
  await build({
    configFile: path.join(WEB_ROOT, 'vite.config.ts'),
    logLevel: opts.quiet ? 'warn' : 'info',
    build: opts.outDir ? { outDir: opts.outDir, emptyOutDir: true } : {},
  });
}
