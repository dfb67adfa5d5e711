import { describe, expect, it } from 'vitest';
import { DecomposeError, decomposeLengths, getBinary } from './decompose.js';
import { Rng } from './rng.js';

// A literal transcription of the reference get_binary (make_dd_buckets.py) with randomize=False,
// written with list slicing like the Python, as an independent reference.
function referenceDeterministic(seq: number[], minLog2: number, maxLog2: number): Map<number, number[][]> {
  const out = new Map<number, number[][]>();
  while (seq.length > 1) {
    let k = Math.floor(Math.log2(seq.length - 1));
    if (k < minLog2) return out;
    if (k > maxLog2) k = Math.min(k, maxLog2);
    if (!out.has(k)) out.set(k, []);
    out.get(k)!.push(seq.slice(0, (1 << k) + 1));
    seq = seq.slice((1 << k) + 1);
  }
  return out;
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('decompose (get_binary)', () => {
  it('hand-computed cases', () => {
    // n=10, k=floor(log2 9)=3: one piece of 9 tokens, the last token is dropped.
    let d = decomposeLengths([10], 1, 3, null);
    expect([...d.offset]).toEqual([0]);
    expect([...d.log2]).toEqual([3]);
    expect(d.tokensDropped).toBe(1);
    // n=14, max=2: k=3 > 2 -> 2 (5 tokens), left 9: 3 > 2 -> 2 (5), left 4: k=1 (3 tokens), left 1 dropped.
    d = decomposeLengths([14], 1, 2, null);
    expect([...d.offset]).toEqual([0, 5, 10]);
    expect([...d.log2]).toEqual([2, 2, 1]);
    expect(d.tokensKept).toBe(13);
    expect(d.tokensDropped).toBe(1);
    // n=6, min=3: k=floor(log2 5)=2 < 3: the whole document is dropped.
    d = decomposeLengths([6], 3, 5, null);
    expect(d.count).toBe(0);
    expect(d.tokensDropped).toBe(6);
    // n=0 and n=1 give nothing; n=1 drops its single token.
    d = decomposeLengths([0, 1], 0, 4, null);
    expect(d.count).toBe(0);
    expect(d.tokensDropped).toBe(1);
    // n=2^k+1 exactly is one piece with no loss.
    d = decomposeLengths([257], 8, 13, null);
    expect([...d.log2]).toEqual([8]);
    expect(d.tokensDropped).toBe(0);
  });

  it('pieces do not overlap (the next piece starts after the previous target token)', () => {
    const seq = range(20);
    const m = getBinary(seq, 1, 4, null);
    // 20: k=4 (17 tokens 0..16), left 3: k=1 (3 tokens 17..19)
    expect(m.get(4)).toEqual([range(17)]);
    expect(m.get(1)).toEqual([[17, 18, 19]]);
  });

  it('deterministic variant equals the transcribed reference on many lengths', () => {
    for (let n = 0; n < 3000; n += 13) {
      const seq = range(n);
      for (const [mn, mx] of [[0, 3], [2, 5], [4, 4], [8, 10]] as const) {
        const ours = getBinary(seq, mn, mx, null);
        const ref = referenceDeterministic(seq, mn, mx);
        expect(new Map([...ours.entries()].sort())).toEqual(new Map([...ref.entries()].sort()));
      }
    }
  });

  it('random variant: invariants (2^k+1 pieces in bounds, contiguous, kept + dropped = total)', () => {
    const rng = new Rng(5);
    const lengths = Array.from({ length: 2000 }, () => 1 + Math.floor(rng.float() * 20000));
    const d = decomposeLengths(lengths, 8, 13, new Rng(11));
    let kept = 0;
    let prevDoc = -1;
    let expectOff = 0;
    for (let i = 0; i < d.count; i++) {
      const k = d.log2[i]!;
      expect(k >= 8 && k <= 13).toBe(true);
      const len = (1 << k) + 1;
      if (d.doc[i] !== prevDoc) {
        expect(d.doc[i]!).toBeGreaterThan(prevDoc);
        prevDoc = d.doc[i]!;
        expectOff = 0;
      }
      expect(d.offset[i]).toBe(expectOff);
      expectOff += len;
      expect(expectOff).toBeLessThanOrEqual(lengths[d.doc[i]!]!);
      kept += len;
    }
    expect(kept).toBe(d.tokensKept);
    expect(d.tokensKept + d.tokensDropped).toBe(lengths.reduce((a, b) => a + b, 0));
  });

  it('random draw for long remainders: P(k) ∝ 2^(max-k), so every bucket gets equal expected tokens', () => {
    // One very long document: almost every piece comes from the random draw over k in [8, 11].
    const d = decomposeLengths([20_000_000], 8, 11, new Rng(2024));
    const counts = [8, 9, 10, 11].map((k) => d.perBucket[k]!);
    const total = counts.reduce((a, b) => a + b, 0);
    // expected P = 2^(11-k) / 15: 8/15, 4/15, 2/15, 1/15
    [8, 4, 2, 1].forEach((w, i) => expect(Math.abs(counts[i]! / total - w / 15)).toBeLessThan(0.01));
    const tokens = [8, 9, 10, 11].map((k, i) => counts[i]! * 2 ** k);
    const tt = tokens.reduce((a, b) => a + b, 0);
    tokens.forEach((t) => expect(Math.abs(t / tt - 0.25)).toBeLessThan(0.01));
  });

  it('is deterministic for a seed', () => {
    const a = decomposeLengths([100000, 5000], 4, 8, new Rng(9));
    const b = decomposeLengths([100000, 5000], 4, 8, new Rng(9));
    expect([...a.log2]).toEqual([...b.log2]);
  });
});

describe('decompose capacity', () => {
  it('outgrows a sampled estimate that misses the long documents (every 64th is short) and still equals per-document runs', () => {
    const n = 9_000; // > 8192: the estimate samples every 64th document
    const lengths = Int32Array.from({ length: n }, (_, d) => (d % 64 === 0 ? 2 : 3000 + (d % 7)));
    const all = decomposeLengths(lengths, 2, 9, null);
    let at = 0;
    let kept = 0;
    let mismatches = 0;
    for (let d = 0; d < n; d++) {
      const one = decomposeLengths([lengths[d]!], 2, 9, null);
      for (let i = 0; i < one.count; i++, at++) {
        if (all.doc[at] !== d || all.offset[at] !== one.offset[i] || all.log2[at] !== one.log2[i]) mismatches++;
      }
      kept += one.tokensKept;
    }
    expect(mismatches).toBe(0);
    expect(all.count).toBe(at);
    expect(all.count).toBeGreaterThan(4 * (1024 + n / 64)); // far beyond the estimate: the growth path ran
    expect(all.tokensKept).toBe(kept);
  });
});

// The deterministic get_binary loop on one length in BigInt arithmetic (k = bit length of n - 1,
// minus one): an independent reference for lengths no array could hold.
function referenceBig(length: bigint, minLog2: number, maxLog2: number): { offset: number[]; log2: number[]; dropped: bigint } {
  const offset: number[] = [];
  const log2: number[] = [];
  let left = length;
  let off = 0n;
  while (left > 1n) {
    let k = (left - 1n).toString(2).length - 1;
    if (k < minLog2) break;
    if (k > maxLog2) k = maxLog2;
    offset.push(Number(off));
    log2.push(k);
    off += (1n << BigInt(k)) + 1n;
    left -= (1n << BigInt(k)) + 1n;
  }
  return { offset, log2, dropped: left };
}

describe('decompose: documents of 2^31 tokens and more (synthetic lengths, nothing allocated per token)', () => {
  it('hand-computed: 2^31 + 5 tokens with k in [1, 30] is two 2^30 pieces and one of 2 (offset past 2^31)', () => {
    // 2^31+5: k = floor(log2(2^31+4)) = 31 > 30 -> 30 (2^30+1 tokens), left 2^30+4: k = 30, left 3:
    // k = 1 (3 tokens), left 0. int32 arithmetic wrapped this length negative: 0 pieces.
    const d = decomposeLengths([2 ** 31 + 5], 1, 30, null);
    expect([...d.log2]).toEqual([30, 30, 1]);
    expect([...d.offset]).toEqual([0, 2 ** 30 + 1, 2 ** 31 + 2]);
    expect(d.offset).toBeInstanceOf(Float64Array);
    expect(d.tokensKept).toBe(2 ** 31 + 5);
    expect(d.tokensDropped).toBe(0);
    expect([...d.doc]).toEqual([0, 0, 0]);
  });

  it('equals the BigInt reference on huge lengths, mixed with ordinary documents', () => {
    const huge = [2 ** 31, 2 ** 31 - 1, 2 ** 32 + 3, 3 * 2 ** 33 + 17, 2 ** 45 + 12345, 2 ** 53 - 1];
    const bounds: [number, number][] = [[20, 31], [28, 30], [31, 31]];
    for (const [mn, mx] of bounds) {
      const lengths = huge.flatMap((h) => [h, 1000]).filter((h) => h / 2 ** mx < 5e5); // keep the piece count small
      const d = decomposeLengths(lengths, mn, mx, null);
      let at = 0;
      let dropped = 0n;
      lengths.forEach((len, doc) => {
        const ref = referenceBig(BigInt(len), mn, mx);
        dropped += ref.dropped;
        for (let i = 0; i < ref.offset.length; i++, at++) {
          if (d.doc[at] !== doc || d.offset[at] !== ref.offset[i] || d.log2[at] !== ref.log2[i]) {
            throw new Error(`[${mn}, ${mx}] piece ${at}: doc ${d.doc[at]} offset ${d.offset[at]} k ${d.log2[at]}, want doc ${doc} offset ${ref.offset[i]} k ${ref.log2[i]}`);
          }
        }
      });
      expect(d.count).toBe(at);
      expect(BigInt(d.tokensDropped)).toBe(dropped);
      expect(d.tokensKept + d.tokensDropped).toBe(lengths.reduce((a, b) => a + b, 0));
    }
  });

  it('random variant on a 2^33-token document: contiguous pieces in bounds, kept + dropped = length', () => {
    const L = 2 ** 33 + 7;
    const d = decomposeLengths([L], 24, 27, new Rng(3));
    let off = 0;
    for (let i = 0; i < d.count; i++) {
      expect(d.offset[i]).toBe(off);
      expect(d.log2[i]! >= 24 && d.log2[i]! <= 27).toBe(true);
      off += 2 ** d.log2[i]! + 1;
    }
    expect(off).toBe(d.tokensKept);
    expect(d.tokensKept + d.tokensDropped).toBe(L);
    expect(d.tokensDropped).toBeLessThan(2 ** 24 + 1);
  });

  it('lengths that are not non-negative safe integers, and bad bounds, are coded errors', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(DecomposeError);
        return (e as DecomposeError).code;
      }
      return 'no error';
    };
    // what an Int32Array holding 2^31 tokens gives
    expect(code(() => decomposeLengths(Int32Array.from([100, 2 ** 31]), 1, 8, null))).toBe('LMP_E_RANGE');
    expect(code(() => decomposeLengths([2 ** 53], 1, 8, null))).toBe('LMP_E_RANGE');
    expect(code(() => decomposeLengths([10.5], 1, 8, null))).toBe('LMP_E_RANGE');
    expect(code(() => decomposeLengths([NaN], 1, 8, null))).toBe('LMP_E_RANGE');
    expect(code(() => decomposeLengths([100], 5, 4, null))).toBe('LMP_E_ARG');
    expect(code(() => decomposeLengths([100], 1, 32, null))).toBe('LMP_E_ARG');
    expect(code(() => decomposeLengths([100], 1.5, 4, null))).toBe('LMP_E_ARG');
    expect(() => decomposeLengths(Int32Array.from([2 ** 31]), 1, 8, null)).toThrow(/document 0 has length -2147483648.*Int32Array/);
    // 2^52 pieces of 3 tokens cannot be held: a coded error, not a raw RangeError (nothing is
    // allocated before the growth fails)
    expect(code(() => decomposeLengths([2 ** 53 - 1], 1, 1, null))).toBe('LMP_E_RANGE');
  });
});
