// Batched decoding: many sequences that each decode one token at a time (the Decoders of a decode
// block's prompts, run concurrently) share one forward per step. A ModelLogitsSource given a
// DecodeBatcher sends each single-token step of a batchable session (the CPU KVCacheSession, full
// or sinks + window; the GPU CudaKVSession, the same two) here instead of running it: step()
// queues it and returns a promise; once every decoder waiting on the event loop has queued its
// step (a setImmediate after the microtasks that resumed them), flush() runs the queued steps of
// each engine (a LlamaModel, or a CudaLlama) in groups of up to `maxBatch` (and its batchRows) through its
// _decodeBatch, which reads the weights once for the group. On the CPU every row has the bits of
// that sequence's own step, so a batch decodes each prompt exactly as it decodes alone, only
// faster: decoding reads every weight once per token at batch 1, and the weights are most of what
// it reads. (On a GPU, cuBLAS may round a B-row GEMM differently from a 1-row one.)

/** What runs a batched step: LlamaModel (CPU: up to 16 rows, gemmRows' row-stable range), CudaLlama (GPU: 64). */
export interface BatchEngine {
  readonly batchRows: number;
  _decodeBatch(tokens: Int32Array, seqs: readonly unknown[]): Float32Array;
}

/** A decoding session whose single-token steps can join batched steps (KVCacheSession, CudaKVSession). */
export interface BatchSession {
  /** whether it can (full and sinks + window caches; on the GPU not with dynamic NTK RoPE) */
  readonly batchable: boolean;
  _batchEngine(): BatchEngine;
  /** its cache's slot for one more token (room made), for the engine's _decodeBatch */
  _prepareOne(token: number): unknown;
  /** records the token once the step ran */
  _commitOne(token: number): void;
}

export function isBatchSession(s: unknown): s is BatchSession {
  const b = s as Partial<BatchSession> | null;
  return !!b && typeof b._prepareOne === 'function' && typeof b._commitOne === 'function' && typeof b._batchEngine === 'function' && b.batchable === true;
}

interface Pending {
  readonly session: BatchSession;
  readonly token: number;
  readonly resolve: (logits: Float32Array) => void;
  readonly reject: (e: unknown) => void;
}

export class DecodeBatcher {
  private pending: Pending[] = [];
  private scheduled = false;
  private aborted: { readonly e: unknown } | null = null;
  /** steps run and forwards made (steps / forwards: the mean batch) */
  readonly stats = { steps: 0, forwards: 0 };

  /** maxBatch: sequences per forward, 1..64 (an engine takes at most its batchRows at once) */
  constructor(readonly maxBatch = 16) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > 64) throw Object.assign(new Error(`DecodeBatcher: maxBatch must be an integer in 1..64, got ${maxBatch}`), { code: 'LMP_E_ARG' });
  }

  /** The logits after `token` appended to `session` (its cache then holds the token). */
  step(session: BatchSession, token: number): Promise<Float32Array> {
    if (this.aborted) return Promise.reject(this.aborted.e);
    return new Promise((resolve, reject) => {
      this.pending.push({ session, token, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /**
   * Fails every queued step and every later one with `e` (one sequence's decode failed: the others
   * stop at their next step instead of running on).
   */
  abort(e: unknown): void {
    this.aborted ??= { e };
    const all = this.pending;
    this.pending = [];
    for (const r of all) r.reject(this.aborted.e);
  }

  private flush(): void {
    this.scheduled = false;
    const all = this.pending;
    this.pending = [];
    const byEngine = new Map<BatchEngine, Pending[]>();
    for (const r of all) {
      const e = r.session._batchEngine(), g = byEngine.get(e);
      if (g) g.push(r);
      else byEngine.set(e, [r]);
    }
    for (const [engine, rows] of byEngine) {
      const g = Math.min(this.maxBatch, engine.batchRows);
      for (let i = 0; i < rows.length; i += g) this.run(engine, rows.slice(i, i + g));
    }
  }

  private run(engine: BatchEngine, rows: Pending[]): void {
    const ok: Pending[] = [];
    const seqs: unknown[] = [];
    for (const r of rows) {
      try {
        seqs.push(r.session._prepareOne(r.token));
        ok.push(r);
      } catch (e) {
        r.reject(e); // this sequence's own error (a token outside the vocabulary); the others run
      }
    }
    if (ok.length === 0) return;
    try {
      const logits = engine._decodeBatch(Int32Array.from(ok, (r) => r.token), seqs);
      const V = logits.length / ok.length;
      this.stats.steps += ok.length;
      this.stats.forwards++;
      ok.forEach((r, b) => {
        r.session._commitOne(r.token);
        r.resolve(logits.slice(b * V, (b + 1) * V));
      });
    } catch (e) {
      for (const r of ok) r.reject(e);
    }
  }
}
