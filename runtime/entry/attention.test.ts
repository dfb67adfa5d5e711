// End to end through runtime/entry: a `.lmp` attention block with ALiBi, a softcap and a Λ mask
// trains a tiny model for 2 steps, then decodes with `cache keep(sink(2) | window(8)) reposition`
// (the sinks + window session). Each decoded token is checked against a dense forward of the
// trained model over exactly the kept tokens (the first 2 and the latest 8, positions 0..S-1).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { check } from '../../compiler/index.js';
import { findDecl } from '../../compiler/ir/types.js';
import { lower } from '../../compiler/lower/index.js';
import { runDecode, runTrain, Session, type DecodeSpec, type TrainSpec } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'lmp-entry-attn-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SOURCE = `tokenizer b = bytes()
attention a {
  mask causal & (sink(2) | window(8))
  score softcap(cap: 3)
  position alibi()
  cache keep(sink(2) | window(8)) reposition
}
data d {
  source text("c/*.txt")
  tokenizer b
  pack decompose(min: 16, max: 64)
}
model m {
  arch llama(dim: 16, layers: 2, heads: 2, ffn: 32)
  vocab b
  attention a
  seed 3
}
train t {
  model m
  data d
  optimizer adamw(lr: 3e-3)
  steps 2
  seed 1
}
decode g {
  model m
  attention a
  policy greedy()
  min_tokens 24
  max_tokens 24
  seed 1
}
`;

describe('lmpc run with the file attention (alibi, softcap, streaming cache)', () => {
  it('trains 2 steps and decodes over sinks + window; every token is the dense forward over the kept tokens', async () => {
    mkdirSync(join(dir, 'c'));
    for (let d = 0; d < 6; d++) writeFileSync(join(dir, 'c', `d${d}.txt`), `Document ${d}: ` + 'the whale and the sea and the ship. '.repeat(3 + d));
    const r = check(SOURCE, 't.lmp');
    expect(r.diagnostics.filter((x) => x.severity === 'error')).toEqual([]);
    const ir = lower(r.program);
    const train = findDecl(ir, 't')!.spec as TrainSpec, decode = findDecl(ir, 'g')!.spec as DecodeSpec;
    expect(train.model.unsupported).toEqual([]);
    expect(decode.attention!.unsupported).toEqual([]);

    const session = new Session();
    const tr = await runTrain(train, { baseDir: dir, session });
    expect(tr.kind).toBe('train');
    const model = session.models.get('m')!;
    expect(model.attention.name).toBe('fused');
    expect(model.position).toEqual({ kind: 'alibi', limit: null });
    expect(model.score).toEqual({ softcap: 3 });

    const out = await runDecode(decode, { baseDir: dir, session });
    expect(out.trained).toBe(true);
    expect(out.tokens.length).toBe(24);
    const V = model.config.vocab;
    const ctx = [256]; // the prompt: end of text (no prompt clause)
    let maxGap = 0;
    for (const tok of out.tokens) {
      const kept = ctx.length <= 10 ? ctx : [...ctx.slice(0, 2), ...ctx.slice(-8)];
      const S = kept.length;
      const logits = model.logits({
        tokens: Int32Array.from(kept), cuSeqlens: Int32Array.of(0, S), positionIds: Int32Array.from(kept.keys()), docIds: new Int32Array(S), lossMask: new Uint8Array(S),
      }).subarray((S - 1) * V, S * V);
      let best = -Infinity;
      for (const v of logits) best = Math.max(best, v);
      maxGap = Math.max(maxGap, best - logits[tok]!);
      ctx.push(tok);
    }
    expect(maxGap).toBeLessThan(1e-4);
    // the streaming cache matters: at the last step, the full forward (the same Λ mask, but the
    // sinks at their original distance for ALiBi) gives other logits than the kept tokens
    const T = ctx.length - 1;
    const full = model.logits({ tokens: Int32Array.from(ctx.slice(0, T)), cuSeqlens: Int32Array.of(0, T), positionIds: Int32Array.from({ length: T }, (_, i) => i), docIds: new Int32Array(T), lossMask: new Uint8Array(T) });
    const kept = [...ctx.slice(0, 2), ...ctx.slice(T - 8, T)];
    const last = model.logits({ tokens: Int32Array.from(kept), cuSeqlens: Int32Array.of(0, 10), positionIds: Int32Array.from(kept.keys()), docIds: new Int32Array(10), lossMask: new Uint8Array(10) });
    let diff = 0;
    for (let v = 0; v < V; v++) diff = Math.max(diff, Math.abs(full[(T - 1) * V + v]! - last[9 * V + v]!));
    expect(diff).toBeGreaterThan(1e-4);
  }, 60_000);

  it('refuses keep(sink | window) without reposition, and other keep masks, with a clear reason', () => {
    for (const [cache, reason] of [
      ['keep(sink(2) | window(8))', 'without reposition'],
      ['keep(chunked(8)) reposition', 'other than keep(sink(g) | window(w))'],
    ] as const) {
      const r = check(SOURCE.replace('keep(sink(2) | window(8)) reposition', cache), 't.lmp');
      const spec = findDecl(lower(r.program), 'g')!.spec as DecodeSpec;
      expect(spec.attention!.unsupported.join('; ')).toContain(reason);
    }
  });
});
