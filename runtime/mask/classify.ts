// The block classifier: for each (q-tile, kv-tile) of the (q, kv) plane, whether the mask is
// all-false (Empty, skipped), all-true (Full, computed without evaluating the mask) or mixed
// (Partial, evaluated per element). Closed form: each primitive is decided from the tile's
// interval bounds alone (q in [q0, q1], kv in [k0, k1]); same_document from the range of
// document ids the tile touches; and/or/not compose the three-valued results (Kleene logic).
//
// Soundness: Empty and Full are always exact claims (every element really is masked / visible).
// For a single primitive the classes are exact (Partial means mixed). For compositions a
// Partial tile may, in rare cases, turn out uniform (e.g. `causal & !causal`); the kernel then
// just evaluates it per element, which is still correct.
import { BlockClass, type AttentionMaskIR, type MaskIR } from './ir.js';
import { docIdsFromStarts } from './eval.js';

export interface ClassifyOptions {
  readonly qLen: number;
  readonly kvLen: number;
  readonly tileQ: number;
  readonly tileKV: number;
  /** Absolute position of query row 0; default 0. */
  readonly qOffset?: number;
  /** Document id per absolute position (length >= max(kvLen, qOffset + qLen)). */
  readonly docIds?: Int32Array;
  /** Or: start offsets of the documents (first is 0). */
  readonly docStarts?: ArrayLike<number>;
}

/** Three-valued result for one tile: Empty (all false), Full (all true), Partial (mixed). */
type Tri = BlockClass;
const E = 0 as BlockClass; // BlockClass.Empty
const F = 1 as BlockClass; // BlockClass.Full
const P = 2 as BlockClass; // BlockClass.Partial

/** A tile in absolute coordinates plus the document-id range of its rows and columns. */
export interface Tile {
  q0: number;
  q1: number;
  k0: number;
  k1: number;
  dq0: number;
  dq1: number;
  dk0: number;
  dk1: number;
}

const tri = (allTrue: boolean, allFalse: boolean): Tri => (allTrue ? F : allFalse ? E : P);

/** Classify one tile (inclusive bounds). Closed form per primitive. */
export function classifyTile(mask: MaskIR, t: Tile): Tri {
  switch (mask.op) {
    case 'full':
      return F;
    case 'causal': // kv <= q
      return tri(t.k1 <= t.q0, t.k0 > t.q1);
    case 'window': // q - kv < w ; max(q - kv) = q1 - k0, min = q0 - k1
      return tri(t.q1 - t.k0 < mask.size, t.q0 - t.k1 >= mask.size);
    case 'sink': // kv < g
      return tri(t.k1 < mask.count, t.k0 >= mask.count);
    case 'prefix': // kv < p || kv <= q : decreasing in kv, increasing in q
      return tri(t.k1 < mask.length || t.k1 <= t.q0, t.k0 >= mask.length && t.k0 > t.q1);
    case 'chunked': {
      const c = mask.size;
      const a0 = Math.floor(t.q0 / c), a1 = Math.floor(t.q1 / c);
      const b0 = Math.floor(t.k0 / c), b1 = Math.floor(t.k1 / c);
      return tri(a0 === a1 && b0 === b1 && a0 === b0, a1 < b0 || b1 < a0);
    }
    case 'same_document':
      return tri(t.dq0 === t.dq1 && t.dk0 === t.dk1 && t.dq0 === t.dk0, t.dq1 < t.dk0 || t.dk1 < t.dq0);
    case 'and': {
      let all = true;
      for (const a of mask.args) {
        const c = classifyTile(a, t);
        if (c === E) return E;
        if (c !== F) all = false;
      }
      return all ? F : P;
    }
    case 'or': {
      let none = true;
      for (const a of mask.args) {
        const c = classifyTile(a, t);
        if (c === F) return F;
        if (c !== E) none = false;
      }
      return none ? E : P;
    }
    case 'not': {
      const c = classifyTile(mask.arg, t);
      return c === F ? E : c === E ? F : P;
    }
  }
}

function resolveDocIds(opts: ClassifyOptions): Int32Array | undefined {
  if (opts.docIds) return opts.docIds;
  if (opts.docStarts) return docIdsFromStarts(opts.docStarts, Math.max(opts.kvLen, (opts.qOffset ?? 0) + opts.qLen));
  return undefined;
}

/** Per-tile [min, max] of document ids over a range of positions split into tiles. */
function tileDocRanges(ids: Int32Array | undefined, start: number, len: number, tile: number): Int32Array {
  const n = Math.ceil(len / tile);
  const out = new Int32Array(2 * n);
  if (!ids) return out; // one document: all zeros
  for (let t = 0; t < n; t++) {
    let lo = Infinity, hi = -Infinity;
    const end = Math.min(len, (t + 1) * tile);
    for (let p = t * tile; p < end; p++) {
      const d = ids[start + p]!;
      if (d < lo) lo = d;
      if (d > hi) hi = d;
    }
    out[2 * t] = lo;
    out[2 * t + 1] = hi;
  }
  return out;
}

/** Number of q tiles and kv tiles for the given sizes. */
export function tileCounts(qLen: number, kvLen: number, tileQ: number, tileKV: number): { nQ: number; nK: number } {
  return { nQ: Math.ceil(qLen / tileQ), nK: Math.ceil(kvLen / tileKV) };
}

/** BlockClass per (q-tile, kv-tile), row-major [nQ x nK]. */
export function classifyBlocks(mask: MaskIR, opts: ClassifyOptions): Uint8Array {
  const { qLen, kvLen, tileQ, tileKV } = opts;
  if (!(tileQ >= 1 && tileKV >= 1 && Number.isInteger(tileQ) && Number.isInteger(tileKV))) throw new RangeError('tile sizes must be positive integers');
  const qOffset = opts.qOffset ?? 0;
  const { nQ, nK } = tileCounts(qLen, kvLen, tileQ, tileKV);
  const ids = resolveDocIds(opts);
  const qd = tileDocRanges(ids, qOffset, qLen, tileQ);
  const kd = tileDocRanges(ids, 0, kvLen, tileKV);
  const out = new Uint8Array(nQ * nK);
  const t: Tile = { q0: 0, q1: 0, k0: 0, k1: 0, dq0: 0, dq1: 0, dk0: 0, dk1: 0 };
  for (let a = 0; a < nQ; a++) {
    t.q0 = qOffset + a * tileQ;
    t.q1 = qOffset + Math.min(qLen, (a + 1) * tileQ) - 1;
    t.dq0 = qd[2 * a]!;
    t.dq1 = qd[2 * a + 1]!;
    for (let b = 0; b < nK; b++) {
      t.k0 = b * tileKV;
      t.k1 = Math.min(kvLen, (b + 1) * tileKV) - 1;
      t.dk0 = kd[2 * b]!;
      t.dk1 = kd[2 * b + 1]!;
      out[a * nK + b] = classifyTile(mask, t);
    }
  }
  return out;
}

/** The mask of head `h` (0-based) of an attention. */
export function maskForHead(attn: AttentionMaskIR, h: number): MaskIR {
  for (const g of attn.groups) if (h >= g.from && h <= g.to) return g.mask;
  return attn.default ?? { op: 'full' };
}

/**
 * Distinct masks of an attention with the heads that use each: `headGroup[h]` indexes `masks`.
 * Heads outside every group use `default` (or `full` when there is none).
 */
export function headGroups(attn: AttentionMaskIR, heads: number): { masks: MaskIR[]; headGroup: Int32Array } {
  const masks: MaskIR[] = [];
  const keys: string[] = [];
  const headGroup = new Int32Array(heads);
  for (let h = 0; h < heads; h++) {
    const m = maskForHead(attn, h);
    const key = JSON.stringify(m);
    let i = keys.indexOf(key);
    if (i < 0) {
      i = keys.length;
      keys.push(key);
      masks.push(m);
    }
    headGroup[h] = i;
  }
  return { masks, headGroup };
}

/** Block classes for every head group of an attention: one [nQ x nK] array per distinct mask. */
export function classifyAttention(attn: AttentionMaskIR, heads: number, opts: ClassifyOptions): { classes: Uint8Array[]; headGroup: Int32Array } {
  const { masks, headGroup } = headGroups(attn, heads);
  return { classes: masks.map((m) => classifyBlocks(m, opts)), headGroup };
}

/**
 * The block-sparse layout a kernel consumes (BCSR, like FlexAttention's kv_num_blocks /
 * kv_indices / full_kv_num_blocks / full_kv_indices): for query tile a, the kv tiles to visit
 * are kvTiles[rowPtr[a] .. rowPtr[a+1]) in increasing order, and full[i] says whether kvTiles[i]
 * is Full (no per-element mask) or Partial. Empty tiles are absent.
 */
export interface BlockLayout {
  readonly nQ: number;
  readonly nK: number;
  readonly rowPtr: Int32Array;
  readonly kvTiles: Int32Array;
  readonly full: Uint8Array;
}

export function blockLayout(classes: Uint8Array, nQ: number, nK: number): BlockLayout {
  if (classes.length !== nQ * nK) throw new RangeError(`classes has ${classes.length} entries, expected ${nQ * nK}`);
  const rowPtr = new Int32Array(nQ + 1);
  let nnz = 0;
  for (let i = 0; i < classes.length; i++) if (classes[i] !== E) nnz++;
  const kvTiles = new Int32Array(nnz);
  const full = new Uint8Array(nnz);
  let w = 0;
  for (let a = 0; a < nQ; a++) {
    rowPtr[a] = w;
    for (let b = 0; b < nK; b++) {
      const c = classes[a * nK + b]!;
      if (c === E) continue;
      kvTiles[w] = b;
      full[w] = c === F ? 1 : 0;
      w++;
    }
  }
  rowPtr[nQ] = w;
  return { nQ, nK, rowPtr, kvTiles, full };
}

/** FlexAttention's view of a layout: counts and padded index matrices, partial and full separately. */
export function flexView(layout: BlockLayout): {
  kvNumBlocks: Int32Array;
  kvIndices: Int32Array;
  fullKvNumBlocks: Int32Array;
  fullKvIndices: Int32Array;
} {
  const { nQ, nK, rowPtr, kvTiles, full } = layout;
  const kvNumBlocks = new Int32Array(nQ), fullKvNumBlocks = new Int32Array(nQ);
  const kvIndices = new Int32Array(nQ * nK), fullKvIndices = new Int32Array(nQ * nK);
  for (let a = 0; a < nQ; a++) {
    for (let i = rowPtr[a]!; i < rowPtr[a + 1]!; i++) {
      if (full[i]) fullKvIndices[a * nK + fullKvNumBlocks[a]!++] = kvTiles[i]!;
      else kvIndices[a * nK + kvNumBlocks[a]!++] = kvTiles[i]!;
    }
  }
  return { kvNumBlocks, kvIndices, fullKvNumBlocks, fullKvIndices };
}
