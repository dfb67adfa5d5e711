import { describe, expect, it } from 'vitest';
import { Decoder } from '../decode/decoder.js';
import type { ModelConfig } from './config.js';
import { LlamaModel } from './llama.js';
import { ModelLogitsSource } from './source.js';
import { createSession } from './cache.js';
import { expectClose } from './testutil.js';

const cfg: ModelConfig = { dim: 16, layers: 2, heads: 4, kvHeads: 2, ffn: 24, vocab: 23, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: true };
const model = LlamaModel.init(cfg, 21, { std: 0.4 });
const V = cfg.vocab;

/** Logits after the last token of ctx from a full (uncached) forward. */
function fullLast(ctx: number[]): Float32Array {
  const T = ctx.length;
  const l = model.logits({ tokens: Int32Array.from(ctx), cuSeqlens: Int32Array.of(0, T), positionIds: Int32Array.from(ctx.keys()), docIds: new Int32Array(T), lossMask: new Uint8Array(T) });
  return l.slice((T - 1) * V);
}

describe('the model as a LogitsSource', () => {
  it('next(context) matches the full forward, reusing and rewinding the cache', () => {
    const src = new ModelLogitsSource(model);
    const a = [1, 5, 7, 2, 9];
    expectClose(src.next(a), fullLast(a), 2e-5, 1e-4, 'first');
    expectClose(src.next([...a, 4]), fullLast([...a, 4]), 2e-5, 1e-4, 'extend');
    expect(src.computed).toBe(6);
    const branch = [1, 5, 8, 8];
    expectClose(src.next(branch), fullLast(branch), 2e-5, 1e-4, 'branch');
    expect(src.computed).toBe(8); // rewound to [1, 5] and ran [8, 8]
    expectClose(src.next(branch), fullLast(branch), 2e-5, 1e-4, 'same context again');
  });

  it('score(prefix, candidates) gives the logits after each candidate prefix', () => {
    const src = new ModelLogitsSource(model);
    const prefix = [3, 3, 10], cand = [4, 0, 22];
    const rows = src.score(prefix, cand);
    expect(rows.length).toBe(4);
    for (let i = 0; i <= cand.length; i++) expectClose(rows[i]!, fullLast([...prefix, ...cand.slice(0, i)]), 2e-5, 1e-4, `row ${i}`);
  });

  it('drives the decoding runtime: greedy decoding equals argmax of full forwards', async () => {
    const out = await new Decoder(new ModelLogitsSource(model), { chain: [{ name: 'greedy' }], maxTokens: 8 }).generate([2, 7, 1]);
    const ctx = [2, 7, 1], ref: number[] = [];
    for (let i = 0; i < 8; i++) {
      const l = fullLast(ctx);
      let best = 0;
      for (let j = 1; j < V; j++) if (l[j]! > l[best]!) best = j;
      ref.push(best);
      ctx.push(best);
    }
    expect(out.tokens).toEqual(ref);
  });

  it('with an evicting cache policy: extensions run only the new tokens, a branch restarts the session', () => {
    const pol = { kind: 'sirllm', keep: 2, decay: 0.8, recent: 3, sinks: 1 } as const;
    const src = new ModelLogitsSource(model, pol);
    const ref = createSession(model, pol);
    const a = [1, 5, 7, 2, 9, 3, 3, 11];
    expect(Array.from(src.next(a))).toEqual(Array.from(ref.next(Int32Array.from(a))));
    for (const t of [4, 6, 0, 19]) {
      a.push(t);
      expect(Array.from(src.next(a))).toEqual(Array.from(ref.next(Int32Array.of(t))));
    }
    expect(src.computed).toBe(12);
    const branch = [1, 5, 8, 8, 2, 2, 7, 1, 13];
    const fresh = createSession(model, pol);
    expect(Array.from(src.next(branch))).toEqual(Array.from(fresh.next(Int32Array.from(branch))));
    expect(src.computed).toBe(12 + branch.length);
  });
});
