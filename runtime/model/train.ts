// Training: AdamW (decoupled weight decay, bias correction), global-norm gradient clipping,
// gradient accumulation, LR schedules, a JSONL metrics log, atomic checkpoints and exact resume.
//
// Batches come from any iterator of PackedBatch (llama.ts documents the fields). A source may
// also implement BatchSource.state()/restore() so a checkpoint records where it was; a plain
// iterator is resumed by replaying it from the start and skipping the batches already used
// (so it must be deterministic). Each optimizer step consumes `accumSteps` batches; the step
// loss is the weighted-mean cross-entropy over all of them.
//
// Determinism: every native reduction uses a fixed order, so with the same thread count a
// run killed and resumed from a checkpoint gives bit-identical losses and weights.
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureDir } from '../fsutil.js';
import { kernels } from './kernels.js';
import { evaluate, formatProgress, type EvalResult } from './eval.js';
import { loadModel, saveModel } from './io.js';
import type { LlamaModel, ModelOptions, PackedBatch } from './llama.js';
import { Rng } from './rng.js';
import { readSafetensors, writeFileAtomic, writeSafetensors } from './safetensors.js';

export type { PackedBatch } from './llama.js';

export interface BatchSource {
  next(): IteratorResult<PackedBatch>;
  /** JSON-serializable position of the source (stored in checkpoints) */
  state?(): unknown;
  restore?(state: unknown): void;
}

export interface LrSchedule {
  kind: 'constant' | 'linear' | 'cosine';
  /** linear warmup steps from 0 to the peak */
  warmup?: number;
  /** final LR as a fraction of the peak (linear and cosine decay to it); default 0 */
  finalFraction?: number;
}

/** LR at a 1-based step of `total` steps. */
export function lrAt(step: number, total: number, peak: number, s: LrSchedule): number {
  const warm = s.warmup ?? 0, fin = s.finalFraction ?? 0;
  if (warm > 0 && step <= warm) return (peak * step) / warm;
  if (s.kind === 'constant') return peak;
  const span = Math.max(1, total - warm);
  const p = Math.min(1, Math.max(0, (step - warm) / span));
  if (s.kind === 'linear') return peak * (1 - (1 - fin) * p);
  return peak * (fin + (1 - fin) * 0.5 * (1 + Math.cos(Math.PI * p)));
}

export interface TrainerOptions {
  lr: number;
  totalSteps: number;
  schedule?: LrSchedule;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** decoupled weight decay, applied to matrices (not to norm weights); default 0.1 */
  weightDecay?: number;
  /** global-norm clip; 0 or undefined = no clipping */
  clip?: number;
  accumSteps?: number;
  seed?: number;
  /** JSONL metrics log (one object per step) */
  logPath?: string;
  checkpointDir?: string;
  checkpointEvery?: number;
  /** held-out evaluation every `every` steps (logged as {step, eval} to the metrics log) */
  eval?: { every: number; batches: () => Iterable<PackedBatch> };
  /** progress line per step: true = to stderr, or a callback */
  progress?: boolean | ((line: string) => void);
}

export interface StepMetrics {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokens: number;
  tokensPerSec: number;
  ms: number;
}

interface TrainerState {
  step: number;
  rngState: number;
  batchesConsumed: number;
  sourceState?: unknown;
  tokensSeen: number;
}

export class Trainer {
  readonly m = new Map<string, Float32Array>();
  readonly v = new Map<string, Float32Array>();
  step = 0;
  batchesConsumed = 0;
  tokensSeen = 0;
  readonly rng: Rng;
  lastEval: EvalResult | undefined;
  private elapsedSec = 0;
  private tokensSeenThisRun = 0;
  private readonly K = kernels();
  private readonly src: BatchSource;

  constructor(readonly model: LlamaModel, source: Iterator<PackedBatch> | BatchSource, readonly opts: TrainerOptions) {
    this.src = source as BatchSource;
    this.rng = new Rng(opts.seed ?? 0);
    for (const [n, p] of model.params) {
      this.m.set(n, new Float32Array(p.length));
      this.v.set(n, new Float32Array(p.length));
    }
  }

  private nextBatch(): PackedBatch {
    const r = this.src.next();
    if (r.done) throw Object.assign(new Error('trainer: the batch source ran out'), { code: 'LMP_E_DATA_END' });
    this.batchesConsumed++;
    return r.value;
  }

  /** One optimizer step over accumSteps batches. */
  trainStep(): StepMetrics {
    const t0 = performance.now();
    const o = this.opts, model = this.model, K = this.K;
    const batches: PackedBatch[] = [];
    for (let i = 0; i < (o.accumSteps ?? 1); i++) batches.push(this.nextBatch());
    let count = 0, tokens = 0;
    for (const b of batches) {
      count += model.countTargets(b);
      tokens += b.tokens.length;
    }
    const scale = count > 0 ? 1 / count : 0;
    model.zeroGrads();
    let lossSum = 0;
    for (const b of batches) lossSum += model.backward(b, scale).lossSum;
    // global gradient norm, fixed parameter order
    let ss = 0;
    for (const g of model.grads!.values()) ss += K.sumSquares(g);
    const gradNorm = Math.sqrt(ss);
    const clip = o.clip ?? 0;
    const gradScale = clip > 0 && gradNorm > clip ? clip / (gradNorm + 1e-6) : 1;
    this.step++;
    const lr = lrAt(this.step, o.totalSteps, o.lr, o.schedule ?? { kind: 'constant' });
    const wd = o.weightDecay ?? 0.1;
    for (const [n, p] of model.params) {
      const decay = n.endsWith('norm.weight') ? 0 : wd;
      K.adamw(p, model.grads!.get(n)!, this.m.get(n)!, this.v.get(n)!, lr, o.beta1 ?? 0.9, o.beta2 ?? 0.95, o.eps ?? 1e-8, decay, this.step, gradScale);
    }
    this.tokensSeen += tokens;
    const ms = performance.now() - t0;
    const metrics: StepMetrics = { step: this.step, loss: count > 0 ? lossSum / count : 0, lr, gradNorm, tokens, tokensPerSec: (tokens * 1000) / ms, ms };
    if (o.logPath) appendFileSync(o.logPath, JSON.stringify(metrics) + '\n');
    this.elapsedSec += ms / 1000;
    if (o.progress) {
      const line = formatProgress(this.step, o.totalSteps, metrics.loss, lr, (this.tokensSeenThisRun += tokens) / this.elapsedSec, this.elapsedSec);
      if (typeof o.progress === 'function') o.progress(line);
      else process.stderr.write('\r' + line + (this.step >= o.totalSteps ? '\n' : ''));
    }
    if (o.eval && this.step % o.eval.every === 0) {
      this.lastEval = evaluate(model, o.eval.batches());
      if (o.logPath) appendFileSync(o.logPath, JSON.stringify({ step: this.step, eval: this.lastEval }) + '\n');
    }
    if (o.checkpointDir && o.checkpointEvery && this.step % o.checkpointEvery === 0) this.saveCheckpoint(o.checkpointDir);
    return metrics;
  }

  /** Train until totalSteps (or `steps` more); returns the metrics of each step. */
  run(steps = this.opts.totalSteps - this.step): StepMetrics[] {
    const out: StepMetrics[] = [];
    for (let i = 0; i < steps; i++) out.push(this.trainStep());
    return out;
  }

  /**
   * Write a checkpoint to dir/step-<n> (model.safetensors, config.json, optimizer.safetensors,
   * trainer.json) through a temp folder + rename, then point dir/latest at it atomically.
   */
  saveCheckpoint(dir: string): string {
    ensureDir(dir);
    const name = `step-${String(this.step).padStart(8, '0')}`;
    const tmp = join(dir, `.${name}.tmp-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    saveModel(tmp, this.model);
    const opt: [string, { shape: number[]; data: Float32Array }][] = [];
    for (const [n, p] of this.m) opt.push(['m.' + n, { shape: [p.length], data: p }]);
    for (const [n, p] of this.v) opt.push(['v.' + n, { shape: [p.length], data: p }]);
    writeSafetensors(join(tmp, 'optimizer.safetensors'), opt);
    const state: TrainerState = {
      step: this.step, rngState: this.rng.state, batchesConsumed: this.batchesConsumed, tokensSeen: this.tokensSeen,
      ...(this.src.state ? { sourceState: this.src.state() } : {}),
    };
    writeFileSync(join(tmp, 'trainer.json'), JSON.stringify(state, null, 2) + '\n');
    const final = join(dir, name);
    rmSync(final, { recursive: true, force: true });
    renameSync(tmp, final);
    writeFileAtomic(join(dir, 'latest'), name + '\n');
    return final;
  }

  /**
   * Resume from dir/latest. `source` must be a fresh source of the same batch stream: it is
   * restored from the saved state when it supports restore(), otherwise replayed. Lines of the
   * metrics log beyond the checkpoint's step are dropped, so the log reads as one run.
   */
  static resume(dir: string, source: Iterator<PackedBatch> | BatchSource, opts: TrainerOptions, modelOpts: ModelOptions = {}): Trainer {
    const latest = join(dir, 'latest');
    if (!existsSync(latest)) throw Object.assign(new Error(`${dir}: no checkpoint (missing 'latest')`), { code: 'LMP_E_CHECKPOINT' });
    const ck = join(dir, readFileSync(latest, 'utf8').trim());
    const model = loadModel(ck, modelOpts);
    const t = new Trainer(model, source, opts);
    const opt = readSafetensors(join(ck, 'optimizer.safetensors'));
    for (const [n] of model.params) {
      const m = opt.tensors.get('m.' + n), v = opt.tensors.get('v.' + n);
      if (!m || !v) throw Object.assign(new Error(`${ck}: optimizer state lacks '${n}'`), { code: 'LMP_E_CHECKPOINT' });
      t.m.get(n)!.set(m.data);
      t.v.get(n)!.set(v.data);
    }
    const st = JSON.parse(readFileSync(join(ck, 'trainer.json'), 'utf8')) as TrainerState;
    t.step = st.step;
    t.rng.state = st.rngState >>> 0;
    t.tokensSeen = st.tokensSeen;
    const src = source as BatchSource;
    if (src.restore && st.sourceState !== undefined) {
      src.restore(st.sourceState);
      t.batchesConsumed = st.batchesConsumed;
    } else {
      for (let i = 0; i < st.batchesConsumed; i++) t.nextBatch();
    }
    if (opts.logPath && existsSync(opts.logPath)) {
      const keep = readFileSync(opts.logPath, 'utf8').split('\n').filter((l) => l.trim() && (JSON.parse(l) as StepMetrics).step <= st.step);
      writeFileAtomic(opts.logPath, keep.map((l) => l + '\n').join(''));
    }
    return t;
  }
}
