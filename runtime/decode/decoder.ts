// The Decoder: turns any source of logits into tokens with a checked sampler chain, stop
// rules, a length controller, speculative decoding and cascades. The per-token samplers
// are native (sampler.ts); the round logic here is plain TypeScript.
import type { SamplerSpec } from './chain.js';
import { Sampler, type StepTrace } from './sampler.js';

export interface LogitsSource {
  readonly vocabSize: number;
  /** Logits of the token that follows `tokens`. */
  next(tokens: readonly number[]): Float32Array | Promise<Float32Array>;
  /**
   * Batched scoring for speculative verification: candidates.length + 1 logits arrays, the
   * i-th for the token after prefix + candidates[0..i). Optional: without it the decoder
   * calls next() once per position (and counts each call).
   */
  score?(prefix: readonly number[], candidates: readonly number[]): Float32Array[] | Promise<Float32Array[]>;
  /**
   * Optional: the token after `tokens` drawn where the logits are (a GPU: the step then downloads
   * one id, not the vocabulary's logits), for chains of temperature, top_k and a greedy or sample
   * terminal (deviceDraw). Calls `d.uniform()` exactly once for a `sample` draw and only when it draws;
   * returns undefined when it cannot draw this time (the decoder then calls next()).
   */
  draw?(tokens: readonly number[], d: DeviceDraw): number | undefined | Promise<number | undefined>;
}

/** A terminal draw a LogitsSource makes itself (draw): the CPU chain's rules (runtime/decode/README.md). */
export interface DeviceDraw {
  readonly mode: 'greedy' | 'sample';
  /** the float scale 1 / t the CPU chain multiplies the logits by (1 without temperature) */
  readonly scale: number;
  /** sample: keep only the topK largest scaled logits (value desc, id asc; 0: no cut) */
  readonly topK: number;
  /** sample: the float scale of a temperature after the cut (1: none) */
  readonly post: number;
  /** sample: min_p's p (0: none): keep scaled logits >= float(max + ln p) */
  readonly minP: number;
  /** sample: the chain's next uniform of its SplitMix64 stream */
  readonly uniform: () => number;
  /** the end-of-sequence id (-1: none) and the bias the decoder adds to its logit first (0: none; -Infinity: banned) */
  readonly eos: number;
  readonly eosBias: number;
}

/**
 * The device form of a checked chain, or undefined: `[temperature ->] [top_k ->] [min_p ->]
 * [temperature ->] sample`, and `[temperature ->] [top_k ->] [min_p ->] greedy` (both cuts keep the
 * argmax; no temperature after a cut before greedy, where a rounding tie could pick a token the cut
 * dropped).
 */
export function deviceDraw(chain: readonly SamplerSpec[]): Omit<DeviceDraw, 'uniform' | 'eos' | 'eosBias'> | undefined {
  // float(1 / t), computed in double and rounded once, as chain.cc's pending scale (dense) and its
  // sparse view's multiplier; greedy takes its argmax over the scaled values, so values that round
  // equal tie as on the CPU
  const f = (s: SamplerSpec | undefined): number => (s?.name === 'temperature' ? Math.fround(1 / s.t) : 1);
  let i = 0;
  const pre = chain[i]?.name === 'temperature' ? chain[i++] : undefined;
  const cut = chain[i]?.name === 'top_k' ? chain[i++] : undefined;
  const minp = chain[i]?.name === 'min_p' ? chain[i++] : undefined;
  const post = (cut || minp) && chain[i]?.name === 'temperature' ? chain[i++] : undefined;
  const last = chain[i];
  if (i + 1 !== chain.length || !last || (last.name !== 'greedy' && last.name !== 'sample')) return undefined;
  if (last.name === 'greedy') return post ? undefined : { mode: 'greedy', scale: f(pre), topK: 0, post: 1, minP: 0 };
  return { mode: 'sample', scale: f(pre), topK: cut?.name === 'top_k' ? cut.k : 0, post: f(post), minP: minp?.name === 'min_p' ? minp.p : 0 };
}

export type LengthUnit = 'words' | 'tokens' | 'chars';

/** Aim for `value` units, accepted within [value * (1 - within), value * (1 + within)]. */
export interface LengthTarget {
  readonly unit: LengthUnit;
  readonly value: number;
  readonly within: number;
  /** EOS bias (nats) reached at the top of the window; default 8. */
  readonly strength?: number;
}

export interface SpeculateOptions {
  readonly draft: LogitsSource;
  /** The draft's chain (default: the target's chain). */
  readonly draftChain?: readonly SamplerSpec[];
  /** A fixed number of candidates per round, or SpecDec++'s adaptive threshold policy. */
  readonly candidates: number | { readonly max: number; readonly min?: number; readonly stopWhen: number };
  /**
   * Predicted acceptance probability of a drafted token (a trained head). Without one the
   * decoder uses the draft's own confidence: q(x) of the drafted token.
   */
  readonly acceptanceHead?: (draftProbs: Float32Array, token: number, position: number) => number;
  /** Greedy verification: both chains end in greedy (then min(1, p/q) accepts iff the argmaxes agree). */
  readonly greedy?: boolean;
}

export interface DecodeOptions {
  readonly chain: readonly SamplerSpec[];
  readonly seed?: number | bigint;
  readonly eos?: number;
  readonly maxTokens?: number;
  readonly minTokens?: number;
  readonly stop?: readonly string[];
  /** Detokenizer: needed for stop strings and for word/char length targets. */
  readonly decode?: (ids: readonly number[]) => string;
  readonly length?: LengthTarget;
  readonly trace?: boolean;
  readonly speculate?: SpeculateOptions;
}

export type StopReason = 'eos' | 'stop' | 'max_tokens' | 'length';

export interface SpecStats {
  rounds: number;
  drafted: number;
  accepted: number;
  emitted: number;
  draftCalls: number;
  targetCalls: number;
  /** accepted / drafted */
  acceptanceRate: number;
  /** emitted / rounds */
  tokensPerRound: number;
}

export interface DecodeResult {
  /** Generated tokens (EOS excluded; up to and including the token that completed a stop string). */
  readonly tokens: number[];
  /** Decoded text, cut before a stop string (when a detokenizer is given). */
  readonly text?: string;
  readonly stopReason: StopReason;
  readonly trace?: StepTrace[];
  readonly stats?: SpecStats;
}

export class DecodeError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

const WORD = /\w+/g;

export function countUnits(unit: LengthUnit, tokens: readonly number[], decode?: (ids: readonly number[]) => string): number {
  if (unit === 'tokens') return tokens.length;
  if (!decode) throw new DecodeError('LMP_E_DECODE', `a length target in ${unit} needs a detokenizer (decode)`);
  const text = decode(tokens);
  return unit === 'chars' ? text.length : (text.match(WORD) ?? []).length;
}

/**
 * The length controller. Before the window opens (length < lo) EOS is blocked (-inf).
 * Inside it, EOS gets a bias rising linearly from 0 at lo to `strength` at hi. EOS is
 * forced when the next token would probably overshoot: length + r > hi, where r is the
 * running mean of units added per token (1 before any token).
 */
export class LengthController {
  readonly lo: number;
  readonly hi: number;
  private unitsPerToken = 1;
  constructor(readonly target: LengthTarget) {
    this.lo = target.value * (1 - target.within);
    this.hi = target.value * (1 + target.within);
  }
  /** The EOS adjustment for a sequence that has `len` units after `steps` tokens. */
  control(len: number, steps: number): { bias: number; force: boolean } {
    if (steps > 0) this.unitsPerToken = Math.max(len / steps, 1e-9);
    if (len < this.lo) return { bias: -Infinity, force: false };
    if (len + this.unitsPerToken > this.hi) return { bias: 0, force: true };
    const span = Math.max(this.hi - this.lo, 1e-9);
    return { bias: (this.target.strength ?? 8) * Math.min(1, (len - this.lo) / span), force: false };
  }
}

/** Type-7 (linear interpolation) quantile, as numpy's default. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const h = (s.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo]! + (h - lo) * (s[hi]! - s[lo]!);
}

function greedyChain(chain: readonly SamplerSpec[]): SamplerSpec[] {
  const body = chain.filter((s) => !['greedy', 'sample', 'mirostat', 'mirostat_v2'].includes(s.name));
  return [...body, { name: 'greedy' }];
}

/** Mixes a seed for the draft's own stream (so draft and target draws never coincide). */
function draftSeed(seed: number | bigint): bigint {
  return (BigInt(seed) ^ 0x5851f42d4c957f2dn) & 0xffffffffffffffffn;
}

export class Decoder {
  constructor(
    readonly source: LogitsSource,
    readonly opts: DecodeOptions,
  ) {
    if (opts.stop?.length && !opts.decode) throw new DecodeError('LMP_E_DECODE', 'stop strings need a detokenizer (decode)');
    if ((opts.minTokens !== undefined || opts.length) && opts.eos === undefined)
      throw new DecodeError('LMP_E_DECODE', 'min_tokens and length targets need the end-of-sequence token id (eos)');
  }

  async generate(prompt: readonly number[]): Promise<DecodeResult> {
    return this.opts.speculate ? this.speculative(prompt, this.opts.speculate) : this.plain(prompt);
  }

  // ---- shared per-position rules ----

  /** min_tokens / length control at this position: the bias for EOS's logit and whether EOS is forced. */
  private eosControl(out: readonly number[], ctl: LengthController | undefined, extra: readonly number[] = []): { bias: number; force: boolean } {
    if (this.opts.eos === undefined) return { bias: 0, force: false };
    let bias = 0;
    let force = false;
    const n = out.length + extra.length;
    if (ctl) {
      const seq = extra.length ? [...out, ...extra] : out;
      const c = ctl.control(countUnits(ctl.target.unit, seq, this.opts.decode), n);
      bias = c.bias;
      force = c.force;
    }
    if (this.opts.minTokens !== undefined && n < this.opts.minTokens) {
      bias = -Infinity;
      force = false;
    }
    return { bias, force };
  }

  /** Applies eosControl's bias to a logits array; returns the undo. */
  private applyBias(logits: Float32Array, bias: number): () => void {
    const eos = this.opts.eos;
    if (eos === undefined || bias === 0) return () => {};
    const old = logits[eos]!;
    logits[eos] = bias === -Infinity ? -Infinity : old + bias;
    return () => void (logits[eos] = old);
  }

  /** Applies min_tokens / length control to a logits array; returns the undo and whether EOS is forced. */
  private constrain(
    logits: Float32Array,
    out: readonly number[],
    ctl: LengthController | undefined,
    extra: readonly number[] = [],
  ): { undo: () => void; force: boolean } {
    const { bias, force } = this.eosControl(out, ctl, extra);
    return { undo: this.applyBias(logits, bias), force };
  }

  /** After emitting: returns a stop reason when generation ends here, and trims for stop strings. */
  private checkStop(out: number[], prevTextLen: { n: number }): StopReason | undefined {
    const stops = this.opts.stop;
    if (stops && stops.length && this.opts.decode) {
      const text = this.opts.decode(out);
      const longest = Math.max(...stops.map((s) => s.length));
      const from = Math.max(0, prevTextLen.n - longest + 1);
      prevTextLen.n = text.length;
      for (const s of stops) if (s.length && text.indexOf(s, from) >= 0) return 'stop';
    }
    if (this.opts.maxTokens !== undefined && out.length >= this.opts.maxTokens) return 'max_tokens';
    return undefined;
  }

  private finish(out: number[], reason: StopReason, trace?: StepTrace[], stats?: SpecStats): DecodeResult {
    let text: string | undefined;
    if (this.opts.decode) {
      text = this.opts.decode(out);
      if (reason === 'stop' && this.opts.stop) {
        let cut = text.length;
        for (const s of this.opts.stop) {
          const i = s.length ? text.indexOf(s) : -1;
          if (i >= 0) cut = Math.min(cut, i);
        }
        text = text.slice(0, cut);
      }
    }
    return { tokens: out, ...(text !== undefined ? { text } : {}), stopReason: reason, ...(trace ? { trace } : {}), ...(stats ? { stats } : {}) };
  }

  // ---- plain decoding ----

  private async plain(prompt: readonly number[]): Promise<DecodeResult> {
    const sampler = new Sampler(this.opts.chain, { vocab: this.source.vocabSize, seed: this.opts.seed ?? 0, trace: !!this.opts.trace });
    sampler.reset(prompt);
    const ctl = this.opts.length ? new LengthController(this.opts.length) : undefined;
    const tokens = [...prompt];
    const out: number[] = [];
    const trace: StepTrace[] | undefined = this.opts.trace ? [] : undefined;
    const textLen = { n: 0 };
    if (this.opts.maxTokens === 0) return this.finish(out, 'max_tokens', trace);
    // Where the source draws itself (a GPU keeps the logits), the chain's terminal runs there with
    // this chain's uniforms; every other step (a forced EOS, a source that declines) runs here.
    const dev = this.source.draw && !trace ? deviceDraw(sampler.chain) : undefined;
    const uniform = (): number => sampler.uniform();
    for (;;) {
      const { bias, force } = this.eosControl(out, ctl);
      let tok = dev && !force ? await this.source.draw!(tokens, { ...dev, uniform, eos: this.opts.eos ?? -1, eosBias: bias }) : undefined;
      if (tok === undefined) {
        const logits = await this.source.next(tokens);
        if (logits.length !== this.source.vocabSize)
          throw new DecodeError('LMP_E_SHAPE', `the source returned ${logits.length} logits, its vocabSize is ${this.source.vocabSize}`);
        const undo = this.applyBias(logits, bias);
        try {
          tok = force ? this.opts.eos! : sampler.sample(logits);
        } finally {
          undo();
        }
      }
      sampler.accept(tok);
      if (trace && !force) trace.push(sampler.lastTrace(tok)!);
      if (tok === this.opts.eos) return this.finish(out, force ? 'length' : 'eos', trace);
      out.push(tok);
      tokens.push(tok);
      const r = this.checkStop(out, textLen);
      if (r) return this.finish(out, r, trace);
    }
  }

  // ---- speculative decoding ----

  private async speculative(prompt: readonly number[], sp: SpeculateOptions): Promise<DecodeResult> {
    const V = this.source.vocabSize;
    if (sp.draft.vocabSize !== V) throw new DecodeError('LMP_E_SHAPE', 'draft and target vocabularies differ');
    const seed = this.opts.seed ?? 0;
    const tChain = sp.greedy ? greedyChain(this.opts.chain) : this.opts.chain;
    const dChain = sp.greedy ? greedyChain(sp.draftChain ?? this.opts.chain) : (sp.draftChain ?? this.opts.chain);
    const target = new Sampler(tChain, { vocab: V, seed });
    const draft = new Sampler(dChain, { vocab: V, seed: draftSeed(seed) });
    target.reset(prompt);
    draft.reset(prompt);
    const ctl = this.opts.length ? new LengthController(this.opts.length) : undefined;
    const fixed = typeof sp.candidates === 'number' ? sp.candidates : undefined;
    const adaptive = typeof sp.candidates === 'number' ? undefined : sp.candidates;
    const gMax = fixed ?? adaptive!.max;
    const gMin = adaptive?.min ?? 1;
    if (!(gMax >= 1) || !Number.isInteger(gMax)) throw new DecodeError('LMP_E_ARG', 'candidates must be an integer >= 1');
    const tokens = [...prompt];
    const out: number[] = [];
    const stats: SpecStats = { rounds: 0, drafted: 0, accepted: 0, emitted: 0, draftCalls: 0, targetCalls: 0, acceptanceRate: 0, tokensPerRound: 0 };
    const textLen = { n: 0 };
    const qs: Float32Array[] = Array.from({ length: gMax }, () => new Float32Array(V));
    const p = new Float32Array(V);
    const done = (reason: StopReason): DecodeResult => {
      stats.acceptanceRate = stats.drafted ? stats.accepted / stats.drafted : 0;
      stats.tokensPerRound = stats.rounds ? stats.emitted / stats.rounds : 0;
      return this.finish(out, reason, undefined, stats);
    };
    if (this.opts.maxTokens === 0) return done('max_tokens');
    for (;;) {
      stats.rounds++;
      const snapD = draft.snapshot();
      // 1. Draft up to gMax candidates (SpecDec++: stop once P(some candidate rejected) > h).
      const cand: number[] = [];
      let allAccepted = 1;
      for (let i = 0; i < gMax; i++) {
        if (this.opts.maxTokens !== undefined && out.length + cand.length >= this.opts.maxTokens) break;
        // the context is tokens + cand: pushed onto our own array for the call, then popped
        for (const c of cand) tokens.push(c);
        let dl: Float32Array;
        try {
          dl = await sp.draft.next(tokens);
        } finally {
          tokens.length -= cand.length;
        }
        stats.draftCalls++;
        const { undo, force } = this.constrain(dl, out, ctl, cand);
        if (force) {
          undo();
          break;
        }
        let x: number;
        try {
          x = draft.sample(dl);
          draft.distribution(dl, qs[i]!);
        } finally {
          undo();
        }
        draft.accept(x);
        cand.push(x);
        if (x === this.opts.eos) break;
        if (adaptive && cand.length >= gMin) {
          const a = sp.acceptanceHead ? sp.acceptanceHead(qs[i]!, x, i) : qs[i]![x]!;
          allAccepted *= Math.min(1, Math.max(0, a));
          if (1 - allAccepted > adaptive.stopWhen) break;
        }
      }
      stats.drafted += cand.length;
      // 2. Score all positions with the target in one call.
      let tl: Float32Array[];
      if (this.source.score) {
        tl = await this.source.score(tokens, cand);
        stats.targetCalls++;
      } else {
        tl = [];
        for (let i = 0; i <= cand.length; i++) {
          if (i > 0) tokens.push(cand[i - 1]!);
          tl.push((await this.source.next(tokens)).slice());
          stats.targetCalls++;
        }
        tokens.length -= cand.length;
      }
      // 3. Verify left to right; the target chain's state advances with each committed token.
      const emitted: number[] = [];
      let reason: StopReason | undefined;
      const emit = (t: number, forced: boolean): boolean => {
        target.accept(t);
        stats.emitted++;
        emitted.push(t);
        if (t === this.opts.eos) {
          reason = forced ? 'length' : 'eos';
          return true;
        }
        out.push(t);
        tokens.push(t);
        reason = this.checkStop(out, textLen);
        return reason !== undefined;
      };
      let stopped = false;
      let i = 0;
      for (; i < cand.length && !stopped; i++) {
        const x = cand[i]!;
        const { undo, force } = this.constrain(tl[i]!, out, ctl);
        if (force) {
          undo();
          stopped = emit(this.opts.eos!, true);
          break;
        }
        try {
          target.distribution(tl[i]!, p);
        } finally {
          undo();
        }
        const q = qs[i]!;
        const r = target.uniform();
        if (r < Math.min(1, p[x]! / q[x]!)) {
          stats.accepted++;
          stopped = emit(x, false);
          continue;
        }
        // First rejection: sample from normalize(max(0, p - q)), walking ascending ids.
        let z = 0;
        for (let v = 0; v < V; v++) z += Math.max(0, p[v]! - q[v]!);
        const u = target.uniform() * z;
        let acc = 0;
        let y = -1;
        let lastPos = -1;
        for (let v = 0; v < V; v++) {
          const w = Math.max(0, p[v]! - q[v]!);
          if (w <= 0) continue;
          acc += w;
          lastPos = v;
          if (acc > u) {
            y = v;
            break;
          }
        }
        if (y < 0) y = lastPos;
        stopped = emit(y, false);
        break;
      }
      if (!stopped && i === cand.length) {
        // Every candidate accepted (or none drafted): one more token from the target.
        const last = tl[cand.length]!;
        const { undo, force } = this.constrain(last, out, ctl);
        let t: number;
        try {
          t = force ? this.opts.eos! : target.sample(last);
        } finally {
          undo();
        }
        stopped = emit(t, force);
      }
      // 4. The draft's state follows what was actually emitted (rollback + replay).
      draft.restore(snapD);
      for (const t of emitted) draft.accept(t);
      if (stopped) return done(reason!);
    }
  }
}

export interface CascadeOptions {
  readonly small: Decoder;
  readonly big: Decoder;
  /** Quantile level of the small model's per-token log-probabilities (e.g. 0.1). */
  readonly quantile: number;
  /** Defer to the big model when that quantile is below this (nats). */
  readonly threshold: number;
}

export interface CascadeResult extends DecodeResult {
  readonly deferred: boolean;
  /** The small model's logprob quantile that decided. */
  readonly score: number;
  readonly small: DecodeResult;
}

/**
 * Gupta et al.'s cascade: the small model answers; when the chosen quantile of its
 * per-token log-probabilities (ln p_raw of each generated token, a length-robust statistic
 * unlike the sum or mean) is below the threshold, the big model answers instead.
 * The small decoder must have `trace: true`.
 */
export async function cascade(prompt: readonly number[], c: CascadeOptions): Promise<CascadeResult> {
  if (!c.small.opts.trace) throw new DecodeError('LMP_E_ARG', 'the small decoder of a cascade needs trace: true');
  const small = await c.small.generate(prompt);
  const lps = (small.trace ?? []).map((t) => t.logprob);
  const score = quantile(lps, c.quantile);
  if (lps.length > 0 && score >= c.threshold) return { ...small, deferred: false, score, small };
  const big = await c.big.generate(prompt);
  return { ...big, deferred: true, score, small };
}
