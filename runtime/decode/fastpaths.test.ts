// The fast paths of the native chain (vocabularies >= 16384): the histogram cut of top_p and
// typical, the two-level top-k, the vectorized kernels and their scalar copies. Kept sets are
// checked against float64 sort-based definitions on adversarial logits; the SIMD and scalar
// kernels must give bitwise the same distributions and the same tokens.
import { afterEach, describe, expect, test } from 'vitest';
import { Sampler } from './sampler.js';
import type { SamplerSpec } from './chain.js';
import { normal, rng } from './testutil.js';
import { typicalAmbiguous, typicalKept, type TypicalRefOptions } from './reference.js';
import { native } from '../native.js';

function softmax(x: ArrayLike<number>): number[] {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) m = Math.max(m, x[i]!);
  const e = Array.from(x, (v) => (v === -Infinity ? 0 : Math.exp(v - m)));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}
function byProb(x: ArrayLike<number>): number[] {
  const ids = Array.from({ length: x.length }, (_, i) => i).filter((i) => x[i]! > -Infinity);
  return ids.sort((a, b) => x[b]! - x[a]! || a - b);
}
const TOL = 1e-5;
let ambiguous = new Set<number>();
function prefix(order: number[], pr: number[], p: number, strict: boolean): number[] {
  const out: number[] = [];
  let c = 0;
  for (const i of order) {
    if (Math.abs(c - p) <= TOL * p || Math.abs(c + pr[i]! - p) <= TOL * p) ambiguous.add(i);
    out.push(i);
    c += pr[i]!;
    if (strict ? c > p : c >= p) break;
  }
  // tokens after the cut whose running mass is still within rounding of p (large tie groups
  // of tiny tokens: the float exp's ~2e-7 relative error moves the cut by several of them)
  let c2 = c;
  for (let j = out.length; j < order.length && Math.abs(c2 - p) <= TOL * p; j++) {
    ambiguous.add(order[j]!);
    c2 += pr[order[j]!]!;
  }
  return out;
}
const ref = {
  top_k: (x: ArrayLike<number>, k: number) => byProb(x).slice(0, k),
  top_p: (x: ArrayLike<number>, p: number) => prefix(byProb(x), softmax(x), p, false),
  // reference.ts: the definition with HF's tie rule (or by id), and its rounding-ambiguous ids
  typical: (x: ArrayLike<number>, tau: number, o: TypicalRefOptions = {}) => {
    for (const i of typicalAmbiguous(x, tau, o)) ambiguous.add(i);
    return typicalKept(x, tau, o);
  },
};
function keptSet(chain: SamplerSpec[], x: Float32Array): number[] {
  const d = new Sampler(chain, { vocab: x.length, seed: 1 }).distribution(x);
  const out: number[] = [];
  d.forEach((q, i) => {
    if (q > 0) out.push(i);
  });
  return out;
}
const setScalar = (on: boolean) => (native() as unknown as { setForceScalar(on: boolean): void }).setForceScalar(on);
afterEach(() => setScalar(false));

const V = 1 << 15;
function adversarial(): { name: string; x: Float32Array }[] {
  const r = rng(99);
  const out: { name: string; x: Float32Array }[] = [];
  out.push({ name: 'all equal', x: new Float32Array(V).fill(0.75) });
  const huge = Float32Array.from({ length: V }, () => normal(r));
  huge[40000] = 1e4;
  out.push({ name: 'one huge logit', x: huge });
  const big = Float32Array.from({ length: V }, () => 1e5 + 2 * normal(r));
  out.push({ name: 'large offset (1e5 + normal)', x: big });
  out.push({ name: '-inf mix (60%)', x: Float32Array.from({ length: V }, () => (r() < 0.6 ? -Infinity : 3 * normal(r))) });
  const one = new Float32Array(V).fill(-Infinity);
  one[V - 1] = -2;
  out.push({ name: 'one finite token (the last)', x: one });
  // integer logits: every bin holds one tie group, so the crossing falls inside a tie
  out.push({ name: 'ties: integers 0..7', x: Float32Array.from({ length: V }, () => Math.floor(r() * 8)) });
  // a block of equal tokens whose mass straddles p exactly: the tie rule decides
  const tie = new Float32Array(V).fill(-30);
  for (let i = 0; i < 1000; i++) tie[(i * 37) % V] = 5;
  out.push({ name: 'ties at the threshold (1000 equal tokens, rest ~e^-35)', x: tie });
  out.push({ name: 'wide normal sigma=8', x: Float32Array.from({ length: V }, () => 8 * normal(r)) });
  out.push({ name: 'zipf', x: Float32Array.from({ length: V }, (_, i) => -1.2 * Math.log(((i * 7919) % V) + 1)) });
  out.push({ name: 'two levels (half at 0, half at -3)', x: Float32Array.from({ length: V }, (_, i) => (i % 2 ? 0 : -3)) });
  return out;
}
const CASES = adversarial();

describe('histogram cut (top_p, typical) keeps exactly the definition set', () => {
  const checks: [string, (x: Float32Array) => [SamplerSpec[], number[]]][] = [
    ['top_p(0.9)', (x) => [[{ name: 'top_p', p: 0.9 }], ref.top_p(x, 0.9)]],
    ['top_p(0.3)', (x) => [[{ name: 'top_p', p: 0.3 }], ref.top_p(x, 0.3)]],
    ['top_p(0.9999)', (x) => [[{ name: 'top_p', p: 0.9999 }], ref.top_p(x, 0.9999)]],
    ['temperature(1.7) -> top_p(0.8)', (x) => [[{ name: 'temperature', t: 1.7 }, { name: 'top_p', p: 0.8 }], ref.top_p(Float32Array.from(x, (v) => v / 1.7), 0.8)]],
    ['typical(0.9)', (x) => [[{ name: 'typical', p: 0.9 }], ref.typical(x, 0.9)]],
    ['typical(0.2)', (x) => [[{ name: 'typical', p: 0.2 }], ref.typical(x, 0.2)]],
    ['typical(0.9, ties by_id)', (x) => [[{ name: 'typical', p: 0.9, ties: 'by_id' }], ref.typical(x, 0.9, { ties: 'by_id' })]],
    ['typical(0.9, llama_cpp)', (x) => [[{ name: 'typical', p: 0.9, crossing: 'llama_cpp' }], ref.typical(x, 0.9, { crossing: 'llama_cpp' })]],
  ];
  for (const [name, mk] of checks) {
    test(name, () => {
      for (const c of CASES) {
        ambiguous = new Set();
        const [chain, want] = mk(c.x);
        for (const scalar of [false, true]) {
          setScalar(scalar);
          const got = keptSet(chain, c.x);
          const g = new Set(got);
          const w = new Set(want);
          const diff = [...got.filter((i) => !w.has(i)), ...want.filter((i) => !g.has(i))];
          expect(diff.filter((i) => !ambiguous.has(i)), `${name} on ${c.name} (scalar ${scalar})`).toEqual([]);
          expect(diff.length, `${name} on ${c.name}`).toBeLessThanOrEqual(16);
        }
      }
    });
  }

  test('ties at the threshold: top_p keeps the lower ids of the tie group', () => {
    // 1024 equal tokens (p = 2^-10 each, exact), the rest -inf: mass 0.5 is reached exactly at
    // the 512th lowest id; top_p keeps 512 (typical's tie rules: fidelity.test.ts).
    const x = new Float32Array(V).fill(-Infinity);
    const group: number[] = [];
    for (let i = 0; i < 1024; i++) {
      const id = (i * 61 + 7) % V;
      x[id] = 5;
      group.push(id);
    }
    group.sort((a, b) => a - b);
    for (const scalar of [false, true]) {
      setScalar(scalar);
      expect(keptSet([{ name: 'top_p', p: 0.5 }], x)).toEqual(group.slice(0, 512));
    }
  });
});

describe('two-level top-k keeps exactly the top k', () => {
  // (not 'one huge logit': every other token has p = 0 there, so the distribution cannot show them)
  const inputs = [
    ...CASES.filter((c) => c.name !== 'one huge logit'),
    // the top values all in one block, the rest -inf in whole blocks
    { name: 'one hot block', x: Float32Array.from({ length: V }, (_, i) => (i >= 640 && i < 704 ? (i - 672) / 10 : i < 20000 ? -Infinity : -5)) },
    // ties spread across blocks: the lowest ids win
    { name: 'ties across blocks', x: Float32Array.from({ length: V }, (_, i) => (i % 97 === 0 ? 3 : 0)) },
  ];
  for (const k of [1, 64, 2000]) {
    test(`top_k(${k})`, () => {
      for (const c of inputs) {
        const want = ref.top_k(c.x, k).sort((a, b) => a - b);
        for (const scalar of [false, true]) {
          setScalar(scalar);
          expect(keptSet([{ name: 'top_k', k }], c.x), `${c.name} scalar ${scalar}`).toEqual(want);
        }
      }
    });
  }
});

describe('SIMD and scalar kernels agree bitwise', () => {
  const chains: SamplerSpec[][] = [
    [],
    [{ name: 'temperature', t: 0.8 }],
    [{ name: 'top_p', p: 0.9 }],
    [{ name: 'typical', p: 0.9 }],
    [{ name: 'top_k', k: 64 }],
    [{ name: 'min_p', p: 0.05 }],
    [{ name: 'mirostat', tau: 5, eta: 0.1 }],
    [{ name: 'mirostat_v2', tau: 5, eta: 0.1 }],
  ];
  test('distributions and tokens', () => {
    const r = rng(5);
    const x = Float32Array.from({ length: V }, () => 3 * normal(r));
    for (let j = 0; j < 5; j++) x[Math.floor(r() * V)] = 16 - j;
    for (const chain of chains) {
      const res: { d: Float32Array; toks: number[] }[] = [];
      for (const scalar of [false, true]) {
        setScalar(scalar);
        const s = new Sampler(chain, { vocab: V, seed: 3 });
        const d = s.distribution(x);
        const toks = Array.from({ length: 50 }, () => s.sample(x));
        res.push({ d, toks });
      }
      const name = JSON.stringify(chain);
      expect(Buffer.from(res[0]!.d.buffer).equals(Buffer.from(res[1]!.d.buffer)), name).toBe(true);
      expect(res[0]!.toks, name).toEqual(res[1]!.toks);
    }
  });
});
