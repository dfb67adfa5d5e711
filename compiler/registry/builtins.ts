// The built-ins of the language: every call a clause can hold, with its parameters, their types,
// units, defaults and ranges, and a one-line doc. The checker, the formatter, the spec
// generator (spec/builtins.md) and the code generator all read this table.
import {
  bool,
  call,
  count,
  fraction,
  list,
  mask,
  oneOf,
  real,
  str,
  union,
  type Category,
  type ValueType,
} from './types.js';
import { fixedText } from '../../runtime/eval/minimum.js';
import { TIKTOKEN_ENCODINGS } from '../../runtime/data/config.js';

export interface ParamDef {
  readonly name: string;
  readonly type: ValueType;
  /** Required parameters have no default. */
  readonly required: boolean;
  /** The default, as written in .lmp (for the spec and the code generator). */
  readonly default?: string;
  readonly doc: string;
}

/** How a sampler acts in a chain (llama.cpp's chain model: filters first, one terminal last). */
export type SamplerRole = 'penalty' | 'transform' | 'filter' | 'terminal';

export interface BuiltinDef {
  readonly name: string;
  readonly category: Category;
  readonly doc: string;
  /** Parameters in positional order. */
  readonly params: readonly ParamDef[];
  /** Exactly one of these parameters must be given (e.g. target(words|tokens|chars)). */
  readonly exactlyOne?: readonly string[];
  /** Samplers only. */
  readonly role?: SamplerRole;
  /** Samplers only: keeps state across steps (its choice depends on previously sampled tokens' surprise). */
  readonly stateful?: boolean;
  /** Tasks only: the metrics the task can report. */
  readonly reports?: readonly string[];
  /** Metrics only: fields that can be read (`latency.p50`). */
  readonly fields?: readonly string[];
  /** Cache policies only: whether the policy evicts entries. */
  readonly evicts?: boolean;
}

const req = (name: string, type: ValueType, doc: string): ParamDef => ({ name, type, required: true, doc });
const opt = (name: string, type: ValueType, dflt: string, doc: string): ParamDef => ({ name, type, required: false, default: dflt, doc });

type Extra = Partial<Pick<BuiltinDef, 'exactlyOne' | 'role' | 'stateful' | 'reports' | 'fields' | 'evicts'>>;
const b = (category: Category, name: string, doc: string, params: readonly ParamDef[] = [], extra: Extra = {}): BuiltinDef => ({
  name,
  category,
  doc,
  params,
  ...extra,
});

const tokens = count({ min: 1 });
// Dataset Decomposition's piece lengths: runtime/data's decomposeLengths takes bounds up to 2^31.
const pieceLen = count({ min: 1, max: 2 ** 31, powerOfTwo: true });
const positive = real({ min: 0, minExclusive: true });
const lengths = list(count({ min: 1 }));
/** The `lengths` doc of a generated task: its minimum with the default parameters (runtime/eval/minimum.ts; LMP0806). */
function lengthsDoc(task: string, defaults: Readonly<Record<string, number>>): string {
  const f = fixedText(task, defaults)!;
  const at = f.max === null ? `at least ${f.min} (one-byte words; the data's words add to it)` : f.max !== f.min ? `${f.max} (${f.min} with the shortest keys)` : `${f.min}`;
  return `context lengths in tokens; the prompt without filler needs ${at} with the byte tokenizer and the default parameters`;
}

export const BUILTINS: readonly BuiltinDef[] = [
  // --- masks (runtime/mask/ir.ts; lowering in compiler/lower/mask.ts) ---
  b('mask', 'full', 'every key is visible'),
  b('mask', 'causal', 'a query sees keys at or before it: kv <= q'),
  b('mask', 'window', 'sliding window: q - kv < size (combine with causal)', [req('size', tokens, 'window width in tokens')]),
  b('mask', 'sink', 'global / attention-sink tokens: kv < count', [req('count', count({ min: 0 }), 'number of leading tokens every query sees')]),
  b('mask', 'prefix', 'prefix-LM: kv < length or kv <= q', [req('length', count({ min: 0 }), 'length of the bidirectional prefix')]),
  b('mask', 'chunked', 'chunked attention: floor(q / size) == floor(kv / size)', [req('size', tokens, 'chunk size in tokens')]),
  b('mask', 'same_document', 'a query sees only keys of its own document (packed sequences)'),
  b('mask', 'lambda', 'LM-Infinite Λ-shape: causal & (sink(global) | window(window))', [
    req('global', count({ min: 0 }), 'global (sink) tokens'),
    req('window', tokens, 'local window in tokens'),
  ]),

  // --- packers ---
  b('packer', 'concat_chunk', 'concatenate documents (EOT after each) and cut fixed-length sequences', [req('length', tokens, 'sequence length in tokens')]),
  b('packer', 'pad', 'one document per sequence, padded (or truncated) to a fixed length', [
    req('length', tokens, 'sequence length in tokens'),
    opt('truncate', oneOf('left', 'right', 'drop'), 'right', 'what happens to longer documents'),
  ]),
  b('packer', 'decompose', 'Dataset Decomposition: power-of-two pieces of one document each, bucketed by length', [
    opt('min', pieceLen, '256', 'shortest piece (a power of two, at most 2^31)'),
    opt('max', pieceLen, '8k', 'longest piece (a power of two, at most 2^31)'),
    opt('deterministic', bool, 'false', 'take k = log2(max) for long documents instead of drawing k'),
  ]),
  b('packer', 'prepack', 'Prepacking: bin-pack prompts, restart positions per prompt, block-diagonal causal mask', [
    opt('capacity', union(tokens, oneOf('longest')), 'longest', 'bin capacity: a token count, or the longest prompt of the batch'),
    opt('algorithm', oneOf('best_fit_decreasing', 'first_fit_decreasing'), 'best_fit_decreasing', 'bin-packing heuristic'),
  ]),

  // --- sources ---
  b('source', 'text', 'plain-text files, one document per file', [req('glob', str('a glob'), 'files to read')]),
  b('source', 'jsonl', 'JSON Lines, one document per line', [
    req('path', str('a path'), 'the file'),
    opt('field', str(), '"text"', 'the field holding the text'),
    opt('on_error', oneOf('fail', 'skip'), 'fail', 'what to do with a malformed line'),
  ]),
  b('source', 'parquet', 'a Parquet file, one document per row', [req('path', str('a path'), 'the file'), opt('column', str(), '"text"', 'the text column')]),

  // --- filters ---
  b('filter', 'length', 'keep documents whose token count is within [min, max]', [
    opt('min', count({ min: 0 }), '0', 'fewest tokens'),
    opt('max', tokens, 'unbounded', 'most tokens'),
  ]),

  // --- tokenizers ---
  b('tokenizer', 'bytes', 'UTF-8 bytes as token ids 0..255 (EOT = 256)'),
  b('tokenizer', 'hf', 'a Hugging Face tokenizer.json', [req('path', str('a path to tokenizer.json'), 'the tokenizer file')]),
  b('tokenizer', 'tiktoken', 'an OpenAI tiktoken encoding', [req('encoding', union(oneOf(...TIKTOKEN_ENCODINGS), str()), 'encoding name')]),

  // --- curricula ---
  b('curriculum', 'fixed', 'one fixed sequence length', [req('length', tokens, 'sequence length'), req('tokens_per_step', tokens, 'tokens per optimizer step')]),
  b('curriculum', 'uniform', 'every bucket with equal probability', [req('tokens_per_step', tokens, 'tokens per optimizer step')]),
  b('curriculum', 'grow_p2', 'Grow-P2: weights 2^(n-1) .. 1 from the shortest bucket up, cycled', [
    req('tokens_per_step', tokens, 'tokens per optimizer step'),
    opt('cycles', count({ min: 1 }), '8', 'number of cycles over the run'),
  ]),
  b('weights', 'grow_p2', 'weights 32, 16, 8, .. halving from the shortest bucket up'),
  b('weights', 'uniform', 'equal weight for every bucket'),
  b('growth', 'linear', 'grow the maximum length linearly', [
    req('from', tokens, 'starting maximum length'),
    req('to', tokens, 'final maximum length'),
    req('steps', tokens, 'steps over which it grows'),
  ]),

  // --- positions ---
  b('position', 'rope', 'rotary position embedding', [
    opt('theta', positive, '10000', 'base of the rotary frequencies'),
    opt('scale', call('rope_scale'), 'none', 'context-extension scaling'),
  ]),
  b('position', 'alibi', 'ALiBi linear biases, slopes 2^(-8h/H)'),
  b('position', 'none', 'no position encoding (NoPE)'),
  b('rope_scale', 'linear', 'position interpolation: positions divided by factor', [req('factor', real({ min: 1 }), 'scale factor s')]),
  b('rope_scale', 'ntk', 'NTK-aware: base multiplied by s^(d/(d-2))', [req('factor', real({ min: 1 }), 'scale factor s')]),
  b('rope_scale', 'yarn', 'YaRN: per-frequency ramp plus attention temperature', [
    req('factor', real({ min: 1 }), 'scale factor s'),
    opt('original', tokens, '4k', 'pretraining context length'),
    opt('beta_fast', positive, '32', 'ramp upper bound (rotations)'),
    opt('beta_slow', positive, '1', 'ramp lower bound (rotations)'),
  ]),
  b('rope_scale', 'truncate', 'Giraffe truncated basis: frequencies below low set to 0, between low and high set to rho', [
    req('low', real({ min: 0 }), 'lower frequency cut'),
    req('high', real({ min: 0 }), 'upper frequency cut'),
    opt('rho', real({ min: 0 }), '0', 'value between the cuts'),
  ]),

  // --- score transforms ---
  b('score', 'softmax', 'softmax of scores divided by temperature', [opt('temperature', positive, '1', 'temperature')]),
  b('score', 'softcap', 'cap * tanh(score / cap) before softmax', [req('cap', positive, 'the cap')]),
  b('score', 'softplus', 'Softplus attention: length-scaled softplus, then power and l1-normalize', [
    opt('power', real({ min: 1 }), '1', 're-weighting power'),
    opt('length_scale', bool, 'true', 'scale scores by log(length)'),
  ]),

  // --- cache policies ---
  b('cache', 'full', 'keep every key and value', [], { evicts: false }),
  b('cache', 'keep', 'keep only the entries a mask keeps (e.g. sink(4) | window(1k)); evict the rest', [req('mask', mask, 'which cached positions survive')], { evicts: true }),
  b('cache', 'sirllm', 'SirLLM: keep key tokens chosen by token entropy, with memory decay', [
    req('keep', tokens, 'entries kept'),
    opt('decay', fraction({ min: 0, minExclusive: true }), '0.9', 'memory decay per step'),
    opt('recent', count({ min: 0 }), '64', 'recent tokens always kept'),
  ], { evicts: true }),
  b('cache', 'infllm', 'InfLLM: distant blocks as memory units, attend to the top-scoring units', [
    req('block', tokens, 'tokens per memory unit'),
    req('top', tokens, 'units retrieved per step'),
    opt('local', count({ min: 0 }), '512', 'local window kept in full'),
    opt('sinks', count({ min: 0 }), '4', 'initial tokens kept'),
    opt('representatives', tokens, '4', 'representative keys per unit'),
  ], { evicts: true }),

  // --- architectures and checkpoints ---
  b('arch', 'llama', 'Llama-style decoder: RMSNorm, SwiGLU, rotary attention with grouped KV heads', [
    req('dim', tokens, 'model width'),
    req('layers', tokens, 'number of layers'),
    req('heads', tokens, 'attention heads'),
    opt('kv_heads', tokens, 'heads', 'key/value heads (grouped-query attention)'),
    req('ffn', tokens, 'feed-forward width'),
    opt('norm_eps', positive, '1e-5', 'RMSNorm epsilon'),
  ]),
  b('checkpoint', 'load', 'safetensors weights plus config.json from a directory', [req('path', str('a directory'), 'the checkpoint directory')]),

  // --- optimizers and schedules ---
  b('optimizer', 'adamw', 'AdamW with decoupled weight decay', [
    req('lr', positive, 'peak learning rate'),
    opt('betas', { t: 'tuple', of: [real({ min: 0, max: 1, maxExclusive: true }), real({ min: 0, max: 1, maxExclusive: true })] }, '(0.9, 0.999)', 'moment decay rates'),
    opt('weight_decay', real({ min: 0 }), '0', 'decoupled weight decay'),
    opt('eps', positive, '1e-8', 'denominator epsilon'),
  ]),
  b('optimizer', 'sgd', 'stochastic gradient descent with momentum', [req('lr', positive, 'learning rate'), opt('momentum', real({ min: 0, max: 1, maxExclusive: true }), '0', 'momentum')]),
  b('schedule', 'warmup', 'linear warm-up from 0 to the peak', [req('steps', tokens, 'warm-up steps')]),
  b('schedule', 'cosine', 'cosine decay to a fraction of the peak over the remaining steps', [opt('to', fraction(), '0', 'final fraction of the peak')]),
  b('schedule', 'linear', 'linear decay to a fraction of the peak over the remaining steps', [opt('to', fraction(), '0', 'final fraction of the peak')]),
  b('schedule', 'constant', 'the peak learning rate throughout'),

  // --- samplers (decode policy chains) ---
  b('sampler', 'temperature', 'divide logits by t', [req('t', positive, 'temperature')], { role: 'transform' }),
  b('sampler', 'top_k', 'keep the k most probable tokens', [req('k', tokens, 'tokens kept')], { role: 'filter' }),
  b('sampler', 'top_p', 'nucleus: keep the shortest prefix with cumulative probability >= p', [req('p', fraction({ min: 0, minExclusive: true }), 'probability mass kept')], { role: 'filter' }),
  b('sampler', 'min_p', 'keep tokens with p >= min_p * p_max', [req('p', fraction(), 'fraction of the top probability')], { role: 'filter' }),
  b('sampler', 'typical', 'locally typical sampling: keep the tokens closest to the entropy until mass >= p', [
    req('p', fraction({ min: 0, minExclusive: true }), 'probability mass kept'),
    opt('variant', oneOf('hf', 'llama_cpp'), 'hf', 'the crossing token, in order of |-ln p - H|: hf (paper, Hugging Face): the first whose running mass reaches p; llama_cpp: the first past p'),
    opt('ties', oneOf('keep', 'by_id'), 'keep (hf), by_id (llama_cpp)', 'tokens scoring exactly as the crossing token: keep all (Hugging Face) or cut them by token id, lower ids first'),
  ], { role: 'filter' }),
  b('sampler', 'epsilon', 'drop tokens with p < e', [req('e', fraction({ max: 1, maxExclusive: true }), 'probability floor')], { role: 'filter' }),
  b('sampler', 'eta', 'drop tokens with p < min(e, sqrt(e) * exp(-H))', [req('e', fraction({ max: 1, maxExclusive: true }), 'eta')], { role: 'filter' }),
  b('sampler', 'mirostat', 'Mirostat v1: target surprise tau via a Zipf estimate of the top m tokens', [
    req('tau', positive, 'target surprise in bits'),
    opt('eta', positive, '1 (paper), 0.1 (llama_cpp)', 'learning rate of mu: the paper\'s code updates mu with learning rate 1, llama.cpp defaults to 0.1'),
    opt('m', count({ min: 2 }), '100', 'Zipf estimate: paper uses m ratios of the top m + 1 probabilities (its code), llama_cpp m - 1 ratios of the top m'),
    opt('variant', oneOf('paper', 'llama_cpp'), 'paper', 'paper: m ratios, round k + 1, original p; llama_cpp: m - 1 ratios, floor k, renormalized p'),
  ], { role: 'terminal', stateful: true }),
  b('sampler', 'mirostat_v2', 'Mirostat v2: drop tokens with surprise above mu, sample, update mu', [
    req('tau', positive, 'target surprise in bits'),
    opt('eta', positive, '0.1', 'learning rate of mu (llama.cpp\'s default)'),
  ], { role: 'terminal', stateful: true }),
  b('sampler', 'repetition', 'repetition penalty: logit / r if > 0 else logit * r, over the last n tokens', [
    req('penalty', positive, 'penalty r'),
    opt('last', count({ min: 0 }), '64', 'tokens looked back (0: all)'),
  ], { role: 'penalty' }),
  b('sampler', 'frequency', 'frequency penalty: logit -= count * f', [req('f', real(), 'penalty per occurrence'), opt('last', count({ min: 0 }), '0', 'tokens looked back (0: all)')], { role: 'penalty' }),
  b('sampler', 'presence', 'presence penalty: logit -= p if the token occurred', [req('p', real(), 'penalty'), opt('last', count({ min: 0 }), '0', 'tokens looked back (0: all)')], { role: 'penalty' }),
  b('sampler', 'dry', 'DRY: penalize tokens extending a repeat by multiplier * base^(L - allowed_length)', [
    req('multiplier', real({ min: 0 }), 'penalty multiplier'),
    opt('base', real({ min: 1 }), '1.75', 'exponential base'),
    opt('allowed_length', count({ min: 0 }), '2', 'repeat length tolerated'),
    opt('last', count({ min: 0 }), '0', 'tokens looked back (0: all)'),
  ], { role: 'penalty' }),
  b('sampler', 'logit_bias', 'add a bias to chosen token ids', [req('bias', { t: 'map', key: count({ min: 0 }), value: real() }, 'token id -> bias')], { role: 'penalty' }),
  b('sampler', 'allow', 'keep only the listed tokens', [req('tokens', list(union(count({ min: 0 }), str())), 'token ids, or strings that are one token each of the decode\'s tokenizer (resolved at run time; LMP0609)')], { role: 'filter' }),
  b('sampler', 'ban', 'never choose the listed tokens', [req('tokens', list(union(count({ min: 0 }), str())), 'token ids, or strings that are one token each of the decode\'s tokenizer (resolved at run time; LMP0609)')], { role: 'filter' }),
  b('sampler', 'greedy', 'choose the most probable token', [], { role: 'terminal' }),
  b('sampler', 'sample', 'draw from the distribution (implicit at the end of a chain without a terminal)', [], { role: 'terminal' }),

  // --- length control, speculation, statistics ---
  b('length_control', 'target', 'steer generation to a target length', [
    opt('words', tokens, '-', 'target in words (\\w+ runs)'),
    opt('tokens', tokens, '-', 'target in tokens'),
    opt('chars', tokens, '-', 'target in characters'),
    opt('within', fraction(), '10%', 'tolerance around the target'),
  ], { exactlyOne: ['words', 'tokens', 'chars'] }),
  b('speculation', 'adaptive', 'SpecDec++-style: keep drafting while the predicted rejection stays below a threshold', [
    req('max', tokens, 'most candidates per round'),
    opt('min', tokens, '1', 'fewest candidates per round'),
    opt('stop_when', { t: 'compare', left: oneOf('rejection'), right: fraction() }, 'rejection > 0.3', 'stopping rule'),
  ]),
  b('statistic', 'quantile', 'a quantile of per-token values', [req('of', oneOf('logprob', 'entropy', 'surprise'), 'the per-token value'), req('q', fraction(), 'the quantile')]),
  b('statistic', 'mean', 'the mean of per-token values', [req('of', oneOf('logprob', 'entropy', 'surprise'), 'the per-token value')]),

  // --- tasks ---
  b('task', 'perplexity', 'held-out perplexity, reported per length bucket or position range', [
    req('data', { t: 'dataset' }, 'the data (usually name.holdout)'),
    opt('by', oneOf('length', 'position', 'none'), 'length', 'how results are broken down'),
  ], { reports: ['perplexity', 'loss'] }),
  b('task', 'passkey', 'passkey retrieval at given lengths and depths (landmark attention)', [
    req('lengths', lengths, lengthsDoc('passkey', {})),
    opt('depths', count({ min: 1 }), '5', 'insertion depths spread over 0..100%'),
    opt('samples', tokens, '20', 'samples per (length, depth)'),
  ], { reports: ['accuracy', 'latency'] }),
  b('task', 'needle', 'RULER needle-in-a-haystack', [
    req('lengths', lengths, lengthsDoc('needle', { keys: 1, values: 1, queries: 1 })),
    opt('depths', count({ min: 1 }), '5', 'insertion depths'),
    opt('samples', tokens, '20', 'samples per (length, depth)'),
    opt('keys', tokens, '1', 'needles inserted'),
    opt('values', tokens, '1', 'values per key'),
    opt('queries', tokens, '1', 'keys asked for (at most keys)'),
  ], { reports: ['string_match_all', 'accuracy', 'latency'] }),
  b('task', 'target_length', 'length control: generate to target word counts', [
    req('prompts', str('a JSONL path'), 'prompts file'),
    req('targets', lengths, 'target lengths in words'),
  ], { reports: ['precise_match', 'flexible_match', 'latency'] }),
  b('task', 'tsort', 'Ada-LEval TSort: restore the order of shuffled segments', [req('lengths', lengths, lengthsDoc('tsort', { segments: 4 })), opt('segments', count({ min: 2 }), '4', 'segments shuffled'), opt('samples', tokens, '20', 'samples per length')], {
    reports: ['accuracy', 'latency'],
  }),
  b('task', 'threading', 'Needle Threading: follow key -> value chains through a haystack', [
    req('lengths', lengths, lengthsDoc('threading', { steps: 3 })),
    opt('steps', tokens, '3', 'links in each thread'),
    opt('samples', tokens, '20', 'samples per length'),
  ], { reports: ['accuracy', 'latency'] }),

  // --- metrics ---
  b('metric', 'accuracy', 'fraction of exact answers'),
  b('metric', 'perplexity', 'exp of the mean token loss'),
  b('metric', 'loss', 'mean token cross-entropy (nats)'),
  b('metric', 'precise_match', 'Ruler Precise Match: length within the target window'),
  b('metric', 'flexible_match', 'Ruler Flexible Match: length within the widened window'),
  b('metric', 'string_match_all', 'fraction of reference strings found (case-insensitive)'),
  b('metric', 'latency', 'wall time per request', [], { fields: ['p50', 'p90', 'p99', 'mean'] }),

  // --- search strategies ---
  b('search', 'grid', 'every combination of the varied values'),
  b('search', 'random', 'random search', [req('trials', tokens, 'trials'), opt('seed', count({ min: 0 }), '0', 'seed')]),
  b('search', 'tpe', 'tree-structured Parzen estimator', [req('trials', tokens, 'trials'), opt('seed', count({ min: 0 }), '0', 'seed')]),
  b('search', 'halving', 'successive halving over trials with growing budgets', [
    req('trials', tokens, 'initial trials'),
    opt('eta', count({ min: 2 }), '3', 'fraction 1/eta of trials kept per rung'),
    opt('seed', count({ min: 0 }), '0', 'seed'),
  ]),
];

const BY_CATEGORY = new Map<Category, Map<string, BuiltinDef>>();
for (const def of BUILTINS) {
  let m = BY_CATEGORY.get(def.category);
  if (!m) BY_CATEGORY.set(def.category, (m = new Map()));
  if (m.has(def.name)) throw new Error(`registry: duplicate built-in ${def.category}.${def.name}`);
  m.set(def.name, def);
}

/** The built-in `name` of `category`, if any. */
export function lookupBuiltin(category: Category, name: string): BuiltinDef | undefined {
  return BY_CATEGORY.get(category)?.get(name);
}

/** Every built-in of a category, in registry order. */
export function builtinsOf(category: Category): readonly BuiltinDef[] {
  return [...(BY_CATEGORY.get(category)?.values() ?? [])];
}
