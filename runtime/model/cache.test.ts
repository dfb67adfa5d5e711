import { describe, expect, it } from 'vitest';
import type { ModelConfig } from './config.js';
import { LlamaModel } from './llama.js';
import { expectClose } from './testutil.js';

const base: ModelConfig = { dim: 16, layers: 2, heads: 4, kvHeads: 2, ffn: 24, vocab: 19, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: false };
const toks = Array.from({ length: 40 }, (_, i) => (i * 7 + 3) % 19);

function fullLogits(m: LlamaModel, ctx: number[]): Float32Array {
  const T = ctx.length;
  return m.logits({ tokens: Int32Array.from(ctx), cuSeqlens: Int32Array.of(0, T), positionIds: Int32Array.from(ctx.keys()), docIds: new Int32Array(T), lossMask: new Uint8Array(T) });
}

describe('sinks + window KV cache (position shift)', () => {
  it('equals the full cache while nothing is evicted', () => {
    const m = LlamaModel.init(base, 31, { std: 0.3 });
    const full = m.session(), sw = m.session({ kind: 'sinks_window', sinks: 4, window: 36 });
    expectClose(sw.nextAll(Int32Array.from(toks.slice(0, 10))), full.nextAll(Int32Array.from(toks.slice(0, 10))), 1e-5, 1e-4, 'prefill');
    for (let t = 10; t < 40; t++) expectClose(sw.next(Int32Array.of(toks[t]!)), full.next(Int32Array.of(toks[t]!)), 1e-5, 1e-4, `step ${t}`);
    expect(sw.length).toBe(40);
  });

  it('after eviction, a one-layer model sees exactly the sinks and the window at shifted positions', () => {
    // With one layer, cached keys/values depend only on their own token, so the logits must equal
    // a full forward over the compressed context [first g tokens, last w tokens] at positions 0..
    const m = LlamaModel.init({ ...base, layers: 1 }, 32, { std: 0.3 });
    const g = 3, w = 8;
    const s = m.session({ kind: 'sinks_window', sinks: g, window: w });
    const first = s.nextAll(Int32Array.from(toks.slice(0, 15))); // prefill longer than the cache
    const V = base.vocab;
    const expectedCtx = (t: number): number[] => (t + 1 <= g + w ? toks.slice(0, t + 1) : [...toks.slice(0, g), ...toks.slice(t + 1 - w, t + 1)]);
    for (let t = 0; t < 15; t++) {
      const ctx = expectedCtx(t);
      expectClose(first.subarray(t * V, (t + 1) * V), fullLogits(m, ctx).subarray((ctx.length - 1) * V), 1e-5, 1e-4, `prefill row ${t}`);
    }
    for (let t = 15; t < 40; t++) {
      const got = s.next(Int32Array.of(toks[t]!));
      const ctx = expectedCtx(t);
      expect(s.cachedTokens).toEqual(ctx);
      expect(s.length).toBe(g + w);
      expectClose(got, fullLogits(m, ctx).subarray((ctx.length - 1) * V), 1e-5, 1e-4, `step ${t}`);
    }
    expect(s.seen).toBe(40);
  });

  it('refuses bad policies', () => {
    const m = LlamaModel.init(base, 1);
    expect(() => m.session({ kind: 'sinks_window', sinks: -1, window: 4 })).toThrow(expect.objectContaining({ code: 'LMP_E_ARG' }));
    expect(() => m.session({ kind: 'sinks_window', sinks: 2, window: 0 })).toThrow(expect.objectContaining({ code: 'LMP_E_ARG' }));
  });
});
