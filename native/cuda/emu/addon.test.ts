// The Node addon with its CUDA bindings compiled against the CPU emulator (npm run build:cuda-emu
// -> build/native-cuda-emu/Release/lmp.node): the bindings' argument handling, errors and results
// through the same kernels npm test's parity binary checks. That build takes minutes, so npm test
// does not make it: without it these tests are skipped (and say so). Any TypeScript test can run
// against it: LMP_NATIVE_PATH=build/native-cuda-emu/Release/lmp.node npx vitest run FILE.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const path = join(root, 'build/native-cuda-emu/Release/lmp.node');
const built = existsSync(path);
if (!built) {
  // .ci/run builds it and sets LMP_REQUIRE_CUDA=1: there a skip is a failure.
  if (process.env['LMP_REQUIRE_CUDA']) throw new Error(`LMP_REQUIRE_CUDA is set but ${path} is not built (npm run build:cuda-emu)`);
  console.log(`skipped: ${path} not built (npm run build:cuda-emu)`);
}

interface Tensor {
  readonly length: number;
  readonly freed: boolean;
  upload(a: Float32Array | Uint16Array, offset?: number): void;
  download(asFloat32?: boolean): Float32Array;
  view(offset: number, length: number, dtype?: string): Tensor;
  readonly dtype: string;
  free(): void;
}
interface Plan {
  forward(q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor): void;
  free(): void;
  readonly stats: { qTiles: number; computedTiles: number };
}
type EmuAddon = {
  CudaTensor: new (dtype: string, n: number) => Tensor;
  CudaAttentionPlan: new (o: object) => Plan;
  cudaConvert(src: Tensor, dst: Tensor): void;
  cudaUploadParts(dst: Tensor, parts: readonly ArrayBufferView[]): void;
  cudaInfo(): { count: number; name: string; computeCapability: string };
  cudaLogSoftmaxRows(x: Float32Array, rows: number, cols: number): Float32Array;
  cudaUniforms(seed: number | bigint, start: number | bigint, count: number): Float64Array;
};

function splitmix(seed: bigint, n: bigint): number {
  const M = (1n << 64n) - 1n;
  let z = (seed + (n + 1n) * 0x9e3779b97f4a7c15n) & M;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M;
  z = z ^ (z >> 31n);
  return Number(z >> 11n) / 9007199254740992;
}

describe.skipIf(!built)('the CUDA bindings under the emulator (build/native-cuda-emu)', () => {
  const addon = built ? (createRequire(import.meta.url)(path) as EmuAddon) : (undefined as unknown as EmuAddon);

  it('reports the emulated device', () => {
    const info = addon.cudaInfo();
    expect(info.count).toBe(1);
    expect(info.name).toBe('lmp CUDA emulator');
    expect(info.computeCapability).toBe('9.0');
  });

  it('cudaLogSoftmaxRows matches a float64 reference on awkward shapes', () => {
    let s = 12345;
    const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5) * 30;
    for (const [rows, cols] of [[1, 1], [3, 65], [2, 1000]] as const) {
      const x = Float32Array.from({ length: rows * cols }, rnd);
      const y = addon.cudaLogSoftmaxRows(x, rows, cols);
      for (let r = 0; r < rows; r++) {
        const row = Array.from(x.subarray(r * cols, (r + 1) * cols));
        const m = Math.max(...row);
        const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
        for (let j = 0; j < cols; j++) {
          const ref = row[j] - lse;
          expect(Math.abs(y[r * cols + j] - ref)).toBeLessThanOrEqual(1e-5 + 1e-5 * Math.abs(ref));
        }
      }
    }
  });

  it('cudaUniforms is the documented SplitMix64 stream, bit for bit', () => {
    const u = addon.cudaUniforms(42, 1000, 300);
    for (let i = 0; i < u.length; i++) expect(u[i]).toBe(splitmix(42n, 1000n + BigInt(i)));
  });

  it('refuses bad arguments with coded errors', () => {
    expect(() => addon.cudaLogSoftmaxRows(new Float32Array(5), 2, 3)).toThrow(expect.objectContaining({ code: 'LMP_E_SHAPE' }));
    expect(() => addon.cudaLogSoftmaxRows(Float32Array.of(1, NaN), 1, 2)).toThrow(expect.objectContaining({ code: 'LMP_E_NAN' }));
  });

  it('CudaTensor.view addresses a range of its tensor, and refuses out-of-range views and a freed parent', () => {
    const t = new addon.CudaTensor('f32', 10);
    t.upload(Float32Array.from({ length: 10 }, (_, i) => i));
    const v = t.view(3, 4);
    expect(Array.from(v.download())).toEqual([3, 4, 5, 6]);
    v.upload(Float32Array.of(-1, -2), 1); // writes t[4], t[5]
    expect(Array.from(t.download())).toEqual([0, 1, 2, 3, -1, -2, 6, 7, 8, 9]);
    const w = v.view(2, 2); // a view of a view: t[5..7)
    expect(Array.from(w.download())).toEqual([-2, 6]);
    expect(() => t.view(8, 3)).toThrow(expect.objectContaining({ code: 'LMP_E_SHAPE' }));
    expect(() => t.view(-1, 1)).toThrow(expect.objectContaining({ code: 'LMP_E_SHAPE' }));
    v.free(); // detaches the view only
    expect(v.freed).toBe(true);
    expect(t.freed).toBe(false);
    expect(() => v.download()).toThrow(expect.objectContaining({ code: 'LMP_E_ARG' }));
    t.free();
    expect(w.freed).toBe(true);
    expect(() => w.download()).toThrow(expect.objectContaining({ code: 'LMP_E_ARG' }));
  });

  it('CudaTensor.view with a dtype of the same element size reads the same bytes as that type (a batch in one upload)', () => {
    const t = new addon.CudaTensor('i32', 6);
    const f = Float32Array.of(0.5, -3.25);
    const host = Int32Array.of(7, 8, 9, 0, 0, 11);
    host.set(new Int32Array(f.buffer), 3);
    (t.upload as (a: Int32Array) => void)(host);
    const fv = t.view(3, 2, 'f32');
    expect(fv.dtype).toBe('f32');
    expect(Array.from(fv.download())).toEqual([0.5, -3.25]);
    expect(Array.from(t.view(0, 3).download() as unknown as Int32Array)).toEqual([7, 8, 9]);
    expect(() => t.view(0, 2, 'f64')).toThrow(expect.objectContaining({ code: 'LMP_E_DTYPE' }));
    expect(() => t.view(0, 2, 'bf16')).toThrow(expect.objectContaining({ code: 'LMP_E_DTYPE' }));
    t.free();
  });

  it('cudaUploadParts sends 4-byte arrays back to back through the page-locked staging; the host may reuse them at once', () => {
    const t = new addon.CudaTensor('i32', 12);
    const a = Int32Array.of(1, -2, 3), f = Float32Array.of(0.5, -1.25), u = Uint32Array.of(4294967295);
    addon.cudaUploadParts(t, [a, f, new Int32Array(0), u, a.subarray(1)]);
    a.fill(9); // rewritten right after the call: the upload copied it already
    const got = t.download() as unknown as Int32Array;
    const bits = new Int32Array(Float32Array.of(0.5, -1.25).buffer);
    expect(Array.from(got)).toEqual([1, -2, 3, bits[0], bits[1], -1, -2, 3, 0, 0, 0, 0]);
    // many rounds without a download between them: the staging buffers are reused safely (the
    // emulator reports a buffer rewritten before its copy finished)
    const ts = Array.from({ length: 6 }, () => new addon.CudaTensor('i32', 1000));
    const src = new Int32Array(1000);
    ts.forEach((x, r) => {
      src.forEach((_, i) => (src[i] = r * 1000 + i));
      addon.cudaUploadParts(x, [src]);
    });
    ts.forEach((x, r) => expect((x.download() as unknown as Int32Array)[999]).toBe(r * 1000 + 999));
    expect(() => addon.cudaUploadParts(t, [new Int32Array(13)])).toThrow(expect.objectContaining({ code: 'LMP_E_SHAPE' }));
    expect(() => addon.cudaUploadParts(t, [new Float64Array(2)])).toThrow(expect.objectContaining({ code: 'LMP_E_DTYPE' }));
    expect(() => addon.cudaUploadParts(new addon.CudaTensor('bf16', 4), [a])).toThrow(expect.objectContaining({ code: 'LMP_E_DTYPE' }));
    expect(() => addon.cudaUploadParts(t, a as unknown as ArrayBufferView[])).toThrow(expect.objectContaining({ code: 'LMP_E_ARG' }));
    t.free();
    expect(() => addon.cudaUploadParts(t, [a])).toThrow(expect.objectContaining({ code: 'LMP_E_ARG' }));
    for (const x of ts) x.free();
  });

  it('CudaAttentionPlan checks its tensors: bf16, sized by the plan', () => {
    const H = 2, D = 32, T = 3;
    const plan = new addon.CudaAttentionPlan({
      heads: H, kvHeads: H, headDim: D, cuSeqlensQ: Int32Array.of(0, T), cuSeqlensK: Int32Array.of(0, T), programs: [Int32Array.of(0, 0)],
      headGroup: Int32Array.of(0, 0), classes: Uint8Array.of(2), classOffsets: Int32Array.of(0), scale: 1 / Math.sqrt(D), softcap: 0, alibiLimit: 0, power: 0, logLenBase: 0,
    });
    expect(plan.stats.qTiles).toBe(1);
    const bf = (n: number): Tensor => new addon.CudaTensor('bf16', n);
    const q = bf(T * H * D), out = bf(T * H * D), lse = new addon.CudaTensor('f32', T * H);
    q.upload(Float32Array.from({ length: T * H * D }, (_, i) => Math.sin(i)));
    plan.forward(q, q, q, out, lse);
    // full mask over 3 keys: out = softmax(q k^T / sqrt(D)) v, finite and within the range of v
    const o = out.download(true), qv = q.download(true);
    for (let i = 0; i < o.length; i++) expect(Math.abs(o[i]!)).toBeLessThanOrEqual(1.01);
    expect(o.some((x, i) => x !== qv[i])).toBe(true);
    expect(() => plan.forward(new addon.CudaTensor('f32', T * H * D), q, q, out, lse)).toThrow(expect.objectContaining({ code: 'LMP_E_DTYPE' }));
    expect(() => plan.forward(bf(T * H * D + 1), q, q, out, lse)).toThrow(expect.objectContaining({ code: 'LMP_E_SHAPE' }));
    plan.free();
    expect(() => plan.forward(q, q, q, out, lse)).toThrow(expect.objectContaining({ code: 'LMP_E_ARG' }));
    expect(() => new addon.CudaAttentionPlan({ heads: H, kvHeads: H, headDim: 24, cuSeqlensQ: Int32Array.of(0, T), cuSeqlensK: Int32Array.of(0, T), programs: [Int32Array.of(0, 0)], headGroup: Int32Array.of(0, 0), classes: Uint8Array.of(2), classOffsets: Int32Array.of(0), scale: 1, softcap: 0, alibiLimit: 0, power: 0, logLenBase: 0 })).toThrow(expect.objectContaining({ code: 'LMP_E_SHAPE' }));
  });
});
