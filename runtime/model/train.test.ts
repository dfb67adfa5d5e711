import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ModelConfig } from './config.js';
import { LlamaModel, type PackedBatch } from './llama.js';
import { lrAt, Trainer, type BatchSource, type StepMetrics } from './train.js';

const tmp = mkdtempSync(join(tmpdir(), 'lmp-train-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const TEXT = 'the quick brown fox jumps over the lazy dog. pack my box with five dozen liquor jugs.';
const CHARS = [...new Set(TEXT)].sort();
const enc = (s: string): number[] => [...s].map((c) => CHARS.indexOf(c));

function packed(docs: number[][]): PackedBatch {
  const tokens = docs.flat(), T = tokens.length;
  const docIds = new Int32Array(T), pos = new Int32Array(T);
  let t = 0;
  docs.forEach((d, i) => d.forEach((_, j) => { docIds[t] = i; pos[t] = j; t++; }));
  return { tokens: Int32Array.from(tokens), cuSeqlens: Int32Array.of(0, T), positionIds: pos, docIds, lossMask: new Uint8Array(T).fill(1) };
}

/** A deterministic stream of batches: random windows of the text, two documents per batch. */
function* stream(seed: number): Generator<PackedBatch> {
  let s = seed;
  const rnd = (n: number): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s % n;
  };
  const ids = enc(TEXT);
  for (;;) {
    const a = rnd(ids.length - 20), b = rnd(ids.length - 12);
    yield packed([ids.slice(a, a + 20), ids.slice(b, b + 12)]);
  }
}

/** A source with an explicit position (state/restore) instead of replay. */
class CountingSource implements BatchSource {
  pos = 0;
  nextCalls = 0;
  private readonly gen: PackedBatch[];
  constructor() {
    const g = stream(5);
    this.gen = Array.from({ length: 50 }, () => g.next().value as PackedBatch);
  }
  next(): IteratorResult<PackedBatch> {
    this.nextCalls++;
    return { done: false, value: this.gen[this.pos++]! };
  }
  state(): unknown {
    return { pos: this.pos };
  }
  restore(s: unknown): void {
    this.pos = (s as { pos: number }).pos;
  }
}

const cfg: ModelConfig = { dim: 32, layers: 2, heads: 4, kvHeads: 2, ffn: 64, vocab: CHARS.length, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: false };

describe('LR schedules (hand-computed)', () => {
  it('warmup, cosine to a fraction, linear, constant', () => {
    expect(lrAt(1, 100, 1, { kind: 'cosine', warmup: 10 })).toBeCloseTo(0.1, 12);
    expect(lrAt(10, 100, 1, { kind: 'cosine', warmup: 10 })).toBeCloseTo(1, 12);
    expect(lrAt(55, 100, 1, { kind: 'cosine', warmup: 10, finalFraction: 0.1 })).toBeCloseTo(0.1 + 0.9 * 0.5, 12);
    expect(lrAt(100, 100, 2, { kind: 'cosine', warmup: 10, finalFraction: 0.1 })).toBeCloseTo(0.2, 12);
    expect(lrAt(60, 110, 1, { kind: 'linear', warmup: 10 })).toBeCloseTo(0.5, 12);
    expect(lrAt(110, 110, 1, { kind: 'linear', warmup: 10, finalFraction: 0.2 })).toBeCloseTo(0.2, 12);
    expect(lrAt(7, 10, 3e-4, { kind: 'constant' })).toBe(3e-4);
  });
});

describe('Trainer', () => {
  it('a tiny model memorizes a short text within a bounded number of steps', () => {
    const ids = enc(TEXT);
    const batch = packed([ids]);
    const model = LlamaModel.init(cfg, 1);
    const tr = new Trainer(model, (function* () { for (;;) yield batch; })(), { lr: 1e-2, totalSteps: 150, schedule: { kind: 'cosine', warmup: 10, finalFraction: 0.1 }, clip: 1, weightDecay: 0 });
    const first = tr.trainStep().loss;
    expect(first).toBeGreaterThan(Math.log(CHARS.length) - 0.5);
    let last: StepMetrics | undefined;
    for (let i = 1; i < 150; i++) {
      last = tr.trainStep();
      if (last.loss < 0.05) break;
    }
    expect(last!.loss).toBeLessThan(0.05);
    const again = model.loss(batch);
    expect(again.lossSum / again.count).toBeLessThan(0.05);
  });

  it('gradient accumulation over two half batches equals one step over the whole', () => {
    const docsA = [enc('the quick brown fox'), enc('lazy dog')], docsB = [enc('pack my box'), enc('five dozen jugs')];
    const one = LlamaModel.init(cfg, 2), two = LlamaModel.init(cfg, 2);
    // one batch with two sequences == two accumulated batches of one sequence each
    const a = packed(docsA), b = packed(docsB);
    const both: PackedBatch = {
      tokens: Int32Array.from([...a.tokens, ...b.tokens]), cuSeqlens: Int32Array.of(0, a.tokens.length, a.tokens.length + b.tokens.length),
      positionIds: Int32Array.from([...a.positionIds, ...b.positionIds]), docIds: Int32Array.from([...a.docIds, ...b.docIds.map((d) => d + 2)]),
      lossMask: new Uint8Array(a.tokens.length + b.tokens.length).fill(1),
    };
    const t1 = new Trainer(one, [both][Symbol.iterator](), { lr: 1e-3, totalSteps: 1, clip: 0.5 });
    const t2 = new Trainer(two, [a, b][Symbol.iterator](), { lr: 1e-3, totalSteps: 1, clip: 0.5, accumSteps: 2 });
    const m1 = t1.trainStep(), m2 = t2.trainStep();
    expect(m2.loss).toBeCloseTo(m1.loss, 5);
    expect(m2.gradNorm).toBeCloseTo(m1.gradNorm, 5);
    for (const [n, p] of one.params) {
      const q = two.params.get(n)!;
      for (let i = 0; i < p.length; i++) expect(Math.abs(p[i]! - q[i]!)).toBeLessThan(1e-6);
    }
  });

  it('a killed-and-resumed run gives the same loss curve and weights as an uninterrupted one (bit-exact)', () => {
    const opts = (dir: string) => ({
      lr: 3e-3, totalSteps: 6, schedule: { kind: 'cosine' as const, warmup: 2, finalFraction: 0.1 }, clip: 1, accumSteps: 2, seed: 7,
      checkpointDir: join(tmp, dir), checkpointEvery: 3, logPath: join(tmp, dir + '.jsonl'),
    });
    const full = new Trainer(LlamaModel.init(cfg, 3), stream(11), opts('full'));
    const curve = full.run().map((m) => m.loss);
    // interrupted: 4 steps (checkpoint at 3, then one more step that is lost), then resume
    const first = new Trainer(LlamaModel.init(cfg, 3), stream(11), opts('cut'));
    first.run(4);
    const resumed = Trainer.resume(join(tmp, 'cut'), stream(11), opts('cut'));
    expect(resumed.step).toBe(3);
    const rest = resumed.run().map((m) => m.loss);
    expect(resumed.step).toBe(6);
    expect(rest).toEqual(curve.slice(3));
    for (const [n, p] of full.model.params)
      expect(Buffer.compare(Buffer.from(p.buffer), Buffer.from(resumed.model.params.get(n)!.buffer)), n).toBe(0);
    const log = (d: string): number[] => readFileSync(join(tmp, d + '.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as StepMetrics).loss);
    expect(log('cut')).toEqual(log('full'));
    expect(log('full')).toEqual(curve);
    expect(readFileSync(join(tmp, 'cut', 'latest'), 'utf8').trim()).toBe('step-00000006');
  });

  it('resumes a stateful source through restore() without replaying it', () => {
    const o = { lr: 3e-3, totalSteps: 4, accumSteps: 2, checkpointDir: join(tmp, 'src'), checkpointEvery: 2 };
    const full = new Trainer(LlamaModel.init(cfg, 4), new CountingSource(), o).run().map((m) => m.loss);
    new Trainer(LlamaModel.init(cfg, 4), new CountingSource(), o).run(3);
    const src = new CountingSource();
    const resumed = Trainer.resume(join(tmp, 'src'), src, o);
    expect(src.pos).toBe(4);
    expect(src.nextCalls).toBe(0);
    expect(resumed.run().map((m) => m.loss)).toEqual(full.slice(2));
  });

  it('checkpoints every N steps and always after the last one; without every only the last', () => {
    const o = (dir: string, every?: number) => ({ lr: 3e-3, totalSteps: 5, checkpointDir: join(tmp, dir), ...(every ? { checkpointEvery: every } : {}) });
    new Trainer(LlamaModel.init(cfg, 5), stream(3), o('every2', 2)).run();
    expect(readdirSync(join(tmp, 'every2')).sort()).toEqual(['latest', 'step-00000002', 'step-00000004', 'step-00000005']);
    const t = new Trainer(LlamaModel.init(cfg, 5), stream(3), o('last'));
    t.run();
    expect(readdirSync(join(tmp, 'last')).sort()).toEqual(['latest', 'step-00000005']);
    expect([t.lastCheckpoint, t.lastCheckpointStep]).toEqual([join(tmp, 'last', 'step-00000005'), 5]);
  });

  it('log lines carry the run id; a resume drops only its own run\'s lines past the checkpoint and keeps the id', () => {
    const log = join(tmp, 'runs.jsonl');
    writeFileSync(log, JSON.stringify({ run: 'older', step: 9, loss: 1 }) + '\n');
    const o = { lr: 3e-3, totalSteps: 4, checkpointDir: join(tmp, 'runs'), checkpointEvery: 2, logPath: log };
    new Trainer(LlamaModel.init(cfg, 6), stream(4), { ...o, runId: 'first' }).run(3);
    appendFileSync(log, JSON.stringify({ run: 'other', step: 7, loss: 2 }) + '\n');
    const resumed = Trainer.resume(join(tmp, 'runs'), stream(4), { ...o, runId: 'second' });
    expect([resumed.step, resumed.runId]).toEqual([2, 'first']);
    resumed.run();
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { run: string; step: number });
    expect(lines.map((l) => `${l.run}:${l.step}`)).toEqual(['older:9', 'first:1', 'first:2', 'other:7', 'first:3', 'first:4']);
    expect(Object.keys(lines[1]!)[0]).toBe('run');
  });

  it('restoring a checkpoint of another architecture, or writing one where no folder can be made, is a coded error', () => {
    const o = { lr: 3e-3, totalSteps: 1, checkpointDir: join(tmp, 'arch') };
    new Trainer(LlamaModel.init(cfg, 7), stream(5), o).run();
    const other = new Trainer(LlamaModel.init({ ...cfg, ffn: 48 }, 7), stream(5), o);
    expect(() => other.restoreFrom(Trainer.latest(join(tmp, 'arch'))!)).toThrow(expect.objectContaining({ code: 'LMP_E_CHECKPOINT', message: expect.stringContaining('ffn 64 vs 48') }));
    writeFileSync(join(tmp, 'plain-file'), 'x');
    const t = new Trainer(LlamaModel.init(cfg, 7), stream(5), { lr: 3e-3, totalSteps: 1 });
    t.trainStep();
    expect(() => t.saveCheckpoint(join(tmp, 'plain-file', 'ck'))).toThrow(expect.objectContaining({ code: 'LMP0906' }));
    expect(Trainer.latest(join(tmp, 'nothing-here'))).toBeNull();
  });
});
