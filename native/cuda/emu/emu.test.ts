// The CUDA kernels under the CPU emulator (native/cuda/emu): builds the parity binary with g++
// -DLMP_CUDA_EMU into build/cuda-emu (cmake; a lock file keeps concurrent runs from racing) and
// runs every check with a time limit. A build failure fails the test (no GPU or CUDA toolkit is
// needed, so there is nothing to skip for).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const buildDir = join(root, 'build/cuda-emu');
const binary = join(buildDir, 'lmp_cuda_parity');

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function build(): { ok: boolean; log: string } {
  mkdirSync(join(root, 'build'), { recursive: true });
  const configured = existsSync(join(buildDir, 'CMakeCache.txt'));
  const gen = has('ninja') ? '-G Ninja' : '';
  const jobs = Math.max(1, Math.min(4, Number(process.env.LMP_BUILD_JOBS) || 2));
  const script = [
    configured ? 'true' : `cmake -S native/cuda/parity -B build/cuda-emu ${gen} -DLMP_CUDA_EMU=ON -DCMAKE_BUILD_TYPE=Release`,
    `cmake --build build/cuda-emu -j ${jobs}`,
  ].join(' && ');
  const args = has('flock') ? ['flock', join(root, 'build/cuda-emu.lock'), 'sh', '-c', script] : ['sh', '-c', script];
  const r = spawnSync(args[0], args.slice(1), { cwd: root, encoding: 'utf8', timeout: 14 * 60_000, maxBuffer: 64 << 20 });
  const log = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `\n${r.error.message}` : ''}`;
  return { ok: r.status === 0, log };
}

describe('CUDA kernels under the emulator (native/cuda/parity, -DLMP_CUDA_EMU)', () => {
  it('builds the emulated parity binary', { timeout: 15 * 60_000 }, () => {
    const b = build();
    if (!b.ok) console.error(b.log.slice(-8000));
    expect(b.ok, 'cmake/g++ build of build/cuda-emu failed (log above)').toBe(true);
    expect(existsSync(binary)).toBe(true);
  });

  it('passes every parity check, emulator self-tests included, within the time limit', { timeout: 200_000 }, () => {
    expect(existsSync(binary), 'build/cuda-emu/lmp_cuda_parity missing (the build test failed)').toBe(true);
    const t0 = Date.now();
    const r = spawnSync(binary, [], { cwd: root, encoding: 'utf8', timeout: 180_000, maxBuffer: 64 << 20 });
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    const seconds = (Date.now() - t0) / 1000;
    if (r.status !== 0) console.error(out.split('\n').filter((l) => /FAIL|threw|lmp CUDA emulator: (deadlock|divergent)/.test(l)).join('\n').slice(-8000) || out.slice(-8000));
    expect(r.error, r.error ? `the parity binary did not finish: ${r.error.message}` : '').toBeUndefined();
    expect(r.status, 'some parity check failed (FAIL lines above)').toBe(0);
    expect(out).toContain('[emulated]');
    // The emulator's own checks ran (a build that lost them must not pass quietly).
    for (const name of ['emu_mma_16816_bf16', 'emu_ldmatrix', 'emu_deadlock_detected', 'cublas_gemm_transposes', 'log_softmax', 'temperature_sample'])
      expect(out).toMatch(new RegExp(`^PASS ${name}\\s`, 'm'));
    const m = out.match(/^(\d+) checks, 0 failed/m);
    expect(m, 'summary line').not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(20);
    console.log(`emulated parity: ${m![1]} checks in ${seconds.toFixed(1)} s`);
  });
});
