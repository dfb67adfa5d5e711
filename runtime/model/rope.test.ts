// The model's RoPE against runtime/attention's applyRope and a float64 rotation: the plain native
// model kernel and applyRope give the same rotation (same layout), and a scaled RoPE is applyRope's.
import { describe, it } from 'vitest';
import { applyRope, ropeFrequencies } from '../attention/index.js';
import { kernels } from './kernels.js';
import { refRope } from './ref.js';
import { rotate } from './rope.js';
import { expectClose, randF32, rng } from './testutil.js';

describe('model RoPE', () => {
  const n = 13, heads = 3, hd = 8;
  const pos = Int32Array.from({ length: n }, (_, i) => (i * 7) % 40);
  const x = randF32(n * heads * hd, rng(3));

  it('the native model kernel equals applyRope without scaling (forward and inverse)', () => {
    for (const inverse of [false, true]) {
      const a = x.slice();
      kernels().rope(a, n, heads, hd, pos, 500, inverse);
      const b = applyRope(x, { heads, headDim: hd, positions: Float32Array.from(pos), rope: { base: 500 }, inverse });
      expectClose(a, b, 2e-6, 1e-5, `inverse=${inverse}`);
    }
  });

  it('the cached cos/sin tables give the per-call values bit for bit (positions past the table, a grown table, another theta)', () => {
    // a position >= 2^15 makes the kernel compute every angle in the call; the rows of the other positions must not change
    const far = Int32Array.from([...pos, 1 << 15]);
    const y = randF32(far.length * heads * hd, rng(4));
    for (const theta of [500, 10000])
      for (const inverse of [false, true]) {
        const direct = y.slice();
        kernels().rope(direct, far.length, heads, hd, far, theta, inverse);
        const cached = y.slice(0, n * heads * hd);
        kernels().rope(cached, n, heads, hd, pos, theta, inverse);
        // and again after the table grew past 1024 positions
        kernels().rope(new Float32Array(2 * heads * hd), 2, heads, hd, Int32Array.of(0, 5000), theta, false);
        const grown = y.slice(0, n * heads * hd);
        kernels().rope(grown, n, heads, hd, pos, theta, inverse);
        for (const [name, got] of [['cached', cached], ['grown', grown]] as const)
          for (let i = 0; i < got.length; i++)
            if (!Object.is(got[i], direct[i])) throw new Error(`${name} theta=${theta} inverse=${inverse}: element ${i} ${got[i]} != ${direct[i]}`);
      }
  });

  it('linear scaling rotates by position / s (float64), other scalings are applyRope exactly', () => {
    const a = x.slice();
    rotate(kernels(), a, n, heads, hd, pos, 500, { kind: 'linear', factor: 4 }, false);
    expectClose(a, refRope(x, n, heads, hd, Array.from(pos, (p) => p / 4), 500), 2e-6, 1e-5, 'linear');
    for (const scaling of [
      { kind: 'ntk', factor: 3 }, { kind: 'yarn', factor: 4, originalLength: 16 }, { kind: 'truncated', a: 0.01, b: 0.5, rho: 0.1 },
      { kind: 'yarn', ramp: 'index', factor: 4, originalLength: 16, attentionFactor: 1.2 },
      { kind: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalLength: 16 },
    ] as const) {
      const y = x.slice();
      rotate(kernels(), y, n, heads, hd, pos, 500, scaling, false);
      expectClose(y, applyRope(x, { heads, headDim: hd, positions: Float32Array.from(pos), rope: { base: 500, scaling } }), 0, 0, scaling.kind);
      // and it is a real change of frequencies
      const plain = x.slice();
      rotate(kernels(), plain, n, heads, hd, pos, 500, undefined, false);
      if (ropeFrequencies(hd, { base: 500, scaling }).invFreq.some((f, i) => f !== ropeFrequencies(hd, { base: 500 }).invFreq[i]))
        expectClose([Number(y.some((v, i) => Math.abs(v - plain[i]!) > 1e-4))], [1], 0, 0, `${scaling.kind} differs from plain`);
    }
  });

  it('dynamic NTK takes its length from the positions: plain up to L, applyRope at length max + 1 beyond', () => {
    const top = Math.max(...pos) + 1;
    const at = (L: number): Float32Array => {
      const y = x.slice();
      rotate(kernels(), y, n, heads, hd, pos, 500, { kind: 'dynamic', factor: 2, originalLength: L }, false);
      return y;
    };
    const plain = x.slice();
    kernels().rope(plain, n, heads, hd, pos, 500, false);
    expectClose(at(top), plain, 0, 0, 'length = L');
    const scaling = { kind: 'dynamic', factor: 2, originalLength: 8 } as const;
    expectClose(at(8), applyRope(x, { heads, headDim: hd, positions: Float32Array.from(pos), rope: { base: 500, scaling, length: top } }), 0, 0, 'length > L');
    // base * (2 top / 8 - 1)^(8/6), the plain rotation at that base (float64)
    expectClose(at(8), refRope(x, n, heads, hd, pos, 500 * Math.pow((2 * top) / 8 - 1, 8 / 6)), 2e-6, 1e-5, 'dynamic base');
  });
});
