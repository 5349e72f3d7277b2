import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import type { Plugin } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

/** Dev server only: a deep link such as /admin/cards/9000… gets its app's page, as the platform server does. */
function appFallback(): Plugin {
  return {
    name: 'fuelcard-app-fallback',
    configureServer(server) {
      server.middlewares.use((req, _res, next) => {
        const m = /^\/(admin|portal|pos)(\/[^?.]*)?(\?.*)?$/.exec(req.url ?? '');
        if (m && (req.headers.accept ?? '').includes('text/html')) req.url = `/${m[1]}/index.html`;
        next();
      });
    },
  };
}

/**
 * One build, four pages: the landing page at /, and three single-page apps that the platform
 * server serves at /admin, /portal and /pos (each falls back to its index.html, so deep links work).
 * `npm run dev:web` serves them with hot reload and proxies the API to FUELCARD_API
 * (default http://127.0.0.1:3000, the platform's default port).
 */
export default defineConfig({
  root,
  base: '/',
  plugins: [react(), appFallback()],
  build: {
    outDir: process.env.FUELCARD_WEB_OUT ?? resolve(root, 'dist'),
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      input: {
        landing: resolve(root, 'index.html'),
        admin: resolve(root, 'admin/index.html'),
        portal: resolve(root, 'portal/index.html'),
        pos: resolve(root, 'pos/index.html'),
      },
    },
  },
  server: {
    proxy: {
      '/api': process.env.FUELCARD_API ?? 'http://127.0.0.1:3000',
      '/dev/outbox': process.env.FUELCARD_API ?? 'http://127.0.0.1:3000',
    },
  },
});
