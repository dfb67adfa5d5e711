// The clause table: which clauses each declaration kind accepts and their syntactic shape.
//
// This is syntax only (what the parser needs to know where one clause ends and the next
// begins, since clauses may share a line: `attention a { mask causal  position alibi() }`).
// What the values mean, their types, units and ranges, is the built-ins registry's and the
// checker's business (compiler/). Clause and modifier keywords are contextual: they are
// ordinary identifiers everywhere else (a parameter may be called `weight` or `from`).
import type { DeclKind } from './ast.js';

export interface ModifierSpec {
  /** One or more words, e.g. ['weight'] or ['defer', 'when']. */
  readonly words: readonly string[];
  /** Whether an expression follows the words (`weight 0.25`) or not (`reposition`). */
  readonly value: boolean;
  readonly doc: string;
}

export interface ClauseSpec {
  /** One or more words, e.g. ['mask'] or ['subject', 'to']. */
  readonly words: readonly string[];
  /**
   * What follows the keyword:
   *  - 'one':      exactly one expression
   *  - 'list':     one or more expressions separated by commas (`trace entropy, surprise`)
   *  - 'optional': zero or one expression (`speculate draft small ...`, `eval every 200: ...`)
   */
  readonly args: 'one' | 'list' | 'optional';
  readonly modifiers: readonly ModifierSpec[];
  /** Whether `: expr` may follow (`heads 0..3: causal`, `eval every 200: perplexity(..)`). */
  readonly body: 'none' | 'optional' | 'required';
  /** Whether the clause may appear more than once in one block (`source`, `heads`, `vary`). */
  readonly repeatable: boolean;
  readonly doc: string;
}

export interface DeclSpec {
  readonly kind: DeclKind;
  /** Whether `KIND NAME = expr` is allowed, and what the expression is. */
  readonly valueForm: string | undefined;
  readonly clauses: readonly ClauseSpec[];
  readonly doc: string;
}

const m = (words: string, value: boolean, doc: string): ModifierSpec => ({ words: words.split(' '), value, doc });

function c(
  words: string,
  doc: string,
  opts: Partial<Pick<ClauseSpec, 'args' | 'modifiers' | 'body' | 'repeatable'>> = {},
): ClauseSpec {
  return {
    words: words.split(' '),
    args: opts.args ?? 'one',
    modifiers: opts.modifiers ?? [],
    body: opts.body ?? 'none',
    repeatable: opts.repeatable ?? false,
    doc,
  };
}

export const DECL_SPECS: { readonly [K in DeclKind]: DeclSpec } = {
  tokenizer: {
    kind: 'tokenizer',
    valueForm: 'a tokenizer: bytes(), hf("tokenizer.json"), tiktoken("cl100k_base")',
    doc: 'How text becomes token ids.',
    clauses: [
      c('use', 'the tokenizer: bytes(), hf(path), tiktoken(encoding); not supported yet (LMP0313): a tiktoken encoding js-tiktoken does not ship'),
      c('eot', 'the end-of-text token appended after each document (a string or an id), or none'),
      c('bos', 'the beginning-of-sequence token prepended to each document and prompt (a string or an id), or none; without it none, except a Hugging Face tokenizer\'s own (what its post-processor adds, or tokenizer_config.json\'s bos_token with add_bos_token)'),
    ],
  },
  data: {
    kind: 'data',
    valueForm: undefined,
    doc: 'Sources, mixture, filters, hold-out split, and how documents become sequences.',
    clauses: [
      c('source', 'a document source: text(glob), jsonl(path, field:), parquet(path, column:)', {
        repeatable: true,
        modifiers: [m('weight', true, 'mixture weight of this source (relative)')],
      }),
      c('tokenizer', 'the tokenizer (a tokenizer declaration or a tokenizer call)'),
      c('filter', 'a document filter, e.g. length(min: 64, max: 1M)', { repeatable: true }),
      c('holdout', 'fraction of documents held out (by content hash)', {
        modifiers: [m('seed', true, 'seed of the hold-out split')],
      }),
      c('pack', 'the packer: concat_chunk(L), pad(L), decompose(min:, max:), prepack(capacity:, algorithm:); not supported yet (LMP0313): pad(truncate: left)'),
      c('seed', 'seed for shuffling and random choices of the packer'),
    ],
  },
  curriculum: {
    kind: 'curriculum',
    valueForm: 'a curriculum: fixed(L, tokens_per_step:), uniform(tokens_per_step:), grow_p2(tokens_per_step:, cycles:)',
    doc: 'Which sequence lengths are seen when.',
    clauses: [
      c('tokens_per_step', 'tokens in every optimizer step (batch size varies with length)'),
      c('weights', 'bucket sampling weights: a map {length: weight}, or grow_p2(), or uniform()'),
      c('cycles', 'how many times the weights are cycled over the run'),
      c('length', 'a fixed sequence length (the fixed curriculum)'),
      c('grow', 'a growth schedule of the maximum length, e.g. linear(from: 256, to: 8k, steps: 1000)'),
      c('ranks', 'number of data-parallel ranks that share the bucket choice'),
      c('seed', 'seed of the bucket sampler'),
    ],
  },
  attention: {
    kind: 'attention',
    valueForm: undefined,
    doc: 'Which tokens attend to which, the score transform, positions and the KV cache.',
    clauses: [
      c('mask', 'the mask: an algebra of primitives with & | ! and parentheses'),
      c('heads', 'a per-head mask: heads a..b: MASK', { body: 'required', repeatable: true }),
      c('score', 'the score transform: softmax(temperature:), softcap(c), softplus(...)'),
      c('position', 'the position encoding: rope(...), alibi(), none; not supported yet (LMP0313): a limit with none', {
        modifiers: [m('limit', true, 'LM-Infinite distance limit: relative distances are clamped to it')],
      }),
      c('cache', 'the KV-cache policy: full, keep(MASK), sirllm(...), infllm(...); not supported yet (LMP0313): keep(MASK) other than keep(sink(g) | window(w)) reposition', {
        modifiers: [m('reposition', false, 're-rotate cached keys to contiguous positions after eviction')],
      }),
      c('tile', 'kernel tile size (query and key block), or a map per backend {cpu: 64, cuda: 128}; no effect (LMP0314): the CPU kernels use fixed 64x64 tiles, it sizes only kernels.json and lmpc explain'),
    ],
  },
  model: {
    kind: 'model',
    valueForm: 'load("dir") of safetensors + config.json, or an architecture call llama(...)',
    doc: 'An architecture or a checkpoint, and the attention it uses.',
    clauses: [
      c('arch', 'the architecture: llama(dim:, layers:, heads:, kv_heads:, ffn:)'),
      c('load', 'a checkpoint directory (safetensors + config.json)'),
      c('vocab', 'the vocabulary: a tokenizer, or a size'),
      c('attention', 'the attention declaration the model uses'),
      c('tie_embeddings', 'whether the output head shares the embedding matrix'),
      c('seed', 'seed of the weight initialization'),
    ],
  },
  train: {
    kind: 'train',
    valueForm: undefined,
    doc: 'Model + data + curriculum + optimizer + schedule + steps + checkpoints + evals.',
    clauses: [
      c('model', 'the model to train'),
      c('data', 'the data'),
      c('curriculum', 'the curriculum (a declaration or a call such as fixed(8k, tokens_per_step: 64k))'),
      c('optimizer', 'the optimizer: adamw(lr:, betas:, weight_decay:, eps:), sgd(lr:); not supported yet (LMP0313): sgd'),
      c('schedule', 'the learning-rate schedule: warmup(n) then cosine(to:) | linear(to:) | constant()'),
      c('steps', 'number of optimizer steps'),
      c('accumulate', 'gradient accumulation: micro-steps per optimizer step'),
      c('clip', 'gradient clipping by global norm'),
      c('eval', 'a periodic evaluation: eval every N: TASK (perplexity(D.holdout | D.train)) or eval every N: NAME (an eval declaration using the trained model or a decode of it); not supported yet (LMP0313): other tasks inline, a NAME that runs another model or a cascade', {
        args: 'optional',
        body: 'optional',
        repeatable: true,
        modifiers: [m('every', true, 'period in steps')],
      }),
      c('checkpoint', 'checkpoint directory: written every N steps and always after the last step', { modifiers: [m('every', true, 'period in steps')] }),
      c('log', 'metrics log file (JSONL)'),
      c('ranks', 'data-parallel ranks (sequences are cost-balanced across them)'),
      c('seed', 'seed of the batch order (mixed into the curriculum sampler seed; 0: the curriculum order)'),
      c('resume', 'resume auto: continue from the latest checkpoint of the checkpoint folder when it has one, else start fresh'),
      c('backend', 'where the training steps run: cpu (default), cuda (a GPU: an error without one) or auto (cuda when the addon has it and the driver reports a device, else cpu); lmpc run --backend overrides it'),
    ],
  },
  decode: {
    kind: 'decode',
    valueForm: undefined,
    doc: 'Model + sampler chain + stop/length rules + speculative or cascade setup.',
    clauses: [
      c('model', 'the model that generates'),
      c('attention', 'override the model attention at inference (mask, positions, cache)'),
      c('policy', 'the sampler chain: f -> g -> terminal; not supported yet (LMP0313): allow/ban with token strings'),
      c('prompt', 'a prompt string, or a data declaration of prompts (each document a prompt, in input order, prompt i with seed + i; pack prepack(...) prefills them prepacked, pad(...) as a padded batch); not supported yet (LMP0313): prefill under an evicting cache or a mask other than causal', {
        modifiers: [m('template', true, 'a chat template the prompt is wrapped in: tokenizer (tokenizer_config.json chat_template), chatml, llama3, llama2, alpaca')],
      }),
      c('max_tokens', 'maximum new tokens'),
      c('min_tokens', 'minimum new tokens before end-of-sequence is allowed'),
      c('stop', 'stop strings (may span token boundaries)', { args: 'list' }),
      c('length', 'a length target: target(words: N, within: 10%)'),
      c('trace', 'per-step traces to record: entropy, surprise, logprob, candidates; not supported yet (LMP0313): with speculate', { args: 'list' }),
      c('speculate', 'speculative decoding: speculate draft MODEL candidates N|adaptive(...) [greedy]; a model named without draft is an error (LMP0312); not supported yet (LMP0313): with a cascade or traces', {
        args: 'optional',
        modifiers: [m('draft', true, 'the draft model'), m('candidates', true, 'candidates per round: a number, or adaptive(max:, stop_when:)'), m('greedy', false, 'greedy verification')],
      }),
      c('cascade', 'a cascade: small -> big defer when quantile(logprob, q) < t', {
        modifiers: [m('defer when', true, 'the deferral rule')],
      }),
      c('seed', 'seed of the sampler RNG'),
    ],
  },
  eval: {
    kind: 'eval',
    valueForm: undefined,
    doc: 'A task and its metrics.',
    clauses: [
      c('task', 'the task: perplexity(...), passkey(...), needle(...), target_length(...)'),
      c('using', 'the decode (or model) that is evaluated'),
      c('data', 'the data the task reads, where it reads one'),
      c('metric', 'metrics to report', { args: 'list' }),
      c('seed', 'seed of the task generator'),
    ],
  },
  optimize: {
    kind: 'optimize',
    valueForm: undefined,
    doc: 'Knobs, an objective, constraints, a budget and a search strategy.',
    clauses: [
      c('vary', 'a knob: vary PATH in [values] | a..b', {
        repeatable: true,
        modifiers: [m('in', true, 'the values: a list or a range')],
      }),
      c('maximize', 'the objective metric to maximize'),
      c('minimize', 'the objective metric to minimize'),
      c('subject to', 'a constraint, e.g. latency.p50 < 50ms', { repeatable: true }),
      c('search', 'the strategy: grid(), random(trials:), tpe(trials:, seed:), halving(...)'),
      c('budget', 'limits: {trials: 40, time: 30min}'),
      c('save', 'where the optimized result is written (JSON)'),
      c('seed', 'seed of the search'),
    ],
  },
};

/** The clause spec for `words` (already split) in a declaration kind, if any. */
export function findClause(kind: DeclKind, firstWord: string): readonly ClauseSpec[] {
  return DECL_SPECS[kind].clauses.filter((cl) => cl.words[0] === firstWord);
}
