// Sampling benchmark: ratios against same-run baselines (see bench/sampling/README.md).
//   node bench/sampling/run.mjs            (LMP_NATIVE_PATH=... to use a one-module build)
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const addonPath = process.env.LMP_NATIVE_PATH ? resolve(process.env.LMP_NATIVE_PATH) : join(root, 'build', 'native', 'Release', 'lmp.node');
if (!existsSync(addonPath)) {
  console.error(`no addon at ${addonPath}: run npm run build:native`);
  process.exit(2);
}
const addon = createRequire(import.meta.url)(addonPath);
// Kind numbers mirror runtime/decode/chain.ts (KIND) and native/src/sampling/sampling.h.
const K = { temperature: 0, top_k: 1, top_p: 2, min_p: 3, typical: 4, epsilon: 5, eta: 6, sample: 13, mirostat: 14, mirostat_v2: 15 };

function median(a) {
  const s = [...a].sort((x, y) => x - y);
  return s[s.length >> 1];
}
/** Median time of fn in microseconds over `reps` runs (after warm-up); the minimum is kept in lastMin. */
let lastMin = 0;
function time(fn, reps) {
  for (let i = 0; i < Math.min(3, reps); i++) fn();
  const t = [];
  for (let i = 0; i < reps; i++) {
    const a = process.hrtime.bigint();
    fn();
    t.push(Number(process.hrtime.bigint() - a) / 1e3);
  }
  lastMin = Math.min(...t);
  return median(t);
}
function logits(V, seed) {
  // LM-like: normal(0, 3) logits with a few strong tokens.
  let s = seed >>> 0;
  const r = () => ((s = (s * 1664525 + 1013904223) >>> 0) + 0.5) / 4294967296;
  const x = new Float32Array(V);
  for (let i = 0; i < V; i++) x[i] = 3 * Math.sqrt(-2 * Math.log(r())) * Math.cos(2 * Math.PI * r());
  for (let j = 0; j < 5; j++) x[Math.floor(r() * V)] = 16 - j;
  return x;
}

// The way a Node user would do it in plain JavaScript: sort the ids by logit, then apply the rule.
function jsSorted(x) {
  const ids = Array.from({ length: x.length }, (_, i) => i);
  ids.sort((a, b) => x[b] - x[a]);
  return ids;
}
function jsSoftmax(x) {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i] > m) m = x[i];
  const p = new Float64Array(x.length);
  let z = 0;
  for (let i = 0; i < x.length; i++) z += p[i] = Math.exp(x[i] - m);
  for (let i = 0; i < x.length; i++) p[i] /= z;
  return p;
}
function jsPick(ids, p, n) {
  let z = 0;
  for (let i = 0; i < n; i++) z += p[ids[i]];
  let u = Math.random() * z;
  for (let i = 0; i < n; i++) if ((u -= p[ids[i]]) <= 0) return ids[i];
  return ids[n - 1];
}
const js = {
  top_k: (x) => {
    const ids = jsSorted(x);
    return jsPick(ids, jsSoftmax(x), 64);
  },
  top_p: (x) => {
    const p = jsSoftmax(x);
    const ids = jsSorted(x);
    let c = 0, n = 0;
    while (c < 0.9) c += p[ids[n++]];
    return jsPick(ids, p, n);
  },
  min_p: (x) => {
    const p = jsSoftmax(x);
    const ids = jsSorted(x);
    let n = 0;
    while (n < ids.length && p[ids[n]] >= 0.05 * p[ids[0]]) n++;
    return jsPick(ids, p, n);
  },
  typical: (x) => {
    const p = jsSoftmax(x);
    let H = 0;
    for (let i = 0; i < p.length; i++) if (p[i] > 0) H -= p[i] * Math.log(p[i]);
    const ids = Array.from({ length: x.length }, (_, i) => i);
    const sc = (i) => Math.abs(-Math.log(p[i]) - H);
    ids.sort((a, b) => sc(a) - sc(b));
    let c = 0, n = 0;
    while (c < 0.9) c += p[ids[n++]];
    return jsPick(ids, p, n);
  },
};
js.mirostat = js.top_k;
js.mirostat_v2 = js.min_p;

const filters = {
  top_k: { specs: [{ kind: K.top_k, n: 64 }], base: 'max' },
  top_p: { specs: [{ kind: K.top_p, a: 0.9 }], base: 'softmax' },
  min_p: { specs: [{ kind: K.min_p, a: 0.05 }], base: 'softmax' },
  typical: { specs: [{ kind: K.typical, a: 0.9 }], base: 'softmax' },
  mirostat: { specs: [{ kind: K.mirostat, a: 5, b: 0.1, n: 100 }], base: 'softmax' },
  mirostat_v2: { specs: [{ kind: K.mirostat_v2, a: 5, b: 0.1 }], base: 'softmax' },
};

const rows = [];
for (const V of [32768, 131072, 262144]) {
  const x = logits(V, V);
  const out = new Float32Array(V);
  const reps = Math.max(50, Math.floor(2e7 / V));
  const tMax = time(() => addon.samplingBenchMax(x), reps);
  const mMax = lastMin;
  const tSoft = time(() => addon.samplingBenchSoftmax(x, out), reps);
  const mSoft = lastMin;
  const tSort = time(() => x.slice().sort(), 7);
  for (const [name, f] of Object.entries(filters)) {
    const chain = new addon.SamplerChain(f.specs, V, 1);
    const t = time(() => chain.sample(x), reps);
    const tmin = lastMin;
    const tjs = time(() => js[name](x), 5);
    const base = f.base === 'max' ? tMax : tSoft;
    rows.push({ V, name, us: t, base: f.base, baseUs: base, ratio: t / base, minRatio: tmin / (f.base === 'max' ? mMax : mSoft), sortUs: tSort, vsSort: tSort / t, jsUs: tjs, vsJs: tjs / t });
  }
}
const pad = (s, n) => String(s).padStart(n);
console.log('| V | sampler | µs | baseline | baseline µs | ratio (goal) | ratio of minima | full sort µs | sort / sampler (goal >= 20) | plain JS µs | JS / sampler |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  const goal = r.base === 'max' ? '<= 4' : '<= 2.5';
  console.log(`| ${r.V} | ${r.name} | ${r.us.toFixed(1)} | ${r.base === 'max' ? 'max pass' : 'two-pass softmax'} | ${r.baseUs.toFixed(1)} | ${r.ratio.toFixed(2)}x (${goal}) | ${r.minRatio.toFixed(2)}x | ${r.sortUs.toFixed(0)} | ${pad(r.vsSort.toFixed(0), 4)}x | ${r.jsUs.toFixed(0)} | ${r.vsJs.toFixed(0)}x |`);
}

// Call overhead: an empty native function vs the sampler on a tiny vocabulary.
const N = 1_000_000;
const noopChain = new addon.SamplerChain([{ kind: K.sample }], 8, 1);
const tiny = new Float32Array(8);
const loop = (fn) => {
  for (let i = 0; i < 10000; i++) fn();
  const a = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn();
  return Number(process.hrtime.bigint() - a) / N;
};
const nsNoop = loop(() => addon.samplingNoop());
const nsMethod = loop(() => noopChain.noop());
const nsSample8 = loop(() => noopChain.sample(tiny));
console.log(`\ncall overhead: empty native function ${nsNoop.toFixed(0)} ns; empty method on the chain object ${nsMethod.toFixed(0)} ns (goal < 1000 ns); sample() at V = 8 ${nsSample8.toFixed(0)} ns`);
console.log(`addon: ${addonPath} (simd ${addon.version().simd}), node ${process.version}`);
