// Copies the two scripts that Lab.export() inlines into its self-contained HTML file (no CDN, opens
// offline): RequireJS and the ipywidgets HTML manager's AMD embed bundle. bqplot's and bqscales' own AMD
// bundles come from the installed Python packages at export time.
// Also copies Font Awesome 5 (the icons of ipywidgets buttons) into nbtrain's Voilà template, which serves
// it itself instead of Voilà's lab template fetching it from a CDN.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const out = join(here, '..', '..', 'nbtrain', 'export_assets');
mkdirSync(out, { recursive: true });
const files = {
  'require.js': require.resolve('requirejs/require.js'),
  'embed-amd.js': join(dirname(require.resolve('@jupyter-widgets/html-manager/package.json')), 'dist', 'embed-amd.js'),
};
for (const [name, src] of Object.entries(files)) {
  copyFileSync(src, join(out, name));
}
console.log(`export assets -> ${out}: ${Object.keys(files).join(', ')}`);

const fa = dirname(require.resolve('@fortawesome/fontawesome-free/package.json'));
const faOut = join(here, '..', '..', 'nbtrain', 'voila_template', 'static', 'fontawesome');
mkdirSync(join(faOut, 'css'), { recursive: true });
mkdirSync(join(faOut, 'webfonts'), { recursive: true });
for (const name of ['all.min.css', 'v4-shims.min.css']) {
  copyFileSync(join(fa, 'css', name), join(faOut, 'css', name));
}
// every browser nbtrain supports reads woff2, the first source the stylesheet lists
const fonts = readdirSync(join(fa, 'webfonts')).filter(f => f.endsWith('.woff2'));
for (const name of fonts) {
  copyFileSync(join(fa, 'webfonts', name), join(faOut, 'webfonts', name));
}
copyFileSync(join(fa, 'LICENSE.txt'), join(faOut, 'LICENSE.txt'));
console.log(`font awesome -> ${faOut}: 2 stylesheets, ${fonts.join(', ')}`);
