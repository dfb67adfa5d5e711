// runTrain's run management (compiler/commands/fixtures/train-tiny.lmp in a temp folder): what
// a train's `seed` seeds (the batch order), checkpoints after the last step, an interrupted run
// (options.signal) saving its step and a resumed one (options.resume / `resume auto`) continuing
// bit-identically, output locks, run ids in the log, unwritable outputs refused before step 1,
// and `eval every N: NAME` reporting the same breakdown as the inline form.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { check } from '../../compiler/index.js';
import { findDecl } from '../../compiler/ir/types.js';
import { lower } from '../../compiler/lower/index.js';
import { loadModel } from '../model/io.js';
import { evalBreakdown } from './format.js';
import { batchOrderSeed, formatEvalBlock, runTrain, Session, trainCurriculum, type Progress, type RunOptions, type TrainResult, type TrainSpec } from './index.js';

const ROOT = resolve(import.meta.dirname, '../..');
const FIXTURE = readFileSync(join(ROOT, 'compiler', 'commands', 'fixtures', 'train-tiny.lmp'), 'utf8');
const words = ['whale', 'sea', 'ship', 'captain', 'harpoon', 'deck', 'storm', 'oil', 'sail', 'crew', 'union', 'state', 'nation', 'people', 'law'];

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A temp folder with the corpus the fixture reads (c/*.txt: 12 deterministic documents). */
function workDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lmp-entry-train-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'c'));
  let x = 777;
  const rnd = () => ((x = (x * 1103515245 + 12345) >>> 0), x / 2 ** 32);
  for (let d = 0; d < 12; d++) {
    let t = `Doc ${d}.`;
    const n = 150 + Math.floor(rnd() * 250);
    while (t.length < n) t += ' ' + words[Math.floor(rnd() * words.length)]!;
    writeFileSync(join(dir, 'c', `d${String(d).padStart(2, '0')}.txt`), t + '\n');
  }
  return dir;
}

/** The fixture's train with clause edits: [from, to] replacements of its text. */
function spec(...edits: [string | RegExp, string][]): TrainSpec {
  let src = FIXTURE;
  for (const [a, b] of edits) {
    expect(typeof a === 'string' ? src.includes(a) : a.test(src), `edit ${String(a)}`).toBe(true);
    src = src.replace(a, b);
  }
  const r = check(src, 't.lmp');
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return findDecl(lower(r.program), 't')!.spec as TrainSpec;
}

const steps = (n: number): [string, string] => ['steps 100000', `steps ${n}`];
const logLines = (dir: string): { run: string; step: number; loss?: number }[] =>
  readFileSync(join(dir, 'out', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { run: string; step: number; loss?: number });
const bytes = (dir: string, ck: string, file = 'model.safetensors'): Buffer => readFileSync(join(dir, ck, file));

/** Abort after step `at` (as lmpc run does on SIGINT). */
function stopAt(at: number, reason = 'SIGINT'): Pick<RunOptions, 'signal' | 'onProgress'> {
  const c = new AbortController();
  return { signal: c.signal, onProgress: (p: Progress) => void (p.phase === 'train' && p.step === at && c.abort(reason)) };
}

async function rejects(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('expected a rejection');
}

describe('a train seed seeds the batch order', () => {
  it('two seeds give different losses from the first step; the same seed the same ones', async () => {
    const run = async (seed: number): Promise<readonly number[]> => (await runTrain(spec(steps(4), ['seed 1', `seed ${seed}`], ['  checkpoint "ck"\n', '']), { baseDir: workDir() })).losses;
    const [a, b, a2] = [await run(1), await run(5), await run(1)];
    expect(a2).toEqual(a);
    // the model's initialization is the same (model seed 3): only the batches differ
    expect(b[0]).not.toBe(a[0]);
    expect(b).not.toEqual(a);
  }, 60_000);

  it('trainCurriculum (runTrain and the export\'s train.py): no curriculum over prepacked data takes one sequence of the longest bucket a step', () => {
    const pre = spec(['pack decompose(min: 16, max: 64)', 'pack prepack(capacity: 96)'], ['  curriculum fixed(32, tokens_per_step: 128)\n', '']);
    expect(pre.curriculum.config.tokensPerStep).toBe(0);
    const c = trainCurriculum(pre, [96, 40]);
    expect(c.curriculum.tokensPerStep).toBe(96);
    expect(c.curriculum.ranks).toBe(1);
    expect(c.curriculum.seed).toBe(batchOrderSeed(pre.curriculum.config.seed, 1));
    // a curriculum of its own keeps its tokens_per_step
    expect(trainCurriculum(spec(['pack decompose(min: 16, max: 64)', 'pack prepack(capacity: 96)']), [96]).curriculum.tokensPerStep).toBe(128);
  });

  it('seed 0 keeps the curriculum order; others are mixed into it', () => {
    expect(batchOrderSeed(7, 0)).toBe(7);
    expect(new Set([batchOrderSeed(0, 1), batchOrderSeed(0, 5), batchOrderSeed(1, 1), batchOrderSeed(7, 0)]).size).toBe(4);
  });
});

describe('checkpoints', () => {
  it('without every, only the last step is written; with every N, every N-th step and the last', async () => {
    const d1 = workDir();
    const s1 = new Session();
    const r1 = await runTrain(spec(steps(5)), { baseDir: d1, session: s1 });
    expect(readdirSync(join(d1, 'ck')).filter((f) => f.startsWith('step-'))).toEqual(['step-00000005']);
    expect(r1.checkpoint).toBe(join(d1, 'ck', 'step-00000005'));
    const d2 = workDir();
    await runTrain(spec(steps(5), ['checkpoint "ck"', 'checkpoint "ck" every 2']), { baseDir: d2 });
    expect(readdirSync(join(d2, 'ck')).filter((f) => f.startsWith('step-')).sort()).toEqual(['step-00000002', 'step-00000004', 'step-00000005']);
    expect(readFileSync(join(d2, 'ck', 'latest'), 'utf8').trim()).toBe('step-00000005');
    // `load "ck"` (a checkpoint root) follows latest: the trained weights, bit for bit
    const loaded = loadModel(join(d1, 'ck'));
    for (const [n, p] of s1.models.get('m')!.params) expect(Buffer.compare(Buffer.from(p.buffer), Buffer.from(loaded.params.get(n)!.buffer)), n).toBe(0);
    // and the lock is gone after the run
    expect(existsSync(join(d1, 'ck', '.lock'))).toBe(false);
    expect(existsSync(join(d1, 'out', 'metrics.jsonl.lock'))).toBe(false);
  }, 60_000);
});

describe('interrupt and resume', () => {
  it('an aborted run saves its step; a fresh run over it is refused; resume continues bit-identically', async () => {
    const ref = workDir();
    const full = await runTrain(spec(steps(7)), { baseDir: ref });
    const dir = workDir();
    const cut = await runTrain(spec(steps(7)), { baseDir: dir, ...stopAt(3) });
    expect(cut.interrupted).toEqual({ reason: 'SIGINT', checkpoint: join(dir, 'ck', 'step-00000003') });
    expect([cut.steps, cut.totalSteps, cut.losses]).toEqual([3, 7, full.losses.slice(0, 3)]);
    expect(logLines(dir).map((l) => l.step)).toEqual([1, 2, 3]);

    const again = await rejects(runTrain(spec(steps(7)), { baseDir: dir }));
    expect(again.code).toBe('LMP_E_CHECKPOINT_EXISTS');
    expect(again.message).toMatch(/already holds a run \(step-00000003: step 3 of 7, run [0-9a-f]{8}\); continue it with `lmpc run --resume`/);

    const rest = await runTrain(spec(steps(7)), { baseDir: dir, resume: true });
    expect([rest.resumedFrom, rest.steps, rest.run, rest.interrupted]).toEqual([3, 7, cut.run, null]);
    expect(rest.losses).toEqual(full.losses.slice(3));
    expect(bytes(dir, 'ck/step-00000007')).toEqual(bytes(ref, 'ck/step-00000007'));
    expect(bytes(dir, 'ck/step-00000007', 'optimizer.safetensors')).toEqual(bytes(ref, 'ck/step-00000007', 'optimizer.safetensors'));
    // the log reads as one run: the same losses, every line the run's id
    expect(logLines(dir).map((l) => l.loss)).toEqual(logLines(ref).map((l) => l.loss));
    expect(new Set(logLines(dir).map((l) => l.run))).toEqual(new Set([cut.run]));
    expect(new Set(logLines(ref).map((l) => l.run))).toEqual(new Set([full.run]));
  }, 90_000);

  it('`resume auto` starts fresh without a checkpoint and continues from one; resume without one is LMP_E_RESUME', async () => {
    const auto = spec(steps(6), ['  seed 1\n', '  seed 1\n  resume auto\n']);
    expect(auto.resume).toBe('auto');
    expect(spec(steps(6)).resume).toBeNull();
    const dir = workDir();
    const none = await rejects(runTrain(spec(steps(6)), { baseDir: dir, resume: true }));
    expect([none.code, none.message]).toEqual(['LMP_E_RESUME', expect.stringMatching(/nothing to resume: .*ck holds no checkpoint/)]);
    const a = await runTrain(auto, { baseDir: dir, ...stopAt(2) });
    expect([a.resumedFrom, a.steps]).toEqual([0, 2]);
    const b = await runTrain(auto, { baseDir: dir });
    expect([b.resumedFrom, b.steps, b.losses.length]).toEqual([2, 6, 4]);
    const ref = await runTrain(spec(steps(6)), { baseDir: workDir() });
    expect([...a.losses, ...b.losses]).toEqual(ref.losses);
  }, 90_000);

  it('a train without a checkpoint clause saves an interrupt into options.checkpointDir and clears it once resumed to the end', async () => {
    const dir = workDir();
    const slot = join(dir, '.lmp-cache', 'checkpoints', 't');
    const s = spec(steps(5), ['  checkpoint "ck"\n', '']);
    const cut = await runTrain(s, { baseDir: dir, checkpointDir: slot, ...stopAt(2, 'SIGTERM') });
    expect(cut.interrupted).toEqual({ reason: 'SIGTERM', checkpoint: join(slot, 'step-00000002') });
    const fresh = await rejects(runTrain(s, { baseDir: dir, checkpointDir: slot }));
    expect(fresh.code).toBe('LMP_E_CHECKPOINT_EXISTS');
    expect(fresh.message).toContain(`an interrupted run of this train is saved in ${slot}`);
    const rest = await runTrain(s, { baseDir: dir, checkpointDir: slot, resume: true });
    expect([rest.resumedFrom, rest.steps, rest.checkpoint]).toEqual([2, 5, null]);
    expect(existsSync(slot)).toBe(false);
    // nothing to resume without a clause or a slot
    const no = await rejects(runTrain(s, { baseDir: dir, resume: true }));
    expect(no.code).toBe('LMP_E_RESUME');
  }, 90_000);
});

describe('output locks and run ids', () => {
  it('a live run holding the checkpoint folder is LMP_E_RUN_LOCKED; a dead one is taken over with a note', async () => {
    const dir = workDir();
    mkdirSync(join(dir, 'ck'));
    // the parent of this process is alive
    writeFileSync(join(dir, 'ck', '.lock'), JSON.stringify({ pid: process.ppid, run: 'feedf00d', host: hostname(), started: '2024-01-01T00:00:00Z' }));
    const progress: Progress[] = [];
    const e = await rejects(runTrain(spec(steps(2)), { baseDir: dir, onProgress: (p) => progress.push(p) }));
    expect(e.code).toBe('LMP_E_RUN_LOCKED');
    expect(e.message).toContain(`in use by run feedf00d (pid ${process.ppid}, started 2024-01-01T00:00:00Z)`);
    expect(progress).toEqual([]); // refused before reading any data
    // a process that has exited
    const gone = spawnSync(process.execPath, ['-e', '']).pid!;
    writeFileSync(join(dir, 'ck', '.lock'), JSON.stringify({ pid: gone, run: 'deadbeef', host: hostname(), started: '' }));
    const notes: string[] = [];
    const r: TrainResult = await runTrain(spec(steps(2)), { baseDir: dir, onNote: (m) => notes.push(m) });
    expect(r.steps).toBe(2);
    expect(notes).toEqual([expect.stringMatching(/^took over the stale lock .*ck\/\.lock of run deadbeef \(pid \d+ is gone\)$/)]);
    expect(existsSync(join(dir, 'ck', '.lock'))).toBe(false);
    // the log is locked too: a live lock beside it refuses the run
    const d2 = workDir();
    mkdirSync(join(d2, 'out'));
    writeFileSync(join(d2, 'out', 'metrics.jsonl.lock'), JSON.stringify({ pid: process.ppid, run: 'cafe0001', host: hostname(), started: '' }));
    expect((await rejects(runTrain(spec(steps(2), ['  checkpoint "ck"\n', '']), { baseDir: d2 }))).code).toBe('LMP_E_RUN_LOCKED');
  }, 60_000);

  it('every log line carries the run id; successive runs into one log are told apart', async () => {
    const dir = workDir();
    const s = spec(steps(2), ['  checkpoint "ck"\n', '']);
    const a = await runTrain(s, { baseDir: dir });
    const b = await runTrain(s, { baseDir: dir });
    expect(a.run).toMatch(/^[0-9a-f]{8}$/);
    expect(b.run).not.toBe(a.run);
    expect(logLines(dir).map((l) => `${l.run}:${l.step}`)).toEqual([`${a.run}:1`, `${a.run}:2`, `${b.run}:1`, `${b.run}:2`]);
  }, 60_000);
});

describe('unwritable outputs', () => {
  it('a checkpoint or log folder that cannot be created is LMP0906 before step 1', async () => {
    const dir = workDir();
    writeFileSync(join(dir, 'f'), 'a file, not a folder');
    const progress: Progress[] = [];
    const ck = await rejects(runTrain(spec(steps(2), ['checkpoint "ck"', 'checkpoint "f/ck"']), { baseDir: dir, onProgress: (p) => progress.push(p) }));
    expect(ck.code).toBe('LMP0906');
    expect(ck.message).toMatch(/^error in train t \(t\.lmp:\d+:1\): cannot create directory '.*f\/ck': '.*f' is not a directory$/);
    const log = await rejects(runTrain(spec(steps(2), ['log "out/metrics.jsonl"', 'log "f/metrics.jsonl"']), { baseDir: dir, onProgress: (p) => progress.push(p) }));
    expect(log.code).toBe('LMP0906');
    expect(log.message).toMatch(/cannot create directory '.*\/f': a file with that name exists$/);
    expect(progress).toEqual([]);
    // nothing was left behind in the checkpoint folder of the second attempt
    expect(readdirSync(join(dir, 'ck'))).toEqual([]);
  }, 60_000);
});

describe('eval every N: NAME', () => {
  it('reports the same per-length breakdown as the inline form', async () => {
    const s = spec(
      steps(4),
      ['  pack decompose', '  holdout 30% seed 5\n  pack decompose'],
      ['  checkpoint "ck"\n', '  eval every 2: perplexity(d.holdout, by: length)\n  eval every 2: pp\n'],
      [/$/, '\neval pp {\n  task perplexity(d.holdout, by: length)\n  using m\n}\n'],
    );
    const r = await runTrain(s, { baseDir: workDir() });
    expect(r.evals.map((e) => e.step)).toEqual([2, 4]);
    expect(r.evalBlocks.map((e) => e.step)).toEqual([2, 4]);
    for (let i = 0; i < 2; i++) {
      const inline = r.evals[i]!, block = r.evalBlocks[i]!;
      expect(inline.by_length.length).toBeGreaterThan(1);
      expect(block.cells.map((c) => [c.length, c.tokens, c.metrics.perplexity])).toEqual(inline.by_length.map((b) => [b.length, b.tokens, b.ppl]));
      expect(formatEvalBlock(block)).toMatch(/^eval pp \(perplexity\) step \d: perplexity \d+\.\d{4}, loss \d+\.\d{4} \(by length /);
      expect(formatEvalBlock(block).endsWith(evalBreakdown(inline))).toBe(true);
    }
  }, 60_000);
});
