// Runs the CPU benchmarks in turn: `node bench/run.mjs [area ...]`. Each area's script prints
// its own same-run ratios; see bench/README.md and bench/RESULTS.md.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const areas = {
  frontend: ['frontend/run.mjs'],
  attention: ['attention/run.mjs'],
  sampling: ['sampling/run.mjs'],
  data: ['data/run.mjs'],
  train: ['train/run.mjs', 'train/decode.mjs', 'train/decode-batch.mjs'],
};
const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!(name in areas)) {
    console.error(`unknown bench area '${name}'; one of: ${Object.keys(areas).join(', ')}`);
    process.exit(2);
  }
}
let failed = 0;
for (const [name, scripts] of Object.entries(areas)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  for (const script of scripts) {
    console.log(`\n=== ${name}: node bench/${script}`);
    const r = spawnSync(process.execPath, [join(here, script)], { stdio: 'inherit' });
    if (r.status !== 0) failed++;
  }
}
process.exit(failed === 0 ? 0 : 1);
