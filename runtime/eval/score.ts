// Scorers (pure) and the aggregation of per-sample scores into metrics per cell and overall.
import { quantile } from '../decode/decoder.js';
import { countWords, inWindow, windowsOf } from './target_length.js';
import { threadingCorrect } from './threading.js';
import { tsortCorrect } from './tsort.js';
import type { EvalCell, EvalSample } from './types.js';

/** The first run of digits in a text, or null (landmark's passkey check). */
export const firstNumber = (text: string): string | null => /\d+/.exec(text)?.[0] ?? null;

/** Exact match of the first number in the output against the reference. */
export const passkeyCorrect = (output: string, key: string): boolean => firstNumber(output) === key;

/** RULER string_match_all: the fraction of references found in the output, case-insensitive. */
export function stringMatchAll(output: string, references: readonly string[]): number {
  if (references.length === 0) return 0;
  const o = output.toLowerCase();
  return references.filter((r) => o.includes(r.toLowerCase())).length / references.length;
}

export interface LatencyStats {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly mean: number;
}

/** Seconds per request: type-7 quantiles (numpy's default) and the mean. */
export function latencyStats(seconds: readonly number[]): LatencyStats {
  const mean = seconds.length ? seconds.reduce((a, b) => a + b, 0) / seconds.length : NaN;
  return { p50: quantile(seconds, 0.5), p90: quantile(seconds, 0.9), p99: quantile(seconds, 0.99), mean };
}

/** The metrics an eval can report. */
export interface EvalMetrics {
  accuracy?: number;
  string_match_all?: number;
  precise_match?: number;
  flexible_match?: number;
  perplexity?: number;
  loss?: number;
  latency?: LatencyStats;
}
export type MetricName = keyof EvalMetrics;

/** What each task reports (the built-ins registry's `reports`), in order: the default when the block names no metric. */
export const TASK_METRICS: Readonly<Record<string, readonly MetricName[]>> = {
  passkey: ['accuracy', 'latency'],
  needle: ['string_match_all', 'accuracy', 'latency'],
  target_length: ['precise_match', 'flexible_match', 'latency'],
  tsort: ['accuracy', 'latency'],
  threading: ['accuracy', 'latency'],
  perplexity: ['perplexity', 'loss'],
};

/** One scored request. */
export interface ScoredSample {
  readonly index: number;
  readonly cell: EvalCell;
  readonly promptTokens: number;
  readonly references: readonly string[];
  /** The generated text (cut before a stop string). */
  readonly output: string;
  readonly outputTokens: number;
  /** Wall time of the request (prefill + generation), seconds. */
  readonly seconds: number;
  /** passkey, tsort, threading: exact; needle: every reference found; target_length: precise match. */
  readonly correct: boolean;
  /** needle: string_match_all of this sample. */
  readonly matched?: number;
  /** target_length: words of the output, and whether they fall in the FM window. */
  readonly words?: number;
  readonly flexible?: boolean;
}

/** Scores one output of a task (pure). */
export function scoreSample(task: string, s: EvalSample, output: string, outputTokens: number, seconds: number): ScoredSample {
  const base = { index: s.index, cell: s.cell, promptTokens: s.promptTokens, references: s.references, output, outputTokens, seconds };
  switch (task) {
    case 'passkey':
      return { ...base, correct: passkeyCorrect(output, s.references[0]!) };
    case 'needle': {
      const matched = stringMatchAll(output, s.references);
      return { ...base, correct: matched === 1, matched };
    }
    case 'target_length': {
      const words = countWords(output);
      const w = windowsOf(s.cell.target!);
      return { ...base, correct: inWindow(words, w.pm), words, flexible: inWindow(words, w.fm) };
    }
    case 'threading':
      return { ...base, correct: threadingCorrect(output, s.references[0]!) };
    case 'tsort':
      return { ...base, correct: tsortCorrect(output, s.references[0]!) };
    default:
      throw new Error(`no scorer for task ${task}`);
  }
}

const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

/** The named metrics over a set of scored samples. */
export function aggregate(samples: readonly ScoredSample[], names: readonly MetricName[]): EvalMetrics {
  const m: EvalMetrics = {};
  for (const n of names) {
    switch (n) {
      case 'accuracy':
        m.accuracy = mean(samples.map((s) => (s.correct ? 1 : 0)));
        break;
      case 'string_match_all':
        m.string_match_all = mean(samples.map((s) => s.matched ?? (s.correct ? 1 : 0)));
        break;
      case 'precise_match':
        m.precise_match = mean(samples.map((s) => (s.correct ? 1 : 0)));
        break;
      case 'flexible_match':
        m.flexible_match = mean(samples.map((s) => (s.flexible ? 1 : 0)));
        break;
      case 'latency':
        m.latency = latencyStats(samples.map((s) => s.seconds));
        break;
      default:
        break; // perplexity / loss come from the perplexity task, not from generated samples
    }
  }
  return m;
}

export interface EvalCellResult extends EvalCell {
  /** Requests in the cell (0 for perplexity). */
  readonly samples: number;
  /** perplexity: predicted tokens in the length bucket. */
  readonly tokens?: number;
  readonly metrics: EvalMetrics;
}

const cellKey = (c: EvalCell): string => `${c.length ?? ''}|${c.depth ?? ''}|${c.target ?? ''}`;

/** Metrics per cell (in first-seen order) and overall. */
export function summarize(samples: readonly ScoredSample[], names: readonly MetricName[]): { metrics: EvalMetrics; cells: EvalCellResult[] } {
  const groups = new Map<string, ScoredSample[]>();
  for (const s of samples) {
    const k = cellKey(s.cell);
    const g = groups.get(k);
    if (g) g.push(s);
    else groups.set(k, [s]);
  }
  const cells = [...groups.values()].map((g) => ({ ...g[0]!.cell, samples: g.length, metrics: aggregate(g, names) }));
  return { metrics: aggregate(samples, names), cells };
}
