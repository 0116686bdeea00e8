import { readdir, readFile } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import type { FastifyInstance } from 'fastify';

/** Content types of what Vite writes into the build. */
const contentTypes: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * What the pages may do: load and run only the platform's own files (WebAssembly
 * for OPAQUE), talk only to their own origin (the services are behind /api),
 * show images they drew themselves (QR codes, camera frames) and never be framed.
 */
export const pageSecurityHeaders: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "media-src 'self' blob:",
    "worker-src 'self'",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "object-src 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'permissions-policy': 'camera=(self), microphone=(), geolocation=()',
  'cross-origin-opener-policy': 'same-origin',
});

interface StaticFile {
  readonly path: string;
  readonly type: string;
  /** Vite's hashed assets never change under their name. */
  readonly immutable: boolean;
}

async function listFiles(root: string, folder = root): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map(async (entry) => {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) return listFiles(root, path);
      return entry.isFile() ? [path] : [];
    }),
  );
  return nested.flat();
}

/**
 * Serves the built pages. The files are listed once at start, so a request
 * can only ever name one of them: no path from the network reaches the file
 * system. `/wallet/` answers `/wallet/index.html`.
 */
export async function serveBuiltPages(app: FastifyInstance, distDir: string): Promise<void> {
  const files = new Map<string, StaticFile>();
  for (const path of await listFiles(distDir)) {
    const urlPath = `/${relative(distDir, path).split(sep).join('/')}`;
    const type = contentTypes[extname(path)];
    if (type === undefined || urlPath.startsWith('/.')) continue;
    files.set(urlPath, { path, type, immutable: urlPath.startsWith('/assets/') });
    if (urlPath.endsWith('/index.html'))
      files.set(urlPath.slice(0, -'index.html'.length), { path, type, immutable: false });
  }
  app.get('/*', async (request, reply) => {
    const urlPath = request.url.split('?')[0] ?? '/';
    const file = files.get(urlPath) ?? (files.has(`${urlPath}/`) ? undefined : undefined);
    if (file === undefined) {
      if (files.has(`${urlPath}/`)) return reply.redirect(`${urlPath}/`, 308);
      return reply.code(404).type('text/plain; charset=utf-8').send('not found');
    }
    for (const [name, value] of Object.entries(pageSecurityHeaders)) reply.header(name, value);
    reply.header('cache-control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    return reply.type(file.type).send(await readFile(file.path));
  });
}
