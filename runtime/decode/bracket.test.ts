// The bracketed cut of top_p and typical (native/src/sampling/chain.cc, bracket_cut): a sample of
// every 64th logit (plus every token at or above the 32nd largest block maximum) estimates where
// the cut falls, one pass checks it exactly, and a wrong estimate falls back to the histogram
// path. These inputs are built so that the sample misleads (mass hidden between the sampled
// positions, stride aliasing, all equal, -inf mixes, exact ties at the cut); the kept sets must
// still equal the float64 definitions, the SIMD and scalar kernels must agree, and sample() (which
// walks the lazy thresholded view without materializing it) must only draw kept tokens.
import { afterEach, describe, expect, test } from 'vitest';
import { Sampler } from './sampler.js';
import type { SamplerSpec } from './chain.js';
import { normal, rng } from './testutil.js';
import { typicalAmbiguous, typicalKept, type TypicalRefOptions } from './reference.js';
import { native } from '../native.js';

const setScalar = (on: boolean) => (native() as unknown as { setForceScalar(on: boolean): void }).setForceScalar(on);
afterEach(() => setScalar(false));


function softmax(x: ArrayLike<number>): number[] {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) m = Math.max(m, x[i]!);
  const e = Array.from(x, (v) => (v === -Infinity ? 0 : Math.exp(v - m)));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}
const TOL = 1e-5;
/** The definition: the shortest prefix of `order` whose mass reaches p; `amb` gets the ids whose
 * membership is within float rounding of the crossing. */
function prefix(order: number[], pr: number[], p: number, strict: boolean, amb: Set<number>): number[] {
  const out: number[] = [];
  let c = 0;
  for (const i of order) {
    if (Math.abs(c - p) <= TOL * p || Math.abs(c + pr[i]! - p) <= TOL * p) amb.add(i);
    out.push(i);
    c += pr[i]!;
    if (strict ? c > p : c >= p) break;
  }
  let c2 = c;
  for (let j = out.length; j < order.length && Math.abs(c2 - p) <= TOL * p; j++) {
    amb.add(order[j]!);
    c2 += pr[order[j]!]!;
  }
  return out;
}
function finiteIds(x: Float32Array): number[] {
  const ids: number[] = [];
  for (let i = 0; i < x.length; i++) if (x[i]! > -Infinity) ids.push(i);
  return ids;
}
function refTopP(x: Float32Array, p: number, amb: Set<number>): number[] {
  const ids = finiteIds(x).sort((a, b) => x[b]! - x[a]! || a - b);
  return prefix(ids, softmax(x), p, false, amb);
}
// reference.ts: the definition with HF's tie rule (or by id), and its rounding-ambiguous ids
function refTypical(x: Float32Array, p: number, o: TypicalRefOptions, amb: Set<number>): number[] {
  for (const i of typicalAmbiguous(x, p, o)) amb.add(i);
  return typicalKept(x, p, o);
}

function cases(): { name: string; x: Float32Array }[] {
  const r = rng(7);
  const out: { name: string; x: Float32Array }[] = [];
  for (const V of [1 << 15, 1 << 18]) {
    // Most of the mass in 3000 tokens at +7 placed off the sampled positions (i % 64 != 32) and
    // spread over more blocks than the exact part of the sample covers: the estimate misses them.
    const hid = Float32Array.from({ length: V }, () => normal(r));
    for (let j = 0; j < Math.min(3000, V / 64); j++) hid[j * 64 + 5 + (j % 20)] = 7 + 0.001 * (j % 13);
    out.push({ name: `${V}: mass hidden between the sampled positions`, x: hid });
    // stride aliasing: the sampled positions all hold the low value
    out.push({ name: `${V}: period 64, sampled positions low`, x: Float32Array.from({ length: V }, (_, i) => (i % 64 === 32 ? 0 : 3)) });
    out.push({ name: `${V}: period 64, sampled positions high`, x: Float32Array.from({ length: V }, (_, i) => (i % 64 === 32 ? 3 : 0)) });
    out.push({ name: `${V}: all equal`, x: new Float32Array(V).fill(-1.25) });
    out.push({ name: `${V}: -inf mix (90%)`, x: Float32Array.from({ length: V }, () => (r() < 0.9 ? -Infinity : 3 * normal(r))) });
    // -inf on every sampled position
    out.push({ name: `${V}: -inf on the sampled positions`, x: Float32Array.from({ length: V }, (_, i) => (i % 64 === 32 ? -Infinity : 2 * normal(r))) });
    // a few huge logits: the exact part of the sample must see them
    const few = Float32Array.from({ length: V }, () => 3 * normal(r));
    for (let j = 0; j < 6; j++) few[(j * 9973 + 11) % V] = 20 - j;
    out.push({ name: `${V}: six huge logits`, x: few });
    // integer logits: the cut falls inside a large tie group
    out.push({ name: `${V}: integers 0..5`, x: Float32Array.from({ length: V }, () => Math.floor(r() * 6)) });
    out.push({ name: `${V}: LM-like normal(0, 3)`, x: Float32Array.from({ length: V }, () => 3 * normal(r)) });
  }
  return out;
}
const CASES = cases();

function kept(chain: SamplerSpec[], x: Float32Array): number[] {
  const d = new Sampler(chain, { vocab: x.length, seed: 1 }).distribution(x);
  const out: number[] = [];
  d.forEach((q, i) => {
    if (q > 0) out.push(i);
  });
  return out;
}

describe('bracketed cut: kept sets equal the definitions when the sample misleads', () => {
  const checks: [string, SamplerSpec[], (x: Float32Array, amb: Set<number>) => number[]][] = [
    ['top_p(0.9)', [{ name: 'top_p', p: 0.9 }], (x, a) => refTopP(x, 0.9, a)],
    ['top_p(0.5)', [{ name: 'top_p', p: 0.5 }], (x, a) => refTopP(x, 0.5, a)],
    ['typical(0.9)', [{ name: 'typical', p: 0.9 }], (x, a) => refTypical(x, 0.9, {}, a)],
    ['typical(0.9, ties by_id)', [{ name: 'typical', p: 0.9, ties: 'by_id' }], (x, a) => refTypical(x, 0.9, { ties: 'by_id' }, a)],
    ['typical(0.5, llama_cpp)', [{ name: 'typical', p: 0.5, crossing: 'llama_cpp' }], (x, a) => refTypical(x, 0.5, { crossing: 'llama_cpp' }, a)],
  ];
  for (const [name, chain, ref] of checks) {
    test(name, () => {
      for (const c of CASES) {
        const amb = new Set<number>();
        const want = ref(c.x, amb);
        const w = new Set(want);
        for (const scalar of [false, true]) {
          setScalar(scalar);
          const got = kept(chain, c.x);
          const g = new Set(got);
          const diff = [...got.filter((i) => !w.has(i)), ...want.filter((i) => !g.has(i))];
          expect(diff.filter((i) => !amb.has(i)), `${name} on ${c.name} (scalar ${scalar})`).toEqual([]);
          expect(diff.length, `${name} on ${c.name}`).toBeLessThanOrEqual(16);
        }
      }
    });
  }

  test('sample() draws only kept tokens, the same ones with SIMD and scalar kernels, and traces the kept count', () => {
    for (const chain of [[{ name: 'top_p', p: 0.9 }], [{ name: 'typical', p: 0.7 }]] as SamplerSpec[][]) {
      for (const c of CASES) {
        const set = new Set(kept(chain, c.x));
        const toks: number[][] = [];
        for (const scalar of [false, true]) {
          setScalar(scalar);
          const s = new Sampler(chain, { vocab: c.x.length, seed: 5, trace: true });
          const t: number[] = [];
          for (let i = 0; i < 8; i++) {
            const tok = s.sample(c.x);
            t.push(tok);
            expect(s.lastTrace(tok)!.candidates, `${c.name}: kept count`).toBe(set.size);
          }
          toks.push(t);
        }
        for (const t of toks[0]!) expect(set.has(t), `${JSON.stringify(chain)} on ${c.name}: token ${t}`).toBe(true);
        expect(toks[0], c.name).toEqual(toks[1]);
      }
    }
  });
});
