import { describe, expect, it } from 'vitest';
import {
  BlockClass,
  blockLayout,
  classifyBlocks,
  denseMask,
  density,
  docIdsFromLengths,
  docIdsFromStarts,
  findEmptyRow,
  flexView,
  isCausal,
  maskAt,
  tileStats,
  type MaskIR,
} from './index.js';

// A small deterministic PRNG (mulberry32) so failures reproduce.
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomPrimitive(r: () => number, len: number): MaskIR {
  const n = (max: number) => 1 + Math.floor(r() * max);
  switch (Math.floor(r() * 7)) {
    case 0:
      return { op: 'full' };
    case 1:
      return { op: 'causal' };
    case 2:
      return { op: 'window', size: n(Math.max(2, len)) };
    case 3:
      return { op: 'sink', count: Math.floor(r() * (len + 2)) };
    case 4:
      return { op: 'prefix', length: Math.floor(r() * (len + 2)) };
    case 5:
      return { op: 'chunked', size: n(Math.max(2, len)) };
    default:
      return { op: 'same_document' };
  }
}

function randomMask(r: () => number, depth: number, len: number): MaskIR {
  if (depth === 0 || r() < 0.3) return randomPrimitive(r, len);
  const k = Math.floor(r() * 3);
  if (k === 0) return { op: 'not', arg: randomMask(r, depth - 1, len) };
  const args = [randomMask(r, depth - 1, len), randomMask(r, depth - 1, len)];
  if (r() < 0.3) args.push(randomMask(r, depth - 1, len));
  return { op: k === 1 ? 'and' : 'or', args };
}

function randomDocs(r: () => number, len: number): Int32Array {
  const lengths: number[] = [];
  let s = 0;
  while (s < len) {
    const l = r() < 0.3 ? 1 : 1 + Math.floor(r() * Math.max(1, len / 3));
    lengths.push(l);
    s += l;
  }
  return docIdsFromLengths(lengths, len);
}

const isPrimitive = (m: MaskIR) => m.op !== 'and' && m.op !== 'or' && m.op !== 'not';

describe('maskAt (hand-computed cases)', () => {
  it('follows the IR definitions', () => {
    expect(maskAt({ op: 'causal' }, 3, 3)).toBe(true);
    expect(maskAt({ op: 'causal' }, 3, 4)).toBe(false);
    expect(maskAt({ op: 'window', size: 1 }, 5, 5)).toBe(true);
    expect(maskAt({ op: 'window', size: 1 }, 5, 4)).toBe(false);
    expect(maskAt({ op: 'sink', count: 2 }, 9, 1)).toBe(true);
    expect(maskAt({ op: 'sink', count: 2 }, 9, 2)).toBe(false);
    expect(maskAt({ op: 'prefix', length: 4 }, 1, 3)).toBe(true);
    expect(maskAt({ op: 'prefix', length: 4 }, 5, 6)).toBe(false);
    expect(maskAt({ op: 'chunked', size: 4 }, 7, 4)).toBe(true);
    expect(maskAt({ op: 'chunked', size: 4 }, 8, 7)).toBe(false);
    const ids = docIdsFromStarts([0, 3], 6);
    expect(Array.from(ids)).toEqual([0, 0, 0, 1, 1, 1]);
    expect(maskAt({ op: 'same_document' }, 3, 2, (p) => ids[p]!)).toBe(false);
    expect(Array.from(denseMask({ op: 'causal' }, { qLen: 2, kvLen: 3, qOffset: 1 }))).toEqual([1, 1, 0, 1, 1, 1]);
  });
});

describe('classifyBlocks against denseMask (property test)', () => {
  it('never claims Full or Empty wrongly; exact for primitives', () => {
    const r = rng(12345);
    const sizes = [1, 2, 7, 63, 64, 65, 100];
    let checked = 0, exactChecked = 0;
    for (let iter = 0; iter < 600; iter++) {
      const qLen = sizes[Math.floor(r() * sizes.length)]!;
      const decode = r() < 0.3;
      const qOffset = decode ? Math.floor(r() * 70) : 0;
      const kvLen = decode ? qOffset + qLen : qLen;
      const tileQ = [1, 3, 7, 16, 64][Math.floor(r() * 5)]!;
      const tileKV = [1, 5, 8, 13, 64][Math.floor(r() * 5)]!;
      const mask = randomMask(r, 3, kvLen);
      const docIds = r() < 0.7 ? randomDocs(r, kvLen) : undefined;
      const useStarts = docIds && r() < 0.5;
      const dense = denseMask(mask, { qLen, kvLen, qOffset, docIds });
      const starts: number[] = [];
      if (docIds) for (let p = 0; p < kvLen; p++) if (p === 0 || docIds[p] !== docIds[p - 1]) starts.push(p);
      const cls = classifyBlocks(mask, {
        qLen,
        kvLen,
        tileQ,
        tileKV,
        qOffset,
        ...(useStarts ? { docStarts: starts } : { docIds }),
      });
      const nQ = Math.ceil(qLen / tileQ), nK = Math.ceil(kvLen / tileKV);
      expect(cls.length).toBe(nQ * nK);
      for (let a = 0; a < nQ; a++)
        for (let b = 0; b < nK; b++) {
          let any = false, all = true;
          for (let i = a * tileQ; i < Math.min(qLen, (a + 1) * tileQ); i++)
            for (let j = b * tileKV; j < Math.min(kvLen, (b + 1) * tileKV); j++) {
              if (dense[i * kvLen + j]) any = true;
              else all = false;
            }
          const c = cls[a * nK + b];
          const ctx = () => JSON.stringify({ mask, qLen, kvLen, qOffset, tileQ, tileKV, a, b, c });
          if (c === BlockClass.Full && !all) expect.fail('Full tile with a masked element: ' + ctx());
          if (c === BlockClass.Empty && any) expect.fail('Empty tile with a visible element: ' + ctx());
          if (isPrimitive(mask)) {
            const want = all ? BlockClass.Full : any ? BlockClass.Partial : BlockClass.Empty;
            if (c !== want) expect.fail(`primitive tile class ${c}, want ${want}: ` + ctx());
            exactChecked++;
          }
          checked++;
        }
    }
    expect(checked).toBeGreaterThan(10000);
    expect(exactChecked).toBeGreaterThan(1000);
  });

  it('is exact on the usual compositions (lambda, sliding window, document-causal)', () => {
    const r = rng(7);
    const masks: MaskIR[] = [
      { op: 'and', args: [{ op: 'causal' }, { op: 'or', args: [{ op: 'sink', count: 4 }, { op: 'window', size: 100 }] }] },
      { op: 'and', args: [{ op: 'causal' }, { op: 'window', size: 1 }] },
      { op: 'and', args: [{ op: 'causal' }, { op: 'same_document' }] },
      { op: 'and', args: [{ op: 'causal' }, { op: 'chunked', size: 50 }] },
    ];
    for (const mask of masks) {
      const len = 333;
      const docIds = randomDocs(r, len);
      const dense = denseMask(mask, { qLen: len, kvLen: len, docIds });
      const cls = classifyBlocks(mask, { qLen: len, kvLen: len, tileQ: 32, tileKV: 16, docIds });
      const nK = Math.ceil(len / 16);
      for (let a = 0; a * 32 < len; a++)
        for (let b = 0; b < nK; b++) {
          let any = false, all = true;
          for (let i = a * 32; i < Math.min(len, a * 32 + 32); i++)
            for (let j = b * 16; j < Math.min(len, b * 16 + 16); j++) dense[i * len + j] ? (any = true) : (all = false);
          expect(cls[a * nK + b]).toBe(all ? BlockClass.Full : any ? BlockClass.Partial : BlockClass.Empty);
        }
    }
  });
});

describe('blockLayout', () => {
  it('lists non-empty tiles per query tile in order, flagging full ones', () => {
    // causal over 3 tiles of 2: row 0: [0 partial], row 1: [0 full, 1 partial], row 2: [0 full, 1 full, 2 partial]
    const cls = classifyBlocks({ op: 'causal' }, { qLen: 6, kvLen: 6, tileQ: 2, tileKV: 2 });
    const l = blockLayout(cls, 3, 3);
    expect(Array.from(l.rowPtr)).toEqual([0, 1, 3, 6]);
    expect(Array.from(l.kvTiles)).toEqual([0, 0, 1, 0, 1, 2]);
    expect(Array.from(l.full)).toEqual([0, 1, 0, 1, 1, 0]);
    const f = flexView(l);
    expect(Array.from(f.kvNumBlocks)).toEqual([1, 1, 1]);
    expect(Array.from(f.fullKvNumBlocks)).toEqual([0, 1, 2]);
    expect(f.fullKvIndices[2 * 3 + 1]).toBe(1);
  });
});

// Brute-force versions of the checks (every element), to test the classifier-based ones.
function bruteEmptyRow(mask: MaskIR, len: number, ids?: Int32Array): number | undefined {
  const d = denseMask(mask, { qLen: len, kvLen: len, docIds: ids });
  for (let q = 0; q < len; q++) {
    let any = false;
    for (let k = 0; k < len; k++) if (d[q * len + k]) any = true;
    if (!any) return q;
  }
  return undefined;
}
function bruteCausal(mask: MaskIR, len: number, ids?: Int32Array): boolean {
  const d = denseMask(mask, { qLen: len, kvLen: len, docIds: ids });
  for (let q = 0; q < len; q++) for (let k = q + 1; k < len; k++) if (d[q * len + k]) return false;
  return true;
}

describe('findEmptyRow / isCausal', () => {
  it('hand cases', () => {
    expect(findEmptyRow({ op: 'causal' }, 100)).toBeUndefined();
    expect(isCausal({ op: 'causal' }, 100)).toBe(true);
    expect(isCausal({ op: 'full' }, 100)).toBe(false);
    expect(isCausal({ op: 'full' }, 1)).toBe(true);
    expect(isCausal({ op: 'prefix', length: 10 }, 100)).toBe(false);
    expect(findEmptyRow({ op: 'and', args: [{ op: 'causal' }, { op: 'not', arg: { op: 'window', size: 1 } }] }, 100)).toBe(0);
    expect(findEmptyRow({ op: 'and', args: [{ op: 'causal' }, { op: 'sink', count: 0 }] }, 10)).toBe(0);
    // window 1 alone sees itself; with causal too.
    expect(findEmptyRow({ op: 'and', args: [{ op: 'causal' }, { op: 'window', size: 1 }] }, 200)).toBeUndefined();
    // !same_document & causal: row 0 only has itself, in its own document -> empty.
    expect(findEmptyRow({ op: 'and', args: [{ op: 'causal' }, { op: 'not', arg: { op: 'same_document' } }] }, 50)).toBe(0);
    // same_document & causal is fine under every layout.
    expect(findEmptyRow({ op: 'and', args: [{ op: 'causal' }, { op: 'same_document' }] }, 300)).toBeUndefined();
    expect(isCausal({ op: 'and', args: [{ op: 'causal' }, { op: 'same_document' }] }, 300)).toBe(true);
    // same_document | causal: causal only with length-1 documents, not with one document.
    expect(isCausal({ op: 'or', args: [{ op: 'causal' }, { op: 'same_document' }] }, 30)).toBe(false);
    // a row that is empty only late: causal & !sink(0) & chunked... row 70 of window(1) & !causal
    expect(findEmptyRow({ op: 'and', args: [{ op: 'window', size: 1 }, { op: 'not', arg: { op: 'causal' } }] }, 150)).toBe(149);
  });

  it('agree with brute force on random masks (both document layouts)', () => {
    const r = rng(99);
    for (let iter = 0; iter < 150; iter++) {
      const len = [1, 2, 63, 65, 130][Math.floor(r() * 5)]!;
      const mask = randomMask(r, 3, len);
      const ones = new Int32Array(len).map((_, i) => i);
      const layouts = mask && JSON.stringify(mask).includes('same_document') ? [undefined, ones] : [undefined];
      const rows = layouts.map((ids) => bruteEmptyRow(mask, len, ids)).filter((x) => x !== undefined) as number[];
      const wantRow = rows.length ? Math.min(...rows) : undefined;
      expect(findEmptyRow(mask, len), JSON.stringify(mask)).toBe(wantRow);
      expect(isCausal(mask, len), JSON.stringify(mask)).toBe(layouts.every((ids) => bruteCausal(mask, len, ids)));
      const docs = randomDocs(r, len);
      expect(findEmptyRow(mask, len, docs)).toBe(bruteEmptyRow(mask, len, docs));
      expect(isCausal(mask, len, docs)).toBe(bruteCausal(mask, len, docs));
    }
  });
});

describe('density and tileStats', () => {
  it('causal density is (n+1)/(2n); tile fractions add up', () => {
    expect(density({ op: 'causal' }, 100)).toBeCloseTo(101 / 200, 12);
    expect(density({ op: 'full' }, 7)).toBe(1);
    const s = tileStats({ op: 'causal' }, 256, 64);
    expect(s.tiles).toBe(16);
    expect(s.full).toBe(6);
    expect(s.partial).toBe(4);
    expect(s.empty).toBe(6);
    expect(s.computedFraction).toBeCloseTo(10 / 16, 12);
    const docs = docIdsFromLengths([10, 20], 40);
    let want = 0;
    const d = denseMask({ op: 'same_document' }, { qLen: 40, kvLen: 40, docIds: docs });
    for (const x of d) want += x;
    expect(density({ op: 'same_document' }, 40, docs, 8)).toBeCloseTo(want / 1600, 12);
  });
});
