// `ranks R` in a train block: data parallelism over R ranks, with each optimizer step's sequences
// assigned to ranks by cost (runtime/data/balance.ts) instead of by token count.
//
// The runtime trains in one process on the step's whole (global) batch with the loss averaged
// over all its tokens, which is what R ranks compute with a token-weighted all-reduce of the
// gradients. What `ranks` changes is measured here: per step, the cost-balanced assignment of
// the step's sequences to R ranks against the token-count assignment (both LPT, the cost one
// followed by local search), under the model's cost model; the step time of R ranks is the
// slowest rank's cost, so `stepTimeRatio` (sum over steps of the token-balanced maximum over the
// cost-balanced maximum) is the speed-up of cost balancing on R ranks.
//
// Cost of a sequence = a * tokens + b * pairs (training FLOPs, forward + backward = 3x forward):
//   a = 6 * (dense parameters per token: q, k, v, o projections, SwiGLU, the output head)
//   b = 6 * dim * layers: QK^T and PV are 2 * dim FLOPs each per (query, key) pair and layer,
//       causal halves the pairs: 3 * (4 * dim * layers) / 2
//   pairs = the sum of squared document pieces when the attention masks by document (the
//       default mask causal & same_document, or any mask that ANDs same_document at its root,
//       in every head group), else the squared sequence length; padding counts as its own piece.
import type { ModelConfig } from '../model/config.js';
import type { MaskIR, AttentionMaskIR } from '../mask/ir.js';
import { balanceByCost, balanceByTokens, type CostModel } from '../data/balance.js';
import type { SequencePlan } from '../data/pack.js';

export interface RankBalanceSide {
  /** Mean over steps of max / mean rank cost (1 = perfect). */
  readonly meanImbalance: number;
  /** Worst step's max / mean rank cost. */
  readonly maxImbalance: number;
  /** Sum over steps of the slowest rank's cost (FLOPs): the step time of R ranks. */
  readonly totalMaxCost: number;
}

export interface RankBalanceReport {
  readonly ranks: number;
  readonly steps: number;
  readonly costModel: CostModel;
  readonly documentMask: boolean;
  readonly byCost: RankBalanceSide;
  readonly byTokens: RankBalanceSide;
  /** byTokens.totalMaxCost / byCost.totalMaxCost: how much faster R ranks step with cost balancing. */
  readonly stepTimeRatio: number;
}

/** The cost model of a Llama-style model (see the header). */
export function trainCostModel(c: ModelConfig): CostModel {
  const hd = c.dim / c.heads;
  const perLayer = c.dim * c.dim * 2 + 2 * c.dim * c.kvHeads * hd + 3 * c.dim * c.ffn;
  const dense = c.layers * perLayer + c.dim * c.vocab;
  return { a: 6 * dense, b: 6 * c.dim * c.layers };
}

const andsDocument = (m: MaskIR | undefined): boolean =>
  m !== undefined && (m.op === 'same_document' || (m.op === 'and' && m.args.some((x) => andsDocument(x))));

/** Whether attention under these masks never crosses documents (null: the default causal & same_document). */
export function masksByDocument(mask: AttentionMaskIR | null | undefined): boolean {
  if (!mask) return true;
  if (mask.groups.length > 0) return mask.groups.every((g) => andsDocument(g.mask));
  return andsDocument(mask.default);
}

export class RankBalancer {
  private steps = 0;
  private readonly cost = { sum: 0, max: 0, total: 0 };
  private readonly tokens = { sum: 0, max: 0, total: 0 };

  constructor(readonly ranks: number, readonly costModel: CostModel, readonly documentMask: boolean) {
    if (!(Number.isInteger(ranks) && ranks >= 1)) throw new RangeError(`ranks must be a positive integer (got ${ranks})`);
  }

  /** Assign one step's sequences (plan indices) to the ranks both ways; returns the cost-balanced rank of each. */
  step(plan: SequencePlan, seqs: ArrayLike<number>): Int32Array {
    const n = seqs.length;
    const lengths = new Float64Array(n);
    const pairs = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const s = seqs[i]!;
      const L = plan.seqLength[s]!;
      lengths[i] = L;
      if (!this.documentMask) {
        pairs[i] = L * L;
        continue;
      }
      let p = 0;
      let real = 0;
      for (let g = plan.seqFirstSeg[s]!; g < plan.seqFirstSeg[s + 1]!; g++) {
        const l = plan.segLen[g]!;
        p += l * l;
        real += l;
      }
      pairs[i] = p + (L - real) * (L - real);
    }
    const byCost = balanceByCost(lengths, this.ranks, this.costModel, 10_000, pairs);
    const byTokens = balanceByTokens(lengths, this.ranks, this.costModel, pairs);
    this.steps++;
    for (const [acc, a] of [[this.cost, byCost], [this.tokens, byTokens]] as const) {
      acc.sum += a.imbalance;
      acc.max = Math.max(acc.max, a.imbalance);
      acc.total += a.maxCost;
    }
    return byCost.rank;
  }

  report(): RankBalanceReport {
    const side = (a: { sum: number; max: number; total: number }): RankBalanceSide => ({
      meanImbalance: this.steps ? a.sum / this.steps : 1,
      maxImbalance: this.steps ? a.max : 1,
      totalMaxCost: a.total,
    });
    return {
      ranks: this.ranks,
      steps: this.steps,
      costModel: this.costModel,
      documentMask: this.documentMask,
      byCost: side(this.cost),
      byTokens: side(this.tokens),
      stepTimeRatio: this.cost.total > 0 ? this.tokens.total / this.cost.total : 1,
    };
  }
}

/** "ranks 4: cost-balanced max/mean 1.003 (worst 1.02) vs token-balanced 1.210 (worst 1.45): steps 1.21x faster" */
export function formatRankBalance(r: RankBalanceReport): string {
  return (
    `ranks ${r.ranks} over ${r.steps} steps (${r.documentMask ? 'document-masked' : 'full-sequence'} attention cost): ` +
    `cost-balanced max/mean ${r.byCost.meanImbalance.toFixed(3)} (worst ${r.byCost.maxImbalance.toFixed(3)}) vs ` +
    `token-balanced ${r.byTokens.meanImbalance.toFixed(3)} (worst ${r.byTokens.maxImbalance.toFixed(3)}): ` +
    `steps ${r.stepTimeRatio.toFixed(3)}x faster`
  );
}
