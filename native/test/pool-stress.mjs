// Stress of the native thread pool: concurrent callers (an AsyncWorker GEMM on a libuv thread
// while the main thread runs synchronous GEMMs and softmax) and pool resizes while
// jobs run, at 1-4 threads. Every result is checked against one computed up front on a single
// thread (the kernels' results do not depend on the thread count or on chunking), so a chunk
// run twice, skipped or run on another job's data shows up as a wrong result, and a lost
// wake-up shows up as a hang, which the caller (native/test/pool.test.ts, or
// native/test/tsan.sh) turns into a failure with a timeout.
//
//   node native/test/pool-stress.mjs [rounds=400] [seed=1]
// Exit 0 and one JSON line on stdout when every result matched; exit 1 on a mismatch.
// LMP_NATIVE_PATH picks the addon (the TSan build, say); default build/native/Release/lmp.node.
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const addonPath = process.env.LMP_NATIVE_PATH ? resolve(process.env.LMP_NATIVE_PATH) : join(root, 'build', 'native', 'Release', 'lmp.node');
const A = createRequire(import.meta.url)(addonPath);

const rounds = Number(process.argv[2] ?? 400);
let seed = Number(process.argv[3] ?? 1) >>> 0 || 1;
function rand() {
  // xorshift32: deterministic inputs and schedule per seed
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed / 4294967296;
}
const randF32 = (n) => Float32Array.from({ length: n }, () => rand() * 2 - 1);
const sameBits = (a, b) => {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
};

// Awkward sizes: chunks that do not divide evenly, a tiny job (n <= grain) and a big one.
const shapes = [
  [1, 1, 1],
  [3, 67, 129],
  [130, 31, 64],
  [257, 96, 100],
  [64, 512, 48],
];
const cases = shapes.map(([M, N, K]) => {
  const a = randF32(M * K), b = randF32(K * N);
  return { M, N, K, a, b, ref: new Float32Array(M * N) };
});
const soft = { rows: 333, cols: 77 };
soft.x = randF32(soft.rows * soft.cols);

A.setNumThreads(1);
for (const c of cases) A.modelGemm(false, false, c.M, c.N, c.K, 1, c.a, c.K, c.b, c.N, 0, c.ref, c.N);
soft.ref = A.logSoftmaxRows(soft.x, soft.rows, soft.cols);

let checked = 0, resizes = 0;
const fail = (what) => {
  console.error(`pool-stress: wrong result: ${what}`);
  process.exit(1);
};
const gemmSync = (c) => {
  const out = new Float32Array(c.M * c.N);
  A.modelGemm(false, false, c.M, c.N, c.K, 1, c.a, c.K, c.b, c.N, 0, out, c.N);
  if (!sameBits(out, c.ref)) fail(`sync gemm ${c.M}x${c.N}x${c.K} at ${A.numThreads()} threads`);
  checked++;
};

for (let r = 0; r < rounds; r++) {
  // One to three async GEMMs in flight on libuv threads...
  const inflight = [];
  const nAsync = 1 + Math.floor(rand() * 3);
  for (let i = 0; i < nAsync; i++) {
    const c = cases[Math.floor(rand() * cases.length)];
    const out = new Float32Array(c.M * c.N);
    inflight.push(
      A.modelGemmAsync(false, false, c.M, c.N, c.K, 1, c.a, c.K, c.b, c.N, 0, out, c.N).then(() => {
        if (!sameBits(out, c.ref)) fail(`async gemm ${c.M}x${c.N}x${c.K}`);
        checked++;
      }),
    );
  }
  // ...while the main thread runs synchronous jobs and resizes the pool under them.
  const nSync = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < nSync; i++) {
    if (rand() < 0.3) {
      A.setNumThreads(1 + Math.floor(rand() * 4));
      resizes++;
    }
    if (rand() < 0.25) {
      const out = A.logSoftmaxRows(soft.x, soft.rows, soft.cols);
      if (!sameBits(out, soft.ref)) fail(`logSoftmaxRows at ${A.numThreads()} threads`);
      checked++;
    } else gemmSync(cases[Math.floor(rand() * cases.length)]);
  }
  await Promise.all(inflight);
}
A.setNumThreads(0);
console.log(JSON.stringify({ ok: true, rounds, checked, resizes }));
