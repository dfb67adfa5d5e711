// Per-clause semantics: for each (declaration kind, clause keyword) what value the clause takes,
// what its modifiers take, and whether the clause is required. The syntax of clauses (argument
// shape, repeatability) is grammar/clauses.ts; a test checks the two tables name the same clauses.
import type { DeclKind } from '../../grammar/ast.js';
import { bool, call, count, duration, fraction, mask, oneOf, real, ref, str, union, type ValueType } from './types.js';

export interface ClauseSemantics {
  /** The type of each argument (a 'list' clause applies it to every item); undefined: no argument. */
  readonly arg?: ValueType;
  /** Modifier keyword -> the type of its value (null: a flag with no value). */
  readonly modifiers?: Readonly<Record<string, ValueType | null>>;
  /** The type of the `: expr` body. */
  readonly body?: ValueType;
  /** The clause must be present (after `from` inheritance). */
  readonly required?: boolean;
}

const steps = count({ min: 1 });
const seed = { arg: count({ min: 0 }) } as const;
const anyNumber = union(real(), duration(), { t: 'number', unit: 'bytes' });

export const CLAUSE_SEMANTICS: { readonly [K in DeclKind]: Readonly<Record<string, ClauseSemantics>> } = {
  tokenizer: {
    use: { arg: call('tokenizer'), required: true },
    eot: { arg: union(str('a token'), count({ min: 0 }), oneOf('none')) },
    bos: { arg: union(str('a token'), count({ min: 0 }), oneOf('none')) },
  },
  data: {
    source: { arg: call('source'), modifiers: { weight: real({ min: 0, minExclusive: true }) }, required: true },
    tokenizer: { arg: union(ref('tokenizer'), call('tokenizer')), required: true },
    filter: { arg: call('filter') },
    holdout: { arg: fraction({ max: 1, maxExclusive: true }), modifiers: { seed: count({ min: 0 }) } },
    pack: { arg: call('packer') },
    seed,
  },
  curriculum: {
    tokens_per_step: { arg: steps },
    weights: { arg: union({ t: 'map', key: count({ min: 1 }), value: real({ min: 0 }) }, call('weights')) },
    cycles: { arg: steps },
    length: { arg: steps },
    grow: { arg: call('growth') },
    ranks: { arg: steps },
    seed,
  },
  attention: {
    mask: { arg: mask },
    heads: { arg: { t: 'range', of: count({ min: 0 }) }, body: mask },
    score: { arg: call('score') },
    position: { arg: call('position'), modifiers: { limit: steps } },
    cache: { arg: call('cache'), modifiers: { reposition: null } },
    tile: { arg: union(count({ min: 1, powerOfTwo: true }), { t: 'record', fields: { cpu: count({ min: 1, powerOfTwo: true }), cuda: count({ min: 1, powerOfTwo: true }) } }) },
  },
  model: {
    arch: { arg: call('arch') },
    load: { arg: str('a checkpoint directory') },
    vocab: { arg: union(ref('tokenizer'), steps) },
    attention: { arg: ref('attention') },
    tie_embeddings: { arg: bool },
    seed,
  },
  train: {
    model: { arg: ref('model'), required: true },
    data: { arg: ref('data'), required: true },
    curriculum: { arg: union(ref('curriculum'), call('curriculum')) },
    optimizer: { arg: call('optimizer') },
    schedule: { arg: { t: 'then', of: call('schedule') } },
    steps: { arg: steps, required: true },
    accumulate: { arg: steps },
    clip: { arg: real({ min: 0, minExclusive: true }) },
    eval: { modifiers: { every: steps }, body: union(call('task'), ref('eval')) },
    checkpoint: { arg: str('a directory'), modifiers: { every: steps } },
    log: { arg: str('a JSONL path') },
    ranks: { arg: steps },
    seed,
    resume: { arg: oneOf('auto') },
    backend: { arg: oneOf('cpu', 'cuda', 'auto') },
  },
  decode: {
    model: { arg: ref('model') },
    attention: { arg: ref('attention') },
    policy: { arg: { t: 'chain', of: call('sampler') } },
    prompt: { arg: union(str('a prompt'), ref('data')), modifiers: { template: oneOf('tokenizer', 'chatml', 'llama3', 'llama2', 'alpaca') } },
    max_tokens: { arg: steps },
    min_tokens: { arg: count({ min: 0 }) },
    stop: { arg: str('a stop string') },
    length: { arg: call('length_control') },
    trace: { arg: oneOf('entropy', 'surprise', 'logprob', 'candidates') },
    speculate: { modifiers: { draft: ref('model'), candidates: union(steps, call('speculation')), greedy: null } },
    cascade: { arg: { t: 'chain', of: ref('model') }, modifiers: { 'defer when': { t: 'compare', left: call('statistic'), right: real() } } },
    seed,
  },
  eval: {
    task: { arg: call('task'), required: true },
    using: { arg: ref('decode', 'model') },
    data: { arg: { t: 'dataset' } },
    metric: { arg: call('metric') },
    seed,
  },
  optimize: {
    vary: { arg: { t: 'knob' }, modifiers: { in: { t: 'any', what: 'a list [a, b, ...] or a range a..b' } }, required: true },
    maximize: { arg: { t: 'metric_ref' } },
    minimize: { arg: { t: 'metric_ref' } },
    'subject to': { arg: { t: 'compare', left: { t: 'metric_ref' }, right: anyNumber } },
    search: { arg: call('search'), required: true },
    budget: { arg: { t: 'record', fields: { trials: steps, time: duration(), cost: real({ min: 0 }) } } },
    save: { arg: str('a JSON path') },
    seed,
  },
};

/** The value of `KIND NAME = expr`, for the kinds that have a value form. */
export const VALUE_FORM_SEMANTICS: { readonly [K in DeclKind]?: ValueType } = {
  tokenizer: call('tokenizer'),
  curriculum: call('curriculum'),
  model: union(call('checkpoint'), call('arch')),
};

export function clauseSemantics(kind: DeclKind, keyword: string): ClauseSemantics | undefined {
  return CLAUSE_SEMANTICS[kind][keyword];
}
