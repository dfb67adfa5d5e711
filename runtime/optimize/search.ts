// The optimizer core: runs a search strategy against an injected trial runner within the budget.
//
//   runSearch(spec, runTrial, options) -> OptimizeResult
//
// `runTrial(values, { index, budget })` runs one configuration and returns its metrics (flattened
// names: "EVAL.METRIC", "EVAL.latency.p50"), the seconds it took and optionally its cost. A
// metric name without an eval ("latency.p50") is looked up under the objective's eval.
//
// Budgets (any one exhausted stops the search cleanly; checked before each trial starts, so a
// trial in progress is never cut and the time budget can be overrun by at most one trial):
//   trials  trials run (halving: every rung's evaluation counts)
//   time    wall seconds since the search started (options.clock, injectable)
//   cost    summed trial cost: what runTrial reports as `cost`, else its `seconds` (the real runner
//           reports the seconds its evals ran: compute-seconds, without compile time)
// The stop reason is 'done' when the strategy had nothing left to propose before any budget ran out.
//
// Constraints `metric op value` (op < <= > >= == !=): a trial that violates one, lacks the
// metric, or lacks the objective is infeasible and never best. Best: the feasible trial with the
// best objective (direction maximize/minimize) among those at the largest budget a feasible trial
// ran at; ties go to the earlier trial.
//
// A trial that throws: if the error is fatal (OptimizeError with fatal set, or any error on the
// very first trial, when nothing has worked yet) the search stops and the error propagates;
// otherwise the trial is recorded as failed (infeasible, with its error) and the search goes on.
import { Rng } from '../data/rng.js';
import type { Frozen, OptimizeSpec } from '../entry/spec.js';
import { GridSearch } from './grid.js';
import { SuccessiveHalving } from './halving.js';
import { RandomSearch } from './random.js';
import type { OptimizeResult, StopReason, TrialRecord } from './result.js';
import { knobsOf, OptimizeError, type Values } from './space.js';
import { intParam, type Strategy } from './strategy.js';
import { TpeSearch, type TpeOptions } from './tpe.js';

export interface TrialOutcome {
  readonly metrics: { readonly [name: string]: number };
  readonly seconds: number;
  /** Counted against budget.cost; default: seconds. */
  readonly cost?: number;
}

export type RunTrial = (values: Values, ctx: { readonly index: number; readonly budget: number }) => Promise<TrialOutcome>;

export interface SearchOptions {
  /** The .lmp file (recorded in the result). */
  readonly file?: string;
  /** Seconds, monotonic; default performance.now() / 1000. Tests inject a fake clock. */
  readonly clock?: () => number;
  /** Called after every trial with the record and the best so far. */
  readonly onTrial?: (t: TrialRecord, best: OptimizeResult['best'], total: number | null) => void;
  /** Replace the spec's strategy (tests). */
  readonly strategy?: Strategy;
  readonly tpe?: TpeOptions;
}

const OPS: Readonly<Record<string, (a: number, b: number) => boolean>> = {
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
  '==': (a, b) => a === b,
  '!=': (a, b) => a !== b,
};

/** The strategy a spec's `search` names, seeded by its `seed` parameter and the block's seed clause. */
export function strategyOf(spec: Frozen<OptimizeSpec>, tpe?: TpeOptions): Strategy {
  const knobs = knobsOf(spec.vary);
  const p = spec.search.params;
  try {
    const rng = new Rng(intParam(p, 'seed', 0, 0), spec.seed);
    switch (spec.search.kind) {
      case 'grid':
        return new GridSearch(knobs);
      case 'random':
        return new RandomSearch(knobs, intParam(p, 'trials', null, 1), rng);
      case 'tpe':
        return new TpeSearch(knobs, intParam(p, 'trials', null, 1), rng, tpe);
      case 'halving':
        return new SuccessiveHalving(knobs, intParam(p, 'trials', null, 1), intParam(p, 'eta', 3, 2), rng);
      default:
        throw new Error(`unknown search strategy '${spec.search.kind}' (known: grid, random, tpe, halving)`);
    }
  } catch (e) {
    if (e instanceof OptimizeError) throw e;
    throw new OptimizeError('LMP_E_OPT_SEARCH', (e as Error).message);
  }
}

/** Look a metric up in a trial's metrics: as written, else under the objective's eval. */
export function metricValue(metrics: { readonly [name: string]: number }, name: string, objectiveMetric: string): number | undefined {
  if (name in metrics) return metrics[name];
  const dot = objectiveMetric.indexOf('.');
  const evalName = dot > 0 ? objectiveMetric.slice(0, dot) : '';
  const k = `${evalName}.${name}`;
  return evalName && k in metrics ? metrics[k] : undefined;
}

export async function runSearch(spec: Frozen<OptimizeSpec>, runTrial: RunTrial, options: SearchOptions = {}): Promise<OptimizeResult> {
  const objective = spec.objective;
  if (!objective) throw new OptimizeError('LMP_E_OPT_OBJECTIVE', `optimize ${spec.name ?? ''}: no objective (write 'maximize EVAL.METRIC' or 'minimize EVAL.METRIC')`);
  for (const c of spec.constraints) if (!OPS[c.op]) throw new OptimizeError('LMP_E_OPT_CONSTRAINT', `subject to ${c.metric} ${c.op} ${c.value}: unknown comparison '${c.op}' (use < <= > >= == !=)`);
  const strategy = options.strategy ?? strategyOf(spec, options.tpe);
  const clock = options.clock ?? (() => performance.now() / 1000);
  const sign = objective.direction === 'maximize' ? 1 : -1;
  const t0 = clock();
  const trials: TrialRecord[] = [];
  let best: OptimizeResult['best'] = null;
  let bestBudget = -Infinity;
  let cost = 0;
  let stopped: StopReason = 'done';

  for (;;) {
    const p = strategy.ask();
    if (!p) break;
    if (spec.budget.trials !== null && trials.length >= spec.budget.trials) {
      stopped = 'trials';
      break;
    }
    if (spec.budget.time !== null && clock() - t0 >= spec.budget.time) {
      stopped = 'time';
      break;
    }
    if (spec.budget.cost !== null && cost >= spec.budget.cost) {
      stopped = 'cost';
      break;
    }
    const index = trials.length;
    const start = clock();
    let rec: TrialRecord;
    try {
      const out = await runTrial(p.values, { index, budget: p.budget });
      const metrics = { ...out.metrics };
      const ov = metricValue(metrics, objective.metric, objective.metric);
      const obj = ov !== undefined && Number.isFinite(ov) ? ov : null;
      const violated: string[] = [];
      for (const c of spec.constraints) {
        const v = metricValue(metrics, c.metric, objective.metric);
        if (v === undefined || !Number.isFinite(v) || !OPS[c.op]!(v, c.value)) violated.push(`${c.metric} ${c.op} ${c.value}`);
      }
      const missing = obj === null ? `the objective ${objective.metric} was not reported (reported: ${Object.keys(metrics).join(', ') || 'nothing'})` : undefined;
      if (missing && index === 0) throw new OptimizeError('LMP_E_OPT_METRIC', missing);
      rec = {
        index,
        values: p.values,
        metrics,
        objective: obj,
        feasible: obj !== null && violated.length === 0,
        violated,
        seconds: out.seconds,
        cost: out.cost ?? out.seconds,
        ...(strategy.kind === 'halving' ? { budget: p.budget } : {}),
        ...(missing ? { error: missing } : {}),
      };
    } catch (e) {
      const x = typeof e === 'object' && e !== null ? (e as { code?: unknown; message?: unknown; fatal?: unknown }) : {};
      if (index === 0 || (e instanceof OptimizeError && e.fatal) || x.fatal === true) throw e;
      const seconds = clock() - start;
      rec = {
        index,
        values: p.values,
        metrics: {},
        objective: null,
        feasible: false,
        violated: [],
        seconds,
        cost: seconds,
        ...(strategy.kind === 'halving' ? { budget: p.budget } : {}),
        error: `${typeof x.code === 'string' ? x.code : 'LMP_E_RUNTIME'}: ${typeof x.message === 'string' ? x.message : String(e)}`,
      };
    }
    trials.push(rec);
    cost += rec.cost;
    strategy.tell(p, rec.feasible ? sign * rec.objective! : null);
    if (rec.feasible) {
      const b = p.budget;
      if (b > bestBudget || (b === bestBudget && sign * rec.objective! > sign * best!.objective)) {
        best = { trial: rec.index, values: rec.values, metrics: rec.metrics, objective: rec.objective! };
        bestBudget = b;
      }
    }
    options.onTrial?.(rec, best, strategy.total);
  }

  return {
    version: 1,
    file: options.file ?? '',
    optimize: spec.name ?? '',
    objective: { direction: objective.direction, metric: objective.metric },
    constraints: spec.constraints.map((c) => ({ metric: c.metric, op: c.op, value: c.value })),
    search: { kind: spec.search.kind, params: { ...spec.search.params } },
    budget: { trials: spec.budget.trials, time: spec.budget.time, cost: spec.budget.cost },
    trials,
    best,
    stopped,
    seconds: clock() - t0,
    cost,
  };
}
