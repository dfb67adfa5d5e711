import { describe, expect, it } from 'vitest';
import { native, nativeFn } from '../native.js';
import type { MaskIR } from '../mask/ir.js';
import { docIdsFromLengths } from '../mask/eval.js';
import { alibiSlopes, attentionBackward, attentionForward, attentionForwardMany, kernelMasks, ropeFrequencies, type AttentionBackend, type AttentionInput } from './index.js';
import { referenceAttention } from './reference.js';

// Tolerances (float32 kernel vs float64 reference): |a - b| <= ATOL + RTOL * |ref|.
const ATOL_FWD = 2e-5, RTOL_FWD = 2e-4;
const ATOL_BWD = 1e-4, RTOL_BWD = 1e-3;

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const randn = (r: () => number, n: number, s = 1) => Float32Array.from({ length: n }, () => s * (r() * 2 - 1) * 1.7);

function close(name: string, got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number) {
  expect(got.length, name + ' length').toBe(want.length);
  let worst = -1, wi = -1;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    if (g === w) continue; // covers -Infinity
    const err = Math.abs(g - w) - (atol + rtol * Math.abs(w));
    if (!(err <= 0) && (wi < 0 || err > worst)) (worst = err), (wi = i);
  }
  if (wi >= 0) expect.fail(`${name}[${wi}]: got ${got[wi]}, want ${want[wi]}`);
}

interface Case {
  lens: number[];
  heads: number;
  kvHeads: number;
  headDim: number;
  mask?: AttentionInput['mask'];
  docLens?: number[]; // document lengths per sequence (repeated to fill each)
  kvExtra?: number[]; // decode: extra cached keys per sequence
  score?: AttentionInput['score'];
  position?: AttentionInput['position'];
}

function build(c: Case, seed: number): AttentionInput {
  const r = rng(seed);
  const cuQ = new Int32Array(c.lens.length + 1), cuK = new Int32Array(c.lens.length + 1);
  c.lens.forEach((l, s) => {
    cuQ[s + 1] = cuQ[s]! + l;
    cuK[s + 1] = cuK[s]! + l + (c.kvExtra?.[s] ?? 0);
  });
  const Tq = cuQ[c.lens.length]!, Tk = cuK[c.lens.length]!;
  let docIds: Int32Array | undefined;
  if (c.docLens) {
    docIds = new Int32Array(Tk);
    for (let s = 0; s < c.lens.length; s++) {
      const n = cuK[s + 1]! - cuK[s]!;
      const lens: number[] = [];
      for (let t = 0, i = 0; t < n; i++) {
        const l = c.docLens[i % c.docLens.length]!;
        lens.push(l);
        t += l;
      }
      docIds.set(docIdsFromLengths(lens, n), cuK[s]!);
    }
  }
  return {
    q: randn(r, Tq * c.heads * c.headDim),
    k: randn(r, Tk * c.kvHeads * c.headDim),
    v: randn(r, Tk * c.kvHeads * c.headDim),
    heads: c.heads,
    kvHeads: c.kvHeads,
    headDim: c.headDim,
    cuSeqlens: cuQ,
    ...(c.kvExtra ? { cuSeqlensK: cuK } : {}),
    docIds,
    mask: c.mask,
    score: c.score,
    position: c.position,
  };
}

// Every kernel path this CPU runs: the run-time dispatched AVX-512 and AVX2 copies (forced with
// setSimdCap; a path the CPU lacks is left out, and the test names say which ran) and the scalar one.
const dispatch = native().version().dispatch;
const setSimdCap = (cap: string | null): void => void native().setSimdCap(cap);
const PATHS = [...(dispatch === 'avx512' ? ['avx512'] : []), ...(dispatch !== 'scalar' ? ['avx2'] : []), 'scalar'];

function check(c: Case, seed: number, backward = true, backend?: AttentionBackend) {
  const inp = build(c, seed);
  const r = rng(seed + 1);
  const dout = randn(r, inp.q.length);
  const ref = referenceAttention(inp, backward ? dout : undefined);
  for (const path of PATHS) {
    native().setForceScalar(path === 'scalar');
    if (path !== 'scalar') setSimdCap(path);
    try {
      const tag = `${path} ${JSON.stringify({ ...c, mask: c.mask })}`;
      const f = attentionForward(inp, backend);
      close('out ' + tag, f.out, ref.out, ATOL_FWD, RTOL_FWD);
      close('lse ' + tag, f.lse, ref.lse, ATOL_FWD, RTOL_FWD);
      if (backward) {
        const g = attentionBackward({ ...inp, out: f.out, lse: f.lse, dout }, backend);
        close('dq ' + tag, g.dq, ref.dq!, ATOL_BWD, RTOL_BWD);
        close('dk ' + tag, g.dk, ref.dk!, ATOL_BWD, RTOL_BWD);
        close('dv ' + tag, g.dv, ref.dv!, ATOL_BWD, RTOL_BWD);
      }
    } finally {
      native().setForceScalar(false);
      setSimdCap(null);
    }
  }
}

const causal: MaskIR = { op: 'causal' };
const and = (...args: MaskIR[]): MaskIR => ({ op: 'and', args });
const or = (...args: MaskIR[]): MaskIR => ({ op: 'or', args });

describe('float64 reference backward (finite differences)', () => {
  it('matches central differences of sum(dout * out)', () => {
    const c: Case = { lens: [5, 3], heads: 2, kvHeads: 1, headDim: 4, mask: and(causal, { op: 'window', size: 3 }), score: { softcap: 2, alibi: true } };
    for (const extra of [{}, { score: { softplus: { power: 2, trainLength: 2 } } }, { position: { kind: 'rope' as const, rope: { base: 100, scaling: { kind: 'yarn' as const, factor: 4, originalLength: 8 } } } }, { mask: causal, position: { kind: 'rope' as const, distanceLimit: 2 } }]) {
      const inp = build({ ...c, ...extra }, 5);
      const dout = randn(rng(6), inp.q.length);
      const ref = referenceAttention(inp, dout);
      const loss = (x: AttentionInput) => {
        const o = referenceAttention(x).out;
        let s = 0;
        for (let i = 0; i < o.length; i++) s += o[i]! * dout[i]!;
        return s;
      };
      for (const name of ['q', 'k', 'v'] as const) {
        const g = name === 'q' ? ref.dq! : name === 'k' ? ref.dk! : ref.dv!;
        for (const idx of [0, 3, 9, inp[name].length - 1]) {
          const h = 1e-3;
          const plus = Float32Array.from(inp[name]), minus = Float32Array.from(inp[name]);
          plus[idx]! += h;
          minus[idx]! -= h;
          const hp = plus[idx]! - minus[idx]!; // the float32 step actually taken
          const fd = (loss({ ...inp, [name]: plus }) - loss({ ...inp, [name]: minus })) / hp;
          expect(Math.abs(fd - g[idx]!)).toBeLessThan(1e-3 + 1e-3 * Math.abs(fd));
        }
      }
    }
  });
});

describe('fused attention vs float64 reference', () => {
  it('reports the module', () => {
    expect(native().modules).toContain('attention');
  });

  it('every mask primitive, awkward lengths, GQA, forward and backward', () => {
    const masks: MaskIR[] = [
      { op: 'full' },
      causal,
      and(causal, { op: 'window', size: 1 }),
      and(causal, { op: 'window', size: 17 }),
      { op: 'window', size: 5 },
      and(causal, { op: 'sink', count: 3 }),
      { op: 'prefix', length: 20 },
      { op: 'chunked', size: 30 },
      and(causal, { op: 'same_document' }),
    ];
    masks.forEach((mask, i) => check({ lens: [1, 63, 65], heads: 4, kvHeads: 2, headDim: 32, mask, docLens: [1, 20, 7, 1, 40] }, 100 + i));
  });

  it('compositions and per-head groups', () => {
    const lambda = and(causal, or({ op: 'sink', count: 4 }, { op: 'window', size: 24 }));
    check({ lens: [130], heads: 2, kvHeads: 2, headDim: 32, mask: lambda }, 1);
    check({ lens: [97, 3], heads: 2, kvHeads: 1, headDim: 32, mask: and(causal, { op: 'not', arg: { op: 'chunked', size: 16 } }) }, 2);
    check({ lens: [90], heads: 2, kvHeads: 2, headDim: 32, mask: or(and(causal, { op: 'same_document' }), { op: 'sink', count: 2 }), docLens: [1, 33] }, 3);
    check(
      {
        lens: [70, 40],
        heads: 4,
        kvHeads: 1,
        headDim: 32,
        mask: { default: causal, groups: [{ from: 0, to: 1, mask: and(causal, { op: 'window', size: 8 }) }, { from: 3, to: 3, mask: { op: 'prefix', length: 10 } }] },
      },
      4,
    );
  });

  it(`head dim 64 (the AVX-512 6 x 64 register blocks) with partial tiles, GQA and documents (paths: ${PATHS.join(', ')})`, () => {
    check({ lens: [1, 63, 65, 130], heads: 4, kvHeads: 2, headDim: 64, mask: and(causal, { op: 'same_document' }), docLens: [1, 20, 77, 5] }, 31);
    check({ lens: [200], heads: 2, kvHeads: 1, headDim: 64, mask: { op: 'full' } }, 32);
    check({ lens: [129], heads: 2, kvHeads: 2, headDim: 128, mask: and(causal, or({ op: 'sink', count: 4 }, { op: 'window', size: 30 })) }, 33);
  });

  it('head dims 32..128 incl. odd ones, and a long sequence', () => {
    for (const headDim of [40, 48, 64, 96, 128]) check({ lens: [65], heads: 2, kvHeads: 1, headDim, mask: causal }, headDim);
    // empty sequences inside the pack, and an empty pack
    check({ lens: [0, 5, 0, 70], heads: 2, kvHeads: 2, headDim: 32, mask: causal }, 8);
    check({ lens: [0], heads: 1, kvHeads: 1, headDim: 32, mask: causal }, 8);
    check({ lens: [1000], heads: 1, kvHeads: 1, headDim: 32, mask: and(causal, { op: 'same_document' }), docLens: [300, 1, 250] }, 9, true);
  });

  it('decoding: queries are the tail of a longer key sequence', () => {
    check({ lens: [1, 5], kvExtra: [70, 64], heads: 2, kvHeads: 1, headDim: 32, mask: and(causal, { op: 'window', size: 40 }) }, 11);
    // at most 4 queries per sequence: scores and P.V read the key/value rows in place (no packing)
    check({ lens: [1, 4, 2], kvExtra: [70, 130, 0], heads: 4, kvHeads: 2, headDim: 64, mask: and(causal, { op: 'window', size: 100 }) }, 12);
    check({ lens: [1, 3], kvExtra: [64, 1], heads: 2, kvHeads: 1, headDim: 40, mask: causal }, 13);
  });

  it('score transforms: scale, temperature, softcap, ALiBi (+ distance limit), Softplus', () => {
    const base: Case = { lens: [63, 65], heads: 3, kvHeads: 1, headDim: 32, mask: causal };
    check({ ...base, score: { scale: 0.3, temperature: 0.7 } }, 21);
    check({ ...base, score: { softcap: 1.5, scale: 1 } }, 22);
    check({ ...base, score: { alibi: true } }, 23);
    check({ ...base, position: { kind: 'alibi', distanceLimit: 10 } }, 24);
    check({ ...base, score: { softplus: { power: 3, trainLength: 16 } } }, 25);
  });

  it('positions: RoPE plain, linear, NTK, YaRN, truncated; per-document restart; NoPE', () => {
    const base: Case = { lens: [65, 9], heads: 2, kvHeads: 1, headDim: 32, mask: and(causal, { op: 'same_document' }), docLens: [1, 30, 12] };
    check({ ...base, position: { kind: 'none' } }, 30);
    check({ ...base, position: { kind: 'rope' } }, 31);
    check({ ...base, position: { kind: 'rope', restartPerDocument: true, rope: { scaling: { kind: 'linear', factor: 4 } } } }, 32);
    check({ ...base, position: { kind: 'rope', rope: { base: 500, scaling: { kind: 'ntk', factor: 8 } } } }, 33);
    check({ ...base, position: { kind: 'rope', rope: { scaling: { kind: 'yarn', factor: 8, originalLength: 32 } } } }, 34);
    check({ ...base, position: { kind: 'rope', rope: { scaling: { kind: 'truncated', a: 1e-3, b: 0.05, rho: 0.01 } } } }, 35);
    // LM-Infinite: Lambda mask plus the distance limit (tiles entirely beyond, straddling, and within it).
    const lam = and(causal, or({ op: 'sink', count: 3 }, { op: 'window', size: 50 }));
    check({ lens: [200, 7], heads: 2, kvHeads: 1, headDim: 32, mask: lam, position: { kind: 'rope', distanceLimit: 50 } }, 36);
    const withLimit = build({ lens: [150], heads: 1, kvHeads: 1, headDim: 32, mask: causal, position: { kind: 'rope', distanceLimit: 10 } }, 38);
    const a = referenceAttention(withLimit).out, b = referenceAttention({ ...withLimit, position: { kind: 'rope' } }).out;
    expect(Math.max(...a.map((x, i) => Math.abs(x - b[i]!)))).toBeGreaterThan(1e-2); // the limit changes the result
    check({ lens: [150], heads: 1, kvHeads: 1, headDim: 64, mask: causal, position: { kind: 'rope', distanceLimit: 10, rope: { scaling: { kind: 'yarn', factor: 4, originalLength: 64 } } } }, 37);
  });

  it('a distance limit as two calls of the plain kernels (the CUDA path, limitMasks), against the reference', () => {
    const split: AttentionBackend = { kind: 'cpu', splitLimit: true };
    const lam = and(causal, or({ op: 'sink', count: 3 }, { op: 'window', size: 50 }));
    check({ lens: [200, 7], heads: 2, kvHeads: 1, headDim: 32, mask: lam, position: { kind: 'rope', distanceLimit: 50 } }, 36, true, split);
    check({ lens: [150], heads: 4, kvHeads: 2, headDim: 64, mask: causal, position: { kind: 'rope', distanceLimit: 10, rope: { scaling: { kind: 'yarn', factor: 4, originalLength: 64 } } } }, 37, true, split);
    // limit 1; documents (one of a single token) with positions restarting per document; a prefix-LM (pairs ahead of the query are near)
    check({ lens: [65, 9], heads: 2, kvHeads: 1, headDim: 32, mask: and(causal, { op: 'same_document' }), docLens: [1, 30, 12], position: { kind: 'rope', distanceLimit: 1, restartPerDocument: true } }, 39, true, split);
    check({ lens: [130], heads: 2, kvHeads: 2, headDim: 32, mask: { op: 'prefix', length: 20 }, position: { kind: 'rope', distanceLimit: 30 } }, 40, true, split);
  });

  it('rows that see nothing give zero output and lse = -Infinity', () => {
    const inp = build({ lens: [10], heads: 1, kvHeads: 1, headDim: 32, mask: and(causal, { op: 'not', arg: { op: 'window', size: 3 } }) }, 3);
    const f = attentionForward(inp);
    expect(f.lse[0]).toBe(-Infinity);
    expect(f.out[0]).toBe(0);
    expect(Number.isFinite(f.lse[5]!)).toBe(true);
    // Backward too (SIMD and scalar): fully masked rows (lse = -Infinity) inside partial tiles,
    // across a tile boundary, with softcap on the fused dS path.
    const notWin = and(causal, { op: 'not', arg: { op: 'window', size: 3 } });
    check({ lens: [70], heads: 2, kvHeads: 1, headDim: 32, mask: notWin }, 4);
    check({ lens: [70], heads: 1, kvHeads: 1, headDim: 32, mask: notWin, score: { softcap: 1.5 } }, 5);
  });

  it('rejects bad input with codes instead of crashing', () => {
    const inp = build({ lens: [10], heads: 2, kvHeads: 2, headDim: 32 }, 3);
    expect(() => attentionForward({ ...inp, kvHeads: 3 })).toThrow(expect.objectContaining({ code: 'LMP_E_SHAPE' }));
    expect(() => attentionForward({ ...inp, q: inp.q.subarray(1) })).toThrow(expect.objectContaining({ code: 'LMP_E_SHAPE' }));
    const fwd = nativeFn<(a: object) => unknown>('attentionForward', 'attention');
    expect(() => fwd({ q: 1 })).toThrow(expect.objectContaining({ code: 'LMP_E_ARG' }));
  });
});

describe('positions (hand-computed)', () => {
  it('ALiBi slopes', () => {
    expect(Array.from(alibiSlopes(8))).toEqual([1 / 2, 1 / 4, 1 / 8, 1 / 16, 1 / 32, 1 / 64, 1 / 128, 1 / 256]);
    // H = 6: slopes of 4 heads, then every other slope of 8 heads: 2^-1, 2^-3
    expect(Array.from(alibiSlopes(6))).toEqual([1 / 4, 1 / 16, 1 / 64, 1 / 256, 1 / 2, 1 / 8]);
  });
  it('RoPE frequencies', () => {
    const plain = ropeFrequencies(4, { base: 100 }).invFreq;
    expect(plain[1]).toBeCloseTo(0.1, 6);
    const ntk = ropeFrequencies(4, { base: 100, scaling: { kind: 'ntk', factor: 4 } }).invFreq;
    expect(ntk[1]).toBeCloseTo(1 / (100 * Math.pow(4, 4 / 2)) ** 0.5, 7); // base' = 100 * 4^(4/2)
    const lin = ropeFrequencies(4, { base: 100, scaling: { kind: 'linear', factor: 4 } }).invFreq;
    expect(lin[1]).toBeCloseTo(0.025, 7);
    const y = ropeFrequencies(64, { scaling: { kind: 'yarn', factor: 16, originalLength: 4096 } });
    expect(y.mscale).toBeCloseTo(0.1 * Math.log(16) + 1, 6);
    expect(y.invFreq[0]).toBeCloseTo(1, 6); // highest frequency: wavelength 2 pi << L, kept
    expect(y.invFreq[31]).toBeCloseTo(Math.pow(10000, -62 / 64) / 16, 9); // lowest: interpolated
    const tr = ropeFrequencies(4, { base: 100, scaling: { kind: 'truncated', a: 0.05, b: 0.5, rho: 0.2 } }).invFreq;
    expect(Array.from(tr)).toEqual([1, Math.fround(0.2)]);
  });
});

describe('backward is deterministic', () => {
  it('bit-identical gradients over repeated calls and thread counts 1..4 (dQ sums per task group, not per worker)', () => {
    // Many key tiles and sequences, so that tasks outnumber threads and scheduling varies between calls.
    const inp = build({ lens: [300, 517, 64, 1000], heads: 4, kvHeads: 2, headDim: 32, mask: and(causal, { op: 'window', size: 200 }) }, 77);
    const dout = randn(rng(78), inp.q.length);
    const f = attentionForward(inp);
    const before = native().numThreads();
    try {
      native().setNumThreads(2);
      const first = attentionBackward({ ...inp, out: f.out, lse: f.lse, dout });
      for (const threads of [2, 2, 2, 2, 2, 1, 3, 4, 2, 2]) {
        native().setNumThreads(threads);
        const g = attentionBackward({ ...inp, out: f.out, lse: f.lse, dout });
        expect(Buffer.from(g.dq.buffer).equals(Buffer.from(first.dq.buffer)), `dq with ${threads} threads`).toBe(true);
        expect(Buffer.from(g.dk.buffer).equals(Buffer.from(first.dk.buffer)), `dk with ${threads} threads`).toBe(true);
        expect(Buffer.from(g.dv.buffer).equals(Buffer.from(first.dv.buffer)), `dv with ${threads} threads`).toBe(true);
      }
    } finally {
      native().setNumThreads(before);
    }
  });
});

describe('kernelMasks of one sequence (decoding steps): shared per mask and layout', () => {
  it('the same arguments give the same result object; another length or mask its own, equal to a fresh classification', () => {
    const mask: MaskIR = { op: 'and', args: [{ op: 'causal' }, { op: 'or', args: [{ op: 'sink', count: 4 }, { op: 'window', size: 70 }] }] } as MaskIR;
    const a = kernelMasks(mask, 4, Int32Array.of(0, 1), Int32Array.of(0, 300));
    expect(kernelMasks(mask, 4, Int32Array.of(0, 1), Int32Array.of(0, 300))).toBe(a);
    const b = kernelMasks(mask, 4, Int32Array.of(0, 1), Int32Array.of(0, 301));
    expect(b).not.toBe(a);
    // a fresh classification of the same layout: two sequences, the second the layout asked for
    const two = kernelMasks(mask, 4, Int32Array.of(0, 1, 2), Int32Array.of(0, 5, 306));
    const n = b.classes.length;
    expect(Array.from(two.classes.subarray(two.classOffsets[1]!, two.classOffsets[1]! + n))).toEqual(Array.from(b.classes));
    expect(Array.from(b.classes)).not.toEqual(Array.from(kernelMasks({ op: 'causal' } as MaskIR, 4, Int32Array.of(0, 1), Int32Array.of(0, 301)).classes));
    // documents are never shared
    const ids = new Int32Array(300);
    expect(kernelMasks(mask, 4, Int32Array.of(0, 1), Int32Array.of(0, 300), ids)).not.toBe(kernelMasks(mask, 4, Int32Array.of(0, 1), Int32Array.of(0, 300), ids));
  });
});

describe('attentionForwardMany: several calls in one (batched decoding)', () => {
  it('gives each call the bits of attentionForward alone: decoding calls together, a prefill call and another head dim in turn', () => {
    const bits = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    const cases: Case[] = [
      { lens: [1], kvExtra: [70], heads: 4, kvHeads: 2, headDim: 64, mask: causal },
      { lens: [2], kvExtra: [129], heads: 4, kvHeads: 2, headDim: 64, mask: and(causal, { op: 'window', size: 40 }) },
      { lens: [1], kvExtra: [0], heads: 4, kvHeads: 2, headDim: 64, mask: causal },
      { lens: [1, 3], kvExtra: [5, 64], heads: 4, kvHeads: 2, headDim: 64, mask: causal },
    ];
    const mixed: Case[] = [...cases, { lens: [9], heads: 4, kvHeads: 2, headDim: 64, mask: causal }, { lens: [1], kvExtra: [30], heads: 2, kvHeads: 1, headDim: 32, mask: causal }];
    for (const set of [cases, mixed])
      for (const path of PATHS) {
        native().setForceScalar(path === 'scalar');
        if (path !== 'scalar') setSimdCap(path);
        try {
          const inps = set.map((c, i) => build(c, 40 + i));
          const many = attentionForwardMany(inps);
          inps.forEach((inp, i) => {
            const one = attentionForward(inp);
            expect(bits(many[i]!.out).equals(bits(one.out)), `${path} call ${i} out`).toBe(true);
            expect(bits(many[i]!.lse).equals(bits(one.lse)), `${path} call ${i} lse`).toBe(true);
          });
        } finally {
          native().setForceScalar(false);
          setSimdCap(null);
        }
      }
    expect(attentionForwardMany([])).toEqual([]);
  });
});

