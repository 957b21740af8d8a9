// Bundles ../notebooks/*.ipynb (outputs stripped) into src/notebooks.json, which the launcher plugin imports:
// its cards write these notebooks through the server's contents API, so no new HTTP endpoint is needed.
// The same files ship in the Python package (nbtrain/notebooks, `python -m nbtrain notebooks DEST`).
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, '..', '..', 'notebooks');
const target = join(here, '..', 'src', 'notebooks.json');

const titleOf = (nb, name) => {
  for (const cell of nb.cells ?? []) {
    if (cell.cell_type !== 'markdown') continue;
    const text = Array.isArray(cell.source) ? cell.source.join('') : String(cell.source ?? '');
    const heading = text.split('\n').find(line => /^#\s/.test(line));
    if (heading) return heading.replace(/^#+\s*/, '').trim();
  }
  return name.replace(/\.ipynb$/, '');
};

const notebooks = [];
if (existsSync(source)) {
  for (const name of readdirSync(source).filter(n => n.endsWith('.ipynb')).sort()) {
    const nb = JSON.parse(readFileSync(join(source, name), 'utf8'));
    for (const cell of nb.cells ?? []) {
      if (cell.cell_type === 'code') {
        cell.outputs = [];
        cell.execution_count = null;
      }
    }
    notebooks.push({ name, title: titleOf(nb, name), content: nb });
  }
}
writeFileSync(target, JSON.stringify(notebooks));
console.log(`nbtrain: bundled ${notebooks.length} notebook(s) into src/notebooks.json`);
