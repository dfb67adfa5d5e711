// Running an optimize block, saving its result, and applying a saved result.
//
//   runOptimizeBlock(source, file, spec, options)   tune the block's knobs (runtime/optimize's
//                                                   search loop) with the real trial runner below
//   loadOptimizeResult(path)                        read + validate a saved result (JSON)
//   applyOptimizeResult(source, file, result)       the best values as `--set` assignments on the
//                                                   source, re-checked; returns the patched source
//
// One trial (the real runner, `evalTrialRunner`): the trial's values become `PATH=VALUE`
// assignments (formatValue), `applySets` patches the source and re-checks it (a value the checker
// rejects is LMP_E_OPT_VALUE), the patched source is lowered, and the evals the objective and
// the constraints name are run with runtime/entry's runEval (the declarations of the patched
// source as `specs`). `EVAL.METRIC` names an eval and one of its metrics; a constraint metric
// without an eval (`latency.p50`) is the objective's eval's. A metric the eval block does not
// list (latency, for a constraint) is added to that eval's metrics for the run. The trial's
// metrics are flattened as "EVAL.METRIC" and "EVAL.latency.p50"; its seconds and cost are the
// summed seconds of its evals. Halving's budget fraction scales the task's `samples` (per cell:
// passkey, needle, tsort, threading) to max(1, round(samples * budget)); a task without `samples`
// runs in full at every rung.
//
// Errors are OptimizeError (runtime/optimize) with a code, never a bare stack trace:
//   LMP_E_OPT_OBJECTIVE   no objective, or the objective names no eval of the file
//   LMP_E_OPT_SOURCE      the source given has check errors
//   LMP_E_OPT_VARY        a vary path --set cannot patch (e.g. a clause the declaration inherits)
//   LMP_E_OPT_VALUE       a trial value the checker rejects (the whole search stops)
//   LMP_E_OPT_SAVE        the save path cannot be written (checked before the first trial; a
//                         failed final write leaves any earlier file intact and carries `result`)
//   LMP_E_OPT_RESULT      a result file that is missing, not JSON or not an optimize result
//   LMP_E_OPT_NO_BEST     applying a result without a feasible trial
//   LMP_E_OPT_APPLY       a saved value the current source no longer accepts
//   LMP_E_NO_RUNTIME, LMP_E_EVAL_*   from runEval: stop the search (no other trial would pass)
// and from runtime/optimize: LMP_E_OPT_SPACE (empty list, knob varied twice), LMP_E_OPT_SEARCH
// (unknown strategy, bad trials/eta), LMP_E_OPT_CONSTRAINT (unknown comparison), LMP_E_OPT_METRIC
// (the first trial does not report the objective).
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { ensureDir } from '../../runtime/fsutil.js';
import { dirname, resolve } from 'node:path';
import { check } from '../index.js';
import { lower } from '../lower/index.js';
import { writeFileAtomic } from '../io/write.js';
import { applySets, SetError } from './set.js';
import {
  axisValue,
  formatValue,
  knobsOf,
  OptimizeError,
  parseOptimizeResult,
  runSearch,
  serializeOptimizeResult,
  type OptimizeResult,
  type RunTrial,
  type TrialRecord,
  type Values,
} from '../../runtime/optimize/index.js';
import type { AnySpec, EvalSpec, Frozen, Json, OptimizeSpec } from '../../runtime/entry/spec.js';
import type { RunOptions } from '../../runtime/entry/index.js';

export { OptimizeError, type OptimizeResult } from '../../runtime/optimize/index.js';

/**
 * What the real runner needs of an eval's result (runtime/entry's EvalRunResult: `metrics` maps a
 * metric to a number, or latency to { p50, p90, p99, mean } in seconds; `seconds` it ran).
 */
export interface EvalOutcome {
  readonly metrics: object;
  readonly seconds: number;
}

/** The RunOptions the runner passes runEval: the patched source's declarations as `specs`. */
export interface EvalRunOptions {
  readonly baseDir: string;
  readonly specs: ReadonlyMap<string, Frozen<AnySpec>>;
  readonly session?: RunOptions['session'];
}

/** runtime/entry's runEval, or a stand-in (tests). */
export type RunEvalFn = (spec: Frozen<EvalSpec>, options: EvalRunOptions) => Promise<EvalOutcome>;

export interface OptimizeBlockOptions {
  /** Folder the `save` path and the specs' relative paths resolve against; default: the file's folder. */
  readonly baseDir?: string;
  /** Passed to runEval (models trained earlier in the same run). */
  readonly session?: RunOptions['session'];
  /** One line per trial (and notes); lmpc run prints them to stderr. */
  readonly onProgress?: (message: string) => void;
  /** Seconds, monotonic (tests inject a fake clock). */
  readonly clock?: () => number;
  /** The eval runner; default runtime/entry's runEval (loaded on first use). */
  readonly runEval?: RunEvalFn;
  /** Replace the whole trial runner (tests: fake objectives). */
  readonly runTrial?: RunTrial;
  /** Write the result to the block's `save` path (default true). */
  readonly save?: boolean;
}

export interface OptimizeRunResult {
  readonly kind: 'optimize';
  readonly target: string;
  readonly result: OptimizeResult;
  /** Absolute path the result was written to, or null (no `save` clause, or save: false). */
  readonly saved: string | null;
}

/** The lowering's placeholder from before runtime/optimize existed. */
const STALE = /^optimize: runtime\/optimize is missing/;
/** runEval errors no other knob value would avoid: the search stops on them. */
const FATAL_EVAL = new Set(['LMP_E_NO_RUNTIME', 'LMP_E_NO_ADDON', 'LMP_E_EVAL_USING', 'LMP_E_EVAL_PARAMS']);

const fmtNum = (x: number | null | undefined): string => (x === null || x === undefined ? '-' : Number.isInteger(x) ? String(x) : x.toPrecision(4));
const valuesText = (v: Values): string =>
  Object.entries(v)
    .map(([k, x]) => `${k}=${formatValue(x)}`)
    .join(' ');

/** The `PATH=VALUE` assignments of a result's best values (what --apply sets). */
export function optimizeAssignments(result: OptimizeResult): string[] {
  if (!result.best) return [];
  return Object.entries(result.best.values).map(([p, v]) => `${p}=${formatValue(v)}`);
}

/** `EVAL.METRIC` -> eval and metric (metric may keep a field: `latency.p50`). */
function splitMetric(m: string): { evalName: string; metric: string } | null {
  const dot = m.indexOf('.');
  return dot > 0 && dot < m.length - 1 ? { evalName: m.slice(0, dot), metric: m.slice(dot + 1) } : null;
}

/** The evals a block needs and the metrics (base names) each must report. */
export function evalsOf(spec: Frozen<OptimizeSpec>, specs: ReadonlyMap<string, Frozen<AnySpec>>): Map<string, Set<string>> {
  const name = spec.name ?? 'optimize';
  if (!spec.objective) throw new OptimizeError('LMP_E_OPT_OBJECTIVE', `optimize ${name}: no objective (write 'maximize EVAL.METRIC' or 'minimize EVAL.METRIC')`);
  const evalNames = [...specs.values()].filter((s) => s.kind === 'eval').map((s) => s.name);
  const obj = splitMetric(spec.objective.metric);
  const target = obj ? specs.get(obj.evalName) : undefined;
  if (!obj || !target || target.kind !== 'eval')
    throw new OptimizeError(
      'LMP_E_OPT_OBJECTIVE',
      `optimize ${name}: the objective ${spec.objective.metric} names no eval of the file (write EVAL.METRIC; evals: ${evalNames.join(', ') || 'none'})`,
    );
  const out = new Map<string, Set<string>>([[obj.evalName, new Set([obj.metric.split('.')[0]!])]]);
  for (const c of spec.constraints) {
    const s = splitMetric(c.metric);
    const named = s && specs.get(s.evalName)?.kind === 'eval';
    const evalName = named ? s!.evalName : obj.evalName;
    const metric = (named ? s!.metric : c.metric).split('.')[0]!;
    if (!out.has(evalName)) out.set(evalName, new Set());
    out.get(evalName)!.add(metric);
  }
  return out;
}

/** The eval spec for one trial: the needed metrics listed, the samples scaled by the budget. */
export function trialEvalSpec(e: Frozen<EvalSpec>, needed: ReadonlySet<string>, budget: number): Frozen<EvalSpec> {
  const listed = e.metrics.map((m) => m.split('.')[0]!);
  // an empty list means "everything the task reports": leave it so
  const metrics = e.metrics.length === 0 ? [] : [...e.metrics, ...[...needed].filter((m) => !listed.includes(m))];
  const samples = e.task.params['samples'];
  const params: { [k: string]: Json } = { ...e.task.params };
  if (budget < 1 && typeof samples === 'number') params['samples'] = Math.max(1, Math.round(samples * budget));
  return { ...e, metrics, task: { ...e.task, params } };
}

/** An eval result's metrics, flattened under the eval's name ("E.accuracy", "E.latency.p50"). */
export function flattenMetrics(evalName: string, m: EvalOutcome['metrics']): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
    if (typeof v === 'number') out[`${evalName}.${k}`] = v;
    else if (v && typeof v === 'object') for (const [f, x] of Object.entries(v as Record<string, unknown>)) if (typeof x === 'number') out[`${evalName}.${k}.${f}`] = x;
  }
  return out;
}

function specsOf(text: string, file: string): Map<string, Frozen<AnySpec>> {
  const c = check(text, file);
  const errors = c.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new OptimizeError('LMP_E_OPT_SOURCE', `${file} has check errors: ${errors.map((d) => `${d.code} ${d.message}`).join('; ')}`);
  return new Map(lower(c.program).decls.map((d) => [d.name, d.spec as Frozen<AnySpec>] as const));
}

/**
 * The real trial runner: patch, re-check, lower, run the needed evals. Exported for tests and for
 * callers that drive runSearch themselves.
 */
export function evalTrialRunner(source: string, file: string, spec: Frozen<OptimizeSpec>, options: OptimizeBlockOptions = {}): RunTrial {
  const name = spec.name ?? 'optimize';
  const baseDir = options.baseDir ?? dirname(resolve(file));
  const knobs = knobsOf(spec.vary);
  const needed = evalsOf(spec, specsOf(source, file));
  let noted = false;
  return async (values, { index, budget }) => {
    const assignments = knobs.map((k) => `${k.path}=${formatValue(values[k.path]!)}`);
    let text: string;
    try {
      text = applySets(source, file, assignments);
    } catch (e) {
      if (e instanceof SetError) throw new OptimizeError('LMP_E_OPT_VALUE', `optimize ${name}, trial ${index + 1} (${assignments.join(' ')}): ${e.code}: ${e.message}`);
      throw e;
    }
    const specs = specsOf(text, file);
    const runEval: RunEvalFn = options.runEval ?? (await import('../../runtime/entry/index.js')).runEval;
    const metrics: Record<string, number> = {};
    let seconds = 0;
    for (const [evalName, metricSet] of needed) {
      const e = specs.get(evalName) as Frozen<EvalSpec>;
      if (budget < 1 && typeof e.task.params['samples'] !== 'number' && !noted) {
        noted = true;
        options.onProgress?.(`optimize ${name}: task ${e.task.task} of eval ${evalName} has no 'samples' to scale; halving's lower rungs run it in full`);
      }
      let r: EvalOutcome;
      try {
        r = await runEval(trialEvalSpec(e, metricSet, budget), { baseDir, specs, ...(options.session ? { session: options.session } : {}) });
      } catch (err) {
        const x = (typeof err === 'object' && err !== null ? err : {}) as { code?: string; message?: string };
        if (x.code && FATAL_EVAL.has(x.code)) throw new OptimizeError(x.code, `optimize ${name}: eval ${evalName}: ${x.message ?? String(err)}`);
        throw err;
      }
      Object.assign(metrics, flattenMetrics(evalName, r.metrics));
      seconds += r.seconds;
    }
    return { metrics, seconds, cost: seconds };
  };
}

/** Make sure `path` can be written (its folder created if needed) before any trial runs. */
function ensureWritable(path: string): void {
  try {
    ensureDir(dirname(path));
    let isDir = false;
    try {
      isDir = statSync(path).isDirectory();
    } catch {
      // absent: fine
    }
    if (isDir) throw new Error('it is a directory');
    accessSync(dirname(path), constants.W_OK);
  } catch (e) {
    throw new OptimizeError('LMP_E_OPT_SAVE', `cannot write the result to ${path}: ${(e as Error).message}`);
  }
}

/** Write a result atomically (temp file + rename: an earlier file stays intact on failure). */
export function saveOptimizeResult(path: string, result: OptimizeResult): void {
  try {
    ensureDir(dirname(path));
    writeFileAtomic(path, serializeOptimizeResult(result));
  } catch (e) {
    throw Object.assign(new OptimizeError('LMP_E_OPT_SAVE', `cannot write the result to ${path}: ${(e as Error).message}`), { result });
  }
}

/** Read and validate a saved result. */
export function loadOptimizeResult(path: string): OptimizeResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new OptimizeError('LMP_E_OPT_RESULT', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  return parseOptimizeResult(text, path);
}

/** The source with a result's best values applied (re-checked); throws OptimizeError. */
export function applyOptimizeResult(source: string, file: string, result: OptimizeResult): string {
  if (!result.best) throw new OptimizeError('LMP_E_OPT_NO_BEST', `optimize ${result.optimize}: the saved run has no feasible trial; there is nothing to apply`);
  try {
    return applySets(source, file, optimizeAssignments(result));
  } catch (e) {
    if (e instanceof SetError) throw new OptimizeError('LMP_E_OPT_APPLY', `applying optimize ${result.optimize}: ${e.code}: ${e.message}`);
    throw e;
  }
}

/** One progress line per trial. */
export function describeTrial(name: string, metric: string, t: TrialRecord, best: OptimizeResult['best'], total: number | null): string {
  const at = t.budget !== undefined && t.budget < 1 ? ` at budget ${fmtNum(t.budget)}` : '';
  const what = t.error ? `failed: ${t.error}` : `${metric} ${fmtNum(t.objective)}${t.feasible ? '' : ` infeasible${t.violated.length ? ` (violates ${t.violated.join(', ')})` : ''}`}`;
  return `optimize ${name} trial ${t.index + 1}${total !== null ? `/${total}` : ''}${at}: ${valuesText(t.values)} -> ${what}; best ${fmtNum(best?.objective)} (${t.seconds.toFixed(1)} s)`;
}

/** The text `lmpc run` prints for an optimize block. */
export function describeOptimize(r: OptimizeRunResult): string {
  const res = r.result;
  const head = `optimize ${r.target}: ${res.search.kind}, ${res.trials.length} trials (stopped: ${res.stopped}), ${res.seconds.toFixed(1)} s`;
  const best = res.best
    ? `  best ${res.objective.metric} ${fmtNum(res.best.objective)} (trial ${res.best.trial + 1}): ${valuesText(res.best.values)}`
    : '  no feasible trial';
  const saved = r.saved ? `\n  saved ${r.saved}${res.best ? ` (apply with: lmpc run ${res.file} --apply ${r.saved})` : ''}` : '';
  return `${head}\n${best}${saved}\n`;
}

/** Run an optimize block: validate, search within the budget, save. */
export async function runOptimizeBlock(source: string, file: string, spec: Frozen<OptimizeSpec>, options: OptimizeBlockOptions = {}): Promise<OptimizeRunResult> {
  const name = spec.name ?? 'optimize';
  const unsupported = spec.unsupported.filter((u) => !STALE.test(u));
  if (unsupported.length) throw new OptimizeError('LMP_E_NO_RUNTIME', `error in optimize ${name} (${spec.where}): the runtime cannot run ${unsupported.join('; ')}`);
  const knobs = knobsOf(spec.vary);
  const baseDir = options.baseDir ?? dirname(resolve(file));
  // Every vary path must be one --set can patch (the checker validated the values themselves).
  for (const k of knobs) {
    const a = `${k.path}=${formatValue(axisValue(k, 0))}`;
    try {
      applySets(source, file, [a]);
    } catch (e) {
      if (e instanceof SetError) throw new OptimizeError(e.code === 'LMP_E_SET_PATH' ? 'LMP_E_OPT_VARY' : 'LMP_E_OPT_VALUE', `optimize ${name}: vary ${k.path}: ${e.code}: ${e.message}`);
      throw e;
    }
  }
  const runTrial = options.runTrial ?? evalTrialRunner(source, file, spec, { ...options, baseDir });
  const savePath = spec.save !== null && options.save !== false ? resolve(baseDir, spec.save) : null;
  if (savePath) ensureWritable(savePath);
  const metric = spec.objective?.metric ?? '?';
  const result = await runSearch(spec, runTrial, {
    file,
    ...(options.clock ? { clock: options.clock } : {}),
    onTrial: (t, best, total) => options.onProgress?.(describeTrial(name, metric, t, best, total)),
  });
  if (savePath) saveOptimizeResult(savePath, result);
  return { kind: 'optimize', target: name, result, saved: savePath };
}
