// Read sources, decode UTF-8, split hold-out by content hash, filter by length, tokenize, and mix
// sources by weight. The result is a tokenized corpus in memory: one flat Int32Array of tokens
// plus document offsets (4 bytes per token). Shards (shards.ts) are what training reads.
import type { DataConfig } from './config.js';
import { validateDataConfig } from './config.js';
import { Fnv1a64 } from './hash.js';
import { Rng } from './rng.js';
import { readSource, SourceError, type SourceCounters } from './sources.js';
import type { LmpTokenizer } from './tokenizers.js';

export interface CorpusStats {
  documentsRead: number;
  /** Tokens (EOT included) of the documents tokenized for this split, before the length filter. */
  tokensRead: number;
  bytesRead: number;
  /** Zero-length documents (dropped). */
  emptyDocuments: number;
  /** Documents that held invalid UTF-8 (decoded with U+FFFD under utf8: 'replace'). */
  invalidUtf8Documents: number;
  malformedLines: number;
  missingField: number;
  /** Documents on the other side of the hold-out split. */
  heldOutDocuments: number;
  /** Documents shorter than filter.minLength tokens (dropped). */
  tooShortDocuments: number;
  tooShortTokens: number;
  /** Documents longer than filter.maxLength tokens (dropped). */
  tooLongDocuments: number;
  tooLongTokens: number;
  documentsKept: number;
  /** Tokens of kept documents, EOT included. */
  tokensKept: number;
  perSource: { documents: number; tokens: number; mixedDocuments: number }[];
}

export interface TokenizedCorpus {
  tokens: Int32Array;
  /** offsets[i]..offsets[i+1] are document i's tokens (EOT included when appended). */
  offsets: Float64Array;
  /** Source index of each document. */
  source: Int32Array;
  /** The 64-bit content hash of each document (hex), for provenance. */
  stats: CorpusStats;
}

class GrowI32 {
  buf = new Int32Array(1 << 16);
  n = 0;
  push(a: Int32Array): void {
    if (this.n + a.length > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < this.n + a.length) cap *= 2;
      const nb = new Int32Array(cap);
      nb.set(this.buf.subarray(0, this.n));
      this.buf = nb;
    }
    this.buf.set(a, this.n);
    this.n += a.length;
  }
}

/** Side of the hold-out split: true when held out. Same bytes + seed => same side, always. */
export function isHeldOut(bytes: Uint8Array, fraction: number, seed: number): boolean {
  if (fraction <= 0) return false;
  const h = new Fnv1a64();
  const s = new Uint8Array(8);
  new DataView(s.buffer).setFloat64(0, seed, true);
  h.update(s).update(bytes);
  return h.unit() < fraction;
}

const fatal = new TextDecoder('utf-8', { fatal: true });
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const lossy = new TextDecoder('utf-8');

/** Load, split, filter and tokenize every source. `split` picks the training or hold-out side. */
export async function loadCorpus(cfg: DataConfig, tok: LmpTokenizer, split: 'train' | 'holdout' = 'train', onProgress?: (bytes: number) => void): Promise<TokenizedCorpus> {
  validateDataConfig(cfg);
  const counters: SourceCounters = { malformedLines: 0, missingField: 0 };
  const stats: CorpusStats = {
    documentsRead: 0, bytesRead: 0, emptyDocuments: 0, invalidUtf8Documents: 0, malformedLines: 0, missingField: 0,
    heldOutDocuments: 0, tooShortDocuments: 0, tooShortTokens: 0, tooLongDocuments: 0, tooLongTokens: 0,
    tokensRead: 0, documentsKept: 0, tokensKept: 0, perSource: [],
  };
  const toks = new GrowI32();
  const offsets: number[] = [0];
  const source: number[] = [];
  const eotExtra = tok.appendEot ? 1 : 0;
  for (let si = 0; si < cfg.sources.length; si++) {
    const per = { documents: 0, tokens: 0, mixedDocuments: 0 };
    stats.perSource.push(per);
    for await (const raw of readSource(cfg.sources[si]!, cfg.root, counters)) {
      stats.documentsRead++;
      let bytes: Uint8Array;
      let text: string;
      if (raw.bytes) {
        bytes = raw.bytes;
        try {
          text = fatal.decode(bytes);
        } catch {
          if (cfg.utf8 === 'fail') throw new SourceError(`${raw.where}: invalid UTF-8 (utf8: 'fail')`);
          stats.invalidUtf8Documents++;
          text = lossy.decode(bytes);
        }
      } else {
        text = raw.text!;
        bytes = Buffer.from(text, 'utf8');
        // Lone surrogates (from JSON \ud800 escapes) are the string form of invalid UTF-8.
        if (LONE_SURROGATE.test(text)) {
          if (cfg.utf8 === 'fail') throw new SourceError(`${raw.where}: invalid UTF-16/UTF-8 text (utf8: 'fail')`);
          stats.invalidUtf8Documents++;
        }
      }
      stats.bytesRead += bytes.length;
      onProgress?.(bytes.length);
      if (bytes.length === 0) {
        stats.emptyDocuments++;
        continue;
      }
      const out = isHeldOut(bytes, cfg.holdout.fraction, cfg.holdout.seed);
      if (out !== (split === 'holdout')) {
        stats.heldOutDocuments++;
        continue;
      }
      const ids = tok.encodeDoc(text);
      stats.tokensRead += ids.length;
      const n = ids.length - eotExtra;
      if (n < cfg.filter.minLength) {
        stats.tooShortDocuments++;
        stats.tooShortTokens += ids.length;
        continue;
      }
      if (cfg.filter.maxLength !== null && n > cfg.filter.maxLength) {
        stats.tooLongDocuments++;
        stats.tooLongTokens += ids.length;
        continue;
      }
      toks.push(ids);
      offsets.push(toks.n);
      source.push(si);
      per.documents++;
      per.tokens += ids.length;
    }
  }
  stats.malformedLines = counters.malformedLines;
  stats.missingField = counters.missingField;
  stats.documentsKept = source.length;
  stats.tokensKept = toks.n;
  return { tokens: toks.buf.subarray(0, toks.n), offsets: Float64Array.from(offsets), source: Int32Array.from(source), stats };
}

/**
 * Mixture order: source i contributes round(N * w_i / sum(w)) documents (N = all kept documents),
 * taken from a seeded permutation of its documents, cycled when upsampled (whole passes first,
 * then a prefix of a fresh permutation) and truncated when downsampled; the combined list is
 * shuffled with the same seed. Returns document indices into the corpus.
 */
export function mixOrder(source: Int32Array, weights: readonly number[], seed: number): Int32Array {
  const nSrc = weights.length;
  const bySrc: number[][] = Array.from({ length: nSrc }, () => []);
  for (let i = 0; i < source.length; i++) bySrc[source[i]!]!.push(i);
  const W = weights.reduce((a, b) => a + b, 0);
  const N = source.length;
  const out: number[] = [];
  for (let s = 0; s < nSrc; s++) {
    const docs = bySrc[s]!;
    if (docs.length === 0) continue;
    const want = nSrc === 1 ? docs.length : Math.round((N * weights[s]!) / W);
    const rng = new Rng(seed, 0x6d6978, s);
    let left = want;
    while (left > 0) {
      const perm = rng.permutation(docs.length);
      const take = Math.min(left, docs.length);
      for (let j = 0; j < take; j++) out.push(docs[perm[j]!]!);
      left -= take;
    }
  }
  return new Rng(seed, 0x6f7264).shuffle(Int32Array.from(out));
}
