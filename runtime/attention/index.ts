// The public attention API that generated code and the model engine call: fused forward and
// backward over packed variable-length sequences, with masks, score transforms and positions.
// See README.md for layouts, formulas and tolerances.
import { classifyBlocks, headGroups } from '../mask/classify.js';
import type { AttentionMaskIR, MaskIR } from '../mask/ir.js';
import { nativeFn } from '../native.js';
import { encodeMask } from './encode.js';
import { alibiSlopes, dynamicLength, positionIds, ropeFrequencies, type RopeSpec } from './positions.js';

export { alibiSlopes, dynamicLength, positionIds, ropeFrequencies, type RopeScaling, type RopeSpec } from './positions.js';
export { encodeMask, MASK_OPCODES } from './encode.js';

/** Tile sizes of the native kernel; block classes are computed at this granularity. */
export const TILE_Q = 64;
export const TILE_KV = 64;

export interface ScoreOptions {
  /** Multiplier of q.k; default 1/sqrt(headDim). */
  readonly scale?: number;
  /** TempScale temperature: logits divided by it; default 1. */
  readonly temperature?: number;
  /** Softcap c: s -> c tanh(s / c); 0 or absent = none. */
  readonly softcap?: number;
  /** ALiBi: true = standard slopes for the head count, or explicit slopes per head. */
  readonly alibi?: boolean | Float32Array;
  /** Softplus attention: u = softplus(lambda_i s)^power, lambda_i = max(1, ln(qpos+1)/ln(trainLength)). */
  readonly softplus?: { readonly power: number; readonly trainLength: number };
}

export type PositionOptions =
  | { readonly kind: 'none' } // NoPE
  | {
      readonly kind: 'rope';
      readonly rope?: RopeSpec;
      /** Position ids restart at each document (needs docIds). */
      readonly restartPerDocument?: boolean;
      /**
       * LM-Infinite distance limit: pairs with qpos - kvpos > limit (sequence positions) score as
       * if at distance exactly `limit` (q rotated at the limit, k unrotated).
       */
      readonly distanceLimit?: number;
    }
  | { readonly kind: 'alibi'; readonly distanceLimit?: number }; // ALiBi as the position encoding (LM-Infinite clamp optional)

export interface AttentionInput {
  /** [Tq, heads, headDim] */
  readonly q: Float32Array;
  /** [Tk, kvHeads, headDim] */
  readonly k: Float32Array;
  readonly v: Float32Array;
  readonly heads: number;
  readonly kvHeads?: number;
  readonly headDim: number;
  /** Offsets of the packed sequences (queries = keys for training/prefill); default one sequence. */
  readonly cuSeqlens?: Int32Array;
  /** Separate key offsets when queries are the last positions of longer key sequences (decoding). */
  readonly cuSeqlensK?: Int32Array;
  /** Document id per key token (same_document masks, per-document positions). */
  readonly docIds?: Int32Array;
  readonly mask?: AttentionMaskIR | MaskIR;
  readonly score?: ScoreOptions;
  readonly position?: PositionOptions;
}

export interface AttentionOutput {
  /** [Tq, heads, headDim] */
  readonly out: Float32Array;
  /** [Tq, heads]: log of the normalizer (-Infinity for a row that sees no key). */
  readonly lse: Float32Array;
}

export interface AttentionGrads {
  readonly dq: Float32Array;
  readonly dk: Float32Array;
  readonly dv: Float32Array;
}

interface NativeArgs {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  heads: number;
  kvHeads: number;
  headDim: number;
  cuSeqlensQ: Int32Array;
  cuSeqlensK: Int32Array;
  docIds: Int32Array | undefined;
  programs: Int32Array[];
  headGroup: Int32Array;
  classes: Uint8Array;
  classOffsets: Int32Array;
  scale: number;
  softcap: number;
  alibi: Float32Array | undefined;
  alibiLimit: number;
  power: number;
  logLenBase: number;
  distanceLimit?: number;
  qFar?: Float32Array;
  kFar?: Float32Array;
}

type FwdFn = (a: NativeArgs) => AttentionOutput;
type BwdFn = (a: NativeArgs & { out: Float32Array; dout: Float32Array; lse: Float32Array }) => AttentionGrads & { dqFar?: Float32Array; dkFar?: Float32Array };
type RopeFn = (x: Float32Array, tokens: number, heads: number, headDim: number, pos: Float32Array, invFreq: Float32Array, mscale: number, inverse: boolean) => Float32Array;

const isAttentionMask = (m: AttentionMaskIR | MaskIR): m is AttentionMaskIR => 'groups' in m;

type KernelMasks = { programs: Int32Array[]; headGroup: Int32Array; classes: Uint8Array; classOffsets: Int32Array; masks: MaskIR[] };

// kernelMasks of one sequence without documents, by mask object and (heads, Lq, Lk): a decoding
// step asks for the same few layouts every token, once per layer (their classification, programs
// and head groups were ~40 us of JavaScript per call). Read-only results; a mask's table is
// emptied when it passes 512 entries.
const oneSeq = new WeakMap<object, Map<string, KernelMasks>>();

/**
 * Block classes for every (sequence, head group), concatenated, with offsets (what the kernel
 * consumes). The result is shared between calls with the same arguments: do not modify it.
 */
export function kernelMasks(
  mask: AttentionMaskIR | MaskIR | undefined,
  heads: number,
  cuQ: Int32Array,
  cuK: Int32Array,
  docIds?: Int32Array,
): KernelMasks {
  if (mask !== undefined && cuQ.length === 2 && !docIds) {
    let t = oneSeq.get(mask);
    if (!t) oneSeq.set(mask, (t = new Map()));
    const key = `${heads}:${cuQ[1]! - cuQ[0]!}:${cuK[1]! - cuK[0]!}`;
    let r = t.get(key);
    if (!r) {
      if (t.size >= 512) t.clear();
      t.set(key, (r = computeKernelMasks(mask, heads, cuQ, cuK)));
    }
    return r;
  }
  return computeKernelMasks(mask, heads, cuQ, cuK, docIds);
}

function computeKernelMasks(mask: AttentionMaskIR | MaskIR | undefined, heads: number, cuQ: Int32Array, cuK: Int32Array, docIds?: Int32Array): KernelMasks {
  const attn: AttentionMaskIR = mask === undefined ? { default: { op: 'full' }, groups: [] } : isAttentionMask(mask) ? mask : { default: mask, groups: [] };
  const { masks, headGroup } = headGroups(attn, heads);
  const S = cuQ.length - 1;
  const parts: Uint8Array[] = [];
  const classOffsets = new Int32Array(S * masks.length);
  let off = 0;
  for (let s = 0; s < S; s++) {
    const lq = cuQ[s + 1]! - cuQ[s]!, lk = cuK[s + 1]! - cuK[s]!;
    const ids = docIds ? docIds.subarray(cuK[s]!, cuK[s + 1]!) : undefined;
    masks.forEach((m, g) => {
      const c = classifyBlocks(m, { qLen: lq, kvLen: lk, tileQ: TILE_Q, tileKV: TILE_KV, qOffset: lk - lq, docIds: ids });
      classOffsets[s * masks.length + g] = off;
      parts.push(c);
      off += c.length;
    });
  }
  const classes = new Uint8Array(off);
  let w = 0;
  for (const p of parts) {
    classes.set(p, w);
    w += p.length;
  }
  return { programs: masks.map(encodeMask), headGroup, classes, classOffsets, masks };
}

/** The call's arguments other than the tensors: layout, block classes, score settings. */
type LayoutArgs = Omit<NativeArgs, 'q' | 'k' | 'v' | 'distanceLimit' | 'qFar' | 'kFar'>;

function layout(inp: Omit<AttentionInput, 'q' | 'k' | 'v'>, Tq: number): LayoutArgs {
  const { heads, headDim } = inp;
  const kvHeads = inp.kvHeads ?? heads;
  const cuQ = inp.cuSeqlens ?? Int32Array.of(0, Tq);
  const cuK = inp.cuSeqlensK ?? cuQ;
  const km = kernelMasks(inp.mask, heads, cuQ, cuK, inp.docIds);
  const sc = inp.score ?? {};
  const temperature = sc.temperature ?? 1;
  const scale = (sc.scale ?? 1 / Math.sqrt(headDim)) / temperature;
  const pos = inp.position ?? { kind: 'none' };
  let alibi: Float32Array | undefined = sc.alibi === true ? alibiSlopes(heads) : sc.alibi instanceof Float32Array ? sc.alibi : undefined;
  let alibiLimit = 0;
  if (pos.kind === 'alibi') {
    alibi = alibi ?? alibiSlopes(heads);
    alibiLimit = pos.distanceLimit ?? 0;
  }
  return {
    heads, kvHeads, headDim, cuSeqlensQ: cuQ, cuSeqlensK: cuK, docIds: inp.docIds,
    programs: km.programs, headGroup: km.headGroup, classes: km.classes, classOffsets: km.classOffsets,
    scale, softcap: sc.softcap ?? 0, alibi, alibiLimit,
    power: sc.softplus?.power ?? 0, logLenBase: sc.softplus ? Math.log(sc.softplus.trainLength) : 0,
  };
}

/**
 * The options of a device attention plan (native CudaAttentionPlan): everything of a call but the
 * tensors, for q/k/v that already live on the device. RoPE in the op is refused
 * (LMP_E_CONFIG_UNSUPPORTED): the caller rotates q and k itself.
 */
export function attentionLayout(inp: Omit<AttentionInput, 'q' | 'k' | 'v'> & { readonly cuSeqlens: Int32Array }): LayoutArgs {
  if (inp.position?.kind === 'rope')
    throw Object.assign(new Error('device attention: RoPE inside the op (a distance limit) is not on CUDA; the model rotates q and k'), { code: 'LMP_E_CONFIG_UNSUPPORTED' });
  return layout(inp, inp.cuSeqlens[inp.cuSeqlens.length - 1]!);
}

function prepare(inp: AttentionInput): { args: NativeArgs; rope?: { qPos: Float32Array; kPos: Float32Array; invFreq: Float32Array; mscale: number; limit: number } } {
  const { heads, headDim } = inp;
  const kvHeads = inp.kvHeads ?? heads;
  const Tq = inp.q.length / (heads * headDim);
  const base = layout(inp, Tq);
  const cuQ = base.cuSeqlensQ, cuK = base.cuSeqlensK;
  const pos = inp.position ?? { kind: 'none' };
  let rope: { qPos: Float32Array; kPos: Float32Array; invFreq: Float32Array; mscale: number; limit: number } | undefined;
  let q = inp.q, k = inp.k;
  let far: { distanceLimit: number; qFar: Float32Array; kFar: Float32Array } | undefined;
  if (pos.kind === 'rope') {
    const kPos = positionIds(cuK, inp.docIds, pos.restartPerDocument ?? false);
    // dynamic NTK follows the call's length (largest key position + 1), as when the model rotates
    let spec = pos.rope;
    if (spec?.scaling?.kind === 'dynamic' && spec.length === undefined) spec = { ...spec, length: dynamicLength(kPos) };
    const { invFreq, mscale } = ropeFrequencies(headDim, spec);
    const qPos = new Float32Array(Tq);
    for (let s = 0; s + 1 < cuQ.length; s++) {
      const lq = cuQ[s + 1]! - cuQ[s]!;
      qPos.set(kPos.subarray(cuK[s + 1]! - lq, cuK[s + 1]!), cuQ[s]!);
    }
    const ropeFn = nativeFn<RopeFn>('ropeApply', 'attention');
    q = ropeFn(q, Tq, heads, headDim, qPos, invFreq, mscale, false);
    k = ropeFn(k, k.length / (kvHeads * headDim), kvHeads, headDim, kPos, invFreq, mscale, false);
    const limit = pos.distanceLimit ?? 0;
    if (limit > 0) {
      if (!Number.isInteger(limit)) throw new RangeError('distanceLimit must be an integer');
      const Tk = inp.k.length / (kvHeads * headDim);
      far = {
        distanceLimit: limit,
        qFar: ropeFn(inp.q, Tq, heads, headDim, new Float32Array(Tq).fill(limit), invFreq, mscale, false),
        kFar: ropeFn(inp.k, Tk, kvHeads, headDim, new Float32Array(Tk), invFreq, mscale, false),
      };
    }
    rope = { qPos, kPos, invFreq, mscale, limit };
  }
  const args: NativeArgs = { ...base, q, k, v: inp.v, ...far };
  return rope ? { args, rope } : { args };
}

/**
 * Which kernels run the fused attention: the CPU ones (default), or the CUDA ones of
 * native/cuda/attention (a build with `npm run build:cuda` and a device; inputs rounded to
 * `dtype`, default bf16; `deterministic` backward, default true: identical bits on every run).
 * CUDA runs a distance limit as two calls of its plain kernels (limitMasks); `splitLimit` runs the
 * CPU kernels that way too (a check of that path against the CPU's one call).
 */
export type AttentionBackend = { readonly kind: 'cpu'; readonly splitLimit?: boolean } | { readonly kind: 'cuda'; readonly dtype?: 'bf16' | 'fp16'; readonly deterministic?: boolean };

const kernelNames = (b: AttentionBackend | undefined): { fwd: string; bwd: string; module: string; extra: object } =>
  b?.kind === 'cuda'
    ? { fwd: 'cudaAttentionForward', bwd: 'cudaAttentionBackward', module: 'cuda_attention', extra: { dtype: b.dtype ?? 'bf16', deterministic: b.deterministic ?? true } }
    : { fwd: 'attentionForward', bwd: 'attentionBackward', module: 'attention', extra: {} };

// LM-Infinite on kernels without the distance limit (CUDA): pairs with q - kv <= L score from the
// rotated q and k, pairs beyond from qFar and kFar. The mask splits exactly into the two sets,
// near = mask & window(L + 1) and far = mask & not(window(L + 1)) (window(w): q - kv < w), so the
// attention is two calls of the plain kernels, one per set, whose outputs combine by their lse
// (limitCombine); the backward runs each call with the combined out and lse (its P and delta are
// the whole row's), and far's dq, dk are the gradients of qFar, kFar.
const limitSplits = new WeakMap<object, Map<number, { near: AttentionMaskIR; far: AttentionMaskIR }>>();
const NO_MASK: MaskIR = { op: 'full' };

/** The mask's pairs within the distance limit L and beyond it, per head group (shared per mask and L). */
export function limitMasks(mask: AttentionMaskIR | MaskIR | undefined, L: number): { near: AttentionMaskIR; far: AttentionMaskIR } {
  const key = mask ?? NO_MASK;
  let t = limitSplits.get(key);
  if (!t) limitSplits.set(key, (t = new Map()));
  let r = t.get(L);
  if (!r) {
    const attn: AttentionMaskIR = mask === undefined ? { default: NO_MASK, groups: [] } : isAttentionMask(mask) ? mask : { default: mask, groups: [] };
    const within: MaskIR = { op: 'window', size: L + 1 };
    const part = (x: MaskIR): AttentionMaskIR => ({
      default: attn.default === undefined ? undefined : { op: 'and', args: [attn.default, x] },
      groups: attn.groups.map((g) => ({ ...g, mask: { op: 'and', args: [g.mask, x] } })),
    });
    t.set(L, (r = { near: part(within), far: part({ op: 'not', arg: within }) }));
  }
  return r;
}

/**
 * out and lse of the union of two disjoint key sets from each set's (out, lse) (limitMasks' near
 * and far calls): per row, weights e^(lse_i - m) with m the larger lse; a row neither set sees
 * keeps out 0 and lse -inf.
 */
export function limitCombine(a: AttentionOutput, b: AttentionOutput, headDim: number): AttentionOutput {
  const rows = a.lse.length;
  const out = new Float32Array(a.out.length), lse = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const la = a.lse[r]!, lb = b.lse[r]!, m = Math.max(la, lb);
    if (m === -Infinity) {
      lse[r] = -Infinity;
      continue;
    }
    const wa = Math.exp(la - m), wb = Math.exp(lb - m), z = wa + wb;
    lse[r] = m + Math.log(z);
    const fa = wa / z, fb = wb / z;
    for (let d = r * headDim; d < (r + 1) * headDim; d++) out[d] = fa * a.out[d]! + fb * b.out[d]!;
  }
  return { out, lse };
}

/** A call with a distance limit as the near and far calls of the plain kernels (see limitMasks). */
function limitCalls(inp: AttentionInput, args: NativeArgs): [NativeArgs, NativeArgs] {
  const { near, far } = limitMasks(inp.mask, args.distanceLimit!);
  const plain = (mask: AttentionMaskIR, q: Float32Array, k: Float32Array): NativeArgs => {
    const { distanceLimit: _l, qFar: _q, kFar: _k, ...rest } = args;
    return { ...rest, ...layout({ ...inp, mask }, args.q.length / (inp.heads * inp.headDim)), q, k };
  };
  return [plain(near, args.q, args.k), plain(far, args.qFar!, args.kFar!)];
}

const splits = (b: AttentionBackend | undefined): boolean => b?.kind === 'cuda' || (b?.kind === 'cpu' && b.splitLimit === true);

/** Fused attention forward. */
export function attentionForward(inp: AttentionInput, backend?: AttentionBackend): AttentionOutput {
  const kn = kernelNames(backend);
  const { args } = prepare(inp);
  if (args.distanceLimit && splits(backend)) {
    const [n, f] = limitCalls(inp, args);
    const fn = nativeFn<FwdFn>(kn.fwd, kn.module);
    return limitCombine(fn({ ...n, ...kn.extra }), fn({ ...f, ...kn.extra }), inp.headDim);
  }
  return nativeFn<FwdFn>(kn.fwd, kn.module)({ ...args, ...kn.extra });
}

/**
 * attentionForward of each input on the CPU kernels, in one native call: decoding inputs (at most 4
 * queries per sequence, one head dim) share one parallel loop (batched decoding: one input per
 * sequence, each with its own cache). Same results as attentionForward of each.
 */
export function attentionForwardMany(inps: readonly AttentionInput[]): AttentionOutput[] {
  return nativeFn<(a: NativeArgs[]) => AttentionOutput[]>('attentionForwardMany', 'attention')(inps.map((i) => prepare(i).args));
}

/**
 * Fused attention backward: gradients of q, k, v (with respect to the inputs before RoPE when
 * position is RoPE). `out` and `lse` come from attentionForward on the same input.
 */
export function attentionBackward(
  inp: AttentionInput & { readonly out: Float32Array; readonly lse: Float32Array; readonly dout: Float32Array },
  backend?: AttentionBackend,
): AttentionGrads {
  const { args, rope } = prepare(inp);
  const kn = kernelNames(backend);
  const bwd = nativeFn<BwdFn>(kn.bwd, kn.module);
  const tail = { ...kn.extra, out: inp.out, dout: inp.dout, lse: inp.lse };
  let g: ReturnType<BwdFn>;
  if (args.distanceLimit && splits(backend)) {
    const [n, f] = limitCalls(inp, args);
    const gn = bwd({ ...n, ...tail }), gf = bwd({ ...f, ...tail });
    const dv = gn.dv;
    for (let i = 0; i < dv.length; i++) dv[i]! += gf.dv[i]!;
    g = { dq: gn.dq, dk: gn.dk, dv, dqFar: gf.dq, dkFar: gf.dk };
  } else g = bwd({ ...args, ...tail });
  if (!rope) return g;
  const ropeFn = nativeFn<RopeFn>('ropeApply', 'attention');
  const kvHeads = inp.kvHeads ?? inp.heads;
  const dq = ropeFn(g.dq, rope.qPos.length, inp.heads, inp.headDim, rope.qPos, rope.invFreq, rope.mscale, true);
  const dk = ropeFn(g.dk, rope.kPos.length, kvHeads, inp.headDim, rope.kPos, rope.invFreq, rope.mscale, true);
  if (g.dqFar && g.dkFar) {
    const Tq = rope.qPos.length, Tk = rope.kPos.length;
    const dqf = ropeFn(g.dqFar, Tq, inp.heads, inp.headDim, new Float32Array(Tq).fill(rope.limit), rope.invFreq, rope.mscale, true);
    const dkf = ropeFn(g.dkFar, Tk, kvHeads, inp.headDim, new Float32Array(Tk), rope.invFreq, rope.mscale, true);
    for (let i = 0; i < dq.length; i++) dq[i]! += dqf[i]!;
    for (let i = 0; i < dk.length; i++) dk[i]! += dkf[i]!;
  }
  return { dq, dk, dv: g.dv };
}

/** Apply RoPE to x [tokens, heads, headDim] at the given positions (rotate-half convention). */
export function applyRope(x: Float32Array, opts: { heads: number; headDim: number; positions: Float32Array; rope?: RopeSpec; inverse?: boolean }): Float32Array {
  const { invFreq, mscale } = ropeFrequencies(opts.headDim, opts.rope);
  return nativeFn<RopeFn>('ropeApply', 'attention')(x, opts.positions.length, opts.heads, opts.headDim, opts.positions, invFreq, mscale, opts.inverse ?? false);
}
