// A checked sampler chain bound to its native object.
import { checkedChain, lowerSpec, type SamplerSpec } from './chain.js';
import { newNativeChain, type NativeSamplerChain, type NativeSnapshot } from './native.js';

/** Per-step trace over the model's raw distribution (before the chain). */
export interface StepTrace {
  /** Entropy of softmax(raw logits), in nats. */
  readonly entropy: number;
  /** -log2 p_raw(token), in bits (mirostat's unit). */
  readonly surprise: number;
  /** ln p_raw(token). */
  readonly logprob: number;
  /** Candidates the terminal sampler chose from (1 for greedy). */
  readonly candidates: number;
}

export interface SamplerOptions {
  readonly vocab: number;
  readonly seed?: number | bigint;
  /** Compute a StepTrace on every sample() (two extra passes over the logits). */
  readonly trace?: boolean;
}

export class Sampler {
  readonly chain: readonly SamplerSpec[];
  readonly vocab: number;
  private readonly nat: NativeSamplerChain;
  private readonly traceBuf: Float64Array | undefined;

  constructor(samplers: readonly SamplerSpec[], opts: SamplerOptions) {
    this.chain = checkedChain(samplers);
    this.vocab = opts.vocab;
    this.traceBuf = opts.trace ? new Float64Array(4) : undefined;
    this.nat = newNativeChain(this.chain.map(lowerSpec), opts.vocab, opts.seed ?? 0, this.traceBuf);
  }

  /** Picks a token (does not commit it: call accept). */
  sample(logits: Float32Array): number {
    return this.nat.sample(logits);
  }
  /** The trace of the latest sample() (requires `trace: true`). */
  lastTrace(token: number): StepTrace | undefined {
    const t = this.traceBuf;
    if (!t) return undefined;
    void token;
    return { entropy: t[0]!, logprob: t[1]!, surprise: -t[1]! / Math.LN2, candidates: t[2]! };
  }
  /** The chain's final distribution over the vocabulary (0 where cut). Draws nothing. */
  distribution(logits: Float32Array, out: Float32Array = new Float32Array(this.vocab)): Float32Array {
    this.nat.distribution(logits, out);
    return out;
  }
  accept(token: number): void {
    this.nat.accept(token);
  }
  reset(tokens: readonly number[]): void {
    this.nat.reset(Int32Array.from(tokens));
  }
  snapshot(): NativeSnapshot {
    return this.nat.snapshot();
  }
  restore(s: NativeSnapshot): void {
    this.nat.restore(s);
  }
  uniform(): number {
    return this.nat.uniform();
  }
  setSeed(seed: number | bigint): void {
    this.nat.setSeed(seed);
  }
  get mu(): number {
    return this.nat.mu();
  }
  get native(): NativeSamplerChain {
    return this.nat;
  }
}
