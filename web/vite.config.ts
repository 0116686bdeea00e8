import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const webRoot = dirname(fileURLToPath(import.meta.url));
const pagesRoot = join(webRoot, 'pages');

/** One HTML entry per page; each is served at /<name>/ by the platform's web server. */
export const pageNames = ['wallet', 'shop', 'till', 'console'] as const;

export default defineConfig({
  root: pagesRoot,
  publicDir: join(webRoot, 'public'),
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    target: 'es2022',
    sourcemap: false,
    // The pages bundle the SDK (OPAQUE's WebAssembly included); the warning would only be noise.
    chunkSizeWarningLimit: 2_000,
    rollupOptions: {
      input: {
        index: join(pagesRoot, 'index.html'),
        ...Object.fromEntries(pageNames.map((name) => [name, join(pagesRoot, name, 'index.html')])),
      },
    },
  },
});
