// The attention seam of the model. The model computes q/k/v (RoPE already applied from the
// batch's position ids) and hands them to an AttentionOp; the op owns masking and softmax.
// Layouts: q [Tq, heads, headDim], k/v [Tk, kvHeads, headDim], float32, row-major; GQA maps
// query head h to kv head floor(h / (heads / kvHeads)). Sequences are packed: sequence s owns
// query rows [cuSeqlensQ[s], cuSeqlensQ[s+1]) and key rows [cuSeqlensK[s], cuSeqlensK[s+1]).
// Inside a sequence the mask (runtime/mask/ir.ts) is evaluated at q = qOffset + i, kv = j,
// with document ids docIds[cuSeqlensK[s] + position] (length Tk; absent = one document).
// lse is the natural-log sum of exp of the scaled, masked scores, [Tq, heads] (-inf for a
// row that sees nothing; its output is 0).
//
// referenceAttention() is a plain implementation (dense per-sequence mask + native GEMMs)
// that the model uses until the fused kernels of runtime/attention are plugged in through
// this same interface.
import type { RopeScaling } from '../attention/positions.js';
import type { AttentionMaskIR, MaskIR } from '../mask/ir.js';
import { maskAt } from '../mask/eval.js';
import { kernels } from './kernels.js';

export interface AttentionArgs {
  readonly q: Float32Array;
  readonly k: Float32Array;
  readonly v: Float32Array;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly cuSeqlensQ: Int32Array;
  readonly cuSeqlensK: Int32Array;
  /** absolute position of query row 0 in each sequence (decoding after a cache); default 0 */
  readonly qOffset?: number;
  /** document id per key row (length Tk) */
  readonly docIds?: Int32Array;
  /** one mask for every head, or per-head groups (AttentionMaskIR) */
  readonly mask: MaskIR | AttentionMaskIR;
  /** score scale, usually 1/sqrt(headDim) */
  readonly scale: number;
  /** score transforms beyond scale * q.k (fused op only) */
  readonly score?: ScoreSettings;
  /**
   * positions applied inside the attention op (fused op only): RoPE with a distance limit
   * (q and k arrive unrotated; key positions are the index in the key sequence, or in the
   * document with restartPerDocument; queries sit at the last positions) or ALiBi.
   */
  readonly position?: KernelPosition;
}

/** RoPE frequency scaling: runtime/attention's RopeScaling (formulas at its ropeFrequencies). */
export type RopeScalingSettings = RopeScaling;

/** Score transforms (exact forms: runtime/attention/README.md). */
export interface ScoreSettings {
  /** logits divided by it; default 1 */
  readonly temperature?: number;
  /** c tanh(s / c); 0 or absent = none */
  readonly softcap?: number;
  /** Softplus attention: u = softplus(lambda_i s)^power, lambda_i = max(1, ln(qpos+1)/ln(trainLength)) */
  readonly softplus?: { readonly power: number; readonly trainLength: number };
}

/**
 * The position encoding of the model's attention. rope: the model rotates q and k itself
 * (HF rotate-half convention, frequencies of runtime/attention's ropeFrequencies when scaled);
 * with a distance `limit` (LM-Infinite) the fused op rotates instead. alibi: per-head linear
 * biases in the op (distance clamped to `limit` when given). none: NoPE.
 */
export type PositionSettings =
  | { readonly kind: 'rope'; readonly scaling?: RopeScalingSettings; readonly limit?: number | null }
  | { readonly kind: 'alibi'; readonly limit?: number | null }
  | { readonly kind: 'none' };

/** Everything of a `.lmp` attention block the model honours (mask, score, position). */
export interface AttentionSettings {
  readonly mask?: MaskIR | AttentionMaskIR;
  readonly score?: ScoreSettings;
  readonly position?: PositionSettings;
}

export type KernelPosition =
  | { readonly kind: 'rope'; readonly base: number; readonly scaling?: RopeScalingSettings; readonly distanceLimit: number; readonly restartPerDocument: boolean }
  | { readonly kind: 'alibi'; readonly distanceLimit?: number };

/** True when a score needs more than softmax(scale * q.k). */
export function scoreIsPlain(s: ScoreSettings | undefined): boolean {
  return !s || ((s.temperature ?? 1) === 1 && !s.softcap && !s.softplus);
}

/** The single mask of an AttentionMaskIR without head groups (else undefined). */
export function plainMask(m: MaskIR | AttentionMaskIR): MaskIR | undefined {
  if (!('groups' in m)) return m;
  return m.groups.length === 0 ? (m.default ?? { op: 'full' }) : undefined;
}

export interface AttentionOp {
  readonly name: string;
  /** 'cpu': the op is the CPU fused kernels as they are (a native decoding step may call them itself) */
  readonly kernels?: 'cpu';
  forward(a: AttentionArgs): { out: Float32Array; lse: Float32Array };
  /** forward of each (same results), where the op can run several in one call (batched decoding: one per sequence) */
  forwardMany?(as: readonly AttentionArgs[]): { out: Float32Array; lse: Float32Array }[];
  backward(a: AttentionArgs, out: Float32Array, lse: Float32Array, dout: Float32Array): { dq: Float32Array; dk: Float32Array; dv: Float32Array };
}

const isOp = (m: MaskIR, op: MaskIR['op']): boolean => m.op === op;

/** Dense per-sequence masks concatenated (Lq x Lk per sequence), 1 = visible. */
export function packedDenseMask(mask: MaskIR, cuQ: Int32Array, cuK: Int32Array, qOffset = 0, docIds?: Int32Array): Uint8Array {
  let total = 0;
  for (let s = 0; s + 1 < cuQ.length; s++) total += (cuQ[s + 1]! - cuQ[s]!) * (cuK[s + 1]! - cuK[s]!);
  const out = new Uint8Array(total);
  const causalOnly = isOp(mask, 'causal');
  const causalDoc = mask.op === 'and' && mask.args.length === 2 && mask.args.some((a) => isOp(a, 'causal')) && mask.args.some((a) => isOp(a, 'same_document'));
  let o = 0;
  for (let s = 0; s + 1 < cuQ.length; s++) {
    const lq = cuQ[s + 1]! - cuQ[s]!, k0 = cuK[s]!, lk = cuK[s + 1]! - k0;
    const doc = docIds ? (p: number): number => docIds[k0 + p]! : undefined;
    for (let i = 0; i < lq; i++) {
      const q = qOffset + i;
      if (causalOnly || (causalDoc && !doc)) {
        for (let j = 0; j < lk && j <= q; j++) out[o + i * lk + j] = 1;
      } else if (causalDoc && doc) {
        const dq = doc(q);
        for (let j = Math.min(q, lk - 1); j >= 0; j--) {
          if (doc(j) !== dq) break; // documents are contiguous runs
          out[o + i * lk + j] = 1;
        }
      } else {
        for (let j = 0; j < lk; j++) out[o + i * lk + j] = maskAt(mask, q, j, doc) ? 1 : 0;
      }
    }
    o += lq * lk;
  }
  return out;
}

/** The reference AttentionOp (native GEMMs over a dense mask; any MaskIR). */
export function referenceAttention(): AttentionOp {
  let last: { key: unknown[]; mask: Uint8Array } | undefined;
  const maskFor = (a: AttentionArgs): Uint8Array => {
    const key = [a.mask, a.cuSeqlensQ, a.cuSeqlensK, a.qOffset ?? 0, a.docIds];
    if (last && last.key.every((v, i) => v === key[i])) return last.mask;
    const mask = packedDenseMask(plainMask(a.mask)!, a.cuSeqlensQ, a.cuSeqlensK, a.qOffset ?? 0, a.docIds);
    last = { key, mask };
    return mask;
  };
  const K = kernels();
  const check = (a: AttentionArgs): void => {
    if (!scoreIsPlain(a.score) || a.position || !plainMask(a.mask))
      throw Object.assign(new Error('reference attention: score transforms, in-op positions and per-head masks need the fused op (fusedAttention())'), { code: 'LMP_E_NO_RUNTIME' });
  };
  return {
    name: 'reference',
    forward(a) {
      check(a);
      const tq = a.q.length / (a.heads * a.headDim);
      const out = new Float32Array(a.q.length), lse = new Float32Array(tq * a.heads);
      K.attentionForward(a.q, a.k, a.v, a.heads, a.kvHeads, a.headDim, a.cuSeqlensQ, a.cuSeqlensK, maskFor(a), a.scale, out, lse);
      return { out, lse };
    },
    backward(a, out, lse, dout) {
      check(a);
      const dq = new Float32Array(a.q.length), dk = new Float32Array(a.k.length), dv = new Float32Array(a.v.length);
      K.attentionBackward(a.q, a.k, a.v, out, lse, dout, a.heads, a.kvHeads, a.headDim, a.cuSeqlensQ, a.cuSeqlensK, maskFor(a), a.scale, dq, dk, dv);
      return { dq, dk, dv };
    },
  };
}
