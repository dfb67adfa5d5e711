// RNG stream, seeds, penalties and DRY against hand-computed cases, mirostat convergence,
// snapshot/rollback, and the chain checks.
import { describe, expect, test } from 'vitest';
import { Sampler } from './sampler.js';
import { splitmix64 } from './native.js';
import { validateChain, type SamplerSpec } from './chain.js';

function softmax(x: ArrayLike<number>): number[] {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) m = Math.max(m, x[i]!);
  const e = Array.from(x, (v) => (v === -Infinity ? 0 : Math.exp(v - m)));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

describe('RNG: SplitMix64, counter-based', () => {
  test('matches the published SplitMix64 outputs for seed 1234567', () => {
    // Rosetta Code "Pseudo-random numbers/Splitmix64" (Vigna's splitmix64.c), seed 1234567.
    const want = [6457827717110365317n, 3203168211198807973n, 9817491932198370423n, 4593380528125082431n, 16408922859458223821n];
    const f = splitmix64();
    want.forEach((w, n) => expect(f(1234567n, n)).toBe(w));
  });
  test('uniform() = (z >> 11) * 2^-53 of the same stream, and setSeed restarts it', () => {
    const s = new Sampler([], { vocab: 4, seed: 1234567 });
    expect(s.uniform()).toBe(Number(6457827717110365317n >> 11n) / 2 ** 53);
    expect(s.uniform()).toBe(Number(3203168211198807973n >> 11n) / 2 ** 53);
    s.setSeed(1234567n);
    expect(s.uniform()).toBe(Number(6457827717110365317n >> 11n) / 2 ** 53);
  });
  test('a BigInt implementation of the documented formula agrees on other seeds', () => {
    const M = (1n << 64n) - 1n;
    const ref = (seed: bigint, n: bigint) => {
      let z = (seed + (n + 1n) * 0x9e3779b97f4a7c15n) & M;
      z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
      z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M;
      return z ^ (z >> 31n);
    };
    const f = splitmix64();
    for (const seed of [0n, 42n, 0xffffffffffffffffn]) for (let n = 0; n < 4; n++) expect(f(seed, n)).toBe(ref(seed, BigInt(n)));
  });
  test('sample: the first id whose running weight exceeds u * total', () => {
    // V = 4, equal logits: token = floor(4u) for the first draw u of the stream.
    const u = Number(6457827717110365317n >> 11n) / 2 ** 53;
    const s = new Sampler([], { vocab: 4, seed: 1234567 });
    expect(s.sample(new Float32Array(4))).toBe(Math.floor(4 * u));
  });
  test('same seed, same tokens; different seed, different tokens', () => {
    const V = 1000;
    const x = Float32Array.from({ length: V }, (_, i) => Math.sin(i * 1.7) * 2);
    const run = (seed: number) => {
      const s = new Sampler([{ name: 'top_p', p: 0.95 }], { vocab: V, seed });
      return Array.from({ length: 64 }, () => s.sample(x));
    };
    expect(run(5)).toEqual(run(5));
    expect(run(5)).not.toEqual(run(6));
  });
});

describe('penalties, DRY, bias, allowed and banned: hand-computed', () => {
  const probsAfter = (chain: SamplerSpec[], x: number[], history: number[]) => {
    const s = new Sampler(chain, { vocab: x.length });
    s.reset(history);
    return Array.from(s.distribution(Float32Array.from(x)));
  };
  test('repetition / frequency / presence over the last n tokens', () => {
    // window = last 3 of [0, 1, 0, 3] = [1, 0, 3]: counts {0: 1, 1: 1, 3: 1}.
    // repeat 2: 1 -> 0.5, -1 -> -2, 0.5 -> 0.25; then minus 1*0.5 + 0.25 each:
    const want = softmax([0.5 - 0.75, -2 - 0.75, 2, 0.25 - 0.75, 3]);
    const got = probsAfter([{ name: 'penalties', last: 3, repeat: 2, frequency: 0.5, presence: 0.25 }], [1, -1, 2, 0.5, 3], [0, 1, 0, 3]);
    got.forEach((p, i) => expect(p).toBeCloseTo(want[i]!, 6));
    // all of the history: token 0 counted twice: 0.5 - (2*0.5 + 0.25)
    const want2 = softmax([0.5 - 1.25, -2 - 0.75, 2, 0.25 - 0.75, 3]);
    const got2 = probsAfter([{ name: 'penalties', last: -1, repeat: 2, frequency: 0.5, presence: 0.25 }], [1, -1, 2, 0.5, 3], [0, 1, 0, 3]);
    got2.forEach((p, i) => expect(p).toBeCloseTo(want2[i]!, 6));
  });
  test('DRY: multiplier * base^(L - allowed_length) on the token that would extend a repeat', () => {
    const x = [0, 0, 0, 0, 0, 0, 0, 0];
    // history 1 2 3 4 1 2 3: the suffix "1 2 3" (L = 3) occurred before, followed by 4.
    const dry = { name: 'dry' as const, multiplier: 0.8, base: 1.75, allowedLength: 2 };
    const want = softmax(x.map((v, i) => (i === 4 ? v - 0.8 * 1.75 : v)));
    probsAfter([dry], x, [1, 2, 3, 4, 1, 2, 3]).forEach((p, i) => expect(p).toBeCloseTo(want[i]!, 6));
    // token 1 as a sequence breaker: the match stops before it, L = 2 -> 0.8 * 1.75^0
    const want2 = softmax(x.map((v, i) => (i === 4 ? v - 0.8 : v)));
    probsAfter([{ ...dry, breakers: [1] }], x, [1, 2, 3, 4, 1, 2, 3]).forEach((p, i) => expect(p).toBeCloseTo(want2[i]!, 6));
    // allowed length 4 > L = 3: no penalty
    probsAfter([{ ...dry, allowedLength: 4 }], x, [1, 2, 3, 4, 1, 2, 3]).forEach((p) => expect(p).toBeCloseTo(1 / 8, 6));
    // two earlier continuations: "5 2" -> 3 (L = 2) and "7 2" -> 6 (L = 1)
    const want3 = softmax(x.map((v, i) => (i === 3 ? v - 0.8 : v)));
    probsAfter([dry], x, [5, 2, 3, 7, 2, 6, 5, 2]).forEach((p, i) => expect(p).toBeCloseTo(want3[i]!, 6));
  });
  test('logit bias, allowed and banned', () => {
    const x = [1, 2, 3, 4];
    const b = probsAfter([{ name: 'logit_bias', bias: { 0: 2, 3: -1 } }], x, []);
    softmax([3, 2, 3, 3]).forEach((p, i) => expect(b[i]).toBeCloseTo(p, 6));
    const a = probsAfter([{ name: 'allowed', tokens: [2, 0] }], x, []);
    softmax([1, -Infinity, 3, -Infinity]).forEach((p, i) => expect(a[i]).toBeCloseTo(p, 6));
    const n = probsAfter([{ name: 'banned', tokens: [3] }], x, []);
    softmax([1, 2, 3, -Infinity]).forEach((p, i) => expect(n[i]).toBeCloseTo(p, 6));
  });
  test('snapshot and restore roll the penalty window and mu back', () => {
    const s = new Sampler([{ name: 'penalties', last: 8, repeat: 3 }, { name: 'mirostat_v2', tau: 2, eta: 0.5 }], { vocab: 6 });
    const x = Float32Array.from([2, 1, 0.5, 0, -1, 3]);
    s.reset([0]);
    const snap = s.snapshot();
    const before = Array.from(s.distribution(x));
    for (let i = 0; i < 5; i++) s.accept(s.sample(x));
    expect(s.mu).not.toBe(snap.mu);
    s.restore(snap);
    expect(s.mu).toBe(snap.mu);
    expect(Array.from(s.distribution(x))).toEqual(before);
  });
});

describe('mirostat: the running mean surprise converges to tau on Zipf logits', () => {
  // A stream of Zipf distributions p_i ∝ i^-s with s varying per step, V = 10000.
  function zipf(V: number, s: number, perm: number): Float32Array {
    const x = new Float32Array(V);
    for (let i = 0; i < V; i++) x[(i * perm) % V] = -s * Math.log(i + 1);
    return x;
  }
  const ZIPF = Array.from({ length: 16 }, (_, j) => zipf(10000, 1.05 + 0.3 * (j / 16), 7919));
  const ZIPF_P = ZIPF.map((x) => softmax(x));
  const cases: [string, SamplerSpec][] = [
    ['v1 (paper form, eta 1)', { name: 'mirostat', tau: 3 }],
    ['v1 (paper form, eta 0.1)', { name: 'mirostat', tau: 5, eta: 0.1 }],
    ['v2', { name: 'mirostat_v2', tau: 4, eta: 0.1 }],
  ];
  for (const [name, spec] of cases) {
    test(name, () => {
      const V = 10000;
      const s = new Sampler([spec], { vocab: V, seed: 11, trace: true });
      const tau = (spec as { tau: number }).tau;
      let sum = 0;
      const steps = 3000;
      const burn = 500;
      for (let t = 0; t < steps; t++) {
        const j = (t * 7) % ZIPF.length;
        const tok = s.sample(ZIPF[j]!);
        s.accept(tok);
        // observed surprise under the original distribution, computed here in float64
        if (t >= burn) sum += -Math.log2(ZIPF_P[j]![tok]!);
      }
      expect(Math.abs(sum / (steps - burn) - tau)).toBeLessThan(0.15);
    });
  }
  test('v1 (llama_cpp variant): the surprise under the renormalized top-k converges to tau', () => {
    // llama.cpp's variant updates mu with S = -log2 of the token's probability among the kept
    // top k, so that is the running mean that must approach tau (read here from the chain's
    // final distribution, which draws no random number and uses the same mu as sample()).
    const V = 10000;
    const tau = 4;
    const s = new Sampler([{ name: 'mirostat', tau, variant: 'llama_cpp' }], { vocab: V, seed: 5 });
    let sum = 0;
    const steps = 2000;
    const burn = 400;
    for (let t = 0; t < steps; t++) {
      const x = ZIPF[(t * 7) % ZIPF.length]!;
      const d = s.distribution(x);
      const tok = s.sample(x);
      s.accept(tok);
      if (t >= burn) sum += -Math.log2(d[tok]!);
    }
    expect(Math.abs(sum / (steps - burn) - tau)).toBeLessThan(0.2);
  });
});

describe('chain checks', () => {
  test('terminal sampler last, exactly one; implicit sample appended', () => {
    const bad = validateChain([{ name: 'mirostat', tau: 3 }, { name: 'top_k', k: 5 }]);
    expect(bad.diagnostics.some((d) => d.severity === 'error' && d.code === 'LMP_E_CHAIN_ORDER' && d.index === 0)).toBe(true);
    const two = validateChain([{ name: 'greedy' }, { name: 'sample' }]);
    expect(two.diagnostics.filter((d) => d.severity === 'error').length).toBeGreaterThanOrEqual(2);
    const ok = validateChain([{ name: 'top_k', k: 5 }]);
    expect(ok.chain.map((s) => s.name)).toEqual(['top_k', 'sample']);
    expect(ok.diagnostics).toEqual([]);
    expect(() => new Sampler([{ name: 'top_p', p: 1.5 }], { vocab: 4 })).toThrow(/p must be in/);
  });
  test('warnings name provable no-ops, and the chains really behave the same without them', () => {
    const chain: SamplerSpec[] = [{ name: 'temperature', t: 0.5 }, { name: 'top_k', k: 40 }, { name: 'top_p', p: 0.9 }, { name: 'greedy' }];
    const w = validateChain(chain).diagnostics.filter((d) => d.severity === 'warning');
    expect(w.map((d) => d.index)).toEqual([0, 1, 2]);
    const kk = validateChain([{ name: 'top_k', k: 10 }, { name: 'top_k', k: 20 }]).diagnostics;
    expect(kk.map((d) => [d.code, d.index])).toEqual([['LMP_W_CHAIN_NOOP', 1]]);
    expect(validateChain([{ name: 'top_k', k: 20 }, { name: 'top_k', k: 10 }]).diagnostics).toEqual([]);
    // temperature after truncation is NOT a no-op (it reshapes the kept probabilities): no warning
    expect(validateChain([{ name: 'top_k', k: 20 }, { name: 'temperature', t: 0.5 }]).diagnostics).toEqual([]);
    const V = 3000;
    for (let r = 0; r < 20; r++) {
      const x = Float32Array.from({ length: V }, (_, i) => Math.sin(i * (r + 1.3)) * 4 + Math.cos(i * 0.01 * r));
      const g1 = new Sampler(chain, { vocab: V }).sample(x);
      const g0 = new Sampler([{ name: 'greedy' }], { vocab: V }).sample(x);
      expect(g1).toBe(g0);
      const a = new Sampler([{ name: 'top_k', k: 10 }, { name: 'top_k', k: 20 }], { vocab: V }).distribution(x);
      const b = new Sampler([{ name: 'top_k', k: 10 }], { vocab: V }).distribution(x);
      expect(a).toEqual(b);
      // and the temperature after top_k does change the distribution
      const c = new Sampler([{ name: 'top_k', k: 10 }, { name: 'temperature', t: 0.5 }], { vocab: V }).distribution(x);
      expect(c).not.toEqual(b);
    }
  });
});
