// `lmpc export` through main(): exit codes, --json, the default output folder, refusals and check
// errors (the export itself is tested in compiler/export).
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../cli.js';
import type { CliIo } from './context.js';

const work = mkdtempSync(join(tmpdir(), 'lmp-cmd-export-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function capture(): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (s) => out.push(s), stderr: (s) => err.push(s), env: {} };
}

describe('lmpc export', () => {
  const dir = join(work, 'p');
  cpSync('compiler/export/fixtures', dir, { recursive: true });
  const file = join(dir, 'prepack.lmp');

  it('writes the package (default folder export/NAME beside the file), then finds it up to date; --json', async () => {
    const io = capture();
    expect(await main(['export', file, '--target', 'packed', '--pytorch'], io)).toBe(0);
    expect(io.out.join('')).toMatch(/exported packed to .*export\/packed/);
    expect(existsSync(join(dir, 'export', 'packed', 'train.py'))).toBe(true);
    const j = capture();
    expect(await main(['export', file, '--target', 'packed', '--pytorch', '--json'], j)).toBe(0);
    const r = JSON.parse(j.out.join('')) as { skipped: boolean; outDir: string; files: string[] };
    expect(r.skipped).toBe(true);
    expect(r.files).toContain('spec.json');
  });

  it('refusals exit 2 with the code; --pytorch is required; check errors exit 1', async () => {
    const a = capture();
    expect(await main(['export', file, '--target', 'nope', '--pytorch', '-o', join(work, 'x')], a)).toBe(2);
    expect(a.err.join('')).toMatch(/error LMP_E_EXPORT_TARGET: cannot export: no declaration 'nope'/);
    const j = capture();
    expect(await main(['export', file, '--target', 'nope', '--pytorch', '--json', '-o', join(work, 'x')], j)).toBe(2);
    expect((JSON.parse(j.out.join('')) as { error: { code: string } }).error.code).toBe('LMP_E_EXPORT_TARGET');
    const b = capture();
    expect(await main(['export', file, '--target', 'packed', '-o', join(work, 'y')], b)).toBe(2);
    expect(b.err.join('')).toMatch(/LMP_E_EXPORT_USAGE/);
    const bad = join(work, 'bad.lmp');
    writeFileSync(bad, 'model m {\n  arch llama(dim: 3)\n}\n');
    const c = capture();
    expect(await main(['export', bad, '--target', 'm', '--pytorch', '-o', join(work, 'z')], c)).toBe(1);
    expect(existsSync(join(work, 'z'))).toBe(false);
  });

  it('an output folder that cannot be written is LMP0906', async () => {
    const io = capture();
    expect(await main(['export', file, '--target', 'packed', '--pytorch', '-o', '/proc/lmp-export'], io)).toBe(2);
    expect(io.err.join('')).toMatch(/LMP0906/);
  });
});
