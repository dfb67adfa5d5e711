// Text of run results that both the runtime (progress lines) and the CLI (lmpc run) print; pure,
// so the CLI can import it without loading the runtime.
import type { TrainEvalRecord } from './index.js';

/** " (by length 256: 8.90, 512: 8.10)" or " (by position <=64: 9.10, <=128: 8.70)", or "". */
export function evalBreakdown(r: TrainEvalRecord): string {
  if (r.by_position.length) return ` (by position ${r.by_position.map((b) => `<=${b.position}: ${b.ppl.toFixed(2)}`).join(', ')})`;
  const parts = r.by_length.map((b) => `${b.length}: ${b.ppl.toFixed(2)}`).join(', ');
  return parts ? ` (by length ${parts})` : '';
}
