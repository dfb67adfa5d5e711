import { describe, expect, it } from 'vitest';
import { native } from './native.js';

// float64 reference: log_softmax(x)_j = x_j - log(sum_i exp(x_i))
function refLogSoftmax(x: Float32Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let j = 0; j < cols; j++) m = Math.max(m, x[r * cols + j]!);
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(x[r * cols + j]! - m);
    for (let j = 0; j < cols; j++) out[r * cols + j] = x[r * cols + j]! - m - Math.log(s);
  }
  return out;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    return s / 4294967296;
  };
}

describe('native addon core', () => {
  it('reports its version and build', () => {
    const v = native().version();
    expect(v.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(v.napi).toBe(8);
    expect(native().modules).toContain('core');
  });

  it('logSoftmaxRows matches a float64 reference on awkward sizes', () => {
    const r = rng(7);
    for (const [rows, cols] of [[1, 1], [3, 63], [5, 65], [17, 1000], [2, 32771]] as const) {
      const x = new Float32Array(rows * cols);
      for (let i = 0; i < x.length; i++) x[i] = (r() - 0.5) * 40;
      const got = native().logSoftmaxRows(x, rows, cols);
      const ref = refLogSoftmax(x, rows, cols);
      for (let i = 0; i < x.length; i++) {
        expect(Math.abs(got[i]! - ref[i]!)).toBeLessThanOrEqual(1e-5 + 1e-5 * Math.abs(ref[i]!));
      }
    }
  });

  it('rejects NaN and bad shapes with coded errors', () => {
    expect(() => native().logSoftmaxRows(new Float32Array([0, NaN]), 1, 2)).toThrow(expect.objectContaining({ code: 'LMP_E_NAN' }));
    expect(() => native().logSoftmaxRows(new Float32Array(3), 2, 2)).toThrow(expect.objectContaining({ code: 'LMP_E_SHAPE' }));
    expect(() => native().logSoftmaxRows([1, 2] as unknown as Float32Array, 1, 2)).toThrow(expect.objectContaining({ code: 'LMP_E_ARG' }));
  });
});
