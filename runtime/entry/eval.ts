// runEval: an eval block's task (runtime/eval generators and scorers) run through the decode or
// model its `using` clause names. Through a decode, every request is answered as runDecode
// answers a prompt (decode.ts prepareDecode: its sampler chain, stop strings, chat template,
// cache policy and attention, speculative decoding or its cascade), with the eval's per-request
// seed and answer cap; the model is the one trained earlier in the same Session, else the loaded
// checkpoint, else fresh seeded weights (common.ts). `task perplexity(D.split)` runs
// runtime/model's evaluate over data D exactly as a train's periodic eval does (the decode's
// first model).
//
// The periodic-eval helper (perplexity) lives in index.ts and reaches this file as an argument
// (EntryHelpers), so that index.ts re-exports runEval without an import cycle or new public helpers.
import type { LmpTokenizer } from '../data/tokenizers.js';
import { resolveTokenStrings, type SamplerSpec } from '../decode/chain.js';
import { Decoder, type LengthTarget, type LogitsSource } from '../decode/decoder.js';
import type { LlamaModel } from '../model/llama.js';
import { ModelLogitsSource } from '../model/source.js';
import {
  EvalTaskError,
  metricNames,
  runSamples,
  taskSamples,
  type EvalCellResult,
  type EvalMetrics,
  type EvalSample,
  type Generate,
  type ScoredSample,
} from '../eval/index.js';
import type { AnySpec, DataSpec, DecodeSpec, EvalSpec, Frozen, ModelSpec, TrainEvalSpec } from './spec.js';
import { assertSupported, modelTokenizer, resolveModel, RuntimeEntryError } from './common.js';
import { prepareDecode, readDocuments } from './decode.js';

/** The result of an eval block: metrics overall and per cell, and every scored request. */
export interface EvalRunResult {
  readonly kind: 'eval';
  readonly target: string;
  readonly task: string;
  /** What `using` named. */
  readonly using: { readonly kind: 'decode' | 'model'; readonly name: string };
  /** The model's name; whether it was trained in this process; the checkpoint it was loaded from. */
  readonly model: string | null;
  readonly trained: boolean;
  readonly loaded: string | null;
  /** The metrics the block's `metric` clause lists (all the task reports when it lists none). Latency in seconds. */
  readonly metrics: EvalMetrics;
  /** Per (length, depth) cell, per target (target_length), per length bucket (perplexity). */
  readonly cells: readonly EvalCellResult[];
  /** Every request with its output and score (empty for perplexity). */
  readonly samples: readonly ScoredSample[];
  readonly seconds: number;
  /** perplexity: where the token losses were computed (lmpc run --backend) */
  readonly backend?: 'cpu' | 'cuda';
}

/** What runEval needs from index.ts. */
export interface EntryHelpers {
  readonly perplexity: (
    ev: Frozen<TrainEvalSpec>,
    model: LlamaModel,
    baseDir: string,
  ) => Promise<{
    readonly by_length: readonly { readonly length: number; readonly tokens: number; readonly loss: number; readonly ppl: number }[];
    readonly by_position: readonly { readonly position: number; readonly tokens: number; readonly loss: number; readonly ppl: number }[];
    readonly overall: { readonly tokens: number; readonly loss: number; readonly ppl: number };
    /** where the token losses were computed */
    readonly backend: 'cpu' | 'cuda';
  }>;
}

export interface EvalOptions {
  readonly baseDir?: string;
  readonly session?: { readonly models: Map<string, LlamaModel> };
  readonly specs?: ReadonlyMap<string, Frozen<AnySpec>>;
  readonly onProgress?: (p: { target: string; phase: 'eval'; step: number; total: number; message?: string }) => void;
  /** where the eval's decode, or a perplexity eval's forward, runs (lmpc run --backend; decode.ts DecodeOptions.backend); a bare model's generation stays on the CPU */
  readonly backend?: 'cpu' | 'cuda' | 'auto';
  readonly onNote?: (message: string) => void;
}

/** Tokens an answer may take when the decode sets no smaller max_tokens: passkey (5 digits), needle (RULER's 128), threading (one UUID), tsort (a short list). */
export const ANSWER_TOKENS: Readonly<Record<string, number>> = { passkey: 16, needle: 128, threading: 64, tsort: 32 };
/** target_length without max_tokens: this many tokens per target word (a byte tokenizer spends ~6). */
export const TOKENS_PER_TARGET_WORD = 16;

/** How one request is generated: the decode's settings, or greedy for a bare model. */
export interface GenerationSettings {
  readonly chain: readonly SamplerSpec[];
  readonly seed: number;
  readonly stop: readonly string[];
  readonly minTokens: number | null;
  /** Cap for the task (see ANSWER_TOKENS), already min'ed with the decode's max_tokens. */
  readonly maxTokens: (sample: EvalSample) => number;
  readonly length: (sample: EvalSample) => LengthTarget | undefined;
}

/** The settings of a task run through a decode (or through a model with greedy decoding). */
export function generationSettings(task: string, decode: Frozen<DecodeSpec> | null, evalSeed: number): GenerationSettings {
  const cap = decode?.maxTokens ?? Infinity;
  const maxTokens = (s: EvalSample): number =>
    task === 'target_length' ? (decode?.maxTokens ?? TOKENS_PER_TARGET_WORD * (s.cell.target ?? 0)) : Math.min(cap, ANSWER_TOKENS[task] ?? 128);
  const own = decode?.length ?? null;
  return {
    chain: decode ? (structuredClone(decode.chain.samplers) as SamplerSpec[]) : [{ name: 'greedy' }],
    seed: decode?.seed ?? evalSeed,
    stop: decode ? [...decode.stop] : [],
    minTokens: decode?.minTokens ?? null,
    maxTokens,
    // target_length: the decode's own length controller aims at each target (in words, its tolerance kept)
    length: (s) => (own && task === 'target_length' && s.cell.target !== undefined ? { ...own, unit: 'words', value: s.cell.target } : own ? { ...own } : undefined),
  };
}

/**
 * A Generate over any logits source: one Decoder per request (a fresh source, seed = settings.seed
 * + the sample's index), the prompt encoded with the tokenizer.
 */
export function decoderGenerate(makeSource: () => LogitsSource, tok: Pick<LmpTokenizer, 'encode' | 'decode' | 'eot'> & Partial<Pick<LmpTokenizer, 'encodePrompt' | 'tokenId' | 'id'>>, g: GenerationSettings): Generate {
  // allow / ban token strings: the ids of the tokenizer the prompts are encoded with
  const chain = resolveTokenStrings(g.chain, { tokenId: (t) => tok.tokenId?.(t) }, tok.id ? `the tokenizer ${tok.id}` : undefined);
  return async (s) => {
    const length = g.length(s);
    const decoder = new Decoder(makeSource(), {
      chain,
      seed: g.seed + s.index,
      eos: tok.eot,
      maxTokens: g.maxTokens(s),
      ...(g.minTokens !== null ? { minTokens: g.minTokens } : {}),
      ...(g.stop.length ? { stop: [...g.stop] } : {}),
      decode: (ids) => tok.decode(ids),
      ...(length ? { length } : {}),
    });
    const ids = Array.from(tok.encodePrompt ? tok.encodePrompt(s.prompt) : tok.encode(s.prompt));
    const r = await decoder.generate(ids.length ? ids : [tok.eot]);
    return { text: r.text ?? tok.decode(r.tokens), tokens: r.tokens.length };
  };
}

export async function runEvalWith(h: EntryHelpers, spec: Frozen<EvalSpec>, options: EvalOptions = {}): Promise<EvalRunResult> {
  const t0 = performance.now();
  const name = spec.name ?? 'eval';
  const where = `eval ${name} (${spec.where})`;
  assertSupported('eval', spec.name, spec.where, spec.unsupported);
  const fail = (e: unknown): never => {
    const x = e as { code?: string; message?: string };
    if (typeof x.message === 'string' && x.message.startsWith('error in ')) throw e;
    throw new RuntimeEntryError(x.code ?? 'LMP_E_RUNTIME', `error in ${where}: ${x.message ?? String(e)}`);
  };
  const baseDir = options.baseDir ?? process.cwd();
  const task = spec.task.task;
  try {
    // using: a decode or a model, by name, from the file's declarations
    const using = spec.using;
    if (!using) throw new EvalTaskError('LMP_E_EVAL_USING', 'the eval has no `using` clause (name the decode or model it runs)');
    const target = lookup(spec, options.specs, using.name);
    if (!target || (target.kind !== 'decode' && target.kind !== 'model'))
      throw new EvalTaskError('LMP_E_EVAL_USING', `using ${using.name} names ${target ? `a ${target.kind} declaration` : 'no declaration'}; an eval runs a decode or a model`);
    const names = metricNames(task, spec.metrics);
    let decode: Frozen<DecodeSpec> | null = null;
    let model: LlamaModel, tok: LmpTokenizer;
    let head: Omit<EvalRunResult, 'metrics' | 'cells' | 'samples' | 'seconds'>;
    let prepared: Awaited<ReturnType<typeof prepareDecode>> | null = null;
    if (target.kind === 'decode') {
      decode = target as Frozen<DecodeSpec>;
      prepared = await prepareDecode(decode, {
        baseDir, ...(options.session ? { session: options.session } : {}), ...(options.backend ? { backend: options.backend } : {}), ...(options.onNote ? { onNote: options.onNote } : {}),
      });
      const first = prepared.stages[0]!;
      model = first.model;
      tok = prepared.tok;
      head = { kind: 'eval', target: name, task, using: { kind: using.kind, name: using.name }, model: first.spec.name, trained: first.info.trained, loaded: first.info.loaded };
    } else {
      const modelSpec = target as Frozen<ModelSpec>;
      const built = await resolveModel(modelSpec, baseDir, options.session);
      model = built.model;
      tok = task === 'perplexity' ? (null as unknown as LmpTokenizer) : await modelTokenizer(modelSpec, model, baseDir);
      head = { kind: 'eval', target: name, task, using: { kind: using.kind, name: using.name }, model: modelSpec.name, trained: built.trained, loaded: built.loaded };
    }

    if (task === 'perplexity') {
      const ev = perplexitySpec(spec, options.specs);
      const r = await h.perplexity(ev, model, baseDir);
      const cells = [
        ...r.by_length.map((b) => ({ length: b.length, samples: 0, tokens: b.tokens, metrics: pick(names, b.ppl, b.loss) })),
        ...r.by_position.map((b) => ({ position: b.position, samples: 0, tokens: b.tokens, metrics: pick(names, b.ppl, b.loss) })),
      ];
      return { ...head, backend: r.backend, metrics: pick(names, r.overall.ppl, r.overall.loss), cells, samples: [], seconds: (performance.now() - t0) / 1000 };
    }

    const docs = task === 'tsort' && spec.data !== null ? await evalDocuments(spec, spec.data, options.specs, baseDir) : null;
    const samples = taskSamples(task, spec.task.params, spec.seed, (t) => tok.encode(t).length, baseDir, docs);
    const g = generationSettings(task, decode, spec.seed);
    let generate: Generate;
    if (prepared) {
      const p = prepared;
      generate = async (s) => {
        const length = g.length(s);
        const r = await p.generate(p.promptIds(s.prompt), s.index, s.prompt, { seed: g.seed + s.index, maxTokens: g.maxTokens(s), length: length ?? null });
        return { text: r.text, tokens: r.tokens.length };
      };
    } else generate = decoderGenerate(() => new ModelLogitsSource(model), tok, g);
    const onSample = options.onProgress ? (done: number, total: number) => options.onProgress!({ target: name, phase: 'eval', step: done, total }) : undefined;
    try {
      const out = await runSamples(task, samples, generate, names, onSample);
      return { ...head, metrics: out.metrics, cells: out.cells, samples: out.samples, seconds: (performance.now() - t0) / 1000 };
    } finally {
      prepared?.close();
    }
  } catch (e) {
    return fail(e);
  }
}

function pick(names: readonly string[], ppl: number, loss: number): EvalMetrics {
  const m: EvalMetrics = {};
  if (names.includes('perplexity')) m.perplexity = ppl;
  if (names.includes('loss')) m.loss = loss;
  return m;
}

/**
 * The documents of the eval's `data D` clause, as text, in source order: every document of D's
 * sources, or with `D.holdout` / `D.train` one side of D's hold-out split (the same content hash
 * the packer uses).
 */
async function evalDocuments(spec: Frozen<EvalSpec>, path: string, specs: ReadonlyMap<string, Frozen<AnySpec>> | undefined, baseDir: string): Promise<string[]> {
  const [dname, side] = path.split('.');
  const ds = dname ? lookup(spec, specs, dname) : undefined;
  if (!ds || ds.kind !== 'data') throw new EvalTaskError('LMP_E_EVAL_PARAMS', `data ${JSON.stringify(path)} names no data declaration`);
  if (side !== undefined && side !== 'holdout' && side !== 'train') throw new EvalTaskError('LMP_E_EVAL_PARAMS', `data ${path}: the side is holdout or train`);
  return (await readDocuments(ds as Frozen<DataSpec>, baseDir, side)).texts;
}

/** A declaration the eval names: from the spec itself (`refs`, filled by the lowering), else from
 *  the file's declarations (RunOptions.specs). */
function lookup(spec: Frozen<EvalSpec>, specs: ReadonlyMap<string, Frozen<AnySpec>> | undefined, name: string): Frozen<AnySpec> | undefined {
  return (spec.refs as Readonly<Record<string, Frozen<AnySpec>>> | undefined)?.[name] ?? specs?.get(name);
}

/** `perplexity(data: D.holdout | D.train, by: length | none)` as the periodic-eval spec a train runs. */
function perplexitySpec(spec: Frozen<EvalSpec>, specs: ReadonlyMap<string, Frozen<AnySpec>> | undefined): Frozen<TrainEvalSpec> {
  const p = spec.task.params;
  const path = typeof p['data'] === 'string' ? p['data'] : '';
  const [dname, side] = path.split('.');
  const data = dname ? lookup(spec, specs, dname) : undefined;
  if (!data || data.kind !== 'data') throw new EvalTaskError('LMP_E_EVAL_PARAMS', `perplexity: data ${JSON.stringify(path)} names no data declaration`);
  if (side !== 'holdout' && side !== 'train') throw new EvalTaskError('LMP_E_EVAL_PARAMS', `perplexity on data ${dname} needs a split side (write ${dname}.holdout or ${dname}.train)`);
  const by = p['by'];
  if (by !== 'length' && by !== 'position' && by !== 'none') throw new EvalTaskError('LMP_E_NO_RUNTIME', `perplexity by ${String(by)} has no runtime (by: length, position or none)`);
  return { every: 0, task: spec.task, eval: null, perplexity: { data: data as Frozen<DataSpec>, split: side, by }, evalSpec: null };
}
