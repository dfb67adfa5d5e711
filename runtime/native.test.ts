import { afterEach, describe, expect, it, vi } from 'vitest';
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
    expect(v.path).toBe(v.dispatch); // no cap, no override in force
    expect(v.streams).toBe(v.weightStreams);
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

describe('native settings from the environment (applied when the loader first loads the addon)', () => {
  // A fresh copy of the loader module loads the (same, process-wide) addon again and applies the
  // environment; the settings are restored after each test.
  const fresh = async (env: Record<string, string>): Promise<typeof import('./native.js')> => {
    Object.assign(process.env, env);
    vi.resetModules();
    return import('./native.js');
  };
  afterEach(() => {
    delete process.env['LMP_SIMD_CAP'];
    delete process.env['LMP_WEIGHT_STREAMS'];
    native().setSimdCap(null);
    native().setWeightStreams(null);
  });

  it('LMP_SIMD_CAP and LMP_WEIGHT_STREAMS set the kernel path and the weight streams', async () => {
    const detected = native().version().weightStreams;
    const other = detected === 'spread' ? 'adjacent' : 'spread';
    const m = await fresh({ LMP_SIMD_CAP: 'scalar', LMP_WEIGHT_STREAMS: other });
    expect(m.native().version().path).toBe('scalar');
    expect(m.native().version().streams).toBe(other);
    expect(m.native().version().weightStreams).toBe(detected);
  });

  it('an unknown value is LMP_E_NATIVE_ENV naming the variable, also from nativeAvailable()', async () => {
    const m = await fresh({ LMP_WEIGHT_STREAMS: 'sideways' });
    expect(() => m.native()).toThrow(expect.objectContaining({ code: 'LMP_E_NATIVE_ENV', message: expect.stringContaining('LMP_WEIGHT_STREAMS="sideways"') }));
    expect(() => m.nativeAvailable()).toThrow(expect.objectContaining({ code: 'LMP_E_NATIVE_ENV' }));
    const n = await fresh({ LMP_WEIGHT_STREAMS: '', LMP_SIMD_CAP: 'avx1024' });
    expect(() => n.native()).toThrow(expect.objectContaining({ code: 'LMP_E_NATIVE_ENV', message: expect.stringContaining("'avx512', 'avx2', 'scalar'") }));
  });
});
