// Differential check of two builds of the parser: the same tree and diagnostics (as JSON) for
// every example, the bench's generated file and seeded mutations of the examples (the fuzz
// test's mutator, more seeds). For changes to grammar/ that must not change behaviour:
//   git archive BASE | tar -x -C /tmp/base && ln -s $PWD/node_modules /tmp/base/ &&
//   (cd /tmp/base && npx tsc -p tsconfig.json) && npx tsc -p tsconfig.json &&
//   node bench/frontend/same.mjs /tmp/base [SEEDS=1,2,3]
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const base = process.argv[2];
if (!base) throw new Error('usage: node bench/frontend/same.mjs BASE_TREE [seeds]');
const load = (root) => import(pathToFileURL(join(resolve(root), 'dist/grammar/index.js')).href);
const NEW = await load('.');
const OLD = await load(base);
const { mutate, rng } = await import(pathToFileURL(resolve('dist/grammar/test-util.js')).href);
const { generate } = await import('./gen.mjs');

const ex = readdirSync('examples').filter((f) => f.endsWith('.lmp')).sort().map((f) => [f, readFileSync(join('examples', f), 'utf8')]);
let cases = 0;
let diffs = 0;
const same = (text, what) => {
  cases++;
  if (JSON.stringify(NEW.parse(text, 'f.lmp')) === JSON.stringify(OLD.parse(text, 'f.lmp'))) return;
  if (++diffs <= 3) console.log(`differs: ${what}\n${text.slice(0, 400)}\n---`);
};
for (const [name, text] of ex) same(text, name);
same(generate(50), 'generated');
for (const seed of (process.argv[3] ?? '1,2,3').split(',').map(Number)) {
  const rand = rng(seed);
  for (let i = 0; i < 3000; i++) {
    const [from, text] = ex[i % ex.length];
    const m = mutate(text, rand);
    same(m.text, `seed ${seed} #${i}: ${m.ops.join(', ')} of ${from}`);
  }
}
console.log(`${cases} inputs, ${diffs} differ`);
process.exitCode = diffs === 0 ? 0 : 1;
