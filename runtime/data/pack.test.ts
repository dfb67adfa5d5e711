import { describe, expect, it } from 'vitest';
import { materialize, planConcatChunk, planDecompose, planPad, planPrepack, log2Histogram, type CorpusView } from './pack.js';
import { balanceByCost, balanceByTokens, seqCost } from './balance.js';
import { Rng } from './rng.js';

/** A corpus whose token t of document d is 100*d + t (so every token names its origin). */
function corpus(lengths: number[]): CorpusView {
  const offsets = new Float64Array(lengths.length + 1);
  lengths.forEach((l, i) => (offsets[i + 1] = offsets[i]! + l));
  const tokens = new Int32Array(offsets[lengths.length]!);
  lengths.forEach((l, d) => {
    for (let t = 0; t < l; t++) tokens[offsets[d]! + t] = 100 * d + t;
  });
  return { tokens, offsets };
}
const order = (n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => i);

describe('concat_chunk', () => {
  it('hand case: docs of 3, 5, 2 tokens, L = 4', () => {
    const c = corpus([3, 5, 2]);
    const plan = planConcatChunk(c, order(3), 4, 999);
    // stream: 0 1 2 | 100 101 102 103 104 | 200 201  -> [0 1 2 100] [101 102 103 104], 2 tokens dropped
    expect(plan.numSeqs).toBe(2);
    expect(plan.tokensDropped).toBe(2);
    const b = materialize(plan, c.tokens, [0, 1]);
    expect([...b.tokens]).toEqual([0, 1, 2, 100, 101, 102, 103, 104]);
    expect([...b.cuSeqlens]).toEqual([0, 4, 8]);
    expect([...b.docIds]).toEqual([0, 0, 0, 1, 1, 1, 1, 1]);
    expect([...b.positionIds]).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
    expect([...b.lossMask]).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    expect([...b.segCu]).toEqual([0, 2, 3]);
    expect([...b.segOffset]).toEqual([0, 3, 0]);
    expect([...b.segLength]).toEqual([3, 1, 4]);
  });
  it('random order keeps every token exactly once (except the dropped tail)', () => {
    const lens = Array.from({ length: 50 }, (_, i) => 1 + ((i * 37) % 23));
    const c = corpus(lens);
    const ord = new Rng(3).permutation(50);
    const plan = planConcatChunk(c, ord, 16, 0);
    const b = materialize(plan, c.tokens, order(plan.numSeqs));
    const total = lens.reduce((a, x) => a + x, 0);
    expect(b.tokens.length + plan.tokensDropped).toBe(total);
    expect(new Set(b.tokens).size).toBe(b.tokens.length);
    // docIds agree with the token's origin
    b.tokens.forEach((t, i) => expect(b.docIds[i]).toBe(Math.floor(t / 100)));
  });
});

describe('pad', () => {
  const c = corpus([3, 6]);
  it('truncate keeps the first L tokens and reports the rest', () => {
    const plan = planPad(c, order(2), 4, 'truncate', 7);
    const b = materialize(plan, c.tokens, [0, 1]);
    expect([...b.tokens]).toEqual([0, 1, 2, 7, 100, 101, 102, 103]);
    expect([...b.lossMask]).toEqual([1, 1, 1, 0, 1, 1, 1, 1]);
    expect([...b.docIds]).toEqual([0, 0, 0, -1, 1, 1, 1, 1]);
    expect(plan.tokensDropped).toBe(2);
    expect(plan.paddingTokens).toBe(1);
  });
  it('split cuts long documents into several padded sequences; drop drops them', () => {
    const plan = planPad(c, order(2), 4, 'split', 7);
    const b = materialize(plan, c.tokens, [0, 1, 2]);
    expect([...b.tokens]).toEqual([0, 1, 2, 7, 100, 101, 102, 103, 104, 105, 7, 7]);
    expect(plan.tokensDropped).toBe(0);
    expect(plan.paddingTokens).toBe(3);
    const d = planPad(c, order(2), 4, 'drop', 7);
    expect(d.numSeqs).toBe(1);
    expect(d.tokensDropped).toBe(6);
  });
});

describe('decompose plan', () => {
  it('sequences are 2^k + 1 contiguous tokens of one document, positions from 0', () => {
    const c = corpus([14]);
    const plan = planDecompose(c, order(1), 4, 16, true, 0); // min and max are lengths: k in [2, 4]
    // 14: k=floor(log2 13)=3 -> 9 tokens (0..8), left 5: k=2 -> 5 tokens (9..13)
    const b = materialize(plan, c.tokens, [0, 1]);
    expect([...b.cuSeqlens]).toEqual([0, 9, 14]);
    expect([...b.tokens]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    expect([...b.positionIds]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 4]);
    expect([...plan.bucket]).toEqual([3, 2]);
  });
});

describe('prepack', () => {
  it('positions restart per prompt, capacity is never exceeded, and the split recovers each prompt', () => {
    const lens = [5, 3, 8, 2, 6, 1, 4];
    const c = corpus(lens);
    for (const alg of ['bfd', 'ffd'] as const) {
      const plan = planPrepack(c, order(lens.length), 'longest', alg, 0, 0);
      expect(plan.seqLength.every((l) => l === 8)).toBe(true);
      const b = materialize(plan, c.tokens, order(plan.numSeqs));
      const seen = new Set<number>();
      for (let s = 0; s < plan.numSeqs; s++) {
        let used = 0;
        for (let g = b.segCu[s]!; g < b.segCu[s + 1]!; g++) {
          const doc = b.segDoc[g]!;
          const at = b.cuSeqlens[s]! + b.segOffset[g]!;
          // un-pack: the segment's tokens are exactly the prompt, positions 0..len-1
          expect([...b.tokens.subarray(at, at + b.segLength[g]!)]).toEqual(Array.from({ length: lens[doc]! }, (_, t) => 100 * doc + t));
          expect([...b.positionIds.subarray(at, at + b.segLength[g]!)]).toEqual(Array.from({ length: lens[doc]! }, (_, t) => t));
          used += b.segLength[g]!;
          seen.add(doc);
        }
        expect(used).toBeLessThanOrEqual(8);
      }
      expect(seen.size).toBe(lens.length);
      // 29 tokens in bins of 8: at least 4 bins; both heuristics reach 4 here
      expect(plan.numSeqs).toBe(4);
      expect(plan.paddingTokens).toBe(32 - 29);
    }
  });
  it('fixed capacity drops longer prompts and reports them', () => {
    const c = corpus([10, 3, 3]);
    const plan = planPrepack(c, order(3), 6, 'bfd', 0, 0);
    expect(plan.tokensDropped).toBe(10);
    expect(plan.numSeqs).toBe(1);
  });
});

describe('log2Histogram', () => {
  it('bins by floor(log2)', () => {
    expect(log2Histogram([1, 2, 3, 4, 7, 8, 1000])).toEqual([1, 2, 2, 1, 0, 0, 0, 0, 0, 1]);
  });
});

describe('cost-balanced sharding', () => {
  function bruteForce(lengths: number[], R: number, m: { a: number; b: number }): number {
    let best = Infinity;
    const n = lengths.length;
    const rank = new Array(n).fill(0);
    const rec = (i: number): void => {
      if (i === n) {
        const load = new Array(R).fill(0);
        lengths.forEach((l, j) => (load[rank[j]] += seqCost(l, m)));
        best = Math.min(best, Math.max(...load));
        return;
      }
      for (let r = 0; r < R; r++) {
        rank[i] = r;
        rec(i + 1);
      }
    };
    rec(0);
    return best;
  }
  it('is within the LPT bound (4/3 - 1/(3R)) of the brute-force optimum on small cases', () => {
    const rng = new Rng(12);
    const m = { a: 1, b: 1 / 64 };
    let exact = 0;
    for (let t = 0; t < 60; t++) {
      const R = 2 + rng.int(2);
      const n = 2 + rng.int(6);
      const lengths = Array.from({ length: n }, () => 16 * (1 + rng.int(64)));
      const opt = bruteForce(lengths, R, m);
      const got = balanceByCost(lengths, R, m);
      expect(got.maxCost).toBeGreaterThanOrEqual(opt - 1e-6);
      expect(got.maxCost).toBeLessThanOrEqual((4 / 3 - 1 / (3 * R)) * opt + 1e-6);
      if (Math.abs(got.maxCost - opt) < 1e-6) exact++;
    }
    expect(exact).toBeGreaterThan(30);
  });
  it('hand case: token balance is wrong under quadratic cost', () => {
    // lengths 8, 4, 4, 4, 4 on 2 ranks, cost = len^2. Token balance (LPT on lengths) gives
    // {8, 4} and {4, 4, 4}: 12 tokens each, costs 64 + 16 = 80 vs 48. Cost balance: {8} = 64 vs {4, 4, 4, 4} = 64.
    const m = { a: 0, b: 1 };
    const tok = balanceByTokens([8, 4, 4, 4, 4], 2, m);
    const cost = balanceByCost([8, 4, 4, 4, 4], 2, m);
    expect(tok.maxCost).toBe(80);
    expect(cost.maxCost).toBe(64);
    expect(cost.imbalance).toBe(1);
  });
  it('hand case: document-masked pairs instead of len^2 (prepacked bins of equal length)', () => {
    // five bins of 8 tokens: one document of 8 (64 pairs), four bins of two 4-token documents (16 + 16).
    // Token balance sees equal lengths: LPT puts bins 0, 2, 4 on rank 0 (64 + 32 + 32 = 128) and 1, 3 on rank 1.
    const m = { a: 0, b: 1 };
    const lengths = [8, 8, 8, 8, 8];
    const pairs = [64, 32, 32, 32, 32];
    expect(balanceByTokens(lengths, 2, m, pairs).maxCost).toBe(128);
    const cost = balanceByCost(lengths, 2, m, 10_000, pairs);
    expect(cost.maxCost).toBe(96);
    expect([...cost.rankTokens].sort()).toEqual([16, 24]);
    // without pairs every bin costs 64: both balances are the same
    expect(balanceByCost(lengths, 2, m).maxCost).toBe(192);
  });
});
