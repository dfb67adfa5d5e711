// RoPE as the model applies it: the native model kernel for plain RoPE (HF rotate-half, theta_i =
// base^(-2i/D)), and runtime/attention's applyRope (its ropeFrequencies: linear, NTK, dynamic NTK,
// YaRN, llama3, truncated) for a scaled one. Both rotate pairs (d, d + D/2); rope.test.ts checks
// they agree.
import { applyRope, dynamicLength } from '../attention/index.js';
import type { RopeScalingSettings } from './attention.js';
import type { ModelKernels } from './kernels.js';

/**
 * Rotates x [n, heads, headDim] in place at `positions` (inverse: the transpose, i.e. the
 * gradient map, including YaRN's multiplier). Dynamic NTK takes its length from `positions`
 * (dynamicLength): the queries and keys of one forward or decoding step share it.
 */
export function rotate(K: ModelKernels, x: Float32Array, n: number, heads: number, headDim: number, positions: Int32Array, theta: number,
  scaling: RopeScalingSettings | undefined, inverse: boolean): void {
  if (!scaling || scaling.kind === 'none' || (scaling.kind === 'dynamic' && dynamicLength(positions) <= scaling.originalLength)) {
    K.rope(x, n, heads, headDim, positions, theta, inverse);
    return;
  }
  const length = scaling.kind === 'dynamic' ? { length: dynamicLength(positions) } : {};
  x.set(applyRope(x, { heads, headDim, positions: Float32Array.from(positions), rope: { base: theta, scaling, ...length }, inverse }));
}
