// Web Forms' styles as a stylesheet of the engine, written once at build time instead of built
// by JavaScript at every start of the form engine:
// - Web Forms' own CSS (0.4 MB), which its JavaScript carries as a string and inserts in a
//   <style> when it loads (vite-plugin-css-injected-by-js);
// - PrimeVue's theme: Web Forms installs PrimeVue with the ODK preset, and PrimeVue then turns
//   the preset's tokens into CSS variables and every component's CSS at run time (the tokens,
//   the variables, a deep watch over them: ~0.1 s of the repeat visit's CPU, more on a phone).
//   Here the same functions of the same bundle compute that CSS in Node, for every component
//   the bundle has, and PrimeVue is installed with `theme: 'none'` so it computes nothing.
// Both go, in that order (the order PrimeVue appended them in), into `virtual:web-forms.css`,
// which formview.js imports: Vite writes it as the engine chunk's .css file. Web Forms is pinned
// (package.json); a version whose code no longer matches fails the build here.
import vm from 'node:vm';
import { readFile, mkdtemp, writeFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const VIRTUAL = 'virtual:web-forms.css';
const RESOLVED = '\0web-forms.css';
const DIST = '/@getodk/web-forms/dist/';

// Web Forms' CSS carries the Roboto font inlined: 3 weights x 9 scripts, 0.87 MB of base64. The
// phone shows the forms in Chinese, which Roboto does not cover, and the app's CSS names the
// system's fonts: those @font-face rules are dropped (text falls back to the system font).
const ROBOTO = /@font-face\{font-family:Roboto;[^}]*\}/g;
// dist/index.js starts with the <style> it inserts: `(function(){"use strict";try{...
// document.createTextNode('<css>')...}catch(t){console.error("vite-plugin-css-injected-by-js",t)}})();`
const INJECTED_CSS = /^\(function\(\)\{"use strict";try\{if\(typeof document<"u"\)\{var r=document\.createElement\("style"\);r\.appendChild\(document\.createTextNode\(('(?:[^'\\]|\\.)*')\)\),document\.head\.appendChild\(r\)\}\}catch\(t\)\{console\.error\("vite-plugin-css-injected-by-js",t\)\}\}\)\(\);\n?/;
const THEMED_INSTALL = 'use(PrimeVue, { theme: { preset: odkThemePreset, options: { darkModeSelector: !1 } } })';
// With the theme built, the ODK preset and PrimeVue's Aura preset under it (every component's
// tokens, ~0.1 MB of object literals, built and deep-merged at every start of the engine) are
// unused; Rollup keeps them only because building them calls functions. Annotated as pure calls
// (the Aura object built in an arrow function called at once), the build drops them.
const AURA_START = 'Qr$1 = (Nr$1 = ((eA, tA) => {';
const AURA_END = 'virtualscroller: e$2 } })));\nconst odkThemePreset = t$G(Qr$1, {';
const PURE = '/* @__PURE__ */ ';

/** The CSS string of dist/index.js's injected <style>, and the code without it. */
function splitInjectedCss(code) {
  const m = code.match(INJECTED_CSS);
  if (!m) throw new Error("Web Forms' dist/index.js no longer starts with its injected <style>");
  return { css: vm.runInNewContext(m[1]), code: code.slice(m[0].length) };
}

// The bundle touches the DOM at its top level (feature checks, a DOMParser, a <style>); the theme
// functions used here are pure, so a stub that answers anything is enough to load it in Node.
const STUB = new Proxy(function stub() {}, {
  get: (_, key) => (key === Symbol.toPrimitive ? () => '' : key === 'then' ? undefined : STUB),
  apply: () => STUB,
  construct: () => STUB,
});
const BROWSER_GLOBALS = ['document', 'window', 'navigator', 'DOMParser', 'XMLSerializer', 'CSS',
  'HTMLElement', 'Element', 'Node', 'getComputedStyle', 'matchMedia'];

/**
 * PrimeVue's theme CSS exactly as its components would insert it (the same calls as
 * BaseComponent._loadThemeStyles and BaseDirective._loadThemeStyles), for every style the bundle
 * defines: the common variables and global style first, then each component's.
 */
async function themeCss(chunkPath, vueUrl) {
  let code = await readFile(chunkPath, 'utf8');
  code = code.replace(/ from "vue";/, ` from ${JSON.stringify(vueUrl)};`);
  // its XPath parser starts at load (WebAssembly, fetched): not needed for the theme
  code = code.replace(/const expressionParser = await ExpressionParser\.init\(\{[^}]*\}\);/,
    'const expressionParser = null;');
  const styles = [...code.matchAll(/\b(\w+Style) = BaseStyle\.extend\(\{/g)].map((m) => m[1]);
  if (!styles.length || !code.includes('const odkThemePreset =')) {
    throw new Error("Web Forms' bundle no longer defines PrimeVue's styles and the ODK preset as expected");
  }
  code += `\nexport const doorstepTheme = { Theme: config_default, BaseStyle, resolve, minifyCSS, dt: dt$1,
    preset: odkThemePreset, styles: [${styles.join(', ')}] };\n`;
  const dir = await mkdtemp(join(tmpdir(), 'doorstep-web-forms-'));
  const saved = {};
  for (const name of BROWSER_GLOBALS) {
    saved[name] = Object.getOwnPropertyDescriptor(globalThis, name);
    if (!saved[name]) globalThis[name] = STUB;
  }
  try {
    await writeFile(join(dir, 'web-forms.mjs'), code);
    const { doorstepTheme: T } = await import(pathToFileURL(join(dir, 'web-forms.mjs')).href);
    const { Theme, BaseStyle, resolve, minifyCSS, dt } = T;
    Theme.setTheme({ preset: T.preset, options: { darkModeSelector: false } });  // THEMED_INSTALL's
    const out = [];
    const put = (css) => { if (css) out.push(minifyCSS(css)); };
    const common = BaseStyle.getCommonTheme() || {};
    put(resolve(common.primitive?.css, { dt }));
    put(resolve(common.semantic?.css, { dt }));
    put(resolve(common.global?.css, { dt }));
    put(Theme.transformCSS('global-style', `${resolve(BaseStyle.style, { dt }) || ''}${common.style || ''}`));
    for (const style of T.styles) {
      const theme = (style.name.endsWith('-directive') ? style.getDirectiveTheme() : style.getComponentTheme()) || {};
      put(resolve(theme.css, { dt }));
      put(Theme.transformCSS(`${style.name}-style`, `${resolve(style.style, { dt }) || ''}${theme.style || ''}`));
    }
    put(BaseStyle.getLayerOrderThemeCSS());
    return out.join('\n');
  } finally {
    for (const name of BROWSER_GLOBALS) if (!saved[name]) delete globalThis[name];
    await rm(dir, { recursive: true, force: true });
  }
}

/** The Vite plugin: the stylesheet as `virtual:web-forms.css`, Web Forms' JavaScript without it. */
export function webFormsStyles() {
  return {
    name: 'doorstep-web-forms-styles',
    resolveId(id) {
      return id === VIRTUAL ? RESOLVED : null;
    },
    async load(id) {
      if (id !== RESOLVED) return null;
      const entry = (await this.resolve('@getodk/web-forms', undefined, { skipSelf: true })).id;
      const source = await readFile(entry, 'utf8');
      const chunk = source.match(/from "\.\/(index-\w+\.js)"/);
      if (!chunk) throw new Error("Web Forms' dist/index.js no longer imports its index-*.js chunk");
      const require = createRequire(entry);
      const vueUrl = pathToFileURL(require.resolve('vue').replace(/index\.js$/, 'index.mjs')).href;
      const own = splitInjectedCss(source).css.replace(ROBOTO, '');
      return `${own}\n${await themeCss(join(dirname(entry), chunk[1]), vueUrl)}\n`;
    },
    transform(code, id) {
      if (!id.includes(DIST)) return null;
      if (id.endsWith('/dist/index.js')) return { code: splitInjectedCss(code).code, map: null };
      if (!code.includes('webFormsPlugin = {')) return null;
      if (!code.includes(THEMED_INSTALL)) {
        this.error("Web Forms no longer installs PrimeVue with the ODK preset as expected");
      }
      if (!code.includes(AURA_START) || !code.includes(AURA_END)) {
        this.error("Web Forms no longer builds the ODK preset on PrimeVue's Aura as expected");
      }
      const out = code.replace(THEMED_INSTALL, () => 'use(PrimeVue, { theme: "none" })')
        .replace(AURA_START, () => `Qr$1 = ${PURE}(() => (Nr$1 = ((eA, tA) => {`)
        .replace(AURA_END, () => `virtualscroller: e$2 } }))))();\nconst odkThemePreset = ${PURE}t$G(Qr$1, {`);
      return { code: out, map: null };
    },
  };
}
