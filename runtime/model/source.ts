// The model as a LogitsSource of the decoding runtime (runtime/decode): next(context) returns
// the logits after the whole context, reusing the KV cache for the longest common prefix with
// what is cached (a context that branches off rewinds the cache); score(prefix, candidates)
// runs all candidates in one cached pass (speculative verification). With an evicting cache
// policy (sinks_window, sirllm, infllm: createSession) positions cannot be rewound: a context that
// extends what was fed runs only the new tokens, any other context restarts the session. A
// source may start from a prefilled full-cache session (prepacked prefill) and its logits, or run
// on a session it is given (the CUDA full cache, cuda-llama.ts's CudaKVSession).
import type { DeviceDraw, LogitsSource } from '../decode/decoder.js';
import { isBatchSession, type DecodeBatcher } from './batch.js';
import { createSession, type DecodeSession, type SessionPolicy } from './cache.js';
import type { CudaKVSession } from './cuda-llama.js';
import type { KVCacheSession, LlamaModel } from './llama.js';

export class ModelLogitsSource implements LogitsSource {
  readonly vocabSize: number;
  private readonly session: DecodeSession;
  private cached: number[] = [];
  /** positions actually computed (not reused) since creation: a measure of cache reuse */
  computed = 0;

  /** Logits after exactly `cached` (a prefilled session's), returned once by next(cached). */
  private primed: Float32Array | null = null;

  /**
   * `preloaded`: start from a full-cache session that already holds a context (a prepacked
   * prefill's per-prompt split, runtime/model/prefill.ts) and the logits after it.
   */
  constructor(
    readonly model: LlamaModel,
    policy?: SessionPolicy | { readonly kind: string; readonly [k: string]: unknown },
    preloaded?: { readonly session: KVCacheSession | CudaKVSession; readonly logits: Float32Array },
    session?: DecodeSession & { readonly policy: { readonly kind: string }; truncate(n: number): void },
  ) {
    this.vocabSize = model.config.vocab;
    this.session = session ?? (preloaded ? preloaded.session : policy ? createSession(model, policy) : model.session());
    if (preloaded) {
      this.cached = [...preloaded.session.cachedTokens];
      this.primed = preloaded.logits;
    }
  }

  /** Rewind the cache to the common prefix of `ctx` (keeping at least one token to run). */
  private sync(ctx: readonly number[]): number {
    let c = 0;
    const max = Math.min(ctx.length - 1, this.cached.length);
    while (c < max && this.cached[c] === ctx[c]) c++;
    const s = this.session as DecodeSession & { policy?: { kind: string }; truncate?: (n: number) => void };
    if (!(typeof s.truncate === 'function' && s.policy?.kind === 'full')) {
      if (c === this.cached.length) return c; // extends what was fed
      c = 0;
      this.session.reset();
      this.cached.length = 0;
      return 0;
    }
    s.truncate!(c);
    this.cached.length = c;
    return c;
  }

  /** Feeds `tokens` (what sync left to run) through the session with `step` and records them as cached. */
  private run<R>(tokens: readonly number[], step: (t: Int32Array) => R = (t) => this.session.nextAll(t) as R): R {
    const out = step(Int32Array.from(tokens));
    for (const t of tokens) this.cached.push(t);
    this.computed += tokens.length;
    return out;
  }

  /** Whether the prefill's logits are those after exactly `tokens`. */
  private primedFor(tokens: readonly number[]): boolean {
    return this.primed !== null && tokens.length === this.cached.length && tokens.every((t, i) => t === this.cached[i]);
  }

  next(tokens: readonly number[]): Float32Array {
    return this.step(tokens) as Float32Array;
  }

  /** Frees what its session holds on a device (a CudaKVSession's cache); a CPU session has nothing to free. */
  free(): void {
    const s = this.session as DecodeSession & { free?: () => void };
    if (typeof s.free === 'function') s.free();
  }

  /**
   * This source with its single-token steps batched with other sources' (runtime/model/batch.ts):
   * next() returns a promise for a step that extends the cached context by one token on a
   * batchable session (a CPU or GPU full or sinks + window cache), and runs
   * everything else (a prompt, a rewind, other caches) at once as next() does. On the CPU the
   * logits are the same bits either way.
   */
  via(batcher: DecodeBatcher): LogitsSource {
    return { vocabSize: this.vocabSize, next: (t) => this.step(t, batcher), score: (p, c) => this.score(p, c) };
  }

  private step(tokens: readonly number[], batcher?: DecodeBatcher): Float32Array | Promise<Float32Array> {
    if (tokens.length === 0) throw Object.assign(new Error('next: the context is empty'), { code: 'LMP_E_ARG' });
    const primed = this.primedFor(tokens) ? this.primed : null;
    this.primed = null;
    if (primed) return primed.slice();
    const rest = tokens.slice(this.sync(tokens));
    const s = this.session;
    if (batcher && rest.length === 1 && isBatchSession(s)) return this.run(rest, (t) => batcher.step(s, t[0]!));
    const all = this.run<Float32Array>(rest);
    return all.slice(all.length - this.vocabSize);
  }

  /**
   * The token after `tokens` drawn by the session where its logits are (CudaKVSession.draw: one id
   * downloaded per step); undefined where the session cannot (a CPU session, SirLLM) or where a
   * prefill's logits for exactly this context are already on the host.
   */
  draw(tokens: readonly number[], d: DeviceDraw): number | undefined {
    const s = this.session as DecodeSession & { drawsOnDevice?: boolean; draw?: (t: Int32Array, d: DeviceDraw) => number | undefined };
    if (!s.drawsOnDevice || !s.draw || tokens.length === 0 || this.primedFor(tokens)) return undefined;
    this.primed = null;
    return this.run(tokens.slice(this.sync(tokens)), (t) => s.draw!(t, d)!);
  }

  score(prefix: readonly number[], candidates: readonly number[]): Float32Array[] {
    if (prefix.length === 0) throw Object.assign(new Error('score: the prefix is empty'), { code: 'LMP_E_ARG' });
    this.primed = null;
    const ctx = [...prefix, ...candidates];
    const c = this.sync(prefix);
    const all = this.run<Float32Array>(ctx.slice(c));
    const V = this.vocabSize, first = prefix.length - 1 - c; // row of the last prefix token
    return Array.from({ length: candidates.length + 1 }, (_, i) => all.slice((first + i) * V, (first + i + 1) * V));
  }
}
