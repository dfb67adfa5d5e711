// Search strategies are ask/tell objects: `ask()` proposes the next point (and the budget fraction
// to run it at), `tell()` reports its score. Scores are "higher is better" (the driver negates a
// `minimize` objective) and null for a trial that was infeasible or failed. Every random choice
// goes through one seeded Rng, so a seed fixes the sequence of proposals for the same scores.
import type { Json } from '../entry/spec.js';
import type { Values } from './space.js';

export interface Proposal {
  readonly values: Values;
  /** Fraction of the full evaluation budget in (0, 1]; 1 except for halving's lower rungs. */
  readonly budget: number;
}

export interface Strategy {
  readonly kind: string;
  /** Proposals the strategy will make at most (progress display); null when unbounded. */
  readonly total: number | null;
  /** The next point, or null when the strategy has nothing left to try. */
  ask(): Proposal | null;
  /** The score of the last proposal asked (higher is better; null = infeasible or failed). */
  tell(p: Proposal, score: number | null): void;
}

/** The search params a strategy reads (`trials`, `seed`, `eta`), with checks. */
export function intParam(params: { readonly [k: string]: Json }, name: string, fallback: number | null, min: number): number {
  const v = params[name];
  if (v === undefined || v === null) {
    if (fallback === null) throw new Error(`search: parameter '${name}' is required`);
    return fallback;
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new Error(`search: parameter '${name}' must be an integer >= ${min}, found ${JSON.stringify(v)}`);
  return v;
}
