// runtime/eval: task generators (pure, seeded with runtime/data's Rng) and scorers for eval
// blocks, and the loop that runs a generator's samples through any text generator. The model
// side (decode spec, model, tokenizer) lives in runtime/entry/eval.ts.
import { resolve } from 'node:path';
import { EvalTaskError, type CountTokens } from './haystack.js';
import { needleSamples } from './needle.js';
import { passkeySamples } from './passkey.js';
import { scoreSample, summarize, TASK_METRICS, type EvalCellResult, type EvalMetrics, type MetricName, type ScoredSample } from './score.js';
import { readPrompts, targetLengthSamples } from './target_length.js';
import { threadingSamples } from './threading.js';
import { tsortSamples } from './tsort.js';
import type { EvalSample } from './types.js';

export * from './haystack.js';
export * from './passkey.js';
export * from './needle.js';
export * from './target_length.js';
export * from './score.js';
export * from './threading.js';
export * from './tsort.js';
export type * from './types.js';

/** The tasks this runtime generates and scores (perplexity runs through runtime/model's evaluate). */
export const GENERATIVE_TASKS: readonly string[] = ['passkey', 'needle', 'target_length', 'threading', 'tsort'];

type Params = { readonly [name: string]: unknown };

const int = (p: Params, name: string, task: string): number => {
  const v = p[name];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new EvalTaskError('LMP_E_EVAL_PARAMS', `${task}: parameter ${name} must be a non-negative integer (found ${JSON.stringify(v)})`);
  return v;
};
const ints = (p: Params, name: string, task: string): number[] => {
  const v = p[name];
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number' && Number.isInteger(x) && x > 0))
    throw new EvalTaskError('LMP_E_EVAL_PARAMS', `${task}: parameter ${name} must be a non-empty list of positive integers (found ${JSON.stringify(v)})`);
  return v as number[];
};

/**
 * The samples of a task call. `count` is the model tokenizer's token count; `baseDir` resolves
 * the target_length prompts file (relative to the .lmp file's folder); `docs` are the texts tsort
 * cuts into segments (the eval's `data` declaration), null when it has none.
 */
export function taskSamples(task: string, params: Params, seed: number, count: CountTokens, baseDir: string, docs: readonly string[] | null = null): EvalSample[] {
  switch (task) {
    case 'passkey':
      return passkeySamples({ lengths: ints(params, 'lengths', task), depths: int(params, 'depths', task), samples: int(params, 'samples', task) }, seed, count);
    case 'needle':
      return needleSamples(
        {
          lengths: ints(params, 'lengths', task),
          depths: int(params, 'depths', task),
          samples: int(params, 'samples', task),
          keys: int(params, 'keys', task),
          values: int(params, 'values', task),
          queries: int(params, 'queries', task),
        },
        seed,
        count,
      );
    case 'target_length': {
      const file = params['prompts'];
      if (typeof file !== 'string') throw new EvalTaskError('LMP_E_EVAL_PARAMS', 'target_length: parameter prompts must be a path');
      const samples = targetLengthSamples(readPrompts(resolve(baseDir, file), file), ints(params, 'targets', task));
      return samples.map((s) => ({ ...s, promptTokens: count(s.prompt) }));
    }
    case 'tsort':
      if (!docs) throw new EvalTaskError('LMP_E_EVAL_PARAMS', 'tsort cuts a text into segments: give the eval a `data D` (or D.holdout / D.train) clause');
      return tsortSamples({ lengths: ints(params, 'lengths', task), segments: int(params, 'segments', task), samples: int(params, 'samples', task) }, docs, seed, count);
    case 'threading':
      return threadingSamples({ lengths: ints(params, 'lengths', task), steps: int(params, 'steps', task), samples: int(params, 'samples', task) }, seed, count);
    default:
      throw new EvalTaskError('LMP_E_NO_RUNTIME', `eval task ${task} has no runtime yet (runtime/eval runs ${GENERATIVE_TASKS.join(', ')} and perplexity)`);
  }
}

/** A text generator: one request per sample (a decoder over a model, or a test oracle). */
export type Generate = (sample: EvalSample) => Promise<{ readonly text: string; readonly tokens: number }>;

export interface TaskOutcome {
  readonly metrics: EvalMetrics;
  readonly cells: EvalCellResult[];
  readonly samples: ScoredSample[];
}

/** The metrics to report: the block's `metric` list, else everything the task reports. */
export function metricNames(task: string, listed: readonly string[]): MetricName[] {
  const known = TASK_METRICS[task] ?? [];
  // `latency.p50` names the latency metric
  const names = listed.length ? [...new Set(listed.map((m) => m.split('.')[0]!))] : known;
  for (const n of names) if (!known.includes(n as MetricName)) throw new EvalTaskError('LMP_E_EVAL_PARAMS', `task ${task} does not report metric ${n} (it reports ${known.join(', ')})`);
  return names as MetricName[];
}

/** Runs every sample through `generate` in order, timing each request, and scores them. */
export async function runSamples(task: string, samples: readonly EvalSample[], generate: Generate, names: readonly MetricName[], onSample?: (done: number, total: number) => void): Promise<TaskOutcome> {
  const scored: ScoredSample[] = [];
  for (const s of samples) {
    const t0 = performance.now();
    const r = await generate(s);
    const seconds = (performance.now() - t0) / 1000;
    scored.push(scoreSample(task, s, r.text, r.tokens, seconds));
    onSample?.(scored.length, samples.length);
  }
  return { ...summarize(scored, names), samples: scored };
}
