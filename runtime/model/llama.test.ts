import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ModelConfig } from './config.js';
import { loadModel, saveModel } from './io.js';
import { LlamaModel, type PackedBatch } from './llama.js';
import { refModelLoss, type RefBatch, type RefModelAttention } from './ref.js';
import type { ModelOptions } from './llama.js';
import { fusedAttention } from './fused.js';
import { expectClose } from './testutil.js';
import { kernels } from './kernels.js';
import { serializeSafetensors } from './safetensors.js';
import { fromHfConfig, toHfConfig } from './config.js';

const tmp = mkdtempSync(join(tmpdir(), 'lmp-llama-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const tiny = (tie: boolean): ModelConfig => ({ dim: 8, layers: 2, heads: 2, kvHeads: 1, ffn: 12, vocab: 11, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: tie });

function batch(tokens: number[], cu: number[], docs: number[], lossMask?: number[]): PackedBatch {
  const T = tokens.length;
  const pos = new Int32Array(T);
  for (let t = 0; t < T; t++) pos[t] = t > 0 && docs[t] === docs[t - 1] && !cu.includes(t) ? pos[t - 1]! + 1 : 0;
  return {
    tokens: Int32Array.from(tokens), cuSeqlens: Int32Array.from(cu), positionIds: pos, docIds: Int32Array.from(docs),
    lossMask: Uint8Array.from(lossMask ?? tokens.map(() => 1)),
  };
}

/** Reference batch: targets and the dense causal & same-document mask, built by hand. */
function refBatch(b: PackedBatch): RefBatch {
  const T = b.tokens.length, targets: number[] = [], weight: number[] = [], mask: number[] = [];
  for (let t = 0; t < T; t++) {
    const seqEnd = [...b.cuSeqlens].find((c) => c > t)!;
    const ok = t + 1 < seqEnd && b.docIds[t] === b.docIds[t + 1];
    targets.push(ok ? b.tokens[t + 1]! : -1);
    weight.push(ok ? b.lossMask[t]! : 0);
  }
  for (let s = 0; s + 1 < b.cuSeqlens.length; s++) {
    const c0 = b.cuSeqlens[s]!, L = b.cuSeqlens[s + 1]! - c0;
    for (let i = 0; i < L; i++) for (let j = 0; j < L; j++) mask.push(j <= i && b.docIds[c0 + i] === b.docIds[c0 + j] ? 1 : 0);
  }
  return { tokens: b.tokens, targets, weight, positions: b.positionIds, cuSeqlens: b.cuSeqlens, mask };
}

/** Dense causal & same-document mask AND extra(i, j) per sequence (RefAttnShape.mask layout). */
function denseMask(b: PackedBatch, extra: (i: number, j: number) => boolean): number[] {
  const mask: number[] = [];
  for (let s = 0; s + 1 < b.cuSeqlens.length; s++) {
    const c0 = b.cuSeqlens[s]!, L = b.cuSeqlens[s + 1]! - c0;
    for (let i = 0; i < L; i++) for (let j = 0; j < L; j++) mask.push(j <= i && b.docIds[c0 + i] === b.docIds[c0 + j] && extra(i, j) ? 1 : 0);
  }
  return mask;
}

describe('Llama model', () => {
  it('backward reuses its previous pass\'s buffers: the same batch gives the same gradients bit for bit, across a pass of another shape', () => {
    const m = LlamaModel.init(tiny(false), 3, { attention: fusedAttention() });
    const a = batch([1, 2, 3, 4, 5, 6, 7], [0, 4, 7], [0, 0, 0, 0, 1, 1, 1]);
    const b = batch([9, 8, 7, 6, 5], [0, 5], [0, 0, 0, 0, 0]);
    const grads = (x: PackedBatch): { loss: number; g: Float32Array[] } => {
      m.zeroGrads();
      const loss = m.backward(x, 1).lossSum;
      return { loss, g: [...m.grads!.values()].map((g) => g.slice()) };
    };
    const first = grads(a);
    // the buffers of a pass over `a` are now pooled: a second pass reads them back before writing
    const again = grads(a);
    grads(b); // another shape swaps the pool
    const third = grads(a);
    for (const r of [again, third]) {
      expect(r.loss).toBe(first.loss);
      r.g.forEach((g, i) => expect(Buffer.from(g.buffer).equals(Buffer.from(first.g[i]!.buffer))).toBe(true));
    }
    expect(first.g.some((g) => g.some((v) => v !== 0))).toBe(true);
  });

  for (const tie of [false, true])
    it(`whole-model gradient matches finite differences of a float64 reference (tied=${tie})`, () => {
      const cfg = tiny(tie);
      const m = LlamaModel.init(cfg, 5, { std: 0.4 });
      for (const [n, p] of m.params) if (n.endsWith('norm.weight')) for (let i = 0; i < p.length; i++) p[i] = 1 + 0.1 * Math.sin(i + n.length);
      const cases = [
        batch([1, 4, 9, 2, 7, 7, 3], [0, 7], [0, 0, 0, 0, 1, 1, 1], [1, 1, 0, 1, 1, 1, 1]),
        batch([10, 0, 5, 5, 8, 2, 6], [0, 4, 7], [0, 0, 1, 1, 2, 2, 2]),
      ];
      for (const b of cases) {
        const scale = 1 / 5;
        m.zeroGrads();
        const { lossSum } = m.backward(b, scale);
        const rb = refBatch(b);
        const p64 = new Map([...m.params].map(([n, p]) => [n, Float64Array.from(p)]));
        const L = (): number => refModelLoss(cfg, p64, rb, scale);
        expect(lossSum * scale).toBeCloseTo(L(), 5);
        for (const [n, p] of p64) {
          const g = m.grads!.get(n)!;
          const num = new Float64Array(p.length);
          for (let i = 0; i < p.length; i++) {
            const x0 = p[i]!, h = 1e-5;
            p[i] = x0 + h;
            const a = L();
            p[i] = x0 - h;
            const c = L();
            p[i] = x0;
            num[i] = (a - c) / (2 * h);
          }
          expectClose(g, num, 3e-5, 3e-3, n);
        }
      }
    });

  // the file's attention block: alibi, softcap (+ temperature), RoPE linear scaling, a per-head
  // mask, NoPE; the fused op against a float64 reference written out in ref.ts
  const variants: [string, ModelOptions, (b: PackedBatch) => RefModelAttention][] = [
    ['alibi', { position: { kind: 'alibi' } }, () => ({ position: { kind: 'none' }, alibi: [2 ** -4, 2 ** -8] })],
    ['softcap 0.3, temperature 0.7', { score: { softcap: 0.3, temperature: 0.7 } }, () => ({ softcap: 0.3, temperature: 0.7 })],
    ['rope linear x4', { position: { kind: 'rope', scaling: { kind: 'linear', factor: 4 } } }, () => ({ position: { kind: 'rope', linear: 4 } })],
    [
      'per-head mask (head 1: window 2)',
      { mask: { default: undefined, groups: [
        { from: 0, to: 0, mask: { op: 'and', args: [{ op: 'causal' }, { op: 'same_document' }] } },
        { from: 1, to: 1, mask: { op: 'and', args: [{ op: 'causal' }, { op: 'same_document' }, { op: 'window', size: 2 }] } },
      ] } },
      (b) => ({ headMasks: [refBatch(b).mask, denseMask(b, (i, j) => i - j < 2)] }),
    ],
    ['NoPE', { position: { kind: 'none' } }, () => ({ position: { kind: 'none' } })],
  ];
  for (const [what, opts, refAtt] of variants)
    it(`whole-model gradient matches finite differences with ${what}`, () => {
      const cfg = { ...tiny(false), vocab: 7 };
      const m = LlamaModel.init(cfg, 21, { std: 0.5, ...opts, attention: fusedAttention() });
      for (const [n, p] of m.params) if (n.endsWith('norm.weight')) for (let i = 0; i < p.length; i++) p[i] = 1 + 0.1 * Math.sin(i + n.length);
      const b = batch([1, 4, 6, 2, 5, 5, 3, 0, 2], [0, 9], [0, 0, 0, 0, 0, 0, 1, 1, 1]);
      const scale = 1 / 5;
      m.zeroGrads();
      const { lossSum } = m.backward(b, scale);
      const rb = refBatch(b), ra = refAtt(b);
      const p64 = new Map([...m.params].map(([n, p]) => [n, Float64Array.from(p)]));
      const L = (): number => refModelLoss(cfg, p64, rb, scale, ra);
      expect(lossSum * scale).toBeCloseTo(L(), 5);
      // the variant matters: the plain model's loss differs
      expect(Math.abs(refModelLoss(cfg, p64, rb, scale) - L())).toBeGreaterThan(1e-4);
      for (const [n, p] of p64) {
        const g = m.grads!.get(n)!;
        const num = new Float64Array(p.length);
        for (let i = 0; i < p.length; i++) {
          const x0 = p[i]!, h = 1e-5;
          p[i] = x0 + h;
          const a = L();
          p[i] = x0 - h;
          const c = L();
          p[i] = x0;
          num[i] = (a - c) / (2 * h);
        }
        expectClose(g, num, 3e-5, 3e-3, `${what}: ${n}`);
      }
    });

  it('causal & same_document never leaks across documents; plain causal does', () => {
    const cfg: ModelConfig = { ...tiny(false), dim: 16, heads: 4, kvHeads: 2, vocab: 13 };
    const docs = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2];
    const base = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9];
    const other = base.map((t, i) => (docs[i] === 0 ? (t + 7) % 13 : t)); // perturb document 0 only
    const b1 = batch(base, [0, 13], docs), b2 = batch(other, [0, 13], docs);
    const V = cfg.vocab;
    const rowsEqual = (a: Float32Array, b: Float32Array, from: number, to: number): boolean =>
      Buffer.compare(Buffer.from(a.buffer, from * V * 4, (to - from) * V * 4), Buffer.from(b.buffer, from * V * 4, (to - from) * V * 4)) === 0;
    const doc = LlamaModel.init(cfg, 9, { std: 0.3 });
    const l1 = doc.logits(b1), l2 = doc.logits(b2);
    expect(rowsEqual(l1, l2, 5, 13)).toBe(true); // documents 1 and 2 bit-identical
    expect(rowsEqual(l1, l2, 0, 5)).toBe(false); // document 0 did change
    const causal = LlamaModel.init(cfg, 9, { std: 0.3, mask: { op: 'causal' } });
    const c1 = causal.logits(b1), c2 = causal.logits(b2);
    expect(rowsEqual(c1, c2, 5, 13)).toBe(false); // the same test catches a leaking mask
  });

  it('save, load: the reloaded model gives identical logits (and HF names/config)', () => {
    const cfg: ModelConfig = { ...tiny(false), dim: 16, heads: 4, kvHeads: 2 };
    const m = LlamaModel.init(cfg, 3, { std: 0.3 });
    const b = batch([1, 2, 3, 4, 5, 6, 7, 8], [0, 8], [0, 0, 0, 1, 1, 1, 1, 1]);
    saveModel(join(tmp, 'm'), m);
    const r = loadModel(join(tmp, 'm'));
    expect(r.config).toEqual({ ...cfg, maxPositions: 2048 });
    expect(Buffer.compare(Buffer.from(m.logits(b).buffer), Buffer.from(r.logits(b).buffer))).toBe(0);
    expect([...r.params.keys()]).toContain('model.layers.1.self_attn.k_proj.weight');
    expect(r.shapes.get('model.layers.0.self_attn.k_proj.weight')).toEqual([8, 16]);
  });

  it('loads a Hugging Face style directory with BF16 weights, tied head and no lm_head', () => {
    const cfg: ModelConfig = { ...tiny(true), dim: 16, heads: 4, kvHeads: 2 };
    const m = LlamaModel.init(cfg, 6, { std: 0.3 });
    const d = join(tmp, 'hf');
    mkdirSync(d, { recursive: true });
    const list = [...m.params].map(([n, p]) => [n, { shape: m.shapes.get(n)!, data: p }] as [string, { shape: number[]; data: Float32Array }]);
    writeFileSync(join(d, 'model.safetensors'), serializeSafetensors(list, { format: 'pt' }, 'BF16'));
    writeFileSync(join(d, 'config.json'), JSON.stringify({ ...toHfConfig(cfg), head_dim: 4, rope_scaling: null, attention_bias: false }));
    const r = loadModel(d);
    // every weight equals the float32 value truncated to bfloat16 precision (8 significant bits)
    for (const [n, p] of m.params) {
      const q = r.params.get(n)!;
      for (let i = 0; i < p.length; i++) expect(Math.abs(q[i]! - p[i]!)).toBeLessThanOrEqual(Math.abs(p[i]!) * 2 ** -8);
    }
    expect(r.params.has('lm_head.weight')).toBe(false);
    writeFileSync(join(d, 'config.json'), JSON.stringify({ ...toHfConfig(cfg), rope_scaling: { type: 'longrope', factor: 2 } }));
    expect(() => loadModel(d)).toThrow(expect.objectContaining({ code: 'LMP_E_CONFIG_UNSUPPORTED', key: 'rope_scaling.type' }));
    expect(() => fromHfConfig({ ...toHfConfig(cfg), num_key_value_heads: 3 })).toThrow(expect.objectContaining({ code: 'LMP_E_CONFIG' }));
    writeFileSync(join(d, 'config.json'), JSON.stringify(toHfConfig({ ...cfg, tieEmbeddings: false })));
    expect(() => loadModel(d)).toThrow(/no tensor 'lm_head.weight'/);
  });

  it('gradients are bit-identical on 1 and 2 threads', () => {
    const cfg: ModelConfig = { ...tiny(false), dim: 64, heads: 4, kvHeads: 2, ffn: 96, vocab: 50 };
    const m = LlamaModel.init(cfg, 12, { std: 0.1 });
    const T = 300;
    const toks = Array.from({ length: T }, (_, i) => (i * 13 + 5) % 50);
    const docs = toks.map((_, i) => Math.floor(i / 70));
    const b = batch(toks, [0, 150, T], docs);
    const K = kernels(), prev = K.numThreads();
    const run = (t: number): Map<string, Float32Array> => {
      K.setNumThreads(t);
      m.zeroGrads();
      m.backward(b, 1 / T);
      return new Map([...m.grads!].map(([n, g]) => [n, g.slice()]));
    };
    const g1 = run(1), g2 = run(2);
    K.setNumThreads(prev);
    for (const [n, g] of g1) expect(Buffer.compare(Buffer.from(g.buffer), Buffer.from(g2.get(n)!.buffer)), n).toBe(0);
  });

  it('KV-cache decoding matches the full forward at every position', () => {
    const cfg: ModelConfig = { ...tiny(true), dim: 16, heads: 4, kvHeads: 2, vocab: 17 };
    const m = LlamaModel.init(cfg, 4, { std: 0.3 });
    const toks = [3, 16, 0, 5, 5, 9, 12, 1, 2, 8, 8, 4, 7, 6, 11, 10, 13, 14, 15, 0];
    const T = toks.length, V = cfg.vocab;
    const full = m.logits(batch(toks, [0, T], toks.map(() => 0)));
    const s = m.session();
    const chunks = [[0, 5], [5, 6], [6, 7], [7, 15], [15, 20]];
    for (const [a, e] of chunks) {
      const got = s.nextAll(Int32Array.from(toks.slice(a, e)));
      expectClose(got, full.subarray(a! * V, e! * V), 2e-5, 1e-4, `positions ${a}..${e}`);
    }
    expect(s.length).toBe(T);
    const s2 = m.session();
    for (let t = 0; t < T; t++) expectClose(s2.next(Int32Array.of(toks[t]!)), full.subarray(t * V, (t + 1) * V), 2e-5, 1e-4, `step ${t}`);
  });

  it('rejects malformed batches with coded errors', () => {
    const m = LlamaModel.init(tiny(false), 1);
    expect(() => m.logits(batch([1, 2, 11], [0, 3], [0, 0, 0]))).toThrow(expect.objectContaining({ code: 'LMP_E_BATCH' }));
    expect(() => m.logits(batch([1, 2, 3], [0, 2], [0, 0, 0]))).toThrow(expect.objectContaining({ code: 'LMP_E_BATCH' }));
  });
});
