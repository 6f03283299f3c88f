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

// Web Forms 0.22 inlines the Roboto font into its JavaScript: 3 weights x 9 scripts, woff2 and
// woff, 0.87 MB of base64 that no compression shrinks, two thirds of the engine's bytes. The
// phone shows the forms in Chinese, which Roboto does not cover, and the app's CSS names the
// system's fonts: the build drops those @font-face rules (text falls back to the system font).
const ROBOTO = /@font-face\{font-family:Roboto;[^}]*\}/g;
const withoutRoboto = {
  name: 'doorstep-without-inlined-roboto',
  transform(code, id) {
    if (!id.includes('/@getodk/web-forms/dist/') || !code.includes('font-family:Roboto')) return null;
    return { code: code.replace(ROBOTO, ''), map: null };
  },
};

export default defineConfig({
  base: '/static/app/',
  plugins: [
    vue(),
    withoutRoboto,
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
