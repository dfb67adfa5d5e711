// Prefill with prepacking (Zhao et al. 2024): a batch of prompts bin-packed (best-fit decreasing,
// runtime/data) into sequences of `capacity` tokens, one packed forward with positions restarting
// per prompt under causal & same_document, then the keys/values split per prompt into full-cache
// KVCacheSessions that continue decoding each prompt on its own.
//
// Bit-identical to prefilling each prompt alone on the CPU: every prompt is its own varlen
// sequence of the packed forward (cu_seqlens at prompt boundaries, inside the bins), so the fused
// attention tiles each prompt from its own first token, as it does alone (a prompt straddling a
// tile boundary of its bin summed its keys in another order); the GEMMs' rows do not depend on
// the batch's other rows, except that a multiply of at most SMALL_M rows takes the GEMV path
// (native/src/model/gemm.cc, `tb && M <= 4`): prompts that short are prefilled alone (a few
// tokens each, nothing to gain from packing). `paddedPrefill` is the baseline:
// every prompt its own sequence, right-padded to the longest (what a padded batch computes).
// With `device` (a CudaLlama of the model, cuda-llama.ts) the packed forward runs on the GPU and
// the prompts continue in device sessions (CudaKVSession), the same packing and results.
import { bestFitDecreasing, firstFitDecreasing } from '../data/binpack.js';
import type { CudaKVSession, CudaLlama } from './cuda-llama.js';
import { KVCacheSession, type LlamaModel, type PackedBatch } from './llama.js';

/** A prefilled session: the CPU's, or the device's (CudaKVSession). */
export type PrefilledSession = KVCacheSession | CudaKVSession;

export interface PrefillResult {
  /** one full-cache session per prompt, holding exactly that prompt */
  sessions: PrefilledSession[];
  /** next-token logits [vocab] after each prompt */
  logits: Float32Array[];
  /** packed sequences (bins) and tokens run through the model (including padding) */
  sequences: number;
  tokensRun: number;
}

/** The most rows a B-transposed GEMM runs on its GEMV path (native/src/model/gemm.cc sgemm). */
const SMALL_M = 4;

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

/**
 * One packed forward and its split: `split(sessionAt, logits)` gets the logits of `rows` and a
 * function making the session of a prompt starting at a row (CPU or device).
 */
function forwardAndSplit(model: LlamaModel, device: CudaLlama | undefined, b: PackedBatch, rows: Int32Array, split: (sessionAt: (start: number, prompt: readonly number[]) => PrefilledSession, logits: Float32Array) => void): void {
  if (device) {
    device._forwardKV(b, rows, (k, v, logits) => split((start, prompt) => {
      const s = device.session();
      s._load(k, v, start, prompt);
      return s;
    }, logits));
    return;
  }
  const { k, v, logits } = model._forwardKV(b, rows);
  split((start, prompt) => sessionFrom(model, k, v, start, prompt), logits);
}

/** Prepacked prefill. capacity: tokens per packed sequence (default: the longest prompt); algorithm: best-fit (default) or first-fit decreasing. */
export function prefillPacked(model: LlamaModel, prompts: readonly (readonly number[])[], opts: { capacity?: number; algorithm?: 'bfd' | 'ffd'; device?: CudaLlama } = {}): PrefillResult {
  checkPrompts(model, prompts);
  const lens = prompts.map((p) => p.length);
  const capacity = opts.capacity ?? Math.max(...lens);
  if (!(Number.isInteger(capacity) && capacity >= Math.max(...lens))) throw argErr(`prefill: capacity ${capacity} is shorter than the longest prompt (${Math.max(...lens)})`);
  const V = model.config.vocab;
  const sessions: PrefilledSession[] = new Array(prompts.length);
  const out: Float32Array[] = new Array(prompts.length);
  // the shortest prompts alone (see the top): their own GEMV-path forward, as decoding them alone
  const packedIdx: number[] = [];
  prompts.forEach((p, i) => {
    if (p.length > SMALL_M) return void packedIdx.push(i);
    const s = opts.device ? opts.device.session() : model.session();
    out[i] = s.next(Int32Array.from(p)).slice();
    sessions[i] = s;
  });
  const plens = packedIdx.map((i) => lens[i]!);
  const pk = plens.length ? (opts.algorithm === 'ffd' ? firstFitDecreasing : bestFitDecreasing)(plens, capacity) : { bins: 0, binStart: Int32Array.of(0), order: new Int32Array(0) };
  const T = plens.reduce((a, b) => a + b, 0);
  if (T > 0) {
    const b: PackedBatch = { tokens: new Int32Array(T), cuSeqlens: new Int32Array(plens.length + 1), positionIds: new Int32Array(T), docIds: new Int32Array(T), lossMask: new Uint8Array(T) };
    const start = new Int32Array(prompts.length);
    let at = 0, seq = 0;
    for (let bin = 0; bin < pk.bins; bin++) {
      for (let j = pk.binStart[bin]!; j < pk.binStart[bin + 1]!; j++) {
        const i = packedIdx[pk.order[j]!]!, p = prompts[i]!;
        start[i] = at;
        for (let t = 0; t < p.length; t++) {
          b.tokens[at + t] = p[t]!;
          b.positionIds[at + t] = t;
          b.docIds[at + t] = i;
        }
        at += p.length;
        b.cuSeqlens[++seq] = at; // each prompt its own sequence (the bins' order is kept)
      }
    }
    const rows = Int32Array.from(packedIdx, (i) => start[i]! + prompts[i]!.length - 1);
    forwardAndSplit(model, opts.device, b, rows, (sessionAt, logits) =>
      packedIdx.forEach((i, r) => {
        sessions[i] = sessionAt(start[i]!, prompts[i]!);
        out[i] = logits.slice(r * V, (r + 1) * V);
      }),
    );
  }
  return {
    sessions,
    logits: out,
    sequences: pk.bins + (prompts.length - packedIdx.length),
    tokensRun: lens.reduce((a, b) => a + b, 0),
  };
}

/** Padded-batch prefill (the baseline): one sequence per prompt, right-padded to the longest. */
export function paddedPrefill(model: LlamaModel, prompts: readonly (readonly number[])[], padId = 0, device?: CudaLlama): PrefillResult {
  checkPrompts(model, prompts);
  const L = Math.max(...prompts.map((p) => p.length)), B = prompts.length, T = B * L;
  const b: PackedBatch = { tokens: new Int32Array(T).fill(padId), cuSeqlens: Int32Array.from({ length: B + 1 }, (_, i) => i * L), positionIds: new Int32Array(T), docIds: new Int32Array(T), lossMask: new Uint8Array(T) };
  for (let i = 0; i < B; i++) {
    b.tokens.set(prompts[i]!, i * L);
    for (let t = 0; t < L; t++) b.positionIds[i * L + t] = t;
  }
  const rows = Int32Array.from(prompts, (p, i) => i * L + p.length - 1);
  const V = model.config.vocab;
  let sessions: PrefilledSession[] = [], out: Float32Array[] = [];
  forwardAndSplit(model, device, b, rows, (sessionAt, logits) => {
    sessions = prompts.map((p, i) => sessionAt(i * L, p));
    out = prompts.map((_, i) => logits.slice(i * V, (i + 1) * V));
  });
  return { sessions, logits: out, sequences: B, tokensRun: T };
}
