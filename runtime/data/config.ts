// The typed configuration that a compiled `data` block lowers to. Plain JSON-able objects, every
// parameter explicit, normalized units: lengths and counts are integer token counts, fractions are
// in [0, 1], seeds are non-negative integers. See README.md in this folder for the full reference.

/** A document source. `weight` is the relative share of documents in the mixture (> 0). */
export type SourceConfig =
  /** One document per file matched by `glob` (relative to `DataConfig.root`). No match is an error. */
  | { kind: 'text'; glob: string; weight: number }
  /** One document per line of a JSONL file; the document is the string at `field` (dotted path). */
  | { kind: 'jsonl'; path: string; field: string; weight: number; onError: 'fail' | 'skip' }
  /** One document per row of a parquet file; the document is the string in `column`. */
  | { kind: 'parquet'; path: string; column: string; weight: number };

/** The OpenAI encodings js-tiktoken ships (offline ranks). */
export const TIKTOKEN_ENCODINGS = ['cl100k_base', 'o200k_base', 'p50k_base', 'r50k_base', 'gpt2'] as const;
export type TiktokenEncoding = (typeof TIKTOKEN_ENCODINGS)[number];

/**
 * The tokenizer. `eot` is the id appended after every document when `appendEot` is true
 * (a number, or for huggingface / tiktoken the name of a special token, resolved at load;
 * huggingface null: tokenizer_config.json's eos_token). `bos` is prepended to every document
 * (and to every prompt): an id, a token name, 'auto' (huggingface: what its post-processor adds
 * in front, e.g. Llama 3's <|begin_of_text|>), or null/absent: none (runtime/data/tokenizers.ts).
 */
export type TokenizerConfig =
  /** UTF-8 bytes: ids 0..255, EOT 256 by default, vocabulary 257. */
  | { kind: 'bytes'; eot: number; appendEot: boolean; bos?: number | null }
  /** A Hugging Face tokenizer.json read from a local file (offline). */
  | { kind: 'huggingface'; path: string; eot: number | string | null; appendEot: boolean; bos?: number | string | null }
  /** An OpenAI encoding shipped inside js-tiktoken (offline). */
  | { kind: 'tiktoken'; encoding: TiktokenEncoding; eot: number | string; appendEot: boolean; bos?: number | string | null };

export type PackConfig =
  /** Concatenate documents (EOT after each) in seeded random order and cut sequences of `length`
   *  tokens; the final partial sequence is dropped (reported in `tokensDropped`). */
  | { kind: 'concat_chunk'; length: number }
  /** One document per sequence, padded to `length` with `padId` (null: the EOT id; loss mask 0 on
   *  padding). Longer documents: 'truncate' keeps the first `length` tokens (rest dropped,
   *  reported), 'split' cuts them into several padded sequences, 'drop' drops them (reported). */
  | { kind: 'pad'; length: number; truncate: 'truncate' | 'split' | 'drop'; padId: number | null }
  /** Dataset Decomposition (get_binary): pieces of 2^k + 1 tokens, 2^k in [min, max] (token
   *  counts, powers of two). `deterministic` takes k = log2(max) for long remainders instead of the
   *  reference's random draw P(k) ∝ 2^(max - k). */
  | { kind: 'decompose'; min: number; max: number; deterministic: boolean }
  /** Prepacking: bin-pack whole documents (prompts) into sequences of `capacity` tokens ('longest':
   *  the longest document of each group) with best-fit or first-fit decreasing. `group` documents
   *  are packed together (0: all). Documents longer than the capacity are dropped (reported). */
  | { kind: 'prepack'; capacity: number | 'longest'; algorithm: 'bfd' | 'ffd'; group: number };

export interface DataConfig {
  sources: SourceConfig[];
  tokenizer: TokenizerConfig;
  /** Document-level hold-out: a document is held out when unit(FNV-1a64(seed, bytes)) < fraction. */
  holdout: { fraction: number; seed: number };
  /** Length filter in tokens (before EOT). Shorter or longer documents are dropped and counted.
   *  maxLength null: no upper bound. */
  filter: { minLength: number; maxLength: number | null };
  /** Invalid UTF-8 in text / JSONL bytes: 'replace' (U+FFFD, documents counted) or 'fail'. */
  utf8: 'replace' | 'fail';
  pack: PackConfig;
  /** Seed of the mixture, document order and the packer's random choices. */
  seed: number;
  /** Folder that relative source paths resolve against (the .lmp file's folder). */
  root: string;
}

export class DataConfigError extends Error {
  readonly code = 'LMP_E_DATA_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'DataConfigError';
  }
}

const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x);
// Not `x & (x - 1)`: bitwise operators wrap at 2^32 (4G would pass as 0).
const isPow2 = (x: number): boolean => isInt(x) && x > 0 && Number.isInteger(Math.log2(x));

/** Check a DataConfig; throws DataConfigError naming the offending field. Returns it unchanged. */
export function validateDataConfig(c: DataConfig): DataConfig {
  const fail = (path: string, what: string): never => {
    throw new DataConfigError(`data config: ${path} ${what}`);
  };
  if (!Array.isArray(c.sources) || c.sources.length === 0) fail('sources', 'must list at least one source');
  c.sources.forEach((s, i) => {
    if (!(typeof s.weight === 'number' && s.weight > 0 && Number.isFinite(s.weight))) fail(`sources[${i}].weight`, 'must be a positive number');
    if (s.kind === 'text' && !s.glob) fail(`sources[${i}].glob`, 'is empty');
    if (s.kind === 'jsonl' && (!s.path || !s.field)) fail(`sources[${i}]`, 'needs path and field');
    if (s.kind === 'jsonl' && s.onError !== 'fail' && s.onError !== 'skip') fail(`sources[${i}].onError`, "must be 'fail' or 'skip'");
    if (s.kind === 'parquet' && (!s.path || !s.column)) fail(`sources[${i}]`, 'needs path and column');
  });
  const { fraction, seed } = c.holdout;
  if (!(fraction >= 0 && fraction < 1)) fail('holdout.fraction', 'must be in [0, 1)');
  if (!isInt(seed) || seed < 0) fail('holdout.seed', 'must be a non-negative integer');
  if (!isInt(c.filter.minLength) || c.filter.minLength < 0) fail('filter.minLength', 'must be a non-negative integer');
  if (c.filter.maxLength !== null && (!isInt(c.filter.maxLength) || c.filter.maxLength < c.filter.minLength)) fail('filter.maxLength', 'must be an integer >= minLength, or null');
  if (c.utf8 !== 'replace' && c.utf8 !== 'fail') fail('utf8', "must be 'replace' or 'fail'");
  if (!isInt(c.seed) || c.seed < 0) fail('seed', 'must be a non-negative integer');
  const p = c.pack;
  switch (p.kind) {
    case 'concat_chunk':
      if (!isInt(p.length) || p.length < 1) fail('pack.length', 'must be a positive integer');
      break;
    case 'pad':
      if (!isInt(p.length) || p.length < 1) fail('pack.length', 'must be a positive integer');
      if (!['truncate', 'split', 'drop'].includes(p.truncate)) fail('pack.truncate', "must be 'truncate', 'split' or 'drop'");
      break;
    case 'decompose':
      if (!isPow2(p.min)) fail('pack.min', `must be a power of two (got ${p.min})`);
      if (!isPow2(p.max)) fail('pack.max', `must be a power of two (got ${p.max})`);
      if (p.max < p.min) fail('pack.max', 'must be >= pack.min');
      if (p.max > 2 ** 31) fail('pack.max', `must be at most 2^31 (got ${p.max})`);
      break;
    case 'prepack':
      if (p.capacity !== 'longest' && (!isInt(p.capacity) || p.capacity < 1)) fail('pack.capacity', "must be a positive integer or 'longest'");
      if (p.algorithm !== 'bfd' && p.algorithm !== 'ffd') fail('pack.algorithm', "must be 'bfd' or 'ffd'");
      if (!isInt(p.group) || p.group < 0) fail('pack.group', 'must be a non-negative integer');
      break;
    default:
      fail('pack.kind', `is unknown: ${(p as { kind: string }).kind}`);
  }
  return c;
}

/** A complete config with the documented defaults; tests and examples override what they need. */
export function defaultDataConfig(over: Partial<DataConfig> = {}): DataConfig {
  return {
    sources: [],
    tokenizer: { kind: 'bytes', eot: 256, appendEot: true },
    holdout: { fraction: 0, seed: 0 },
    filter: { minLength: 0, maxLength: null },
    utf8: 'replace',
    pack: { kind: 'concat_chunk', length: 2048 },
    seed: 0,
    root: '.',
    ...over,
  };
}
