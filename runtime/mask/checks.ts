// Compile-time mask checks and statistics, computed with the block classifier: Full and Empty
// tiles are decided in closed form, and only Partial tiles are examined per element. So what
// the checker proves is what the kernel runs (the kernel uses the same classes).
//
// Document layouts. A mask that uses same_document depends on where documents start, which is
// only known at run time. The checks then assume the worst of the layouts that decide
// same_document uniformly for any pair: (1) one document spanning the whole sequence
// (same_document is true everywhere) and (2) every document of length 1 (same_document is
// q == kv). A row is reported empty if it is empty under either layout; the mask is causal only
// if it is causal under both. Callers that know the layout pass `docIds` to check that one.
import { BlockClass, type MaskIR } from './ir.js';
import { classifyBlocks, tileCounts } from './classify.js';
import { maskAt, usesDocuments } from './eval.js';

const CHECK_TILE = 64;

/** The document layouts the checks try for `mask` over `length` positions. */
export function checkLayouts(mask: MaskIR, length: number, docIds?: Int32Array): (Int32Array | undefined)[] {
  if (docIds) return [docIds];
  if (!usesDocuments(mask)) return [undefined];
  const ones = new Int32Array(length);
  for (let i = 0; i < length; i++) ones[i] = i;
  return [undefined, ones];
}

function emptyRowIn(mask: MaskIR, length: number, ids: Int32Array | undefined, tile: number): number | undefined {
  const cls = classifyBlocks(mask, { qLen: length, kvLen: length, tileQ: tile, tileKV: tile, docIds: ids });
  const { nQ, nK } = tileCounts(length, length, tile, tile);
  const doc = ids ? (p: number) => ids[p]! : undefined;
  for (let a = 0; a < nQ; a++) {
    let hasFull = false;
    const partial: number[] = [];
    for (let b = 0; b < nK; b++) {
      const c = cls[a * nK + b];
      if (c === BlockClass.Full) hasFull = true;
      else if (c === BlockClass.Partial) partial.push(b);
    }
    if (hasFull) continue;
    const q1 = Math.min(length, (a + 1) * tile);
    for (let q = a * tile; q < q1; q++) {
      let seen = false;
      for (const b of partial) {
        const k1 = Math.min(length, (b + 1) * tile);
        for (let kv = b * tile; kv < k1 && !seen; kv++) seen = maskAt(mask, q, kv, doc);
        if (seen) break;
      }
      if (!seen) return q;
    }
  }
  return undefined;
}

/**
 * The first query position in [0, length) that sees no key under `mask` (self-attention over
 * `length` tokens), or undefined if every row sees at least one key. See the file comment for
 * the document layouts assumed when the mask uses same_document.
 */
export function findEmptyRow(mask: MaskIR, length: number, docIds?: Int32Array): number | undefined {
  if (length <= 0) return undefined;
  let first: number | undefined;
  for (const ids of checkLayouts(mask, length, docIds)) {
    const r = emptyRowIn(mask, length, ids, CHECK_TILE);
    if (r !== undefined && (first === undefined || r < first)) first = r;
  }
  return first;
}

function causalIn(mask: MaskIR, length: number, ids: Int32Array | undefined, tile: number): boolean {
  const cls = classifyBlocks(mask, { qLen: length, kvLen: length, tileQ: tile, tileKV: tile, docIds: ids });
  const { nQ, nK } = tileCounts(length, length, tile, tile);
  const doc = ids ? (p: number) => ids[p]! : undefined;
  for (let a = 0; a < nQ; a++) {
    const q0 = a * tile, q1 = Math.min(length, (a + 1) * tile) - 1;
    for (let b = 0; b < nK; b++) {
      const k0 = b * tile, k1 = Math.min(length, (b + 1) * tile) - 1;
      if (k1 <= q0) continue; // the tile lies on or below the diagonal
      const c = cls[a * nK + b];
      if (c === BlockClass.Empty) continue;
      if (c === BlockClass.Full) return false; // the tile holds some kv > q, all visible
      for (let q = q0; q <= q1; q++) for (let kv = Math.max(k0, q + 1); kv <= k1; kv++) if (maskAt(mask, q, kv, doc)) return false;
    }
  }
  return true;
}

/** True if no query position in [0, length) sees a later key (kv > q) under `mask`. */
export function isCausal(mask: MaskIR, length: number, docIds?: Int32Array): boolean {
  if (length <= 0) return true;
  return checkLayouts(mask, length, docIds).every((ids) => causalIn(mask, length, ids, CHECK_TILE));
}

export interface TileStats {
  readonly tile: number;
  readonly tiles: number;
  readonly empty: number;
  readonly full: number;
  readonly partial: number;
  /** Fractions of all tiles. */
  readonly emptyFraction: number;
  readonly fullFraction: number;
  readonly partialFraction: number;
  /** Fraction of tiles a kernel computes (full + partial). */
  readonly computedFraction: number;
}

/** Tile statistics of self-attention over `length` tokens at tile size `tile` (for `lmpc explain`). */
export function tileStats(mask: MaskIR, length: number, tile = 64, docIds?: Int32Array): TileStats {
  const cls = classifyBlocks(mask, { qLen: length, kvLen: length, tileQ: tile, tileKV: tile, docIds });
  let empty = 0, full = 0, partial = 0;
  for (const c of cls) {
    if (c === BlockClass.Empty) empty++;
    else if (c === BlockClass.Full) full++;
    else partial++;
  }
  const tiles = cls.length || 1;
  return {
    tile,
    tiles: cls.length,
    empty,
    full,
    partial,
    emptyFraction: empty / tiles,
    fullFraction: full / tiles,
    partialFraction: partial / tiles,
    computedFraction: (full + partial) / tiles,
  };
}

/**
 * Fraction of visible (q, kv) pairs of self-attention over `length` tokens: Full tiles count by
 * area, Partial tiles per element. With same_document and no `docIds`, one document is assumed.
 */
export function density(mask: MaskIR, length: number, docIds?: Int32Array, tile = 64): number {
  if (length <= 0) return 0;
  const cls = classifyBlocks(mask, { qLen: length, kvLen: length, tileQ: tile, tileKV: tile, docIds });
  const { nQ, nK } = tileCounts(length, length, tile, tile);
  const doc = docIds ? (p: number) => docIds[p]! : undefined;
  let visible = 0;
  for (let a = 0; a < nQ; a++) {
    const q0 = a * tile, q1 = Math.min(length, (a + 1) * tile);
    for (let b = 0; b < nK; b++) {
      const k0 = b * tile, k1 = Math.min(length, (b + 1) * tile);
      const c = cls[a * nK + b];
      if (c === BlockClass.Full) visible += (q1 - q0) * (k1 - k0);
      else if (c === BlockClass.Partial) for (let q = q0; q < q1; q++) for (let kv = k0; kv < k1; kv++) if (maskAt(mask, q, kv, doc)) visible++;
    }
  }
  return visible / (length * length);
}

/**
 * A mask that prepacked prefill runs as is under same_document (runtime/entry/decode.ts, and
 * lmpc check's LMP0313): causal, or causal & same_document.
 */
export function prefillMaskOk(m: MaskIR | undefined): boolean {
  if (!m || m.op === 'causal') return true;
  return m.op === 'and' && m.args.length === 2 && m.args.some((a) => a.op === 'causal') && m.args.some((a) => a.op === 'same_document');
}
