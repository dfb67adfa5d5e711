// The resolved configurations a compiled .lmp file hands the runtime: one spec per declaration,
// every `from` flattened, every default explicit, units normalized (counts are integers,
// fractions in [0, 1], durations in seconds), every reference replaced by the referenced
// declaration's own spec. The compiler's IR (compiler/ir) is made of exactly these objects, and
// the generated `pipeline.ts` exports them as `as const satisfies Frozen<...Spec>` constants, so
// the runtime needs no translation. Where a runtime config type exists (DataConfig,
// CurriculumConfig, ModelConfig, the sampler chain, AttentionMaskIR) it is embedded unchanged.
//
// `where` is the declaration's source position, "file:line:col" (1-based), for run-time errors:
// "error in decode story (examples/x.lmp:31:3): ...".
import type { CurriculumConfig } from '../curriculum/config.js';
import type { DataConfig, TokenizerConfig } from '../data/config.js';
import type { ChainConfig } from '../decode/chain.js';
import type { LengthTarget } from '../decode/decoder.js';
import type { AttentionMaskIR, MaskIR } from '../mask/ir.js';
import type { ModelConfig } from '../model/config.js';
import type { RopeScaling } from '../attention/positions.js';

/** Deeply readonly view of a config (what `as const` literals satisfy). */
export type Frozen<T> = T extends bigint | number | string | boolean | null | undefined
  ? T
  : T extends readonly (infer U)[]
    ? readonly Frozen<U>[]
    : { readonly [K in keyof T]: Frozen<T[K]> };

/** A JSON value (task parameters, optimize values). */
export type Json = null | boolean | number | string | readonly Json[] | { readonly [k: string]: Json };

interface DeclSpec<K extends string> {
  readonly kind: K;
  /** Declaration name; null for an inline call (e.g. `curriculum fixed(8k, ...)` in a train). */
  readonly name: string | null;
  /** "file:line:col" of the declaration (or of the inline call). */
  readonly where: string;
  /**
   * What this configuration asks for that the runtime cannot run yet (e.g. "cache policy
   * infllm"). Lowering records them; the entry functions refuse to start with a coded error
   * naming each one, instead of silently ignoring them.
   */
  readonly unsupported: readonly string[];
}

export interface TokenizerSpec extends DeclSpec<'tokenizer'> {
  readonly config: TokenizerConfig;
  /** Vocabulary size when known at compile time (bytes: eot + 1), else null (read at load: a model whose `vocab` names it gets vocab 0 in its architecture, the tokenizer's size at run time). */
  readonly vocabSize: number | null;
}

export interface DataSpec extends DeclSpec<'data'> {
  /** `root` is relative to the .lmp file's folder; entry functions resolve it against RunOptions.baseDir. */
  readonly config: DataConfig;
  /** Sequence lengths the packer produces (decompose: 2^k for min..max; concat_chunk / pad: the length); empty when data-dependent. */
  readonly buckets: readonly number[];
}

export interface CurriculumSpec extends DeclSpec<'curriculum'> {
  readonly config: CurriculumConfig;
}

export type ScoreSpec =
  | { readonly kind: 'softmax'; readonly temperature: number }
  | { readonly kind: 'softcap'; readonly cap: number }
  | { readonly kind: 'softplus'; readonly power: number; readonly lengthScale: boolean };

/** Position encoding; `limit` is LM-Infinite's distance limit (relative distances clamped), null = none. */
export type PositionSpec =
  | { readonly kind: 'rope'; readonly theta: number; readonly scaling: RopeScaling; readonly limit: number | null }
  | { readonly kind: 'alibi'; readonly limit: number | null }
  | { readonly kind: 'none'; readonly limit: number | null };

export type CacheSpec =
  | { readonly kind: 'full'; readonly reposition: boolean }
  | { readonly kind: 'keep'; readonly mask: MaskIR; readonly reposition: boolean }
  | { readonly kind: 'sirllm'; readonly keep: number; readonly decay: number; readonly recent: number; readonly reposition: boolean }
  | {
      readonly kind: 'infllm';
      readonly block: number;
      readonly top: number;
      readonly local: number;
      readonly sinks: number;
      readonly representatives: number;
      readonly reposition: boolean;
    };

export interface TileSpec {
  readonly q: number;
  readonly kv: number;
}

export interface AttentionSpec extends DeclSpec<'attention'> {
  readonly mask: AttentionMaskIR;
  readonly score: ScoreSpec;
  readonly position: PositionSpec;
  readonly cache: CacheSpec;
  /** Kernel tile sizes per backend. */
  readonly tile: { readonly cpu: TileSpec; readonly cuda: TileSpec };
}

export interface ModelSpec extends DeclSpec<'model'> {
  /** The architecture; null when the model is only `load("dir")` (config.json decides). */
  readonly config: ModelConfig | null;
  /** Checkpoint directory (relative to the .lmp file's folder), or null; read at run time (config.json + model.safetensors). */
  readonly load: string | null;
  /** The attention the model uses; null = the model's default (causal & same_document, RoPE). */
  readonly attention: AttentionSpec | null;
  /** The tokenizer named by `vocab`, if any. */
  readonly tokenizer: TokenizerSpec | null;
  readonly seed: number;
}

export type OptimizerSpec =
  | { readonly kind: 'adamw'; readonly lr: number; readonly beta1: number; readonly beta2: number; readonly weightDecay: number; readonly eps: number }
  | { readonly kind: 'sgd'; readonly lr: number; readonly momentum: number };

/** `warmup(w) then cosine(to: f)`: linear warm-up over `warmup` steps, then the decay to finalFraction * peak. */
export interface ScheduleSpec {
  readonly warmup: number;
  readonly decay: 'constant' | 'linear' | 'cosine';
  readonly finalFraction: number;
}

/** A task call with every parameter explicit (values normalized; data references by name). */
export interface TaskSpec {
  readonly task: string;
  readonly where: string;
  readonly params: { readonly [name: string]: Json };
}

/**
 * `eval every N: perplexity(D.holdout, by: length)` in a train: run every N steps (0 = only at
 * the end) and after the last step. `task` is the call as written; `eval` names an eval
 * declaration instead. `perplexity` is what the runtime runs: the mean token loss of data D's
 * sequences on one side of its hold-out split (packed by D's own packer), overall and, with
 * by 'length', per packer bucket length. Null for anything else (listed in `unsupported`).
 */
export interface TrainEvalSpec {
  readonly every: number;
  readonly task: TaskSpec | null;
  readonly eval: string | null;
  /** `eval every N: NAME` naming an eval declaration: its spec, run with the model being trained
   *  (its `using` must reach the train's model); null otherwise. */
  readonly evalSpec: EvalSpec | null;
  readonly perplexity: { readonly data: DataSpec; readonly split: 'holdout' | 'train'; readonly by: 'length' | 'position' | 'none' } | null;
}

export interface TrainSpec extends DeclSpec<'train'> {
  readonly model: ModelSpec;
  readonly data: DataSpec;
  readonly curriculum: CurriculumSpec;
  readonly optimizer: OptimizerSpec;
  readonly schedule: ScheduleSpec;
  readonly steps: number;
  readonly accumulate: number;
  /** Global-norm clip; null = none. */
  readonly clip: number | null;
  readonly evals: readonly TrainEvalSpec[];
  readonly checkpoint: { readonly dir: string; readonly every: number } | null;
  readonly log: string | null;
  readonly ranks: number;
  /** Seed of the batch order: mixed into the curriculum's sampler seed (0: the curriculum's own order). */
  readonly seed: number;
  /** `resume auto`: continue from the checkpoint folder's `latest` when there is one; null: start fresh (refused over an existing checkpoint). */
  readonly resume: 'auto' | null;
  /** `backend`: where the steps run (runtime/model/cuda-llama.ts for cuda); default cpu. */
  readonly backend: TrainBackend;
}

/** cpu, cuda (LMP_E_NO_DEVICE without a device), auto (cuda when there is a device and the model runs there, else cpu) */
export type TrainBackend = 'cpu' | 'cuda' | 'auto';

export interface DecodeSpec extends DeclSpec<'decode'> {
  readonly model: ModelSpec | null;
  /** The decode's attention (its own clause, else its model's), or null. */
  readonly attention: AttentionSpec | null;
  /** The validated chain, terminal included, every parameter explicit; seed = the decode's seed. */
  readonly chain: ChainConfig;
  /**
   * A prompt string; a data declaration of prompts (every document of its sources, in input
   * order; its packer decides the prefill: prepack = prepacked, pad = a padded batch, else each
   * prompt alone); or null (generation starts from the BOS token, else the EOT token).
   */
  readonly prompt: { readonly text: string } | { readonly data: DataSpec } | null;
  /** A chat template the prompt text is wrapped in: the tokenizer's (tokenizer_config.json's chat_template) or a named one; null: the text as it is. */
  readonly template: { readonly kind: 'tokenizer' } | { readonly kind: 'named'; readonly name: 'chatml' | 'llama3' | 'llama2' | 'alpaca' } | null;
  readonly maxTokens: number | null;
  readonly minTokens: number | null;
  readonly stop: readonly string[];
  readonly length: LengthTarget | null;
  readonly trace: readonly string[];
  readonly speculate: {
    readonly draft: ModelSpec;
    readonly candidates: number | { readonly max: number; readonly min: number; readonly stopWhen: number };
    readonly greedy: boolean;
  } | null;
  readonly cascade: {
    readonly models: readonly ModelSpec[];
    readonly statistic: { readonly kind: 'quantile'; readonly of: string; readonly q: number } | { readonly kind: 'mean'; readonly of: string };
    readonly op: string;
    readonly threshold: number;
  } | null;
  readonly seed: number;
}

export interface EvalSpec extends DeclSpec<'eval'> {
  readonly task: TaskSpec;
  /** The decode or model the eval runs, by name. */
  readonly using: { readonly kind: 'decode' | 'model'; readonly name: string } | null;
  readonly data: string | null;
  readonly metrics: readonly string[];
  readonly seed: number;
  /** The specs of the declarations the eval names (its `using`, the data of its `data` clause and
   *  of its task's `data` parameter), by name, so the spec runs on its own (a generated module
   *  needs no other declarations); RunOptions.specs is the fallback. */
  readonly refs: { readonly [name: string]: DecodeSpec | ModelSpec | DataSpec };
}

export interface OptimizeSpec extends DeclSpec<'optimize'> {
  /** Knob path (DECL.CLAUSE[.BUILTIN][.PARAM]) and its values: a list, or an inclusive range. */
  readonly vary: readonly {
    readonly path: string;
    readonly values: { readonly list: readonly Json[] } | { readonly from: number; readonly to: number; readonly integer: boolean };
  }[];
  readonly objective: { readonly direction: 'maximize' | 'minimize'; readonly metric: string } | null;
  readonly constraints: readonly { readonly metric: string; readonly op: string; readonly value: number }[];
  readonly search: { readonly kind: string; readonly params: { readonly [name: string]: Json } };
  readonly budget: { readonly trials: number | null; readonly time: number | null; readonly cost: number | null };
  readonly save: string | null;
  readonly seed: number;
}

export type RunnableSpec = TrainSpec | DecodeSpec | EvalSpec | OptimizeSpec;
export type AnySpec = TokenizerSpec | DataSpec | CurriculumSpec | AttentionSpec | ModelSpec | RunnableSpec;
