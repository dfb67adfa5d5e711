// Training: AdamW (decoupled weight decay, bias correction), global-norm gradient clipping,
// gradient accumulation, LR schedules, a JSONL metrics log, atomic checkpoints and exact resume.
//
// Batches come from any iterator of PackedBatch (llama.ts documents the fields). A source may
// also implement BatchSource.state()/restore() so a checkpoint records where it was; a plain
// iterator is resumed by replaying it from the start and skipping the batches already used
// (so it must be deterministic). Each optimizer step consumes `accumSteps` batches; the step
// loss is the weighted-mean cross-entropy over all of them.
//
// Checkpoints: with a checkpoint directory, every `checkpointEvery` steps and always after the
// last step (totalSteps); a checkpoint is written to a temp folder and renamed, then `latest`
// points at it. Write failures are coded (LMP0906, the catalog's "cannot write").
//
// Determinism: every native reduction uses a fixed order, so with the same thread count a
// run killed and resumed from a checkpoint gives bit-identical losses and weights.
//
// Backend: 'cpu' (default) or 'cuda' (cuda-llama.ts: forward, backward, clipping and AdamW on the
// device; the periodic evals run there too (CudaLlama.tokenLosses); model.params and the moments
// are brought back for checkpoints and by syncModel()). Checkpoints are the same files either
// way, so each backend resumes the other's.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appendJsonl, ensureDir, writeError } from '../fsutil.js';
import { CudaLlama, type CudaModelOptions } from './cuda-llama.js';
import { kernels } from './kernels.js';
import { evaluate, formatProgress, type EvalResult } from './eval.js';
import { latestCheckpoint, loadModel, saveModel } from './io.js';
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
  /** Run id written as `run` into every log line and into trainer.json (a resumed run keeps the checkpoint's). */
  runId?: string;
  checkpointDir?: string;
  checkpointEvery?: number;
  /** held-out evaluation every `every` steps (logged as {step, eval} to the metrics log) */
  eval?: { every: number; batches: () => Iterable<PackedBatch> };
  /** progress line per step: true = to stderr, or a callback */
  progress?: boolean | ((line: string) => void);
  /** where the steps run: 'cpu' (default) or 'cuda' (LMP_E_NO_DEVICE without a device) */
  backend?: 'cpu' | 'cuda';
  /** settings of the cuda backend (precision, deterministic attention backward) */
  cuda?: CudaModelOptions;
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
  /** totalSteps of the run that wrote it (the LR schedule depends on it) */
  totalSteps?: number;
  /** the run id that wrote it */
  run?: string;
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
  /** The checkpoint folder written last (saveCheckpoint), and its step. */
  lastCheckpoint: string | null = null;
  lastCheckpointStep = -1;
  /** The run id of the log lines (opts.runId, or the one restored from a checkpoint). */
  runId: string | undefined;
  private elapsedSec = 0;
  private tokensSeenThisRun = 0;
  private readonly K = kernels();
  private readonly src: BatchSource;
  /** the device copy (backend cuda) */
  readonly device: CudaLlama | undefined;
  /** model.params / m / v lag behind the device (backend cuda, after a step) */
  private hostStale = false;

  constructor(readonly model: LlamaModel, source: Iterator<PackedBatch> | BatchSource, readonly opts: TrainerOptions) {
    this.src = source as BatchSource;
    this.rng = new Rng(opts.seed ?? 0);
    this.runId = opts.runId;
    for (const [n, p] of model.params) {
      this.m.set(n, new Float32Array(p.length));
      this.v.set(n, new Float32Array(p.length));
    }
    if (opts.backend === 'cuda') this.device = new CudaLlama(model, opts.cuda);
  }

  /** Brings model.params and the AdamW moments up to date from the device (backend cuda; else nothing). */
  syncModel(): LlamaModel {
    if (this.device && this.hostStale) {
      this.device.syncToHost(this.m, this.v);
      this.hostStale = false;
    }
    return this.model;
  }

  /** What held-out losses are computed on: the device copy (backend cuda: no copy of the weights to the host), else the model. */
  evalEngine(): Pick<LlamaModel, 'tokenLosses'> {
    return this.device ?? this.model;
  }

  /** Frees the device copy (backend cuda) after bringing the host up to date. */
  close(): void {
    this.syncModel();
    this.device?.free();
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
    const clip = o.clip ?? 0;
    const wd = o.weightDecay ?? 0.1;
    const decay = (n: string): number => (n.endsWith('norm.weight') ? 0 : wd);
    let lossSum = 0, gradNorm: number, lr: number;
    const dev = this.device;
    if (dev) {
      dev.zeroGrads();
      for (const b of batches) dev.backward(b, scale);
      for (const l of dev.takeLossSums()) lossSum += l;
      this.step++;
      lr = lrAt(this.step, o.totalSteps, o.lr, o.schedule ?? { kind: 'constant' });
      gradNorm = dev.step({ lr, beta1: o.beta1 ?? 0.9, beta2: o.beta2 ?? 0.95, eps: o.eps ?? 1e-8, decay, step: this.step, clip });
      this.hostStale = true;
    } else {
      model.zeroGrads();
      for (const b of batches) lossSum += model.backward(b, scale).lossSum;
      // global gradient norm, fixed parameter order
      let ss = 0;
      for (const g of model.grads!.values()) ss += K.sumSquares(g);
      gradNorm = Math.sqrt(ss);
      const gradScale = clip > 0 && gradNorm > clip ? clip / (gradNorm + 1e-6) : 1;
      this.step++;
      lr = lrAt(this.step, o.totalSteps, o.lr, o.schedule ?? { kind: 'constant' });
      for (const [n, p] of model.params)
        K.adamw(p, model.grads!.get(n)!, this.m.get(n)!, this.v.get(n)!, lr, o.beta1 ?? 0.9, o.beta2 ?? 0.95, o.eps ?? 1e-8, decay(n), this.step, gradScale);
    }
    this.tokensSeen += tokens;
    const ms = performance.now() - t0;
    const metrics: StepMetrics = { step: this.step, loss: count > 0 ? lossSum / count : 0, lr, gradNorm, tokens, tokensPerSec: (tokens * 1000) / ms, ms };
    if (o.logPath) this.log(metrics);
    this.elapsedSec += ms / 1000;
    if (o.progress) {
      const line = formatProgress(this.step, o.totalSteps, metrics.loss, lr, (this.tokensSeenThisRun += tokens) / this.elapsedSec, this.elapsedSec);
      if (typeof o.progress === 'function') o.progress(line);
      else process.stderr.write('\r' + line + (this.step >= o.totalSteps ? '\n' : ''));
    }
    if (o.eval && this.step % o.eval.every === 0) {
      this.lastEval = evaluate(this.evalEngine(), o.eval.batches());
      if (o.logPath) this.log({ step: this.step, eval: this.lastEval });
    }
    if (o.checkpointDir && ((o.checkpointEvery && this.step % o.checkpointEvery === 0) || this.step === o.totalSteps)) this.saveCheckpoint(o.checkpointDir);
    return metrics;
  }

  /** Append one line to the metrics log, `run` first when the trainer has a run id. */
  log(record: object): void {
    if (!this.opts.logPath) return;
    appendJsonl(this.opts.logPath, this.runId !== undefined ? { run: this.runId, ...record } : record);
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
   * Failures are coded errors (LMP0906) naming the folder.
   */
  saveCheckpoint(dir: string): string {
    const name = `step-${String(this.step).padStart(8, '0')}`;
    const tmp = join(dir, `.${name}.tmp-${process.pid}`);
    const final = join(dir, name);
    this.syncModel();
    try {
      ensureDir(dir);
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp);
      saveModel(tmp, this.model);
      const opt: [string, { shape: number[]; data: Float32Array }][] = [];
      for (const [n, p] of this.m) opt.push(['m.' + n, { shape: [p.length], data: p }]);
      for (const [n, p] of this.v) opt.push(['v.' + n, { shape: [p.length], data: p }]);
      writeSafetensors(join(tmp, 'optimizer.safetensors'), opt);
      const state: TrainerState = {
        step: this.step, totalSteps: this.opts.totalSteps, ...(this.runId !== undefined ? { run: this.runId } : {}),
        rngState: this.rng.state, batchesConsumed: this.batchesConsumed, tokensSeen: this.tokensSeen,
        ...(this.src.state ? { sourceState: this.src.state() } : {}),
      };
      writeFileSync(join(tmp, 'trainer.json'), JSON.stringify(state, null, 2) + '\n');
      rmSync(final, { recursive: true, force: true });
      renameSync(tmp, final);
      writeFileAtomic(join(dir, 'latest'), name + '\n');
    } catch (e) {
      try {
        rmSync(tmp, { recursive: true, force: true });
      } catch {
        // the folder could not be made in the first place
      }
      throw writeError(final, e);
    }
    this.lastCheckpoint = final;
    this.lastCheckpointStep = this.step;
    return final;
  }

  /** The checkpoint folder dir/latest points at, or null when there is none. */
  static latest(dir: string): string | null {
    return latestCheckpoint(dir, (file, name) => checkpointError(`${file}: not a checkpoint name ('${name}')`));
  }

  /** step, totalSteps and run id of a checkpoint folder (its trainer.json). */
  static checkpointInfo(ck: string): { step: number; totalSteps: number | undefined; run: string | undefined } {
    const st = readState(ck);
    return { step: st.step, totalSteps: st.totalSteps, run: st.run };
  }

  /**
   * Continue from checkpoint folder `ck` (a step-<n> folder): weights (the checkpoint's
   * architecture must be this model's), optimizer moments, step, RNG, run id and the source's
   * position (restore() when the source supports it, else the batches already used are replayed:
   * `source` must be a fresh source of the same batch stream). Lines of the metrics log of this
   * run beyond the checkpoint's step are dropped, so the log reads as one run; lines of other runs stay.
   */
  restoreFrom(ck: string): this {
    const saved = loadModel(ck);
    const a = saved.config, b = this.model.config;
    const diff = (['dim', 'layers', 'heads', 'kvHeads', 'ffn', 'vocab', 'tieEmbeddings'] as const).filter((k) => a[k] !== b[k]);
    if (diff.length) throw checkpointError(`${ck}: the checkpoint's architecture differs from the model's (${diff.map((k) => `${k} ${String(a[k])} vs ${String(b[k])}`).join(', ')})`);
    for (const [n, p] of this.model.params) p.set(saved.params.get(n)!);
    const opt = readSafetensors(join(ck, 'optimizer.safetensors'));
    for (const [n] of this.model.params) {
      const m = opt.tensors.get('m.' + n), v = opt.tensors.get('v.' + n);
      if (!m || !v) throw checkpointError(`${ck}: optimizer state lacks '${n}'`);
      this.m.get(n)!.set(m.data);
      this.v.get(n)!.set(v.data);
    }
    if (this.device) {
      this.device.uploadParams();
      this.device.uploadMoments(this.m, this.v);
      this.hostStale = false;
    }
    const st = readState(ck);
    this.step = st.step;
    this.rng.state = st.rngState >>> 0;
    this.tokensSeen = st.tokensSeen;
    if (st.run !== undefined) this.runId = st.run;
    this.lastCheckpoint = ck;
    this.lastCheckpointStep = st.step;
    const src = this.src;
    if (src.restore && st.sourceState !== undefined) {
      src.restore(st.sourceState);
      this.batchesConsumed = st.batchesConsumed;
    } else {
      for (let i = 0; i < st.batchesConsumed; i++) this.nextBatch();
    }
    const logPath = this.opts.logPath;
    if (logPath && existsSync(logPath)) {
      const keep = readFileSync(logPath, 'utf8').split('\n').filter((l) => {
        if (!l.trim()) return false;
        let r: { run?: unknown; step?: unknown };
        try {
          r = JSON.parse(l) as { run?: unknown; step?: unknown };
        } catch {
          return true; // not ours to judge
        }
        const mine = r.run === undefined || r.run === this.runId;
        return !mine || typeof r.step !== 'number' || r.step <= st.step;
      });
      try {
        writeFileAtomic(logPath, keep.map((l) => l + '\n').join(''));
      } catch (e) {
        throw writeError(logPath, e);
      }
    }
    return this;
  }

  /**
   * Resume from dir/latest (restoreFrom): the model is rebuilt from the checkpoint's config.json
   * with `modelOpts`.
   */
  static resume(dir: string, source: Iterator<PackedBatch> | BatchSource, opts: TrainerOptions, modelOpts: ModelOptions = {}): Trainer {
    const ck = Trainer.latest(dir);
    if (!ck) throw checkpointError(`${dir}: no checkpoint (missing 'latest')`);
    return new Trainer(loadModel(ck, modelOpts), source, opts).restoreFrom(ck);
  }
}

const checkpointError = (message: string): Error => Object.assign(new Error(message), { code: 'LMP_E_CHECKPOINT' });

function readState(ck: string): TrainerState {
  try {
    const st = JSON.parse(readFileSync(join(ck, 'trainer.json'), 'utf8')) as TrainerState;
    if (!Number.isInteger(st.step) || st.step < 0 || !Number.isInteger(st.batchesConsumed)) throw new Error('step or batchesConsumed is missing');
    return st;
  } catch (e) {
    throw checkpointError(`${join(ck, 'trainer.json')}: ${(e as Error).message}`);
  }
}
