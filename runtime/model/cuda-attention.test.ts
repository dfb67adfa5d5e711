// The CUDA AttentionOp against the CPU fused op on the same float32 inputs rounded to bf16 (so both
// see the same numbers). Runs only where the addon has the CUDA backend and the driver reports a
// device (cudaDevices().count > 0); elsewhere it skips and says why. The kernels themselves are
// checked in every npm test under the CPU emulator (native/cuda/parity, attention_fused).
// Tolerance: |cuda - cpu| <= 5e-3 * max|cpu| + 5e-3 |cpu| for out, 1e-2 for the gradients (the
// CUDA kernels round P and dS to bf16 before their second products); lse within 2e-4.
import { describe, expect, it } from 'vitest';
import type { AttentionArgs } from './attention.js';
import { cudaAttention, cudaDevices } from './cuda-attention.js';
import { fusedAttention } from './fused.js';
import { rng } from './testutil.js';

const dev = cudaDevices();
if (dev.count === 0) {
  // .ci/run runs this file against the emulated CUDA addon with LMP_REQUIRE_CUDA=1: there a skip is a failure.
  if (process.env['LMP_REQUIRE_CUDA']) throw new Error(`LMP_REQUIRE_CUDA is set but no CUDA device is found (${dev.why})`);
  console.log(`cuda-attention.test: skipped, no CUDA device (${dev.why})`);
}

const bf16 = (x: number): number => {
  const f = new Float32Array([x]), u = new Uint32Array(f.buffer);
  u[0] = (u[0]! + 0x7fff + ((u[0]! >>> 16) & 1)) & 0xffff0000;
  return f[0]!;
};
const rand = (r: () => number, n: number) => Float32Array.from({ length: n }, () => bf16((r() * 2 - 1) * 2));

function close(name: string, got: Float32Array, want: Float32Array, tol: number) {
  let mx = 0;
  for (const w of want) if (Number.isFinite(w)) mx = Math.max(mx, Math.abs(w));
  for (let i = 0; i < want.length; i++) {
    if (got[i] === want[i]) continue;
    if (!(Math.abs(got[i]! - want[i]!) <= tol * mx + tol * Math.abs(want[i]!))) expect.fail(`${name}[${i}]: cuda ${got[i]}, cpu ${want[i]}`);
  }
}

describe.skipIf(dev.count === 0)('CUDA attention op', () => {
  const heads = 4, kvHeads = 2, headDim = 64;
  const cu = Int32Array.of(0, 130, 195);
  const T = 195;
  const r = rng(7);
  const docIds = Int32Array.from({ length: T }, (_, i) => (i < 40 ? 0 : i < 41 ? 1 : i < 130 ? 2 : 3));
  const a: AttentionArgs = {
    q: rand(r, T * heads * headDim), k: rand(r, T * kvHeads * headDim), v: rand(r, T * kvHeads * headDim),
    heads, kvHeads, headDim, cuSeqlensQ: cu, cuSeqlensK: cu, docIds,
    mask: { op: 'and', args: [{ op: 'causal' }, { op: 'same_document' }] }, scale: 1 / 8, score: { softcap: 20 },
  };
  const dout = rand(r, T * heads * headDim);

  it('matches the CPU fused op (forward, lse, dq, dk, dv) and repeats bit for bit', () => {
    const cpu = fusedAttention(), gpu = cudaAttention();
    const f0 = cpu.forward(a), f1 = gpu.forward(a);
    close('out', f1.out, f0.out, 5e-3);
    for (let i = 0; i < f0.lse.length; i++) expect(Math.abs(f1.lse[i]! - f0.lse[i]!)).toBeLessThanOrEqual(2e-4);
    const g0 = cpu.backward(a, f0.out, f0.lse, dout), g1 = gpu.backward(a, f1.out, f1.lse, dout);
    close('dq', g1.dq, g0.dq, 1e-2);
    close('dk', g1.dk, g0.dk, 1e-2);
    close('dv', g1.dv, g0.dv, 1e-2);
    const g2 = gpu.backward(a, f1.out, f1.lse, dout);
    expect(Buffer.from(g2.dq.buffer).equals(Buffer.from(g1.dq.buffer))).toBe(true);
    const g3 = cudaAttention({ deterministic: false }).backward(a, f1.out, f1.lse, dout);
    close('dq (atomic)', g3.dq, g0.dq, 1e-2);
  });

  // LM-Infinite: the CPU kernels score far pairs from qFar . kFar in one call; the CUDA op splits the
  // mask at the limit into two calls of its plain kernels (runtime/attention limitMasks). Limits that
  // put tiles entirely beyond, straddling and within it, a document of one token, GQA; the
  // gradients are those of the inputs before RoPE (both ops map dqFar / dkFar back). lse within
  // 1e-2, not 2e-4: the rotated q, k, qFar and kFar are rounded to bf16 again on the way in (the
  // CPU op scores the unrounded rotations): a relative 2^-9 on every score, whose spread here is
  // ~1.3, i.e. ~4e-3 per score. The split itself is checked on the CPU kernels to 1e-5
  // (runtime/attention/attention.test.ts, splitLimit).
  it('RoPE with a distance limit matches the CPU fused op', () => {
    for (const [limit, mask] of [
      [50, { op: 'and', args: [{ op: 'causal' }, { op: 'same_document' }] }],
      [1, { op: 'causal' }],
      [70, { op: 'and', args: [{ op: 'causal' }, { op: 'or', args: [{ op: 'sink', count: 4 }, { op: 'window', size: 100 }] }] }],
      [30, { op: 'prefix', length: 20 }],
    ] as const) {
      const b: AttentionArgs = { ...a, mask, score: undefined, position: { kind: 'rope', base: 10000, distanceLimit: limit, restartPerDocument: false } };
      const cpu = fusedAttention(), gpu = cudaAttention();
      const f0 = cpu.forward(b), f1 = gpu.forward(b);
      close(`out (limit ${limit})`, f1.out, f0.out, 5e-3);
      for (let i = 0; i < f0.lse.length; i++)
        if (f0.lse[i] !== f1.lse[i]) expect(Math.abs(f1.lse[i]! - f0.lse[i]!), `lse[${i}] (limit ${limit})`).toBeLessThanOrEqual(1e-2);
      const g0 = cpu.backward(b, f0.out, f0.lse, dout), g1 = gpu.backward(b, f1.out, f1.lse, dout);
      close(`dq (limit ${limit})`, g1.dq, g0.dq, 1e-2);
      close(`dk (limit ${limit})`, g1.dk, g0.dk, 1e-2);
      close(`dv (limit ${limit})`, g1.dv, g0.dv, 1e-2);
      // the limit matters here: without it the CPU op's output differs beyond the tolerance
      const f2 = cpu.forward({ ...b, position: { ...b.position!, distanceLimit: undefined } as AttentionArgs['position'] });
      expect(f2.out.some((x, i) => Math.abs(x - f0.out[i]!) > 0.05)).toBe(true);
    }
  });

  it('refuses what it does not run with a code', () => {
    const bad = { ...a, headDim: 48, q: new Float32Array(T * heads * 48), k: new Float32Array(T * kvHeads * 48), v: new Float32Array(T * kvHeads * 48) };
    expect(() => cudaAttention().forward(bad)).toThrowError(expect.objectContaining({ code: 'LMP_E_SHAPE' }));
  });
});
