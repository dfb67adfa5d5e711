// Adapter: the fused attention kernels of runtime/attention as the model's AttentionOp.
// The model applies plain and scaled RoPE itself, so the fused op runs with position 'none'
// unless the model hands it an in-op position (RoPE with an LM-Infinite distance limit, ALiBi).
// Score transforms (temperature, softcap, softplus) and per-head masks go to the kernels as is. Decoding: the
// fused kernels place the queries at the last positions of each key sequence (qOffset =
// Lk - Lq), which is what the model's KV cache passes; any other qOffset is refused.
import { attentionBackward, attentionForward, attentionForwardMany, type AttentionBackend, type AttentionInput, type PositionOptions, type ScoreOptions } from '../attention/index.js';
import type { AttentionArgs, AttentionOp } from './attention.js';

function score(a: Omit<AttentionArgs, 'q' | 'k' | 'v'>): ScoreOptions {
  const s = a.score;
  if (!s) return { scale: a.scale };
  return {
    scale: a.scale,
    ...(s.temperature !== undefined ? { temperature: s.temperature } : {}),
    ...(s.softcap ? { softcap: s.softcap } : {}),
    ...(s.softplus ? { softplus: s.softplus } : {}),
  };
}

function position(a: Omit<AttentionArgs, 'q' | 'k' | 'v'>): PositionOptions {
  const p = a.position;
  if (!p) return { kind: 'none' };
  if (p.kind === 'alibi') return p.distanceLimit ? { kind: 'alibi', distanceLimit: p.distanceLimit } : { kind: 'alibi' };
  return {
    kind: 'rope', rope: { base: p.base, ...(p.scaling ? { scaling: p.scaling } : {}) }, restartPerDocument: p.restartPerDocument,
    ...(p.distanceLimit ? { distanceLimit: p.distanceLimit } : {}),
  };
}

/** The arguments as runtime/attention's input, without the tensors (a device plan's layout). */
export function layoutInput(a: Omit<AttentionArgs, 'q' | 'k' | 'v'>): Omit<AttentionInput, 'q' | 'k' | 'v'> & { cuSeqlens: Int32Array } {
  if (a.qOffset !== undefined && a.qOffset !== 0) {
    for (let s = 0; s + 1 < a.cuSeqlensQ.length; s++) {
      const lq = a.cuSeqlensQ[s + 1]! - a.cuSeqlensQ[s]!, lk = a.cuSeqlensK[s + 1]! - a.cuSeqlensK[s]!;
      if (lk - lq !== a.qOffset)
        throw Object.assign(new Error(`fused attention: qOffset ${a.qOffset} must equal Lk - Lq (${lk - lq})`), { code: 'LMP_E_ARG' });
    }
  }
  return {
    heads: a.heads, kvHeads: a.kvHeads, headDim: a.headDim, cuSeqlens: a.cuSeqlensQ, cuSeqlensK: a.cuSeqlensK,
    ...(a.docIds ? { docIds: a.docIds } : {}), mask: a.mask, score: score(a), position: position(a),
  };
}

const input = (a: AttentionArgs): AttentionInput => ({ q: a.q, k: a.k, v: a.v, ...layoutInput(a) });

/** backend: the CPU kernels (default) or the CUDA ones (runtime/model/cuda-attention.ts). */
export function fusedAttention(backend?: AttentionBackend): AttentionOp {
  const cpu = backend === undefined || backend.kind === 'cpu';
  return {
    name: 'fused',
    ...(cpu ? { kernels: 'cpu' as const } : {}),
    forward: (a) => attentionForward(input(a), backend),
    ...(cpu ? { forwardMany: (as: readonly AttentionArgs[]) => attentionForwardMany(as.map(input)) } : {}),
    backward: (a, out, lse, dout) => attentionBackward({ ...input(a), out, lse, dout }, backend),
  };
}
