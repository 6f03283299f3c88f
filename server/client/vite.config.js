// Builds the phone app and the map pages into server/static/app/ (served at /static/app/).
// Flask reads .vite/manifest.json to write the <script>/<link> tags (server/web/app.py vite_tags)
// and the service worker's precache list.
import { fileURLToPath, URL } from 'node:url';
import { defineConfig } from 'vite';
import vue from '@vitejs/plugin-vue';

const src = (p) => fileURLToPath(new URL(`./src/${p}`, import.meta.url));

export default defineConfig({
  base: '/static/app/',
  plugins: [vue()],
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
