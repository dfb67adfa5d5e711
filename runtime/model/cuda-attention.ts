// The CUDA fused attention (native/cuda/attention) as the model's AttentionOp, chosen explicitly:
// cudaAttention({ dtype, deterministic }) instead of fusedAttention(). Same arguments and results
// as the CPU fused op (runtime/model/fused.ts builds both; float32 in and out, rounded to the
// kernels' bf16/fp16 on the way in). Needs an addon built with `npm run build:cuda` and a device:
// cudaDevices() says how many the driver reports (0 without a CUDA build, without a driver or
// without a GPU); the op's calls throw LMP_E_NO_DEVICE / LMP_E_NO_RUNTIME otherwise. RoPE with an
// LM-Infinite distance limit runs as two calls of the plain kernels, the mask split at the limit
// (runtime/attention limitMasks), combined by their lse.
import type { AttentionOp } from './attention.js';
import { fusedAttention } from './fused.js';
import { native } from '../native.js';

export interface CudaAttentionOptions {
  /** input type of the kernels; default bf16 */
  readonly dtype?: 'bf16' | 'fp16';
  /** fixed-order dQ (identical bits on every run); default true. false: atomicAdd (faster) */
  readonly deterministic?: boolean;
}

/** CUDA devices the driver reports to this addon (0 when the build has no CUDA backend). */
export function cudaDevices(): { count: number; name?: string; why?: string } {
  const addon = native() as unknown as Record<string, unknown>;
  const info = addon.cudaInfo as undefined | (() => { count: number; name: string; error?: string });
  if (typeof info !== 'function') return { count: 0, why: 'this addon was built without the CUDA backend (npm run build:cuda)' };
  const r = info();
  return r.count > 0 ? { count: r.count, name: r.name } : { count: 0, why: r.error ?? 'no CUDA device' };
}

export function cudaAttention(opts: CudaAttentionOptions = {}): AttentionOp {
  const op = fusedAttention({ kind: 'cuda', dtype: opts.dtype ?? 'bf16', deterministic: opts.deterministic ?? true });
  return { ...op, name: 'cuda' };
}
