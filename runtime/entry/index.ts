// Thin entry functions that a compiled .lmp file's entry points call with their resolved specs
// (spec.ts). They wire the runtime areas together and nothing more:
//   runTrain:  runtime/data (tokenizer, corpus, packer) -> runtime/curriculum (bucket schedule)
//              -> runtime/model (LlamaModel with the attention's mask, Trainer)
//   runDecode: runtime/model (KV-cache session as the logits source) -> runtime/decode (Decoder)
//   runEval:   eval.ts: runtime/eval's task generators and scorers through the decode (or model)
//              the block's `using` names; perplexity through runtime/model's evaluate
//   runOptimize: not landed yet -> a coded error naming what is missing.
// A spec whose `unsupported` list is not empty is refused with the same coded error
// (LMP_E_NO_RUNTIME), never run with parts of it silently ignored.
import { randomBytes } from 'node:crypto';
import { appendFileSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { CurriculumIterator, planBuckets } from '../curriculum/index.js';
import { loadCorpus, mixOrder } from '../data/corpus.js';
import { materialize, planPack, type PackedBatch as DataBatch } from '../data/pack.js';
import { loadTokenizer, type LmpTokenizer } from '../data/tokenizers.js';
import type { DataConfig, TokenizerConfig } from '../data/config.js';
import type { CurriculumConfig } from '../curriculum/config.js';
import type { LlamaModel, PackedBatch } from '../model/llama.js';
import { Trainer, type LrSchedule, type StepMetrics, type TrainerOptions } from '../model/train.js';
import { cudaDevices } from '../model/cuda-attention.js';
import { CudaLlama } from '../model/cuda-llama.js';
import { evaluate } from '../model/eval.js';
import { recordTokenizer } from '../model/io.js';
import { Rng } from '../data/rng.js';
import { ensureDir, writeError } from '../fsutil.js';
import { masksByDocument, RankBalancer, trainCostModel, type RankBalanceReport } from './ranks.js';
import { evalBreakdown, formatEvalBlock } from './format.js';
import { acquireLock } from './lock.js';
import type { AnySpec, DataSpec, DecodeSpec, EvalSpec, Frozen, OptimizeSpec, TrainBackend, TrainEvalSpec, TrainSpec } from './spec.js';
import { runEvalWith, type EvalRunResult } from './eval.js';
import { assertSupported, buildModel, context, failIn, RuntimeEntryError, thaw } from './common.js';
import { runDecodeSpec, type DecodeRunResult } from './decode.js';

export * from './spec.js';
export type { EvalRunResult } from './eval.js';
export type { DecodeRunResult, DecodePromptResult, SpeculationStats, CascadeStage, TraceStep, DecodeModelInfo } from './decode.js';
export { RuntimeEntryError, assertSupported } from './common.js';
export { formatEvalBlock } from './format.js';

export interface Progress {
  readonly target: string;
  readonly phase: 'data' | 'train' | 'decode' | 'eval';
  readonly step: number;
  readonly total: number;
  readonly loss?: number;
  /** phase 'train': tokens per second of the steps so far (this process), seconds since the first
   *  step of this process, and the estimated seconds left (wall time per step, evals included). */
  readonly tokensPerSec?: number;
  readonly elapsedSec?: number;
  readonly etaSec?: number;
  /** phase 'eval': the one-line summary of a periodic eval ("eval perplexity speeches.holdout step 50: loss .. ppl .."). */
  readonly message?: string;
}

/** Models trained in this process, by model name: a decode after a train uses the trained weights. */
export class Session {
  readonly models = new Map<string, LlamaModel>();
  /** Held-out data packed for perplexity evals, by data spec and split/by/folder/vocabulary: a
   *  train that runs a perplexity eval declaration every N steps tokenizes and packs it once. */
  readonly evalData = new WeakMap<object, Map<string, Promise<PreparedEval>>>();
}

/** prepareEval, once per session for the same data spec, split side, grouping, folder and vocabulary. */
function preparedFor(session: Session | undefined, ev: Frozen<TrainEvalSpec>, baseDir: string, vocab: number): Promise<PreparedEval> {
  const p = ev.perplexity!;
  if (!session) return prepareEval(ev, baseDir, vocab);
  const key = `${p.split}|${p.by}|${baseDir}|${vocab}`;
  let byKey = session.evalData.get(p.data);
  if (!byKey) session.evalData.set(p.data, (byKey = new Map()));
  let r = byKey.get(key);
  if (!r) {
    r = prepareEval(ev, baseDir, vocab);
    byKey.set(key, r);
    r.catch(() => byKey!.delete(key)); // a failure is not remembered
  }
  return r;
}

export interface RunOptions {
  /** Folder that relative paths of the specs (data root, checkpoints, logs) resolve against; default cwd. */
  readonly baseDir?: string;
  readonly session?: Session;
  readonly onProgress?: (p: Progress) => void;
  /** Optimizer steps to run instead of the spec's `steps` (tests, smoke runs). */
  readonly steps?: number;
  /**
   * Every declaration of the file by name (lmpc run passes them): where an eval finds the decode
   * or model its `using` names and the data its perplexity task reads.
   */
  readonly specs?: ReadonlyMap<string, Frozen<AnySpec>>;
  /**
   * Train: once aborted, the run stops after the step in progress (and its evals), writes a
   * checkpoint (the train's checkpoint folder, else `checkpointDir`) and returns with
   * `interrupted` set. Its `reason`, when a string, is reported ("SIGINT").
   */
  readonly signal?: AbortSignal;
  /** Train: continue from the checkpoint folder's `latest` (LMP_E_RESUME when there is none). */
  readonly resume?: boolean;
  /** Train without a `checkpoint` clause: where an interrupted run saves and a resumed one looks
   *  (lmpc run: .lmp-cache/checkpoints/NAME); cleared when a run resumed from it completes. */
  readonly checkpointDir?: string;
  /** Notes that are not errors (a stale lock taken over, a resume with other total steps). */
  readonly onNote?: (message: string) => void;
  /** Train: where the steps run, instead of the spec's `backend` (lmpc run --backend). */
  readonly backend?: TrainBackend;
  /** Decode: prompts from data decoded together on the CPU, up to this many (DecodeOptions.batch; default 16, 1: one at a time). */
  readonly decodeBatch?: number;
}

/** One periodic eval of a train (also a line of the metrics log). */
export interface TrainEvalRecord {
  readonly step: number;
  readonly eval: 'perplexity';
  /** "D.holdout" / "D.train" */
  readonly data: string;
  /** Per packer bucket length (by: length; empty for by: none): predicted tokens, mean loss, exp(loss). */
  readonly by_length: readonly { readonly length: number; readonly tokens: number; readonly loss: number; readonly ppl: number }[];
  /** by: position: per context length at the prediction (position id + 1) in power-of-two ranges
   *  (position/2, position]; empty otherwise. */
  readonly by_position: readonly { readonly position: number; readonly tokens: number; readonly loss: number; readonly ppl: number }[];
  readonly overall: { readonly tokens: number; readonly loss: number; readonly ppl: number };
}

/** `eval every N: NAME` (an eval declaration) run with the model being trained, at one step. */
export interface TrainEvalBlockRecord {
  readonly step: number;
  readonly eval: string;
  readonly task: string;
  readonly metrics: EvalRunResult['metrics'];
  /** The eval's per-cell results (per length bucket for perplexity; per length/depth for the generated tasks). */
  readonly cells: EvalRunResult['cells'];
}

export interface TrainResult {
  readonly kind: 'train';
  readonly target: string;
  /** Where the steps ran (the train's backend, `auto` resolved). */
  readonly backend: 'cpu' | 'cuda';
  /** The run id (in every line of the metrics log; a resumed run keeps the checkpoint's). */
  readonly run: string;
  /** The step the run ended at (= totalSteps unless interrupted). */
  readonly steps: number;
  readonly totalSteps: number;
  /** The checkpoint step this process continued from (0: a fresh run). */
  readonly resumedFrom: number;
  /** The checkpoint folder written last (or resumed from), else null. */
  readonly checkpoint: string | null;
  /** Set when options.signal stopped the run: why, and the checkpoint written for it (null: nowhere to write). */
  readonly interrupted: { readonly reason: string; readonly checkpoint: string | null } | null;
  /** Tokens per second of this process's optimizer steps (step time, evals excluded). */
  readonly tokensPerSec: number;
  readonly epochs: number;
  readonly tokens: number;
  readonly firstLoss: number;
  readonly finalLoss: number;
  /** Loss of each step this process ran (steps resumedFrom+1 ..). */
  readonly losses: readonly number[];
  /** Periodic evals in step order (every N steps and after the last step). */
  readonly evals: readonly TrainEvalRecord[];
  /** Periodic eval declarations (`eval every N: NAME`) in step order, with the model as trained so far. */
  readonly evalBlocks: readonly TrainEvalBlockRecord[];
  /** `ranks R` (train or curriculum), R > 1: the steps' cost-balanced vs token-balanced assignment to R ranks (runtime/entry/ranks.ts). */
  readonly ranks: RankBalanceReport | null;
  readonly params: number;
  readonly seconds: number;
}

export type RunResult = TrainResult | DecodeRunResult | EvalRunResult;

/** Resolves after pending I/O and expired timers have had their turn (setImmediate). */
const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

function toModelBatch(b: DataBatch): PackedBatch {
  return { tokens: b.tokens, cuSeqlens: b.cuSeqlens, positionIds: b.positionIds, docIds: b.docIds, lossMask: b.lossMask };
}

/** Sequences per eval batch: up to this many tokens (or one sequence when it is longer). */
const EVAL_BATCH_TOKENS = 16384;

interface PreparedEval {
  readonly spec: Frozen<TrainEvalSpec>;
  readonly label: string;
  /** Batches per packer bucket length, every sequence of that side of the split once. */
  readonly buckets: readonly { readonly length: number; readonly batches: readonly PackedBatch[] }[];
}

/** Pack one side of a data declaration's split with its own packer, bucket by bucket, once. */
async function prepareEval(ev: Frozen<TrainEvalSpec>, baseDir: string, vocab: number): Promise<PreparedEval> {
  const p = ev.perplexity!;
  const ds: Frozen<DataSpec> = p.data;
  assertSupported('data', ds.name, ds.where, ds.unsupported);
  const label = `${ds.name}.${p.split}`;
  const cfg = thaw<DataConfig>(ds.config);
  cfg.root = resolve(baseDir, cfg.root);
  const tok = await loadTokenizer(cfg.tokenizer, cfg.root);
  if (tok.vocabSize > vocab) throw new Error(`eval data ${label}: tokenizer vocabulary (${tok.vocabSize}) exceeds the model's (${vocab})`);
  const corpus = await loadCorpus(cfg, tok, p.split);
  const order = mixOrder(corpus.source, cfg.sources.map((s) => s.weight), cfg.seed);
  const plan = planPack(corpus, order, cfg.pack, tok.eot, cfg.seed);
  if (plan.numSeqs === 0) throw new Error(`eval data ${label} has no sequences (${p.split === 'holdout' ? `holdout ${ds.config.holdout.fraction} of the documents held out none that the packer keeps` : 'empty training side'})`);
  const { members } = planBuckets(plan);
  const buckets: { length: number; batches: PackedBatch[] }[] = [];
  for (const [length, ids] of [...members.entries()].sort((a, b) => a[0] - b[0])) {
    const per = Math.max(1, Math.floor(EVAL_BATCH_TOKENS / Math.max(1, plan.seqLength[ids[0]!]!)));
    const batches: PackedBatch[] = [];
    for (let i = 0; i < ids.length; i += per) batches.push(toModelBatch(materialize(plan, corpus.tokens, ids.subarray(i, i + per))));
    buckets.push({ length, batches });
  }
  return { spec: ev, label, buckets };
}

/** Mean token loss per bucket and overall (token-weighted) with the model as it is now. */
function runEvalOnce(model: Pick<LlamaModel, 'tokenLosses'>, ev: PreparedEval, step: number): TrainEvalRecord {
  const by: { length: number; tokens: number; loss: number; ppl: number }[] = [];
  const pos = new Map<number, { sum: number; tokens: number }>();
  let sum = 0, tokens = 0;
  for (const b of ev.buckets) {
    const r = evaluate(model, b.batches);
    if (r.tokens > 0) {
      sum += r.loss * r.tokens;
      tokens += r.tokens;
    }
    by.push({ length: b.length, tokens: r.tokens, loss: r.loss, ppl: r.ppl });
    for (const p of r.byPosition) {
      const acc = pos.get(p.maxPosition) ?? { sum: 0, tokens: 0 };
      acc.sum += p.loss * p.tokens;
      acc.tokens += p.tokens;
      pos.set(p.maxPosition, acc);
    }
  }
  const loss = tokens > 0 ? sum / tokens : NaN;
  const mode = ev.spec.perplexity!.by;
  const byPosition = [...pos.entries()].sort((x, y) => x[0] - y[0]).map(([position, a]) => ({ position, tokens: a.tokens, loss: a.sum / a.tokens, ppl: Math.exp(a.sum / a.tokens) }));
  return { step, eval: 'perplexity', data: ev.label, by_length: mode === 'length' ? by : [], by_position: mode === 'position' ? byPosition : [], overall: { tokens, loss, ppl: Math.exp(loss) } };
}

/** "eval perplexity speeches.holdout step 50: loss 2.1234 ppl 8.36 (256: 8.9, 512: 8.1)" */
export function formatEval(r: TrainEvalRecord): string {
  return `eval perplexity ${r.data} step ${r.step}: loss ${r.overall.loss.toFixed(4)} ppl ${r.overall.ppl.toFixed(2)} over ${r.overall.tokens} tokens${evalBreakdown(r)}`;
}

/** A short random run id ("3f9a0c1e"). */
export function newRunId(): string {
  return randomBytes(4).toString('hex');
}

/** The curriculum seed a train uses: its own `seed` mixed into the curriculum's (train seed 0: unchanged). */
export function batchOrderSeed(curriculumSeed: number, trainSeed: number): number {
  return trainSeed === 0 ? curriculumSeed : new Rng(curriculumSeed, 0x74726e73, trainSeed).u32();
}

/**
 * The curriculum a train runs over its packed buckets (`bucketLengths`), as runTrain and the
 * PyTorch export's train.py run it: the spec's, with ranks 1 (one process trains each step's whole
 * global batch: every rank's share, in rank order) and the train's seed mixed in (batchOrderSeed).
 * No curriculum over data whose lengths depend on the documents (prepack: tokens_per_step 0): one
 * sequence of the longest bucket per step, known once the data is packed. `ranks`: the
 * curriculum's own (what a train without `ranks` reports).
 */
export function trainCurriculum(spec: Frozen<TrainSpec>, bucketLengths: readonly number[]): { readonly curriculum: CurriculumConfig; readonly ranks: number } {
  const cur = thaw<CurriculumConfig>(spec.curriculum.config);
  if (cur.tokensPerStep === 0 && spec.curriculum.name === null && bucketLengths.length) cur.tokensPerStep = Math.max(...bucketLengths);
  return { curriculum: { ...cur, ranks: 1, seed: batchOrderSeed(cur.seed, spec.seed) }, ranks: cur.ranks };
}

/**
 * Checks and locks a train's outputs before any data is read: the checkpoint folder and the log's
 * folder are created (ensureDir, LMP0906), each gets a lock file (lock.ts: LMP_E_RUN_LOCKED when
 * another live run holds it; creating it is the writability check), the log is opened for
 * appending. Returns the release function.
 */
function lockOutputs(ckDir: string | null, logPath: string | undefined, run: string, note: (m: string) => void): () => void {
  const releases: (() => void)[] = [];
  const release = (): void => {
    for (const r of releases.splice(0).reverse()) r();
  };
  try {
    if (ckDir) {
      ensureDir(ckDir);
      releases.push(acquireLock(resolve(ckDir, '.lock'), run, `checkpoint folder ${ckDir}`, note));
    }
    if (logPath) {
      ensureDir(dirname(logPath));
      releases.push(acquireLock(`${logPath}.lock`, run, `metrics log ${logPath}`, note));
      try {
        appendFileSync(logPath, '');
      } catch (e) {
        throw writeError(logPath, e);
      }
    }
  } catch (e) {
    release();
    throw e;
  }
  return release;
}

export async function runTrain(spec: Frozen<TrainSpec>, options: RunOptions = {}): Promise<TrainResult> {
  const t0 = performance.now();
  const name = spec.name ?? 'train';
  assertSupported('train', spec.name, spec.where, spec.unsupported);
  assertSupported('data', spec.data.name, spec.data.where, spec.data.unsupported);
  assertSupported('curriculum', spec.curriculum.name, spec.curriculum.where, spec.curriculum.unsupported);
  const baseDir = options.baseDir ?? process.cwd();
  const data = thaw<DataConfig>(spec.data.config);
  data.root = resolve(baseDir, data.root);
  const fail = failIn('train', spec.name, spec.where);
  const coded = (code: string, message: string): never => fail(Object.assign(new Error(message), { code }));
  const note = options.onNote ?? (() => {});
  // Outputs first: a folder that cannot be written fails now, not after the data is packed.
  const ckDir = spec.checkpoint ? resolve(baseDir, spec.checkpoint.dir) : null;
  const slot = !ckDir && options.checkpointDir ? resolve(options.checkpointDir) : null;
  const logPath = spec.log ? resolve(baseDir, spec.log) : undefined;
  const steps = options.steps ?? spec.steps;
  let run = newRunId();
  let release: () => void = () => {};
  let resumeFrom: string | null = null;
  try {
    release = lockOutputs(ckDir, logPath, run, note);
    const from = ckDir ?? slot;
    const latest = from ? Trainer.latest(from) : null;
    const mode = options.resume ? 'required' : spec.resume === 'auto' ? 'auto' : 'none';
    if (mode === 'required' && !from) coded('LMP_E_RESUME', 'nothing to resume: the train has no checkpoint folder (add `checkpoint "dir"` to it)');
    if (mode === 'required' && !latest) coded('LMP_E_RESUME', `nothing to resume: ${from} holds no checkpoint (no 'latest')`);
    if (mode === 'none' && latest) {
      const info = Trainer.checkpointInfo(latest);
      const what = slot ? `an interrupted run of this train is saved in ${slot}` : `the checkpoint folder ${ckDir} already holds a run`;
      coded(
        'LMP_E_CHECKPOINT_EXISTS',
        `${what} (${latest.slice(from!.length + 1)}: step ${info.step}${info.totalSteps ? ` of ${info.totalSteps}` : ''}${info.run ? `, run ${info.run}` : ''}); ` +
          `continue it with \`lmpc run --resume\` (or \`resume auto\` in the train block), or delete ${from} (or choose another checkpoint folder) to start over`,
      );
    }
    if (latest) {
      const info = Trainer.checkpointInfo(latest);
      if (info.step > steps) coded('LMP_E_RESUME', `${latest} is at step ${info.step}, past this run's ${steps} steps`);
      if (info.totalSteps !== undefined && info.totalSteps !== steps) note(`resuming ${latest} (written by a run of ${info.totalSteps} steps) with ${steps} steps${spec.schedule.decay !== 'constant' ? `: the ${spec.schedule.decay} learning-rate schedule differs from the original run's` : ''}`);
      resumeFrom = latest;
    }
  } catch (e) {
    release();
    return fail(e);
  }
  try {
    let tok: LmpTokenizer;
    try {
      options.onProgress?.({ target: name, phase: 'data', step: 0, total: 1 });
      tok = await loadTokenizer(data.tokenizer, data.root);
      // the model's own `vocab TOKENIZER` must be the tokenizer it is trained on
      const own = spec.model.tokenizer ? await loadTokenizer(thaw<TokenizerConfig>(spec.model.tokenizer.config), baseDir) : null;
      if (own && own.id !== tok.id) coded('LMP_E_TOKENIZER', `model ${spec.model.name} reads tokenizer ${spec.model.tokenizer!.name ?? ''} (${own.id}), but data ${spec.data.name} is tokenized with ${tok.id}`);
    } catch (e) {
      return fail(e);
    }
    // vocab 0 (`vocab T` of a tokenizer whose size is known at load): the data tokenizer's size
    const { model } = await buildModel(spec.model, baseDir, tok.vocabSize);
    // the model records its tokenizer: checkpoints carry it (config.json, tokenizer.json beside the weights)
    recordTokenizer(model, { config: structuredClone(data.tokenizer), root: data.root, eos: tok.eot, bos: tok.bos });
    let batches: { next(): IteratorResult<PackedBatch> };
    const epochs = { n: 1 };
    let balancer: RankBalancer | null = null;
    try {
      if (tok.vocabSize > model.config.vocab) fail(new Error(`tokenizer vocabulary (${tok.vocabSize}) exceeds the model's (${model.config.vocab})`));
      const corpus = await loadCorpus(data, tok, 'train');
      const order = mixOrder(corpus.source, data.sources.map((s) => s.weight), data.seed);
      const plan = planPack(corpus, order, data.pack, tok.eot, data.seed);
      const { buckets, members } = planBuckets(plan);
      if (buckets.length === 0) coded('LMP_E_DATA_END', `data ${spec.data.name} packs to no sequence (${plan.numSeqs} sequences from ${corpus.source.length} documents with pack ${data.pack.kind}: are the documents longer than it keeps, or shorter than its filter?)`);
      // ranks 1 (`ranks` is measured by the balancer), the train's seed mixed in; no curriculum
      // over prepacked data: one sequence of the longest bucket per step (trainCurriculum)
      const { curriculum: cur, ranks } = trainCurriculum(spec, buckets.map((b) => b.length));
      const R = spec.ranks !== 1 ? spec.ranks : ranks;
      if (R > 1) balancer = new RankBalancer(R, trainCostModel(model.config), masksByDocument(spec.model.attention?.mask));
      // Each epoch is a fresh curriculum pass with the next seed (a weighted schedule ends after its cycles).
      let it = new CurriculumIterator(cur, buckets);
      batches = {
        next(): IteratorResult<PackedBatch> {
          let s = it.next();
          if (!s) {
            it = new CurriculumIterator({ ...cur, seed: cur.seed + epochs.n }, buckets);
            epochs.n++;
            s = it.next();
            if (!s) return { done: true, value: undefined };
          }
          const ids = members.get(s.length)!;
          const seqs = Array.from(s.sequences, (i) => ids[i]!);
          balancer?.step(plan, seqs);
          return { done: false, value: toModelBatch(materialize(plan, corpus.tokens, seqs)) };
        },
      };
    } catch (e) {
      return fail(e);
    }
    const prepared: PreparedEval[] = [];
    const blocks: Frozen<TrainEvalSpec>[] = [];
    try {
      for (const ev of spec.evals) {
        if (ev.evalSpec) {
          // The eval must run the model this train trains (its `using` decode's model, or the model itself).
          const u = ev.evalSpec.using;
          const target = u ? ev.evalSpec.refs[u.name] : undefined;
          const reached = target?.kind === 'decode' ? target.model?.name : target?.kind === 'model' ? target.name : undefined;
          if (reached !== spec.model.name)
            coded('LMP_E_EVAL_USING', `periodic eval ${ev.eval}: it runs model ${reached ?? '(none)'} (using ${u?.name ?? 'nothing'}), not the model this train trains (${spec.model.name ?? 'anonymous'})`);
          blocks.push(ev);
          continue;
        }
        if (!ev.perplexity) fail(new Error(`periodic eval ${ev.eval ?? ev.task?.task ?? '?'} cannot run`));
        prepared.push(await prepareEval(ev, baseDir, model.config.vocab));
      }
    } catch (e) {
      return fail(e);
    }
    const o = spec.optimizer;
    if (o.kind !== 'adamw') return fail(new Error('only adamw is supported'));
    const schedule: LrSchedule = { kind: spec.schedule.decay, warmup: spec.schedule.warmup, finalFraction: spec.schedule.finalFraction };
    const trainerOpts: TrainerOptions = {
      lr: o.lr,
      totalSteps: steps,
      schedule,
      beta1: o.beta1,
      beta2: o.beta2,
      eps: o.eps,
      weightDecay: o.weightDecay,
      clip: spec.clip ?? 0,
      accumSteps: spec.accumulate,
      seed: spec.seed,
      runId: run,
      ...(logPath ? { logPath } : {}),
      ...(ckDir ? { checkpointDir: ckDir, checkpointEvery: spec.checkpoint!.every } : {}),
    };
    let trainer: Trainer;
    try {
      trainer = newTrainer(model, batches, trainerOpts, options.backend ?? spec.backend ?? 'cpu', note);
    } catch (e) {
      return fail(e);
    }
    let resumedFrom = 0;
    try {
      if (resumeFrom) {
        trainer.restoreFrom(resumeFrom);
        resumedFrom = trainer.step;
        run = trainer.runId ?? run;
      }
    } catch (e) {
      return fail(e);
    }
    const metrics: StepMetrics[] = [];
    const evals: TrainEvalRecord[] = [];
    const evalBlocks: TrainEvalBlockRecord[] = [];
    // Eval declarations see the model being trained through a session holding it under its name.
    const live = new Session();
    if (spec.model.name) live.models.set(spec.model.name, model);
    let tokens = 0, stepSec = 0;
    let interrupted: TrainResult['interrupted'] = null;
    const tLoop = performance.now();
    const stopRequested = (): boolean => options.signal?.aborted === true;
    try {
      while (trainer.step < steps && !stopRequested()) {
        const m = trainer.trainStep();
        // Between optimizer steps, let the event loop run (timers, signal handlers, progress
        // output); results are unaffected: the step itself is synchronous native work.
        await yieldToLoop();
        metrics.push(m);
        tokens += m.tokens;
        stepSec += m.ms / 1000;
        const wall = (performance.now() - tLoop) / 1000;
        options.onProgress?.({
          target: name, phase: 'train', step: m.step, total: steps, loss: m.loss,
          tokensPerSec: stepSec > 0 ? tokens / stepSec : 0, elapsedSec: wall, etaSec: (wall / metrics.length) * (steps - m.step),
        });
        const due = (every: number): boolean => (every > 0 && m.step % every === 0) || m.step === steps;
        // perplexity on the trainer's engine (backend cuda: the device); eval blocks (decodes) on the synced host model
        if (blocks.some((ev) => due(ev.every))) trainer.syncModel();
        for (const ev of prepared) {
          if (!due(ev.spec.every)) continue;
          const r = runEvalOnce(trainer.evalEngine(), ev, m.step);
          evals.push(r);
          trainer.log(r);
          options.onProgress?.({ target: name, phase: 'eval', step: m.step, total: steps, loss: r.overall.loss, message: formatEval(r) });
        }
        for (const ev of blocks) {
          if (!due(ev.every)) continue;
          const r = await runEval(ev.evalSpec!, {
            baseDir, session: live, ...(options.specs ? { specs: options.specs } : {}), ...(options.onProgress ? { onProgress: options.onProgress } : {}),
            ...(options.backend ? { backend: options.backend } : {}), ...(options.onNote ? { onNote: options.onNote } : {}),
          });
          const rec: TrainEvalBlockRecord = { step: m.step, eval: ev.eval!, task: r.task, metrics: r.metrics, cells: r.cells };
          evalBlocks.push(rec);
          trainer.log(rec);
          options.onProgress?.({ target: name, phase: 'eval', step: m.step, total: steps, message: formatEvalBlock(rec) });
        }
      }
      if (trainer.step < steps) {
        // stopped by the signal: keep the work (a checkpoint of this step unless one was just written)
        const reason = options.signal?.reason;
        const dir = ckDir ?? slot;
        let written: string | null = trainer.lastCheckpointStep === trainer.step ? trainer.lastCheckpoint : null;
        if (!written && dir && trainer.step > 0) written = trainer.saveCheckpoint(dir);
        interrupted = { reason: typeof reason === 'string' ? reason : 'aborted', checkpoint: written };
      } else if (slot && resumeFrom) {
        // the interrupted run is complete: its slot holds nothing left to resume
        rmSync(slot, { recursive: true, force: true });
        trainer.lastCheckpoint = null;
      }
    } catch (e) {
      try {
        trainer.close();
      } catch {
        // the first error is the one to report
      }
      return fail(e);
    }
    try {
      trainer.close(); // the trained weights on the host for what runs next; device memory back
    } catch (e) {
      return fail(e);
    }
    if (spec.model.name) options.session?.models.set(spec.model.name, model);
    const losses = metrics.map((m) => m.loss);
    return {
      kind: 'train',
      target: name,
      backend: trainer.device ? 'cuda' : 'cpu',
      run,
      steps: trainer.step,
      totalSteps: steps,
      resumedFrom,
      checkpoint: trainer.lastCheckpoint,
      interrupted,
      tokensPerSec: stepSec > 0 ? tokens / stepSec : 0,
      epochs: epochs.n,
      tokens,
      firstLoss: losses[0] ?? NaN,
      finalLoss: losses[losses.length - 1] ?? NaN,
      losses,
      evals,
      evalBlocks,
      ranks: balancer?.report() ?? null,
      params: model.numParams(),
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    release();
  }
}

/** Whether `backend auto` falls back to the CPU after this device error (the model cannot run there, no device, out of device memory). */
const autoFallsBack = (e: unknown): boolean => ['LMP_E_CONFIG_UNSUPPORTED', 'LMP_E_NO_DEVICE', 'LMP_E_CUDA_OOM'].includes((e as { code?: string }).code ?? '');

/**
 * The trainer on the chosen backend. cuda: the device trainer, or its coded error (LMP_E_NO_DEVICE,
 * LMP_E_CONFIG_UNSUPPORTED). auto: cuda when the addon has it and the driver reports a device and
 * the model runs there, else cpu (a note says why when a device was there).
 */
function newTrainer(model: LlamaModel, batches: { next(): IteratorResult<PackedBatch> }, opts: TrainerOptions, backend: TrainBackend, note: (m: string) => void): Trainer {
  if (backend === 'cpu') return new Trainer(model, batches, opts);
  if (backend === 'cuda') return new Trainer(model, batches, { ...opts, backend: 'cuda' });
  if (cudaDevices().count === 0) return new Trainer(model, batches, opts);
  try {
    return new Trainer(model, batches, { ...opts, backend: 'cuda' });
  } catch (e) {
    if (!autoFallsBack(e)) throw e;
    note(`backend auto: training on the CPU (${(e as Error).message})`);
    return new Trainer(model, batches, opts);
  }
}

/**
 * fn on what computes a standalone perplexity eval's token losses: the model (cpu), its device copy
 * (cuda: LMP_E_NO_DEVICE / LMP_E_CONFIG_UNSUPPORTED when it cannot), or auto: the device when there
 * is one and the model runs there, else the model with a note. The device copy is freed after fn.
 */
function withLossEngine<R>(model: LlamaModel, backend: TrainBackend, note: (m: string) => void, fn: (engine: Pick<LlamaModel, 'tokenLosses'>, backend: 'cpu' | 'cuda') => R): R {
  let device: CudaLlama | undefined;
  if (backend === 'cuda') device = new CudaLlama(model, { train: false });
  else if (backend === 'auto' && cudaDevices().count > 0) {
    try {
      device = new CudaLlama(model, { train: false });
    } catch (e) {
      if (!autoFallsBack(e)) throw e;
      note(`backend auto: perplexity on the CPU (${(e as Error).message})`);
    }
  }
  if (!device) return fn(model, 'cpu');
  try {
    return fn(device, 'cuda');
  } finally {
    device.free();
  }
}

/** Runs a decode block (decode.ts): plain, speculative or a cascade, over one prompt or a data declaration of prompts (prepacked prefill). */
export async function runDecode(spec: Frozen<DecodeSpec>, options: RunOptions = {}): Promise<DecodeRunResult> {
  return runDecodeSpec(spec, { ...options, ...(options.decodeBatch !== undefined ? { batch: options.decodeBatch } : {}) });
}

/**
 * Runs an eval block (eval.ts): its task's samples through the decode or model `using` names
 * (resolved in `options.specs`), scored; or, for `perplexity(D.split)`, the same held-out loss a
 * train's periodic eval computes.
 */
export async function runEval(spec: Frozen<EvalSpec>, options: RunOptions = {}): Promise<EvalRunResult> {
  return runEvalWith(
    {
      perplexity: async (ev, model, baseDir) => {
        const prepared = await preparedFor(options.session, ev, baseDir, model.config.vocab);
        return withLossEngine(model, options.backend ?? 'cpu', (m) => options.onNote?.(m), (engine, backend) => ({ ...runEvalOnce(engine, prepared, 0), backend }));
      },
    },
    spec,
    options,
  );
}

export async function runOptimize(spec: Frozen<OptimizeSpec>, _options: RunOptions = {}): Promise<never> {
  throw new RuntimeEntryError('LMP_E_NO_RUNTIME', `error in ${context('optimize', spec.name, spec.where)}: the runtime cannot run ${spec.unsupported.join('; ') || 'optimize'}`);
}
