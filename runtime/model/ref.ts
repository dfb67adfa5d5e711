// Plain float64 references of every layer (forward and analytic backward) and of the whole
// model's loss. Used only by tests: native kernels are checked against these, and these are
// checked against finite differences. Straightforward loops, no tricks; never fast.
import type { ModelConfig } from './config.js';

export type F64 = Float64Array;

/** C = op(A) op(B) (+ C if accumulate). A is M x K (stored K x M if ta). */
export function refGemm(ta: boolean, tb: boolean, M: number, N: number, K: number, A: ArrayLike<number>,
  B: ArrayLike<number>, C?: ArrayLike<number>, alpha = 1, beta = 0): F64 {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (ta ? A[k * M + i]! : A[i * K + k]!) * (tb ? B[j * K + k]! : B[k * N + j]!);
      out[i * N + j] = alpha * s + (C && beta !== 0 ? beta * C[i * N + j]! : 0);
    }
  return out;
}

export function refRmsnorm(x: ArrayLike<number>, w: ArrayLike<number>, rows: number, dim: number, eps: number): F64 {
  const y = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let c = 0; c < dim; c++) ss += x[r * dim + c]! ** 2;
    const rs = 1 / Math.sqrt(ss / dim + eps);
    for (let c = 0; c < dim; c++) y[r * dim + c] = x[r * dim + c]! * rs * w[c]!;
  }
  return y;
}

export function refRmsnormBackward(dy: ArrayLike<number>, x: ArrayLike<number>, w: ArrayLike<number>, rows: number,
  dim: number, eps: number): { dx: F64; dw: F64 } {
  const dx = new Float64Array(rows * dim), dw = new Float64Array(dim);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let c = 0; c < dim; c++) ss += x[r * dim + c]! ** 2;
    const rs = 1 / Math.sqrt(ss / dim + eps);
    let dot = 0;
    for (let c = 0; c < dim; c++) dot += dy[r * dim + c]! * w[c]! * x[r * dim + c]!;
    for (let c = 0; c < dim; c++) {
      dx[r * dim + c] = dy[r * dim + c]! * w[c]! * rs - (x[r * dim + c]! * dot * rs ** 3) / dim;
      dw[c]! += dy[r * dim + c]! * x[r * dim + c]! * rs;
    }
  }
  return { dx, dw };
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

export function refSwiglu(g: ArrayLike<number>, u: ArrayLike<number>): F64 {
  const h = new Float64Array(g.length);
  for (let i = 0; i < g.length; i++) h[i] = g[i]! * sigmoid(g[i]!) * u[i]!;
  return h;
}

export function refSwigluBackward(g: ArrayLike<number>, u: ArrayLike<number>, dh: ArrayLike<number>): { dg: F64; du: F64 } {
  const dg = new Float64Array(g.length), du = new Float64Array(g.length);
  for (let i = 0; i < g.length; i++) {
    const s = sigmoid(g[i]!);
    dg[i] = dh[i]! * u[i]! * (s + g[i]! * s * (1 - s));
    du[i] = dh[i]! * g[i]! * s;
  }
  return { dg, du };
}

/** Per-row weighted CE loss and dlogits = weight*scale*(softmax - onehot). targets < 0 ignored. */
export function refCrossEntropy(logits: ArrayLike<number>, rows: number, vocab: number, targets: ArrayLike<number>,
  weight: ArrayLike<number>, scale: number): { loss: F64; dlogits: F64 } {
  const loss = new Float64Array(rows), d = new Float64Array(rows * vocab);
  for (let r = 0; r < rows; r++) {
    const t = targets[r]!;
    const w = t < 0 ? 0 : weight[r]!;
    let m = -Infinity;
    for (let j = 0; j < vocab; j++) m = Math.max(m, logits[r * vocab + j]!);
    let s = 0;
    for (let j = 0; j < vocab; j++) s += Math.exp(logits[r * vocab + j]! - m);
    const lse = m + Math.log(s);
    loss[r] = w === 0 ? 0 : w * (lse - logits[r * vocab + t]!);
    if (w !== 0) {
      for (let j = 0; j < vocab; j++) d[r * vocab + j] = w * scale * Math.exp(logits[r * vocab + j]! - lse);
      d[r * vocab + t]! -= w * scale;
    }
  }
  return { loss, dlogits: d };
}

/** HF rotate_half RoPE of x [n, heads, hd]; inverse rotates by -angle. */
export function refRope(x: ArrayLike<number>, n: number, heads: number, hd: number, pos: ArrayLike<number>,
  theta: number, inverse = false): F64 {
  const y = Float64Array.from(x as ArrayLike<number>);
  const half = hd / 2;
  for (let t = 0; t < n; t++)
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < half; i++) {
        const a = pos[t]! * Math.pow(theta, (-2 * i) / hd);
        const c = Math.cos(a), s = inverse ? -Math.sin(a) : Math.sin(a);
        const o = (t * heads + h) * hd;
        const x1 = x[o + i]!, x2 = x[o + i + half]!;
        y[o + i] = x1 * c - x2 * s;
        y[o + i + half] = x2 * c + x1 * s;
      }
  return y;
}

export interface RefAttnShape {
  heads: number;
  kvHeads: number;
  headDim: number;
  cuQ: ArrayLike<number>;
  cuK: ArrayLike<number>;
  /** per sequence, a dense Lq x Lk block, concatenated */
  mask: ArrayLike<number>;
  scale: number;
  /** per query head, a dense mask laid out like `mask` (overrides it; forward only) */
  headMasks?: ArrayLike<number>[];
  /** softcap c: s -> c tanh(s / c) (forward only) */
  softcap?: number;
  /** ALiBi slope per query head: s -= slope * |qpos - kvpos| (forward only) */
  alibi?: ArrayLike<number>;
}

function maskOffsets(s: RefAttnShape): number[] {
  const off = [0];
  for (let i = 0; i + 1 < s.cuQ.length; i++) off.push(off[i]! + (s.cuQ[i + 1]! - s.cuQ[i]!) * (s.cuK[i + 1]! - s.cuK[i]!));
  return off;
}

export function refAttention(s: RefAttnShape, q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>): { out: F64; lse: F64 } {
  const { heads: H, kvHeads: KH, headDim: D } = s;
  const tq = q.length / (H * D);
  const out = new Float64Array(tq * H * D), lse = new Float64Array(tq * H).fill(-Infinity);
  const off = maskOffsets(s);
  for (let sq = 0; sq + 1 < s.cuQ.length; sq++) {
    const q0 = s.cuQ[sq]!, lq = s.cuQ[sq + 1]! - q0, k0 = s.cuK[sq]!, lk = s.cuK[sq + 1]! - k0;
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / (H / KH));
      for (let i = 0; i < lq; i++) {
        const sc = new Float64Array(lk);
        let m = -Infinity;
        const mask = s.headMasks ? s.headMasks[h]! : s.mask;
        for (let j = 0; j < lk; j++) {
          if (!mask[off[sq]! + i * lk + j]) { sc[j] = -Infinity; continue; }
          let d = 0;
          for (let e = 0; e < D; e++) d += q[((q0 + i) * H + h) * D + e]! * k[((k0 + j) * KH + g) * D + e]!;
          sc[j] = d * s.scale;
          if (s.softcap) sc[j] = s.softcap * Math.tanh(sc[j]! / s.softcap);
          if (s.alibi) sc[j]! -= s.alibi[h]! * Math.abs(lk - lq + i - j);
          m = Math.max(m, sc[j]!);
        }
        if (m === -Infinity) continue;
        let sum = 0;
        for (let j = 0; j < lk; j++) sum += sc[j] === -Infinity ? 0 : Math.exp(sc[j]! - m);
        lse[(q0 + i) * H + h] = m + Math.log(sum);
        for (let j = 0; j < lk; j++) {
          if (sc[j] === -Infinity) continue;
          const p = Math.exp(sc[j]! - m) / sum;
          for (let e = 0; e < D; e++) out[((q0 + i) * H + h) * D + e]! += p * v[((k0 + j) * KH + g) * D + e]!;
        }
      }
    }
  }
  return { out, lse };
}

export function refAttentionBackward(s: RefAttnShape, q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>,
  dout: ArrayLike<number>): { dq: F64; dk: F64; dv: F64 } {
  const { heads: H, kvHeads: KH, headDim: D } = s;
  const dq = new Float64Array(q.length), dk = new Float64Array(k.length), dv = new Float64Array(v.length);
  const off = maskOffsets(s);
  for (let sq = 0; sq + 1 < s.cuQ.length; sq++) {
    const q0 = s.cuQ[sq]!, lq = s.cuQ[sq + 1]! - q0, k0 = s.cuK[sq]!, lk = s.cuK[sq + 1]! - k0;
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / (H / KH));
      for (let i = 0; i < lq; i++) {
        const qi = ((q0 + i) * H + h) * D;
        const p = new Float64Array(lk);
        let m = -Infinity;
        for (let j = 0; j < lk; j++) {
          if (!s.mask[off[sq]! + i * lk + j]) { p[j] = -Infinity; continue; }
          let d = 0;
          for (let e = 0; e < D; e++) d += q[qi + e]! * k[((k0 + j) * KH + g) * D + e]!;
          p[j] = d * s.scale;
          m = Math.max(m, p[j]!);
        }
        if (m === -Infinity) continue;
        let sum = 0;
        for (let j = 0; j < lk; j++) sum += p[j] === -Infinity ? 0 : Math.exp(p[j]! - m);
        for (let j = 0; j < lk; j++) p[j] = p[j] === -Infinity ? 0 : Math.exp(p[j]! - m) / sum;
        const dp = new Float64Array(lk);
        let dsum = 0;
        for (let j = 0; j < lk; j++) {
          let d = 0;
          for (let e = 0; e < D; e++) d += dout[qi + e]! * v[((k0 + j) * KH + g) * D + e]!;
          dp[j] = d;
          dsum += p[j]! * d;
        }
        for (let j = 0; j < lk; j++) {
          const ds = p[j]! * (dp[j]! - dsum) * s.scale;
          const kj = ((k0 + j) * KH + g) * D;
          for (let e = 0; e < D; e++) {
            dq[qi + e]! += ds * k[kj + e]!;
            dk[kj + e]! += ds * q[qi + e]!;
            dv[kj + e]! += p[j]! * dout[qi + e]!;
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}

/** AdamW reference (one step), returns new p, m, v. */
export function refAdamw(p: ArrayLike<number>, g: ArrayLike<number>, m: ArrayLike<number>, v: ArrayLike<number>,
  lr: number, b1: number, b2: number, eps: number, wd: number, step: number, gs: number): { p: F64; m: F64; v: F64 } {
  const n = p.length, P = new Float64Array(n), M = new Float64Array(n), V = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const gi = g[i]! * gs;
    M[i] = b1 * m[i]! + (1 - b1) * gi;
    V[i] = b2 * v[i]! + (1 - b2) * gi * gi;
    const mh = M[i]! / (1 - b1 ** step), vh = V[i]! / (1 - b2 ** step);
    P[i] = p[i]! - lr * wd * p[i]! - (lr * mh) / (Math.sqrt(vh) + eps);
  }
  return { p: P, m: M, v: V };
}

// ------------------------------------------------------------------ whole model (float64)

export interface RefBatch {
  tokens: ArrayLike<number>;
  targets: ArrayLike<number>;
  weight: ArrayLike<number>;
  positions: ArrayLike<number>;
  cuSeqlens: ArrayLike<number>;
  /** dense per-sequence masks concatenated (see RefAttnShape.mask) */
  mask: ArrayLike<number>;
}

/** Attention variants of the float64 whole-model reference (default: RoPE, plain softmax). */
export interface RefModelAttention {
  /** rope: positions divided by `linear` (position interpolation); none: NoPE (also with alibi) */
  position?: { kind: 'rope'; linear?: number } | { kind: 'none' };
  headMasks?: ArrayLike<number>[];
  softcap?: number;
  temperature?: number;
  alibi?: ArrayLike<number>;
}

/** Loss = sum_r weight[r] * CE(r) * scale, over a float64 copy of every parameter (HF names). */
export function refModelLoss(cfg: ModelConfig, params: Map<string, F64>, b: RefBatch, scale: number, att: RefModelAttention = {}): number {
  const { dim, heads, kvHeads, ffn, vocab, normEps } = cfg;
  const hd = dim / heads, T = b.tokens.length;
  const P = (n: string): F64 => {
    const p = params.get(n);
    if (!p) throw new Error('missing ' + n);
    return p;
  };
  const emb = P('model.embed_tokens.weight');
  let x = new Float64Array(T * dim);
  for (let t = 0; t < T; t++) for (let c = 0; c < dim; c++) x[t * dim + c] = emb[b.tokens[t]! * dim + c]!;
  const shape: RefAttnShape = {
    heads, kvHeads, headDim: hd, cuQ: b.cuSeqlens, cuK: b.cuSeqlens, mask: b.mask, scale: 1 / Math.sqrt(hd) / (att.temperature ?? 1),
    ...(att.headMasks ? { headMasks: att.headMasks } : {}), ...(att.softcap ? { softcap: att.softcap } : {}), ...(att.alibi ? { alibi: att.alibi } : {}),
  };
  const pos = att.position ?? { kind: 'rope' };
  const positions = pos.kind === 'rope' ? Array.from(b.positions, (p) => p / (pos.linear ?? 1)) : undefined;
  const rope = (x: F64, heads: number): F64 => (positions ? refRope(x, T, heads, hd, positions, cfg.ropeTheta) : x);
  for (let l = 0; l < cfg.layers; l++) {
    const pre = `model.layers.${l}.`;
    const h1 = refRmsnorm(x, P(pre + 'input_layernorm.weight'), T, dim, normEps);
    const q = rope(refGemm(false, true, T, heads * hd, dim, h1, P(pre + 'self_attn.q_proj.weight')), heads);
    const k = rope(refGemm(false, true, T, kvHeads * hd, dim, h1, P(pre + 'self_attn.k_proj.weight')), kvHeads);
    const v = refGemm(false, true, T, kvHeads * hd, dim, h1, P(pre + 'self_attn.v_proj.weight'));
    const { out } = refAttention(shape, q, k, v);
    const a = refGemm(false, true, T, dim, heads * hd, out, P(pre + 'self_attn.o_proj.weight'));
    const x2 = x.map((xv, i) => xv + a[i]!);
    const h2 = refRmsnorm(x2, P(pre + 'post_attention_layernorm.weight'), T, dim, normEps);
    const g = refGemm(false, true, T, ffn, dim, h2, P(pre + 'mlp.gate_proj.weight'));
    const u = refGemm(false, true, T, ffn, dim, h2, P(pre + 'mlp.up_proj.weight'));
    const y = refGemm(false, true, T, dim, ffn, refSwiglu(g, u), P(pre + 'mlp.down_proj.weight'));
    x = x2.map((xv, i) => xv + y[i]!);
  }
  const hf = refRmsnorm(x, P('model.norm.weight'), T, dim, normEps);
  const head = cfg.tieEmbeddings ? emb : P('lm_head.weight');
  const logits = refGemm(false, true, T, vocab, dim, hf, head);
  const { loss } = refCrossEntropy(logits, T, vocab, b.targets, b.weight, 1);
  let s = 0;
  for (let r = 0; r < T; r++) s += loss[r]!;
  return s * scale;
}
