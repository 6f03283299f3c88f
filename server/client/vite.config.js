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
import { webFormsStyles } from './plugins/web_forms_styles.js';

const src = (p) => fileURLToPath(new URL(`./src/${p}`, import.meta.url));

// Web Forms 0.22 inlines its XPath parser (web-tree-sitter and the XPath grammar) as base64
// data: URLs, which the engine decodes byte by byte and compiles from memory on every start. The
// build writes them as .wasm files instead (served as application/wasm, precached by the service
// worker): web-tree-sitter then compiles while it streams in, and Chromium keeps the compiled
// module in its code cache for the next start.
const WASM_DATA_URL = /\b(webTreeSitter|xpathLanguage) = "data:application\/wasm;base64,([A-Za-z0-9+/=]+)"/g;
const WASM_NAMES = { webTreeSitter: 'tree-sitter.wasm', xpathLanguage: 'tree-sitter-xpath.wasm' };
const wasmAsFiles = {
  name: 'doorstep-wasm-as-files',
  transform(code, id) {
    if (!id.includes('/@getodk/web-forms/dist/') || !code.includes('data:application/wasm;base64,')) return null;
    const out = code.replace(WASM_DATA_URL, (_, name, base64) => {
      const ref = this.emitFile({ type: 'asset', name: WASM_NAMES[name], source: Buffer.from(base64, 'base64') });
      return `${name} = import.meta.ROLLUP_FILE_URL_${ref}`;
    });
    return { code: out, map: null };
  },
};

export default defineConfig({
  base: '/static/app/',
  plugins: [
    vue(),
    webFormsStyles(),
    wasmAsFiles,
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
