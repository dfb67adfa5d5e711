// Tokenizers: UTF-8 bytes, Hugging Face tokenizer.json (offline, @huggingface/tokenizers) and
// OpenAI encodings (offline ranks shipped in js-tiktoken). EOT and BOS handling is explicit:
// `encodeDoc` prepends the BOS id (when the config names one) and appends the EOT id after the
// document when the config's appendEot is true; `encodePrompt` prepends BOS only; `encode` adds
// neither. A Hugging Face tokenizer's EOT defaults to tokenizer_config.json's eos_token, and
// `bos: 'auto'` is what its post-processor adds in front (Llama 3: <|begin_of_text|>).
import { readFileSync, existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { TIKTOKEN_ENCODINGS, type TokenizerConfig } from './config.js';
import { fnv1a64Hex } from './hash.js';

export interface LmpTokenizer {
  /** Stable identity for cache keys (kind, file content hash or encoding name, EOT policy). */
  readonly id: string;
  readonly vocabSize: number;
  readonly eot: number;
  readonly appendEot: boolean;
  /** The id prepended to every document and prompt, or null. */
  readonly bos: number | null;
  /** The chat template of tokenizer_config.json (Hugging Face), else null. */
  readonly chatTemplate: string | null;
  /** Token text of the BOS / EOS tokens for chat templates (Hugging Face: tokenizer_config.json's bos_token / eos_token). */
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  /** Token ids of `text` (no special tokens added, special-token text encoded as plain text). */
  encode(text: string): Int32Array;
  /** BOS (when set), `encode(text)`, then EOT when appendEot. */
  encodeDoc(text: string): Int32Array;
  /** BOS (when set) and `encode(text)`: a prompt to continue. */
  encodePrompt(text: string): Int32Array;
  /** The id of a single token written as text (a special token's name, or text that is exactly one token), else undefined. */
  tokenId(text: string): number | undefined;
  decode(ids: ArrayLike<number>): string;
}

export class TokenizerError extends Error {
  readonly code = 'LMP_E_TOKENIZER';
  constructor(message: string) {
    super(message);
    this.name = 'TokenizerError';
  }
}

function withEot(ids: ArrayLike<number>, eot: number, append: boolean, bos: number | null = null): Int32Array {
  const b = bos === null ? 0 : 1;
  const out = new Int32Array(b + ids.length + (append ? 1 : 0));
  if (bos !== null) out[0] = bos;
  out.set(ids as ArrayLike<number>, b);
  if (append) out[b + ids.length] = eot;
  return out;
}

/** The cache-key suffix of a BOS choice (empty without one, so ids of BOS-less tokenizers are unchanged). */
const bosId = (bos: number | null): string => (bos === null ? '' : `:bos=${bos}`);

/** The special-token fields a tokenizer without a chat template shares. */
function plainSpecials(encode: (s: string) => Int32Array, eot: number, appendEot: boolean, bos: number | null) {
  return {
    bos,
    chatTemplate: null,
    bosToken: null,
    eosToken: null,
    encodeDoc: (s: string) => withEot(encode(s), eot, appendEot, bos),
    encodePrompt: (s: string) => withEot(encode(s), eot, false, bos),
  };
}

/** Bytes: ids 0..255 are UTF-8 bytes; EOT defaults to 256; vocabulary = max(eot, bos) + 1. */
export function bytesTokenizer(eot = 256, appendEot = true, bos: number | null = null): LmpTokenizer {
  if (!Number.isInteger(eot) || eot < 256) throw new TokenizerError(`bytes tokenizer: eot must be an integer >= 256 (got ${eot})`);
  if (bos !== null && (!Number.isInteger(bos) || bos < 256 || bos === eot)) throw new TokenizerError(`bytes tokenizer: bos must be an integer >= 256 other than eot (got ${bos})`);
  const encode = (text: string): Int32Array => Int32Array.from(Buffer.from(text, 'utf8'));
  return {
    id: `bytes:eot=${eot}:append=${appendEot}${bosId(bos)}`,
    vocabSize: Math.max(eot, bos ?? 0) + 1,
    eot,
    appendEot,
    encode,
    ...plainSpecials(encode, eot, appendEot, bos),
    tokenId: (t) => (Buffer.byteLength(t, 'utf8') === 1 ? Buffer.from(t, 'utf8')[0]! : undefined),
    decode: (ids) => Buffer.from(Array.from(ids).filter((i) => i < 256)).toString('utf8'),
  };
}

/** A token named by the config (an id, or a token's text), resolved with `lookup`. */
function resolveToken(what: string, v: number | string, lookup: (t: string) => number | undefined, vocab: number, where: string): number {
  const id = typeof v === 'number' ? v : lookup(v);
  if (id === undefined) throw new TokenizerError(`${where}: no token named ${JSON.stringify(v)} for ${what}`);
  if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new TokenizerError(`${where}: ${what} id ${id} is outside the vocabulary (${vocab})`);
  return id;
}

/** tokenizer_config.json's bos_token / eos_token: a string or an AddedToken object {content}. */
function tokenText(x: unknown): string | null {
  if (typeof x === 'string') return x;
  if (x && typeof x === 'object' && typeof (x as { content?: unknown }).content === 'string') return (x as { content: string }).content;
  return null;
}

/**
 * A Hugging Face tokenizer.json (tokenizer_config.json beside it is used when present: its
 * eos_token is the default EOT, its bos_token and chat_template are kept). `bos: 'auto'`: the
 * id the tokenizer's post-processor adds in front of a text (encode with add_special_tokens), else
 * tokenizer_config.json's bos_token when its add_bos_token is true, else none.
 */
export async function huggingfaceTokenizer(path: string, eot: number | string | null, appendEot = true, bos: number | string | null = null): Promise<LmpTokenizer> {
  const file = resolve(path);
  if (!existsSync(file)) throw new TokenizerError(`huggingface tokenizer: no file ${file}`);
  // building one from a large tokenizer.json takes a while (Llama 3: 9 MB, ~1 s): one per file
  // version and settings per process (tokenizers are immutable)
  const cfgFile = join(dirname(file), 'tokenizer_config.json');
  const stamp = (f: string): string => (existsSync(f) ? `${statSync(f).mtimeMs}:${statSync(f).size}` : '-');
  return built(`huggingface|${file}|${stamp(file)}|${stamp(cfgFile)}|${settingsKey(eot, appendEot, bos)}`, () => loadHuggingface(file, cfgFile, eot, appendEot, bos));
}

const BUILT = new Map<string, Promise<LmpTokenizer>>();

/** The tokenizer built for `key` in this process, else `build()`'s (kept unless it fails). */
function built(key: string, build: () => Promise<LmpTokenizer>): Promise<LmpTokenizer> {
  let hit = BUILT.get(key);
  if (!hit) {
    hit = build();
    BUILT.set(key, hit);
    hit.catch(() => BUILT.delete(key));
  }
  return hit;
}

/** EOT, appendEot and BOS as a cache-key part (JSON: the id 5 and a token named "5" differ). */
const settingsKey = (eot: number | string | null, appendEot: boolean, bos: number | string | null): string => JSON.stringify([eot, appendEot, bos]);

async function loadHuggingface(file: string, cfgPath: string, eot: number | string | null, appendEot: boolean, bos: number | string | null): Promise<LmpTokenizer> {
  const text = readFileSync(file, 'utf8');
  let cfg: Record<string, unknown> = {};
  try {
    if (existsSync(cfgPath)) cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new TokenizerError(`huggingface tokenizer: ${cfgPath}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new TokenizerError(`huggingface tokenizer ${file}: not JSON (${(e as Error).message})`);
  }
  const { Tokenizer } = await import('@huggingface/tokenizers');
  const tok = new Tokenizer(json as object, cfg);
  const vocab = tok.get_vocab(true);
  let maxId = 0;
  for (const v of vocab.values()) if (v > maxId) maxId = v;
  const V = maxId + 1;
  const lookup = (t: string): number | undefined => tok.token_to_id(t);
  const eosToken = tokenText(cfg['eos_token']);
  const bosToken = tokenText(cfg['bos_token']);
  if (eot === null && eosToken === null) throw new TokenizerError(`huggingface tokenizer ${file}: no EOT given and no eos_token in ${cfgPath} (write eot "<token>" in the tokenizer)`);
  const eotId = resolveToken('EOT', eot ?? eosToken!, lookup, V, `huggingface tokenizer ${file}`);
  let bosIdV: number | null = null;
  if (bos === 'auto') {
    // what encode(add_special_tokens: true) puts in front of a text
    const probe = 'a';
    const plain = tok.encode(probe, { add_special_tokens: false }).ids;
    const full = tok.encode(probe, { add_special_tokens: true }).ids;
    if (full.length === plain.length + 1 && full.slice(1).every((x: number, i: number) => x === plain[i])) bosIdV = full[0]!;
    else if (cfg['add_bos_token'] === true && bosToken !== null) bosIdV = resolveToken('BOS', bosToken, lookup, V, `huggingface tokenizer ${file}`);
  } else if (bos !== null) bosIdV = resolveToken('BOS', bos, lookup, V, `huggingface tokenizer ${file}`);
  const encode = (s: string): Int32Array => Int32Array.from(tok.encode(s, { add_special_tokens: false }).ids);
  const template = cfg['chat_template'];
  return {
    id: `huggingface:${fnv1a64Hex(text)}:eot=${eotId}:append=${appendEot}${bosId(bosIdV)}`,
    vocabSize: V,
    eot: eotId,
    appendEot,
    encode,
    ...plainSpecials(encode, eotId, appendEot, bosIdV),
    chatTemplate: typeof template === 'string' ? template : null,
    bosToken: bosIdV !== null ? (tok.id_to_token(bosIdV) ?? bosToken) : bosToken,
    eosToken: tok.id_to_token(eotId) ?? eosToken,
    tokenId: (t) => {
      const id = lookup(t);
      if (id !== undefined) return id;
      const ids = encode(t);
      return ids.length === 1 ? ids[0] : undefined;
    },
    decode: (ids) => tok.decode(Array.from(ids)),
  };
}

/**
 * An OpenAI encoding; special-token text inside documents is encoded as ordinary text. Building
 * one parses its ranks (cl100k_base: ~0.6 s): one per encoding and settings per process.
 */
export async function tiktokenTokenizer(encoding: string, eot: number | string, appendEot = true, bos: number | string | null = null): Promise<LmpTokenizer> {
  const known: readonly string[] = TIKTOKEN_ENCODINGS;
  if (!known.includes(encoding)) throw new TokenizerError(`tiktoken: unknown encoding ${encoding} (known: ${known.join(', ')})`);
  return built(`tiktoken|${encoding}|${settingsKey(eot, appendEot, bos)}`, () => loadTiktoken(encoding, eot, appendEot, bos));
}

async function loadTiktoken(encoding: string, eot: number | string, appendEot: boolean, bos: number | string | null): Promise<LmpTokenizer> {
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
  const tokenId = (t: string): number | undefined => {
    if (t in specials) return specials[t];
    const ids = encode(t);
    return ids.length === 1 ? ids[0] : undefined;
  };
  const bosV = bos === null || bos === 'auto' ? null : resolveToken('BOS', bos, (t) => specials[t], maxId + 1, `tiktoken ${encoding}`);
  return {
    id: `tiktoken:${encoding}:eot=${eotId}:append=${appendEot}${bosId(bosV)}`,
    vocabSize: maxId + 1,
    eot: eotId,
    appendEot,
    encode,
    ...plainSpecials(encode, eotId, appendEot, bosV),
    tokenId,
    decode: (ids) => enc.decode(Array.from(ids)),
  };
}

/** Build the tokenizer a config names; relative paths resolve against `root`. */
export async function loadTokenizer(cfg: TokenizerConfig, root = '.'): Promise<LmpTokenizer> {
  switch (cfg.kind) {
    case 'bytes':
      return bytesTokenizer(cfg.eot, cfg.appendEot, cfg.bos ?? null);
    case 'huggingface':
      return huggingfaceTokenizer(resolve(root, cfg.path), cfg.eot, cfg.appendEot, cfg.bos ?? null);
    case 'tiktoken':
      return tiktokenTokenizer(cfg.encoding, cfg.eot, cfg.appendEot, cfg.bos ?? null);
  }
}
