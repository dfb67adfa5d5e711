// Cost-balanced assignment of one step's sequences to R data-parallel ranks (FlexSP-style).
// Attention cost grows with length squared, so per-sequence cost = a * len + b * len^2, and we
// minimize the maximum per-rank cost (makespan). Algorithm: LPT (longest processing time first:
// sequences by decreasing cost, each to the currently cheapest rank; Graham's bound
// LPT <= (4/3 - 1/(3R)) * OPT), then local search on the most loaded rank: move one sequence to
// another rank, or swap one pair, whenever that lowers the larger of the two ranks' costs below the
// current maximum; repeat until no such move exists (each move strictly decreases the sorted cost
// vector, so it terminates) or `maxRounds` moves.

export interface CostModel {
  /** Linear coefficient (per token: MLPs, projections). */
  a: number;
  /** Quadratic coefficient (per token pair: attention). */
  b: number;
}

export interface Assignment {
  /** Rank of each sequence. */
  rank: Int32Array;
  rankCost: Float64Array;
  rankTokens: Float64Array;
  /** max rank cost. */
  maxCost: number;
  /** max / mean rank cost (1 = perfect). */
  imbalance: number;
}

export const seqCost = (len: number, m: CostModel, pairs = len * len): number => m.a * len + m.b * pairs;

/** Per-sequence costs: a * len + b * pairs, pairs = len^2 unless given (e.g. the sum of squared
 *  document lengths when a document mask makes attention block-diagonal). */
function costs(lengths: ArrayLike<number>, m: CostModel, pairs?: ArrayLike<number>): Float64Array {
  const c = new Float64Array(lengths.length);
  for (let i = 0; i < c.length; i++) c[i] = seqCost(lengths[i]!, m, pairs ? pairs[i]! : lengths[i]! * lengths[i]!);
  return c;
}

function evaluate(rank: Int32Array, lengths: ArrayLike<number>, R: number, c: Float64Array): Assignment {
  const rankCost = new Float64Array(R);
  const rankTokens = new Float64Array(R);
  for (let i = 0; i < rank.length; i++) {
    rankCost[rank[i]!]! += c[i]!;
    rankTokens[rank[i]!]! += lengths[i]!;
  }
  let max = 0;
  let sum = 0;
  for (let r = 0; r < R; r++) {
    max = Math.max(max, rankCost[r]!);
    sum += rankCost[r]!;
  }
  return { rank, rankCost, rankTokens, maxCost: max, imbalance: sum === 0 ? 1 : max / (sum / R) };
}

/** LPT on arbitrary weights: returns the rank of each item. */
function lpt(weights: Float64Array, R: number): Int32Array {
  const n = weights.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((x, y) => weights[y]! - weights[x]! || x - y);
  const load = new Float64Array(R);
  const rank = new Int32Array(n);
  for (const i of idx) {
    let best = 0;
    for (let r = 1; r < R; r++) if (load[r]! < load[best]!) best = r;
    rank[i] = best;
    load[best]! += weights[i]!;
  }
  return rank;
}

/** Minimize the maximum per-rank cost of sequences with the given lengths over R ranks
 *  (`pairs`: attention pairs per sequence, len^2 by default). */
export function balanceByCost(lengths: ArrayLike<number>, R: number, m: CostModel, maxRounds = 10_000, pairs?: ArrayLike<number>): Assignment {
  const n = lengths.length;
  const c = costs(lengths, m, pairs);
  const rank = lpt(c, R);
  const load = new Float64Array(R);
  for (let i = 0; i < n; i++) load[rank[i]!]! += c[i]!;
  for (let round = 0; round < maxRounds; round++) {
    let M = 0;
    for (let r = 1; r < R; r++) if (load[r]! > load[M]!) M = r;
    const top = load[M]!;
    let done = false;
    for (let i = 0; i < n && !done; i++) {
      if (rank[i] !== M) continue;
      for (let r = 0; r < R && !done; r++) {
        if (r === M) continue;
        if (load[r]! + c[i]! < top && c[i]! > 0) {
          rank[i] = r;
          load[M]! -= c[i]!;
          load[r]! += c[i]!;
          done = true;
          break;
        }
        for (let j = 0; j < n; j++) {
          if (rank[j] !== r || c[j]! >= c[i]!) continue;
          const d = c[i]! - c[j]!;
          if (load[r]! + d < top) {
            rank[i] = r;
            rank[j] = M;
            load[M]! -= d;
            load[r]! += d;
            done = true;
            break;
          }
        }
      }
    }
    if (!done) break;
  }
  return evaluate(rank, lengths, R, c);
}

/** The naive baseline: balance token counts (LPT on lengths), evaluated under the same cost model. */
export function balanceByTokens(lengths: ArrayLike<number>, R: number, m: CostModel, pairs?: ArrayLike<number>): Assignment {
  return evaluate(lpt(Float64Array.from(lengths as ArrayLike<number>), R), lengths, R, costs(lengths, m, pairs));
}
