// A plain float64 dense attention (forward and analytic backward), used by tests as the
// independent reference for the fused native kernels. It evaluates the mask per element with
// maskAt (runtime/mask/eval.ts), never the block classifier, and applies RoPE in float64.
import { maskAt } from '../mask/eval.js';
import type { AttentionMaskIR, MaskIR } from '../mask/ir.js';
import { maskForHead } from '../mask/classify.js';
import { alibiSlopes, positionIds, ropeFrequencies } from './positions.js';
import type { AttentionInput } from './index.js';

export interface RefOutput {
  out: Float64Array;
  lse: Float64Array;
}
export interface RefGrads {
  dq: Float64Array;
  dk: Float64Array;
  dv: Float64Array;
}

type Arr = ArrayLike<number>;

function rope64(x: Arr, T: number, H: number, D: number, pos: Arr, inv: Arr, ms: number, inverse: boolean): Float64Array {
  const out = new Float64Array(T * H * D);
  const half = Math.floor(D / 2);
  for (let t = 0; t < T; t++)
    for (let h = 0; h < H; h++) {
      const b = (t * H + h) * D;
      for (let i = 0; i < half; i++) {
        const ang = pos[t]! * inv[i]!;
        const c = Math.cos(ang) * ms, s = (inverse ? -Math.sin(ang) : Math.sin(ang)) * ms;
        const a = x[b + i]!, e = x[b + i + half]!;
        out[b + i] = a * c - e * s;
        out[b + i + half] = e * c + a * s;
      }
      if (D % 2) out[b + D - 1] = x[b + D - 1]! * ms;
    }
  return out;
}

const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Forward and (when dout is given) backward of dense attention in float64. */
export function referenceAttention(inp: AttentionInput, dout?: Arr): RefOutput & Partial<RefGrads> {
  const { heads: H, headDim: D } = inp;
  const Hkv = inp.kvHeads ?? H;
  const Tq = inp.q.length / (H * D), Tk = inp.k.length / (Hkv * D);
  const cuQ = inp.cuSeqlens ?? Int32Array.of(0, Tq);
  const cuK = inp.cuSeqlensK ?? cuQ;
  const mask = inp.mask;
  const attn: AttentionMaskIR = mask === undefined ? { default: { op: 'full' }, groups: [] } : 'groups' in mask ? mask : { default: mask as MaskIR, groups: [] };
  const sc = inp.score ?? {};
  const scale = (sc.scale ?? 1 / Math.sqrt(D)) / (sc.temperature ?? 1);
  const cap = sc.softcap ?? 0;
  const pos = inp.position ?? { kind: 'none' };
  let slopes: ArrayLike<number> | undefined = sc.alibi === true ? alibiSlopes(H) : sc.alibi instanceof Float32Array ? sc.alibi : undefined;
  let limit = Infinity;
  if (pos.kind === 'alibi') {
    slopes = slopes ?? alibiSlopes(H);
    if (pos.distanceLimit) limit = pos.distanceLimit;
  }
  let q: Arr = inp.q, k: Arr = inp.k;
  let rope: { qPos: Float32Array; kPos: Float32Array; inv: Float32Array; ms: number } | undefined;
  // LM-Infinite: q rotated at the limit and k unrotated, used for pairs beyond the limit.
  let far: { L: number; q: Float64Array; k: Float64Array } | undefined;
  if (pos.kind === 'rope') {
    const { invFreq, mscale } = ropeFrequencies(D, pos.rope);
    const kPos = positionIds(cuK, inp.docIds, pos.restartPerDocument ?? false);
    const qPos = new Float32Array(Tq);
    for (let s = 0; s + 1 < cuQ.length; s++) {
      const lq = cuQ[s + 1]! - cuQ[s]!;
      for (let i = 0; i < lq; i++) qPos[cuQ[s]! + i] = kPos[cuK[s + 1]! - lq + i]!;
    }
    if (pos.distanceLimit) {
      const L = pos.distanceLimit;
      far = {
        L,
        q: rope64(q, Tq, H, D, new Float64Array(Tq).fill(L), invFreq, mscale, false),
        k: rope64(k, Tk, Hkv, D, new Float64Array(Tk), invFreq, mscale, false),
      };
    }
    q = rope64(q, Tq, H, D, qPos, invFreq, mscale, false);
    k = rope64(k, Tk, Hkv, D, kPos, invFreq, mscale, false);
    rope = { qPos, kPos, inv: invFreq, ms: mscale };
  }
  const power = sc.softplus?.power ?? 0;
  const logBase = sc.softplus ? Math.log(sc.softplus.trainLength) : 1;
  const v = inp.v;
  const out = new Float64Array(Tq * H * D);
  const lse = new Float64Array(Tq * H);
  const grads: RefGrads | undefined = dout ? { dq: new Float64Array(Tq * H * D), dk: new Float64Array(Tk * Hkv * D), dv: new Float64Array(Tk * Hkv * D) } : undefined;
  const farGrads = far && dout ? { dq: new Float64Array(Tq * H * D), dk: new Float64Array(Tk * Hkv * D) } : undefined;
  const rep = H / Hkv;
  for (let s = 0; s + 1 < cuQ.length; s++) {
    const qs = cuQ[s]!, lq = cuQ[s + 1]! - qs, ks = cuK[s]!, lk = cuK[s + 1]! - ks, qoff = lk - lq;
    const doc = inp.docIds ? (p: number) => inp.docIds![ks + p]! : undefined;
    for (let h = 0; h < H; h++) {
      const m = maskForHead(attn, h);
      const hk = Math.floor(h / rep);
      for (let i = 0; i < lq; i++) {
        const qp = qoff + i;
        const qb = ((qs + i) * H + h) * D;
        const lam = power > 0 ? Math.max(1, Math.log(qp + 1) / logBase) : 1;
        const z = new Float64Array(lk), t = new Float64Array(lk), vis = new Uint8Array(lk);
        let mx = -Infinity;
        for (let j = 0; j < lk; j++) {
          if (!maskAt(m, qp, j, doc)) continue;
          vis[j] = 1;
          const kb = ((ks + j) * Hkv + hk) * D;
          let dot = 0;
          if (far && qp - j > far.L) for (let d = 0; d < D; d++) dot += far.q[qb + d]! * far.k[kb + d]!;
          else for (let d = 0; d < D; d++) dot += q[qb + d]! * k[kb + d]!;
          let x = scale * dot;
          if (cap > 0) {
            t[j] = Math.tanh(x / cap);
            x = cap * t[j]!;
          }
          if (slopes) x -= slopes[h]! * Math.min(Math.abs(qp - j), limit);
          x *= lam;
          z[j] = x;
          if (x > mx) mx = x;
        }
        const p = new Float64Array(lk);
        let sum = 0;
        for (let j = 0; j < lk; j++) if (vis[j]) sum += p[j] = power > 0 ? Math.pow(softplus(z[j]!), power) : Math.exp(z[j]! - mx);
        const li = (qs + i) * H + h;
        if (sum === 0) {
          lse[li] = -Infinity;
          continue;
        }
        lse[li] = power > 0 ? Math.log(sum) : mx + Math.log(sum);
        for (let j = 0; j < lk; j++) {
          if (!vis[j]) continue;
          p[j]! /= sum;
          const vb = ((ks + j) * Hkv + hk) * D;
          for (let d = 0; d < D; d++) out[qb + d]! += p[j]! * v[vb + d]!;
        }
        if (!grads || !dout) continue;
        let delta = 0;
        for (let d = 0; d < D; d++) delta += dout[qb + d]! * out[qb + d]!;
        for (let j = 0; j < lk; j++) {
          if (!vis[j]) continue;
          const kb = ((ks + j) * Hkv + hk) * D;
          let dp = 0;
          for (let d = 0; d < D; d++) {
            dp += dout[qb + d]! * v[kb + d]!;
            grads.dv[kb + d]! += p[j]! * dout[qb + d]!;
          }
          let dz = p[j]! * (dp - delta);
          if (power > 0) dz *= (power * sigmoid(z[j]!)) / softplus(z[j]!);
          let ds = dz * lam;
          if (cap > 0) ds *= 1 - t[j]! * t[j]!;
          if (far && farGrads && qp - j > far.L) {
            for (let d = 0; d < D; d++) {
              farGrads.dq[qb + d]! += scale * ds * far.k[kb + d]!;
              farGrads.dk[kb + d]! += scale * ds * far.q[qb + d]!;
            }
          } else {
            for (let d = 0; d < D; d++) {
              grads.dq[qb + d]! += scale * ds * k[kb + d]!;
              grads.dk[kb + d]! += scale * ds * q[qb + d]!;
            }
          }
        }
      }
    }
  }
  if (grads && rope) {
    grads.dq = rope64(grads.dq, Tq, H, D, rope.qPos, rope.inv, rope.ms, true);
    grads.dk = rope64(grads.dk, Tk, Hkv, D, rope.kPos, rope.inv, rope.ms, true);
    if (far && farGrads) {
      const dqf = rope64(farGrads.dq, Tq, H, D, new Float64Array(Tq).fill(far.L), rope.inv, rope.ms, true);
      const dkf = rope64(farGrads.dk, Tk, Hkv, D, new Float64Array(Tk), rope.inv, rope.ms, true);
      for (let i = 0; i < dqf.length; i++) grads.dq[i]! += dqf[i]!;
      for (let i = 0; i < dkf.length; i++) grads.dk[i]! += dkf[i]!;
    }
  }
  return { out, lse, ...grads };
}
