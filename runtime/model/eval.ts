// Held-out evaluation: mean cross-entropy and perplexity overall and by sequence length
// (power-of-two buckets of each packed sequence's length), and a one-line progress formatter.
import type { LlamaModel, PackedBatch } from './llama.js';

export interface EvalBucket {
  /** sequences of length in (maxLength/2, maxLength] */
  maxLength: number;
  loss: number;
  ppl: number;
  /** summed loss weights (predictions counted) */
  tokens: number;
  sequences: number;
}

/** Predictions whose context holds (maxPosition/2, maxPosition] tokens of their document or sequence. */
export interface PositionBucket {
  maxPosition: number;
  loss: number;
  ppl: number;
  /** summed loss weights (predictions counted) */
  tokens: number;
}

export interface EvalResult {
  loss: number;
  ppl: number;
  tokens: number;
  byLength: EvalBucket[];
  /** By context length at the prediction (position id + 1, power-of-two buckets): where length generalization shows. */
  byPosition: PositionBucket[];
}

export const lengthBucket = (len: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, len)));

/** model: a LlamaModel, or any engine with its tokenLosses (the CUDA trainer's device copy). */
export function evaluate(model: Pick<LlamaModel, 'tokenLosses'>, batches: Iterable<PackedBatch>): EvalResult {
  const buckets = new Map<number, { sum: number; w: number; n: number }>();
  const positions = new Map<number, { sum: number; w: number }>();
  let sum = 0, w = 0;
  for (const b of batches) {
    const { loss, weight } = model.tokenLosses(b);
    for (let t = 0; t < b.tokens.length; t++) {
      if (weight[t]! === 0) continue;
      const key = lengthBucket(b.positionIds[t]! + 1);
      const acc = positions.get(key) ?? { sum: 0, w: 0 };
      acc.sum += loss[t]!;
      acc.w += weight[t]!;
      positions.set(key, acc);
    }
    for (let s = 0; s + 1 < b.cuSeqlens.length; s++) {
      const a = b.cuSeqlens[s]!, e = b.cuSeqlens[s + 1]!;
      const key = lengthBucket(e - a);
      const acc = buckets.get(key) ?? { sum: 0, w: 0, n: 0 };
      for (let t = a; t < e; t++) {
        acc.sum += loss[t]!;
        acc.w += weight[t]!;
      }
      acc.n++;
      buckets.set(key, acc);
    }
  }
  const byLength: EvalBucket[] = [...buckets.entries()].sort((x, y) => x[0] - y[0]).map(([maxLength, a]) => {
    sum += a.sum;
    w += a.w;
    const l = a.w > 0 ? a.sum / a.w : NaN;
    return { maxLength, loss: l, ppl: Math.exp(l), tokens: a.w, sequences: a.n };
  });
  const loss = w > 0 ? sum / w : NaN;
  const byPosition: PositionBucket[] = [...positions.entries()].sort((x, y) => x[0] - y[0]).map(([maxPosition, a]) => {
    const l = a.sum / a.w;
    return { maxPosition, loss: l, ppl: Math.exp(l), tokens: a.w };
  });
  return { loss, ppl: Math.exp(loss), tokens: w, byLength, byPosition };
}

const dur = (s: number): string => {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.round(s % 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
};

/** "step 10/100 [##--------] loss 2.3456 lr 1.0e-3 1234 tok/s ETA 1m30s" */
export function formatProgress(step: number, total: number, loss: number, lr: number, tokensPerSec: number, elapsedSec: number, width = 20): string {
  const frac = total > 0 ? Math.min(1, step / total) : 0;
  const filled = Math.round(frac * width);
  const eta = step > 0 ? (elapsedSec / step) * (total - step) : Infinity;
  return `step ${step}/${total} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] loss ${loss.toFixed(4)} lr ${lr.toExponential(1)} ${Math.round(tokensPerSec)} tok/s ETA ${dur(eta)}`;
}
