import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../cli.testutil.js';
import { formatEta, formatRate, progressLine } from './run.js';
import { applySet, SetError } from './set.js';

const ROOT = resolve(import.meta.dirname, '../..');

// The run tests need the native addon with the model, attention and sampling modules: the
// standard loader (runtime/native.ts) finds build/native/Release/lmp.node, or LMP_NATIVE_PATH.

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

describe('lmpc run progress', () => {
  it('the train line shows step/total, a bar, loss, tokens/s and the ETA', () => {
    expect(progressLine({ target: 'quick', phase: 'train', step: 15, total: 60, loss: 3.21449, tokensPerSec: 12345, etaSec: 125 }, 8)).toBe('train quick 15/60 [##......] loss 3.2145  12.3k tok/s  ETA 2m05s');
    // the last step has no ETA; eval items and data have no tokens/s
    expect(progressLine({ target: 'quick', phase: 'train', step: 60, total: 60, loss: 1, tokensPerSec: 900, etaSec: 0 }, 4)).toBe('train quick 60/60 [####] loss 1.0000  900 tok/s');
    expect(progressLine({ target: 'pk', phase: 'eval', step: 1, total: 4 }, 4)).toBe('eval pk 1/4 [#...]');
    expect(progressLine({ target: 'quick', phase: 'data', step: 0, total: 1 })).toBe('data quick 0/1');
    expect([formatRate(999.6), formatRate(10_000), formatRate(2_345_678), formatRate(NaN)]).toEqual(['1000', '10.0k', '2.35M', '-']);
    expect([formatEta(59.4), formatEta(61), formatEta(7260), formatEta(Infinity)]).toEqual(['59s', '1m01s', '2h01m', '?']);
  });
});

const TINY = readFileSync(join(ROOT, 'compiler', 'commands', 'fixtures', 'train-tiny.lmp'), 'utf8');

/** A folder with the tiny train (t.lmp) and its corpus (c/*.txt). */
function tinyDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lmp-run-sig-'));
  mkdirSync(join(dir, 'c'));
  for (let d = 0; d < 8; d++) writeFileSync(join(dir, 'c', `d${d}.txt`), `Doc ${d}. ` + 'the sea and the ship and the whale '.repeat(4 + d) + '\n');
  writeFileSync(join(dir, 't.lmp'), TINY);
  return dir;
}

describe('lmpc run: Ctrl-C and --resume', () => {
  it('SIGINT after a step: exit 130, the checkpoint and the resume command printed; --resume ends bit-identical to an uninterrupted run', async () => {
    const cliJs = join(ROOT, 'dist', 'compiler', 'cli.js');
    expect(existsSync(cliJs), 'dist/compiler/cli.js (npm run build:ts)').toBe(true);
    const dir = tinyDir(), ref = tinyDir();
    try {
      const child = spawn(process.execPath, [cliJs, 'run', 't.lmp'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '', err = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr.on('data', (b: Buffer) => (err += b.toString()));
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      // the 100000-step train: interrupt once its first step is in the log
      const log = join(dir, 'out', 'metrics.jsonl');
      while (!(existsSync(log) && readFileSync(log, 'utf8').includes('\n'))) {
        if (child.exitCode !== null) throw new Error(`lmpc exited early (${child.exitCode}): ${err}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      child.kill('SIGINT');
      expect(await exited, err).toBe(130);
      const m = /checkpoint written to (ck\/step-(\d{8}))\n/.exec(err);
      expect(m, err).not.toBeNull();
      const k = Number(m![2]);
      expect(err).toMatch(/lmpc: SIGINT: finishing the step in progress, then writing a checkpoint/);
      expect(err).toContain(`lmpc: train t interrupted (SIGINT) after step ${k} of 100000; checkpoint written to ck/step-${m![2]}\n`);
      expect(err).toContain('lmpc: resume with: lmpc run t.lmp --resume\n');
      expect(out).toMatch(new RegExp(`^train t \\(run [0-9a-f]{8}\\): ${k} of 100000 steps \\(interrupted\\), `));
      expect(readFileSync(join(dir, 'ck', 'latest'), 'utf8').trim()).toBe(`step-${m![2]}`);
      expect(readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(k);

      // a plain rerun would start over the checkpoint: refused
      const again = await cli(['run', join(dir, 't.lmp'), '--json']);
      expect(again.code).toBe(2);
      expect(JSON.parse(again.out).error.code).toBe('LMP_E_CHECKPOINT_EXISTS');

      // resume to k + 3 steps (the schedule is constant, so the total does not change the steps)
      const n = String(k + 3);
      const resumed = await cli(['run', join(dir, 't.lmp'), '--steps', n, '--resume', '--json']);
      expect(resumed.code, resumed.err).toBe(0);
      expect(resumed.err).toMatch(/lmpc: note: resuming .*ck\/step-\d{8} \(written by a run of 100000 steps\) with \d+ steps/);
      const r = JSON.parse(resumed.out).results[0];
      expect([r.resumedFrom, r.steps, r.losses.length]).toEqual([k, k + 3, 3]);
      const full = await cli(['run', join(ref, 't.lmp'), '--steps', n, '--json']);
      expect(full.code, full.err).toBe(0);
      const f = JSON.parse(full.out).results[0];
      expect(r.losses).toEqual(f.losses.slice(k));
      const last = `step-${n.padStart(8, '0')}`;
      for (const file of ['model.safetensors', 'optimizer.safetensors'])
        expect(readFileSync(join(dir, 'ck', last, file)).equals(readFileSync(join(ref, 'ck', last, file))), file).toBe(true);
      const losses = (d: string) => readFileSync(join(d, 'out', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { loss: number }).loss);
      expect(losses(dir)).toEqual(losses(ref));
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(ref, { recursive: true, force: true });
    }
  }, 120_000);

  it('--resume without a train to resume is a usage error', async () => {
    const r = await cli(['run', join(ROOT, 'examples', 'decoding.lmp'), '--target', 'story', '--resume']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/LMP_E_USAGE: --resume continues a train; this run has none \(decode story\)/);
  });
});

