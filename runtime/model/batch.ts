// Batched decoding on the CPU: many sequences that each decode one token at a time (the Decoders
// of a decode block's prompts, run concurrently) share one forward per step. A ModelLogitsSource
// given a DecodeBatcher sends each single-token step of its KVCacheSession (full or sinks + window)
// here instead of running it: step() queues it and returns a promise; once every decoder waiting
// on the event loop has queued its step (a setImmediate after the microtasks that resumed them),
// flush() runs the queued steps of each model in groups of up to `maxBatch` through
// LlamaModel._decodeBatch, which streams the weights once for the group and gives every row the
// bits of that sequence's own step. So a batch decodes each prompt exactly as it decodes alone,
// only faster: decoding reads every weight once per token at batch 1, and the weights are most of
// what it reads.
import type { KVCacheSession, LlamaModel } from './llama.js';

interface Pending {
  readonly session: KVCacheSession;
  readonly token: number;
  readonly resolve: (logits: Float32Array) => void;
  readonly reject: (e: unknown) => void;
}

export class DecodeBatcher {
  private pending: Pending[] = [];
  private scheduled = false;
  /** steps run and forwards made (steps / forwards: the mean batch) */
  readonly stats = { steps: 0, forwards: 0 };

  /** maxBatch: sequences per forward, 1..16 (the GEMM's row-stable small-M range) */
  constructor(readonly maxBatch = 16) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > 16) throw Object.assign(new Error(`DecodeBatcher: maxBatch must be an integer in 1..16, got ${maxBatch}`), { code: 'LMP_E_ARG' });
  }

  /** The logits after `token` appended to `session` (its cache then holds the token). */
  step(session: KVCacheSession, token: number): Promise<Float32Array> {
    return new Promise((resolve, reject) => {
      this.pending.push({ session, token, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const all = this.pending;
    this.pending = [];
    const byModel = new Map<LlamaModel, Pending[]>();
    for (const r of all) {
      const g = byModel.get(r.session.model);
      if (g) g.push(r);
      else byModel.set(r.session.model, [r]);
    }
    for (const [model, rows] of byModel)
      for (let i = 0; i < rows.length; i += this.maxBatch) this.run(model, rows.slice(i, i + this.maxBatch));
  }

  private run(model: LlamaModel, rows: Pending[]): void {
    const ok: Pending[] = [];
    const seqs = [];
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
      const logits = model._decodeBatch(Int32Array.from(ok, (r) => r.token), seqs);
      const V = model.config.vocab;
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
