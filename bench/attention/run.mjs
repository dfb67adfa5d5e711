// Attention bench (ratios in one run): node bench/attention/run.mjs [--quick]
// Needs the native addon with the `attention` module (LMP_NATIVE_PATH or build/native), and for
// the OpenBLAS baselines libopenblas-dev + gcc (skipped with a note otherwise).
// Prints a markdown section; see bench/RESULTS.md "## attention".
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const quick = process.argv.includes('--quick');
if (!process.env.LMP_NATIVE_PATH && existsSync(join(root, 'build-attention/Release/lmp.node')))
  process.env.LMP_NATIVE_PATH = join(root, 'build-attention/Release/lmp.node');

const tmp = mkdtempSync(join(tmpdir(), 'lmp-attn-bench-'));
// LMP_BENCH_BUNDLE: a prebuilt bundle (for machines without node_modules); --bundle-only OUT writes one.
const bundleOnly = process.argv.indexOf('--bundle-only');
const bundle = bundleOnly >= 0 ? resolve(process.argv[bundleOnly + 1]) : process.env.LMP_BENCH_BUNDLE ?? join(tmp, 'attn.mjs');
if (!process.env.LMP_BENCH_BUNDLE) {
const { build } = await import('esbuild');
await build({
  stdin: {
    contents: `export * from './runtime/attention/index.ts'; export { tileStats, docIdsFromLengths } from './runtime/mask/index.ts'; export { native } from './runtime/native.ts';`,
    resolveDir: root,
    loader: 'ts',
  },
  bundle: true,
  platform: 'node',
  format: 'esm',
  outfile: bundle,
  logLevel: 'error',
  banner: { js: `import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);` },
});
}
if (bundleOnly >= 0) process.exit(0);
const A = await import(bundle);

const T = quick ? 1024 : 4096, D = 64, H = 2;
const reps = quick ? 2 : 3;
function rnd(n, seed) {
  let s = seed >>> 0;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = ((s >>> 8) & 0xffff) / 65536 - 0.5;
  }
  return x;
}
const q = rnd(T * H * D, 1), k = rnd(T * H * D, 2), v = rnd(T * H * D, 3), dout = rnd(T * H * D, 4);
// Documents of mean ~300 tokens (uniform 100..500, deterministic).
const docLens = [];
for (let s = 0, x = 7; s < T; ) {
  x = (Math.imul(x, 1103515245) + 12345) >>> 0;
  const l = 100 + ((x >>> 16) % 401);
  docLens.push(l);
  s += l;
}
const docIds = A.docIdsFromLengths(docLens, T);
const meanDoc = T / docLens.length;

const causal = { op: 'causal' };
const and = (...args) => ({ op: 'and', args });
const or = (...args) => ({ op: 'or', args });
const masks = [
  ['full', { op: 'full' }],
  ['causal', causal],
  ['causal & window(512)', and(causal, { op: 'window', size: 512 })],
  ['window(256) (alone)', { op: 'window', size: 256 }],
  ['sink(64) (alone)', { op: 'sink', count: 64 }],
  ['prefix(1024)', { op: 'prefix', length: 1024 }],
  ['chunked(512)', { op: 'chunked', size: 512 }],
  ['causal & same_document', and(causal, { op: 'same_document' })],
  ['lambda: causal & (sink(4) | window(1k))', and(causal, or({ op: 'sink', count: 4 }, { op: 'window', size: 1024 }))],
  ['causal & chunked(512)', and(causal, { op: 'chunked', size: 512 })],
  ['causal & !window(64)', and(causal, { op: 'not', arg: { op: 'window', size: 64 } })],
];

// --export FILE: write the cases (mask program, tile fraction, block classes) for kbench.cc and stop.
const exportAt = process.argv.indexOf('--export');
if (exportAt >= 0) {
  const { writeFileSync } = await import('node:fs');
  const rows = [`docs\t${docLens.join(',')}`];
  for (const [name, mask] of masks) {
    const km = A.kernelMasks(mask, 1, Int32Array.of(0, T), Int32Array.of(0, T), docIds);
    rows.push(`${name}\t${A.tileStats(mask, T, 64, docIds).computedFraction}\t${Array.from(km.programs[0]).join(',')}\t${Array.from(km.classes).join('')}`);
  }
  writeFileSync(process.argv[exportAt + 1], rows.join('\n') + '\n');
  process.exit(0);
}

const time = (fn) => {
  let best = Infinity;
  fn(); // warm
  for (let r = 0; r < reps; r++) {
    const t = process.hrtime.bigint();
    fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e9);
  }
  return best;
};
const input = (mask) => ({ q, k, v, heads: H, kvHeads: H, headDim: D, docIds, mask });

let blas = process.env.LMP_BLAS_REF; // a prebuilt blas_ref binary, else built here
if (!blas) {
  try {
    blas = join(tmp, 'blas_ref');
    execFileSync('gcc', ['-O3', '-march=native', join(here, 'blas_ref.c'), '-o', blas, '-lopenblas', '-lm'], { stdio: 'pipe' });
  } catch {
    blas = undefined;
  }
}
const blasRun = (args) => Number(execFileSync(blas, args.map(String)).toString().trim());

const lines = [];
const out = (s) => {
  lines.push(s);
  console.log(s);
};
out(`Command: \`node bench/attention/run.mjs${quick ? ' --quick' : ''}\`; T = ${T}, d = ${D}, heads = ${H}, 64x64 tiles, best of ${reps}; simd = ${A.native().version().simd}; ${new Date().toISOString()}`);
for (const threads of [1, 2]) {
  A.native().setNumThreads(threads);
  out(`\n### ${threads} thread${threads > 1 ? 's' : ''}\n`);
  out('| mask | tiles computed | time (ms) | time / time(full) | goal <= computed + 0.05 |');
  out('|---|---|---|---|---|');
  let tFull = 0;
  const tm = {};
  for (const [name, mask] of masks) {
    const st = A.tileStats(mask, T, 64, docIds);
    const t = time(() => A.attentionForward(input(mask)));
    if (name === 'full') tFull = t;
    tm[name] = t;
    const ratio = t / tFull;
    out(`| ${name} | ${st.computedFraction.toFixed(3)} | ${(t * 1e3).toFixed(1)} | ${ratio.toFixed(3)} | ${ratio <= st.computedFraction + 0.05 ? 'met' : 'MISSED'} |`);
  }
  const flops = 4 * T * T * D * H;
  const gf = flops / tm['full'] / 1e9;
  let cmp = '';
  if (blas) {
    const N = quick ? 1024 : 2048;
    const ts = blasRun(['sgemm', N, threads, reps]);
    const bgf = (2 * N * N * N) / ts / 1e9;
    cmp = `; OpenBLAS sgemm ${N}^3 (same run): ${bgf.toFixed(1)} GFLOP/s; ratio ${(gf / bgf).toFixed(2)} (goal >= 0.6)`;
  } else cmp = '; OpenBLAS not available (install libopenblas-dev), no sgemm comparison';
  out(`\nDense fused forward: ${gf.toFixed(1)} GFLOP/s${cmp}`);
  const fwdOne = (mask) => A.attentionForward(input(mask));
  for (const [name, mask] of [masks[0], masks[1], masks[7]]) {
    const f = fwdOne(mask);
    const tb = time(() => A.attentionBackward({ ...input(mask), out: f.out, lse: f.lse, dout }));
    out(`Backward / forward, ${name}: ${(tb / tm[name]).toFixed(2)} (goal <= 2.5; backward ${(tb * 1e3).toFixed(1)} ms)`);
  }
  if (blas) {
    // Materialized per head: run once per head (same work as H heads).
    const tmat = blasRun(['materialized', T, threads, reps, D, ...docLens]) * H;
    const td = tm['causal & same_document'];
    out(`Document mask (mean doc ${meanDoc.toFixed(0)} tokens): fused ${(td * 1e3).toFixed(1)} ms vs OpenBLAS materialized T x T scores ${(tmat * 1e3).toFixed(1)} ms: ${(tmat / td).toFixed(1)}x (goal >= 10x)`);
  }
}
A.native().setNumThreads(0);
