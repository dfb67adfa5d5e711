// Kernel-level before/after of lmp alone, robust on a shared machine: two builds of the addon (or
// two dispatch paths of one build) in ONE process, alternating repetition by repetition; medians.
//   node bench/peers/ab.mjs OLD.node NEW.node [--threads 1,2] [--only gemm,rows,attention,train,prefill,decode] [--attn-lengths 4096] [--train-lengths 256,1024]
//   node bench/peers/ab.mjs --paths avx2,avx512 [ADDON.node] [...]   (setSimdCap on one build)
//   node bench/peers/ab.mjs --streams adjacent,spread [ADDON.node] [...]   (setWeightStreams on one build)
//   --old-src DIR: bundle the old side's TypeScript runtime from DIR (a worktree of the old commit)
//   --cap avx2: run both builds on that dispatch path (setSimdCap), e.g. the AVX2 kernels on an AVX-512 machine
// gemm: the training step's shapes (T = 256 and 1024) and decode GEMVs, GFLOP/s; attention: T = 4096 (or
// --attn-lengths), d = 64, 8 heads, full and causal, forward and backward, ms of process CPU time (1 thread) or wall
// (more threads); train: one training step of the 4.85M model; decode: tokens/s of the 23M model;
// prefill: its 128-token prompt; rows: gemmRows (batched decoding's GEMV), M = 1..16, weights in cache;
// idle: the dense attention forward at T = 1k (2+ threads) after a 50 ms idle pause each call, wall ms,
// and how many calls ran at about 1-thread speed (wall above 0.58 of the call's CPU time: a late worker).
// Prints one line per case with the speed ratio new / old (above 1: the second is faster).
import { arg, argmax, decodeCfg, list, median, rnd, root, runtime, timed } from './common.mjs';
import { join } from 'node:path';

const pos = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(all[i - 1] ?? '').startsWith('--'));
// One build, two settings: --paths (setSimdCap: side.cap) or --streams (setWeightStreams: side.streams).
const setting = arg('streams') ? 'streams' : arg('paths') ? 'paths' : undefined;
const paths = setting ? list(setting, '') : undefined;
const one = pos[0] ?? join(root, 'build/native/Release/lmp.node');
const sides = paths
  ? paths.map((p) => ({ name: p, addon: one, [setting === 'streams' ? 'streams' : 'cap']: p }))
  : [{ name: 'old', addon: pos[0] }, { name: 'new', addon: pos[1] }];
if (sides.length !== 2 || sides.some((s) => !s.addon)) {
  console.error('usage: node bench/peers/ab.mjs OLD.node NEW.node [...] | --paths A,B [ADDON.node]');
  process.exit(2);
}
const R = [];
for (const s of sides) R.push(paths && R.length ? R[0] : await runtime(s.addon, s === sides[0] && arg('old-src') ? arg('old-src') : undefined));
const only = new Set(list('only', 'gemm,attention,train,decode'));
const reps = Number(arg('reps', '7'));
// Before each measurement: this side's thread count and (with --paths / --streams) its setting.
const use = (i, threads) => {
  const N = R[i].native();
  N.setNumThreads(threads);
  if (sides[i].cap ?? arg('cap')) N.setSimdCap(sides[i].cap ?? arg('cap'));
  if (sides[i].streams) N.setWeightStreams(sides[i].streams);
};
/** Alternates fn(0) and fn(1) `reps` times; returns the medians of what fn returns. */
function ab(threads, fn) {
  const out = [[], []];
  for (const i of [0, 1]) use(i, threads), fn(i); // warm
  for (let r = 0; r < reps; r++)
    for (const i of [0, 1]) {
      use(i, threads);
      out[i].push(fn(i));
    }
  return out.map(median);
}
const line = (what, unit, a, b, higherIsBetter) =>
  console.log(`${what}: ${sides[0].name} ${a.toFixed(1)} ${unit}, ${sides[1].name} ${b.toFixed(1)} ${unit} (${sides[1].name} / ${sides[0].name} speed ${(higherIsBetter ? b / a : a / b).toFixed(2)}x)`);

for (const threads of list('threads', '1,2').map(Number)) {
  const cpu = threads === 1; // 1 thread: CPU time; more: wall time
  if (only.has('gemm')) {
    const shapes = [[256, 768, 256, false, true], [256, 256, 768, false, true], [256, 256, 256, false, true], [256, 128, 256, false, true], [768, 256, 256, true, false],
      [1024, 768, 256, false, true], [1024, 256, 768, false, false], [1, 1536, 512, false, true], [1, 4096, 512, false, true]];
    for (const [M, N, K, ta, tb] of shapes) {
      const A = rnd(M * K, 1), B = rnd(K * N, 2), C = new Float32Array(M * N);
      const n = M === 1 ? 200 : 10;
      const [a, b] = ab(threads, (i) => {
        const g = R[i].native().modelGemm;
        const t = timed(() => { for (let x = 0; x < n; x++) g(ta, tb, M, N, K, 1, A, ta ? M : K, B, tb ? K : N, 0, C, N); });
        return (2 * M * N * K * n) / (cpu ? t.cpu : t.s) / 1e9;
      });
      line(`${threads}t gemm ${M}x${N}x${K} ${ta ? 'T' : 'N'}${tb ? 'T' : 'N'}`, 'GFLOP/s', a, b, true);
    }
  }
  if (only.has('rows')) {
    // gemmRows (batched decoding's row-stable GEMV) with weights in cache: M rows against N x K
    for (const [Nn, K] of [[1536, 512], [512, 1536]])
      for (const M of [1, 4, 6, 12, 16]) {
        const W = rnd(Nn * K, 5), A = rnd(M * K, 6), C = new Float32Array(M * Nn);
        const n = Math.ceil(3e8 / (2 * M * Nn * K));
        const [a, b] = ab(threads, (i) => {
          const g = R[i].native().modelGemmRows;
          const t = timed(() => { for (let x = 0; x < n; x++) g(M, Nn, K, 1, A, K, W, K, 0, C, Nn); });
          return (2 * M * Nn * K * n) / (cpu ? t.cpu : t.s) / 1e9;
        });
        line(`${threads}t gemmRows M=${M} N=${Nn} K=${K}`, 'GFLOP/s', a, b, true);
      }
  }
  for (const T of only.has('attention') ? list('attn-lengths', '4096').map(Number) : []) {
    const H = 8, D = 64;
    const q = rnd(T * H * D, 1), k = rnd(T * H * D, 2), v = rnd(T * H * D, 3), dout = rnd(T * H * D, 4);
    for (const [name, mask] of [['full', { op: 'full' }], ['causal', { op: 'causal' }]]) {
      const inp = { q, k, v, heads: H, kvHeads: H, headDim: D, mask };
      const fw = R.map((M) => M.attentionForward(inp));
      const [a, b] = ab(threads, (i) => { const t = timed(() => R[i].attentionForward(inp)); return (cpu ? t.cpu : t.s) * 1e3; });
      line(`${threads}t attention T=${T} ${name} forward`, 'ms', a, b, false);
      const [c, d] = ab(threads, (i) => { const t = timed(() => R[i].attentionBackward({ ...inp, ...fw[i], dout })); return (cpu ? t.cpu : t.s) * 1e3; });
      line(`${threads}t attention T=${T} ${name} backward`, 'ms', c, d, false);
    }
  }
  if (only.has('idle') && threads > 1) {
    const T = 1024, H = 8, D = 64;
    const inp = { q: rnd(T * H * D, 1), k: rnd(T * H * D, 2), v: rnd(T * H * D, 3), heads: H, kvHeads: H, headDim: D, mask: { op: 'full' } };
    const pause = new Int32Array(new SharedArrayBuffer(4));
    const late = [0, 0];
    const [a, b] = ab(threads, (i) => {
      Atomics.wait(pause, 0, 0, 50); // idle: the pool's workers go to sleep
      const t = timed(() => R[i].attentionForward(inp));
      if (t.s > 0.58 * t.cpu) late[i]++;
      return t.s * 1e3;
    });
    line(`${threads}t attention T=1024 full forward after 50 ms idle (late workers: ${sides[0].name} ${late[0]}, ${sides[1].name} ${late[1]} of ${reps + 1})`, 'ms', a, b, false);
  }
  if (only.has('train')) {
    const cfg = { dim: 256, layers: 6, heads: 4, kvHeads: 2, ffn: 768, vocab: 256, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: false };
    for (const T of list('train-lengths', '256,1024').map(Number)) {
      const tokens = Int32Array.from({ length: T }, (_, i) => (i * 31 + 7 + ((i * i) % 13)) % cfg.vocab);
      const batch = { tokens, cuSeqlens: Int32Array.of(0, T), positionIds: Int32Array.from({ length: T }, (_, i) => i), docIds: new Int32Array(T), lossMask: new Uint8Array(T).fill(1) };
      const trs = R.map((M) => new M.Trainer(M.LlamaModel.init(cfg, 1, { attention: M.fusedAttention() }), (function* () { for (;;) yield batch; })(), { lr: 1e-3, totalSteps: 1000, clip: 1 }));
      const [a, b] = ab(threads, (i) => { const t = timed(() => trs[i].trainStep()); return T / (cpu ? t.cpu : t.s); });
      line(`${threads}t training step T=${T}`, 'tokens/s', a, b, true);
    }
  }
  const decodeModels = only.has('decode') || only.has('prefill') ? R.map((M) => M.LlamaModel.init(decodeCfg, 3, { attention: M.fusedAttention() })) : [];
  const prompt = Int32Array.from({ length: 128 }, (_, i) => 3 + (((i * 2654435761) >>> 0) % (decodeCfg.vocab - 3)));
  if (only.has('prefill')) {
    const [a, b] = ab(threads, (i) => {
      const t = timed(() => { for (let x = 0; x < 5; x++) decodeModels[i].session().next(prompt); });
      return (5 * prompt.length) / (cpu ? t.cpu : t.s);
    });
    line(`${threads}t prefill (23M model, a 128-token prompt)`, 'tokens/s', a, b, true);
  }
  if (only.has('decode')) {
    const [a, b] = ab(threads, (i) => {
      const s = decodeModels[i].session();
      let l = s.next(prompt);
      const t = timed(() => {
        for (let x = 0; x < 48; x++) l = s.next(Int32Array.of(argmax(l)));
      });
      return 48 / t.s;
    });
    line(`${threads}t decode (23M model, after a 128-token prompt)`, 'tokens/s', a, b, true);
  }
}
for (const M of R) M.native().setNumThreads(0);
