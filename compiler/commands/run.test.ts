import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../cli.js';
import { applySet, SetError } from './set.js';

const ROOT = resolve(import.meta.dirname, '../..');

// The run tests need the native addon with the model, attention and sampling modules: the
// standard loader (runtime/native.ts) finds build/native/Release/lmp.node, or LMP_NATIVE_PATH.

async function cli(args: string[]) {
  let out = '', err = '';
  const code = await main(args, { stdout: (s) => (out += s), stderr: (s) => (err += s), env: {} });
  return { code, out, err };
}

const QUICK = join(ROOT, 'examples', 'quickstart.lmp');

describe('--set', () => {
  const src = readFileSync(join(ROOT, 'examples', 'decoding.lmp'), 'utf8');
  it('replaces the single parameter of a built-in inside a mask', () => {
    const out = applySet(src, 'd.lmp', 'streaming.mask.window=512');
    expect(out).toContain('mask causal & (sink(4) | window(512))');
    expect(out).toContain('cache keep(sink(4) | window(1k)) reposition'); // the cache clause is another path
  });
  it('replaces a named parameter, and adds one that was defaulted', () => {
    expect(applySet(src, 'd.lmp', 'story.policy.mirostat.tau=4')).toContain('mirostat(tau: 4, eta: 0.1)');
    expect(applySet(src, 'd.lmp', 'story.policy.mirostat.m=50')).toContain('mirostat(tau: 3.0, eta: 0.1, m: 50)');
  });
  it('replaces or inserts a whole clause', () => {
    expect(applySet(src, 'd.lmp', 'story.max_tokens=64')).toContain('max_tokens 64\n');
    expect(applySet(src, 'd.lmp', 'typical.max_tokens=64')).toMatch(/policy temperature\(0\.8\) -> typical\(0\.95\)\n {2}max_tokens 64\n}/);
  });
  it('rejects paths that do not exist', () => {
    const code = (a: string) => {
      try {
        applySet(src, 'd.lmp', a);
        return 'none';
      } catch (e) {
        return (e as SetError).code + ': ' + (e as Error).message;
      }
    };
    expect(code('nope.mask.window=1')).toMatch(/^LMP_E_SET_PATH: .*no declaration 'nope'/);
    expect(code('streaming.colour=1')).toMatch(/^LMP_E_SET_PATH: .*no clause 'colour'/);
    expect(code('streaming.mask.chunked=1')).toMatch(/^LMP_E_SET_PATH: .*has no 'chunked'/);
    expect(code('story.policy.mirostat.gamma=1')).toMatch(/^LMP_E_SET_PATH: .*no parameter 'gamma'/);
    expect(code('streaming=1')).toMatch(/^LMP_E_SET_PATH/);
  });
});

describe('lmpc run', () => {
  it('a bad --set path or a value of the wrong type/unit is exit 2 with a code', async () => {
    const p = await cli(['run', QUICK, '--set', 'quick.nothing=3']);
    expect(p.code).toBe(2);
    expect(p.err).toMatch(/LMP_E_SET_PATH/);
    const v = await cli(['run', QUICK, '--set', 'quick.steps=10%']);
    expect(v.code).toBe(2);
    expect(v.err).toMatch(/LMP_E_SET_VALUE: --set quick\.steps=10%: LMP0308/);
    const t = await cli(['run', QUICK, '--set', 'sample.policy.top_k.k=fast']);
    expect(t.code).toBe(2);
    expect(t.err).toMatch(/LMP_E_SET_VALUE/);
  });

  it('several runnable blocks without --target is a usage error naming them', async () => {
    const r = await cli(['run', join(ROOT, 'examples', 'decoding.lmp')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/LMP_E_TARGET: .*--target NAME.*decode story/);
  });

  it('runs an optimize block (2 grid trials on a tiny eval), saves it, and --apply uses its best values', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmp-run-opt-'));
    try {
      const file = join(dir, 't.lmp');
      writeFileSync(file, readFileSync(join(ROOT, 'compiler', 'commands', 'fixtures', 'optimize-tiny.lmp'), 'utf8'));
      const o = await cli(['run', file, '--target', 'o', '--json']);
      expect(o.code).toBe(0);
      const res = JSON.parse(o.out).results[0];
      expect(res.kind).toBe('optimize');
      expect(res.result.trials.map((t: { values: Record<string, number> }) => t.values['a.mask.window'])).toEqual([32, 64]);
      const saved = JSON.parse(readFileSync(join(dir, 'out', 'o.json'), 'utf8'));
      expect(saved.best.values).toEqual(res.result.best.values);
      const a = await cli(['run', file, '--target', 'd', '--apply', join(dir, 'out', 'o.json'), '--json']);
      expect(a.code).toBe(0);
      expect(JSON.parse(a.out).results[0].kind).toBe('decode');
      const missing = await cli(['run', file, '--target', 'd', '--apply', join(dir, 'nope.json')]);
      expect(missing.code).toBe(2);
      expect(missing.err).toMatch(/LMP_E_OPT_RESULT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('runs an eval block of the example with --set shrinking it (passkey through decode story)', async () => {
    const sets = ['passkey_sweep.task.passkey.lengths=[256]', 'passkey_sweep.task.passkey.depths=2', 'passkey_sweep.task.passkey.samples=1', 'story.max_tokens=8'];
    const r = await cli(['run', join(ROOT, 'examples', 'eval_optimize.lmp'), '--target', 'passkey_sweep', ...sets.flatMap((x) => ['--set', x]), '--json']);
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out).results[0];
    expect([res.kind, res.task, res.using.name, res.samples.length]).toEqual(['eval', 'passkey', 'story', 2]);
    expect(Object.keys(res.metrics)).toEqual(['accuracy']);
  }, 60_000);

  it('--set overrides the IR before running: train for the steps it says', async () => {
    const r = await cli(['run', QUICK, '--target', 'quick', '--set', 'quick.steps=3', '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out).results[0];
    expect(res.kind).toBe('train');
    expect(res.steps).toBe(3);
    expect(res.losses).toHaveLength(3);
  }, 60_000);

  it('runs the default example end to end: training lowers the loss, then a sample is decoded', async () => {
    const r = await cli(['run', '--default', '--steps', '16', '--json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    expect(doc.file).toBe('examples/quickstart.lmp');
    const [train, decode] = doc.results;
    expect(train.kind).toBe('train');
    expect(train.steps).toBe(16);
    // Byte-level model with 257 outputs starts near ln(257) = 5.55 and must learn something in 16 steps.
    expect(train.firstLoss).toBeGreaterThan(5);
    expect(train.finalLoss).toBeLessThan(train.firstLoss - 1);
    expect(decode.kind).toBe('decode');
    expect(decode.trained).toBe(true);
    expect(decode.tokens).toHaveLength(80);
    expect(decode.prompt).toBe('The ');
  }, 90_000);
});
