// gemmAsync: the native GEMM on a libuv worker thread. The event loop keeps running while it
// works (a setInterval keeps ticking), and the result equals the synchronous gemm bit for bit.
import { describe, expect, it } from 'vitest';
import { kernels } from './kernels.js';
import { randF32, rng } from './testutil.js';

const K = kernels();

/** First index where the two arrays differ in bits, or -1 (vitest's deep equality is slow on millions of elements). */
function firstBitDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return -2;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

describe('gemmAsync', () => {
  it('equals gemm bit for bit for every transpose and alpha/beta', async () => {
    const r = rng(7);
    for (const [M, N, Kd] of [[1, 1, 1], [37, 70, 300], [130, 3, 64], [5, 129, 513]] as const)
      for (const ta of [false, true])
        for (const tb of [false, true]) {
          const A = randF32(M * Kd, r), B = randF32(Kd * N, r), C0 = randF32(M * N, r);
          const sync = C0.slice(), asy = C0.slice();
          K.gemm(ta, tb, M, N, Kd, -0.5, A, ta ? M : Kd, B, tb ? Kd : N, 0.25, sync, N);
          await K.gemmAsync(ta, tb, M, N, Kd, -0.5, A, ta ? M : Kd, B, tb ? Kd : N, 0.25, asy, N);
          expect(firstBitDiff(asy, sync)).toBe(-1);
        }
  });

  it('keeps the event loop running during a long multiply', async () => {
    const n = 1024;
    const r = rng(8);
    const A = randF32(n * n, r), B = randF32(n * n, r);
    // Time one synchronous multiply, then repeat it until a call lasts well over the tick period.
    const one = new Float32Array(n * n);
    let t = performance.now();
    K.gemm(false, false, n, n, n, 1, A, n, B, n, 0, one, n);
    const ms = performance.now() - t;
    const reps = Math.max(1, Math.ceil(300 / Math.max(ms, 1e-3)));
    const M = n * reps; // A stacked `reps` times: one call of reps x the work
    const AA = new Float32Array(M * n);
    for (let i = 0; i < reps; i++) AA.set(A, i * n * n);
    const sync = new Float32Array(M * n), asy = new Float32Array(M * n);
    t = performance.now();
    K.gemm(false, false, M, n, n, 1, AA, n, B, n, 0, sync, n);
    const syncMs = performance.now() - t;

    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    // The synchronous call blocks the loop: no tick can land during it.
    const before = ticks;
    K.gemm(false, false, M, n, n, 1, AA, n, B, n, 0, new Float32Array(M * n), n);
    const duringSync = ticks - before;
    t = performance.now();
    const p = K.gemmAsync(false, false, M, n, n, 1, AA, n, B, n, 0, asy, n);
    const start = ticks;
    await p;
    const asyncMs = performance.now() - t;
    const duringAsync = ticks - start;
    clearInterval(timer);

    expect(duringSync).toBe(0);
    // ~asyncMs / 5 ticks are due; demand a fair share of them (timers are coarse under load)
    expect(asyncMs).toBeGreaterThan(100);
    expect(duringAsync).toBeGreaterThanOrEqual(Math.min(10, Math.floor(asyncMs / 20)));
    expect(firstBitDiff(asy, sync)).toBe(-1);
    expect(syncMs).toBeGreaterThan(0);
  }, 60_000);

  it('throws synchronously on bad arguments, like gemm', () => {
    const a = new Float32Array(4);
    expect(() => K.gemmAsync(false, false, 3, 3, 3, 1, a, 3, a, 3, 0, a, 3)).toThrow(expect.objectContaining({ code: 'LMP_E_SHAPE' }));
  });
});
