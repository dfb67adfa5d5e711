import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { check } from '../index.js';
import { lower } from '../lower/index.js';
import type { AnySpec, EvalSpec, Frozen, OptimizeSpec } from '../../runtime/entry/spec.js';
import type { RunTrial } from '../../runtime/optimize/index.js';
import {
  applyOptimizeResult,
  evalTrialRunner,
  loadOptimizeResult,
  optimizeAssignments,
  runOptimizeBlock,
  saveOptimizeResult,
  type OptimizeResult,
  type RunEvalFn,
} from './optimize.js';

const ROOT = join(import.meta.dirname, '..', '..');
const EXAMPLE = join(ROOT, 'examples', 'eval_optimize.lmp');
const SOURCE = readFileSync(EXAMPLE, 'utf8');
const tmp = mkdtempSync(join(tmpdir(), 'lmp-optimize-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function specs(text: string, file = EXAMPLE): Map<string, Frozen<AnySpec>> {
  const c = check(text, file);
  expect(c.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return new Map(lower(c.program).decls.map((d) => [d.name, d.spec as Frozen<AnySpec>] as const));
}
const optSpec = (text = SOURCE, name = 'window_size', file = EXAMPLE) => specs(text, file).get(name) as Frozen<OptimizeSpec>;

/** A fake objective over the example's knobs: best at window 512, sink 4, tau 3. */
const fakeTrial: RunTrial = async (v) => {
  const w = v['streaming.mask.window'] as number;
  const s = v['streaming.mask.sink'] as number;
  const t = v['story.policy.mirostat.tau'] as number;
  const acc = 1 - Math.abs(Math.log2(w / 512)) / 4 - Math.abs(s - 4) / 32 - (t - 3) ** 2 / 16;
  return { metrics: { 'passkey_sweep.accuracy': acc, 'passkey_sweep.latency.p50': w / 20_000 }, seconds: 1 };
};

describe('optimize block with a fake objective', () => {
  test('the example block runs (tpe, 40 trials), saves JSON that round-trips, and the result applies and re-checks clean', async () => {
    const spec = optSpec();
    expect(spec.unsupported).toEqual([]);
    const lines: string[] = [];
    let now = 0;
    const r = await runOptimizeBlock(SOURCE, EXAMPLE, spec, { baseDir: tmp, runTrial: fakeTrial, clock: () => now++, onProgress: (m) => lines.push(m) });
    expect(r.result.trials).toHaveLength(40);
    expect(r.result.stopped).toBe('done');
    expect(lines).toHaveLength(40);
    expect(lines[0]).toMatch(/^optimize window_size trial 1\/40: streaming\.mask\.window=\d+ streaming\.mask\.sink=\d+ story\.policy\.mirostat\.tau=[\d.]+ -> passkey_sweep\.accuracy /);
    // latency.p50 < 50ms: window 1024 and 2048 are infeasible (0.0512, 0.1024 s)
    for (const t of r.result.trials) expect(t.feasible).toBe((t.values['streaming.mask.window'] as number) <= 512);
    expect(r.result.best).not.toBeNull();
    expect(r.saved).toBe(join(tmp, 'runs', 'window_size.json'));
    const back = loadOptimizeResult(r.saved!);
    expect(back).toEqual(r.result);
    expect(back.file).toBe(EXAMPLE);

    const patched = applyOptimizeResult(SOURCE, EXAMPLE, back);
    const b = back.best!.values;
    expect(patched).toContain(`window(${b['streaming.mask.window']})`);
    expect(patched).toContain(`sink(${b['streaming.mask.sink']})`);
    expect(patched).toContain(`tau: ${b['story.policy.mirostat.tau']}`);
    const after = specs(patched);
    const story = after.get('story') as { chain: { samplers: { name: string; tau?: number }[] } };
    expect(story.chain.samplers.find((s) => s.name === 'mirostat')?.tau).toBe(b['story.policy.mirostat.tau']);
    expect(JSON.stringify(after.get('streaming'))).toContain(`"size":${b['streaming.mask.window']}`);
  });

  test('applying a hand-written result to the example source', () => {
    const result = { version: 1, optimize: 'window_size', trials: [], stopped: 'done', best: { trial: 0, values: { 'streaming.mask.window': 512, 'streaming.mask.sink': 4, 'story.policy.mirostat.tau': 3.25 }, metrics: {}, objective: 1 } } as unknown as OptimizeResult;
    expect(optimizeAssignments(result)).toEqual(['streaming.mask.window=512', 'streaming.mask.sink=4', 'story.policy.mirostat.tau=3.25']);
    const patched = applyOptimizeResult(SOURCE, EXAMPLE, result);
    expect(patched).toContain('mask causal & (sink(4) | window(512))');
    expect(patched).toContain('mirostat(tau: 3.25, eta: 0.1)');
    expect(check(patched, EXAMPLE).diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    // a value the source no longer accepts, a result without a best
    const bad = { ...result, best: { ...result.best!, values: { 'streaming.mask.window': -3 } } } as OptimizeResult;
    expect(() => applyOptimizeResult(SOURCE, EXAMPLE, bad)).toThrow(expect.objectContaining({ code: 'LMP_E_OPT_APPLY' }));
    expect(() => applyOptimizeResult(SOURCE, EXAMPLE, { ...result, best: null })).toThrow(expect.objectContaining({ code: 'LMP_E_OPT_NO_BEST' }));
  });

  test('bad input: coded errors, and no trial runs', async () => {
    let ran = 0;
    const count: RunTrial = async (v, c) => (ran++, fakeTrial(v, c));
    const spec = optSpec();
    const run = (s: Frozen<OptimizeSpec>, o = {}) => runOptimizeBlock(SOURCE, EXAMPLE, s, { baseDir: tmp, runTrial: count, save: false, ...o });
    await expect(run({ ...spec, vary: [{ path: 'nosuch.mask.window', values: { list: [1] } }] })).rejects.toMatchObject({ code: 'LMP_E_OPT_VARY' });
    await expect(run({ ...spec, vary: [{ path: 'streaming.mask.window', values: { list: [-4] } }] })).rejects.toMatchObject({ code: 'LMP_E_OPT_VALUE' });
    await expect(run({ ...spec, objective: null })).rejects.toMatchObject({ code: 'LMP_E_OPT_OBJECTIVE' });
    // an existing directory where the result should go
    mkdirSync(join(tmp, 'taken', 'r.json'), { recursive: true });
    await expect(run({ ...spec, save: 'taken/r.json' }, { save: true })).rejects.toMatchObject({ code: 'LMP_E_OPT_SAVE' });
    expect(ran).toBe(0);
    // the real runner: an objective naming no eval
    expect(() => evalTrialRunner(SOURCE, EXAMPLE, { ...spec, objective: { direction: 'maximize', metric: 'story.accuracy' } })).toThrow(expect.objectContaining({ code: 'LMP_E_OPT_OBJECTIVE' }));
    // a later value the checker rejects stops the search (fatal), with the real runner
    const g = { ...spec, vary: [{ path: 'streaming.mask.window', values: { list: [512, -4] } }], search: { kind: 'grid', params: {} } } as Frozen<OptimizeSpec>;
    const fakeEval: RunEvalFn = async () => ({ metrics: { accuracy: 1, latency: { p50: 0.01, p90: 0.01, p99: 0.01, mean: 0.01 } }, seconds: 0 });
    await expect(runOptimizeBlock(SOURCE, EXAMPLE, g, { baseDir: tmp, save: false, runEval: fakeEval })).rejects.toMatchObject({ code: 'LMP_E_OPT_VALUE' });
    // load: missing, not JSON, not a result
    expect(() => loadOptimizeResult(join(tmp, 'none.json'))).toThrow(expect.objectContaining({ code: 'LMP_E_OPT_RESULT' }));
    writeFileSync(join(tmp, 'bad.json'), '{"version": 1');
    expect(() => loadOptimizeResult(join(tmp, 'bad.json'))).toThrow(expect.objectContaining({ code: 'LMP_E_OPT_RESULT' }));
    writeFileSync(join(tmp, 'other.json'), '{"version": 1, "steps": 3}');
    expect(() => loadOptimizeResult(join(tmp, 'other.json'))).toThrow(/not an optimize result/);
  });

  test('the save is atomic: a failing write leaves no partial file and the old content intact', async () => {
    const dir = join(tmp, 'atomic');
    mkdirSync(join(dir, 'target.json'), { recursive: true }); // rename over a non-empty directory fails
    writeFileSync(join(dir, 'target.json', 'keep.txt'), 'old');
    const r = await runOptimizeBlock(SOURCE, EXAMPLE, optSpec(), { baseDir: tmp, runTrial: fakeTrial, save: false, clock: () => 0 });
    let err: unknown;
    try {
      saveOptimizeResult(join(dir, 'target.json'), r.result);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'LMP_E_OPT_SAVE', result: r.result });
    expect(readdirSync(dir)).toEqual(['target.json']);
    expect(readFileSync(join(dir, 'target.json', 'keep.txt'), 'utf8')).toBe('old');
    // and a good write replaces an older file whole
    writeFileSync(join(dir, 'ok.json'), 'x'.repeat(100_000));
    saveOptimizeResult(join(dir, 'ok.json'), r.result);
    expect(loadOptimizeResult(join(dir, 'ok.json'))).toEqual(r.result);
    expect(readdirSync(dir).sort()).toEqual(['ok.json', 'target.json']);
  });
});

describe('the real trial runner (runEval injected)', () => {
  test('patches the knobs into the specs the eval runs, adds the constraint metric, scales samples by the budget', async () => {
    const seen: { window: unknown; tau: unknown; metrics: readonly string[]; samples: unknown }[] = [];
    const fakeEval: RunEvalFn = async (e, o) => {
      const story = o.specs!.get('story') as unknown as { chain: { samplers: { name: string; tau?: number }[] } };
      seen.push({
        window: JSON.stringify(o.specs!.get('streaming')).match(/"size":(\d+)/)?.[1],
        tau: story.chain.samplers.find((s) => s.name === 'mirostat')?.tau,
        metrics: (e as Frozen<EvalSpec>).metrics,
        samples: e.task.params['samples'],
      });
      return { metrics: { accuracy: 0.5, latency: { p50: 0.01, p90: 0.02, p99: 0.03, mean: 0.01 } }, seconds: 0.25 };
    };
    const run = evalTrialRunner(SOURCE, EXAMPLE, optSpec(), { runEval: fakeEval });
    const out = await run({ 'streaming.mask.window': 256, 'streaming.mask.sink': 2, 'story.policy.mirostat.tau': 4.5 }, { index: 0, budget: 1 / 9 });
    expect(out).toEqual({
      metrics: { 'passkey_sweep.accuracy': 0.5, 'passkey_sweep.latency.p50': 0.01, 'passkey_sweep.latency.p90': 0.02, 'passkey_sweep.latency.p99': 0.03, 'passkey_sweep.latency.mean': 0.01 },
      seconds: 0.25,
      cost: 0.25,
    });
    expect(seen).toEqual([{ window: '256', tau: 4.5, metrics: ['accuracy', 'latency'], samples: 2 }]);
  });
});

// The whole path with the real runEval: a tiny model, 2 passkey requests per trial, 2 trials.
const TINY = readFileSync(join(ROOT, 'compiler', 'commands', 'fixtures', 'optimize-tiny.lmp'), 'utf8');

describe('the real trial runner with runtime/entry runEval', () => {
  test('a tiny eval, 2 trials, saved and applied', async () => {
    const dir = join(tmp, 'tiny');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 't.lmp');
    writeFileSync(file, TINY);
    const spec = optSpec(TINY, 'o', file);
    const r = await runOptimizeBlock(TINY, file, spec);
    expect(r.result.trials.map((t) => t.values)).toEqual([{ 'a.mask.window': 32 }, { 'a.mask.window': 64 }]);
    for (const t of r.result.trials) {
      expect(t.error).toBeUndefined();
      expect(t.metrics['pk.accuracy']).toBeGreaterThanOrEqual(0);
      expect(t.metrics['pk.latency.p50']).toBeGreaterThan(0);
      expect(t.feasible).toBe(true);
    }
    expect(r.result.stopped).toBe('done');
    expect(existsSync(join(dir, 'out', 'o.json'))).toBe(true);
    const patched = applyOptimizeResult(TINY, file, loadOptimizeResult(join(dir, 'out', 'o.json')));
    expect(patched).toContain(`window(${r.result.best!.values['a.mask.window']})`);
  }, 20_000);
});
