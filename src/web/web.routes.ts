import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyReply } from 'fastify';
import type { App } from '../platform/index.js';
import { access, defineErrors } from '../platform/index.js';

export const webError = defineErrors('web', {
  WEB_NOT_BUILT: { status: 503, iso: '909', zh: '前端页面尚未构建，请运行 npm run build:web', en: 'The web front ends are not built: run npm run build:web' },
});

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** The three single-page apps; each answers every path under it with its index.html (deep links). */
export const WEB_APPS = ['admin', 'portal', 'pos'] as const;

async function fileAt(full: string): Promise<{ size: number } | null> {
  try {
    const s = await stat(full);
    return s.isFile() ? { size: s.size } : null;
  } catch {
    return null;
  }
}

/**
 * Serves the built front ends (web/dist): hashed assets cached for a year, HTML never cached
 * (so a new build is picked up at once), and the usual browser hardening headers. Paths are
 * resolved inside distDir only: "..", encoded or not, never leaves it.
 */
export function webRoutes(app: App, opts: { distDir: string }): void {
  const root = path.resolve(opts.distDir);

  const send = async (reply: FastifyReply, relative: string, fallbackHtml: string | null): Promise<FastifyReply> => {
    let full = path.resolve(root, '.' + path.posix.normalize('/' + relative));
    if (!full.startsWith(root + path.sep)) full = '';
    let found = full ? await fileAt(full) : null;
    if (!found && fallbackHtml !== null) {
      full = path.join(root, fallbackHtml);
      found = await fileAt(full);
      if (!found) throw webError('WEB_NOT_BUILT');
    }
    if (!found) return reply.callNotFound() as unknown as FastifyReply;
    const ext = path.extname(full);
    reply.header('content-type', TYPES[ext] ?? 'application/octet-stream');
    reply.header('content-length', found.size);
    reply.header('x-content-type-options', 'nosniff');
    if (ext === '.html') {
      reply.header('cache-control', 'no-cache');
      reply.header('x-frame-options', 'DENY');
      reply.header('referrer-policy', 'same-origin');
      reply.header(
        'content-security-policy',
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
      );
    } else if (relative.startsWith('assets/')) {
      reply.header('cache-control', 'public, max-age=31536000, immutable');
    }
    return reply.send(createReadStream(full));
  };

  const opt = { config: { access: access.public }, schema: { hide: true } } as const;
  app.get('/', opt, async (_req, reply) => send(reply, 'index.html', 'index.html'));
  app.get('/assets/*', opt, async (req, reply) => send(reply, `assets/${(req.params as { '*': string })['*']}`, null));
  for (const name of WEB_APPS) {
    app.get(`/${name}`, opt, async (_req, reply) => reply.redirect(`/${name}/`));
    // A path with a file extension is a file (404 when missing); anything else is a screen of the app.
    app.get(`/${name}/*`, opt, async (req, reply) => {
      const rest = (req.params as { '*': string })['*'];
      const isFile = /\.[a-z0-9]+$/i.test(rest);
      return send(reply, `${name}/${rest}`, isFile ? null : `${name}/index.html`);
    });
  }
}
