// Packers: turn a tokenized corpus into sequences. A packer produces a SequencePlan (which token
// ranges of which documents make each sequence, and how much padding); `materialize` turns any
// subset of a plan's sequences into a PackedBatch (tokens, cu_seqlens, document ids, position
// ids, loss mask, and the per-segment split used to un-pack a KV cache after prepacked prefill).
import type { PackConfig } from './config.js';
import { bestFitDecreasing, firstFitDecreasing } from './binpack.js';
import { decomposeLengths } from './decompose.js';
import { Rng } from './rng.js';
import { nativeAvailable, nativeFn } from '../native.js';

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

/** 0, 1, 2, ... shared by every gather: position ids are copied out of it with `set` (one bulk
 *  copy per segment or sequence) instead of a per-token loop. Grows to the longest sequence seen. */
let iota = new Int32Array(0);
export function iotaFor(n: number): Int32Array {
  if (iota.length < n) {
    const next = new Int32Array(Math.max(n, 2 * iota.length, 4096));
    for (let i = 0; i < next.length; i++) next[i] = i;
    iota = next;
  }
  return iota;
}

/** Reusable storage for `materialize`: typed arrays that grow on demand (by doubling) and are never
 *  shrunk, so a loop that materializes batch after batch allocates nothing once warm. A batch
 *  materialized into it is a set of views of these buffers, valid until the next call. */
export class BatchBuffers {
  tokens = new Int32Array(0);
  docIds = new Int32Array(0);
  positionIds = new Int32Array(0);
  lossMask = new Uint8Array(0);
  cuSeqlens = new Int32Array(0);
  segCu = new Int32Array(0);
  segDoc = new Int32Array(0);
  segOffset = new Int32Array(0);
  segLength = new Int32Array(0);

  /** Make room for T tokens, B sequences and S segments. */
  reserve(T: number, B: number, S: number): void {
    const cap = (have: number, want: number): number => (have >= want ? have : Math.max(want, 2 * have));
    if (this.tokens.length < T) {
      const c = cap(this.tokens.length, T);
      this.tokens = new Int32Array(c);
      this.docIds = new Int32Array(c);
      this.positionIds = new Int32Array(c);
      this.lossMask = new Uint8Array(c);
    }
    if (this.cuSeqlens.length < B + 1) {
      const c = cap(this.cuSeqlens.length, B + 1);
      this.cuSeqlens = new Int32Array(c);
      this.segCu = new Int32Array(c);
    }
    if (this.segDoc.length < S) {
      const c = cap(this.segDoc.length, S);
      this.segDoc = new Int32Array(c);
      this.segOffset = new Int32Array(c);
      this.segLength = new Int32Array(c);
    }
  }
}

/** How the native gather stores its output: `auto` streams (non-temporal stores, no read of the
 *  destination's cache lines) from 16 MiB of output, `stream` always, `cached` never. */
export type GatherStore = 'auto' | 'stream' | 'cached';
export type GatherBackend = 'native' | 'js';

type NativeGather = (
  corpus: Int32Array, segStart: Float64Array, segLen: Int32Array, segDoc: Int32Array, seqFirstSeg: Int32Array, seqLength: Int32Array,
  perSequence: boolean, padId: number, seqs: Int32Array, tokens: Int32Array, docIds: Int32Array, positionIds: Int32Array, lossMask: Uint8Array,
  cuSeqlens: Int32Array, segCu: Int32Array, segDoc2: Int32Array, segOffset: Int32Array, segLength: Int32Array, mode: number,
) => number;
let nativeGather: NativeGather | null | undefined;
function gatherFn(): NativeGather | null {
  if (nativeGather === undefined) nativeGather = nativeAvailable() ? tryNativeGather() : null;
  return nativeGather;
}
function tryNativeGather(): NativeGather | null {
  try {
    return nativeFn<NativeGather>('dataGather', 'data');
  } catch {
    return null; // an addon built without the data module: the TypeScript gather does the same work
  }
}

/** Which gather `materialize` uses: the native one (module `data`) when the addon has it. */
export function gatherBackend(): GatherBackend {
  return gatherFn() ? 'native' : 'js';
}

/** Build the batch of the given sequences of a plan: tokens, cu_seqlens, document ids, position
 *  ids, loss mask and the segment split. With `into`, the batch's arrays are views of its (reused,
 *  grown on demand) buffers, valid until the next call with the same `into`. Runs the native
 *  gather (native/src/data: prefetches upcoming spans, streaming stores for large outputs) when
 *  the addon has it, else `materializeJs`; both produce identical batches. */
export function materialize(plan: SequencePlan, tokens: Int32Array, seqs: ArrayLike<number>, into?: BatchBuffers, opts: { backend?: GatherBackend; store?: GatherStore } = {}): PackedBatch {
  const fn = opts.backend === 'js' ? null : gatherFn();
  if (!fn) {
    if (opts.backend === 'native') tryNativeGather() ?? nativeFn('dataGather', 'data'); // throws the loader's error
    return materializeJs(plan, tokens, seqs, into);
  }
  const { out } = allocBatch(plan, seqs, into);
  const ids = seqs instanceof Int32Array ? seqs : Int32Array.from(seqs);
  fn(
    tokens, plan.segStart, plan.segLen, plan.segDoc, plan.seqFirstSeg, plan.seqLength, plan.positions === 'sequence', plan.padId, ids,
    out.tokens, out.docIds, out.positionIds, out.lossMask, out.cuSeqlens, out.segCu, out.segDoc, out.segOffset, out.segLength,
    opts.store === 'stream' ? 1 : opts.store === 'cached' ? 2 : 0,
  );
  return out;
}

/** Output arrays for a batch of `seqs` (sized from the plan), fresh or views of `into`. */
function allocBatch(plan: SequencePlan, seqs: ArrayLike<number>, into?: BatchBuffers): { out: PackedBatch; longest: number } {
  const B = seqs.length;
  const seqLength = plan.seqLength;
  const first = plan.seqFirstSeg;
  let T = 0;
  let nSeg = 0;
  let longest = 0;
  for (let b = 0; b < B; b++) {
    const s = seqs[b]!;
    if (!(s >= 0 && s < plan.numSeqs && (s | 0) === s)) throw new RangeError(`materialize: sequence index ${s} (batch position ${b}) is outside the plan's ${plan.numSeqs} sequences`);
    const L = seqLength[s]!;
    T += L;
    if (L > longest) longest = L;
    nSeg += first[s + 1]! - first[s]!;
  }
  let out: PackedBatch;
  if (into) {
    into.reserve(T, B, nSeg);
    out = {
      tokens: into.tokens.subarray(0, T), cuSeqlens: into.cuSeqlens.subarray(0, B + 1), docIds: into.docIds.subarray(0, T), positionIds: into.positionIds.subarray(0, T),
      lossMask: into.lossMask.subarray(0, T), segCu: into.segCu.subarray(0, B + 1), segDoc: into.segDoc.subarray(0, nSeg), segOffset: into.segOffset.subarray(0, nSeg),
      segLength: into.segLength.subarray(0, nSeg),
    };
  } else {
    out = {
      tokens: new Int32Array(T), cuSeqlens: new Int32Array(B + 1), docIds: new Int32Array(T), positionIds: new Int32Array(T), lossMask: new Uint8Array(T),
      segCu: new Int32Array(B + 1), segDoc: new Int32Array(nSeg), segOffset: new Int32Array(nSeg), segLength: new Int32Array(nSeg),
    };
  }
  return { out, longest };
}

/** The gather in TypeScript (the reference for the native one, and the fallback without the
 *  addon). Every segment is one contiguous span of the corpus token stream, so the gather is bulk
 *  copies and fills per segment: tokens with `set`, document ids and loss mask with `fill`,
 *  position ids with `set` from a shared 0, 1, 2, ... array; padding is a `fill` per sequence. */
export function materializeJs(plan: SequencePlan, tokens: Int32Array, seqs: ArrayLike<number>, into?: BatchBuffers): PackedBatch {
  const B = seqs.length;
  const seqLength = plan.seqLength;
  const first = plan.seqFirstSeg;
  const { out, longest } = allocBatch(plan, seqs, into);
  const pos = iotaFor(longest);
  const oTok = out.tokens, oDoc = out.docIds, oPos = out.positionIds, oMask = out.lossMask;
  const oSegDoc = out.segDoc, oSegOff = out.segOffset, oSegLen = out.segLength;
  const segStart = plan.segStart, segLen = plan.segLen, segDoc = plan.segDoc;
  const perSequence = plan.positions === 'sequence';
  const padId = plan.padId;
  out.cuSeqlens[0] = 0;
  out.segCu[0] = 0;
  let si = 0;
  let at = 0;
  for (let b = 0; b < B; b++) {
    const s = seqs[b]!;
    const base = at;
    for (let g = first[s]!, gEnd = first[s + 1]!; g < gEnd; g++) {
      const len = segLen[g]!;
      const doc = segDoc[g]!;
      oSegDoc[si] = doc;
      oSegOff[si] = at - base;
      oSegLen[si] = len;
      si++;
      if (len === 0) continue;
      const st = segStart[g]!;
      oTok.set(tokens.subarray(st, st + len), at);
      oDoc.fill(doc, at, at + len);
      oMask.fill(1, at, at + len);
      if (!perSequence) oPos.set(pos.subarray(0, len), at);
      at += len;
    }
    const end = base + seqLength[s]!;
    if (at < end) {
      oTok.fill(padId, at, end);
      oDoc.fill(-1, at, end);
      oMask.fill(0, at, end);
      if (!perSequence) oPos.set(pos.subarray(at - base, end - base), at);
      at = end;
    }
    if (perSequence) oPos.set(pos.subarray(0, end - base), base);
    out.cuSeqlens[b + 1] = end;
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
