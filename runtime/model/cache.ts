// KV-cache policies beyond full / sinks+window (llama.ts): SirLLM (entropy-scored key tokens with
// memory decay) and InfLLM (distant tokens in block memory units, top-K units per step), and
// createSession(model, policy) mapping a compiled `cache` clause onto a decoding session.
// Every policy lays out the tokens it attends to in their original order at positions 0..S-1
// (keys are cached before RoPE and rotated by their index in the attended set: position shift).
import { type CachePolicy, KVCacheSession, type LlamaModel } from './llama.js';
import type { CacheSpec } from '../entry/spec.js';
import { cacheKeepPolicy } from './settings.js';

/** What every decoding session offers (KVCacheSession, SirLLMSession, InfLLMSession). */
export interface DecodeSession {
  readonly model: LlamaModel;
  /** positions held in the cache (InfLLM: in memory, attended or not) */
  readonly length: number;
  /** tokens consumed since the last reset */
  readonly seen: number;
  nextAll(tokens: Int32Array): Float32Array;
  next(tokens: Int32Array): Float32Array;
  reset(): void;
}

export interface SirLLMPolicy {
  readonly kind: 'sirllm';
  /** key tokens kept beside the sinks and the recent window */
  readonly keep: number;
  /** every cached score is multiplied by decay each time a token is appended, in (0, 1] */
  readonly decay: number;
  /** the latest tokens always kept (default 64) */
  readonly recent?: number;
  /** the first tokens always kept (default 4) */
  readonly sinks?: number;
}

export interface InfLLMPolicy {
  readonly kind: 'infllm';
  /** tokens per memory unit */
  readonly block: number;
  /** memory units attended per step */
  readonly top: number;
  /** local window (default 512) */
  readonly local?: number;
  /** initial tokens always attended (default 4) */
  readonly sinks?: number;
  /** representative keys per unit (default 4) */
  readonly representatives?: number;
}

export type SessionPolicy = CachePolicy | SirLLMPolicy | InfLLMPolicy;

const argErr = (msg: string): Error => Object.assign(new Error(msg), { code: 'LMP_E_ARG' });
const isInt = (x: unknown, min: number): x is number => typeof x === 'number' && Number.isInteger(x) && x >= min;

function checkTokens(model: LlamaModel, tokens: Int32Array): void {
  const V = model.config.vocab;
  for (const t of tokens) if (t < 0 || t >= V) throw Object.assign(new Error(`token ${t} outside the vocabulary (${V})`), { code: 'LMP_E_TOKEN' });
}

/** -log softmax(row)[tok] in float64. */
export function surprisal(row: ArrayLike<number>, tok: number): number {
  let m = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > m) m = row[i]!;
  let s = 0;
  for (let i = 0; i < row.length; i++) s += Math.exp(row[i]! - m);
  return m + Math.log(s) - row[tok]!;
}

/**
 * SirLLM's bookkeeping, shared by the CPU session below and the device one (cuda-llama.ts
 * CudaKVSession): the cached tokens in slot order, their stream positions and scores, which slot a
 * full cache evicts, and the scores of the tokens a step appended.
 */
export class SirLLMState {
  readonly cap: number;
  readonly sinks: number;
  readonly recent: number;
  /** cached tokens in slot order, their positions in the stream */
  readonly cachedTokens: number[] = [];
  readonly origins: number[] = [];
  private readonly scores: Float64Array;
  private lastLogits: Float32Array | null = null;

  constructor(readonly policy: SirLLMPolicy) {
    this.sinks = policy.sinks ?? 4;
    this.recent = policy.recent ?? 64;
    if (!isInt(policy.keep, 0) || !isInt(this.sinks, 0) || !isInt(this.recent, 1)) throw argErr('sirllm: keep and sinks must be integers >= 0, recent an integer >= 1');
    if (!(policy.decay > 0 && policy.decay <= 1)) throw argErr('sirllm: decay must be in (0, 1]');
    this.cap = this.sinks + policy.keep + this.recent;
    this.scores = new Float64Array(this.cap);
  }

  get length(): number {
    return this.cachedTokens.length;
  }

  /** current scores of the cached tokens, in slot order */
  get tokenScores(): number[] {
    return Array.from(this.scores.subarray(0, this.length));
  }

  /** The slot a full cache evicts: the lowest score among those neither sinks nor in the next recent window, the oldest on ties. */
  victim(): number {
    const lo = this.sinks, hi = this.length - this.recent + 1;
    let e = lo;
    for (let s = lo + 1; s < hi; s++) if (this.scores[s]! < this.scores[e]!) e = s;
    return e;
  }

  /** Forgets slot e (the caller moves its cache rows after e up one). */
  remove(e: number): void {
    this.scores.copyWithin(e, e + 1, this.length);
    this.cachedTokens.splice(e, 1);
    this.origins.splice(e, 1);
  }

  /** After a step that appended `chunk` (first stream position `seen`) with logits [n, V]: decay, then score each new token. */
  append(chunk: Int32Array, logits: Float32Array, V: number, seen: number): void {
    const n = chunk.length, len = this.length;
    for (let j = 0; j < n; j++) {
      for (let s = 0; s < len + j; s++) this.scores[s]! *= this.policy.decay;
      const prev = j === 0 ? this.lastLogits : logits.subarray((j - 1) * V, j * V);
      this.scores[len + j] = prev ? surprisal(prev, chunk[j]!) : 0;
      this.cachedTokens.push(chunk[j]!);
      this.origins.push(seen + j);
    }
    this.lastLogits = logits.slice((n - 1) * V, n * V);
  }

  reset(): void {
    this.cachedTokens.length = 0;
    this.origins.length = 0;
    this.lastLogits = null;
  }
}

/**
 * SirLLM (Yao et al. 2024). The cache holds at most sinks + keep + recent tokens: the first
 * `sinks`, the latest `recent`, and `keep` key tokens. Each token gets the score
 * s = -log p(token | cached context) (its token entropy, from the logits the model produced just
 * before it; the very first token scores 0); each time a token is appended every cached score is
 * multiplied by `decay` (memory decay). When the cache is full and a token arrives, the lowest
 * scored token among those that are neither sinks nor in the new recent window (keep + 1
 * candidates) is evicted, the oldest on ties. With keep = 0 this is sinks + window.
 */
export class SirLLMSession implements DecodeSession {
  private cacheK: Float32Array[] = [];
  private cacheV: Float32Array[] = [];
  private readonly state: SirLLMState;
  length = 0;
  seen = 0;

  constructor(readonly model: LlamaModel, readonly policy: SirLLMPolicy) {
    this.state = new SirLLMState(policy);
    const c = model.config, HK = c.kvHeads * model.headDim;
    for (let l = 0; l < c.layers; l++) {
      this.cacheK.push(new Float32Array(this.cap * HK));
      this.cacheV.push(new Float32Array(this.cap * HK));
    }
  }

  get cap(): number {
    return this.state.cap;
  }
  get sinks(): number {
    return this.state.sinks;
  }
  get recent(): number {
    return this.state.recent;
  }
  /** cached tokens in slot order, their positions in the stream and their current scores */
  get cachedTokens(): number[] {
    return this.state.cachedTokens;
  }
  get origins(): number[] {
    return this.state.origins;
  }
  get tokenScores(): number[] {
    return this.state.tokenScores;
  }

  private evictOne(): void {
    const e = this.state.victim();
    const HK = this.model.config.kvHeads * this.model.headDim;
    for (let l = 0; l < this.model.config.layers; l++) {
      this.cacheK[l]!.copyWithin(e * HK, (e + 1) * HK, this.length * HK);
      this.cacheV[l]!.copyWithin(e * HK, (e + 1) * HK, this.length * HK);
    }
    this.state.remove(e);
    this.length--;
  }

  nextAll(tokens: Int32Array): Float32Array {
    checkTokens(this.model, tokens);
    const V = this.model.config.vocab, out = new Float32Array(tokens.length * V);
    let i = 0;
    while (i < tokens.length) {
      if (this.length === this.cap) this.evictOne();
      const n = Math.min(tokens.length - i, this.cap - this.length);
      const chunk = tokens.subarray(i, i + n);
      const logits = this.model._decodeStep(chunk, this.length, this.cacheK, this.cacheV, true);
      this.state.append(chunk, logits, V, this.seen);
      this.length += n;
      this.seen += n;
      out.set(logits, i * V);
      i += n;
    }
    return out;
  }

  next(tokens: Int32Array): Float32Array {
    if (tokens.length === 0) throw argErr('next: no tokens');
    return this.nextAll(tokens).slice((tokens.length - 1) * this.model.config.vocab);
  }

  reset(): void {
    this.length = 0;
    this.seen = 0;
    this.state.reset();
  }
}

/**
 * InfLLM (Xiao et al. 2024). Every token's key/value is kept (before RoPE) in a store; the first
 * `sinks` tokens are always attended; tokens after them are grouped, oldest first, into memory
 * units of `block` tokens as soon as `block` of them lie beyond the local window of the latest
 * `local` tokens, so the unblocked tail is between local and local + block - 1 tokens long and
 * is always attended. Per layer, token m of the tail accumulates the representative score
 * r_m = sum over later-or-equal queries j, over query heads h, of q_{j,h} . k_{m,kv(h)}
 * (q and k before RoPE: the queries that attended to m while it was local); when a unit forms,
 * the `representatives` tokens of highest r_m (earliest on ties) give its representative keys.
 * A step's queries score each unit by sum over queries, heads and representatives of q . r (before
 * RoPE) and attend to the `top` best units (earliest on ties), laid out in original order between
 * the sinks and the tail, at positions 0..S-1. Attended tokens per step are bounded by
 * sinks + top * block + local + block - 1; the store (memory units) grows with the stream, as in
 * the paper (which offloads it to CPU memory). While no unit exists prompts run in chunks; after
 * that one token per step (each token's selection is its own).
 */
export class InfLLMState {
  /** per layer, every token's key before RoPE, f32 [capSlots, kvHeads * headDim] (the device session: a host mirror) */
  readonly storeK: Float32Array[] = [];
  private repK: Float32Array[] = [];
  private repScore: Float64Array[] = [];
  capSlots = 0;
  readonly sinks: number;
  readonly local: number;
  readonly block: number;
  readonly top: number;
  readonly reps: number;
  units = 0;
  readonly cachedTokens: number[] = [];
  /** per layer, the slots attended by the last step */
  lastSelection: Int32Array[] = [];

  constructor(readonly model: LlamaModel, readonly policy: InfLLMPolicy) {
    this.sinks = policy.sinks ?? 4;
    this.local = policy.local ?? 512;
    this.block = policy.block;
    this.top = policy.top;
    this.reps = policy.representatives ?? 4;
    if (!isInt(this.block, 1) || !isInt(this.top, 0) || !isInt(this.local, 1) || !isInt(this.sinks, 0) || !isInt(this.reps, 1) || this.reps > this.block)
      throw argErr('infllm: block >= 1, top >= 0, local >= 1, sinks >= 0 and 1 <= representatives <= block (integers)');
    for (let l = 0; l < model.config.layers; l++) {
      this.storeK.push(new Float32Array(0));
      this.repK.push(new Float32Array(0));
      this.repScore.push(new Float64Array(0));
    }
  }

  /** tokens in memory (attended or not) */
  get length(): number {
    return this.cachedTokens.length;
  }

  /** the largest number of tokens one step attends to */
  get attendBound(): number {
    return this.sinks + this.top * this.block + this.local + this.block - 1;
  }

  private get tailStart(): number {
    return this.sinks + this.units * this.block;
  }

  /** The tokens of the next step out of `remaining`: prompt chunks while no unit exists, then one. */
  stepSize(remaining: number): number {
    return this.units === 0 ? Math.min(remaining, Math.max(1, this.sinks + this.local + this.block - 1 - this.length)) : 1;
  }

  /** Before a step of n tokens: forms the units that leave the local window, grows the key store to hold them (capSlots). */
  prepare(n: number): void {
    while (this.length + n - this.tailStart - this.local >= this.block) this.formUnit();
    const need = this.length + n;
    if (need <= this.capSlots) return;
    const HK = this.model.config.kvHeads * this.model.headDim, cap = Math.max(need, this.capSlots * 2, 64);
    for (let l = 0; l < this.model.config.layers; l++) {
      const k = new Float32Array(cap * HK), r = new Float64Array(cap);
      k.set(this.storeK[l]!.subarray(0, this.length * HK));
      r.set(this.repScore[l]!.subarray(0, this.length));
      this.storeK[l] = k;
      this.repScore[l] = r;
    }
    this.capSlots = cap;
  }

  private formUnit(): void {
    const HK = this.model.config.kvHeads * this.model.headDim, B = this.block, R = this.reps, s0 = this.tailStart;
    for (let l = 0; l < this.model.config.layers; l++) {
      const idx = Array.from({ length: B }, (_, i) => s0 + i);
      const r = this.repScore[l]!;
      idx.sort((a, b) => r[b]! - r[a]! || a - b);
      const rk = new Float32Array((this.units + 1) * R * HK);
      rk.set(this.repK[l]!.subarray(0, this.units * R * HK));
      for (let i = 0; i < R; i++) rk.set(this.storeK[l]!.subarray(idx[i]! * HK, (idx[i]! + 1) * HK), (this.units * R + i) * HK);
      this.repK[l] = rk;
    }
    this.units++;
  }

  /** Σ_h q_{j,h} . k_{kv(h)} over query heads, for a query row and a key row (both before RoPE). */
  private qk(q: Float32Array, qOff: number, k: Float32Array, kOff: number): number {
    const c = this.model.config, hd = this.model.headDim, group = c.heads / c.kvHeads;
    let s = 0;
    for (let h = 0; h < c.heads; h++) {
      const qo = qOff + h * hd, ko = kOff + Math.floor(h / group) * hd;
      for (let d = 0; d < hd; d++) s += q[qo + d]! * k[ko + d]!;
    }
    return s;
  }

  /**
   * Layer l of a step of n tokens (their keys already in storeK at length..length+n-1; q their
   * queries before RoPE, [n, heads * headDim]): the slots attended, in order (sinks, the chosen
   * units, the tail), laid out at positions 0..S-1.
   */
  select(l: number, qPre: Float32Array, n: number): Int32Array {
    const c = this.model.config, HQ = c.heads * this.model.headDim, HK = c.kvHeads * this.model.headDim;
    const base = this.length, end = base + n, t0 = this.tailStart, K = this.storeK[l]!, r = this.repScore[l]!;
    for (let s = Math.max(t0, base); s < end; s++) r[s] = 0;
    for (let s = t0; s < end; s++)
      for (let j = Math.max(0, s - base); j < n; j++) r[s] += this.qk(qPre, j * HQ, K, s * HK);
    let chosen: number[] = Array.from({ length: this.units }, (_, u) => u);
    if (this.units > this.top) {
      const R = this.reps, rk = this.repK[l]!;
      const score = chosen.map((u) => {
        let s = 0;
        for (let j = 0; j < n; j++) for (let i = 0; i < R; i++) s += this.qk(qPre, j * HQ, rk, (u * R + i) * HK);
        return s;
      });
      chosen = chosen.sort((a, b) => score[b]! - score[a]! || a - b).slice(0, this.top).sort((a, b) => a - b);
    }
    const out: number[] = [];
    for (let s = 0; s < Math.min(this.sinks, end); s++) out.push(s);
    for (const u of chosen) for (let i = 0; i < this.block; i++) out.push(this.sinks + u * this.block + i);
    for (let s = Math.max(t0, Math.min(this.sinks, end)); s < end; s++) out.push(s);
    const sel = Int32Array.from(out);
    this.lastSelection[l] = sel;
    return sel;
  }

  /** After the step: its tokens are in memory. */
  advance(chunk: Int32Array): void {
    for (const t of chunk) this.cachedTokens.push(t);
  }

  reset(): void {
    this.units = 0;
    this.cachedTokens.length = 0;
    this.lastSelection = [];
  }
}

export class InfLLMSession implements DecodeSession {
  private storeV: Float32Array[] = [];
  private readonly state: InfLLMState;
  seen = 0;

  constructor(readonly model: LlamaModel, readonly policy: InfLLMPolicy) {
    this.state = new InfLLMState(model, policy);
    for (let l = 0; l < model.config.layers; l++) this.storeV.push(new Float32Array(0));
  }

  get length(): number {
    return this.state.length;
  }
  get units(): number {
    return this.state.units;
  }
  get cachedTokens(): number[] {
    return this.state.cachedTokens;
  }
  get lastSelection(): Int32Array[] {
    return this.state.lastSelection;
  }
  get attendBound(): number {
    return this.state.attendBound;
  }
  get sinks(): number {
    return this.state.sinks;
  }
  get local(): number {
    return this.state.local;
  }
  get block(): number {
    return this.state.block;
  }
  get top(): number {
    return this.state.top;
  }
  get reps(): number {
    return this.state.reps;
  }

  nextAll(tokens: Int32Array): Float32Array {
    checkTokens(this.model, tokens);
    const st = this.state, V = this.model.config.vocab, HK = this.model.config.kvHeads * this.model.headDim, out = new Float32Array(tokens.length * V);
    let i = 0;
    while (i < tokens.length) {
      const n = st.stepSize(tokens.length - i);
      st.prepare(n);
      if (this.storeV[0]!.length < st.capSlots * HK)
        this.storeV = this.storeV.map((v) => {
          const w = new Float32Array(st.capSlots * HK);
          w.set(v.subarray(0, st.length * HK));
          return w;
        });
      const chunk = tokens.subarray(i, i + n);
      out.set(this.model._selectStep(chunk, st.length, st.storeK, this.storeV, (l, q) => st.select(l, q, n)), i * V);
      st.advance(chunk);
      this.seen += n;
      i += n;
    }
    return out;
  }

  next(tokens: Int32Array): Float32Array {
    if (tokens.length === 0) throw argErr('next: no tokens');
    return this.nextAll(tokens).slice((tokens.length - 1) * this.model.config.vocab);
  }

  reset(): void {
    this.seen = 0;
    this.state.reset();
  }
}

/**
 * A decoding session for a cache policy: runtime/model's own policies, or the compiler's
 * `cache` clause (CacheSpec: full | sirllm | infllm | keep(sink(g) | window(w)) reposition;
 * `reposition` is implied for sirllm/infllm — every policy that evicts shifts positions; keep
 * without reposition, or with another mask, is refused: settings.ts cacheKeepPolicy).
 */
export function createSession(model: LlamaModel, policy: SessionPolicy | { readonly kind: string; readonly [k: string]: unknown } = { kind: 'full' }): DecodeSession {
  switch (policy.kind) {
    case 'full':
      return new KVCacheSession(model, { kind: 'full' });
    case 'sinks_window':
      return new KVCacheSession(model, policy as CachePolicy);
    case 'sirllm':
      return new SirLLMSession(model, policy as SirLLMPolicy);
    case 'infllm':
      return new InfLLMSession(model, policy as InfLLMPolicy);
    case 'keep': {
      // the compiler's `cache keep(sink(g) | window(w)) reposition`
      const p = cacheKeepPolicy(policy as Extract<CacheSpec, { kind: 'keep' }>);
      if ('error' in p) throw Object.assign(new Error(p.error), { code: 'LMP_E_NO_RUNTIME' });
      return new KVCacheSession(model, p);
    }
    default:
      throw Object.assign(new Error(`cache policy ${policy.kind} is not supported by runtime/model`), { code: 'LMP_E_NO_RUNTIME' });
  }
}
