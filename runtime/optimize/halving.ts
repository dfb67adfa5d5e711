// halving(trials: n, eta: 3): successive halving (Jamieson & Talwalkar 2016, "Non-stochastic best
// arm identification and hyperparameter optimization"; the inner loop of Hyperband, Li et al.
// 2017). n configurations are drawn uniformly at random; with s = floor(log_eta n) the rungs are
//
//   rung i = 0..s:  n_i = floor(n / eta^i) configurations, each run at budget r_i = eta^(i - s)
//
// so the last rung runs at the full budget (1). After each rung the best floor(n_i / eta)
// configurations (at least 1; feasible ones only, ties to the earlier trial) go on to the next.
// The budget is a fraction of the full evaluation the trial runner receives (for an eval: the
// fraction of its `samples` per cell). A rung whose trials are all infeasible ends the search.
import type { Rng } from '../data/rng.js';
import type { Knob, Values } from './space.js';
import { sampleValues } from './random.js';
import type { Proposal, Strategy } from './strategy.js';

/** The rung plan: configurations and budget fraction per rung. */
export function halvingRungs(n: number, eta: number): { count: number; budget: number }[] {
  let s = 0;
  while (eta ** (s + 1) <= n) s++;
  const out: { count: number; budget: number }[] = [];
  for (let i = 0; i <= s; i++) out.push({ count: Math.max(1, Math.floor(n / eta ** i)), budget: eta ** (i - s) });
  return out;
}

export class SuccessiveHalving implements Strategy {
  readonly kind = 'halving';
  readonly total: number;
  readonly rungs: { count: number; budget: number }[];
  private rung = 0;
  /** Configurations of the current rung, in the order they run, with their scores once told. */
  private current: { values: Values; order: number; score: number | null | undefined }[];
  private pos = 0;

  constructor(knobs: readonly Knob[], n: number, readonly eta: number, rng: Rng) {
    this.rungs = halvingRungs(n, eta);
    this.total = this.rungs.reduce((a, r) => a + r.count, 0);
    this.current = Array.from({ length: n }, (_, i) => ({ values: sampleValues(knobs, rng), order: i, score: undefined }));
  }

  /** The rung the next proposal belongs to (0-based). */
  get rungIndex(): number {
    return this.rung;
  }

  ask(): Proposal | null {
    if (this.pos >= this.current.length) {
      if (!this.promote()) return null;
    }
    const c = this.current[this.pos]!;
    return { values: c.values, budget: this.rungs[this.rung]!.budget };
  }

  tell(p: Proposal, score: number | null): void {
    const c = this.current[this.pos];
    if (!c || c.values !== p.values) throw new Error('halving: tell() must follow the ask() it answers');
    c.score = score !== null && Number.isFinite(score) ? score : null;
    this.pos++;
  }

  /** Move the best 1/eta of this rung to the next; false when the search is over. */
  private promote(): boolean {
    if (this.rung + 1 >= this.rungs.length) return false;
    const keep = this.rungs[this.rung + 1]!.count;
    const ranked = this.current
      .filter((c) => typeof c.score === 'number')
      .sort((a, b) => (b.score as number) - (a.score as number) || a.order - b.order)
      .slice(0, keep);
    if (ranked.length === 0) return false;
    this.rung++;
    // the next rung runs the survivors in their original order
    this.current = ranked.sort((a, b) => a.order - b.order).map((c) => ({ values: c.values, order: c.order, score: undefined }));
    this.pos = 0;
    return true;
  }
}
