// Prefill with prepacking (Zhao et al. 2024): a batch of prompts bin-packed (best-fit decreasing,
// runtime/data) into sequences of `capacity` tokens, one packed forward with positions restarting
// per prompt under causal & same_document, then the keys/values split per prompt into full-cache
// KVCacheSessions that continue decoding each prompt on its own. `paddedPrefill` is the baseline:
// every prompt its own sequence, right-padded to the longest (what a padded batch computes).
import { bestFitDecreasing, firstFitDecreasing } from '../data/binpack.js';
import { KVCacheSession, type LlamaModel, type PackedBatch } from './llama.js';

export interface PrefillResult {
  /** one full-cache session per prompt, holding exactly that prompt */
  sessions: KVCacheSession[];
  /** next-token logits [vocab] after each prompt */
  logits: Float32Array[];
  /** packed sequences (bins) and tokens run through the model (including padding) */
  sequences: number;
  tokensRun: number;
}

const argErr = (msg: string): Error => Object.assign(new Error(msg), { code: 'LMP_E_ARG' });

function checkPrompts(model: LlamaModel, prompts: readonly (readonly number[])[]): void {
  if (prompts.length === 0) throw argErr('prefill: no prompts');
  const V = model.config.vocab;
  for (const p of prompts) {
    if (p.length === 0) throw argErr('prefill: an empty prompt');
    for (const t of p) if (!(Number.isInteger(t) && t >= 0 && t < V)) throw Object.assign(new Error(`token ${t} outside the vocabulary (${V})`), { code: 'LMP_E_TOKEN' });
  }
}

/** Split a forward's keys/values (rows start..start+n of every layer) into a session. */
function sessionFrom(model: LlamaModel, k: Float32Array[], v: Float32Array[], start: number, prompt: readonly number[]): KVCacheSession {
  const HK = model.config.kvHeads * model.headDim, n = prompt.length;
  const s = model.session();
  s._load(k.map((a) => a.subarray(start * HK, (start + n) * HK)), v.map((a) => a.subarray(start * HK, (start + n) * HK)), prompt);
  return s;
}

/** Prepacked prefill. capacity: tokens per packed sequence (default: the longest prompt); algorithm: best-fit (default) or first-fit decreasing. */
export function prefillPacked(model: LlamaModel, prompts: readonly (readonly number[])[], opts: { capacity?: number; algorithm?: 'bfd' | 'ffd' } = {}): PrefillResult {
  checkPrompts(model, prompts);
  const lens = prompts.map((p) => p.length);
  const capacity = opts.capacity ?? Math.max(...lens);
  if (!(Number.isInteger(capacity) && capacity >= Math.max(...lens))) throw argErr(`prefill: capacity ${capacity} is shorter than the longest prompt (${Math.max(...lens)})`);
  const pk = (opts.algorithm === 'ffd' ? firstFitDecreasing : bestFitDecreasing)(lens, capacity);
  const T = lens.reduce((a, b) => a + b, 0);
  const b: PackedBatch = { tokens: new Int32Array(T), cuSeqlens: new Int32Array(pk.bins + 1), positionIds: new Int32Array(T), docIds: new Int32Array(T), lossMask: new Uint8Array(T) };
  const start = new Int32Array(prompts.length);
  let at = 0;
  for (let bin = 0; bin < pk.bins; bin++) {
    for (let j = pk.binStart[bin]!; j < pk.binStart[bin + 1]!; j++) {
      const i = pk.order[j]!, p = prompts[i]!;
      start[i] = at;
      for (let t = 0; t < p.length; t++) {
        b.tokens[at + t] = p[t]!;
        b.positionIds[at + t] = t;
        b.docIds[at + t] = i;
      }
      at += p.length;
    }
    b.cuSeqlens[bin + 1] = at;
  }
  const rows = Int32Array.from(prompts, (p, i) => start[i]! + p.length - 1);
  const { k, v, logits } = model._forwardKV(b, rows);
  const V = model.config.vocab;
  return {
    sessions: prompts.map((p, i) => sessionFrom(model, k, v, start[i]!, p)),
    logits: prompts.map((_, i) => logits.slice(i * V, (i + 1) * V)),
    sequences: pk.bins,
    tokensRun: T,
  };
}

/** Padded-batch prefill (the baseline): one sequence per prompt, right-padded to the longest. */
export function paddedPrefill(model: LlamaModel, prompts: readonly (readonly number[])[], padId = 0): PrefillResult {
  checkPrompts(model, prompts);
  const L = Math.max(...prompts.map((p) => p.length)), B = prompts.length, T = B * L;
  const b: PackedBatch = { tokens: new Int32Array(T).fill(padId), cuSeqlens: Int32Array.from({ length: B + 1 }, (_, i) => i * L), positionIds: new Int32Array(T), docIds: new Int32Array(T), lossMask: new Uint8Array(T) };
  for (let i = 0; i < B; i++) {
    b.tokens.set(prompts[i]!, i * L);
    for (let t = 0; t < L; t++) b.positionIds[i * L + t] = t;
  }
  const rows = Int32Array.from(prompts, (p, i) => i * L + p.length - 1);
  const { k, v, logits } = model._forwardKV(b, rows);
  const V = model.config.vocab;
  return {
    sessions: prompts.map((p, i) => sessionFrom(model, k, v, i * L, p)),
    logits: prompts.map((_, i) => logits.slice(i * V, (i + 1) * V)),
    sequences: B,
    tokensRun: T,
  };
}
