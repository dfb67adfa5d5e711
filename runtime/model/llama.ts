// A Llama-style decoder on the native kernels: token embedding, per layer
// x += o_proj(attn(rope(q_proj(n1)), rope(k_proj(n1)), v_proj(n1)))  with n1 = rmsnorm(x)
// x += down_proj(silu(gate_proj(n2)) * up_proj(n2))                 with n2 = rmsnorm(x)
// then rmsnorm and the output head (tied to the embedding or lm_head). Parameters use the
// Hugging Face Llama names and layouts (Linear weights are [out, in]).
// Forward/backward run over a packed batch; attention goes through an AttentionOp (attention.ts).
import type { AttentionMaskIR, MaskIR } from '../mask/ir.js';
import { attentionLayout } from '../attention/index.js';
import { positionIds as seqPositionIds, ropeFrequencies } from '../attention/positions.js';
import { native } from '../native.js';
import {
  type AttentionArgs, type AttentionOp, type AttentionSettings, type KernelPosition, type PositionSettings, type RopeScalingSettings,
  type ScoreSettings, plainMask, referenceAttention, scoreIsPlain,
} from './attention.js';
import { fusedAttention, layoutInput } from './fused.js';
import { rotate } from './rope.js';
import { type ModelConfig, validateConfig } from './config.js';
import { kernels } from './kernels.js';
import { Rng } from './rng.js';

/**
 * A packed batch: several sequences concatenated (row boundaries in cuSeqlens), each made of
 * one or more documents (docIds, contiguous runs). Attention never crosses sequences.
 *   tokens      Int32Array [T]
 *   cuSeqlens   Int32Array [nseq + 1], cuSeqlens[0] = 0, last = T
 *   positionIds Int32Array [T]  RoPE positions (usually restart at 0 per document or sequence)
 *   docIds      Int32Array [T]  document id per token (same_document masking, default targets)
 *   lossMask    Uint8Array | Float32Array [T]  weight of the prediction made at t (0 = ignore)
 *   targets     optional Int32Array [T]: the token predicted at t (-1 = none). Default:
 *               tokens[t + 1] when t + 1 is in the same sequence and document, else -1.
 */
export interface PackedBatch {
  readonly tokens: Int32Array;
  readonly cuSeqlens: Int32Array;
  readonly positionIds: Int32Array;
  readonly docIds: Int32Array;
  readonly lossMask: Uint8Array | Float32Array;
  readonly targets?: Int32Array;
}

export const CAUSAL_SAME_DOCUMENT: MaskIR = { op: 'and', args: [{ op: 'causal' }, { op: 'same_document' }] };

export function defaultTargets(b: PackedBatch): Int32Array {
  const T = b.tokens.length, out = new Int32Array(T).fill(-1);
  for (let s = 0; s + 1 < b.cuSeqlens.length; s++)
    for (let t = b.cuSeqlens[s]!; t + 1 < b.cuSeqlens[s + 1]!; t++) if (b.docIds[t] === b.docIds[t + 1]) out[t] = b.tokens[t + 1]!;
  return out;
}

/** A batch's targets (given, or the next token within its document) and loss weights (the loss mask where a target exists, else 0), with their sum. */
export function lossWeights(b: PackedBatch): { targets: Int32Array; weight: Float32Array; count: number } {
  const targets = b.targets ?? defaultTargets(b);
  const weight = new Float32Array(b.tokens.length);
  let count = 0;
  for (let t = 0; t < weight.length; t++) {
    weight[t] = targets[t]! >= 0 ? Number(b.lossMask[t]) : 0;
    count += weight[t]!;
  }
  return { targets, weight, count };
}

export function validateBatch(b: PackedBatch, vocab: number): void {
  const T = b.tokens.length;
  const bad = (m: string): never => {
    throw Object.assign(new Error('packed batch: ' + m), { code: 'LMP_E_BATCH' });
  };
  if (b.positionIds.length !== T || b.docIds.length !== T || b.lossMask.length !== T) bad('positionIds, docIds and lossMask must have one entry per token');
  if (b.targets && b.targets.length !== T) bad('targets must have one entry per token');
  const cu = b.cuSeqlens;
  if (cu.length < 2 || cu[0] !== 0 || cu[cu.length - 1] !== T) bad(`cuSeqlens must run from 0 to ${T}`);
  for (let i = 1; i < cu.length; i++) if (cu[i]! < cu[i - 1]!) bad('cuSeqlens must be non-decreasing');
  for (let t = 0; t < T; t++) {
    if (b.tokens[t]! < 0 || b.tokens[t]! >= vocab) bad(`token ${b.tokens[t]} at ${t} is outside the vocabulary (${vocab})`);
    if (b.positionIds[t]! < 0) bad('positionIds must be >= 0');
  }
}

export const paramShapes = (c: ModelConfig): [string, number[]][] => {
  const hd = c.dim / c.heads;
  const out: [string, number[]][] = [['model.embed_tokens.weight', [c.vocab, c.dim]]];
  for (let l = 0; l < c.layers; l++) {
    const p = `model.layers.${l}.`;
    out.push(
      [p + 'input_layernorm.weight', [c.dim]],
      [p + 'self_attn.q_proj.weight', [c.heads * hd, c.dim]],
      [p + 'self_attn.k_proj.weight', [c.kvHeads * hd, c.dim]],
      [p + 'self_attn.v_proj.weight', [c.kvHeads * hd, c.dim]],
      [p + 'self_attn.o_proj.weight', [c.dim, c.heads * hd]],
      [p + 'post_attention_layernorm.weight', [c.dim]],
      [p + 'mlp.gate_proj.weight', [c.ffn, c.dim]],
      [p + 'mlp.up_proj.weight', [c.ffn, c.dim]],
      [p + 'mlp.down_proj.weight', [c.dim, c.ffn]],
    );
  }
  out.push(['model.norm.weight', [c.dim]]);
  if (!c.tieEmbeddings) out.push(['lm_head.weight', [c.vocab, c.dim]]);
  return out;
};

interface LayerActs {
  x: Float32Array; h1: Float32Array; r1: Float32Array; q: Float32Array; k: Float32Array; v: Float32Array;
  ao: Float32Array; lse: Float32Array; x2: Float32Array; h2: Float32Array; r2: Float32Array;
  g: Float32Array; u: Float32Array; m: Float32Array;
}

export interface ModelOptions {
  /** default: the reference op for plain softmax + RoPE + one mask, else the fused op */
  attention?: AttentionOp;
  /** the attention mask (one, or per-head groups); default causal & same_document */
  mask?: MaskIR | AttentionMaskIR;
  /** score transforms (temperature, softcap, softplus); default plain softmax */
  score?: ScoreSettings;
  /**
   * position encoding; default RoPE at config.ropeTheta with config.ropeScaling (a checkpoint's
   * rope_parameters). A rope position with a scaling other than none replaces config.ropeScaling.
   */
  position?: PositionSettings;
}

/** A decoding step's scratch rows: the norms' output h [n, dim] and rstd r [n], the MLP's gate g and up u [n, ffn]. */
interface StepScratch {
  h: Float32Array;
  r: Float32Array;
  g: Float32Array;
  u: Float32Array;
}

/** One layer's parameter names. */
interface LayerNames {
  q: string; k: string; v: string; o: string; inNorm: string; postNorm: string; gate: string; up: string; down: string;
}

export class LlamaModel {
  readonly config: ModelConfig;
  readonly params = new Map<string, Float32Array>();
  readonly shapes = new Map<string, number[]>();
  grads: Map<string, Float32Array> | undefined;
  /** backward's buffers, by length, from its latest pass (reused by the next one) */
  private pool = new Map<number, Float32Array[]>();
  attention: AttentionOp;
  mask: MaskIR | AttentionMaskIR;
  readonly score: ScoreSettings | undefined;
  readonly position: PositionSettings;
  /** The RoPE scaling in force (position rope): the position's own, else config.ropeScaling; none: undefined */
  readonly ropeScaling: RopeScalingSettings | undefined;
  /** 'model': the model rotates; 'op': the attention op applies positions (or none at all) */
  private readonly ropeInModel: boolean;
  private readonly K = kernels();
  private readonly names: LayerNames[] = [];

  constructor(config: ModelConfig, opts: ModelOptions = {}) {
    this.config = validateConfig(config);
    this.mask = opts.mask ?? CAUSAL_SAME_DOCUMENT;
    this.score = scoreIsPlain(opts.score) ? undefined : opts.score;
    this.position = opts.position ?? { kind: 'rope' };
    const p = this.position;
    if ((p.kind === 'rope' || p.kind === 'alibi') && p.limit != null && !(Number.isInteger(p.limit) && p.limit > 0))
      throw Object.assign(new Error(`attention: position limit must be a positive integer (got ${p.limit})`), { code: 'LMP_E_ARG' });
    this.ropeInModel = p.kind === 'rope' && !p.limit;
    const scaled = (s: RopeScalingSettings | undefined): RopeScalingSettings | undefined => (s && s.kind !== 'none' ? s : undefined);
    this.ropeScaling = p.kind === 'rope' ? (scaled(p.scaling) ?? scaled(config.ropeScaling)) : undefined;
    const plain = !this.score && this.ropeInModel && plainMask(this.mask) !== undefined;
    this.attention = opts.attention ?? (plain ? referenceAttention() : fusedAttention());
    for (const [n, s] of paramShapes(config)) {
      this.shapes.set(n, s);
      this.params.set(n, new Float32Array(s.reduce((a, b) => a * b, 1)));
    }
  }

  /** Random init: normal(0, std) for matrices, 1 for norms; deterministic in seed. */
  static init(config: ModelConfig, seed: number, opts: ModelOptions & { std?: number } = {}): LlamaModel {
    const m = new LlamaModel(config, opts);
    const rng = new Rng(seed);
    const std = opts.std ?? 0.02;
    for (const [n, p] of m.params) {
      if (n.endsWith('norm.weight')) p.fill(1);
      else for (let i = 0; i < p.length; i++) p[i] = rng.normal() * std;
    }
    return m;
  }

  get headDim(): number {
    return this.config.dim / this.config.heads;
  }

  numParams(): number {
    let n = 0;
    for (const p of this.params.values()) n += p.length;
    return n;
  }

  private P(name: string): Float32Array {
    return this.params.get(name)!;
  }

  private mm(ta: boolean, tb: boolean, M: number, N: number, Kd: number, A: Float32Array, B: Float32Array, C: Float32Array, beta = 0): void {
    this.K.gemm(ta, tb, M, N, Kd, 1, A, ta ? M : Kd, B, tb ? Kd : N, beta, C, N);
  }

  /** x[M, Kd] times a weight [N, Kd] transposed, each row with the bits of M = 1 (batched decoding), or plain mm. */
  private mmW(rows: boolean, M: number, N: number, Kd: number, A: Float32Array, B: Float32Array, C: Float32Array, beta = 0): void {
    if (rows) this.K.gemmRows(M, N, Kd, 1, A, Kd, B, Kd, beta, C, N);
    else this.mm(false, true, M, N, Kd, A, B, C, beta);
  }

  zeroGrads(): void {
    if (!this.grads) {
      this.grads = new Map();
      for (const [n, p] of this.params) this.grads.set(n, new Float32Array(p.length));
    } else for (const g of this.grads.values()) g.fill(0);
  }

  /** Rotates x [n, heads, headDim] in place when the model applies RoPE (else nothing). */
  private rope(x: Float32Array, n: number, heads: number, positions: Int32Array, inverse: boolean): void {
    if (this.ropeInModel) rotate(this.K, x, n, heads, this.headDim, positions, this.config.ropeTheta, this.ropeScaling, inverse);
  }

  /**
   * The in-op position for a key layout (undefined when the model rotates or there is none).
   * RoPE with a limit positions keys by their index in the sequence, or in the document when
   * the batch's positions restart per document (`positions` given and equal to that layout).
   */
  private kernelPosition(cu: Int32Array, docIds?: Int32Array, positions?: Int32Array): KernelPosition | undefined {
    const p = this.position;
    if (p.kind === 'alibi') return p.limit ? { kind: 'alibi', distanceLimit: p.limit } : { kind: 'alibi' };
    if (p.kind !== 'rope' || this.ropeInModel) return undefined;
    let restartPerDocument = false;
    if (positions) {
      const same = (a: Float32Array): boolean => a.every((v, i) => v === positions[i]);
      if (same(seqPositionIds(cu, docIds, false))) restartPerDocument = false;
      else if (docIds && same(seqPositionIds(cu, docIds, true))) restartPerDocument = true;
      else
        throw Object.assign(new Error('attention: RoPE with a distance limit needs position ids that count from 0 per sequence or per document'), { code: 'LMP_E_BATCH' });
    }
    return { kind: 'rope', base: this.config.ropeTheta, ...(this.ropeScaling ? { scaling: this.ropeScaling } : {}), distanceLimit: p.limit!, restartPerDocument };
  }

  /** Attention arguments beyond the tensors and layout: mask, scale, score, in-op position. */
  private attnExtra(cuK: Int32Array, docIds?: Int32Array, positions?: Int32Array): Pick<AttentionArgs, 'mask' | 'scale' | 'score' | 'position'> {
    const pos = this.kernelPosition(cuK, docIds, positions);
    return { mask: this.mask, scale: 1 / Math.sqrt(this.headDim), ...(this.score ? { score: this.score } : {}), ...(pos ? { position: pos } : {}) };
  }

  private attnArgs(b: PackedBatch, q: Float32Array, k: Float32Array, v: Float32Array): AttentionArgs {
    return { q, k, v, ...this._attnLayout(b) };
  }

  /** @internal a batch's attention arguments but the tensors (the CUDA model's device plan). */
  _attnLayout(b: PackedBatch): Omit<AttentionArgs, 'q' | 'k' | 'v'> {
    const c = this.config;
    return {
      heads: c.heads, kvHeads: c.kvHeads, headDim: this.headDim, cuSeqlensQ: b.cuSeqlens, cuSeqlensK: b.cuSeqlens,
      docIds: b.docIds, ...this.attnExtra(b.cuSeqlens, b.docIds, b.positionIds),
    };
  }

  /** @internal a decoding step's attention arguments but the tensors: n new queries, the last of L keys. */
  _decodeLayout(n: number, L: number): Omit<AttentionArgs, 'q' | 'k' | 'v'> {
    const c = this.config, cuK = Int32Array.of(0, L);
    return { heads: c.heads, kvHeads: c.kvHeads, headDim: this.headDim, cuSeqlensQ: Int32Array.of(0, n), cuSeqlensK: cuK, qOffset: L - n, ...this.attnExtra(cuK) };
  }

  /** Whether the model applies RoPE to q and k itself (RoPE without a distance limit). */
  get ropeInModelApplied(): boolean {
    return this.ropeInModel;
  }

  /**
   * Runs the decoder over a batch; returns the final hidden state and saved activations. `alloc`
   * gives its buffers (each fully written before it is read): fresh arrays, or backward's pool.
   */
  private trunk(b: PackedBatch, save: boolean, alloc: (n: number) => Float32Array = (n) => new Float32Array(n)): { x: Float32Array; acts: LayerActs[] } {
    const c = this.config, K = this.K, T = b.tokens.length, D = c.dim, hd = this.headDim;
    const HQ = c.heads * hd, HK = c.kvHeads * hd;
    let x = alloc(T * D);
    K.embeddingForward(this.P('model.embed_tokens.weight'), c.vocab, D, b.tokens, x);
    const acts: LayerActs[] = [];
    for (let l = 0; l < c.layers; l++) {
      const p = `model.layers.${l}.`;
      const h1 = alloc(T * D), r1 = alloc(T);
      K.rmsnormForward(x, this.P(p + 'input_layernorm.weight'), T, D, c.normEps, h1, r1);
      const q = alloc(T * HQ), k = alloc(T * HK), v = alloc(T * HK);
      this.mm(false, true, T, HQ, D, h1, this.P(p + 'self_attn.q_proj.weight'), q);
      this.mm(false, true, T, HK, D, h1, this.P(p + 'self_attn.k_proj.weight'), k);
      this.mm(false, true, T, HK, D, h1, this.P(p + 'self_attn.v_proj.weight'), v);
      this.rope(q, T, c.heads, b.positionIds, false);
      this.rope(k, T, c.kvHeads, b.positionIds, false);
      const { out: ao, lse } = this.attention.forward(this.attnArgs(b, q, k, v));
      const x2 = alloc(T * D);
      x2.set(x);
      this.mm(false, true, T, D, HQ, ao, this.P(p + 'self_attn.o_proj.weight'), x2, 1);
      const h2 = alloc(T * D), r2 = alloc(T);
      K.rmsnormForward(x2, this.P(p + 'post_attention_layernorm.weight'), T, D, c.normEps, h2, r2);
      const g = alloc(T * c.ffn), u = alloc(T * c.ffn), m = alloc(T * c.ffn);
      this.mm(false, true, T, c.ffn, D, h2, this.P(p + 'mlp.gate_proj.weight'), g);
      this.mm(false, true, T, c.ffn, D, h2, this.P(p + 'mlp.up_proj.weight'), u);
      K.swigluForward(g, u, m);
      const x3 = alloc(T * D);
      x3.set(x2);
      this.mm(false, true, T, D, c.ffn, m, this.P(p + 'mlp.down_proj.weight'), x3, 1);
      if (save) acts.push({ x, h1, r1, q, k, v, ao, lse, x2, h2, r2, g, u, m });
      x = x3;
    }
    return { x, acts };
  }

  private headWeight(): Float32Array {
    return this.config.tieEmbeddings ? this.P('model.embed_tokens.weight') : this.P('lm_head.weight');
  }

  /** Logits [T, vocab] of every position. */
  logits(b: PackedBatch): Float32Array {
    validateBatch(b, this.config.vocab);
    const c = this.config, T = b.tokens.length;
    const { x } = this.trunk(b, false);
    const hf = new Float32Array(T * c.dim), rf = new Float32Array(T);
    this.K.rmsnormForward(x, this.P('model.norm.weight'), T, c.dim, c.normEps, hf, rf);
    const logits = new Float32Array(T * c.vocab);
    this.mm(false, true, T, c.vocab, c.dim, hf, this.headWeight(), logits);
    return logits;
  }

  /** Sum of the loss weights of a batch (the number of counted predictions for a 0/1 mask). */
  countTargets(b: PackedBatch): number {
    return lossWeights(b).count;
  }

  /** Per-position weighted cross-entropy [T] and weights [T] (no gradient). */
  tokenLosses(b: PackedBatch): { loss: Float32Array; weight: Float32Array } {
    const c = this.config, T = b.tokens.length;
    const logits = this.logits(b);
    const { targets, weight } = lossWeights(b);
    const loss = new Float32Array(T);
    this.K.crossEntropy(logits, T, c.vocab, targets, weight, 1, loss, null);
    return { loss, weight };
  }

  /** Summed weighted cross-entropy of a batch (no gradient) and its weight total. */
  loss(b: PackedBatch): { lossSum: number; count: number } {
    const c = this.config, T = b.tokens.length;
    const logits = this.logits(b);
    const { targets, weight, count } = lossWeights(b);
    const loss = new Float32Array(T);
    this.K.crossEntropy(logits, T, c.vocab, targets, weight, 1, loss, null);
    let s = 0;
    for (let t = 0; t < T; t++) s += loss[t]!;
    return { lossSum: s, count };
  }

  /**
   * Forward + backward; gradients of (scale * summed weighted CE) are ADDED to this.grads
   * (call zeroGrads() first). Returns the unscaled loss sum and the weight total.
   */
  backward(b: PackedBatch, scale: number): { lossSum: number; count: number } {
    validateBatch(b, this.config.vocab);
    if (!this.grads) this.zeroGrads();
    const G = (n: string): Float32Array => this.grads!.get(n)!;
    const c = this.config, K = this.K, T = b.tokens.length, D = c.dim, hd = this.headDim;
    const HQ = c.heads * hd, HK = c.kvHeads * hd;
    // Every buffer of this pass comes from the pool of the previous backward (buffers of the sizes
    // it used) and goes back to it at the end: a step of the same shape allocates, zero-fills and
    // page-faults no activation memory (~5% of a training step's time went to that), and the pool
    // holds one pass's buffers, those of the latest shape.
    const pool = this.pool, used: Float32Array[] = [];
    const alloc = (n: number): Float32Array => {
      const a = pool.get(n)?.pop() ?? new Float32Array(n);
      used.push(a);
      return a;
    };
    const { x: xf, acts } = this.trunk(b, true, alloc);
    const hf = alloc(T * D), rf = alloc(T);
    K.rmsnormForward(xf, this.P('model.norm.weight'), T, D, c.normEps, hf, rf);
    const logits = alloc(T * c.vocab);
    const Wh = this.headWeight();
    this.mm(false, true, T, c.vocab, D, hf, Wh, logits);
    const { targets, weight, count } = lossWeights(b);
    const loss = alloc(T);
    K.crossEntropy(logits, T, c.vocab, targets, weight, scale, loss, logits);
    let lossSum = 0;
    for (let t = 0; t < T; t++) lossSum += loss[t]!;
    const dl = logits;
    const gHead = c.tieEmbeddings ? G('model.embed_tokens.weight') : G('lm_head.weight');
    this.mm(true, false, c.vocab, D, T, dl, hf, gHead, 1);
    const dhf = alloc(T * D);
    this.mm(false, false, T, D, c.vocab, dl, Wh, dhf);
    const dX = alloc(T * D);
    K.rmsnormBackward(dhf, xf, this.P('model.norm.weight'), rf, T, D, dX, false, G('model.norm.weight'));
    const dm = alloc(T * c.ffn), dg = alloc(T * c.ffn), du = alloc(T * c.ffn);
    const dh = alloc(T * D), dao = alloc(T * HQ);
    for (let l = c.layers - 1; l >= 0; l--) {
      const p = `model.layers.${l}.`, a = acts[l]!;
      // MLP (dX is the gradient of the layer output x3 = x2 + mlp)
      this.mm(true, false, D, c.ffn, T, dX, a.m, G(p + 'mlp.down_proj.weight'), 1);
      this.mm(false, false, T, c.ffn, D, dX, this.P(p + 'mlp.down_proj.weight'), dm);
      K.swigluBackward(a.g, a.u, dm, dg, du);
      this.mm(true, false, c.ffn, D, T, dg, a.h2, G(p + 'mlp.gate_proj.weight'), 1);
      this.mm(true, false, c.ffn, D, T, du, a.h2, G(p + 'mlp.up_proj.weight'), 1);
      this.mm(false, false, T, D, c.ffn, dg, this.P(p + 'mlp.gate_proj.weight'), dh);
      this.mm(false, false, T, D, c.ffn, du, this.P(p + 'mlp.up_proj.weight'), dh, 1);
      K.rmsnormBackward(dh, a.x2, this.P(p + 'post_attention_layernorm.weight'), a.r2, T, D, dX, true, G(p + 'post_attention_layernorm.weight'));
      // attention (dX is now the gradient of x2 = x + attn)
      this.mm(true, false, D, HQ, T, dX, a.ao, G(p + 'self_attn.o_proj.weight'), 1);
      this.mm(false, false, T, HQ, D, dX, this.P(p + 'self_attn.o_proj.weight'), dao);
      const { dq, dk, dv } = this.attention.backward(this.attnArgs(b, a.q, a.k, a.v), a.ao, a.lse, dao);
      this.rope(dq, T, c.heads, b.positionIds, true);
      this.rope(dk, T, c.kvHeads, b.positionIds, true);
      this.mm(true, false, HQ, D, T, dq, a.h1, G(p + 'self_attn.q_proj.weight'), 1);
      this.mm(true, false, HK, D, T, dk, a.h1, G(p + 'self_attn.k_proj.weight'), 1);
      this.mm(true, false, HK, D, T, dv, a.h1, G(p + 'self_attn.v_proj.weight'), 1);
      this.mm(false, false, T, D, HQ, dq, this.P(p + 'self_attn.q_proj.weight'), dh);
      this.mm(false, false, T, D, HK, dk, this.P(p + 'self_attn.k_proj.weight'), dh, 1);
      this.mm(false, false, T, D, HK, dv, this.P(p + 'self_attn.v_proj.weight'), dh, 1);
      K.rmsnormBackward(dh, a.x, this.P(p + 'input_layernorm.weight'), a.r1, T, D, dX, true, G(p + 'input_layernorm.weight'));
    }
    K.embeddingBackward(dX, b.tokens, c.vocab, D, G('model.embed_tokens.weight'));
    const next = new Map<number, Float32Array[]>();
    for (const a of used) {
      const l = next.get(a.length);
      if (l) l.push(a);
      else next.set(a.length, [a]);
    }
    this.pool = next;
    return { lossSum, count };
  }

  /** A KV-cache decoding session: full cache (default) or attention sinks + sliding window. */
  session(policy: CachePolicy = { kind: 'full' }): KVCacheSession {
    return new KVCacheSession(this, policy);
  }

  /**
   * A decoding step's scratch for n rows (the norms' outputs and the MLP's gate and up rows),
   * shared by its layers: every use writes it in full before reading it.
   */
  private stepScratch(n: number): StepScratch {
    const c = this.config;
    return { h: new Float32Array(n * c.dim), r: new Float32Array(n), g: new Float32Array(n * c.ffn), u: new Float32Array(n * c.ffn) };
  }

  /** Layer l's weight names (built once: a decoding step looks them up per layer and token). */
  private layerNames(l: number): LayerNames {
    let t = this.names[l];
    if (!t) {
      const p = `model.layers.${l}.`;
      t = this.names[l] = {
        q: p + 'self_attn.q_proj.weight', k: p + 'self_attn.k_proj.weight', v: p + 'self_attn.v_proj.weight', o: p + 'self_attn.o_proj.weight',
        inNorm: p + 'input_layernorm.weight', postNorm: p + 'post_attention_layernorm.weight',
        gate: p + 'mlp.gate_proj.weight', up: p + 'mlp.up_proj.weight', down: p + 'mlp.down_proj.weight',
      };
    }
    return t;
  }

  /** Decoding steps, after attention: x += o_proj(ao), then x += MLP(RMSNorm(x)) (n rows). */
  private stepOutAndMlp(l: number, n: number, ao: Float32Array, x: Float32Array, rows = false, s = this.stepScratch(n)): void {
    const c = this.config, K = this.K, D = c.dim, HQ = c.heads * this.headDim, w = this.layerNames(l);
    this.mmW(rows, n, D, HQ, ao, this.P(w.o), x, 1);
    K.rmsnormForward(x, this.P(w.postNorm), n, D, c.normEps, s.h, s.r);
    this.mmW(rows, n, c.ffn, D, s.h, this.P(w.gate), s.g);
    this.mmW(rows, n, c.ffn, D, s.h, this.P(w.up), s.u);
    K.swigluForward(s.g, s.u, s.g);
    this.mmW(rows, n, D, c.ffn, s.g, this.P(w.down), x, 1);
  }

  /** Final RMSNorm and output head over n rows of x: logits [n, vocab]. */
  private stepHead(x: Float32Array, n: number, rows = false): Float32Array {
    const c = this.config;
    const hf = new Float32Array(n * c.dim), rf = new Float32Array(n);
    this.K.rmsnormForward(x, this.P('model.norm.weight'), n, c.dim, c.normEps, hf, rf);
    const logits = new Float32Array(n * c.vocab);
    this.mmW(rows, n, c.vocab, c.dim, hf, this.headWeight(), logits);
    return logits;
  }

  /** A step's token embeddings [n, dim]. */
  private stepEmbed(tokens: Int32Array): Float32Array {
    const c = this.config, x = new Float32Array(tokens.length * c.dim);
    this.K.embeddingForward(this.P('model.embed_tokens.weight'), c.vocab, c.dim, tokens, x);
    return x;
  }

  /** Layer l's input RMSNorm of x (n rows) and its q, k, v projections into q, k, v (rows: gemmRows). */
  private stepQkv(l: number, n: number, x: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, rows = false, s = this.stepScratch(n)): void {
    const c = this.config, D = c.dim, hd = this.headDim, w = this.layerNames(l);
    this.K.rmsnormForward(x, this.P(w.inNorm), n, D, c.normEps, s.h, s.r);
    this.mmW(rows, n, c.heads * hd, D, s.h, this.P(w.q), q);
    this.mmW(rows, n, c.kvHeads * hd, D, s.h, this.P(w.k), k);
    this.mmW(rows, n, c.kvHeads * hd, D, s.h, this.P(w.v), v);
  }

  /**
   * @internal tests: false makes decoding steps run layer by layer in TypeScript even where the
   * native step (module step) could run them.
   */
  nativeSteps = true;

  /**
   * The native decoding step (native/src/step, one call for the whole step, the same kernels in the
   * same order: the same bits) when this step is one it runs: the CPU fused attention op, RoPE
   * applied by the model with any scaling, or in the op with a distance limit (LM-Infinite), or no
   * RoPE (ALiBi and score transforms in the op), an addon with the step module. Else null: the step
   * runs layer by layer below.
   */
  private nativeStep(n: number, L: number, tokens: Int32Array, pos0: number, cacheK: Float32Array[], cacheV: Float32Array[], shift: boolean): Float32Array | null {
    if (!this.nativeSteps || this.attention.kernels !== 'cpu') return null;
    const rope = this.position.kind === 'rope';
    const fn = (native() as unknown as { decodeStep?: (o: object) => Float32Array }).decodeStep;
    if (typeof fn !== 'function') return null;
    const c = this.config;
    // The RoPE table: a scaled RoPE's exactly where rope.ts rotate takes it, and a distance limit's
    // (RoPE in the op) always, as runtime/attention prepares it; dynamic NTK by the step's length L
    // (the largest position + 1 of its queries and of its key slots).
    const sc = this.ropeScaling, limit = rope && !this.ropeInModel ? (this.position as { limit?: number | null }).limit ?? 0 : 0;
    const tabled = limit > 0 || (rope && sc && sc.kind !== 'none' && !(sc.kind === 'dynamic' && L <= sc.originalLength));
    const table = tabled ? ropeFrequencies(this.headDim, { base: c.ropeTheta, ...(sc ? { scaling: sc } : {}), ...(sc?.kind === 'dynamic' ? { length: L } : {}) }) : undefined;
    // (with a limit the step applies its RoPE itself: the layout without the in-op position)
    const layout = this._decodeLayout(n, L), { position: _inOp, ...withoutPosition } = layout;
    const layers = [];
    for (let l = 0; l < c.layers; l++) {
      const w = this.layerNames(l), P = (x: string): Float32Array => this.P(x);
      layers.push({ wq: P(w.q), wk: P(w.k), wv: P(w.v), wo: P(w.o), inNorm: P(w.inNorm), postNorm: P(w.postNorm), gate: P(w.gate), up: P(w.up), down: P(w.down), cacheK: cacheK[l]!, cacheV: cacheV[l]! });
    }
    return fn({
      tokens, pos0, shift: shift && rope, dim: c.dim, heads: c.heads, kvHeads: c.kvHeads, headDim: this.headDim, ffn: c.ffn, vocab: c.vocab, eps: c.normEps,
      theta: rope ? c.ropeTheta : 0, ...(table ? { ropeInvFreq: table.invFreq, ropeMscale: table.mscale } : {}), ...(limit > 0 ? { limit } : {}), embed: this.P('model.embed_tokens.weight'), norm: this.P('model.norm.weight'), head: this.headWeight(), layers,
      attn: attentionLayout(layoutInput(limit > 0 ? withoutPosition : layout)),
    });
  }

  /** @internal used by KVCacheSession */
  _decodeStep(tokens: Int32Array, pos0: number, cacheK: Float32Array[], cacheV: Float32Array[], shiftPositions = false): Float32Array {
    const fast = this.nativeStep(tokens.length, pos0 + tokens.length, tokens, pos0, cacheK, cacheV, shiftPositions);
    if (fast) return fast;
    const c = this.config, n = tokens.length, hd = this.headDim;
    const HQ = c.heads * hd, HK = c.kvHeads * hd, L = pos0 + n;
    const positions = Int32Array.from({ length: n }, (_, i) => pos0 + i);
    const x = this.stepEmbed(tokens);
    // one scratch set, query buffer and attention layout for all layers (each layer writes them in full)
    const s = this.stepScratch(n), q = new Float32Array(n * HQ), layout = this._decodeLayout(n, L);
    for (let l = 0; l < c.layers; l++) {
      const k = cacheK[l]!.subarray(pos0 * HK, L * HK), v = cacheV[l]!.subarray(pos0 * HK, L * HK);
      this.stepQkv(l, n, x, q, k, v, false, s);
      this.rope(q, n, c.heads, positions, false);
      let kAll: Float32Array;
      if (shiftPositions && this.ropeInModel) {
        // keys are cached before RoPE and rotated by their current cache slot (position shift)
        kAll = cacheK[l]!.slice(0, L * HK);
        this.rope(kAll, L, c.kvHeads, Int32Array.from({ length: L }, (_, i) => i), false);
      } else {
        // (in-op positions: keys stay unrotated and the op places them at their slot index)
        this.rope(k, n, c.kvHeads, positions, false);
        kAll = cacheK[l]!.subarray(0, L * HK);
      }
      const { out: ao } = this.attention.forward({ q, k: kAll, v: cacheV[l]!.subarray(0, L * HK), ...layout });
      this.stepOutAndMlp(l, n, ao, x, false, s);
    }
    return this.stepHead(x, n);
  }

  /** Rows of one _decodeBatch at most (kernels gemmRows' row-stable range). */
  readonly batchRows = 16;

  /**
   * @internal one decoding step of B sequences at once (runtime/model/batch.ts): sequence b appends
   * tokens[b] at slot seqs[b].pos0 of its cache (seqs[b].shift: keys cached before RoPE and rotated
   * by slot, as _decodeStep's shiftPositions) and gets the logits after it, row b of [B, vocab]. The
   * projections, MLPs and head run once over the B rows, so the weights stream from memory once per
   * step, not once per sequence; their GEMMs are row-stable (kernels gemmRows) and RoPE, the norms
   * and the attention (per sequence, in one native call where the op has forwardMany) work per row,
   * so every row has exactly the bits of its sequence's own _decodeStep (B <= batchRows).
   */
  _decodeBatch(tokens: Int32Array, seqs: readonly BatchSeq[]): Float32Array {
    const c = this.config, n = tokens.length, hd = this.headDim;
    const HQ = c.heads * hd, HK = c.kvHeads * hd;
    if (seqs.length !== n || n === 0 || n > this.batchRows) throw Object.assign(new Error(`_decodeBatch: ${n} tokens for ${seqs.length} sequences (1..${this.batchRows})`), { code: 'LMP_E_ARG' });
    const positions = Int32Array.from(seqs, (q) => q.pos0);
    // row b of t [n, heads, hd] rotated at its own position, as its sequence's step does
    const ropeRow = (t: Float32Array, heads: number, b: number): void =>
      this.rope(t.subarray(b * heads * hd, (b + 1) * heads * hd), 1, heads, positions.subarray(b, b + 1), false);
    // all rows (dynamic NTK scales by the call's largest position: then one row at a time)
    const ropeAll = (t: Float32Array, heads: number): void => {
      if (this.ropeScaling?.kind !== 'dynamic') this.rope(t, n, heads, positions, false);
      else for (let b = 0; b < n; b++) ropeRow(t, heads, b);
    };
    // sinks + window rows: keys cached before RoPE, all of them rotated by slot 0..L-1 each step
    const shifted = seqs.map((s) => s.shift && this.ropeInModel), anyShift = shifted.some(Boolean);
    const x = this.stepEmbed(tokens);
    const scratch = this.stepScratch(n);
    for (let l = 0; l < c.layers; l++) {
      const q = new Float32Array(n * HQ), k = new Float32Array(n * HK), v = new Float32Array(n * HK);
      this.stepQkv(l, n, x, q, k, v, true, scratch);
      ropeAll(q, c.heads);
      if (!anyShift) ropeAll(k, c.kvHeads);
      else
        shifted.forEach((sh, b) => {
          if (!sh) ropeRow(k, c.kvHeads, b);
        });
      const calls = seqs.map((s, b) => {
        const L = s.pos0 + 1;
        s.cacheK[l]!.set(k.subarray(b * HK, (b + 1) * HK), s.pos0 * HK);
        s.cacheV[l]!.set(v.subarray(b * HK, (b + 1) * HK), s.pos0 * HK);
        let kAll = s.cacheK[l]!.subarray(0, L * HK);
        if (shifted[b]) {
          kAll = kAll.slice();
          this.rope(kAll, L, c.kvHeads, Int32Array.from({ length: L }, (_, i) => i), false);
        }
        return { q: q.subarray(b * HQ, (b + 1) * HQ), k: kAll, v: s.cacheV[l]!.subarray(0, L * HK), ...this._decodeLayout(1, L) };
      });
      // one native call for the batch's attention where the op has it (the fused CPU kernels)
      const outs = this.attention.forwardMany ? this.attention.forwardMany(calls) : calls.map((a) => this.attention.forward(a));
      const ao = new Float32Array(n * HQ);
      outs.forEach((o, b) => ao.set(o.out, b * HQ));
      this.stepOutAndMlp(l, n, ao, x, true, scratch);
    }
    return this.stepHead(x, n, true);
  }

  /**
   * @internal one decoding step over a selected key set (cache.ts: InfLLM). The new tokens' keys
   * and values (before RoPE) are written at slots [base, base + n) of `storeK/storeV` (per layer,
   * [slots, kvHeads * headDim]); `select(l, qPre)` sees the new tokens' queries before RoPE and
   * returns ascending slots to attend to, ending with base..base+n-1. The gathered keys are rotated
   * by their index in the selection (positions 0..S-1), the queries by S-n..S-1, causal.
   */
  _selectStep(tokens: Int32Array, base: number, storeK: Float32Array[], storeV: Float32Array[], select: (l: number, qPre: Float32Array) => Int32Array): Float32Array {
    const c = this.config, n = tokens.length, hd = this.headDim;
    const HQ = c.heads * hd, HK = c.kvHeads * hd;
    const x = this.stepEmbed(tokens);
    for (let l = 0; l < c.layers; l++) {
      const q = new Float32Array(n * HQ);
      this.stepQkv(l, n, x, q, storeK[l]!.subarray(base * HK, (base + n) * HK), storeV[l]!.subarray(base * HK, (base + n) * HK));
      const sel = select(l, q);
      const S = sel.length;
      const kS = new Float32Array(S * HK), vS = new Float32Array(S * HK);
      for (let i = 0; i < S; i++) {
        const s = sel[i]!;
        kS.set(storeK[l]!.subarray(s * HK, (s + 1) * HK), i * HK);
        vS.set(storeV[l]!.subarray(s * HK, (s + 1) * HK), i * HK);
      }
      this.rope(kS, S, c.kvHeads, Int32Array.from({ length: S }, (_, i) => i), false);
      this.rope(q, n, c.heads, Int32Array.from({ length: n }, (_, i) => S - n + i), false);
      const cuK = Int32Array.of(0, S);
      const { out: ao } = this.attention.forward({
        q, k: kS, v: vS, heads: c.heads, kvHeads: c.kvHeads, headDim: hd,
        cuSeqlensQ: Int32Array.of(0, n), cuSeqlensK: cuK, qOffset: S - n, ...this.attnExtra(cuK),
      });
      this.stepOutAndMlp(l, n, ao, x);
    }
    return this.stepHead(x, n);
  }

  /**
   * @internal a packed forward that keeps every layer's keys (after RoPE at the batch's positions)
   * and values, and the logits of the requested rows: prefill with prepacking (prefill.ts).
   */
  _forwardKV(b: PackedBatch, rows: Int32Array): { k: Float32Array[]; v: Float32Array[]; logits: Float32Array } {
    validateBatch(b, this.config.vocab);
    const c = this.config, n = rows.length;
    const { x, acts } = this.trunk(b, true);
    const xs = new Float32Array(n * c.dim);
    for (let i = 0; i < n; i++) xs.set(x.subarray(rows[i]! * c.dim, (rows[i]! + 1) * c.dim), i * c.dim);
    return { k: acts.map((a) => a.k), v: acts.map((a) => a.v), logits: this.stepHead(xs, n) };
  }
}

/**
 * KV-cache policies. full: every position, RoPE at absolute positions. sinks_window
 * (StreamingLLM): the first `sinks` tokens plus the latest `window` tokens; keys are cached
 * before RoPE and rotated by their slot in the cache (positions shift as tokens are evicted),
 * so memory and time per token stay flat however long the generation runs.
 */
export type CachePolicy = { readonly kind: 'full' } | { readonly kind: 'sinks_window'; readonly sinks: number; readonly window: number };

/** One sequence of a batched decoding step (LlamaModel._decodeBatch): its cache and the slot of its new token. */
export interface BatchSeq {
  readonly pos0: number;
  readonly cacheK: Float32Array[];
  readonly cacheV: Float32Array[];
  /** keys cached before RoPE, rotated by slot each step (sinks_window) */
  readonly shift: boolean;
}

/**
 * Incremental decoding over one sequence (one document). next(tokens) appends the tokens and
 * returns the logits [vocab] after the last one; nextAll returns the logits of every appended
 * token [n, vocab]. `length` is the number of cached positions, `seen` the tokens consumed.
 */
export class KVCacheSession {
  private cacheK: Float32Array[] = [];
  private cacheV: Float32Array[] = [];
  private cap = 0;
  length = 0;
  seen = 0;
  /** the tokens whose keys/values are in the cache, in slot order */
  readonly cachedTokens: number[] = [];

  constructor(readonly model: LlamaModel, readonly policy: CachePolicy = { kind: 'full' }) {
    if (policy.kind === 'sinks_window' && !(Number.isInteger(policy.sinks) && policy.sinks >= 0 && Number.isInteger(policy.window) && policy.window >= 1))
      throw Object.assign(new Error('sinks_window: sinks must be >= 0 and window >= 1 (integers)'), { code: 'LMP_E_ARG' });
  }

  /** Drop the oldest non-sink slot (sinks_window). */
  private evictOne(): void {
    if (this.policy.kind !== 'sinks_window') return;
    const HK = this.model.config.kvHeads * this.model.headDim, g = this.policy.sinks;
    for (let l = 0; l < this.model.config.layers; l++) {
      this.cacheK[l]!.copyWithin(g * HK, (g + 1) * HK, this.length * HK);
      this.cacheV[l]!.copyWithin(g * HK, (g + 1) * HK, this.length * HK);
    }
    this.cachedTokens.splice(g, 1);
    this.length--;
  }

  private ensure(n: number): void {
    if (n <= this.cap) return;
    const c = this.model.config, HK = c.kvHeads * this.model.headDim;
    const cap = Math.max(n, this.cap * 2, 64);
    for (let l = 0; l < c.layers; l++) {
      const k = new Float32Array(cap * HK), v = new Float32Array(cap * HK);
      if (this.cacheK[l]) {
        k.set(this.cacheK[l]!.subarray(0, this.length * HK));
        v.set(this.cacheV[l]!.subarray(0, this.length * HK));
      }
      this.cacheK[l] = k;
      this.cacheV[l] = v;
    }
    this.cap = cap;
  }

  nextAll(tokens: Int32Array): Float32Array {
    const V = this.model.config.vocab;
    for (const t of tokens) if (t < 0 || t >= V) throw Object.assign(new Error(`token ${t} outside the vocabulary (${V})`), { code: 'LMP_E_TOKEN' });
    if (this.policy.kind === 'full') {
      this.ensure(this.length + tokens.length);
      const logits = this.model._decodeStep(tokens, this.length, this.cacheK, this.cacheV);
      this.length += tokens.length;
      this.seen += tokens.length;
      for (const t of tokens) this.cachedTokens.push(t);
      return logits;
    }
    const cap = this.policy.sinks + this.policy.window;
    this.ensure(cap);
    const out = new Float32Array(tokens.length * V);
    let i = 0;
    while (i < tokens.length) {
      if (this.length === cap) this.evictOne();
      const n = Math.min(tokens.length - i, cap - this.length);
      const chunk = tokens.subarray(i, i + n);
      out.set(this.model._decodeStep(chunk, this.length, this.cacheK, this.cacheV, true), i * V);
      this.length += n;
      this.seen += n;
      for (const t of chunk) this.cachedTokens.push(t);
      i += n;
    }
    return out;
  }

  next(tokens: Int32Array): Float32Array {
    if (tokens.length === 0) throw Object.assign(new Error('next: no tokens'), { code: 'LMP_E_ARG' });
    const all = this.nextAll(tokens), V = this.model.config.vocab;
    return all.slice((tokens.length - 1) * V);
  }

  /** Its single-token steps can join batched steps (runtime/model/batch.ts): every policy it has. */
  get batchable(): boolean {
    return true;
  }
  /** @internal the batched step's engine: the model */
  _batchEngine(): LlamaModel {
    return this.model;
  }

  /**
   * @internal the slot of one more token in a batched step (runtime/model/batch.ts), as nextAll
   * would place it (room made, the oldest non-sink slot evicted when a sinks_window cache is full);
   * _commitOne(token) after the step records it.
   */
  _prepareOne(token: number): BatchSeq {
    const V = this.model.config.vocab;
    if (!Number.isInteger(token) || token < 0 || token >= V) throw Object.assign(new Error(`token ${token} outside the vocabulary (${V})`), { code: 'LMP_E_TOKEN' });
    if (this.policy.kind === 'full') this.ensure(this.length + 1);
    else {
      const cap = this.policy.sinks + this.policy.window;
      this.ensure(cap);
      if (this.length === cap) this.evictOne();
    }
    return { pos0: this.length, cacheK: this.cacheK, cacheV: this.cacheV, shift: this.policy.kind !== 'full' };
  }

  /** @internal see _prepareOne */
  _commitOne(token: number): void {
    this.length++;
    this.seen++;
    this.cachedTokens.push(token);
  }

  reset(): void {
    this.length = 0;
    this.seen = 0;
    this.cachedTokens.length = 0;
  }

  /**
   * @internal start a full-cache session from computed keys (after RoPE at positions 0..n-1) and
   * values, per layer [n, kvHeads * headDim] (prefill.ts: the split of a prepacked prefill).
   */
  _load(k: Float32Array[], v: Float32Array[], tokens: ArrayLike<number>): void {
    if (this.policy.kind !== 'full') throw Object.assign(new Error('_load: only a full cache can be loaded'), { code: 'LMP_E_ARG' });
    const n = tokens.length, HK = this.model.config.kvHeads * this.model.headDim;
    this.reset();
    this.ensure(n);
    for (let l = 0; l < this.model.config.layers; l++) {
      this.cacheK[l]!.set(k[l]!.subarray(0, n * HK));
      this.cacheV[l]!.set(v[l]!.subarray(0, n * HK));
    }
    this.length = n;
    this.seen = n;
    for (let i = 0; i < n; i++) this.cachedTokens.push(tokens[i]!);
  }

  /** Forget every position from n on (the next tokens overwrite them). */
  truncate(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.length)
      throw Object.assign(new Error(`truncate: ${n} is outside [0, ${this.length}]`), { code: 'LMP_E_ARG' });
    if (this.policy.kind !== 'full' && n !== this.length && this.seen !== this.length)
      throw Object.assign(new Error('truncate: positions were evicted; cannot rewind a sinks_window cache'), { code: 'LMP_E_ARG' });
    this.length = n;
    this.seen = n;
    this.cachedTokens.length = n;
  }
}
