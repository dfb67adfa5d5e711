// tpe(trials: N): the tree-structured Parzen estimator (Bergstra, Bardenet, Bengio & Kégl 2011,
// "Algorithms for hyper-parameter optimization"), univariate as in hyperopt and Optuna's
// TPESampler (whose defaults are used: n_startup_trials 10, n_ei_candidates 24, gamma
// min(ceil(0.1 n), 25), prior_weight 1, the "magic clip").
//
// - The first `startup` proposals (10, at most N) are uniform random (random.ts).
// - Then the observed trials are split: the best gamma(n) = min(ceil(0.1 n), 25) feasible ones
//   (ties to the earlier trial) are "good", every other trial (infeasible and failed ones too)
//   is "bad". For each knob independently two densities are fitted, l(x) on the good values and
//   g(x) on the bad ones, 24 candidates are drawn from l, and the candidate with the largest
//   log l(x) - log g(x) (the expected-improvement maximizer, paper eq. 4) is proposed.
// - Range knob: a Parzen estimator, a mixture of Gaussians truncated to [lo, hi]: one component
//   per observation (mu = the value) and one prior component (mu = (lo + hi) / 2, sigma = hi - lo,
//   weight prior_weight = 1). Observation weights: Optuna's default_weights (1 each for fewer than
//   25, else a linear ramp from 1/n up for the older ones and 1 for the latest 25). Each
//   observation's sigma is the larger distance to its neighbours in sorted order (prior
//   included), clipped to [(hi - lo) / min(100, 1 + m), hi - lo] where m counts the components.
//   Integer ranges are estimated over [lo - 0.5, hi + 0.5] and candidates rounded.
// - List knob (categorical): smoothed counts, p(c) = (w_c + prior_weight / K) / (sum w + prior_weight)
//   where w_c sums the weights of the observations equal to choice c and K is the number of choices.
import type { Rng } from '../data/rng.js';
import type { Json } from '../entry/spec.js';
import { roundFloat, type Knob, type Values } from './space.js';
import { sampleValues } from './random.js';
import type { Proposal, Strategy } from './strategy.js';

export interface TpeOptions {
  /** Random proposals before the model is used (Optuna: 10). */
  readonly startup?: number;
  /** Candidates drawn from l(x) per knob (Optuna/hyperopt: 24). */
  readonly candidates?: number;
  readonly priorWeight?: number;
}

/** Optuna's default_gamma: how many of n observations are "good". */
export const tpeGamma = (n: number): number => Math.min(Math.ceil(0.1 * n), 25);

/** Optuna's default_weights: observation weights, oldest first. */
export function tpeWeights(n: number): number[] {
  if (n < 25) return new Array<number>(n).fill(1);
  const ramp = n - 25;
  const out: number[] = [];
  for (let i = 0; i < ramp; i++) out.push(ramp === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (ramp - 1));
  for (let i = 0; i < 25; i++) out.push(1);
  return out;
}

const SQRT2 = Math.SQRT2;
/** erfc: Numerical Recipes' Chebyshev fit (erfcc), relative error < 1.2e-7 everywhere. */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}
const normCdf = (x: number): number => 0.5 * erfc(-x / SQRT2);

/** A mixture of Gaussians truncated to [lo, hi]. */
export class ParzenEstimator {
  readonly mus: number[];
  readonly sigmas: number[];
  readonly weights: number[];
  private readonly mass: number[];

  constructor(obs: readonly number[], readonly lo: number, readonly hi: number, priorWeight = 1) {
    const width = hi - lo;
    const w = tpeWeights(obs.length);
    const comps = obs.map((mu, i) => ({ mu, w: w[i]!, prior: false }));
    comps.push({ mu: lo + width / 2, w: priorWeight, prior: true });
    // sorted order for the neighbour bandwidths (stable: ties keep insertion order)
    const order = comps.map((_, i) => i).sort((a, b) => comps[a]!.mu - comps[b]!.mu || a - b);
    const sorted = order.map((i) => comps[i]!);
    const m = sorted.length;
    const minSigma = width / Math.min(100, 1 + m);
    const sig = sorted.map((c, j) => {
      if (c.prior) return width;
      const left = j > 0 ? c.mu - sorted[j - 1]!.mu : 0;
      const right = j < m - 1 ? sorted[j + 1]!.mu - c.mu : 0;
      return Math.min(width, Math.max(minSigma, left, right));
    });
    const total = sorted.reduce((a, c) => a + c.w, 0);
    this.mus = sorted.map((c) => c.mu);
    this.sigmas = sig;
    this.weights = sorted.map((c) => c.w / total);
    this.mass = this.mus.map((mu, j) => Math.max(1e-12, normCdf((hi - mu) / sig[j]!) - normCdf((lo - mu) / sig[j]!)));
  }

  /** Draw from the truncated mixture (rejection per component; clipped after 100 rejections). */
  sample(rng: Rng): number {
    let u = rng.float();
    let j = 0;
    while (j < this.weights.length - 1 && u >= this.weights[j]!) u -= this.weights[j++]!;
    const mu = this.mus[j]!;
    const s = this.sigmas[j]!;
    for (let tries = 0; tries < 100; tries++) {
      const x = mu + s * gaussian(rng);
      if (x >= this.lo && x <= this.hi) return x;
    }
    return Math.min(this.hi, Math.max(this.lo, mu));
  }

  logPdf(x: number): number {
    let p = 0;
    for (let j = 0; j < this.mus.length; j++) {
      const z = (x - this.mus[j]!) / this.sigmas[j]!;
      p += (this.weights[j]! * Math.exp(-0.5 * z * z)) / (this.sigmas[j]! * Math.sqrt(2 * Math.PI) * this.mass[j]!);
    }
    return Math.log(Math.max(p, 1e-300));
  }
}

/** Standard normal draw (Box-Muller, one of the pair). */
function gaussian(rng: Rng): number {
  const u1 = Math.max(rng.float(), 1e-300);
  const u2 = rng.float();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** Smoothed categorical probabilities over `choices` from observed values (oldest first). */
export function categoricalProbs(obs: readonly Json[], choices: readonly Json[], priorWeight = 1): number[] {
  const w = tpeWeights(obs.length);
  const counts = choices.map(() => priorWeight / choices.length);
  obs.forEach((v, i) => {
    const c = choices.findIndex((x) => x === v);
    if (c >= 0) counts[c]! += w[i]!;
  });
  const total = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => c / total);
}

export class TpeSearch implements Strategy {
  readonly kind = 'tpe';
  private readonly startup: number;
  private readonly candidates: number;
  private readonly priorWeight: number;
  private readonly history: { values: Values; score: number | null; order: number }[] = [];
  private asked = 0;

  constructor(
    private readonly knobs: readonly Knob[],
    readonly total: number,
    private readonly rng: Rng,
    options: TpeOptions = {},
  ) {
    this.startup = Math.min(options.startup ?? 10, total);
    this.candidates = options.candidates ?? 24;
    this.priorWeight = options.priorWeight ?? 1;
  }

  ask(): Proposal | null {
    if (this.asked >= this.total) return null;
    this.asked++;
    const feasible = this.history.filter((h) => h.score !== null);
    if (this.history.length < this.startup || feasible.length === 0) return { values: sampleValues(this.knobs, this.rng), budget: 1 };
    const nGood = Math.max(1, tpeGamma(feasible.length));
    const ranked = [...feasible].sort((a, b) => (b.score as number) - (a.score as number) || a.order - b.order);
    const goodSet = new Set(ranked.slice(0, nGood));
    // both sets keep trial order (oldest first) for the weights
    const good = this.history.filter((h) => goodSet.has(h));
    const bad = this.history.filter((h) => !goodSet.has(h));
    const values: Record<string, Json> = {};
    for (const k of this.knobs) values[k.path] = this.suggest(k, good.map((h) => h.values[k.path]!), bad.map((h) => h.values[k.path]!));
    return { values, budget: 1 };
  }

  tell(p: Proposal, score: number | null): void {
    this.history.push({ values: p.values, score: score !== null && Number.isFinite(score) ? score : null, order: this.history.length });
  }

  private suggest(k: Knob, good: readonly Json[], bad: readonly Json[]): Json {
    if (k.kind === 'list') {
      const pl = categoricalProbs(good, k.values, this.priorWeight);
      const pg = categoricalProbs(bad, k.values, this.priorWeight);
      let best = -1;
      let bestScore = -Infinity;
      for (let i = 0; i < this.candidates; i++) {
        let u = this.rng.float();
        let c = 0;
        while (c < pl.length - 1 && u >= pl[c]!) u -= pl[c++]!;
        const s = Math.log(pl[c]!) - Math.log(pg[c]!);
        if (s > bestScore) (bestScore = s), (best = c);
      }
      return k.values[best]!;
    }
    const lo = k.kind === 'int' ? k.from - 0.5 : k.from;
    const hi = k.kind === 'int' ? k.to + 0.5 : k.to;
    if (hi <= lo) return k.from;
    const l = new ParzenEstimator(good.map(Number), lo, hi, this.priorWeight);
    const g = new ParzenEstimator(bad.map(Number), lo, hi, this.priorWeight);
    let best = lo;
    let bestScore = -Infinity;
    for (let i = 0; i < this.candidates; i++) {
      const x = l.sample(this.rng);
      const s = l.logPdf(x) - g.logPdf(x);
      if (s > bestScore) (bestScore = s), (best = x);
    }
    if (k.kind === 'int') return Math.min(k.to, Math.max(k.from, Math.round(best)));
    return Math.min(k.to, Math.max(k.from, roundFloat(best)));
  }
}
