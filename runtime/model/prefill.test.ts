import { describe, expect, it } from 'vitest';
import type { ModelConfig } from './config.js';
import { LlamaModel } from './llama.js';
import { paddedPrefill, prefillPacked } from './prefill.js';
import { expectClose, rng } from './testutil.js';

const cfg: ModelConfig = { dim: 16, layers: 2, heads: 4, kvHeads: 2, ffn: 24, vocab: 29, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: false };
const r = rng(5);
const prompts = [13, 2, 7, 20, 1, 5, 11, 9, 3].map((n) => Array.from({ length: n }, () => Math.floor(r() * 29)));

function argmax(a: Float32Array): number {
  let b = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[b]!) b = i;
  return b;
}

describe('prefill with prepacking', () => {
  it('each prompt: next-token logits and continued generation equal prefilling it alone', () => {
    const m = LlamaModel.init(cfg, 61, { std: 0.4 });
    const packed = prefillPacked(m, prompts, { capacity: 24 });
    expect(packed.sequences).toBeLessThan(prompts.length); // several prompts share a sequence
    expect(packed.tokensRun).toBe(prompts.reduce((a, p) => a + p.length, 0));
    prompts.forEach((p, i) => {
      const alone = m.session();
      expectClose(packed.logits[i]!, alone.next(Int32Array.from(p)), 1e-5, 1e-4, `prompt ${i}`);
      const s = packed.sessions[i]!;
      expect(s.cachedTokens).toEqual(p);
      let a = argmax(packed.logits[i]!);
      for (let step = 0; step < 6; step++) {
        const got = s.next(Int32Array.of(a)), ref = alone.next(Int32Array.of(a));
        expectClose(got, ref, 1e-5, 1e-4, `prompt ${i} step ${step}`);
        a = argmax(ref);
      }
    });
  });

  it('equals the padded-batch prefill, which runs more tokens', () => {
    const m = LlamaModel.init(cfg, 62, { std: 0.4 });
    const a = prefillPacked(m, prompts), b = paddedPrefill(m, prompts);
    prompts.forEach((_, i) => expectClose(a.logits[i]!, b.logits[i]!, 1e-5, 1e-4, `prompt ${i}`));
    expect(b.tokensRun).toBe(prompts.length * 20);
    expect(a.tokensRun).toBeLessThan(b.tokensRun);
    expect(a.sequences).toBeGreaterThanOrEqual(Math.ceil(a.tokensRun / 20));
  });

  it('refuses a capacity below the longest prompt, empty prompts and bad tokens', () => {
    const m = LlamaModel.init(cfg, 1);
    expect(() => prefillPacked(m, prompts, { capacity: 10 })).toThrow(expect.objectContaining({ code: 'LMP_E_ARG' }));
    expect(() => prefillPacked(m, [[1], []])).toThrow(expect.objectContaining({ code: 'LMP_E_ARG' }));
    expect(() => prefillPacked(m, [[1, 29]])).toThrow(expect.objectContaining({ code: 'LMP_E_TOKEN' }));
  });
});
