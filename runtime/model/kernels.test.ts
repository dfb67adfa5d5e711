import { afterEach, describe, expect, it } from 'vitest';
import { kernels } from './kernels.js';
import {
  refAdamw, refAttention, refAttentionBackward, refCrossEntropy, refGemm, refRmsnorm, refRmsnormBackward, refRope,
  refSwiglu, refSwigluBackward, type RefAttnShape,
} from './ref.js';
import { dot, expectClose, fd, randF32, rng } from './testutil.js';

const K = kernels();
const PATHS = [false, true] as const; // force_scalar off (SIMD) and on

afterEach(() => K.setForceScalar(false));

describe('gemm', () => {
  const sizes: [number, number, number][] = [[1, 1, 1], [3, 37, 100], [4, 40, 1000], [2, 5, 16], [7, 13, 5], [6, 16, 8], [37, 70, 300], [100, 33, 17], [5, 129, 513], [130, 3, 64]];
  for (const scalar of PATHS)
    it(`matches a float64 reference for every transpose, alpha/beta (${scalar ? 'scalar' : 'simd'})`, () => {
      K.setForceScalar(scalar);
      const r = rng(1);
      for (const [M, N, Kd] of sizes)
        for (const ta of [false, true])
          for (const tb of [false, true])
            for (const [alpha, beta] of [[1, 0], [0.5, 1], [-2, 0.25]] as const) {
              const A = randF32(M * Kd, r), B = randF32(Kd * N, r), C0 = randF32(M * N, r);
              const C = C0.slice();
              K.gemm(ta, tb, M, N, Kd, alpha, A, ta ? M : Kd, B, tb ? Kd : N, beta, C, N);
              const ref = refGemm(ta, tb, M, N, Kd, A, B, C0, alpha, beta);
              expectClose(C, ref, 1e-4 * Math.sqrt(Kd), 1e-4, `gemm ${M}x${N}x${Kd} ta=${ta} tb=${tb}`);
            }
    });

  it('honours leading dimensions (strided views) and leaves other columns alone', () => {
    const r = rng(2);
    const M = 9, N = 5, Kd = 7, lda = 11, ldb = 8, ldc = 6;
    const A = randF32(M * lda, r), B = randF32(Kd * ldb, r), C = randF32(M * ldc, r);
    const C0 = C.slice();
    K.gemm(false, false, M, N, Kd, 1, A, lda, B, ldb, 0, C, ldc);
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < Kd; k++) s += A[i * lda + k]! * B[k * ldb + j]!;
        expect(Math.abs(C[i * ldc + j]! - s)).toBeLessThan(1e-5);
      }
      expect(C[i * ldc + N]).toBe(C0[i * ldc + N]);
    }
  });

  it('gives bit-identical results on 1 and 2 threads', () => {
    const r = rng(3);
    const M = 200, N = 150, Kd = 600;
    const A = randF32(M * Kd, r), B = randF32(Kd * N, r);
    const prev = K.numThreads();
    const run = (t: number): Float32Array => {
      K.setNumThreads(t);
      const C = new Float32Array(M * N);
      K.gemm(false, true, M, N, Kd, 1, A, Kd, B.subarray(0, N * Kd), Kd, 0, C, N);
      return C;
    };
    const a = run(1), b = run(2);
    K.setNumThreads(prev);
    expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer))).toBe(0);
  });

  it('rejects bad shapes with LMP_E_SHAPE', () => {
    expect(() => K.gemm(false, false, 4, 4, 4, 1, new Float32Array(15), 4, new Float32Array(16), 4, 0, new Float32Array(16), 4))
      .toThrow(expect.objectContaining({ code: 'LMP_E_SHAPE' }));
    expect(() => K.gemm(false, false, 4, 4, 4, 1, new Float32Array(16), 3, new Float32Array(16), 4, 0, new Float32Array(16), 4))
      .toThrow(expect.objectContaining({ code: 'LMP_E_SHAPE' }));
  });
});

describe('layer references agree with finite differences (float64, tiny shapes)', () => {
  const r = rng(10);
  const f64 = (n: number): Float64Array => Float64Array.from(randF32(n, r));
  it('rmsnorm', () => {
    const rows = 3, dim = 5, eps = 1e-5;
    const x = f64(rows * dim), w = f64(dim), dy = f64(rows * dim);
    const { dx, dw } = refRmsnormBackward(dy, x, w, rows, dim, eps);
    const L = (): number => dot(dy, refRmsnorm(x, w, rows, dim, eps));
    for (let i = 0; i < x.length; i++) expect(Math.abs(fd(L, x, i) - dx[i]!)).toBeLessThan(1e-7);
    for (let i = 0; i < w.length; i++) expect(Math.abs(fd(L, w, i) - dw[i]!)).toBeLessThan(1e-7);
  });
  it('swiglu', () => {
    const g = f64(7), u = f64(7), dh = f64(7);
    const { dg, du } = refSwigluBackward(g, u, dh);
    const L = (): number => dot(dh, refSwiglu(g, u));
    for (let i = 0; i < 7; i++) {
      expect(Math.abs(fd(L, g, i) - dg[i]!)).toBeLessThan(1e-8);
      expect(Math.abs(fd(L, u, i) - du[i]!)).toBeLessThan(1e-8);
    }
  });
  it('cross-entropy with ignore and weights', () => {
    const rows = 4, vocab = 6;
    const logits = f64(rows * vocab).map((v) => v * 3);
    const targets = [2, -1, 5, 0], weight = [1, 1, 0.5, 0];
    const { dlogits } = refCrossEntropy(logits, rows, vocab, targets, weight, 0.7);
    const L = (): number => refCrossEntropy(logits, rows, vocab, targets, weight, 1).loss.reduce((a, b) => a + b, 0) * 0.7;
    for (let i = 0; i < logits.length; i++) expect(Math.abs(fd(L, logits, i) - dlogits[i]!)).toBeLessThan(1e-8);
    // hand-computed: uniform logits -> loss log(vocab)
    const u = refCrossEntropy(new Float64Array(vocab), 1, vocab, [3], [1], 1);
    expect(u.loss[0]).toBeCloseTo(Math.log(vocab), 12);
  });
  it('rope backward is the inverse rotation', () => {
    const n = 3, heads = 2, hd = 4, pos = [0, 5, 2];
    const x = f64(n * heads * hd), dy = f64(n * heads * hd);
    const dx = refRope(dy, n, heads, hd, pos, 100, true);
    const L = (): number => dot(dy, refRope(x, n, heads, hd, pos, 100));
    for (let i = 0; i < x.length; i++) expect(Math.abs(fd(L, x, i) - dx[i]!)).toBeLessThan(1e-8);
  });
  it('attention (GQA, two sequences, causal mask)', () => {
    const H = 4, KH = 2, D = 3, cu = [0, 3, 5];
    const mask: number[] = [];
    for (const L of [3, 2]) for (let i = 0; i < L; i++) for (let j = 0; j < L; j++) mask.push(j <= i ? 1 : 0);
    const s: RefAttnShape = { heads: H, kvHeads: KH, headDim: D, cuQ: cu, cuK: cu, mask, scale: 0.6 };
    const q = f64(5 * H * D), k = f64(5 * KH * D), v = f64(5 * KH * D), dout = f64(5 * H * D);
    const { dq, dk, dv } = refAttentionBackward(s, q, k, v, dout);
    const L = (): number => dot(dout, refAttention(s, q, k, v).out);
    for (let i = 0; i < q.length; i++) expect(Math.abs(fd(L, q, i) - dq[i]!)).toBeLessThan(1e-8);
    for (let i = 0; i < k.length; i++) expect(Math.abs(fd(L, k, i) - dk[i]!)).toBeLessThan(1e-8);
    for (let i = 0; i < v.length; i++) expect(Math.abs(fd(L, v, i) - dv[i]!)).toBeLessThan(1e-8);
  });
});

describe('native layers match the float64 references', () => {
  for (const scalar of PATHS) {
    const tag = scalar ? 'scalar' : 'simd';
    it(`embedding gather / scatter-add (${tag})`, () => {
      K.setForceScalar(scalar);
      const r = rng(20);
      const V = 13, D = 37, T = 29;
      const table = randF32(V * D, r), tokens = Int32Array.from({ length: T }, () => Math.floor(r() * V));
      const out = new Float32Array(T * D);
      K.embeddingForward(table, V, D, tokens, out);
      for (let t = 0; t < T; t++) for (let c = 0; c < D; c++) expect(out[t * D + c]).toBe(table[tokens[t]! * D + c]);
      const dout = randF32(T * D, r), dtab = randF32(V * D, r), ref = Float64Array.from(dtab);
      K.embeddingBackward(dout, tokens, V, D, dtab);
      for (let t = 0; t < T; t++) for (let c = 0; c < D; c++) ref[tokens[t]! * D + c]! += dout[t * D + c]!;
      expectClose(dtab, ref, 1e-5, 1e-5, 'embedding backward');
      expect(() => K.embeddingForward(table, V, D, Int32Array.of(V), new Float32Array(D))).toThrow(expect.objectContaining({ code: 'LMP_E_TOKEN' }));
    });
    it(`rmsnorm forward/backward (${tag})`, () => {
      K.setForceScalar(scalar);
      const r = rng(21);
      const rows = 19, dim = 67, eps = 1e-5;
      const x = randF32(rows * dim, r, 3), w = randF32(dim, r), dy = randF32(rows * dim, r);
      const y = new Float32Array(rows * dim), rstd = new Float32Array(rows);
      K.rmsnormForward(x, w, rows, dim, eps, y, rstd);
      expectClose(y, refRmsnorm(x, w, rows, dim, eps), 1e-5, 1e-5, 'rmsnorm fwd');
      const dx = randF32(rows * dim, r), dx0 = Float64Array.from(dx), dw = new Float32Array(dim);
      K.rmsnormBackward(dy, x, w, rstd, rows, dim, dx, true, dw);
      const ref = refRmsnormBackward(dy, x, w, rows, dim, eps);
      expectClose(dx, ref.dx.map((v, i) => v + dx0[i]!), 1e-5, 1e-4, 'rmsnorm dx');
      expectClose(dw, ref.dw, 1e-4, 1e-4, 'rmsnorm dw');
    });
    it(`swiglu (${tag})`, () => {
      K.setForceScalar(scalar);
      const r = rng(22);
      const n = 1001;
      const g = randF32(n, r, 6), u = randF32(n, r), dh = randF32(n, r);
      const h = new Float32Array(n), dg = new Float32Array(n), du = new Float32Array(n);
      K.swigluForward(g, u, h);
      expectClose(h, refSwiglu(g, u), 1e-6, 1e-5, 'swiglu');
      K.swigluBackward(g, u, dh, dg, du);
      const ref = refSwigluBackward(g, u, dh);
      expectClose(dg, ref.dg, 1e-6, 1e-5, 'swiglu dg');
      expectClose(du, ref.du, 1e-6, 1e-5, 'swiglu du');
    });
    it(`fused cross-entropy with loss mask (${tag})`, () => {
      K.setForceScalar(scalar);
      const r = rng(23);
      const rows = 23, V = 131;
      const logits = randF32(rows * V, r, 8);
      const targets = Int32Array.from({ length: rows }, (_, i) => (i % 5 === 4 ? -1 : Math.floor(r() * V)));
      const weight = Float32Array.from({ length: rows }, (_, i) => (i % 7 === 3 ? 0 : 1));
      const loss = new Float32Array(rows), d = new Float32Array(rows * V);
      K.crossEntropy(logits, rows, V, targets, weight, 0.1, loss, d);
      const ref = refCrossEntropy(logits, rows, V, targets, weight, 0.1);
      expectClose(loss, ref.loss, 1e-5, 1e-5, 'ce loss');
      expectClose(d, ref.dlogits, 1e-7, 1e-5, 'ce dlogits');
      // in place (dlogits aliases logits)
      K.crossEntropy(logits, rows, V, targets, weight, 0.1, loss, logits);
      expectClose(logits, ref.dlogits, 1e-7, 1e-5, 'ce in place');
    });
    it(`rope forward and inverse (${tag})`, () => {
      K.setForceScalar(scalar);
      const r = rng(24);
      const n = 11, H = 3, hd = 10;
      const pos = Int32Array.from({ length: n }, () => Math.floor(r() * 5000));
      const x = randF32(n * H * hd, r), y = x.slice();
      K.rope(y, n, H, hd, pos, 10000, false);
      expectClose(y, refRope(x, n, H, hd, pos, 10000), 1e-5, 1e-5, 'rope');
      const z = x.slice();
      K.rope(z, n, H, hd, pos, 10000, true);
      expectClose(z, refRope(x, n, H, hd, pos, 10000, true), 1e-5, 1e-5, 'rope inverse');
    });
    it(`adamw step and sum of squares (${tag})`, () => {
      K.setForceScalar(scalar);
      const r = rng(25);
      const n = 1234;
      const p = randF32(n, r), g = randF32(n, r), m = randF32(n, r, 0.1), v = randF32(n, r, 0.01).map(Math.abs);
      const ref = refAdamw(p, g, m, v, 1e-2, 0.9, 0.95, 1e-8, 0.1, 3, 0.5);
      K.adamw(p, g, m, v, 1e-2, 0.9, 0.95, 1e-8, 0.1, 3, 0.5);
      expectClose(p, ref.p, 1e-6, 1e-5, 'adamw p');
      expectClose(m, ref.m, 1e-7, 1e-5, 'adamw m');
      expectClose(v, ref.v, 1e-9, 1e-5, 'adamw v');
      expect(K.sumSquares(g)).toBeCloseTo(dot(g, g), 8);
    });
    it(`attention forward/backward, GQA, packed sequences, causal & same-document (${tag})`, () => {
      K.setForceScalar(scalar);
      const r = rng(26);
      const H = 6, KH = 2, D = 8, lens = [13, 1, 20];
      const cu = Int32Array.from([0, 13, 14, 34]);
      const T = 34;
      const doc = Int32Array.from({ length: T }, (_, t) => (t < 13 ? (t < 6 ? 0 : 1) : t < 14 ? 2 : 3));
      const mask: number[] = [];
      lens.forEach((L, s) => {
        for (let i = 0; i < L; i++) for (let j = 0; j < L; j++) mask.push(j <= i && doc[cu[s]! + i] === doc[cu[s]! + j] ? 1 : 0);
      });
      const m8 = Uint8Array.from(mask);
      const q = randF32(T * H * D, r, 2), k = randF32(T * KH * D, r, 2), v = randF32(T * KH * D, r), dout = randF32(T * H * D, r);
      const out = new Float32Array(T * H * D), lse = new Float32Array(T * H);
      K.attentionForward(q, k, v, H, KH, D, cu, cu, m8, 1 / Math.sqrt(D), out, lse);
      const s: RefAttnShape = { heads: H, kvHeads: KH, headDim: D, cuQ: cu, cuK: cu, mask, scale: 1 / Math.sqrt(D) };
      const ref = refAttention(s, q, k, v);
      expectClose(out, ref.out, 1e-5, 1e-4, 'attn out');
      expectClose(lse, ref.lse, 1e-5, 1e-5, 'attn lse');
      const dq = new Float32Array(q.length), dk = new Float32Array(k.length), dv = new Float32Array(v.length);
      K.attentionBackward(q, k, v, out, lse, dout, H, KH, D, cu, cu, m8, 1 / Math.sqrt(D), dq, dk, dv);
      const rb = refAttentionBackward(s, q, k, v, dout);
      expectClose(dq, rb.dq, 1e-4, 1e-3, 'attn dq');
      expectClose(dk, rb.dk, 1e-4, 1e-3, 'attn dk');
      expectClose(dv, rb.dv, 1e-4, 1e-3, 'attn dv');
      expect(() => K.attentionForward(q, k, v, H, KH, D, cu, cu, m8.subarray(1), 1, out, lse)).toThrow(expect.objectContaining({ code: 'LMP_E_SHAPE' }));
    });
  }
});
