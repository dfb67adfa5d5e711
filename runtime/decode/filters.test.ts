// Each filter's kept set against a direct float64, sort-based implementation of its
// definition (algorithms.md), on random and adversarial logits.
import { describe, expect, test } from 'vitest';
import { Sampler } from './sampler.js';
import type { SamplerSpec } from './chain.js';
import { normal, rng } from './testutil.js';
import { typicalAmbiguous, typicalKept, type TypicalRefOptions } from './reference.js';

// ---- references (float64, full sort, straight from the definitions) ----

function softmax(x: ArrayLike<number>): number[] {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) m = Math.max(m, x[i]!);
  const e = Array.from(x, (v) => (v === -Infinity ? 0 : Math.exp(v - m)));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}
/** Token ids in (value desc, id asc) order, finite only. */
function byProb(x: ArrayLike<number>): number[] {
  const ids = Array.from({ length: x.length }, (_, i) => i).filter((i) => x[i]! > -Infinity);
  return ids.sort((a, b) => x[b]! - x[a]! || a - b);
}
/** Tokens whose membership flips under a relative rounding of TOL in the mass or the threshold. */
const TOL = 1e-5;
let ambiguous: Set<number> = new Set();
function prefix(order: number[], pr: number[], p: number, strict: boolean): number[] {
  const out: number[] = [];
  let c = 0;
  for (const i of order) {
    if (Math.abs(c - p) <= TOL * p || Math.abs(c + pr[i]! - p) <= TOL * p) ambiguous.add(i);
    out.push(i);
    c += pr[i]!;
    if (strict ? c > p : c >= p) break;
  }
  // the next token is ambiguous when the crossing was within rounding of p
  const next = order[out.length];
  if (next !== undefined && Math.abs(c - p) <= TOL * p) ambiguous.add(next);
  return out;
}
function threshold(ids: number[], pr: number[], thr: number): number[] {
  for (const i of ids) if (Math.abs(pr[i]! - thr) <= TOL * thr) ambiguous.add(i);
  return ids.filter((i) => pr[i]! >= thr);
}
const ref = {
  top_k: (x: ArrayLike<number>, k: number) => byProb(x).slice(0, k),
  top_p: (x: ArrayLike<number>, p: number) => prefix(byProb(x), softmax(x), p, false),
  min_p: (x: ArrayLike<number>, mp: number) => {
    const pr = softmax(x);
    const pmax = Math.max(...pr);
    return threshold(byProb(x), pr, mp * pmax);
  },
  // reference.ts: the definition with HF's tie rule (or by id), and its rounding-ambiguous ids
  typical: (x: ArrayLike<number>, tau: number, o: TypicalRefOptions = {}) => {
    for (const i of typicalAmbiguous(x, tau, o)) ambiguous.add(i);
    return typicalKept(x, tau, o);
  },
  epsilon: (x: ArrayLike<number>, eps: number) => {
    const pr = softmax(x);
    const kept = threshold(byProb(x), pr, eps);
    return kept.length ? kept : byProb(x).slice(0, 1);
  },
  eta: (x: ArrayLike<number>, eta: number) => {
    const pr = softmax(x);
    const H = -pr.reduce((a, p) => a + (p > 0 ? p * Math.log(p) : 0), 0);
    const thr = Math.min(eta, Math.sqrt(eta) * Math.exp(-H));
    const kept = threshold(byProb(x), pr, thr);
    return kept.length ? kept : byProb(x).slice(0, 1);
  },
};

function keptSet(chain: SamplerSpec[], x: Float32Array): number[] {
  const s = new Sampler(chain, { vocab: x.length, seed: 1 });
  const d = s.distribution(x);
  const out: number[] = [];
  d.forEach((p, i) => {
    if (p > 0) out.push(i);
  });
  return out;
}
const sorted = (a: number[]) => [...a].sort((p, q) => p - q);

// ---- inputs ----

interface Case {
  name: string;
  x: Float32Array;
}
function cases(): Case[] {
  const out: Case[] = [];
  const r = rng(7);
  for (const V of [1, 5, 1000, 50257]) {
    for (const sigma of [0.5, 3]) out.push({ name: `normal V=${V} sigma=${sigma}`, x: Float32Array.from({ length: V }, () => sigma * normal(r)) });
  }
  out.push({ name: 'ties (integers 0..3) V=1000', x: Float32Array.from({ length: 1000 }, () => Math.floor(r() * 4)) });
  out.push({ name: 'ties V=5', x: Float32Array.from([1, 2, 2, 1, 2]) });
  out.push({ name: 'all equal V=1000', x: new Float32Array(1000).fill(0.25) });
  out.push({ name: 'all equal V=5', x: new Float32Array(5).fill(-3) });
  const minf = Float32Array.from({ length: 1000 }, () => (r() < 0.3 ? -Infinity : 2 * normal(r)));
  out.push({ name: '-inf sprinkled V=1000', x: minf });
  const single = new Float32Array(1000).fill(-Infinity);
  single[417] = 1.5;
  out.push({ name: 'single finite token V=1000', x: single });
  const peaked = Float32Array.from({ length: 50257 }, () => normal(r));
  peaked[123] = 25;
  out.push({ name: 'one dominant token V=50257', x: peaked });
  // a long tail: Zipf-like logits
  out.push({ name: 'zipf V=50257', x: Float32Array.from({ length: 50257 }, (_, i) => -1.1 * Math.log(((i * 7919) % 50257) + 1)) });
  return out;
}
const CASES = cases();

describe('filters keep exactly the set their definition keeps', () => {
  const checks: [string, (c: Float32Array) => [SamplerSpec[], number[]]][] = [
    ['top_k(1)', (x) => [[{ name: 'top_k', k: 1 }], ref.top_k(x, 1)]],
    ['top_k(40)', (x) => [[{ name: 'top_k', k: 40 }], ref.top_k(x, 40)]],
    ['top_k(5000)', (x) => [[{ name: 'top_k', k: 5000 }], ref.top_k(x, 5000)]],
    ['top_p(0.5)', (x) => [[{ name: 'top_p', p: 0.5 }], ref.top_p(x, 0.5)]],
    ['top_p(0.9)', (x) => [[{ name: 'top_p', p: 0.9 }], ref.top_p(x, 0.9)]],
    ['top_p(0.999)', (x) => [[{ name: 'top_p', p: 0.999 }], ref.top_p(x, 0.999)]],
    ['min_p(0.05)', (x) => [[{ name: 'min_p', p: 0.05 }], ref.min_p(x, 0.05)]],
    ['min_p(0.5)', (x) => [[{ name: 'min_p', p: 0.5 }], ref.min_p(x, 0.5)]],
    ['typical(0.9)', (x) => [[{ name: 'typical', p: 0.9 }], ref.typical(x, 0.9)]],
    ['typical(0.3)', (x) => [[{ name: 'typical', p: 0.3 }], ref.typical(x, 0.3)]],
    ['typical(0.9, ties by_id)', (x) => [[{ name: 'typical', p: 0.9, ties: 'by_id' }], ref.typical(x, 0.9, { ties: 'by_id' })]],
    ['typical(0.9, llama_cpp)', (x) => [[{ name: 'typical', p: 0.9, crossing: 'llama_cpp' }], ref.typical(x, 0.9, { crossing: 'llama_cpp' })]],
    ['epsilon(3e-4)', (x) => [[{ name: 'epsilon', epsilon: 3e-4 }], ref.epsilon(x, 3e-4)]],
    ['epsilon(0.3)', (x) => [[{ name: 'epsilon', epsilon: 0.3 }], ref.epsilon(x, 0.3)]],
    ['eta(1e-3)', (x) => [[{ name: 'eta', eta: 1e-3 }], ref.eta(x, 1e-3)]],
    ['temperature(0.7) -> top_p(0.8)', (x) => [[{ name: 'temperature', t: 0.7 }, { name: 'top_p', p: 0.8 }], ref.top_p(Float32Array.from(x, (v) => v / 0.7), 0.8)]],
    ['top_k(50) -> top_p(0.7)', (x) => [[{ name: 'top_k', k: 50 }, { name: 'top_p', p: 0.7 }], ref.top_p(restrict(x, ref.top_k(x, 50)), 0.7)]],
    ['top_k(300) -> typical(0.8)', (x) => [[{ name: 'top_k', k: 300 }, { name: 'typical', p: 0.8 }], ref.typical(restrict(x, ref.top_k(x, 300)), 0.8)]],
    ['min_p(0.02) -> eta(0.01)', (x) => [[{ name: 'min_p', p: 0.02 }, { name: 'eta', eta: 0.01 }], ref.eta(restrict(x, ref.min_p(x, 0.02)), 0.01)]],
  ];
  for (const [name, mk] of checks) {
    test(name, () => {
      for (const c of CASES) {
        ambiguous = new Set();
        const [chain, want] = mk(c.x);
        const got = keptSet(chain, c.x);
        // Exact agreement except tokens sitting within rounding (1e-5 relative) of the cut.
        const g = new Set(got);
        const w = new Set(want);
        const diff = [...got.filter((i) => !w.has(i)), ...want.filter((i) => !g.has(i))];
        expect(diff.filter((i) => !ambiguous.has(i)), `${name} on ${c.name}: tokens kept differently`).toEqual([]);
        expect(diff.length, `${name} on ${c.name}`).toBeLessThanOrEqual(5);
        if (diff.length === 0) expect(got).toEqual(sorted(want));
      }
    });
  }

  test('the kept tokens are renormalized: p_i = softmax over the kept set', () => {
    const x = CASES.find((c) => c.name === 'normal V=1000 sigma=3')!.x;
    const kept = ref.top_p(x, 0.9);
    const pr = softmax(restrict(x, kept));
    const d = new Sampler([{ name: 'top_p', p: 0.9 }], { vocab: x.length }).distribution(x);
    for (let i = 0; i < x.length; i++) expect(d[i]).toBeCloseTo(pr[i]!, 5);
  });

  test('typical: the crossing token (hf) vs strict crossing (llama_cpp) on an exact mass', () => {
    // Four equal logits: p = 1/4 each (exact in binary), H = ln 4, every score is 0. Mass 0.5 is
    // reached exactly after two tokens: the crossing token is the 2nd (hf, cum >= 0.5) or the 3rd
    // (llama_cpp, cum > 0.5). HF keeps every token scoring <= the crossing score: all four; cut by
    // id: {0, 1} (hf) and {0, 1, 2} (llama_cpp, whose default tie rule is by id).
    const x = new Float32Array(4);
    expect(keptSet([{ name: 'typical', p: 0.5 }], x)).toEqual([0, 1, 2, 3]);
    expect(keptSet([{ name: 'typical', p: 0.5, ties: 'by_id' }], x)).toEqual([0, 1]);
    expect(keptSet([{ name: 'typical', p: 0.5, crossing: 'llama_cpp' }], x)).toEqual([0, 1, 2]);
    expect(keptSet([{ name: 'top_p', p: 0.5 }], x)).toEqual([0, 1]);
  });

  test('greedy picks the argmax, the lower id on ties', () => {
    for (const c of CASES) {
      const s = new Sampler([{ name: 'greedy' }], { vocab: c.x.length });
      expect(s.sample(c.x), c.name).toBe(byProb(c.x)[0]);
    }
  });

  test('NaN is rejected with LMP_E_NAN, +inf too; all -inf is LMP_E_NO_CANDIDATES', () => {
    const x = new Float32Array(100);
    x[57] = NaN;
    for (const chain of [[{ name: 'top_k', k: 5 }], [{ name: 'top_p', p: 0.9 }], [{ name: 'greedy' }], [{ name: 'allowed', tokens: [1, 2] }]] as SamplerSpec[][]) {
      const s = new Sampler(chain, { vocab: 100 });
      expect(() => s.sample(x)).toThrow(expect.objectContaining({ code: 'LMP_E_NAN', message: expect.stringContaining('NaN') }));
    }
    const y = new Float32Array(10);
    y[3] = Infinity;
    expect(() => new Sampler([], { vocab: 10 }).sample(y)).toThrow(expect.objectContaining({ code: 'LMP_E_NAN' }));
    const z = new Float32Array(10).fill(-Infinity);
    expect(() => new Sampler([], { vocab: 10 }).sample(z)).toThrow(expect.objectContaining({ code: 'LMP_E_NO_CANDIDATES' }));
    expect(() => new Sampler([], { vocab: 10 }).sample(new Float32Array(9))).toThrow(expect.objectContaining({ code: 'LMP_E_SHAPE' }));
  });

  test('the caller’s logits are unchanged after a chain that edits them', () => {
    const x = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i));
    const copy = x.slice();
    const s = new Sampler(
      [
        { name: 'penalties', last: 64, repeat: 1.3, frequency: 0.2, presence: 0.1 },
        { name: 'logit_bias', bias: { 5: 3, 6: -Infinity } },
        { name: 'banned', tokens: [7, 8] },
        { name: 'top_k', k: 10 },
      ],
      { vocab: 1000 },
    );
    s.reset([1, 2, 3, 5, 5, 9]);
    s.sample(x);
    expect(x).toEqual(copy);
  });
});

function restrict(x: ArrayLike<number>, keep: number[]): Float32Array {
  const out = new Float32Array(x.length).fill(-Infinity);
  for (const i of keep) out[i] = x[i]!;
  return out;
}
