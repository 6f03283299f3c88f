// Builds the phone app and the map pages into server/static/app/ (served at /static/app/).
// Flask reads .vite/manifest.json to write the <script>/<link> tags (server/web/app.py vite_tags)
// and the service worker's precache list. Every built file is also written compressed (.br and
// .gz beside it) so the server (WhiteNoise, server/static_files.py) sends the smallest one the
// browser accepts without compressing anything per request.
import zlib from 'node:zlib';
import { fileURLToPath, URL } from 'node:url';
import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';
import { compression } from 'vite-plugin-compression2';

const src = (p) => fileURLToPath(new URL(`./src/${p}`, import.meta.url));

export default defineConfig({
  base: '/static/app/',
  plugins: [
    vue(),
    compression({
      algorithms: ['gzip', ['brotliCompress', { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }]],
      include: /\.(js|css|json|svg|wasm)$/,
      threshold: 1024,
      skipIfLargerOrEqual: true,
    }),
  ],
  build: {
    outDir: fileURLToPath(new URL('../static/app/', import.meta.url)),
    emptyOutDir: true,
    manifest: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4000,
    rollupOptions: {
      input: {
        phone: src('app/main.js'),
        coverage: src('coverage/main.js'),
      },
    },
  },
});
