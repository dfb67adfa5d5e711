// The plain dense reference of the mask IR: one predicate per (q, kv) element.
// Used by tests (the classifier and the kernels are checked against it) and by `lmpc show-mask`.
import type { MaskIR } from './ir.js';

/**
 * Is kv visible from q under `mask`? `q` and `kv` are absolute positions in one packed sequence;
 * `doc(pos)` gives the document id of a position (only needed by same_document; without it the
 * whole sequence is one document).
 */
export function maskAt(mask: MaskIR, q: number, kv: number, doc?: (pos: number) => number): boolean {
  switch (mask.op) {
    case 'full':
      return true;
    case 'causal':
      return kv <= q;
    case 'window':
      return q - kv < mask.size;
    case 'sink':
      return kv < mask.count;
    case 'prefix':
      return kv < mask.length || kv <= q;
    case 'chunked':
      return Math.floor(q / mask.size) === Math.floor(kv / mask.size);
    case 'same_document':
      return doc === undefined ? true : doc(q) === doc(kv);
    case 'and':
      return mask.args.every((m) => maskAt(m, q, kv, doc));
    case 'or':
      return mask.args.some((m) => maskAt(m, q, kv, doc));
    case 'not':
      return !maskAt(mask.arg, q, kv, doc);
  }
}

export interface DenseOptions {
  readonly qLen: number;
  readonly kvLen: number;
  /** Absolute position of query row 0 (decoding after a cache); default 0. */
  readonly qOffset?: number;
  /** Document id per absolute position (length >= max(kvLen, qOffset + qLen)); default: one document. */
  readonly docIds?: Int32Array;
}

/** The mask as a row-major qLen x kvLen matrix of 0/1 (row i is query position qOffset + i). */
export function denseMask(mask: MaskIR, opts: DenseOptions): Uint8Array {
  const { qLen, kvLen } = opts;
  const qOffset = opts.qOffset ?? 0;
  const ids = opts.docIds;
  const doc = ids ? (p: number) => ids[p]! : undefined;
  const out = new Uint8Array(qLen * kvLen);
  for (let i = 0; i < qLen; i++) {
    for (let j = 0; j < kvLen; j++) out[i * kvLen + j] = maskAt(mask, qOffset + i, j, doc) ? 1 : 0;
  }
  return out;
}

/** Document ids per position from document start offsets (docStarts[0] must be 0). */
export function docIdsFromStarts(docStarts: ArrayLike<number>, length: number): Int32Array {
  const ids = new Int32Array(length);
  let d = -1;
  let next = 0;
  for (let p = 0; p < length; p++) {
    while (next < docStarts.length && docStarts[next]! <= p) {
      d++;
      next++;
    }
    ids[p] = Math.max(d, 0);
  }
  return ids;
}

/** Document ids per position from document lengths (e.g. `--docs 100,300`); the rest is one more document. */
export function docIdsFromLengths(lengths: readonly number[], total: number): Int32Array {
  const starts = [0];
  let s = 0;
  for (const l of lengths) {
    s += l;
    if (s < total) starts.push(s);
  }
  return docIdsFromStarts(starts, total);
}

/** Does the IR use same_document anywhere? */
export function usesDocuments(mask: MaskIR): boolean {
  switch (mask.op) {
    case 'same_document':
      return true;
    case 'and':
    case 'or':
      return mask.args.some(usesDocuments);
    case 'not':
      return usesDocuments(mask.arg);
    default:
      return false;
  }
}
