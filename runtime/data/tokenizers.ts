// Tokenizers: UTF-8 bytes, Hugging Face tokenizer.json (offline, @huggingface/tokenizers) and
// OpenAI encodings (offline ranks shipped in js-tiktoken). EOT handling is explicit: `encodeDoc`
// appends the EOT id after the document when the config's appendEot is true; `encode` never does.
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { TokenizerConfig } from './config.js';
import { fnv1a64Hex } from './hash.js';

export interface LmpTokenizer {
  /** Stable identity for cache keys (kind, file content hash or encoding name, EOT policy). */
  readonly id: string;
  readonly vocabSize: number;
  readonly eot: number;
  readonly appendEot: boolean;
  /** Token ids of `text` (no special tokens added, special-token text encoded as plain text). */
  encode(text: string): Int32Array;
  /** `encode(text)` followed by EOT when appendEot. */
  encodeDoc(text: string): Int32Array;
  decode(ids: ArrayLike<number>): string;
}

export class TokenizerError extends Error {
  readonly code = 'LMP_E_TOKENIZER';
  constructor(message: string) {
    super(message);
    this.name = 'TokenizerError';
  }
}

function withEot(ids: ArrayLike<number>, eot: number, append: boolean): Int32Array {
  const out = new Int32Array(ids.length + (append ? 1 : 0));
  out.set(ids as ArrayLike<number>);
  if (append) out[ids.length] = eot;
  return out;
}

/** Bytes: ids 0..255 are UTF-8 bytes; EOT defaults to 256; vocabulary = max(256, eot + 1). */
export function bytesTokenizer(eot = 256, appendEot = true): LmpTokenizer {
  if (!Number.isInteger(eot) || eot < 256) throw new TokenizerError(`bytes tokenizer: eot must be an integer >= 256 (got ${eot})`);
  const encode = (text: string): Int32Array => Int32Array.from(Buffer.from(text, 'utf8'));
  return {
    id: `bytes:eot=${eot}:append=${appendEot}`,
    vocabSize: eot + 1,
    eot,
    appendEot,
    encode,
    encodeDoc(text) {
      const b = Buffer.from(text, 'utf8');
      const out = new Int32Array(b.length + (appendEot ? 1 : 0));
      for (let i = 0; i < b.length; i++) out[i] = b[i]!;
      if (appendEot) out[b.length] = eot;
      return out;
    },
    decode: (ids) => Buffer.from(Array.from(ids).filter((i) => i < 256)).toString('utf8'),
  };
}

/** A Hugging Face tokenizer.json (tokenizer_config.json beside it is used when present). */
export async function huggingfaceTokenizer(path: string, eot: number | string, appendEot = true): Promise<LmpTokenizer> {
  const file = resolve(path);
  if (!existsSync(file)) throw new TokenizerError(`huggingface tokenizer: no file ${file}`);
  const text = readFileSync(file, 'utf8');
  const cfgPath = join(dirname(file), 'tokenizer_config.json');
  const cfg = existsSync(cfgPath) ? JSON.parse(readFileSync(cfgPath, 'utf8')) : {};
  const { Tokenizer } = await import('@huggingface/tokenizers');
  const tok = new Tokenizer(JSON.parse(text), cfg);
  const eotId = typeof eot === 'number' ? eot : tok.token_to_id(eot);
  if (eotId === undefined) throw new TokenizerError(`huggingface tokenizer ${file}: no token named ${JSON.stringify(eot)} for EOT`);
  const vocab = tok.get_vocab(true);
  let maxId = 0;
  for (const v of vocab.values()) if (v > maxId) maxId = v;
  const encode = (s: string): Int32Array => Int32Array.from(tok.encode(s, { add_special_tokens: false }).ids);
  return {
    id: `huggingface:${fnv1a64Hex(text)}:eot=${eotId}:append=${appendEot}`,
    vocabSize: maxId + 1,
    eot: eotId,
    appendEot,
    encode,
    encodeDoc: (s) => withEot(encode(s), eotId, appendEot),
    decode: (ids) => tok.decode(Array.from(ids)),
  };
}

/** An OpenAI encoding; special-token text inside documents is encoded as ordinary text. */
export async function tiktokenTokenizer(encoding: string, eot: number | string, appendEot = true): Promise<LmpTokenizer> {
  const known = ['cl100k_base', 'o200k_base', 'p50k_base', 'r50k_base', 'gpt2'];
  if (!known.includes(encoding)) throw new TokenizerError(`tiktoken: unknown encoding ${encoding} (known: ${known.join(', ')})`);
  const { Tiktoken } = await import('js-tiktoken/lite');
  const ranks = (await import(`js-tiktoken/ranks/${encoding}`)).default;
  const enc = new Tiktoken(ranks);
  const specials: Record<string, number> = ranks.special_tokens;
  const eotId = typeof eot === 'number' ? eot : specials[eot];
  if (eotId === undefined) throw new TokenizerError(`tiktoken ${encoding}: no special token ${JSON.stringify(eot)} (has ${Object.keys(specials).join(', ')})`);
  let maxId = Math.max(...Object.values(specials));
  // Ranks are a compact string; the largest ordinary rank is below the specials for all shipped encodings.
  maxId = Math.max(maxId, eotId);
  const encode = (s: string): Int32Array => Int32Array.from(enc.encode(s, [], []));
  return {
    id: `tiktoken:${encoding}:eot=${eotId}:append=${appendEot}`,
    vocabSize: maxId + 1,
    eot: eotId,
    appendEot,
    encode,
    encodeDoc: (s) => withEot(encode(s), eotId, appendEot),
    decode: (ids) => enc.decode(Array.from(ids)),
  };
}

/** Build the tokenizer a config names; relative paths resolve against `root`. */
export async function loadTokenizer(cfg: TokenizerConfig, root = '.'): Promise<LmpTokenizer> {
  switch (cfg.kind) {
    case 'bytes':
      return bytesTokenizer(cfg.eot, cfg.appendEot);
    case 'huggingface':
      return huggingfaceTokenizer(resolve(root, cfg.path), cfg.eot, cfg.appendEot);
    case 'tiktoken':
      return tiktokenTokenizer(cfg.encoding, cfg.eot, cfg.appendEot);
  }
}
