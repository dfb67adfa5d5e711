// The GEMM's run-time dispatched paths (native/src/model/gemm.cc): AVX-512 12x32 and AVX2 6x16
// register blocks, forced one at a time with setSimdCap, each against a float64 reference on
// awkward sizes (edges in M, N and K, the small-M decode path), and against each other bit for bit
// (every path sums each element over k in the same order). A path that setSimdCap cannot reach is
// skipped: one the CPU lacks, or the hand-written AVX2 path in a build without it (LMP_NATIVE_ARCH=OFF
// compiles the AVX-512 kernels by target attributes, the rest for the baseline: capped at avx2, such
// a build runs the plain path, and setSimdCap says so).
import { afterAll, describe, expect, it } from 'vitest';
import { native } from '../native.js';
import { kernels } from './kernels.js';
import { refGemm } from './ref.js';
import { expectClose, randF32, rng } from './testutil.js';

const K = kernels();
const N = native();
const cpu = N.version().dispatch;
const levels = ['scalar', 'avx2', 'avx512'];
/** The path the kernels take when capped at p (the addon's own answer), the cap lifted again. */
const reached = (p: string): string => {
  const got = N.setSimdCap(p);
  N.setSimdCap(null);
  return got;
};
const has = (p: string): boolean => reached(p) === p;
const why = (p: string): string => `capped at ${p} this ${N.version().simd} build runs ${reached(p)} on this ${cpu} CPU`;

afterAll(() => {
  N.setSimdCap(null);
  N.setWeightStreams(null);
});

const sizes: [number, number, number][] = [
  [1, 1, 1], [1, 515, 67], [3, 37, 100], [4, 40, 1000], [5, 33, 17], [11, 31, 9], [12, 32, 256], [13, 65, 257], [16, 70, 129], [17, 39, 48], [25, 97, 300], [100, 33, 517], [130, 3, 64],
];

function run(path: string, ta: boolean, tb: boolean, M: number, Nn: number, Kd: number, alpha: number, beta: number, A: Float32Array, B: Float32Array, C0: Float32Array): Float32Array {
  expect(N.setSimdCap(path)).toBe(path);
  const C = C0.slice();
  K.gemm(ta, tb, M, Nn, Kd, alpha, A, ta ? M : Kd, B, tb ? Kd : Nn, beta, C, Nn);
  return C;
}

describe('gemm dispatch paths', () => {
  for (const path of ['avx512', 'avx2'])
    it.skipIf(!has(path))(`${path} path matches a float64 reference (this CPU: ${cpu}${has(path) ? '' : `; skipped: ${why(path)}`})`, () => {
      const r = rng(17);
      for (const [M, Nn, Kd] of sizes)
        for (const ta of [false, true])
          for (const tb of [false, true])
            for (const [alpha, beta] of [[1, 0], [0.5, 1], [-2, 0.25]] as const) {
              const A = randF32(M * Kd, r), B = randF32(Kd * Nn, r), C0 = randF32(M * Nn, r);
              const C = run(path, ta, tb, M, Nn, Kd, alpha, beta, A, B, C0);
              expectClose(C, refGemm(ta, tb, M, Nn, Kd, A, B, C0, alpha, beta), 1e-4 * Math.sqrt(Kd), 1e-4, `${path} gemm ${M}x${Nn}x${Kd} ta=${ta} tb=${tb} alpha=${alpha} beta=${beta}`);
            }
    });

  it.skipIf(!has('avx512') || !has('avx2'))(`avx512 and avx2 agree bit for bit (same k order per element)${has('avx512') && has('avx2') ? '' : ` (skipped: ${why(has('avx512') ? 'avx2' : 'avx512')})`}`, () => {
    const r = rng(18);
    for (const [M, Nn, Kd] of sizes)
      for (const tb of [false, true]) {
        const A = randF32(M * Kd, r), B = randF32(Kd * Nn, r), C0 = randF32(M * Nn, r);
        for (const [alpha, beta] of [[1, 0], [1, 1], [0.5, -0.75]] as const) {
          const a = run('avx512', false, tb, M, Nn, Kd, alpha, beta, A, B, C0);
          const b = run('avx2', false, tb, M, Nn, Kd, alpha, beta, A, B, C0);
          expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer)), `${M}x${Nn}x${Kd} tb=${tb} beta=${beta}`).toBe(0);
        }
      }
  });

  // Batched decoding (runtime/model/batch.ts) relies on it: gemmRows (x[M, K] . W[N, K]^T, M <= 16)
  // gives every row the bits of gemm with that row alone, on every path (a batch of sequences
  // decodes as each alone).
  for (const path of ['avx512', 'avx2', 'scalar'])
    it.skipIf(!has(path))(`${path}: gemmRows gives each row the bits of the row alone (M = 1..16)${has(path) ? '' : ` (skipped: ${why(path)})`}`, () => {
      const r = rng(19);
      for (const [Nn, Kd] of [[37, 100], [64, 512], [131, 33], [5, 1536]]) {
        const B = randF32(Nn * Kd, r);
        for (let M = 1; M <= 16; M++) {
          const A = randF32(M * Kd, r), C0 = randF32(M * Nn, r);
          for (const [alpha, beta] of [[1, 0], [0.5, 1]] as const) {
            expect(N.setSimdCap(path)).toBe(path);
            const all = C0.slice();
            K.gemmRows(M, Nn, Kd, alpha, A, Kd, B, Kd, beta, all, Nn);
            expectClose(all, refGemm(false, true, M, Nn, Kd, A, B, C0, alpha, beta), 1e-4 * Math.sqrt(Kd), 1e-4, `${path} gemmRows ${M}x${Nn}x${Kd}`);
            for (let i = 0; i < M; i++) {
              const one = run(path, false, true, 1, Nn, Kd, alpha, beta, A.subarray(i * Kd, (i + 1) * Kd), B, C0.slice(i * Nn, (i + 1) * Nn));
              const row = all.slice(i * Nn, (i + 1) * Nn);
              expect(Buffer.compare(Buffer.from(row.buffer), Buffer.from(one.buffer)), `${path} M=${M} row ${i} N=${Nn} K=${Kd} beta=${beta}`).toBe(0);
            }
          }
        }
      }
      expect(() => K.gemmRows(17, 4, 4, 1, new Float32Array(68), 4, new Float32Array(16), 4, 0, new Float32Array(68), 4)).toThrow(expect.objectContaining({ code: 'LMP_E_ARG' }));
    });

  // The decoding GEMVs group weight rows adjacent (with a prefetch) or spread over the thread's chunk
  // (core/config.h weight_streams, chosen by CPU vendor): which columns share a kernel call must not
  // change a bit, on any path, at 1 and 2 threads (the chunks, and so the groups, differ), and both
  // match the float64 reference.
  for (const path of ['avx512', 'avx2', 'scalar'])
    it.skipIf(!has(path))(`${path}: the adjacent and spread weight streams give the same bits (this CPU: ${N.version().weightStreams})${has(path) ? '' : ` (skipped: ${why(path)})`}`, () => {
      const r = rng(20);
      const threads = N.numThreads();
      try {
        for (const t of [1, 2])
          for (const [M, Nn, Kd] of [[1, 37, 100], [1, 4096, 512], [2, 131, 33], [3, 5, 1536], [6, 70, 64], [7, 19, 17], [16, 64, 512]]) {
            N.setNumThreads(t);
            const A = randF32(M * Kd, r), B = randF32(Nn * Kd, r), C0 = randF32(M * Nn, r);
            const out = (layout: string): Float32Array => {
              expect(N.setWeightStreams(layout)).toBe(layout);
              expect(N.setSimdCap(path)).toBe(path);
              const C = C0.slice();
              K.gemmRows(M, Nn, Kd, 0.5, A, Kd, B, Kd, 1, C, Nn);
              return C;
            };
            const adjacent = out('adjacent'), spread = out('spread');
            expectClose(spread, refGemm(false, true, M, Nn, Kd, A, B, C0, 0.5, 1), 1e-4 * Math.sqrt(Kd), 1e-4, `${path} spread ${M}x${Nn}x${Kd}`);
            expect(Buffer.compare(Buffer.from(adjacent.buffer), Buffer.from(spread.buffer)), `${path} ${t} threads ${M}x${Nn}x${Kd}`).toBe(0);
          }
      } finally {
        N.setNumThreads(threads);
      }
      // the packed path with B^T of 1 MiB or more (prefill's weights: the spread setting prefetches
      // the next panel while packing one), a partial last panel
      for (const [M, Nn, Kd] of [[37, 1061, 300], [130, 1024, 256]]) {
        const A = randF32(M * Kd, r), B = randF32(Nn * Kd, r), C0 = randF32(M * Nn, r);
        const out = (layout: string): Float32Array => {
          expect(N.setWeightStreams(layout)).toBe(layout);
          return run(path, false, true, M, Nn, Kd, 1, 0.5, A, B, C0);
        };
        const adjacent = out('adjacent'), spread = out('spread');
        expectClose(spread, refGemm(false, true, M, Nn, Kd, A, B, C0, 1, 0.5), 1e-4 * Math.sqrt(Kd), 1e-4, `${path} spread NT ${M}x${Nn}x${Kd}`);
        expect(Buffer.compare(Buffer.from(adjacent.buffer), Buffer.from(spread.buffer)), `${path} NT ${M}x${Nn}x${Kd}`).toBe(0);
      }
      expect(N.setWeightStreams(null)).toBe(N.version().weightStreams);
      expect(() => N.setWeightStreams('diagonal')).toThrow(expect.objectContaining({ code: 'LMP_E_ARG' }));
    });

  it('setSimdCap rejects unknown paths with LMP_E_ARG', () => {
    expect(() => N.setSimdCap('sse9')).toThrow(expect.objectContaining({ code: 'LMP_E_ARG' }));
  });
});
