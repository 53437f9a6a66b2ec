import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

const outDir = resolve(__dirname, '../internal/center/webui/dist');

// dist/ keeps its committed .gitignore (so that the Go embed pattern always
// matches something), so Vite must not empty it: this removes the previous
// build's files only.
function cleanDist(): Plugin {
  return {
    name: 'wirewatch-clean-dist',
    apply: 'build',
    buildStart() {
      rmSync(resolve(outDir, 'assets'), { recursive: true, force: true });
      rmSync(resolve(outDir, 'index.html'), { force: true });
    },
  };
}

// The app is embedded in the Go binary (internal/center/webui/dist) and served
// under a strict Content-Security-Policy: no inline script or style, so Vite
// must not inline anything (modulepreload polyfill, small assets as data: URLs
// for scripts) into index.html.
export default defineConfig({
  base: '/',
  plugins: [cleanDist()],
  build: {
    outDir,
    emptyOutDir: false,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
    chunkSizeWarningLimit: 400,
  },
  worker: { format: 'es' },
  server: {
    proxy: { '/api': 'http://127.0.0.1:10870' },
  },
});
