// Packers: turn a tokenized corpus into sequences. A packer produces a SequencePlan (which token
// ranges of which documents make each sequence, and how much padding); `materialize` turns any
// subset of a plan's sequences into a PackedBatch (tokens, cu_seqlens, document ids, position
// ids, loss mask, and the per-segment split used to un-pack a KV cache after prepacked prefill).
import type { PackConfig } from './config.js';
import { bestFitDecreasing, firstFitDecreasing } from './binpack.js';
import { decomposeLengths } from './decompose.js';
import { Rng } from './rng.js';

/** A batch in the varlen (padding-free) layout; `cuSeqlens` has length batch + 1. */
export interface PackedBatch {
  tokens: Int32Array;
  cuSeqlens: Int32Array;
  /** Corpus document index of each token; -1 on padding. A document mask is docIds[q] == docIds[kv]. */
  docIds: Int32Array;
  /** Position of each token: from 0 per sequence (concat_chunk) or per segment (pad, decompose, prepack). */
  positionIds: Int32Array;
  /** 1 on real tokens, 0 on padding. */
  lossMask: Uint8Array;
  /** Segments (document pieces) of each sequence: segCu[s]..segCu[s+1] index segDoc/segOffset/segLength;
   *  segOffset is the offset inside the sequence, so a prepacked KV cache splits at these ranges. */
  segCu: Int32Array;
  segDoc: Int32Array;
  segOffset: Int32Array;
  segLength: Int32Array;
}

export interface SequencePlan {
  kind: PackConfig['kind'];
  numSeqs: number;
  /** Allocated length of each sequence (real tokens + padding). */
  seqLength: Int32Array;
  /** Bucket of each sequence: log2 of the length for decompose (2^k + 1 tokens), else the length. */
  bucket: Int32Array;
  /** Segments of sequence s are seqFirstSeg[s] .. seqFirstSeg[s+1]. */
  seqFirstSeg: Int32Array;
  segDoc: Int32Array;
  /** Absolute token offset of the segment in the corpus token array. */
  segStart: Float64Array;
  segLen: Int32Array;
  /** Positions restart per 'sequence' or per 'segment'. */
  positions: 'sequence' | 'segment';
  padId: number;
  tokensIn: number;
  tokensPacked: number;
  tokensDropped: number;
  paddingTokens: number;
}

export interface CorpusView {
  tokens: Int32Array;
  offsets: Float64Array;
}

class Grow {
  doc = new Int32Array(1024);
  start = new Float64Array(1024);
  len = new Int32Array(1024);
  n = 0;
  push(d: number, s: number, l: number): void {
    if (this.n === this.doc.length) {
      const c = this.n * 2;
      const nd = new Int32Array(c);
      nd.set(this.doc);
      this.doc = nd;
      const ns = new Float64Array(c);
      ns.set(this.start);
      this.start = ns;
      const nl = new Int32Array(c);
      nl.set(this.len);
      this.len = nl;
    }
    this.doc[this.n] = d;
    this.start[this.n] = s;
    this.len[this.n] = l;
    this.n++;
  }
}

function docLengths(c: CorpusView, order: Int32Array): Int32Array {
  const out = new Int32Array(order.length);
  for (let i = 0; i < order.length; i++) out[i] = c.offsets[order[i]! + 1]! - c.offsets[order[i]!]!;
  return out;
}

/** Concat-and-chunk: documents (EOT already appended) in `order`, cut into `length`-token sequences. */
export function planConcatChunk(c: CorpusView, order: Int32Array, length: number, padId: number): SequencePlan {
  const segs = new Grow();
  const first: number[] = [0];
  let inSeq = 0;
  let tokensIn = 0;
  let pendingFrom = 0;
  for (let oi = 0; oi < order.length; oi++) {
    const d = order[oi]!;
    const s0 = c.offsets[d]!;
    const n = c.offsets[d + 1]! - s0;
    tokensIn += n;
    let used = 0;
    while (used < n) {
      const take = Math.min(n - used, length - inSeq);
      segs.push(d, s0 + used, take);
      used += take;
      inSeq += take;
      if (inSeq === length) {
        first.push(segs.n);
        pendingFrom = segs.n;
        inSeq = 0;
      }
    }
  }
  const dropped = inSeq; // the final partial sequence
  const numSeqs = first.length - 1;
  segs.n = pendingFrom;
  return {
    kind: 'concat_chunk', numSeqs, seqLength: new Int32Array(numSeqs).fill(length), bucket: new Int32Array(numSeqs).fill(length),
    seqFirstSeg: Int32Array.from(first), segDoc: segs.doc.slice(0, segs.n), segStart: segs.start.slice(0, segs.n), segLen: segs.len.slice(0, segs.n),
    positions: 'sequence', padId, tokensIn, tokensPacked: numSeqs * length, tokensDropped: dropped, paddingTokens: 0,
  };
}

/** One document per sequence, padded to `length`. */
export function planPad(c: CorpusView, order: Int32Array, length: number, truncate: 'truncate' | 'split' | 'drop', padId: number): SequencePlan {
  const segs = new Grow();
  const first: number[] = [0];
  const lens: number[] = [];
  let tokensIn = 0;
  let dropped = 0;
  let packed = 0;
  for (let oi = 0; oi < order.length; oi++) {
    const d = order[oi]!;
    const s0 = c.offsets[d]!;
    const n = c.offsets[d + 1]! - s0;
    tokensIn += n;
    if (n > length && truncate === 'drop') {
      dropped += n;
      continue;
    }
    const parts = truncate === 'split' ? Math.ceil(n / length) : 1;
    for (let p = 0; p < parts; p++) {
      const take = Math.min(length, n - p * length);
      segs.push(d, s0 + p * length, take);
      first.push(segs.n);
      lens.push(take);
      packed += take;
    }
    if (truncate === 'truncate' && n > length) dropped += n - length;
  }
  const numSeqs = lens.length;
  return {
    kind: 'pad', numSeqs, seqLength: new Int32Array(numSeqs).fill(length), bucket: new Int32Array(numSeqs).fill(length),
    seqFirstSeg: Int32Array.from(first), segDoc: segs.doc.slice(0, segs.n), segStart: segs.start.slice(0, segs.n), segLen: segs.len.slice(0, segs.n),
    positions: 'segment', padId, tokensIn, tokensPacked: packed, tokensDropped: dropped, paddingTokens: numSeqs * length - packed,
  };
}

/** Dataset Decomposition: pieces of 2^k + 1 tokens (see decompose.ts); min/max are token lengths (powers of two). */
export function planDecompose(c: CorpusView, order: Int32Array, min: number, max: number, deterministic: boolean, seed: number): SequencePlan {
  const lens = docLengths(c, order);
  const d = decomposeLengths(lens, Math.log2(min), Math.log2(max), deterministic ? null : new Rng(seed, 0x6464));
  const segStart = new Float64Array(d.count);
  const segLen = new Int32Array(d.count);
  const segDoc = new Int32Array(d.count);
  const bucket = new Int32Array(d.count);
  for (let i = 0; i < d.count; i++) {
    const doc = order[d.doc[i]!]!;
    segDoc[i] = doc;
    segStart[i] = c.offsets[doc]! + d.offset[i]!;
    segLen[i] = (1 << d.log2[i]!) + 1;
    bucket[i] = d.log2[i]!;
  }
  const first = new Int32Array(d.count + 1);
  for (let i = 0; i <= d.count; i++) first[i] = i;
  return {
    kind: 'decompose', numSeqs: d.count, seqLength: segLen.slice(), bucket, seqFirstSeg: first, segDoc, segStart, segLen,
    positions: 'segment', padId: 0, tokensIn: d.tokensKept + d.tokensDropped, tokensPacked: d.tokensKept, tokensDropped: d.tokensDropped, paddingTokens: 0,
  };
}

/** Prepacking: whole documents bin-packed into sequences of `capacity` tokens (per group of `group` documents). */
export function planPrepack(c: CorpusView, order: Int32Array, capacity: number | 'longest', algorithm: 'bfd' | 'ffd', group: number, padId: number): SequencePlan {
  const lensAll = docLengths(c, order);
  const G = group > 0 ? group : Math.max(1, order.length);
  const segs = new Grow();
  const first: number[] = [0];
  const seqLen: number[] = [];
  let tokensIn = 0;
  let dropped = 0;
  let packed = 0;
  for (let g0 = 0; g0 < order.length; g0 += G) {
    const lens = lensAll.subarray(g0, Math.min(order.length, g0 + G));
    let cap: number;
    if (capacity === 'longest') {
      cap = 0;
      for (let i = 0; i < lens.length; i++) if (lens[i]! > cap) cap = lens[i]!;
    } else cap = capacity;
    const p = algorithm === 'bfd' ? bestFitDecreasing(lens, cap) : firstFitDecreasing(lens, cap);
    for (let i = 0; i < lens.length; i++) tokensIn += lens[i]!;
    dropped += p.oversizeTokens;
    for (let b = 0; b < p.bins; b++) {
      for (let j = p.binStart[b]!; j < p.binStart[b + 1]!; j++) {
        const doc = order[g0 + p.order[j]!]!;
        segs.push(doc, c.offsets[doc]!, lens[p.order[j]!]!);
      }
      first.push(segs.n);
      seqLen.push(cap);
      packed += p.binUsed[b]!;
    }
  }
  const numSeqs = seqLen.length;
  const seqLength = Int32Array.from(seqLen);
  return {
    kind: 'prepack', numSeqs, seqLength, bucket: seqLength.slice(), seqFirstSeg: Int32Array.from(first),
    segDoc: segs.doc.slice(0, segs.n), segStart: segs.start.slice(0, segs.n), segLen: segs.len.slice(0, segs.n),
    positions: 'segment', padId, tokensIn, tokensPacked: packed, tokensDropped: dropped, paddingTokens: seqLength.reduce((a, b) => a + b, 0) - packed,
  };
}

/** Plan the whole corpus with a pack config. `order` defaults to a seeded permutation for concat_chunk. */
export function planPack(c: CorpusView, order: Int32Array, pack: PackConfig, eot: number, seed: number): SequencePlan {
  switch (pack.kind) {
    case 'concat_chunk':
      return planConcatChunk(c, order, pack.length, eot);
    case 'pad':
      return planPad(c, order, pack.length, pack.truncate, pack.padId ?? eot);
    case 'decompose':
      return planDecompose(c, order, pack.min, pack.max, pack.deterministic, seed);
    case 'prepack':
      return planPrepack(c, order, pack.capacity, pack.algorithm, pack.group, eot);
  }
}

/** Build the batch of the given sequences of a plan. */
export function materialize(plan: SequencePlan, tokens: Int32Array, seqs: ArrayLike<number>): PackedBatch {
  const B = seqs.length;
  const cu = new Int32Array(B + 1);
  let nSeg = 0;
  for (let b = 0; b < B; b++) {
    const s = seqs[b]!;
    cu[b + 1] = cu[b]! + plan.seqLength[s]!;
    nSeg += plan.seqFirstSeg[s + 1]! - plan.seqFirstSeg[s]!;
  }
  const T = cu[B]!;
  const out: PackedBatch = {
    tokens: new Int32Array(T), cuSeqlens: cu, docIds: new Int32Array(T).fill(-1), positionIds: new Int32Array(T), lossMask: new Uint8Array(T),
    segCu: new Int32Array(B + 1), segDoc: new Int32Array(nSeg), segOffset: new Int32Array(nSeg), segLength: new Int32Array(nSeg),
  };
  let si = 0;
  for (let b = 0; b < B; b++) {
    const s = seqs[b]!;
    const base = cu[b]!;
    let at = base;
    for (let g = plan.seqFirstSeg[s]!; g < plan.seqFirstSeg[s + 1]!; g++) {
      const st = plan.segStart[g]!;
      const len = plan.segLen[g]!;
      out.tokens.set(tokens.subarray(st, st + len), at);
      out.docIds.fill(plan.segDoc[g]!, at, at + len);
      out.lossMask.fill(1, at, at + len);
      const p0 = plan.positions === 'sequence' ? at - base : 0;
      for (let t = 0; t < len; t++) out.positionIds[at + t] = p0 + t;
      out.segDoc[si] = plan.segDoc[g]!;
      out.segOffset[si] = at - base;
      out.segLength[si] = len;
      si++;
      at += len;
    }
    const end = cu[b + 1]!;
    if (at < end) {
      out.tokens.fill(plan.padId, at, end);
      for (let t = at; t < end; t++) out.positionIds[t] = t - base;
    }
    out.segCu[b + 1] = si;
  }
  return out;
}

/** Histogram of lengths by floor(log2): h[b] counts lengths in [2^b, 2^(b+1)); index 0 also holds length 0. */
export function log2Histogram(lengths: ArrayLike<number>): number[] {
  const h: number[] = [];
  for (let i = 0; i < lengths.length; i++) {
    const l = lengths[i]!;
    const b = l <= 1 ? 0 : Math.floor(Math.log2(l));
    while (h.length <= b) h.push(0);
    h[b]!++;
  }
  return h;
}
