// Front-end throughput: check (parse + analyze) on a large generated file, and the wall time of
// `lmpc check` on every example as a whole process. Needs the build: `npx tsc -p tsconfig.json`.
//   node bench/frontend/run.mjs
// Baseline measured in the same run: lexing+parsing alone, so the analyze share is a ratio.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const { parse } = await import('../../dist/grammar/index.js');
const { check } = await import('../../dist/compiler/index.js');
const { generate } = await import('./gen.mjs');

const best = (f, n = 5) => {
  let b = Infinity;
  let r;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    r = f();
    b = Math.min(b, performance.now() - t0);
  }
  return [b, r];
};

for (const blocks of [250, 2500]) {
  const text = generate(blocks);
  const lines = text.split('\n').length;
  const mb = Buffer.byteLength(text) / 2 ** 20;
  const [tp] = best(() => parse(text, 'big.lmp'));
  const [tc, res] = best(() => check(text, 'big.lmp'));
  if (res.diagnostics.length !== 0) throw new Error(`generated file should check clean: ${res.diagnostics[0].message}`);
  console.log(
    `${lines} lines (${mb.toFixed(2)} MB): parse ${tp.toFixed(0)} ms, check ${tc.toFixed(0)} ms = ${(lines / (tc / 1000)).toFixed(0)} lines/s, ${(mb / (tc / 1000)).toFixed(2)} MB/s; analyze/parse ratio ${((tc - tp) / tp).toFixed(2)}`,
  );
}

const examples = readdirSync('examples').filter((f) => f.endsWith('.lmp')).map((f) => `examples/${f}`);
const wall = [];
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  try {
    execFileSync(process.execPath, ['dist/compiler/cli.js', 'check', ...examples], { stdio: 'pipe' });
  } catch {
    // diagnostics exit 1; the time still counts
  }
  wall.push(performance.now() - t0);
}
const t0 = performance.now();
execFileSync(process.execPath, ['-e', '0']);
const nodeStart = performance.now() - t0;
console.log(`lmpc check ${examples.length} examples (whole process): best ${Math.min(...wall).toFixed(0)} ms; bare node start ${nodeStart.toFixed(0)} ms`);
