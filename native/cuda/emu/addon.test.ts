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

type EmuAddon = {
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
});
