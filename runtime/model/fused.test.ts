// Parity of the model with the fused attention kernels (runtime/attention) against the
// reference AttentionOp: logits, gradients and KV-cache decoding.
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from './config.js';
import { fusedAttention } from './fused.js';
import { LlamaModel, type PackedBatch } from './llama.js';
import { expectClose } from './testutil.js';

const cfg: ModelConfig = { dim: 32, layers: 2, heads: 4, kvHeads: 2, ffn: 48, vocab: 29, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: false };

function batch(): PackedBatch {
  // two sequences (100 and 37 tokens), several documents each, long enough for multiple tiles
  const lens = [100, 37], docLens = [[30, 50, 20], [37]];
  const T = 137, tokens = new Int32Array(T), docIds = new Int32Array(T), pos = new Int32Array(T);
  let t = 0, d = 0;
  lens.forEach((_, s) => docLens[s]!.forEach((L) => { for (let j = 0; j < L; j++, t++) { tokens[t] = (t * 7 + 3) % 29; docIds[t] = d; pos[t] = j; } d++; }));
  return { tokens, cuSeqlens: Int32Array.of(0, 100, 137), positionIds: pos, docIds, lossMask: new Uint8Array(T).fill(1) };
}

describe('fused attention adapter', () => {
  it('gives the same logits and gradients as the reference attention', () => {
    const ref = LlamaModel.init(cfg, 8, { std: 0.2 });
    const fused = LlamaModel.init(cfg, 8, { std: 0.2, attention: fusedAttention() });
    const b = batch();
    expectClose(fused.logits(b), ref.logits(b), 1e-5, 1e-4, 'logits');
    ref.zeroGrads();
    fused.zeroGrads();
    const lr = ref.backward(b, 1 / 100), lf = fused.backward(b, 1 / 100);
    expect(lf.lossSum).toBeCloseTo(lr.lossSum, 3);
    for (const [n, g] of ref.grads!) expectClose(fused.grads!.get(n)!, g, 1e-5, 1e-3, n);
  });

  it('decodes with a KV cache like the full forward', () => {
    const m = LlamaModel.init({ ...cfg, tieEmbeddings: true }, 9, { std: 0.2, attention: fusedAttention() });
    const toks = Int32Array.from({ length: 70 }, (_, i) => (i * 5 + 1) % 29);
    const full = m.logits({ tokens: toks, cuSeqlens: Int32Array.of(0, 70), positionIds: Int32Array.from(toks.keys()), docIds: new Int32Array(70), lossMask: new Uint8Array(70) });
    const s = m.session();
    expectClose(s.nextAll(toks.subarray(0, 65)), full.subarray(0, 65 * 29), 1e-5, 1e-4, 'prefill');
    for (let t = 65; t < 70; t++) expectClose(s.next(toks.subarray(t, t + 1)), full.subarray(t * 29, (t + 1) * 29), 1e-5, 1e-4, `step ${t}`);
  });

  // in-op positions (ALiBi, RoPE with an LM-Infinite limit) and score transforms: the cache
  // holds unrotated keys and the kernels place them at their index, like the full forward
  for (const [what, opts] of [
    ['alibi + softcap', { position: { kind: 'alibi' }, score: { softcap: 2 } }],
    ['rope limit 20 (ntk) + temperature', { position: { kind: 'rope', scaling: { kind: 'ntk', factor: 2 }, limit: 20 }, score: { temperature: 0.8 } }],
  ] as const)
    it(`decodes with a KV cache like the full forward: ${what}`, () => {
      const m = LlamaModel.init(cfg, 9, { std: 0.2, ...opts });
      expect(m.attention.name).toBe('fused');
      const toks = Int32Array.from({ length: 70 }, (_, i) => (i * 5 + 1) % 29);
      const full = m.logits({ tokens: toks, cuSeqlens: Int32Array.of(0, 70), positionIds: Int32Array.from(toks.keys()), docIds: new Int32Array(70), lossMask: new Uint8Array(70) });
      const plain = LlamaModel.init(cfg, 9, { std: 0.2 });
      const pl = plain.logits({ tokens: toks, cuSeqlens: Int32Array.of(0, 70), positionIds: Int32Array.from(toks.keys()), docIds: new Int32Array(70), lossMask: new Uint8Array(70) });
      expect(full.some((v, i) => Math.abs(v - pl[i]!) > 1e-4)).toBe(true);
      const s = m.session();
      expectClose(s.nextAll(toks.subarray(0, 65)), full.subarray(0, 65 * 29), 1e-5, 1e-4, 'prefill');
      for (let t = 65; t < 70; t++) expectClose(s.next(toks.subarray(t, t + 1)), full.subarray(t * 29, (t + 1) * 29), 1e-5, 1e-4, `step ${t}`);
    });

  it('a RoPE limit beyond every distance equals plain RoPE; a short one changes the logits', () => {
    const toks = Int32Array.from({ length: 90 }, (_, i) => (i * 3 + 2) % 29);
    const b: PackedBatch = { tokens: toks, cuSeqlens: Int32Array.of(0, 90), positionIds: Int32Array.from(toks.keys()), docIds: new Int32Array(90), lossMask: new Uint8Array(90) };
    const plain = LlamaModel.init(cfg, 4, { std: 0.3, attention: fusedAttention() }).logits(b);
    const far = LlamaModel.init(cfg, 4, { std: 0.3, position: { kind: 'rope', limit: 200 } }).logits(b);
    const near = LlamaModel.init(cfg, 4, { std: 0.3, position: { kind: 'rope', limit: 8 } }).logits(b);
    expectClose(far, plain, 1e-5, 1e-4, 'limit 200');
    expectClose(near.subarray(0, 9 * 29), plain.subarray(0, 9 * 29), 1e-5, 1e-4, 'limit 8, first 9 rows');
    expect(near.subarray(9 * 29).some((v, i) => Math.abs(v - plain[9 * 29 + i]!) > 1e-4)).toBe(true);
  });
});
