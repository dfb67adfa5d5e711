// Compares the native `typical` with Hugging Face's TypicalLogitsWarper on the cases that
// bench/sampling/hf_typical.py wrote (see its header). Needs dist/ (npm run build:ts) and the
// addon. For each case: the kept set of the default (hf, ties keep) and of ties: by_id, against
// the warper's; a difference is "rounding" when the warper's set lies between the float64
// definition's sets (runtime/decode/reference.ts typicalKept) for p (1 - tol) and p (1 + tol),
// tol = 1e-5, or 1e-4 (the warper sums the sorted probabilities with a float32 cumsum, whose error
// grows with the number of terms).
//   node bench/sampling/hf-typical.mjs /tmp/hf-typical.json
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { Sampler } = await import(join(root, 'dist', 'runtime', 'decode', 'sampler.js'));
const { typicalKept } = await import(join(root, 'dist', 'runtime', 'decode', 'reference.js'));

const file = process.argv[2] ?? 'hf-typical.json';
const { torch, cases } = JSON.parse(readFileSync(file, 'utf8'));
const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
const within = (x, p, hf, tol) => {
  const h = new Set(hf);
  const lo = typicalKept(x, p, {}, 1 - tol);
  const hi = new Set(typicalKept(x, p, {}, 1 + tol));
  return lo.every((i) => h.has(i)) && hf.every((i) => hi.has(i));
};
const kept = (spec, x) => {
  const d = new Sampler([spec], { vocab: x.length }).distribution(x);
  const out = [];
  for (let i = 0; i < d.length; i++) if (d[i] > 0) out.push(i);
  return out;
};
let exact = 0, differ = 0, byIdDiffers = 0;
const rounding = { 1e-5: 0, 1e-4: 0 };
const worst = [];
for (const c of cases) {
  const x = Float32Array.from(c.logits);
  const hf = c.hf_kept;
  const ours = kept({ name: 'typical', p: c.p }, x);
  const byId = kept({ name: 'typical', p: c.p, ties: 'by_id' }, x);
  if (!same(byId, hf)) byIdDiffers++;
  if (same(ours, hf)) exact++;
  else if (within(x, c.p, hf, 1e-5)) rounding[1e-5]++;
  else if (within(x, c.p, hf, 1e-4)) rounding[1e-4]++;
  else {
    differ++;
    worst.push(`${c.name} p=${c.p}: hf ${hf.length}, lmp ${ours.length}`);
  }
  if (hf.length - byId.length > 50) worst.push(`(by_id) ${c.name} p=${c.p}: hf keeps ${hf.length}, by_id ${byId.length}`);
}
console.log(`torch ${torch}, ${cases.length} cases`);
console.log(`default typical vs TypicalLogitsWarper: ${exact} identical, ${rounding[1e-5]} within 1e-5 of p, ${rounding[1e-4]} within 1e-4 (float32 cumsum), ${differ} different`);
console.log(`ties: by_id vs TypicalLogitsWarper: ${byIdDiffers} of ${cases.length} kept sets differ`);
for (const w of worst.slice(0, 20)) console.log('  ' + w);
process.exitCode = differ > 0 ? 1 : 0;
