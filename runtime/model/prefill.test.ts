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
  // Bit for bit (it was within 1e-5 before: a prompt straddling a 64-key tile of its bin, and
  // prompts of <= 4 tokens, which alone take the GEMV path, summed in other orders).
  const sameBits = (a: Float32Array, b: Float32Array, what: string): void => {
    expect(a.length, what).toBe(b.length);
    const x = new Uint32Array(a.buffer, a.byteOffset, a.length), y = new Uint32Array(b.buffer, b.byteOffset, b.length);
    let bad = -1;
    for (let j = 0; j < x.length && bad < 0; j++) if (x[j] !== y[j]) bad = j;
    expect(bad, `${what}: first differing logit`).toBe(-1);
  };
  const big: ModelConfig = { dim: 64, layers: 2, heads: 4, kvHeads: 2, ffn: 160, vocab: 259, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: false };
  for (const [name, c, lens, capacity] of [
    ['tiny model, capacity 24', cfg, [13, 2, 7, 20, 1, 5, 11, 9, 3], 24],
    // 40-token prompts at offsets that straddle the 64-key tiles of 500-token bins; 1..4-token prompts
    ['d = 64, prompts across tile boundaries', big, [40, 40, 40, 40, 40, 40, 40, 70, 130, 1, 2, 3, 4, 5, 63, 64, 65], 512],
  ] as const) {
    it(`each prompt: next-token logits and continued generation are bit-identical to prefilling it alone (${name})`, () => {
      const rr = rng(9);
      const ps = lens.map((n) => Array.from({ length: n }, () => Math.floor(rr() * c.vocab)));
      const m = LlamaModel.init(c, 61, { std: 0.4 });
      const packed = prefillPacked(m, ps, { capacity });
      expect(packed.sequences).toBeLessThan(ps.length); // several prompts share a sequence
      expect(packed.tokensRun).toBe(ps.reduce((a, p) => a + p.length, 0));
      ps.forEach((p, i) => {
        const alone = m.session();
        sameBits(packed.logits[i]!, alone.next(Int32Array.from(p)), `prompt ${i}`);
        const s = packed.sessions[i]!;
        expect(s.cachedTokens).toEqual(p);
        let a = argmax(packed.logits[i]!);
        for (let step = 0; step < 4; step++) {
          const got = s.next(Int32Array.of(a)), ref = alone.next(Int32Array.of(a));
          sameBits(got, ref, `prompt ${i} step ${step}`);
          a = argmax(ref);
        }
      });
    });
  }

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
