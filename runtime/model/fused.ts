// Adapter: the fused attention kernels of runtime/attention as the model's AttentionOp.
// The model applies RoPE itself, so the fused op runs with position 'none'. Decoding: the
// fused kernels place the queries at the last positions of each key sequence (qOffset =
// Lk - Lq), which is what the model's KV cache passes; any other qOffset is refused.
import { attentionBackward, attentionForward, type AttentionInput } from '../attention/index.js';
import type { AttentionArgs, AttentionOp } from './attention.js';

function input(a: AttentionArgs): AttentionInput {
  if (a.qOffset !== undefined && a.qOffset !== 0) {
    for (let s = 0; s + 1 < a.cuSeqlensQ.length; s++) {
      const lq = a.cuSeqlensQ[s + 1]! - a.cuSeqlensQ[s]!, lk = a.cuSeqlensK[s + 1]! - a.cuSeqlensK[s]!;
      if (lk - lq !== a.qOffset)
        throw Object.assign(new Error(`fused attention: qOffset ${a.qOffset} must equal Lk - Lq (${lk - lq})`), { code: 'LMP_E_ARG' });
    }
  }
  return {
    q: a.q, k: a.k, v: a.v, heads: a.heads, kvHeads: a.kvHeads, headDim: a.headDim, cuSeqlens: a.cuSeqlensQ, cuSeqlensK: a.cuSeqlensK,
    ...(a.docIds ? { docIds: a.docIds } : {}), mask: a.mask, score: { scale: a.scale }, position: { kind: 'none' },
  };
}

export function fusedAttention(): AttentionOp {
  return {
    name: 'fused',
    forward: (a) => attentionForward(input(a)),
    backward: (a, out, lse, dout) => attentionBackward({ ...input(a), out, lse, dout }),
  };
}
