// Copies the two scripts that Lab.export() inlines into its self-contained HTML file (no CDN, opens
// offline): RequireJS and the ipywidgets HTML manager's AMD embed bundle. bqplot's and bqscales' own AMD
// bundles come from the installed Python packages at export time.
import { copyFileSync, mkdirSync } from 'node:fs';
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
