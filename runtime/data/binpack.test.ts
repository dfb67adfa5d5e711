import { describe, expect, it } from 'vitest';
import { bestFitDecreasing, firstFitDecreasing, type Packing } from './binpack.js';
import { Rng } from './rng.js';

// Textbook O(n * bins) definitions, as independent references (stable decreasing sort).
function naive(lengths: number[], cap: number, best: boolean): number[] {
  const idx = lengths.map((_, i) => i).filter((i) => lengths[i]! <= cap).sort((a, b) => lengths[b]! - lengths[a]! || a - b);
  const rem: number[] = [];
  const binOf = lengths.map(() => -1);
  for (const i of idx) {
    let pick = -1;
    for (let b = 0; b < rem.length; b++) {
      if (rem[b]! < lengths[i]!) continue;
      if (pick < 0 || (best && rem[b]! < rem[pick]!)) pick = b;
      if (!best) break;
    }
    if (pick < 0) {
      rem.push(cap);
      pick = rem.length - 1;
    }
    rem[pick]! -= lengths[i]!;
    binOf[i] = pick;
  }
  return binOf;
}

/** Exact minimum number of bins by exhaustive search (tiny inputs only). */
function optimum(lengths: number[], cap: number): number {
  const items = [...lengths].sort((a, b) => b - a);
  let best = items.length;
  const rem: number[] = [];
  const go = (i: number): void => {
    if (rem.length >= best) return;
    if (i === items.length) {
      best = rem.length;
      return;
    }
    const seen = new Set<number>();
    for (let b = 0; b < rem.length; b++) {
      if (rem[b]! >= items[i]! && !seen.has(rem[b]!)) {
        seen.add(rem[b]!);
        rem[b]! -= items[i]!;
        go(i + 1);
        rem[b]! += items[i]!;
      }
    }
    rem.push(cap - items[i]!);
    go(i + 1);
    rem.pop();
  };
  go(0);
  return best;
}

function checkInvariants(p: Packing, lengths: number[], cap: number): void {
  const used = new Array(p.bins).fill(0);
  lengths.forEach((l, i) => {
    if (l > cap) expect(p.binOf[i]).toBe(-1);
    else used[p.binOf[i]!] += l;
  });
  used.forEach((u, b) => {
    expect(u).toBeLessThanOrEqual(cap); // capacity never exceeded
    expect(u).toBe(p.binUsed[b]);
  });
  // order lists every packed item once, grouped by bin
  const seen = new Set<number>();
  for (let b = 0; b < p.bins; b++) for (let j = p.binStart[b]!; j < p.binStart[b + 1]!; j++) {
    expect(p.binOf[p.order[j]!]).toBe(b);
    seen.add(p.order[j]!);
  }
  expect(seen.size).toBe(lengths.filter((l) => l <= cap).length);
}

/** Best fit leaves ties between bins of equal slack open. Bins of equal slack are interchangeable
 *  for every later item, so two tie-breaks give the same number of bins and the same multiset of
 *  bin loads (not necessarily the same contents): compare those. */
function sameUpToTies(p: Packing, ref: number[], lengths: number[]): void {
  const loads = (binOf: ArrayLike<number>): number[] => {
    const m = new Map<number, number>();
    for (let i = 0; i < lengths.length; i++) if (binOf[i]! >= 0) m.set(binOf[i]!, (m.get(binOf[i]!) ?? 0) + lengths[i]!);
    return [...m.values()].sort((a, b) => a - b);
  };
  expect(loads(p.binOf)).toEqual(loads(ref));
}

describe('bin packing', () => {
  it('hand-computed case where best fit and first fit differ', () => {
    // cap 10, items 8 5 4 1: 8 -> b0 (2 left), 5 -> b1 (5 left), 4 -> b1 (1 left), then 1:
    // first fit takes b0 (the first bin with room), best fit takes b1 (the tightest, 1 left).
    expect([...firstFitDecreasing([8, 5, 4, 1], 10).binOf]).toEqual([0, 1, 1, 0]);
    expect([...bestFitDecreasing([8, 5, 4, 1], 10).binOf]).toEqual([0, 1, 1, 1]);
    // items longer than the capacity are not packed
    const p = bestFitDecreasing([12, 3], 10);
    expect([...p.binOf]).toEqual([-1, 0]);
    expect(p.oversizeItems).toBe(1);
    expect(p.oversizeTokens).toBe(12);
  });

  it('matches the textbook definitions on random inputs, never exceeds capacity, within the FFD/BFD bound of the optimum', () => {
    const rng = new Rng(4);
    for (let t = 0; t < 200; t++) {
      const cap = 5 + rng.int(60);
      const n = 1 + rng.int(9);
      const lens = Array.from({ length: n }, () => 1 + rng.int(cap + 5));
      const bf = bestFitDecreasing(lens, cap);
      const ff = firstFitDecreasing(lens, cap);
      checkInvariants(bf, lens, cap);
      checkInvariants(ff, lens, cap);
      sameUpToTies(bf, naive(lens, cap, true), lens);
      expect([...ff.binOf]).toEqual(naive(lens, cap, false));
      const fit = lens.filter((l) => l <= cap);
      const opt = optimum(fit, cap);
      // Dósa 2007: FFD (and BFD) <= 11/9 OPT + 6/9
      expect(bf.bins).toBeLessThanOrEqual((11 / 9) * opt + 6 / 9 + 1e-9);
      expect(ff.bins).toBeLessThanOrEqual((11 / 9) * opt + 6 / 9 + 1e-9);
      expect(bf.bins).toBeGreaterThanOrEqual(opt);
    }
  });

  it('large inputs: invariants hold and the level bitset agrees with the naive BFD', () => {
    const rng = new Rng(8);
    const lens = Array.from({ length: 3000 }, () => 1 + rng.int(3000));
    const cap = 4096;
    const bf = bestFitDecreasing(lens, cap);
    checkInvariants(bf, lens, cap);
    sameUpToTies(bf, naive(lens, cap, true), lens);
    const ff = firstFitDecreasing(lens, cap);
    checkInvariants(ff, lens, cap);
    expect([...ff.binOf]).toEqual(naive(lens, cap, false));
  });
});
