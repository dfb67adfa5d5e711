// Typed access to the native `sampling` module (native/src/sampling/bindings.cc).
import { native, nativeFn } from '../native.js';
import type { NativeSpec } from './chain.js';

export interface NativeSnapshot {
  readonly history: number;
  readonly mu: number;
}

/** The native sampler chain object: holds the token history, mirostat's mu and the RNG. */
export interface NativeSamplerChain {
  /** Runs the chain over `logits` (vocab entries; edited during the call, restored after) and picks a token. */
  sample(logits: Float32Array): number;
  /** Writes the chain's final distribution to `out` (vocab entries); returns how many are > 0. No RNG draw. */
  distribution(logits: Float32Array, out: Float32Array): number;
  /** Commits a token: history for penalties/DRY, and mirostat's mu update. */
  accept(token: number): void;
  reset(tokens: Int32Array): void;
  snapshot(): NativeSnapshot;
  restore(s: NativeSnapshot): void;
  /** The next draw of the SplitMix64 stream, in [0, 1). */
  uniform(): number;
  setSeed(seed: number | bigint): void;
  mu(): number;
  historyLength(): number;
  noop(): number;
}

type ChainCtor = new (specs: NativeSpec[], vocab: number, seed: number | bigint, trace?: Float64Array) => NativeSamplerChain;

export function newNativeChain(specs: NativeSpec[], vocab: number, seed: number | bigint, trace?: Float64Array): NativeSamplerChain {
  const Ctor = native()['SamplerChain'] as ChainCtor | undefined;
  if (typeof Ctor !== 'function') nativeFn('SamplerChain', 'sampling');
  return new (Ctor as ChainCtor)(specs, vocab, seed, trace);
}

export const samplingNoop = (): (() => number) => nativeFn<() => number>('samplingNoop', 'sampling');
export const splitmix64 = (): ((seed: bigint | number, n: number) => bigint) =>
  nativeFn<(seed: bigint | number, n: number) => bigint>('samplingSplitmix64', 'sampling');
export const benchMax = (): ((x: Float32Array) => number) => nativeFn<(x: Float32Array) => number>('samplingBenchMax', 'sampling');
export const benchSoftmax = (): ((x: Float32Array, out: Float32Array) => number) =>
  nativeFn<(x: Float32Array, out: Float32Array) => number>('samplingBenchSoftmax', 'sampling');
