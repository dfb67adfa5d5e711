// The saved result of an optimize block (the `save` path, JSON) and its validation when loaded.
import type { Json } from '../entry/spec.js';
import { OptimizeError, type Values } from './space.js';

export type StopReason = 'done' | 'trials' | 'time' | 'cost';

export interface TrialRecord {
  /** 0-based position in the run. */
  readonly index: number;
  readonly values: Values;
  /** Every metric the trial reported, flattened: "EVAL.METRIC" and "EVAL.latency.p50". */
  readonly metrics: { readonly [name: string]: number };
  /** The objective's value (as reported, not negated); null when missing or the trial failed. */
  readonly objective: number | null;
  /** Objective present and finite, every constraint met, no error. */
  readonly feasible: boolean;
  /** The constraints this trial violated, as written ("latency.p50 < 0.05"). */
  readonly violated: readonly string[];
  /** Seconds the trial ran (the runner's own measure). */
  readonly seconds: number;
  /** What the trial counted against `budget.cost` (the real runner: its evals' seconds). */
  readonly cost: number;
  /** Budget fraction the trial ran at (halving only; absent = 1, the full evaluation). */
  readonly budget?: number;
  /** Why the trial failed (it is infeasible then). */
  readonly error?: string;
}

export interface OptimizeResult {
  readonly version: 1;
  /** The .lmp file, as the command was given it. */
  readonly file: string;
  /** The optimize block's name. */
  readonly optimize: string;
  readonly objective: { readonly direction: 'maximize' | 'minimize'; readonly metric: string };
  readonly constraints: readonly { readonly metric: string; readonly op: string; readonly value: number }[];
  readonly search: { readonly kind: string; readonly params: { readonly [k: string]: Json } };
  readonly budget: { readonly trials: number | null; readonly time: number | null; readonly cost: number | null };
  readonly trials: readonly TrialRecord[];
  /** The best feasible trial (at the largest budget any feasible trial ran at); null when none was feasible. */
  readonly best: { readonly trial: number; readonly values: Values; readonly metrics: { readonly [name: string]: number }; readonly objective: number } | null;
  readonly stopped: StopReason;
  /** Wall seconds of the whole search, and the summed trial cost. */
  readonly seconds: number;
  readonly cost: number;
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Parse and check a saved result; LMP_E_OPT_RESULT naming what is wrong. */
export function parseOptimizeResult(text: string, where: string): OptimizeResult {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new OptimizeError('LMP_E_OPT_RESULT', `${where}: not JSON (${(e as Error).message})`);
  }
  const bad = (why: string): never => {
    throw new OptimizeError('LMP_E_OPT_RESULT', `${where}: not an optimize result: ${why}`);
  };
  if (!isObj(j)) return bad('expected a JSON object');
  if (j['version'] !== 1) bad(`unknown version ${JSON.stringify(j['version'])} (expected 1)`);
  if (typeof j['optimize'] !== 'string') bad("'optimize' (the block's name) is missing");
  if (!Array.isArray(j['trials'])) bad("'trials' is missing");
  const stopped = j['stopped'];
  if (stopped !== 'done' && stopped !== 'trials' && stopped !== 'time' && stopped !== 'cost') bad(`'stopped' is ${JSON.stringify(stopped)}`);
  const best = j['best'];
  if (best !== null) {
    if (!isObj(best) || !isObj(best['values'])) return bad("'best' must be null or { values, metrics, ... }");
    for (const [k, v] of Object.entries(best['values'])) if (typeof v !== 'number' && typeof v !== 'string' && typeof v !== 'boolean') bad(`best value of ${k} is ${JSON.stringify(v)}`);
  }
  return j as unknown as OptimizeResult;
}

/** The result as the file's text (2-space JSON, trailing newline). */
export const serializeOptimizeResult = (r: OptimizeResult): string => JSON.stringify(r, null, 2) + '\n';
