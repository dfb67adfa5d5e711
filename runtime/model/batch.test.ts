// Batched decoding (batch.ts, LlamaModel._decodeBatch): concurrent Decoders sharing one forward per
// step decode every prompt exactly as it decodes alone (the same tokens, the same logits bits),
// under the full and the sinks + window caches, with RoPE scaled or not, with an in-op RoPE limit
// (LM-Infinite), and ALiBi; and the steps were really batched.
import { describe, expect, it } from 'vitest';
import { Decoder } from '../decode/decoder.js';
import type { SamplerSpec } from '../decode/chain.js';
import type { ModelConfig } from './config.js';
import { DecodeBatcher } from './batch.js';
import type { AttentionArgs, AttentionOp } from './attention.js';
import { fusedAttention } from './fused.js';
import { LlamaModel, type ModelOptions } from './llama.js';
import { ModelLogitsSource } from './source.js';

// awkward sizes: dim 40, head dim 10, ffn 52, vocab 37 (the small-M GEMM's vector tails)
const cfg: ModelConfig = { dim: 40, layers: 2, heads: 4, kvHeads: 2, ffn: 52, vocab: 37, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: false };
const chain: SamplerSpec[] = [{ name: 'temperature', t: 0.9 }, { name: 'top_k', k: 12 }, { name: 'sample' }];
const prompts = [[1], [2, 3], [4, 5, 6, 7, 8], [9, 10, 11], [12, 13, 14, 15, 16, 17, 18, 19, 20], [21, 22], [23], [24, 25, 26, 27], [28, 29, 30, 31, 32, 33, 34, 35, 36, 1, 2, 3, 4, 5, 6, 7, 8, 9]];
const bits = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

const variants: [string, ModelOptions, { kind: 'full' } | { kind: 'sinks_window'; sinks: number; window: number }][] = [
  ['full cache, RoPE', {}, { kind: 'full' }],
  ['sinks + window (keys rotated by slot)', {}, { kind: 'sinks_window', sinks: 2, window: 7 }],
  ['full cache, dynamic NTK RoPE (scaled by each sequence\'s own length)', { position: { kind: 'rope', scaling: { kind: 'dynamic', factor: 2, originalLength: 8 } } }, { kind: 'full' }],
  ['full cache, RoPE with an LM-Infinite limit (in the op)', { position: { kind: 'rope', limit: 6 } }, { kind: 'full' }],
  ['full cache, ALiBi', { position: { kind: 'alibi' } }, { kind: 'full' }],
  // the fused CPU kernels: the batch's attention in one native call per layer (attentionForwardMany)
  ['full cache, fused attention (forwardMany)', { attention: counted() }, { kind: 'full' }],
  ['sinks + window, fused attention (forwardMany)', { attention: counted() }, { kind: 'sinks_window', sinks: 2, window: 7 }],
];

/** The fused op, counting the rows its forwardMany ran. */
function counted(): AttentionOp & { rows: number } {
  const f = fusedAttention();
  const op = { ...f, rows: 0, forwardMany: (as: readonly AttentionArgs[]) => ((op.rows += as.length), f.forwardMany!(as)) };
  return op;
}

describe('batched decoding (DecodeBatcher)', () => {
  for (const [what, opts, policy] of variants)
    it(`${what}: nine concurrent prompts give each prompt's tokens and logits alone, in fewer forwards`, async () => {
      const model = LlamaModel.init(cfg, 5, { std: 0.3, ...opts });
      const logged = (src: { next(t: readonly number[]): Float32Array | Promise<Float32Array> }, rows: Float32Array[]) => ({
        vocabSize: cfg.vocab,
        next: async (t: readonly number[]) => {
          const l = await src.next(t);
          rows.push(l.slice());
          return l;
        },
      });
      const run = (p: number, rows: Float32Array[], batcher?: DecodeBatcher) => {
        const src = new ModelLogitsSource(model, policy);
        return new Decoder(logged(batcher ? src.via(batcher) : src, rows), { chain, seed: 100 + p, maxTokens: 6 + (p % 5) * 3 }).generate(prompts[p]!);
      };
      const alone = [];
      const aloneRows: Float32Array[][] = prompts.map(() => []);
      for (let p = 0; p < prompts.length; p++) alone.push(await run(p, aloneRows[p]!));
      const batcher = new DecodeBatcher(4); // groups of 4: nine sequences make three forwards per step
      const rows: Float32Array[][] = prompts.map(() => []);
      const together = await Promise.all(prompts.map((_, p) => run(p, rows[p]!, batcher)));
      for (let p = 0; p < prompts.length; p++) {
        expect(together[p]!.tokens, `prompt ${p} tokens`).toEqual(alone[p]!.tokens);
        expect(rows[p]!.length).toBe(aloneRows[p]!.length);
        rows[p]!.forEach((r, i) => expect(bits(r).equals(bits(aloneRows[p]![i]!)), `prompt ${p} step ${i} logits bits`).toBe(true));
      }
      // every next() after the first is one token; the first is too for a one-token prompt
      const steps = rows.reduce((a, r, p) => a + r.length - (prompts[p]!.length > 1 ? 1 : 0), 0);
      expect(batcher.stats.steps).toBe(steps);
      expect(batcher.stats.forwards).toBeLessThan(steps / 2.5);
      if (opts.attention) expect((opts.attention as { rows: number }).rows).toBe(steps * cfg.layers);
    });

  it('a token outside the vocabulary fails its own sequence only; maxBatch is checked', async () => {
    const model = LlamaModel.init(cfg, 6, { std: 0.3 });
    const batcher = new DecodeBatcher();
    const a = new ModelLogitsSource(model).via(batcher), b = new ModelLogitsSource(model).via(batcher);
    await a.next([1, 2]);
    await b.next([3]);
    const [ra, rb] = await Promise.allSettled([a.next([1, 2, 99]), b.next([3, 4])]);
    expect(ra.status).toBe('rejected');
    expect((ra as PromiseRejectedResult).reason).toMatchObject({ code: 'LMP_E_TOKEN' });
    expect(rb.status).toBe('fulfilled');
    const ref = new ModelLogitsSource(model).next([3, 4]);
    expect(bits((rb as PromiseFulfilledResult<Float32Array>).value).equals(bits(ref))).toBe(true);
    for (const m of [0, 65, 2.5]) expect(() => new DecodeBatcher(m)).toThrow(expect.objectContaining({ code: 'LMP_E_ARG' }));
    // abort: the queued steps and every later one fail with the error
    const c = new ModelLogitsSource(model).via(batcher);
    await c.next([5]);
    const queued = c.next([5, 6]);
    const err = Object.assign(new Error('another prompt failed'), { code: 'LMP_E_TEST' });
    batcher.abort(err);
    await expect(queued).rejects.toBe(err);
    expect(new ModelLogitsSource(model).via(batcher).next([1, 2])).toBeInstanceOf(Float32Array); // a prompt runs at once, not batched
    await expect(a.next([1, 2, 7])).rejects.toBe(err);
  });
});
