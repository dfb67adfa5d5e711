// The cost model of `lmpc explain`: FLOPs and memory of a Llama-style model per token, per
// sequence and per optimizer step, before anything runs. Every formula is stated in README.md;
// the functions here take plain typed inputs (no AST), so the CLI layer only extracts numbers.
import type { MaskIR } from '../../runtime/mask/ir.js';
import { density as maskDensity, tileStats, type TileStats } from '../../runtime/mask/checks.js';
import { maskAt } from '../../runtime/mask/eval.js';
import { decomposeLengths } from '../../runtime/data/decompose.js';
import { Rng } from '../../runtime/data/rng.js';
import { CurriculumIterator, type ScheduleConfig } from '../../runtime/curriculum/index.js';

/** The shape of a Llama-style decoder (RMSNorm, grouped-query attention, SwiGLU). */
export interface ModelShape {
  readonly dim: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly ffn: number;
  readonly vocab: number;
  readonly tieEmbeddings: boolean;
}

export interface ParameterCount {
  /** Every stored parameter (embedding, layers, final norm, head unless tied). */
  readonly total: number;
  /** The input embedding table, V * d. */
  readonly embedding: number;
  /** Parameters a token's matmuls touch: the layers' weight matrices plus the output head (V * d,
   *  even when tied: the head matmul runs either way). Norm gains are left out (O(d) FLOPs). The
   *  N of "6N FLOPs per token". */
  readonly matmul: number;
}

export const headDim = (m: ModelShape): number => m.dim / m.heads;

/** Parameters per layer that are matrix weights: Wq, Wo (d x d), Wk, Wv (d x kv*hd), gate/up/down (d x f). */
function layerMatmul(m: ModelShape): number {
  const kvDim = m.kvHeads * headDim(m);
  return 2 * m.dim * m.dim + 2 * m.dim * kvDim + 3 * m.dim * m.ffn;
}

export function parameterCount(m: ModelShape): ParameterCount {
  const perLayer = layerMatmul(m) + 2 * m.dim; // plus the two RMSNorm gains
  const embedding = m.vocab * m.dim;
  const total = m.layers * perLayer + m.dim + embedding + (m.tieEmbeddings ? 0 : embedding);
  const matmul = m.layers * layerMatmul(m) + m.vocab * m.dim;
  return { total, embedding, matmul };
}

/** Token (matmul) FLOPs per token: 2N forward, 6N forward + backward. N = parameterCount().matmul. */
export function tokenFlopsPerToken(m: ModelShape, training: boolean): number {
  return (training ? 6 : 2) * parameterCount(m).matmul;
}

/**
 * Attention FLOPs of one sequence of T tokens with mask density rho (fraction of visible (q, kv)
 * pairs): forward = 4 * L * T^2 * d * rho (QK^T: 2*T^2*d, PV: 2*T^2*d per layer, summed over the
 * H heads of head_dim d/H, scaled by the visible fraction); training = 3x forward.
 */
export function attentionFlops(m: ModelShape, T: number, rho: number, training: boolean): number {
  return (training ? 3 : 1) * 4 * m.layers * T * T * m.dim * rho;
}

/** Causal density: T(T+1)/2 visible pairs of T^2. */
export const causalDensity = (T: number): number => (T + 1) / (2 * T);

/** KV-cache bytes per token: 2 (K and V) * L * kv_heads * head_dim * bytes. */
export function kvBytesPerToken(m: ModelShape, bytes: number): number {
  return 2 * m.layers * m.kvHeads * headDim(m) * bytes;
}

/**
 * Activation elements kept for the backward pass, per token, with a fused attention kernel and no
 * recomputation: per layer x, norm(x), q, k, v, attention output, log-sum-exp (H), h, norm(h),
 * gate, up, silu(gate)*up = 6d + 2*kv*hd + H + 3f; after the layers the final norm's input and
 * output (2d) and the logits with their softmax (2V).
 */
export function activationElementsPerToken(m: ModelShape): number {
  const kvDim = m.kvHeads * headDim(m);
  return m.layers * (6 * m.dim + 2 * kvDim + m.heads + 3 * m.ffn) + 2 * m.dim + 2 * m.vocab;
}

/** What an unfused (reference) attention stores on top: the probabilities, H * T per token per layer. */
export function unfusedScoreElementsPerToken(m: ModelShape, T: number): number {
  return m.layers * m.heads * T;
}

// ---------------------------------------------------------------------------------------------
// Per-step costs of a train block.

/** One bucket of a train's curriculum: a sequence length and the share of steps drawn from it. */
export interface BucketInput {
  readonly length: number;
  /** Fraction of optimizer steps at this length (sums to 1 over the buckets). */
  readonly stepFraction: number;
  /** Mask density of one sequence of this length (the attention's mask under this data's layout). */
  readonly density: number;
  /** Fraction of tiles a block-sparse kernel computes at this length (full + partial), if known. */
  readonly computedTiles?: number;
}

export interface StepCost {
  readonly length: number;
  readonly stepFraction: number;
  readonly sequences: number;
  readonly tokens: number;
  readonly density: number;
  readonly computedTiles: number | undefined;
  /** Attention FLOPs per step, forward + backward (3x forward). */
  readonly attentionFlops: number;
  /** Token (matmul) FLOPs per step, 6N per token. */
  readonly tokenFlops: number;
  readonly totalFlops: number;
  /** Activation bytes per step with a fused attention kernel (independent of the length). */
  readonly activationBytes: number;
  /** Extra bytes an unfused attention would store (probabilities). */
  readonly unfusedScoreBytes: number;
  /** Bytes of K and V per step (part of the activations): tokens * kvBytesPerToken. */
  readonly kvBytes: number;
}

export function stepCost(m: ModelShape, tokensPerStep: number, b: BucketInput, bytes: number): StepCost {
  const sequences = tokensPerStep / b.length;
  const attn = sequences * attentionFlops(m, b.length, b.density, true);
  const tok = tokensPerStep * tokenFlopsPerToken(m, true);
  return {
    length: b.length,
    stepFraction: b.stepFraction,
    sequences,
    tokens: tokensPerStep,
    density: b.density,
    computedTiles: b.computedTiles,
    attentionFlops: attn,
    tokenFlops: tok,
    totalFlops: attn + tok,
    activationBytes: tokensPerStep * activationElementsPerToken(m) * bytes,
    unfusedScoreBytes: tokensPerStep * unfusedScoreElementsPerToken(m, b.length) * bytes,
    kvBytes: tokensPerStep * kvBytesPerToken(m, bytes),
  };
}

export interface TrainCost {
  readonly tokensPerStep: number;
  readonly buckets: readonly StepCost[];
  /** Expectations over the bucket mix (weighted by stepFraction). */
  readonly mean: { readonly attentionFlops: number; readonly tokenFlops: number; readonly totalFlops: number; readonly density: number; readonly length: number; readonly activationBytes: number; readonly unfusedScoreBytes: number; readonly kvBytes: number };
  /** Concat-and-chunk at `length` with the plain causal mask (documents attend across boundaries). */
  readonly baseline: StepCost;
  /** this / baseline, per step (tokens per step are equal). */
  readonly ratio: { readonly attention: number; readonly total: number };
}

/** Concat-and-chunk baseline step at `length`: one bucket, causal density. */
export function baselineStep(m: ModelShape, tokensPerStep: number, length: number, bytes: number): StepCost {
  return stepCost(m, tokensPerStep, { length, stepFraction: 1, density: causalDensity(length) }, bytes);
}

export function trainCost(m: ModelShape, tokensPerStep: number, buckets: readonly BucketInput[], baselineLength: number, bytes: number): TrainCost {
  const costs = buckets.map((b) => stepCost(m, tokensPerStep, b, bytes));
  const total = buckets.reduce((a, b) => a + b.stepFraction, 0) || 1;
  const avg = (f: (c: StepCost) => number): number => costs.reduce((a, c) => a + c.stepFraction * f(c), 0) / total;
  const mean = {
    attentionFlops: avg((c) => c.attentionFlops),
    tokenFlops: avg((c) => c.tokenFlops),
    totalFlops: avg((c) => c.totalFlops),
    density: avg((c) => c.density),
    length: avg((c) => c.length),
    activationBytes: avg((c) => c.activationBytes),
    unfusedScoreBytes: avg((c) => c.unfusedScoreBytes),
    kvBytes: avg((c) => c.kvBytes),
  };
  const baseline = baselineStep(m, tokensPerStep, baselineLength, bytes);
  return { tokensPerStep, buckets: costs, mean, baseline, ratio: { attention: mean.attentionFlops / baseline.attentionFlops, total: mean.totalFlops / baseline.totalFlops } };
}

/**
 * The concat-and-chunk context C whose causal attention cost per step (training) equals the
 * given one: (tps / C) * 12 L C^2 d (C + 1) / (2C) = 6 L d tps (C + 1), solved for C.
 */
export function equivalentContext(m: ModelShape, tokensPerStep: number, attentionFlopsPerStep: number): number {
  return attentionFlopsPerStep / (6 * m.layers * m.dim * tokensPerStep) - 1;
}

// ---------------------------------------------------------------------------------------------
// Buckets from data: what the packer makes of the document lengths, and the curriculum's mix.

export type PackInput =
  | { readonly kind: 'decompose'; readonly min: number; readonly max: number; readonly deterministic: boolean; readonly seed: number }
  | { readonly kind: 'concat_chunk'; readonly length: number }
  | { readonly kind: 'pad'; readonly length: number }
  | { readonly kind: 'prepack'; readonly capacity: number };

export interface PackedBuckets {
  /** Sequences per length. */
  readonly counts: ReadonlyMap<number, number>;
  readonly tokensIn: number;
  readonly tokensKept: number;
  readonly tokensDropped: number;
}

/** Sequences per bucket length that the packer makes from documents of `lengths` tokens (EOT included). */
export function packBuckets(lengths: readonly number[], pack: PackInput): PackedBuckets {
  const tokensIn = lengths.reduce((a, b) => a + b, 0);
  const counts = new Map<number, number>();
  switch (pack.kind) {
    case 'decompose': {
      // the runtime's decomposition, with the runtime packer's RNG stream (runtime/data/pack.ts)
      const d = decomposeLengths(lengths, Math.log2(pack.min), Math.log2(pack.max), pack.deterministic ? null : new Rng(pack.seed, 0x6464));
      for (let k = 0; k < 32; k++) if (d.perBucket[k]! > 0) counts.set(2 ** k, d.perBucket[k]!);
      return { counts, tokensIn, tokensKept: d.tokensKept, tokensDropped: d.tokensDropped };
    }
    case 'concat_chunk': {
      const n = Math.floor(tokensIn / pack.length);
      counts.set(pack.length, n);
      return { counts, tokensIn, tokensKept: n * pack.length, tokensDropped: tokensIn - n * pack.length };
    }
    case 'pad': {
      counts.set(pack.length, lengths.length);
      const kept = lengths.reduce((a, b) => a + Math.min(b, pack.length), 0); // 'truncate'
      return { counts, tokensIn, tokensKept: kept, tokensDropped: tokensIn - kept };
    }
    case 'prepack': {
      counts.set(pack.capacity, lengths.length);
      return { counts, tokensIn, tokensKept: tokensIn, tokensDropped: 0 };
    }
  }
}

export interface BucketMix {
  /** Fraction of steps per length. */
  readonly steps: ReadonlyMap<number, number>;
  /** Steps in one whole pass of the schedule (cycled schedules), or undefined (endless ones). */
  readonly stepsPerPass: number | undefined;
  readonly how: string;
}

/**
 * The expected bucket mix of a curriculum over buckets with `counts` sequences. Cycled schedules
 * (weights, uniform) use every bucket's sequences once per pass, so the pass is run with the
 * runtime's CurriculumIterator and its steps are counted per length (the weights order the steps
 * within a cycle; the data sets how many there are). Fixed: one length. Grow: the first `steps`
 * steps of the iterator.
 */
export function bucketMix(schedule: ScheduleConfig, counts: ReadonlyMap<number, number>, tokensPerStep: number, steps: number): BucketMix {
  const buckets = [...counts.entries()].map(([length, count]) => ({ length, count }));
  const it = new CurriculumIterator({ schedule, tokensPerStep, ranks: 1, seed: 0 }, buckets);
  const n = new Map<number, number>();
  let total = 0;
  const cycled = schedule.kind === 'weights' || schedule.kind === 'uniform';
  if (schedule.kind === 'fixed') {
    return { steps: new Map([[schedule.length, 1]]), stepsPerPass: undefined, how: `fixed(${schedule.length}): every step at one length` };
  }
  const limit = cycled ? Number.MAX_SAFE_INTEGER : steps;
  for (let s = it.next(); s && total < limit; s = it.next()) {
    n.set(s.length, (n.get(s.length) ?? 0) + 1);
    total++;
  }
  const frac = new Map<number, number>();
  for (const [l, c] of [...n.entries()].sort((a, b) => a[0] - b[0])) frac.set(l, c / (total || 1));
  return {
    steps: frac,
    stepsPerPass: cycled ? total : undefined,
    how: cycled ? `one pass of the curriculum over the data (${total} steps, every bucket's sequences used once)` : `the first ${total} steps of the schedule`,
  };
}

// ---------------------------------------------------------------------------------------------
// Attention figures: density and tiles at a length, KV cache under a policy.

export interface AttentionAt {
  readonly length: number;
  readonly density: number;
  readonly tiles: TileStats;
}

/** Density (runtime/mask `density`) and tile classes (`tileStats`) of a mask over `length` tokens. */
export function attentionAt(mask: MaskIR, length: number, tile: number, docIds?: Int32Array): AttentionAt {
  return { length, density: maskDensity(mask, length, docIds, tile), tiles: tileStats(mask, length, tile, docIds) };
}

/** Cache entries a keep(mask) policy holds after `length` tokens: the positions kv < length that the
 *  latest query (position length - 1) keeps under the mask, its own entry included. */
export function keptPositions(mask: MaskIR, length: number): number {
  let n = 0;
  for (let kv = 0; kv < length; kv++) if (maskAt(mask, length - 1, kv)) n++;
  return n;
}

/** The bound on kept positions if the count stops growing (checked at 2^18 and 2^19), else undefined. */
export function keptBound(mask: MaskIR): number | undefined {
  const a = keptPositions(mask, 1 << 18);
  const b = keptPositions(mask, 1 << 19);
  return a === b ? a : undefined;
}
