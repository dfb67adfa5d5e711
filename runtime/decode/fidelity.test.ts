// Sampler fidelity: the native typical and Mirostat v1 against the plain float64 references of
// their definitions (reference.ts), compared as distributions with |a - b| <= atol + rtol |ref|,
// on random logits of awkward sizes, including heavy ties (bf16-rounded and 8/4-bit quantized
// logits, where whole groups of tokens share the crossing score).
import { describe, expect, test } from 'vitest';
import { Sampler } from './sampler.js';
import type { SamplerSpec } from './chain.js';
import { normal, rng } from './testutil.js';
import { native } from '../native.js';
import { firstMismatch, mirostatV1Step, restrictedSoftmax, typicalAlternatives, typicalKept, type MirostatRefOptions, type TypicalRefOptions } from './reference.js';

const ATOL = 1e-8;
const RTOL = 1e-5;


/** float32 -> bfloat16 (round to nearest even) -> float32. */
function bf16(x: Float32Array): Float32Array {
  const out = x.slice();
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < u.length; i++) u[i] = ((u[i]! + 0x7fff + ((u[i]! >>> 16) & 1)) & 0xffff0000) >>> 0;
  return out;
}
/** Symmetric uniform quantization to `levels` levels per sign (127: int8, 7: int4). */
function quantized(x: Float32Array, levels: number): Float32Array {
  let a = 0;
  for (const v of x) a = Math.max(a, Math.abs(v));
  const s = a / levels || 1;
  return Float32Array.from(x, (v) => Math.round(v / s) * s);
}

interface Case {
  readonly name: string;
  readonly x: Float32Array;
}
function cases(): Case[] {
  const r = rng(2024);
  const out: Case[] = [];
  for (const V of [1, 2, 3, 7, 1000, 1023, 16385, 50257]) {
    const raw = Float32Array.from({ length: V }, () => 3 * normal(r));
    out.push({ name: `V=${V} normal(0,3) f32`, x: raw });
    out.push({ name: `V=${V} bf16`, x: bf16(raw) });
    out.push({ name: `V=${V} int8`, x: quantized(raw, 127) });
    out.push({ name: `V=${V} int4`, x: quantized(raw, 7) });
  }
  const V = 131075;
  const raw = Float32Array.from({ length: V }, () => 2 * normal(r));
  for (let j = 0; j < 8; j++) raw[Math.floor(r() * V)] = 9 - j;
  out.push({ name: `V=${V} bf16 with spikes`, x: bf16(raw) });
  out.push({ name: `V=${V} int4`, x: quantized(raw, 7) });
  out.push({ name: 'V=1000 all equal', x: new Float32Array(1000).fill(0.5) });
  return out;
}
const CASES = cases();

function distribution(chain: SamplerSpec[], x: Float32Array): Float32Array {
  return new Sampler(chain, { vocab: x.length, seed: 1 }).distribution(x);
}
function restrict(x: Float32Array, keep: readonly number[]): Float32Array {
  const y = new Float32Array(x.length).fill(-Infinity);
  for (const i of keep) y[i] = x[i]!;
  return y;
}

describe('typical against the float64 definition (HF TypicalLogitsWarper semantics by default)', () => {
  const variants: [string, TypicalRefOptions, Partial<Extract<SamplerSpec, { name: 'typical' }>>][] = [
    ['default (hf, ties keep)', {}, {}],
    ['ties by_id', { ties: 'by_id' }, { ties: 'by_id' }],
    ['llama_cpp (ties by_id)', { crossing: 'llama_cpp' }, { crossing: 'llama_cpp' }],
    ['llama_cpp, ties keep', { crossing: 'llama_cpp', ties: 'keep' }, { crossing: 'llama_cpp', ties: 'keep' }],
  ];
  // pre: what runs before typical (the reference is applied to its output, computed here)
  const pres: [string, SamplerSpec[], (x: Float32Array) => Float32Array][] = [
    ['', [], (x) => x],
    ['temperature(0.7) -> ', [{ name: 'temperature', t: 0.7 }], (x) => Float32Array.from(x, (v) => v / 0.7)],
    ['top_k(300) -> ', [{ name: 'top_k', k: 300 }], (x) => restrict(x, [...x.keys()].filter((i) => x[i]! > -Infinity).sort((a, b) => x[b]! - x[a]! || a - b).slice(0, 300))],
  ];
  for (const [vname, refOpts, spec] of variants) {
    test(vname, () => {
      let checked = 0;
      let viaAlternative = 0;
      for (const [pname, pre, apply] of pres) {
        for (const p of [0.2, 0.5, 0.9, 0.95]) {
          for (const c of CASES) {
            if (pname && c.x.length > 60000) continue;
            const y = apply(c.x);
            const got = distribution([...pre, { name: 'typical', p, ...spec }], c.x);
            const want = restrictedSoftmax(y, typicalKept(y, p, refOpts));
            checked++;
            const at = firstMismatch(got, want, ATOL, RTOL);
            if (at < 0) continue;
            // a rounding-sized change of p or H moves the cut: the native may land on either side
            const alt = typicalAlternatives(y, p, refOpts).find((k) => firstMismatch(got, restrictedSoftmax(y, k), ATOL, RTOL) < 0);
            expect(alt, `${pname}typical(${p}) ${vname} on ${c.name}: token ${at} got ${got[at]} want ${want[at]}`).toBeDefined();
            viaAlternative++;
          }
        }
      }
      expect(checked).toBeGreaterThan(300);
      expect(viaAlternative).toBeLessThanOrEqual(checked / 20);
    });
  }

  test('a tie group at the crossing: kept whole by default, cut by id with ties: by_id', () => {
    // 1024 equal tokens (p = 2^-10 each, exact) among -inf: every score is 0, mass 0.5 is reached
    // exactly at the 512th lowest id. HF: last_ind = #(cum < 0.5) = 511, and every token with
    // score <= score[511] = 0 stays: all 1024. by_id: the lowest 512; llama_cpp (cum > 0.5): 513.
    // V = 4099 runs the exact fallback, 2^15 the bracket / histogram paths (SIMD and scalar).
    const setScalar = (on: boolean) => (native() as unknown as { setForceScalar(on: boolean): void }).setForceScalar(on);
    try {
      for (const [V, scalar] of [[4099, false], [1 << 15, false], [1 << 15, true]] as const) {
        setScalar(scalar);
        const x = new Float32Array(V).fill(-Infinity);
        const group: number[] = [];
        for (let i = 0; i < 1024; i++) group.push((i * 61 + 7) % V);
        for (const i of group) x[i] = 5;
        group.sort((a, b) => a - b);
        const kept = (s: Partial<Extract<SamplerSpec, { name: 'typical' }>>) => {
          const d = distribution([{ name: 'typical', p: 0.5, ...s }], x);
          return [...d.keys()].filter((i) => d[i]! > 0);
        };
        expect(kept({}), `V=${V} scalar ${scalar}`).toEqual(group);
        expect(kept({ ties: 'by_id' })).toEqual(group.slice(0, 512));
        expect(kept({ crossing: 'llama_cpp' })).toEqual(group.slice(0, 513));
        expect(kept({ crossing: 'llama_cpp', ties: 'keep' })).toEqual(group);
      }
    } finally {
      setScalar(false);
    }
  });

  test('on bf16 logits the two tie rules keep very different sets (why the default matters)', () => {
    // Peaked bf16 logits with many exact ties: the crossing falls inside a tie group; HF keeps the
    // whole group, the by-id cut only part of it.
    const r = rng(11);
    let differs = 0;
    for (let t = 0; t < 20; t++) {
      const x = bf16(Float32Array.from({ length: 1000 }, () => 10 + 0.5 * normal(r)));
      const keep = typicalKept(x, 0.9, {});
      const byId = typicalKept(x, 0.9, { ties: 'by_id' });
      expect(byId.every((i) => keep.includes(i))).toBe(true);
      if (keep.length > byId.length) differs++;
    }
    expect(differs).toBeGreaterThanOrEqual(15);
  });
});

describe('mirostat v1 against the float64 definition', () => {
  /** Native and reference stepped together: the native's token is accepted by both. */
  function run(x: Float32Array[], opts: MirostatRefOptions & { tau: number; eta?: number }, steps: number, label: string): number {
    const variant = opts.variant ?? 'paper';
    const eta = opts.eta ?? (variant === 'paper' ? 1 : 0.1);
    const spec: SamplerSpec = { name: 'mirostat', tau: opts.tau, eta, variant, ...(opts.m !== undefined ? { m: opts.m } : {}) };
    const V = x[0]!.length;
    const s = new Sampler([spec], { vocab: V, seed: 9 });
    let mu = 2 * opts.tau;
    let boundary = 0;
    for (let t = 0; t < steps; t++) {
      const xi = x[t % x.length]!;
      const ref = mirostatV1Step(xi, mu, opts);
      expect(Math.abs(s.mu - mu), `${label} step ${t}: mu`).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(mu)));
      const got = s.distribution(xi);
      const ok = firstMismatch(got, restrictedSoftmax(xi, ref.kept), ATOL, RTOL) < 0;
      if (!ok) {
        // k within rounding of a boundary: the native's k may be one more or one less
        expect(ref.nearBoundary, `${label} step ${t}: k ${[...got].filter((q) => q > 0).length} want ${ref.kept.length} (k raw ${ref.kRaw})`).toBe(true);
        boundary++;
      }
      const tok = s.sample(xi);
      expect(ref.kept.includes(tok) || !ok, `${label} step ${t}: token ${tok} outside the top k`).toBe(true);
      s.accept(tok);
      mu -= eta * (ref.surprise(tok) - opts.tau);
    }
    return boundary;
  }

  test('the paper form uses m ratios of the top m + 1 (its code: range(100)), llama.cpp m - 1', () => {
    // Zipf top (p_i ∝ (i+1)^-1.1) for 101 tokens, then a gap of 8 nats between the 100th and the
    // 101st: only the paper form's 100th ratio sees it, so the two estimates of s differ.
    const V = 5000;
    const x = new Float32Array(V);
    for (let i = 0; i < V; i++) x[(i * 7919) % V] = -1.1 * Math.log(i + 1) - (i >= 100 ? 8 : 0);
    const paper = mirostatV1Step(x, 6, { variant: 'paper' });
    const llama = mirostatV1Step(x, 6, { variant: 'llama_cpp' });
    expect(Math.abs(paper.s - 1.1)).toBeGreaterThan(0.05); // the gap pulls the paper's s up
    expect(Math.abs(llama.s - 1.1)).toBeLessThan(1e-6); // exactly Zipf over 99 ratios
    for (const [variant, ref] of [['paper', paper], ['llama_cpp', llama]] as const) {
      const d = new Sampler([{ name: 'mirostat', tau: 3, variant }], { vocab: V }).distribution(x);
      expect(firstMismatch(d, restrictedSoftmax(x, ref.kept), ATOL, RTOL), variant).toBe(-1);
    }
    expect(paper.kept.length).not.toBe(Math.round(llama.kRaw) + 1);
  });

  test('random logits, awkward sizes, heavy ties: kept set, mu and the token each step', () => {
    const r = rng(77);
    let boundary = 0;
    let steps = 0;
    for (const V of [2, 3, 50, 101, 102, 1000, 50257]) {
      const raw = Array.from({ length: 4 }, () => Float32Array.from({ length: V }, () => 2.5 * normal(r)));
      const zipf = Array.from({ length: 4 }, (_, j) => Float32Array.from({ length: V }, (_, i) => -(1.05 + 0.2 * j) * Math.log(((i * 31) % V) + 1)));
      for (const [kind, xs] of [['f32', raw], ['bf16', raw.map(bf16)], ['int4', raw.map((a) => quantized(a, 7))], ['zipf', zipf]] as const) {
        for (const o of [{ tau: 3 }, { tau: 5, variant: 'llama_cpp' as const }, { tau: 2, m: 2 }, { tau: 4, m: 7, variant: 'llama_cpp' as const }]) {
          const n = V > 10000 ? 6 : 20;
          boundary += run([...xs], o, n, `V=${V} ${kind} ${JSON.stringify(o)}`);
          steps += n;
        }
      }
    }
    expect(steps).toBeGreaterThan(1000);
    expect(boundary).toBeLessThanOrEqual(3);
  });
});
