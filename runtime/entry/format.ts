// Text of run results that both the runtime (progress lines) and the CLI (lmpc run) print; pure,
// so the CLI can import it without loading the runtime.
import type { EvalCellResult, EvalMetrics } from '../eval/index.js';
import type { TrainEvalBlockRecord, TrainEvalRecord } from './index.js';

/** " (by length 256: 8.90, 512: 8.10)" or " (by position <=64: 9.10, <=128: 8.70)", or "". */
export function evalBreakdown(r: TrainEvalRecord): string {
  if (r.by_position.length) return ` (by position ${r.by_position.map((b) => `<=${b.position}: ${b.ppl.toFixed(2)}`).join(', ')})`;
  const parts = r.by_length.map((b) => `${b.length}: ${b.ppl.toFixed(2)}`).join(', ');
  return parts ? ` (by length ${parts})` : '';
}

const num = (x: number | undefined): string => (x === undefined ? '-' : Number.isFinite(x) ? x.toFixed(4) : String(x));

/** "accuracy 0.5000, latency p50 0.0123 s p90 ... mean ..." (the metrics in the block's order). */
export function metricsLine(m: EvalMetrics): string {
  return Object.entries(m)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => (typeof v === 'number' ? `${k} ${num(v)}` : `${k} p50 ${num(v.p50)} s p90 ${num(v.p90)} s p99 ${num(v.p99)} s mean ${num(v.mean)} s`))
    .join(', ');
}

type Cell = EvalCellResult;

/** Where a cell is: "length 256 depth 50%", "target 300 words", "context <=64 tokens". */
export function cellLabel(c: Cell): string {
  return [c.length !== undefined ? `length ${c.length}` : '', c.depth !== undefined ? `depth ${Math.round(c.depth * 100)}%` : '', c.target !== undefined ? `target ${c.target} words` : '', c.position !== undefined ? `context <=${c.position} tokens` : '']
    .filter(Boolean)
    .join(' ');
}

/**
 * The per-cell results of an eval declaration run inside a train, on one line. Perplexity cells
 * read like the inline `eval every N: perplexity(...)` form (" (by length 256: 8.90, 512: 8.10)",
 * " (by position <=64: 9.10, ...)"); other tasks list each cell's metrics
 * (" (length 256 depth 0%: accuracy 1.0000; ...)"). "" without cells.
 */
export function cellsBreakdown(task: string, cells: readonly Cell[]): string {
  if (!cells.length) return '';
  if (task === 'perplexity') {
    const ppl = (c: Cell): string => {
      const v = c.metrics.perplexity ?? c.metrics.loss;
      return v !== undefined ? v.toFixed(2) : '-';
    };
    const byPos = cells.filter((c) => c.position !== undefined);
    if (byPos.length) return ` (by position ${byPos.map((c) => `<=${c.position}: ${ppl(c)}`).join(', ')})`;
    return ` (by length ${cells.map((c) => `${c.length}: ${ppl(c)}`).join(', ')})`;
  }
  return ` (${cells.map((c) => `${cellLabel(c)}: ${metricsLine(c.metrics)}`).join('; ')})`;
}

/** "eval passkey_sweep (passkey) step 20: accuracy 0.5000 (length 256 depth 0%: accuracy 1.0000; ...)" */
export function formatEvalBlock(r: TrainEvalBlockRecord): string {
  return `eval ${r.eval} (${r.task}) step ${r.step}: ${metricsLine(r.metrics)}${cellsBreakdown(r.task, r.cells)}`;
}
