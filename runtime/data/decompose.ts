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
//
// Lengths are plain numbers, exact up to 2^53: a document of 2^31 tokens or more decomposes like
// any other (int32 arithmetic would wrap it to nothing); offsets then come as a Float64Array.
// A length that is not a non-negative safe integer (a negative one is what an Int32Array holding
// a length >= 2^31 gives) is an error with code LMP_E_RANGE; bounds outside 0 <= min <= max <= 31
// are LMP_E_ARG.
import { Rng } from './rng.js';

export class DecomposeError extends Error {
  constructor(
    readonly code: 'LMP_E_RANGE' | 'LMP_E_ARG',
    message: string,
  ) {
    super(message);
    this.name = 'DecomposeError';
  }
}

export interface Decomposition {
  /** Number of pieces. */
  count: number;
  /** Document index (position in `lengths`) of each piece. */
  doc: Int32Array;
  /** Offset of each piece inside its document (a Float64Array once one is >= 2^31). */
  offset: Int32Array | Float64Array;
  /** log2 of each piece's sequence length: the piece holds 2^k + 1 tokens. */
  log2: Uint8Array;
  /** Tokens in pieces, and tokens dropped (remainders with k < min, and final single tokens). */
  tokensKept: number;
  tokensDropped: number;
  /** Pieces per k (index k, 0..31). */
  perBucket: Float64Array;
}

/** Integer floor(log2(x)) for integers 1 <= x <= 2^53. */
function ilog2(x: number): number {
  if (x < 2147483648) return 31 - Math.clz32(x);
  let k = Math.floor(Math.log2(x));
  if (2 ** k > x) k--; // Math.log2 may round up just below a power of two
  else if (2 ** (k + 1) <= x) k++;
  return k;
}

/** About how many pieces `decomposeLengths` will emit (a sample; an estimate, not a bound). */
function estimatePieces(lengths: ArrayLike<number>, minLog2: number, maxLog2: number, det: boolean): number {
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
    if (!(Number.isSafeInteger(left) && left >= 0)) continue; // decomposeLengths reports it
    if (left > longAbove) {
      est += (left - longAbove) / drawn;
      left = longAbove;
    }
    while (left > 1) {
      const k = ilog2(left - 1);
      if (k < minLog2) break;
      est++;
      left -= 2 ** k + 1;
    }
  }
  return Math.min(Math.ceil(est * step * 1.05) + 1024, MAX_PIECES);
}

/** The most pieces one call emits (13 bytes each): more is an LMP_E_RANGE error, raised before allocating. */
export const MAX_PIECES = 2 ** 27;

const tooMany = (what: string): DecomposeError =>
  new DecomposeError('LMP_E_RANGE', `decompose: ${what} more than ${MAX_PIECES} pieces; use a larger minimum piece length or split the corpus`);

/** Typed arrays of `cap` entries, or a coded error when they cannot be had. */
function alloc<T>(cap: number, make: (cap: number) => T): T {
  try {
    return make(cap);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    throw new DecomposeError('LMP_E_RANGE', `decompose: cannot hold ${cap} pieces (${e.message}); use a larger minimum piece length or split the documents`);
  }
}

/**
 * Decompose documents of the given lengths (tokens, EOT included) into pieces of 2^k + 1 tokens,
 * minLog2 <= k <= maxLog2. `rng` null selects the deterministic variant (k = maxLog2).
 */
export function decomposeLengths(lengths: ArrayLike<number>, minLog2: number, maxLog2: number, rng: Rng | null): Decomposition {
  if (!(Number.isInteger(minLog2) && Number.isInteger(maxLog2) && minLog2 >= 0 && minLog2 <= maxLog2 && maxLog2 <= 31)) {
    throw new DecomposeError('LMP_E_ARG', `decompose: piece lengths 2^${minLog2}..2^${maxLog2} must be powers of two with 1 <= min <= max <= 2^31`);
  }
  const n = lengths.length;
  // Capacity: estimated from a sample of the documents (every 64th), +5%, then grown by 1.25x if
  // ever short (an upper bound of total / (2^min + 1) would over-allocate badly; growing by
  // doubling from a guess copies everything once more).
  let cap = estimatePieces(lengths, minLog2, maxLog2, rng === null);
  let doc = alloc(cap, (c) => new Int32Array(c));
  let offset: Int32Array | Float64Array = alloc(cap, (c) => new Int32Array(c));
  let log2 = alloc(cap, (c) => new Uint8Array(c));
  const range = 2 ** (maxLog2 - minLog2 + 1) - 1; // x uniform in [0, range): j = floor(log2(x + 1)) has P ∝ 2^j
  const det = rng === null;
  let count = 0;
  let kept = 0;
  let total = 0;
  for (let d = 0; d < n; d++) {
    let left = lengths[d]!;
    if (!(Number.isSafeInteger(left) && left >= 0)) {
      throw new DecomposeError('LMP_E_RANGE', `decompose: document ${d} has length ${left}: lengths must be integers in [0, 2^53)${left < 0 ? ' (a length >= 2^31 stored in an Int32Array wraps negative)' : ''}`);
    }
    total += left;
    // every piece holds at most 2^max + 1 tokens and at most 2^(min+1) tokens are dropped
    if (count + Math.floor(Math.max(0, left - 2 ** (minLog2 + 1)) / (2 ** maxLog2 + 1)) > MAX_PIECES) throw tooMany(`document ${d} (${left} tokens) takes the decomposition to`);
    let off = 0;
    while (left > 1) {
      let k = ilog2(left - 1);
      if (k < minLog2) break;
      if (k > maxLog2) k = det ? maxLog2 : maxLog2 - ilog2(Math.floor((rng.u32() * range) / 4294967296) + 1);
      const len = 2 ** k + 1;
      if (count === cap) {
        if (cap >= MAX_PIECES) throw tooMany('the documents make');
        cap = Math.min(Math.ceil(cap * 1.25) + 1024, MAX_PIECES);
        const nd = alloc(cap, (c) => new Int32Array(c));
        nd.set(doc);
        doc = nd;
        const no: Int32Array | Float64Array = alloc(cap, (c) => (offset instanceof Int32Array ? new Int32Array(c) : new Float64Array(c)));
        no.set(offset);
        offset = no;
        const nl = alloc(cap, (c) => new Uint8Array(c));
        nl.set(log2);
        log2 = nl;
      }
      if (off > 2147483647 && offset instanceof Int32Array) offset = alloc(cap, () => Float64Array.from(offset));
      doc[count] = d;
      offset[count] = off;
      log2[count] = k;
      count++;
      off += len;
      left -= len;
    }
    kept += off;
  }
  if (!Number.isSafeInteger(total)) throw new DecomposeError('LMP_E_RANGE', `decompose: the documents hold ${total} tokens in all, more than 2^53`);
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
    const piece = seq.slice(d.offset[i]!, d.offset[i]! + 2 ** k + 1);
    if (!out.has(k)) out.set(k, []);
    out.get(k)!.push(piece);
  }
  return out;
}
