// The Llama model's training step on a CUDA device (issue 14): the forward and backward of
// llama.ts, layer for layer, over device tensors (native/cuda/model's CudaTensor and layer
// kernels, cuBLAS GEMMs, native/cuda/attention's fused kernels through a CudaAttentionPlan), then
// global-norm clipping and AdamW on the device. The host keeps the data runtime, the LR schedule,
// logging and checkpoints (train.ts): parameters and AdamW moments come back to the host only
// for a checkpoint, an eval or the end of the run (syncToHost), in the CPU trainer's layout, so
// either backend resumes the other's checkpoints.
//
// Precision: 'bf16' (default) keeps fp32 master weights, gradients and optimizer state, GEMMs read
// bf16 copies (written by AdamW's pass) and bf16 activations with fp32 accumulation; the residual
// stream, the logits and the loss stay fp32. 'f32' runs every GEMM and activation in fp32. The
// attention kernels take bf16 q/k/v in both (rounded on the way in; their gradients are fp32).
//
// LM-Infinite (RoPE with a distance limit): the kernels have no per-pair choice of scores, so each
// attention is two plans, the mask split at the limit (runtime/attention limitMasks: near with the
// rotated q, k; far with q rotated at the limit and k at 0), combined by their lse
// (cudaAttnCombine); the backward runs both with the combined out and lse. Decoding caches the
// keys before RoPE and rotates them by slot every step (as sinks + window does), one sequence at a
// time (no batched steps); InfLLM with a limit is refused.
//
// Not on CUDA (LMP_E_CONFIG_UNSUPPORTED, at construction): head dims other than 32, 64, 128. Out of
// device memory: LMP_E_CUDA_OOM, saying how much.
import { attentionLayout, limitMasks, ropeFrequencies } from '../attention/index.js';
import type { DeviceDraw } from '../decode/decoder.js';
import { dynamicLength } from '../attention/positions.js';
import { native } from '../native.js';
import { type InfLLMPolicy, InfLLMState, SirLLMState, type SirLLMPolicy } from './cache.js';
import { cudaDevices } from './cuda-attention.js';
import type { AttentionArgs } from './attention.js';
import { layoutInput } from './fused.js';
import { type CachePolicy, type LlamaModel, lossWeights, type PackedBatch, validateBatch } from './llama.js';

type DType = 'f32' | 'bf16' | 'i32' | 'f64';
type Typed = Float32Array | Int32Array | Float64Array | Uint16Array;

/** A device tensor (native/cuda/model/bindings.cc). */
export interface CudaTensor {
  readonly dtype: DType;
  readonly length: number;
  readonly freed: boolean;
  upload(a: Typed, offset?: number): void;
  download(asFloat32?: boolean): Typed;
  free(): void;
  /** elements [offset, offset + length), no copy; `dtype` of the same element size reinterprets the bytes */
  view(offset: number, length: number, dtype?: DType): CudaTensor;
}

interface CudaPlan {
  forward(q: CudaTensor, k: CudaTensor, v: CudaTensor, out: CudaTensor, lse: CudaTensor): void;
  backward(q: CudaTensor, k: CudaTensor, v: CudaTensor, o: CudaTensor, dout: CudaTensor, lse: CudaTensor, dq: CudaTensor, dk: CudaTensor, dv: CudaTensor, deterministic: boolean): void;
  free(): void;
}

type T = CudaTensor;
interface CudaAddon {
  CudaTensor: new (dtype: DType, n: number) => CudaTensor;
  CudaAttentionPlan: new (options: object) => CudaPlan;
  cudaEmbeddingForward(table: T, vocab: number, dim: number, tokens: T, out: T): void;
  cudaEmbeddingIndex(tokens: Int32Array, vocab: number): Int32Array;
  cudaEmbeddingBackward(dout: T, index: T, n: number, vocab: number, dim: number, dtable: T): void;
  cudaRmsnormForward(x: T, w: T, rows: number, dim: number, eps: number, y: T, rstd: T): void;
  cudaRmsnormBackward(dy: T, x: T, w: T, rstd: T, rows: number, dim: number, dx: T, accumulate: boolean, dw: T): void;
  cudaAttnCombine(oa: T, la: T, ob: T, lb: T, rows: number, headDim: number, out: T, lse: T): void;
  cudaAddInplace(y: T, x: T): void;
  cudaSwigluForward(g: T, u: T, h: T): void;
  cudaSwigluBackward(g: T, u: T, dh: T, dg: T, du: T): void;
  cudaCrossEntropy(logits: T, rows: number, vocab: number, targets: T, weight: T, scale: number, loss: T, dlogits: T | null): void;
  cudaRope(x: T, n: number, heads: number, headDim: number, positions: T, invFreq: T, mscale: number, inverse: boolean): void;
  cudaDrawRow(logits: T, row: number, vocab: number, mode: number, scale: number, u: number, eos: number, eosBias: number, topK?: number, post?: number, minP?: number): number;
  cudaRopeInvFreq(headDim: number, theta: number): Float64Array;
  cudaAdamw(p: T, g: T, m: T, v: T, lr: number, b1: number, b2: number, eps: number, wd: number, step: number, gradScale: number, scale: T | null, scaleIndex: number, pBf16: T | null): void;
  cudaReduceSum(x: T, squares: boolean, out: T, slot: number): void;
  cudaClipScale(ss: T, count: number, clip: number, out: T): void;
  cudaGemm(o: { transA?: boolean; transB?: boolean; M: number; N: number; K: number; alpha?: number; beta?: number }, A: T, B: T, C: T): void;
  cudaConvert(src: T, dst: T): void;
  cudaZero(t: T): void;
  cudaSynchronize(): void;
  /** the arrays back to back into dst (i32 / f32) through page-locked staging: one host copy, one transfer */
  cudaUploadParts(dst: T, parts: readonly (Int32Array | Float32Array)[]): void;
}

const unsupported = (m: string): Error => Object.assign(new Error(m), { code: 'LMP_E_CONFIG_UNSUPPORTED' });

/** The addon's CUDA model functions, or LMP_E_NO_DEVICE saying why there is no device. */
export function cudaAddon(): CudaAddon {
  const dev = cudaDevices();
  if (dev.count === 0) throw Object.assign(new Error(`backend cuda: no CUDA device (${dev.why ?? 'none found'}); use --backend cpu or auto`), { code: 'LMP_E_NO_DEVICE' });
  const a = native() as unknown as Partial<CudaAddon>;
  if (typeof a.CudaTensor !== 'function' || typeof a.CudaAttentionPlan !== 'function' || typeof a.cudaGemm !== 'function' || typeof a.cudaZero !== 'function' || typeof a.cudaUploadParts !== 'function')
    throw Object.assign(new Error('backend cuda: this addon has no CUDA model layers (rebuild with npm run build:cuda)'), { code: 'LMP_E_NO_DEVICE' });
  return a as CudaAddon;
}

export interface CudaModelOptions {
  /** 'bf16' (default): bf16 GEMM operands and activations, fp32 master weights; 'f32': fp32 throughout */
  readonly precision?: 'bf16' | 'f32';
  /** fixed-order attention dQ (identical bits every run); default true */
  readonly deterministic?: boolean;
  /** false: inference only (no gradients or optimizer state on the device); default true */
  readonly train?: boolean;
}

export interface AdamwSettings {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** decoupled weight decay of a parameter (by its name) */
  readonly decay: (name: string) => number;
  /** 1-based step (bias correction) */
  readonly step: number;
  /** global-norm clip; 0 = none */
  readonly clip: number;
}

/** Buffers of one layer's forward, kept for its backward. */
interface LayerActs {
  x: T; h1: T; r1: T; q: T; k: T; v: T; qb: T; kb: T; vb: T; ao: T; aoA: T; lse: T; x2: T; h2: T; r2: T; g: T; u: T; m: T;
  /** LM-Infinite: the far call's queries and keys (bf16; qFar rotated at the limit, kFar at 0), the keys before RoPE (act dtype) */
  qFb?: T; kFb?: T; kRaw?: T;
}

/**
 * An LM-Infinite batch's far call (runtime/attention limitMasks): the plan of mask & not(window(L + 1))
 * and the positions qFar and kFar are rotated at (L and 0 for every token, i32 on the device).
 */
interface FarCall {
  plan: CudaPlan;
  atLimit: T;
  atZero: T;
}

/** The plans of a call in progress, freed by the caller (set as soon as they exist). */
interface HeldPlans {
  plan?: CudaPlan;
  far?: FarCall;
}

/**
 * The device copy of a LlamaModel being trained: master weights (from model.params), gradients,
 * AdamW moments, and the step's activations.
 */
export class CudaLlama {
  readonly precision: 'bf16' | 'f32';
  private readonly A: CudaAddon;
  private readonly act: 'bf16' | 'f32';
  private readonly names: string[];
  private readonly p = new Map<string, T>();
  /** bf16 copies of the GEMM weights (precision bf16) */
  private readonly w = new Map<string, T>();
  private readonly g = new Map<string, T>();
  private readonly m = new Map<string, T>();
  private readonly v = new Map<string, T>();
  private readonly ss: T;
  private readonly clipOut: T;
  private readonly lossOut: T;
  private lossSlots = 0;
  private readonly deterministic: boolean;
  /** LM-Infinite's RoPE distance limit (0: none): attention as the near and far calls of limitMasks */
  readonly limit: number;
  /** the buffers of the call in progress (back to the pool at its end; views are detached) */
  private scratch: T[] = [];
  private views: T[] = [];
  /**
   * Buffers of the previous call by dtype and length, reused by the next one: a step of the same
   * shape allocates nothing (cudaMalloc and cudaFree synchronize the device). Buffers a call did
   * not reuse are freed at its end, so a change of shape (another bucket length) frees the old set.
   */
  private pool = new Map<string, T[]>();
  /** device allocations made by this object's calls (scratch; not the weights): a test's measure */
  allocations = 0;
  private freed = false;

  constructor(readonly model: LlamaModel, opts: CudaModelOptions = {}) {
    this.A = cudaAddon();
    this.precision = opts.precision ?? 'bf16';
    this.act = this.precision;
    this.deterministic = opts.deterministic ?? true;
    const hd = model.headDim, pos = model.position;
    if (hd !== 32 && hd !== 64 && hd !== 128) throw unsupported(`backend cuda: head dim ${hd} (dim / heads) is not on CUDA (32, 64 or 128); use --backend cpu`);
    this.limit = pos.kind === 'rope' && !model.ropeInModelApplied ? pos.limit ?? 0 : 0;
    this.names = [...model.params.keys()];
    const allocated: T[] = [];
    try {
      for (const n of this.names) {
        const host = model.params.get(n)!;
        const mk = (d: DType): T => {
          const t = new this.A.CudaTensor(d, host.length);
          allocated.push(t);
          return t;
        };
        this.p.set(n, mk('f32'));
        if (opts.train !== false) {
          this.g.set(n, mk('f32'));
          this.m.set(n, mk('f32'));
          this.v.set(n, mk('f32'));
        }
        if (this.act === 'bf16' && !n.endsWith('norm.weight')) this.w.set(n, mk('bf16'));
      }
      this.ss = new this.A.CudaTensor('f64', this.names.length);
      this.clipOut = new this.A.CudaTensor('f64', 2);
      this.lossOut = new this.A.CudaTensor('f64', 64);
    } catch (e) {
      for (const t of allocated) t.free();
      throw e;
    }
    this.uploadParams();
  }

  /** Copies model.params to the device (and the bf16 GEMM copies). */
  uploadParams(): void {
    for (const n of this.names) {
      this.p.get(n)!.upload(this.model.params.get(n)!);
      const c = this.w.get(n);
      if (c) this.A.cudaConvert(this.p.get(n)!, c);
    }
  }

  /** Copies the AdamW moments to the device (a resumed run). */
  uploadMoments(m: ReadonlyMap<string, Float32Array>, v: ReadonlyMap<string, Float32Array>): void {
    for (const n of this.names) {
      this.m.get(n)!.upload(m.get(n)!);
      this.v.get(n)!.upload(v.get(n)!);
    }
  }

  /** Parameters into model.params, and the moments into m / v when given (checkpoints, evals). */
  syncToHost(m?: Map<string, Float32Array>, v?: Map<string, Float32Array>): void {
    for (const n of this.names) {
      this.model.params.get(n)!.set(this.p.get(n)!.download() as Float32Array);
      if (m) m.get(n)!.set(this.m.get(n)!.download() as Float32Array);
      if (v) v.get(n)!.set(this.v.get(n)!.download() as Float32Array);
    }
  }

  /** The device gradients (tests; f32 copies). */
  gradients(): Map<string, Float32Array> {
    return new Map(this.names.map((n) => [n, this.g.get(n)!.download() as Float32Array]));
  }

  zeroGrads(): void {
    for (const t of this.g.values()) this.A.cudaZero(t); // a device memset: no host copy
    this.lossSlots = 0;
  }

  private tmp(d: DType, n: number): T {
    const free = this.pool.get(d + ':' + n);
    let t = free?.pop();
    if (!t) {
      t = new this.A.CudaTensor(d, n);
      this.allocations++;
    }
    this.scratch.push(t);
    return t;
  }
  /**
   * Several 4-byte arrays (a batch's tokens, positions, targets, loss weights, embedding index) in
   * ONE upload: one i32 buffer and a view of each part (f32 parts as f32 views of the same bytes).
   */
  private upAll(parts: readonly (Int32Array | Float32Array)[]): T[] {
    let n = 0;
    for (const p of parts) n += p.length;
    const all = this.tmp('i32', n);
    this.A.cudaUploadParts(all, parts); // one copy into page-locked staging, one transfer
    let o = 0;
    return parts.map((p) => {
      const v = this.keep(all.view(o, p.length, p instanceof Int32Array ? 'i32' : 'f32'));
      o += p.length;
      return v;
    });
  }
  private up(a: Int32Array | Float32Array | Float64Array): T {
    const t = this.tmp(a instanceof Int32Array ? 'i32' : a instanceof Float64Array ? 'f64' : 'f32', a.length);
    t.upload(a);
    return t;
  }
  /** x as the GEMM operand type: itself, or a bf16 copy */
  private asAct(x: T): T {
    if (x.dtype === this.act) return x;
    const c = this.tmp(this.act, x.length);
    this.A.cudaConvert(x, c);
    return c;
  }
  private toBf16(x: T): T {
    if (x.dtype === 'bf16') return x;
    const c = this.tmp('bf16', x.length);
    this.A.cudaConvert(x, c);
    return c;
  }
  private releaseScratch(): void {
    for (const t of this.views) t.free();
    this.views = [];
    for (const list of this.pool.values()) for (const t of list) t.free(); // not reused by this call
    this.pool.clear();
    for (const t of this.scratch) {
      const k = t.dtype + ':' + t.length;
      let list = this.pool.get(k);
      if (!list) this.pool.set(k, (list = []));
      list.push(t);
    }
    this.scratch = [];
  }
  private W(n: string): T {
    return this.w.get(n) ?? this.p.get(n)!;
  }
  /** row-major C[M,N] = op(A) op(B) (+ C when beta = 1), lmp::sgemm's convention */
  private mm(ta: boolean, tb: boolean, M: number, N: number, K: number, a: T, b: T, c: T, beta = 0): void {
    this.A.cudaGemm({ transA: ta, transB: tb, M, N, K, beta }, a, b, c);
  }

  /** RoPE frequencies for a batch's positions, as rope.ts rotates on the CPU. */
  private ropeTables(positions: Int32Array): { invFreq: T; mscale: number } | undefined {
    const model = this.model;
    if (!model.ropeInModelApplied && this.limit === 0) return undefined;
    const hd = model.headDim, theta = model.config.ropeTheta, s = model.ropeScaling;
    if (!s || s.kind === 'none' || (s.kind === 'dynamic' && dynamicLength(positions) <= s.originalLength))
      return { invFreq: this.up(this.A.cudaRopeInvFreq(hd, theta)), mscale: 1 };
    const length = s.kind === 'dynamic' ? { length: dynamicLength(positions) } : {};
    const f = ropeFrequencies(hd, { base: theta, scaling: s, ...length });
    return { invFreq: this.up(Float64Array.from(f.invFreq)), mscale: f.mscale };
  }

  /**
   * A call's attention plan (nq queries, nk keys), and with a distance limit the far call's: the
   * CUDA kernels have no per-pair choice of scores, so the call's mask is split at the limit
   * (limitMasks) into the pairs scored from the rotated q, k (this plan) and those scored from
   * qFar, kFar (far).
   */
  private plans(args: Omit<AttentionArgs, 'q' | 'k' | 'v'>, nq: number, nk: number): { plan: CudaPlan; far?: FarCall } {
    const A = this.A, lay = layoutInput(args);
    if (this.limit === 0) return { plan: new A.CudaAttentionPlan({ ...attentionLayout(lay), dtype: 'bf16' }) };
    const { near, far } = limitMasks(lay.mask, this.limit);
    const plain = { ...lay, position: { kind: 'none' } as const };
    const plan = new A.CudaAttentionPlan({ ...attentionLayout({ ...plain, mask: near }), dtype: 'bf16' });
    try {
      const [atLimit, atZero] = this.upAll([new Int32Array(nq).fill(this.limit), new Int32Array(nk)]);
      return { plan, far: { plan: new A.CudaAttentionPlan({ ...attentionLayout({ ...plain, mask: far }), dtype: 'bf16' }), atLimit: atLimit!, atZero: atZero! } };
    } catch (e) {
      plan.free();
      throw e;
    }
  }

  /**
   * LM-Infinite's far call over the device: q rotated at the limit (in place: the caller's q before
   * RoPE, a copy only the far call uses) and k at 0 into a new buffer, as bf16, its attention, and
   * its output combined into ao / the returned lse by cudaAttnCombine.
   */
  private farAttention(far: FarCall, rope: { invFreq: T; mscale: number }, qF: T, nq: number, k: T, nk: number, v: T, ao: T, lse: T): { qFb: T; kFb: T; lse: T } {
    const c = this.model.config, A = this.A, hd = this.model.headDim;
    const kF = this.tmp(k.dtype, nk * c.kvHeads * hd);
    A.cudaConvert(k, kF);
    A.cudaRope(qF, nq, c.heads, hd, far.atLimit, rope.invFreq, rope.mscale, false);
    A.cudaRope(kF, nk, c.kvHeads, hd, far.atZero, rope.invFreq, rope.mscale, false);
    const qFb = this.toBf16(qF), kFb = this.toBf16(kF);
    const aoF = this.tmp('bf16', nq * c.heads * hd), lseF = this.tmp('f32', nq * c.heads), lseAll = this.tmp('f32', nq * c.heads);
    far.plan.forward(qFb, kFb, v, aoF, lseF);
    A.cudaAttnCombine(ao, lse, aoF, lseF, nq * c.heads, hd, ao, lseAll);
    return { qFb, kFb, lse: lseAll };
  }

  /** The decoder layers over a packed batch (device inputs uploaded): the last hidden state and every layer's saved buffers. */
  private trunk(b: PackedBatch, tokens: T, positions: T, rope: { invFreq: T; mscale: number } | undefined, plan: CudaPlan, far?: FarCall): { x: T; acts: LayerActs[] } {
    const model = this.model, c = model.config, A = this.A, act = this.act;
    const Tn = b.tokens.length, D = c.dim, hd = model.headDim, HQ = c.heads * hd, HK = c.kvHeads * hd, F = c.ffn, V = c.vocab;
    const P = (n: string): T => this.p.get(n)!;
    let x = this.tmp('f32', Tn * D);
    A.cudaEmbeddingForward(P('model.embed_tokens.weight'), V, D, tokens, x);
    const acts: LayerActs[] = [];
    for (let l = 0; l < c.layers; l++) {
      const p = `model.layers.${l}.`;
      const h1 = this.tmp(act, Tn * D), r1 = this.tmp('f32', Tn);
      A.cudaRmsnormForward(x, P(p + 'input_layernorm.weight'), Tn, D, c.normEps, h1, r1);
      const q = this.tmp(act, Tn * HQ), k = this.tmp(act, Tn * HK), v = this.tmp(act, Tn * HK);
      this.mm(false, true, Tn, HQ, D, h1, this.W(p + 'self_attn.q_proj.weight'), q);
      this.mm(false, true, Tn, HK, D, h1, this.W(p + 'self_attn.k_proj.weight'), k);
      this.mm(false, true, Tn, HK, D, h1, this.W(p + 'self_attn.v_proj.weight'), v);
      // LM-Infinite: q and k before RoPE for the far call (and the keys a prefilled cache keeps)
      let qRaw: T | undefined, kRaw: T | undefined;
      if (far) {
        qRaw = this.tmp(act, Tn * HQ);
        kRaw = this.tmp(act, Tn * HK);
        A.cudaConvert(q, qRaw);
        A.cudaConvert(k, kRaw);
      }
      if (rope) {
        A.cudaRope(q, Tn, c.heads, hd, positions, rope.invFreq, rope.mscale, false);
        A.cudaRope(k, Tn, c.kvHeads, hd, positions, rope.invFreq, rope.mscale, false);
      }
      const qb = this.toBf16(q), kb = this.toBf16(k), vb = this.toBf16(v);
      const ao = this.tmp('bf16', Tn * HQ);
      let lse = this.tmp('f32', Tn * c.heads);
      plan.forward(qb, kb, vb, ao, lse);
      let farActs: { qFb: T; kFb: T; kRaw: T } | undefined;
      if (far && rope && qRaw && kRaw) {
        const f = this.farAttention(far, rope, qRaw, Tn, kRaw, Tn, vb, ao, lse);
        lse = f.lse;
        farActs = { qFb: f.qFb, kFb: f.kFb, kRaw };
      }
      const aoA = this.asAct(ao);
      const x2 = this.tmp('f32', Tn * D);
      A.cudaConvert(x, x2);
      this.mm(false, true, Tn, D, HQ, aoA, this.W(p + 'self_attn.o_proj.weight'), x2, 1);
      const h2 = this.tmp(act, Tn * D), r2 = this.tmp('f32', Tn);
      A.cudaRmsnormForward(x2, P(p + 'post_attention_layernorm.weight'), Tn, D, c.normEps, h2, r2);
      const g = this.tmp(act, Tn * F), u = this.tmp(act, Tn * F), m = this.tmp(act, Tn * F);
      this.mm(false, true, Tn, F, D, h2, this.W(p + 'mlp.gate_proj.weight'), g);
      this.mm(false, true, Tn, F, D, h2, this.W(p + 'mlp.up_proj.weight'), u);
      A.cudaSwigluForward(g, u, m);
      const x3 = this.tmp('f32', Tn * D);
      A.cudaConvert(x2, x3);
      this.mm(false, true, Tn, D, F, m, this.W(p + 'mlp.down_proj.weight'), x3, 1);
      acts.push({ x, h1, r1, q, k, v, qb, kb, vb, ao, aoA, lse, x2, h2, r2, g, u, m, ...farActs });
      x = x3;
    }
    return { x, acts };
  }

  /**
   * Forward + backward of one packed batch; the gradients of (scale * summed weighted CE) are
   * ADDED to the device gradients (zeroGrads first). The loss sum stays on the device until
   * takeLossSums().
   */
  backward(b: PackedBatch, scale: number): void {
    const model = this.model, c = model.config, A = this.A, act = this.act;
    if (this.g.size === 0) throw Object.assign(new Error('CudaLlama: built for inference (train: false)'), { code: 'LMP_E_ARG' });
    validateBatch(b, c.vocab);
    if (this.lossSlots >= this.lossOut.length) throw Object.assign(new Error('backend cuda: more than 64 micro-batches in one step'), { code: 'LMP_E_ARG' });
    const Tn = b.tokens.length, D = c.dim, hd = model.headDim, HQ = c.heads * hd, HK = c.kvHeads * hd, F = c.ffn, V = c.vocab;
    const P = (n: string): T => this.p.get(n)!;
    const G = (n: string): T => this.g.get(n)!;
    const held: HeldPlans = {};
    try {
      const { positions, tg, wt, index, rope, x, acts, hf, rf, logits, headName } = this.forwardToLogits(b, true, held);
      const plan = held.plan!, far = held.far;
      const loss = this.tmp('f32', Tn);
      A.cudaCrossEntropy(logits, Tn, V, tg, wt, scale, loss, logits);
      A.cudaReduceSum(loss, false, this.lossOut, this.lossSlots++);
      // backward
      const dl = this.asAct(logits);
      this.mm(true, false, V, D, Tn, dl, hf, G(headName), 1);
      const dhf = this.tmp('f32', Tn * D);
      this.mm(false, false, Tn, D, V, dl, this.W(headName), dhf);
      const dX = this.tmp('f32', Tn * D);
      A.cudaRmsnormBackward(dhf, x, P('model.norm.weight'), rf, Tn, D, dX, false, G('model.norm.weight'));
      const dm = this.tmp(act, Tn * F), dg = this.tmp(act, Tn * F), du = this.tmp(act, Tn * F);
      const dh = this.tmp('f32', Tn * D), dao = this.tmp(act, Tn * HQ);
      const dq = this.tmp('f32', Tn * HQ), dk = this.tmp('f32', Tn * HK), dv = this.tmp('f32', Tn * HK);
      const farG = far ? { dq: this.tmp('f32', Tn * HQ), dk: this.tmp('f32', Tn * HK), dv: this.tmp('f32', Tn * HK) } : undefined;
      for (let l = c.layers - 1; l >= 0; l--) {
        const p = `model.layers.${l}.`, a = acts[l]!;
        // MLP (dX: the gradient of the layer output x3 = x2 + mlp)
        let dXA = this.asAct(dX);
        this.mm(true, false, D, F, Tn, dXA, a.m, G(p + 'mlp.down_proj.weight'), 1);
        this.mm(false, false, Tn, F, D, dXA, this.W(p + 'mlp.down_proj.weight'), dm);
        A.cudaSwigluBackward(a.g, a.u, dm, dg, du);
        this.mm(true, false, F, D, Tn, dg, a.h2, G(p + 'mlp.gate_proj.weight'), 1);
        this.mm(true, false, F, D, Tn, du, a.h2, G(p + 'mlp.up_proj.weight'), 1);
        this.mm(false, false, Tn, D, F, dg, this.W(p + 'mlp.gate_proj.weight'), dh);
        this.mm(false, false, Tn, D, F, du, this.W(p + 'mlp.up_proj.weight'), dh, 1);
        A.cudaRmsnormBackward(dh, a.x2, P(p + 'post_attention_layernorm.weight'), a.r2, Tn, D, dX, true, G(p + 'post_attention_layernorm.weight'));
        // attention (dX: now the gradient of x2 = x + attn)
        dXA = this.asAct(dX);
        this.mm(true, false, D, HQ, Tn, dXA, a.aoA, G(p + 'self_attn.o_proj.weight'), 1);
        this.mm(false, false, Tn, HQ, D, dXA, this.W(p + 'self_attn.o_proj.weight'), dao);
        const daoB = this.toBf16(dao);
        plan.backward(a.qb, a.kb, a.vb, a.ao, daoB, a.lse, dq, dk, dv, this.deterministic);
        if (far && farG && a.qFb && a.kFb) {
          // the far pairs' gradients, with the combined out and lse (the row's P and delta)
          far.plan.backward(a.qFb, a.kFb, a.vb, a.ao, daoB, a.lse, farG.dq, farG.dk, farG.dv, this.deterministic);
          A.cudaAddInplace(dv, farG.dv);
        }
        if (rope) {
          A.cudaRope(dq, Tn, c.heads, hd, positions, rope.invFreq, rope.mscale, true);
          A.cudaRope(dk, Tn, c.kvHeads, hd, positions, rope.invFreq, rope.mscale, true);
        }
        if (far && farG && rope) {
          A.cudaRope(farG.dq, Tn, c.heads, hd, far.atLimit, rope.invFreq, rope.mscale, true);
          A.cudaRope(farG.dk, Tn, c.kvHeads, hd, far.atZero, rope.invFreq, rope.mscale, true);
          A.cudaAddInplace(dq, farG.dq);
          A.cudaAddInplace(dk, farG.dk);
        }
        const dqA = this.asAct(dq), dkA = this.asAct(dk), dvA = this.asAct(dv);
        this.mm(true, false, HQ, D, Tn, dqA, a.h1, G(p + 'self_attn.q_proj.weight'), 1);
        this.mm(true, false, HK, D, Tn, dkA, a.h1, G(p + 'self_attn.k_proj.weight'), 1);
        this.mm(true, false, HK, D, Tn, dvA, a.h1, G(p + 'self_attn.v_proj.weight'), 1);
        this.mm(false, false, Tn, D, HQ, dqA, this.W(p + 'self_attn.q_proj.weight'), dh);
        this.mm(false, false, Tn, D, HK, dkA, this.W(p + 'self_attn.k_proj.weight'), dh, 1);
        this.mm(false, false, Tn, D, HK, dvA, this.W(p + 'self_attn.v_proj.weight'), dh, 1);
        A.cudaRmsnormBackward(dh, a.x, P(p + 'input_layernorm.weight'), a.r1, Tn, D, dX, true, G(p + 'input_layernorm.weight'));
      }
      A.cudaEmbeddingBackward(dX, index!, Tn, V, D, G('model.embed_tokens.weight'));
      // no wait here: the step's downloads (loss sums, gradient norm) wait for the stream, and the
      // pool hands buffers to the next batch in stream order
    } finally {
      held.plan?.free();
      held.far?.plan.free();
      this.releaseScratch();
    }
  }

  /**
   * A batch's forward up to the logits on the device: inputs uploaded (the embedding's scatter
   * index with `withIndex`), the attention plans (into `held`: the caller frees them), every
   * layer's buffers, the final norm and the logits [T, vocab] (f32).
   */
  private forwardToLogits(b: PackedBatch, withIndex: boolean, held: HeldPlans) {
    const model = this.model, c = model.config, A = this.A, Tn = b.tokens.length, D = c.dim, V = c.vocab;
    const { targets, weight } = lossWeights(b);
    const [tokens, positions, tg, wt, index] = this.upAll([b.tokens, b.positionIds, targets, weight, ...(withIndex ? [A.cudaEmbeddingIndex(b.tokens, V)] : [])]);
    const rope = this.ropeTables(b.positionIds);
    const { plan, far } = this.plans(model._attnLayout(b), Tn, Tn);
    held.plan = plan;
    held.far = far;
    const { x, acts } = this.trunk(b, tokens!, positions!, rope, plan, far);
    const headName = c.tieEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
    const hf = this.tmp(this.act, Tn * D), rf = this.tmp('f32', Tn);
    A.cudaRmsnormForward(x, this.p.get('model.norm.weight')!, Tn, D, c.normEps, hf, rf);
    const logits = this.tmp('f32', Tn * V);
    this.mm(false, true, Tn, V, D, hf, this.W(headName), logits);
    return { weight, positions: positions!, tg: tg!, wt: wt!, index, rope, x, acts, hf, rf, logits, headName };
  }

  /**
   * Per-token cross-entropy of a batch on the device (the held-out evals of a cuda run: no copy of
   * the weights to the host), as LlamaModel.tokenLosses: loss[t] = weight[t] * (lse - logit of the
   * target), weight from the targets and the loss mask.
   */
  tokenLosses(b: PackedBatch): { loss: Float32Array; weight: Float32Array } {
    validateBatch(b, this.model.config.vocab);
    const held: HeldPlans = {};
    try {
      const Tn = b.tokens.length, { tg, wt, logits, weight } = this.forwardToLogits(b, false, held);
      const loss = this.tmp('f32', Tn);
      this.A.cudaCrossEntropy(logits, Tn, this.model.config.vocab, tg, wt, 1, loss, null);
      return { loss: loss.download() as Float32Array, weight };
    } finally {
      held.plan?.free();
      held.far?.plan.free();
      this.releaseScratch();
    }
  }

  /**
   * Prefill on the device (prefill.ts's engine): a packed forward; every layer's keys (after RoPE)
   * and values [T, kvHeads * headDim] (bf16, device), and the logits of `rows` (host). `use`
   * receives the keys and values while they are alive (they return to the pool after it).
   */
  _forwardKV<R>(b: PackedBatch, rows: Int32Array, use: (k: readonly T[], v: readonly T[], logits: Float32Array) => R): R {
    const model = this.model, c = model.config, A = this.A, D = c.dim, V = c.vocab;
    validateBatch(b, c.vocab);
    let plan: CudaPlan | undefined, far: FarCall | undefined;
    try {
      const [tokens, positions] = this.upAll([b.tokens, b.positionIds]);
      const rope = this.ropeTables(b.positionIds);
      ({ plan, far } = this.plans(model._attnLayout(b), b.tokens.length, b.tokens.length));
      const { x, acts } = this.trunk(b, tokens, positions, rope, plan, far);
      const n = rows.length, xs = this.tmp('f32', n * D);
      rows.forEach((r, i) => A.cudaConvert(this.keep(x.view(r * D, D)), this.keep(xs.view(i * D, D))));
      const h = this.tmp(this.act, n * D), rs = this.tmp('f32', n), logits = this.tmp('f32', n * V);
      A.cudaRmsnormForward(xs, this.p.get('model.norm.weight')!, n, D, c.normEps, h, rs);
      this.mm(false, true, n, V, D, h, this.W(c.tieEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight'), logits);
      // (with a distance limit the cache keeps keys before RoPE: _decodeStep rotates them by slot)
      return use(acts.map((a) => (a.kRaw ? this.toBf16(a.kRaw) : a.kb)), acts.map((a) => a.vb), logits.download() as Float32Array);
    } finally {
      plan?.free();
      far?.plan.free();
      this.releaseScratch();
    }
  }

  /** A decoding session on the device (CudaKVSession): full cache, sinks + window, SirLLM or InfLLM. */
  session(policy: DevicePolicy = { kind: 'full' }): CudaKVSession {
    return new CudaKVSession(this, policy);
  }

  /**
   * @internal one decoding step: n new tokens at positions pos0..pos0+n-1; their keys (after RoPE)
   * and values are written into rows [pos0, pos0 + n) of each layer's cache (bf16 [cap, kvHeads *
   * headDim]), the queries attend to rows [0, pos0 + n). Returns the logits [n, vocab] (host).
   * shiftPositions (sinks + window, SirLLM): keys are cached before RoPE and rotated by their
   * current slot for each step (llama.ts's _decodeStep), so positions shift as tokens are evicted.
   * select (InfLLM, llama.ts's _selectStep): keys cached before RoPE; per layer the new keys go to
   * `keys(l, k)` (the host mirror, f32 [n, kvHeads * headDim]) and the queries before RoPE to
   * `select(l, q)`, which names the S slots attended (the same count in every layer); those rows are
   * gathered, rotated by 0..S-1 and the queries placed at S-n..S-1.
   * take: what the step returns from its device logits [n, vocab] (default: downloaded; a draw: one id).
   */
  _decodeStep<R = Float32Array>(tokens: Int32Array, pos0: number, cacheK: readonly T[], cacheV: readonly T[], shiftPositions = false,
    infllm?: { readonly keys: (l: number, k: Float32Array) => void; readonly select: (l: number, qPre: Float32Array) => Int32Array },
    take: (logits: T, n: number) => R = (l) => l.download() as R): R {
    const model = this.model, c = model.config, A = this.A, act = this.act;
    const n = tokens.length, L = pos0 + n, D = c.dim, hd = model.headDim, HQ = c.heads * hd, HK = c.kvHeads * hd, F = c.ffn, V = c.vocab;
    const P = (name: string): T => this.p.get(name)!;
    let plan: CudaPlan | undefined, far: FarCall | undefined;
    try {
      const positions = Int32Array.from({ length: n }, (_, i) => pos0 + i);
      const tk = this.up(tokens);
      // InfLLM: positions and RoPE tables follow the attended count S, known after layer 0's selection
      let pos = infllm ? undefined : this.up(positions);
      let rope = infllm ? undefined : this.ropeTables(positions);
      // a distance limit caches keys before RoPE (as the CPU's in-op RoPE does) and rotates them by slot
      const shift = (shiftPositions || this.limit > 0) && rope !== undefined;
      const slots = shift ? this.up(Int32Array.from({ length: L }, (_, i) => i)) : undefined;
      const kRot = shift ? this.tmp('bf16', L * HK) : undefined;
      if (!infllm) ({ plan, far } = this.plans(model._decodeLayout(n, L), n, L));
      let S = -1, slotsS: T | undefined; // InfLLM: the attended count and its positions 0..S-1
      const x = this.tmp('f32', n * D);
      A.cudaEmbeddingForward(P('model.embed_tokens.weight'), V, D, tk, x);
      const h = this.tmp(act, n * D), r = this.tmp('f32', n), q = this.tmp(act, n * HQ), ao = this.tmp('bf16', n * HQ), lse = this.tmp('f32', n * c.heads);
      const g = this.tmp(act, n * F), u = this.tmp(act, n * F);
      for (let l = 0; l < c.layers; l++) {
        const p = `model.layers.${l}.`;
        A.cudaRmsnormForward(x, P(p + 'input_layernorm.weight'), n, D, c.normEps, h, r);
        this.mm(false, true, n, HQ, D, h, this.W(p + 'self_attn.q_proj.weight'), q);
        // the new rows of the bf16 cache (f32 precision: projected in f32, rotated, then rounded)
        const kNew = this.keep(cacheK[l]!.view(pos0 * HK, n * HK)), vNew = this.keep(cacheV[l]!.view(pos0 * HK, n * HK));
        const kOut = act === 'bf16' ? kNew : this.tmp('f32', n * HK), vOut = act === 'bf16' ? vNew : this.tmp('f32', n * HK);
        this.mm(false, true, n, HK, D, h, this.W(p + 'self_attn.k_proj.weight'), kOut);
        this.mm(false, true, n, HK, D, h, this.W(p + 'self_attn.v_proj.weight'), vOut);
        let sel: Int32Array | undefined;
        if (infllm) {
          infllm.keys(l, kOut.download(true) as Float32Array);
          sel = infllm.select(l, q.download(true) as Float32Array);
          if (S < 0) {
            S = sel.length;
            const at = Int32Array.from({ length: S }, (_, i) => i);
            rope = this.ropeTables(at);
            slotsS = this.up(at);
            pos = this.up(Int32Array.from({ length: n }, (_, i) => S - n + i));
            plan = new A.CudaAttentionPlan({ ...attentionLayout(layoutInput(model._decodeLayout(n, S))), dtype: 'bf16' });
          } else if (sel.length !== S) throw Object.assign(new Error(`infllm: layer ${l} attends ${sel.length} slots, layer 0 ${S}`), { code: 'LMP_E_SHAPE' });
        }
        const qRaw = far ? this.tmp(act, n * HQ) : undefined;
        if (qRaw) A.cudaConvert(q, qRaw);
        if (rope) {
          A.cudaRope(q, n, c.heads, hd, pos!, rope.invFreq, rope.mscale, false);
          if (!shift && !infllm) A.cudaRope(kOut, n, c.kvHeads, hd, pos!, rope.invFreq, rope.mscale, false);
        }
        if (kOut !== kNew) {
          A.cudaConvert(kOut, kNew);
          A.cudaConvert(vOut, vNew);
        }
        let kAll: T, vAll: T, kPre: T | undefined;
        if (sel) {
          // the selected rows, gathered by runs of consecutive slots (sinks, each unit, the tail), rotated by 0..S-1
          kAll = this.tmp('bf16', S * HK);
          vAll = this.tmp('bf16', S * HK);
          for (let i = 0; i < S; ) {
            let j = i + 1;
            while (j < S && sel[j] === sel[j - 1]! + 1) j++;
            for (const [src, dst] of [[cacheK[l]!, kAll], [cacheV[l]!, vAll]] as const)
              this._copy(this.keep(src.view(sel[i]! * HK, (j - i) * HK)), this.keep(dst.view(i * HK, (j - i) * HK)));
            i = j;
          }
          if (rope) A.cudaRope(kAll, S, c.kvHeads, hd, slotsS!, rope.invFreq, rope.mscale, false);
        } else {
          kAll = this.keep(cacheK[l]!.view(0, L * HK));
          vAll = this.keep(cacheV[l]!.view(0, L * HK));
          kPre = kAll;
          if (kRot && slots) {
            // the cached keys (before RoPE) rotated by their slot 0..L-1
            A.cudaConvert(kAll, kRot);
            A.cudaRope(kRot, L, c.kvHeads, hd, slots, rope!.invFreq, rope!.mscale, false);
            kAll = kRot;
          }
        }
        plan!.forward(this.toBf16(q), kAll, vAll, ao, lse);
        if (far && rope && qRaw && kPre) this.farAttention(far, rope, qRaw, n, kPre, L, vAll, ao, lse); // (ao combined in place)
        this.stepOutAndMlp(p, n, ao, x, { h, r, g, u });
      }
      const logits = this.stepHead(x, n, h, r);
      return take(logits, n);
    } finally {
      plan?.free();
      far?.plan.free();
      this.releaseScratch();
    }
  }

  /** A decoding step's attention output projection (into the residual x), post-norm and MLP over n rows; h, r, g, u: scratch. */
  private stepOutAndMlp(p: string, n: number, ao: T, x: T, w: { h: T; r: T; g: T; u: T }): void {
    const c = this.model.config, A = this.A, D = c.dim, HQ = c.heads * this.model.headDim, F = c.ffn;
    this.mm(false, true, n, D, HQ, this.asAct(ao), this.W(p + 'self_attn.o_proj.weight'), x, 1);
    A.cudaRmsnormForward(x, this.p.get(p + 'post_attention_layernorm.weight')!, n, D, c.normEps, w.h, w.r);
    this.mm(false, true, n, F, D, w.h, this.W(p + 'mlp.gate_proj.weight'), w.g);
    this.mm(false, true, n, F, D, w.h, this.W(p + 'mlp.up_proj.weight'), w.u);
    A.cudaSwigluForward(w.g, w.u, w.g);
    this.mm(false, true, n, D, F, w.g, this.W(p + 'mlp.down_proj.weight'), x, 1);
  }
  /** The final norm and output head over n rows of x: device logits [n, vocab]; h, r: scratch. */
  private stepHead(x: T, n: number, h: T, r: T): T {
    const c = this.model.config;
    this.A.cudaRmsnormForward(x, this.p.get('model.norm.weight')!, n, c.dim, c.normEps, h, r);
    const logits = this.tmp('f32', n * c.vocab);
    this.mm(false, true, n, c.vocab, c.dim, h, this.W(c.tieEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight'), logits);
    return logits;
  }

  /** Rows of one _decodeBatch at most. */
  readonly batchRows = 64;

  /**
   * @internal one decoding step of B sequences with full or sinks + window caches (runtime/model/batch.ts on the GPU):
   * sequence b appends tokens[b] at slot seqs[b].pos0 of its cache and gets the logits after it,
   * row b of [B, vocab] (one download). The projections, MLPs and head are GEMMs over the B rows
   * (the weights read once per step), RoPE by each row's own position, the attention one plan per
   * sequence. Each row equals that sequence's own _decodeStep up to the GEMMs' rounding (cuBLAS may
   * pick other kernels for M = B than for M = 1; the emulator's loops give the same bits).
   */
  _decodeBatch(tokens: Int32Array, seqs: readonly CudaBatchSeq[]): Float32Array {
    const model = this.model, c = model.config, A = this.A, act = this.act;
    const n = tokens.length, D = c.dim, hd = model.headDim, HQ = c.heads * hd, HK = c.kvHeads * hd, F = c.ffn, V = c.vocab;
    if (seqs.length !== n || n === 0) throw Object.assign(new Error(`_decodeBatch: ${n} tokens for ${seqs.length} sequences`), { code: 'LMP_E_ARG' });
    if (model.ropeScaling?.kind === 'dynamic') throw unsupported('_decodeBatch: dynamic NTK RoPE scales per sequence length (decode these sequences one by one)');
    const P = (name: string): T => this.p.get(name)!;
    const plans: CudaPlan[] = [];
    try {
      const positions = Int32Array.from(seqs, (q) => q.pos0);
      const rope = this.ropeTables(positions);
      // sinks + window rows: keys cached before RoPE, all of them rotated by slot 0..L-1 each step
      const shifted = seqs.map((q) => q.shift && rope !== undefined), anyShift = shifted.some(Boolean);
      const maxL = Math.max(...positions) + 1;
      const [tk, pos, slots] = this.upAll([tokens, positions, ...(anyShift ? [Int32Array.from({ length: maxL }, (_, i) => i)] : [])]);
      for (const q of seqs) plans.push(new A.CudaAttentionPlan({ ...attentionLayout(layoutInput(model._decodeLayout(1, q.pos0 + 1))), dtype: 'bf16' }));
      const x = this.tmp('f32', n * D);
      A.cudaEmbeddingForward(P('model.embed_tokens.weight'), V, D, tk!, x);
      const h = this.tmp(act, n * D), r = this.tmp('f32', n), q = this.tmp(act, n * HQ), k = this.tmp(act, n * HK), v = this.tmp(act, n * HK);
      const ao = this.tmp('bf16', n * HQ), lse = this.tmp('f32', n * c.heads), g = this.tmp(act, n * F), u = this.tmp(act, n * F);
      for (let l = 0; l < c.layers; l++) {
        const p = `model.layers.${l}.`;
        A.cudaRmsnormForward(x, P(p + 'input_layernorm.weight'), n, D, c.normEps, h, r);
        this.mm(false, true, n, HQ, D, h, this.W(p + 'self_attn.q_proj.weight'), q);
        this.mm(false, true, n, HK, D, h, this.W(p + 'self_attn.k_proj.weight'), k);
        this.mm(false, true, n, HK, D, h, this.W(p + 'self_attn.v_proj.weight'), v);
        if (rope) {
          A.cudaRope(q, n, c.heads, hd, pos!, rope.invFreq, rope.mscale, false);
          if (!anyShift) A.cudaRope(k, n, c.kvHeads, hd, pos!, rope.invFreq, rope.mscale, false);
          else
            shifted.forEach((sh, b) => {
              if (!sh) A.cudaRope(this.keep(k.view(b * HK, HK)), 1, c.kvHeads, hd, this.keep(pos!.view(b, 1)), rope.invFreq, rope.mscale, false);
            });
        }
        const qb = this.toBf16(q);
        seqs.forEach((sq, b) => {
          const L = sq.pos0 + 1;
          // the new rows into the bf16 cache (f32 precision: rounded here, as _decodeStep does)
          this._copy(this.keep(k.view(b * HK, HK)), this.keep(sq.k[l]!.view(sq.pos0 * HK, HK)));
          this._copy(this.keep(v.view(b * HK, HK)), this.keep(sq.v[l]!.view(sq.pos0 * HK, HK)));
          let kAll = this.keep(sq.k[l]!.view(0, L * HK));
          if (shifted[b]) {
            const kRot = this.tmp('bf16', L * HK);
            A.cudaConvert(kAll, kRot);
            A.cudaRope(kRot, L, c.kvHeads, hd, this.keep(slots!.view(0, L)), rope!.invFreq, rope!.mscale, false);
            kAll = kRot;
          }
          plans[b]!.forward(this.keep(qb.view(b * HQ, HQ)), kAll, this.keep(sq.v[l]!.view(0, L * HK)), this.keep(ao.view(b * HQ, HQ)), this.keep(lse.view(b * c.heads, c.heads)));
        });
        this.stepOutAndMlp(p, n, ao, x, { h, r, g, u });
      }
      const logits = this.stepHead(x, n, h, r);
      return logits.download() as Float32Array;
    } finally {
      for (const pl of plans) pl.free();
      this.releaseScratch();
    }
  }

  /** @internal the Decoder's terminal draw (runtime/decode deviceDraw) on row `row` of device logits [rows, vocab]; returns the id */
  _draw(logits: T, row: number, d: DeviceDraw): number {
    const V = this.model.config.vocab;
    return d.mode === 'greedy'
      ? this.A.cudaDrawRow(logits, row, V, 0, d.scale, 0, d.eos, d.eosBias)
      : this.A.cudaDrawRow(logits, row, V, 1, d.scale, d.uniform(), d.eos, d.eosBias, d.topK, d.post, d.minP);
  }

  /** @internal a bf16 tensor of n elements (a session's cache) */
  _alloc(n: number): T {
    return new this.A.CudaTensor('bf16', n);
  }
  /** @internal dst = src (device copy, same dtype and length) */
  _copy(src: T, dst: T): void {
    this.A.cudaConvert(src, dst);
  }
  private keep(t: T): T {
    this.views.push(t); // detached at the end of the call
    return t;
  }

  /** The loss sums of the micro-batches since zeroGrads (one download). */
  takeLossSums(): number[] {
    const all = this.lossOut.download() as Float64Array;
    return Array.from(all.subarray(0, this.lossSlots));
  }

  /**
   * Global-norm clipping and AdamW over every parameter, on the device; returns the gradient norm
   * (the only value read back).
   */
  step(o: AdamwSettings): number {
    const A = this.A;
    this.names.forEach((n, i) => A.cudaReduceSum(this.g.get(n)!, true, this.ss, i));
    A.cudaClipScale(this.ss, this.names.length, o.clip, this.clipOut);
    for (const n of this.names)
      A.cudaAdamw(this.p.get(n)!, this.g.get(n)!, this.m.get(n)!, this.v.get(n)!, o.lr, o.beta1, o.beta2, o.eps, o.decay(n), o.step, 1, this.clipOut, 1, this.w.get(n) ?? null);
    return (this.clipOut.download() as Float64Array)[0]!;
  }

  /** Frees every device tensor (idempotent). */
  free(): void {
    if (this.freed) return;
    this.freed = true;
    this.releaseScratch();
    for (const list of this.pool.values()) for (const t of list) t.free();
    this.pool.clear();
    for (const mp of [this.p, this.w, this.g, this.m, this.v]) for (const t of mp.values()) t.free();
    this.ss.free();
    this.clipOut.free();
    this.lossOut.free();
  }
}

/**
 * Incremental decoding over one sequence on the device: KVCacheSession's interface, policies
 * (full: every position; sinks_window: the first `sinks` tokens and the latest `window`, keys
 * cached before RoPE and rotated by their slot, StreamingLLM; sirllm: SirLLM's entropy-scored key
 * tokens, cache.ts SirLLMSession's policy with its bookkeeping, SirLLMState, scored from the logits
 * each step brings to the host anyway, the evicted slot's rows moved on the device; infllm: every
 * token's key (before RoPE) and value on the device, cache.ts's InfLLMState choosing per layer
 * from a host mirror of the keys and the step's queries, the chosen rows gathered on the device)
 * and results (logits after each appended token) for the decoding runtime (source.ts). The cache
 * is bf16, grown by doubling (full, infllm) or allocated at its capacity.
 */
export type DevicePolicy = CachePolicy | SirLLMPolicy | InfLLMPolicy;

/** One sequence of a batched device step (CudaLlama._decodeBatch): its cache's per-layer tensors and the slot of its new token. */
export interface CudaBatchSeq {
  readonly pos0: number;
  readonly k: readonly T[];
  readonly v: readonly T[];
  /** keys cached before RoPE, rotated by slot each step (sinks + window) */
  readonly shift: boolean;
}

export class CudaKVSession {
  length = 0;
  seen = 0;
  private readonly tokens: number[] = [];
  private readonly sir: SirLLMState | null;
  private readonly inf: InfLLMState | null;
  private k: T[] = [];
  private v: T[] = [];
  private cap = 0;

  constructor(readonly device: CudaLlama, readonly policy: DevicePolicy = { kind: 'full' }) {
    if (policy.kind === 'sinks_window' && !(Number.isInteger(policy.sinks) && policy.sinks >= 0 && Number.isInteger(policy.window) && policy.window >= 1))
      throw Object.assign(new Error('sinks_window: sinks must be >= 0 and window >= 1 (integers)'), { code: 'LMP_E_ARG' });
    this.sir = policy.kind === 'sirllm' ? new SirLLMState(policy) : null;
    if (policy.kind === 'infllm' && device.limit > 0) throw unsupported('backend cuda: an InfLLM cache with the LM-Infinite RoPE distance limit is not on CUDA; use --backend cpu');
    this.inf = policy.kind === 'infllm' ? new InfLLMState(device.model, policy) : null;
  }

  get model(): LlamaModel {
    return this.device.model;
  }
  /** the cached tokens in slot order */
  get cachedTokens(): number[] {
    return this.sir ? this.sir.cachedTokens : this.inf ? this.inf.cachedTokens : this.tokens;
  }
  /** InfLLM only ([] otherwise): per layer, the slots the last step attended */
  get lastSelection(): Int32Array[] {
    return this.inf ? this.inf.lastSelection : [];
  }
  /** InfLLM: memory units formed */
  get units(): number {
    return this.inf ? this.inf.units : 0;
  }
  /** SirLLM only ([] for the other policies): the cached tokens' positions in the stream and their current scores */
  get origins(): number[] {
    return this.sir ? this.sir.origins : [];
  }
  get tokenScores(): number[] {
    return this.sir ? this.sir.tokenScores : [];
  }

  private ensure(n: number): void {
    if (n <= this.cap) return;
    const c = this.model.config, HK = c.kvHeads * this.model.headDim;
    const cap = Math.max(n, this.cap * 2, 64);
    const k: T[] = [], v: T[] = [];
    try {
      for (let l = 0; l < c.layers; l++) {
        k.push(this.device._alloc(cap * HK));
        v.push(this.device._alloc(cap * HK));
        if (this.length > 0) {
          const used = this.length * HK;
          for (const [src, dst] of [[this.k[l]!, k[l]!], [this.v[l]!, v[l]!]] as const) {
            const a = src.view(0, used), b = dst.view(0, used);
            this.device._copy(a, b);
            a.free();
            b.free();
          }
        }
      }
    } catch (e) {
      for (const t of [...k, ...v]) t.free();
      throw e;
    }
    this.free();
    this.k = k;
    this.v = v;
    this.cap = cap;
  }

  /** Drops slot e (sinks_window: the oldest non-sink; sirllm: SirLLMState's victim): rows after it move up one, on the device. */
  private evict(e: number): void {
    const HK = this.model.config.kvHeads * this.model.headDim, rows = this.length - e - 1;
    if (rows > 0) {
      const tmp = this.device._alloc(rows * HK);
      try {
        for (const c of [...this.k, ...this.v]) {
          const src = c.view((e + 1) * HK, rows * HK), dst = c.view(e * HK, rows * HK);
          this.device._copy(src, tmp);
          this.device._copy(tmp, dst);
          src.free();
          dst.free();
        }
      } finally {
        tmp.free();
      }
    }
    if (this.sir) this.sir.remove(e);
    else this.tokens.splice(e, 1);
    this.length--;
  }

  nextAll(tokens: Int32Array): Float32Array {
    const V = this.model.config.vocab;
    if (tokens.length === 0) return new Float32Array(0);
    const out = new Float32Array(tokens.length * V);
    this.feed(tokens, (logits, i) => out.set(logits instanceof Float32Array ? logits : (logits.download() as Float32Array), i * V));
    return out;
  }

  /** Whether its single-token steps can join a batched device step (runtime/model/batch.ts): a full or sinks + window cache, RoPE not dynamically scaled. */
  get batchable(): boolean {
    // (no LM-Infinite path in the batched step: a distance limit decodes one sequence at a time)
    return (this.policy.kind === 'full' || this.policy.kind === 'sinks_window') && this.model.ropeScaling?.kind !== 'dynamic' && this.device.limit === 0;
  }
  /** @internal the batched step's engine: the device model */
  _batchEngine(): CudaLlama {
    return this.device;
  }
  /** @internal the slot of one more token in a batched step (room made); _commitOne(token) after the step records it */
  _prepareOne(token: number): CudaBatchSeq {
    const V = this.model.config.vocab;
    if (!this.batchable) throw Object.assign(new Error(`a ${this.policy.kind} device cache does not join batched steps (full and sinks + window do)`), { code: 'LMP_E_ARG' });
    if (!Number.isInteger(token) || token < 0 || token >= V) throw Object.assign(new Error(`token ${token} outside the vocabulary (${V})`), { code: 'LMP_E_TOKEN' });
    if (this.policy.kind === 'full') this.ensure(this.length + 1);
    else {
      const sw = this.policy as Extract<CachePolicy, { kind: 'sinks_window' }>;
      this.ensure(sw.sinks + sw.window);
      if (this.length === sw.sinks + sw.window) this.evict(sw.sinks); // as feed(): the oldest non-sink slot
    }
    return { pos0: this.length, k: this.k, v: this.v, shift: this.policy.kind !== 'full' };
  }
  /** @internal see _prepareOne */
  _commitOne(token: number): void {
    this.length++;
    this.seen++;
    this.tokens.push(token);
  }

  /** Whether draw() runs (every policy but SirLLM, whose scores need the logits on the host). */
  get drawsOnDevice(): boolean {
    return this.sir === null;
  }

  /**
   * The token after `tokens` drawn on the device (runtime/decode's LogitsSource.draw): the steps run
   * as nextAll's, the last one's logits stay on the device and only the drawn id comes back. SirLLM
   * scores every token from the logits on the host, so it declines (undefined) and nextAll runs.
   */
  draw(tokens: Int32Array, d: DeviceDraw): number | undefined {
    if (!this.drawsOnDevice || tokens.length === 0) return undefined;
    let tok = -1;
    this.feed(tokens, (logits, i, n) => {
      if (i + n === tokens.length) tok = this.device._draw(logits as T, n - 1, d); // earlier chunks' logits are not needed
    });
    return tok;
  }

  /**
   * Runs `tokens` through the cache in the policy's steps; use(logits [n, vocab], index of the step's
   * first token, n) for each: on the device, or on the host where the policy needed them there (SirLLM).
   */
  private feed(tokens: Int32Array, use: (logits: T | Float32Array, i: number, n: number) => void): void {
    const V = this.model.config.vocab;
    for (const t of tokens) if (t < 0 || t >= V) throw Object.assign(new Error(`token ${t} outside the vocabulary (${V})`), { code: 'LMP_E_TOKEN' });
    if (this.policy.kind === 'full') {
      this.ensure(this.length + tokens.length);
      this.device._decodeStep(tokens, this.length, this.k, this.v, false, undefined, (l, n) => use(l, 0, n));
      this.length += tokens.length;
      this.seen += tokens.length;
      for (const t of tokens) this.tokens.push(t);
      return;
    }
    if (this.inf) return this.feedInf(tokens, use);
    const sw = this.policy as Extract<CachePolicy, { kind: 'sinks_window' }>; // when not SirLLM
    const cap = this.sir ? this.sir.cap : sw.sinks + sw.window;
    this.ensure(cap);
    let i = 0;
    while (i < tokens.length) {
      if (this.length === cap) this.evict(this.sir ? this.sir.victim() : sw.sinks);
      const n = Math.min(tokens.length - i, cap - this.length);
      const chunk = tokens.subarray(i, i + n);
      if (this.sir) {
        const logits = this.device._decodeStep(chunk, this.length, this.k, this.v, true);
        this.sir.append(chunk, logits, V, this.seen);
        use(logits, i, n);
      } else {
        this.device._decodeStep(chunk, this.length, this.k, this.v, true, undefined, (l) => use(l, i, n));
        for (const t of chunk) this.tokens.push(t);
      }
      this.length += n;
      this.seen += n;
      i += n;
    }
  }

  /** InfLLM: steps as InfLLMSession takes them; the keys' host mirror grows with the store. */
  private feedInf(tokens: Int32Array, use: (logits: T | Float32Array, i: number, n: number) => void): void {
    const st = this.inf!, HK = this.model.config.kvHeads * this.model.headDim;
    let i = 0;
    while (i < tokens.length) {
      const n = st.stepSize(tokens.length - i);
      st.prepare(n);
      this.ensure(st.capSlots);
      const chunk = tokens.subarray(i, i + n), base = st.length;
      this.device._decodeStep(chunk, base, this.k, this.v, true, {
        keys: (l, k) => st.storeK[l]!.set(k, base * HK),
        select: (l, q) => st.select(l, q, n),
      }, (l) => use(l, i, n));
      st.advance(chunk);
      this.length += n;
      this.seen += n;
      i += n;
    }
  }

  next(tokens: Int32Array): Float32Array {
    if (tokens.length === 0) throw Object.assign(new Error('next: no tokens'), { code: 'LMP_E_ARG' });
    const all = this.nextAll(tokens), V = this.model.config.vocab;
    return all.slice((tokens.length - 1) * V);
  }

  reset(): void {
    this.length = 0;
    this.seen = 0;
    this.tokens.length = 0;
    this.sir?.reset();
    this.inf?.reset();
  }

  /**
   * @internal start a full-cache session from a prefill's keys (after RoPE at 0..n-1) and values:
   * rows [start, start + n) of each layer's device tensors (prefill.ts).
   */
  _load(k: readonly T[], v: readonly T[], start: number, tokens: ArrayLike<number>): void {
    if (this.policy.kind !== 'full') throw Object.assign(new Error('_load: only a full cache can be loaded'), { code: 'LMP_E_ARG' });
    const n = tokens.length, HK = this.model.config.kvHeads * this.model.headDim;
    this.reset();
    this.ensure(n);
    for (let l = 0; l < this.model.config.layers; l++)
      for (const [src, dst] of [[k[l]!, this.k[l]!], [v[l]!, this.v[l]!]] as const) {
        const a = src.view(start * HK, n * HK), b = dst.view(0, n * HK);
        this.device._copy(a, b);
        a.free();
        b.free();
      }
    this.length = n;
    this.seen = n;
    for (let i = 0; i < n; i++) this.tokens.push(tokens[i]!);
  }

  /** Forget every position from n on (the next tokens overwrite them). */
  truncate(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.length)
      throw Object.assign(new Error(`truncate: ${n} is outside [0, ${this.length}]`), { code: 'LMP_E_ARG' });
    if (n === this.length) return;
    if (this.sir || this.inf) throw Object.assign(new Error(`truncate: a ${this.policy.kind} cache cannot rewind (its scores follow the stream)`), { code: 'LMP_E_ARG' });
    if (this.policy.kind !== 'full' && this.seen !== this.length)
      throw Object.assign(new Error('truncate: positions were evicted; cannot rewind a sinks_window cache'), { code: 'LMP_E_ARG' });
    this.length = n;
    this.seen = n;
    this.tokens.length = n;
  }

  /** Frees the cache (the session can go on: it reallocates). */
  free(): void {
    for (const t of [...this.k, ...this.v]) t.free();
    this.k = [];
    this.v = [];
    this.cap = 0;
  }
}
