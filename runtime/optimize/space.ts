// The search space of an optimize block: one knob per `vary` clause, in source order.
//
//   vary P in [a, b, c]   a list knob: exactly these values (categorical)
//   vary P in 0..16       an integer range (both ends written as integers): every integer, inclusive
//   vary P in 2.0..6.0    a float range: any real in [from, to]; proposals are rounded to 6
//                         significant digits, so the value a trial ran with is exactly the text
//                         `--set P=VALUE` writes and `applyOptimizeResult` applies
import type { Json, OptimizeSpec } from '../entry/spec.js';
import type { Rng } from '../data/rng.js';

export type Knob =
  | { readonly path: string; readonly kind: 'list'; readonly values: readonly Json[] }
  | { readonly path: string; readonly kind: 'int'; readonly from: number; readonly to: number }
  | { readonly path: string; readonly kind: 'float'; readonly from: number; readonly to: number };

/** One point of the space: knob path -> value. */
export type Values = { readonly [path: string]: Json };

/** Points a float range contributes to a grid: evenly spaced, both ends included. */
export const GRID_FLOAT_POINTS = 5;

/** A coded error of the optimizer (bad space, bad constraint, bad result file, ...). */
export class OptimizeError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** Set on errors that no other trial would avoid (the run stops instead of recording a failed trial). */
    readonly fatal = true,
  ) {
    super(message);
    this.name = 'OptimizeError';
  }
}

/** Round a float knob value to 6 significant digits (what is written into the source). */
export const roundFloat = (x: number): number => (x === 0 ? 0 : Number(x.toPrecision(6)));

/** The knobs of a spec's `vary` clauses. Throws LMP_E_OPT_SPACE for an empty list or a non-finite range. */
export function knobsOf(vary: OptimizeSpec['vary']): Knob[] {
  if (vary.length === 0) throw new OptimizeError('LMP_E_OPT_SPACE', 'the optimize block varies nothing (add a `vary PATH in ...` clause)');
  const seen = new Set<string>();
  return vary.map((v) => {
    if (seen.has(v.path)) throw new OptimizeError('LMP_E_OPT_SPACE', `vary ${v.path}: the knob is varied twice`);
    seen.add(v.path);
    if ('list' in v.values) {
      if (v.values.list.length === 0) throw new OptimizeError('LMP_E_OPT_SPACE', `vary ${v.path}: the list of values is empty`);
      return { path: v.path, kind: 'list', values: [...v.values.list] };
    }
    const { from, to, integer } = v.values;
    if (!Number.isFinite(from) || !Number.isFinite(to)) throw new OptimizeError('LMP_E_OPT_SPACE', `vary ${v.path}: the range ${from}..${to} is not finite`);
    const lo = Math.min(from, to);
    const hi = Math.max(from, to);
    return integer ? { path: v.path, kind: 'int', from: Math.ceil(lo), to: Math.floor(hi) } : { path: v.path, kind: 'float', from: lo, to: hi };
  });
}

/** How many values a grid takes for one knob (a list's values, every integer, GRID_FLOAT_POINTS floats). */
export function axisLength(k: Knob): number {
  if (k.kind === 'list') return k.values.length;
  if (k.kind === 'int') return k.to - k.from + 1;
  return k.from === k.to ? 1 : GRID_FLOAT_POINTS;
}

/** The i-th grid value of one knob (0 <= i < axisLength(k)); computed, never materialized. */
export function axisValue(k: Knob, i: number): Json {
  if (k.kind === 'list') return k.values[i]!;
  if (k.kind === 'int') return k.from + i;
  if (k.from === k.to) return k.from;
  return roundFloat(k.from + ((k.to - k.from) * i) / (GRID_FLOAT_POINTS - 1));
}

/** Every grid value of one knob (small knobs; the grid itself uses axisValue). */
export function gridAxis(k: Knob): Json[] {
  return Array.from({ length: axisLength(k) }, (_, i) => axisValue(k, i));
}

/** A uniform draw for one knob: a list value with equal probability, a uniform integer, a uniform float. */
export function sampleUniform(k: Knob, rng: Rng): Json {
  if (k.kind === 'list') return k.values[rng.int(k.values.length)]!;
  if (k.kind === 'int') return k.from + rng.int(k.to - k.from + 1);
  return Math.min(k.to, Math.max(k.from, roundFloat(k.from + rng.float() * (k.to - k.from))));
}

/** A value as `--set` source text: numbers in their shortest form, strings (identifiers) and booleans as written. */
export function formatValue(v: Json): string {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (typeof v === 'string' || typeof v === 'boolean') return String(v);
  if (v === null) return 'null';
  return JSON.stringify(v);
}
