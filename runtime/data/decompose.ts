// Dataset Decomposition (Pouransari et al. 2024), exactly as the reference `get_binary` in
// apple/ml-dataset-decomposition scripts/make_dd_buckets.py:
//
//   while len(seq) > 1:
//     k = floor(log2(len(seq) - 1))
//     if k < min_log2: return            # the remainder is dropped
//     if k > max_log2: k = random choice of [max..min] with p ∝ 2^(max-k)  (randomize)
//                      or k = max_log2                                    (deterministic)
//     emit seq[:2^k + 1]; seq = seq[2^k + 1:]
//
// Pieces do NOT overlap: the next piece starts right after the previous piece's last token (the
// token that is only a target in the previous piece is not repeated). A final single token
// (len(seq) == 1) is dropped by the loop condition; we report it with the other dropped tokens.
import { Rng } from './rng.js';

export interface Decomposition {
  /** Number of pieces. */
  count: number;
  /** Document index (position in `lengths`) of each piece. */
  doc: Int32Array;
  /** Offset of each piece inside its document. */
  offset: Int32Array;
  /** log2 of each piece's sequence length: the piece holds 2^k + 1 tokens. */
  log2: Uint8Array;
  /** Tokens in pieces, and tokens dropped (remainders with k < min, and final single tokens). */
  tokensKept: number;
  tokensDropped: number;
  /** Pieces per k (index k, 0..31). */
  perBucket: Float64Array;
}

/** Integer floor(log2(x)) for 1 <= x < 2^31. */
const ilog2 = (x: number): number => 31 - Math.clz32(x);

/** About how many pieces `decomposeLengths` will emit (a sample; an estimate, not a bound). */
function estimatePieces(lengths: Int32Array, minLog2: number, maxLog2: number, det: boolean): number {
  const n = lengths.length;
  const span = maxLog2 - minLog2;
  const range = 2 ** (span + 1) - 1;
  // expected piece length when k is drawn: sum_j P(j) (2^(max-j) + 1), P(j) = 2^j / range
  const drawn = det ? 2 ** maxLog2 + 1 : ((span + 1) * 2 ** maxLog2 + range) / range;
  const longAbove = 2 ** (maxLog2 + 1); // left > this: k > max, a draw
  const step = n > 8192 ? 64 : 1;
  let est = 0;
  for (let d = 0; d < n; d += step) {
    let left = lengths[d]!;
    if (left > longAbove) {
      est += (left - longAbove) / drawn;
      left = longAbove;
    }
    while (left > 1) {
      const k = ilog2(left - 1);
      if (k < minLog2) break;
      est++;
      left -= (1 << k) + 1;
    }
  }
  return Math.ceil(est * step * 1.05) + 1024;
}

/**
 * Decompose documents of the given lengths (tokens, EOT included) into pieces of 2^k + 1 tokens,
 * minLog2 <= k <= maxLog2. `rng` null selects the deterministic variant (k = maxLog2).
 */
export function decomposeLengths(lengthsIn: ArrayLike<number>, minLog2: number, maxLog2: number, rng: Rng | null): Decomposition {
  const lengths = lengthsIn instanceof Int32Array ? lengthsIn : Int32Array.from(lengthsIn);
  const n = lengths.length;
  // Capacity: estimated from a sample of the documents (every 64th), +5%, then grown by 1.25x if
  // ever short (an upper bound of total / (2^min + 1) would over-allocate badly; growing by
  // doubling from a guess copies everything once more).
  let cap = estimatePieces(lengths, minLog2, maxLog2, rng === null);
  let doc = new Int32Array(cap);
  let offset = new Int32Array(cap);
  let log2 = new Uint8Array(cap);
  const range = 2 ** (maxLog2 - minLog2 + 1) - 1; // x uniform in [0, range): j = floor(log2(x + 1)) has P ∝ 2^j
  const det = rng === null;
  let count = 0;
  let kept = 0;
  let total = 0;
  for (let d = 0; d < n; d++) {
    let left = lengths[d]!;
    total += left;
    let off = 0;
    while (left > 1) {
      let k = ilog2(left - 1);
      if (k < minLog2) break;
      if (k > maxLog2) k = det ? maxLog2 : maxLog2 - ilog2(Math.floor((rng.u32() * range) / 4294967296) + 1);
      const len = (1 << k) + 1;
      if (count === cap) {
        cap = Math.ceil(cap * 1.25) + 1024;
        const nd = new Int32Array(cap);
        nd.set(doc);
        doc = nd;
        const no = new Int32Array(cap);
        no.set(offset);
        offset = no;
        const nl = new Uint8Array(cap);
        nl.set(log2);
        log2 = nl;
      }
      doc[count] = d;
      offset[count] = off;
      log2[count] = k;
      count++;
      off += len;
      left -= len;
    }
    kept += off;
  }
  const perBucket = new Float64Array(32);
  for (let i = 0; i < count; i++) perBucket[log2[i]!]!++;
  return { count, doc: doc.subarray(0, count), offset: offset.subarray(0, count), log2: log2.subarray(0, count), tokensKept: kept, tokensDropped: total - kept, perBucket };
}

/** The reference algorithm on one token list, returning the pieces themselves (for tests/small uses). */
export function getBinary<T>(seq: readonly T[], minLog2: number, maxLog2: number, rng: Rng | null): Map<number, T[][]> {
  const d = decomposeLengths([seq.length], minLog2, maxLog2, rng);
  const out = new Map<number, T[][]>();
  for (let i = 0; i < d.count; i++) {
    const k = d.log2[i]!;
    const piece = seq.slice(d.offset[i]!, d.offset[i]! + (1 << k) + 1);
    if (!out.has(k)) out.set(k, []);
    out.get(k)!.push(piece);
  }
  return out;
}
