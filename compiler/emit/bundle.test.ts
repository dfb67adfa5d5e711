// The bundle (`NAME.mjs`) is runnable on its own: plain Node (no vitest, no TypeScript) imports
// it, resolves its bare `lmp/runtime` import through package.json "exports" (package
// self-reference, dist/runtime/index.js from `npm run build:ts`), and runs an entry point.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildFile } from './index.js';

const ROOT = resolve(import.meta.dirname, '../..');

function node(script: string): string {
  return execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', env: process.env, timeout: 120_000 });
}

describe('the built pipeline.mjs', () => {
  it('package.json exports lmp/runtime (types and code in dist/) and nothing that blocks the bin', () => {
    const pj = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown>; bin: Record<string, string> };
    expect(pj.exports['./runtime']).toEqual({ types: './dist/runtime/index.d.ts', default: './dist/runtime/index.js' });
    expect(pj.bin['lmpc']).toBe('dist/compiler/cli.js');
    expect(existsSync(join(ROOT, 'dist', 'runtime', 'index.js')), 'dist/ is missing: run `npm run build:ts`').toBe(true);
    const resolved = node(`console.log(import.meta.resolve('lmp/runtime')); console.log(import.meta.resolve('lmp/package.json'));`).trim().split('\n');
    expect(resolved).toEqual([pathToFileURL(join(ROOT, 'dist', 'runtime', 'index.js')).href, pathToFileURL(join(ROOT, 'package.json')).href]);
  }, 60_000);

  it('imports in plain Node and trains the quickstart for 2 steps through its exported entry point', async () => {
    mkdirSync(join(ROOT, '.lmp-cache'), { recursive: true });
    const out = mkdtempSync(join(ROOT, '.lmp-cache', 'bundle-test-'));
    try {
      const r = await buildFile('examples/quickstart.lmp', { outDir: out, force: true });
      expect(r.ok).toBe(true);
      const mjs = join(out, 'quickstart.mjs');
      const script = `
        const m = await import(${JSON.stringify(pathToFileURL(mjs).href)});
        const r = await m.targets.quick.run({ baseDir: ${JSON.stringify(join(ROOT, 'examples'))}, steps: 2 });
        console.log(JSON.stringify({ targets: Object.keys(m.targets), entry: typeof m.quick, same: m.targets.quick.run === m.quick, r }));`;
      const res = JSON.parse(node(script).trim().split('\n').at(-1)!) as { targets: string[]; entry: string; same: boolean; r: { kind: string; target: string; steps: number; losses: number[]; firstLoss: number } };
      expect(res.targets).toEqual(['quick', 'sample']);
      expect([res.entry, res.same]).toEqual(['function', true]);
      expect(res.r.kind).toBe('train');
      expect(res.r.target).toBe('quick');
      expect(res.r.steps).toBe(2);
      expect(res.r.losses).toHaveLength(2);
      // a byte-level model starts near ln(257) = 5.55
      expect(res.r.firstLoss).toBeGreaterThan(5);
      expect(res.r.firstLoss).toBeLessThan(6.5);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 180_000);
});
