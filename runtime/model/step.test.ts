// The native decoding step (native/src/step: one call per step) against the layer-by-layer
// TypeScript step it replaces (model.nativeSteps = false): the same kernels in the same order, so
// every logit must be bit-identical, over prompts and single-token steps, full and sinks + window
// caches (keys rotated by slot), GQA, tied and untied heads, score transforms, a windowed mask,
// ALiBi, no position encoding, scaled RoPE and LM-Infinite's distance limit; a model on another
// attention op keeps the TypeScript step; bad tokens are coded errors.
import { describe, expect, it } from 'vitest';
import type { ModelConfig } from './config.js';
import { fusedAttention } from './fused.js';
import { LlamaModel, type ModelOptions } from './llama.js';
import { native } from '../native.js';

const argmax = (x: Float32Array, from: number): number => {
  let b = from;
  for (let i = from; i < x.length; i++) if (x[i]! > x[b]!) b = i;
  return b - from;
};

/** Counts the native step's calls while fn runs. */
function countSteps(fn: () => void): number {
  const addon = native() as unknown as { decodeStep: (o: object) => Float32Array };
  const own = addon.decodeStep;
  let calls = 0;
  addon.decodeStep = (o) => (calls++, own(o));
  try {
    fn();
  } finally {
    addon.decodeStep = own;
  }
  return calls;
}

const CFGS: [string, ModelConfig, ModelOptions][] = [
  ['tied, GQA 4/2', { dim: 64, layers: 2, heads: 4, kvHeads: 2, ffn: 96, vocab: 50, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: true }, {}],
  ['untied, GQA 3/1, softcap, causal & window(9)', { dim: 96, layers: 3, heads: 3, kvHeads: 1, ffn: 100, vocab: 37, normEps: 1e-6, ropeTheta: 500000, tieEmbeddings: false },
    { mask: { op: 'and', args: [{ op: 'causal' }, { op: 'window', size: 9 }] }, score: { softcap: 5 } }],
  ['ALiBi', { dim: 64, layers: 2, heads: 2, kvHeads: 2, ffn: 64, vocab: 40, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: false }, { position: { kind: 'alibi' } }],
  ['no position encoding, head dim 48', { dim: 96, layers: 2, heads: 2, kvHeads: 1, ffn: 64, vocab: 40, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: false }, { position: { kind: 'none' } }],
];
// scaled RoPE (rope.ts rotate's table path): linear, YaRN (an mscale), Llama 3, and dynamic NTK whose
// length crosses its original 16 during the 13-token prompt + 20 steps (plain RoPE, then the table)
const SMALL: ModelConfig = { dim: 64, layers: 2, heads: 4, kvHeads: 2, ffn: 64, vocab: 40, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: false };
for (const scaling of [
  { kind: 'linear', factor: 2 },
  { kind: 'yarn', factor: 4, originalLength: 8 },
  { kind: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalLength: 16 },
  { kind: 'dynamic', factor: 2, originalLength: 16 },
] as const)
  CFGS.push([`RoPE ${scaling.kind}`, SMALL, { position: { kind: 'rope', scaling } }]);
// LM-Infinite (RoPE in the op: the cache keeps keys before RoPE; q, the keys, qFar and kFar rotated every step)
CFGS.push(['LM-Infinite limit 8, Lambda mask', SMALL, { position: { kind: 'rope', limit: 8 }, mask: { op: 'and', args: [{ op: 'causal' }, { op: 'or', args: [{ op: 'sink', count: 2 }, { op: 'window', size: 12 }] }] } }]);
CFGS.push(['LM-Infinite limit 5, YaRN', SMALL, { position: { kind: 'rope', limit: 5, scaling: { kind: 'yarn', factor: 4, originalLength: 8 } } }]);

describe('native decoding step', () => {
  for (const [name, cfg, opts] of CFGS)
    for (const policy of [{ kind: 'full' }, { kind: 'sinks_window', sinks: 2, window: 7 }] as const)
      it(`${name}, ${policy.kind}: logits bit-identical to the TypeScript step`, () => {
        const fast = LlamaModel.init(cfg, 5, { attention: fusedAttention(), ...opts }), slow = LlamaModel.init(cfg, 5, { attention: fusedAttention(), ...opts });
        slow.nativeSteps = false;
        const a = fast.session(policy), b = slow.session(policy);
        const prompt = Int32Array.from({ length: 13 }, (_, i) => (i * 7 + 3) % cfg.vocab);
        let steps = 0;
        const calls = countSteps(() => {
          let la = a.nextAll(prompt), lb = b.nextAll(prompt);
          for (let s = 0; s < 20; s++, steps++) {
            expect(Buffer.from(la.buffer, la.byteOffset, la.byteLength).equals(Buffer.from(lb.buffer, lb.byteOffset, lb.byteLength)), `step ${s}`).toBe(true);
            const t = Int32Array.of(argmax(la, la.length - cfg.vocab));
            la = a.next(t);
            lb = b.next(t);
          }
        });
        expect(calls).toBeGreaterThanOrEqual(steps + 1); // the fast model's prompt (in chunks where the cache evicts) and every step
        expect(countSteps(() => slow.session(policy).nextAll(prompt))).toBe(0);
      });

  it('models it does not run keep the TypeScript step; bad tokens are coded errors', () => {
    const cfg: ModelConfig = { dim: 64, layers: 1, heads: 2, kvHeads: 1, ffn: 64, vocab: 40, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: false };
    const others: ModelOptions[] = [
      {}, // the default op here is the reference op, not the fused kernels
    ];
    for (const o of others) {
      const m = LlamaModel.init(cfg, 1, o.position ? { attention: fusedAttention(), ...o } : o);
      expect(countSteps(() => m.session().next(Int32Array.of(1, 2, 3))), JSON.stringify(o)).toBe(0);
    }
    const m = LlamaModel.init(cfg, 1, { attention: fusedAttention() });
    expect(() => m.session().next(Int32Array.of(40))).toThrow(expect.objectContaining({ code: 'LMP_E_TOKEN' }));
  });
});
