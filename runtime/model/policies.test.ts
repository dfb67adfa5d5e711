import { describe, expect, it } from 'vitest';
import { createSession, InfLLMSession, SirLLMSession } from './cache.js';
import type { ModelConfig } from './config.js';
import { KVCacheSession, LlamaModel } from './llama.js';
import { refGemm, refRmsnorm } from './ref.js';
import { expectClose, rng } from './testutil.js';

const base: ModelConfig = { dim: 16, layers: 1, heads: 4, kvHeads: 2, ffn: 24, vocab: 19, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: false };
const r = rng(77);
const stream = Array.from({ length: 70 }, () => Math.floor(r() * 19));

/** Last-row logits of a full forward over exactly `ctx` at positions 0..n-1. */
function denseLast(m: LlamaModel, ctx: number[]): Float32Array {
  const T = ctx.length, V = m.config.vocab;
  const all = m.logits({ tokens: Int32Array.from(ctx), cuSeqlens: Int32Array.of(0, T), positionIds: Int32Array.from(ctx.keys()), docIds: new Int32Array(T), lossMask: new Uint8Array(T) });
  return all.slice((T - 1) * V);
}

function surprisal64(row: ArrayLike<number>, tok: number): number {
  let m = -Infinity;
  for (let i = 0; i < row.length; i++) m = Math.max(m, row[i]!);
  let s = 0;
  for (let i = 0; i < row.length; i++) s += Math.exp(row[i]! - m);
  return m + Math.log(s) - row[tok]!;
}

describe('SirLLM cache (entropy-scored key tokens with decay)', () => {
  const pol = { kind: 'sirllm' as const, keep: 5, decay: 0.9, recent: 4, sinks: 2 };
  const cap = pol.sinks + pol.keep + pol.recent;

  it('a one-layer model attends to exactly the kept set, and the kept set follows the rule', () => {
    const m = LlamaModel.init(base, 41, { std: 0.4 });
    const s = createSession(m, pol) as SirLLMSession;
    const V = base.vocab;
    // independent simulation: scores from dense-reference logits over the kept context
    const kept: { tok: number; origin: number; score: number }[] = [];
    let prevRef: Float32Array | null = null;
    let nonWindow = 0;
    const prompt = stream.slice(0, 6);
    const pl = s.nextAll(Int32Array.from(prompt));
    for (let t = 0; t < prompt.length; t++) {
      const ref = denseLast(m, prompt.slice(0, t + 1));
      expectClose(pl.subarray(t * V, (t + 1) * V), ref, 1e-5, 1e-4, `prompt row ${t}`);
      for (const k of kept) k.score *= pol.decay;
      kept.push({ tok: prompt[t]!, origin: t, score: prevRef ? surprisal64(prevRef, prompt[t]!) : 0 });
      prevRef = ref;
    }
    for (let t = prompt.length; t < stream.length; t++) {
      if (kept.length === cap) {
        let e = pol.sinks;
        for (let i = pol.sinks + 1; i < kept.length - pol.recent + 1; i++) if (kept[i]!.score < kept[e]!.score) e = i;
        kept.splice(e, 1);
      }
      const ctx = [...kept.map((k) => k.tok), stream[t]!];
      const ref = denseLast(m, ctx);
      const got = s.next(Int32Array.of(stream[t]!));
      for (const k of kept) k.score *= pol.decay;
      kept.push({ tok: stream[t]!, origin: t, score: surprisal64(prevRef!, stream[t]!) });
      prevRef = ref;
      expect(s.origins).toEqual(kept.map((k) => k.origin));
      expect(s.cachedTokens).toEqual(kept.map((k) => k.tok));
      expectClose(s.tokenScores, kept.map((k) => k.score), 1e-4, 1e-4, `scores at ${t}`);
      expectClose(got, ref, 1e-5, 1e-4, `step ${t}`);
      expect(s.length).toBeLessThanOrEqual(cap);
      // a key token older than what sinks + window would keep
      if (s.origins.slice(pol.sinks, s.length - pol.recent).some((o) => o < t + 1 - (s.length - pol.sinks))) nonWindow++;
    }
    expect(s.length).toBe(cap);
    expect(nonWindow).toBeGreaterThan(10);
  });

  it('keep = 0 is sinks + window', () => {
    const m = LlamaModel.init({ ...base, layers: 2 }, 42, { std: 0.3 });
    const a = createSession(m, { kind: 'sirllm', keep: 0, decay: 0.5, recent: 7, sinks: 3 });
    const b = new KVCacheSession(m, { kind: 'sinks_window', sinks: 3, window: 7 });
    expectClose(a.nextAll(Int32Array.from(stream.slice(0, 20))), b.nextAll(Int32Array.from(stream.slice(0, 20))), 1e-6, 1e-5, 'prefill');
    for (let t = 20; t < 40; t++) expectClose(a.next(Int32Array.of(stream[t]!)), b.next(Int32Array.of(stream[t]!)), 1e-6, 1e-5, `step ${t}`);
  });

  it('is deterministic (two sessions, and after reset) and stays bounded on a two-layer model', () => {
    const m = LlamaModel.init({ ...base, layers: 2 }, 43, { std: 0.3 });
    const run = (s: SirLLMSession): Float32Array[] => {
      const out = [s.nextAll(Int32Array.from(stream.slice(0, 9)))];
      for (let t = 9; t < stream.length; t++) {
        out.push(s.next(Int32Array.of(stream[t]!)));
        expect(s.length).toBeLessThanOrEqual(cap);
      }
      return out;
    };
    const s1 = new SirLLMSession(m, pol), s2 = new SirLLMSession(m, pol);
    const a = run(s1), b = run(s2);
    expect(b).toEqual(a);
    const kept = s1.origins.slice();
    s1.reset();
    expect(run(s1)).toEqual(a);
    expect(s1.origins).toEqual(kept);
  });

  it('refuses bad policies', () => {
    const m = LlamaModel.init(base, 1);
    expect(() => createSession(m, { kind: 'sirllm', keep: -1, decay: 0.9 })).toThrow(expect.objectContaining({ code: 'LMP_E_ARG' }));
    expect(() => createSession(m, { kind: 'sirllm', keep: 2, decay: 0 })).toThrow(expect.objectContaining({ code: 'LMP_E_ARG' }));
    expect(() => createSession(m, { kind: 'sirllm', keep: 2, decay: 0.9, recent: 0 })).toThrow(expect.objectContaining({ code: 'LMP_E_ARG' }));
    expect(() => createSession(m, { kind: 'keep', mask: { op: 'full' } })).toThrow(expect.objectContaining({ code: 'LMP_E_NO_RUNTIME' }));
  });
});

describe('InfLLM cache (block memory units, top-K per step)', () => {
  const pol = { kind: 'infllm' as const, sinks: 2, local: 6, block: 4, top: 2, representatives: 2 };
  // distinct tokens: in layer 0 a key before RoPE depends only on its token, so repeated tokens
  // would make exact ties between units that float rounding then breaks either way
  const cfg: ModelConfig = { ...base, vocab: 101 };
  const perm = Array.from({ length: 101 }, (_, i) => i);
  for (let i = 100; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  }
  const stream = perm.slice(0, 70);

  /** float64 queries/keys before RoPE of layer 0 for one token (its input is the embedding). */
  function qk0(m: LlamaModel, tok: number): { q: Float64Array; k: Float64Array } {
    const c = m.config, D = c.dim, hd = m.headDim;
    const e = m.params.get('model.embed_tokens.weight')!.subarray(tok * D, (tok + 1) * D);
    const h = refRmsnorm(e, m.params.get('model.layers.0.input_layernorm.weight')!, 1, D, c.normEps);
    return {
      q: refGemm(false, true, 1, c.heads * hd, D, h, m.params.get('model.layers.0.self_attn.q_proj.weight')!),
      k: refGemm(false, true, 1, c.kvHeads * hd, D, h, m.params.get('model.layers.0.self_attn.k_proj.weight')!),
    };
  }

  it('a one-layer model attends to exactly sinks + the top units + the tail, chosen by the stated rule', () => {
    const m = LlamaModel.init(cfg, 51, { std: 0.4 });
    const s = createSession(m, pol) as InfLLMSession;
    const c = m.config, hd = m.headDim, group = c.heads / c.kvHeads, V = c.vocab;
    const dotq = (q: Float64Array, k: Float64Array): number => {
      let t = 0;
      for (let h = 0; h < c.heads; h++) for (let d = 0; d < hd; d++) t += q[h * hd + d]! * k[Math.floor(h / group) * hd + d]!;
      return t;
    };
    const qs = stream.map((t) => qk0(m, t));
    const rep: number[] = [];
    const unitReps: number[][] = [];
    let units = 0, nonRecent = 0;
    const expectedSel = (p: number): number[] => {
      const tail = () => pol.sinks + units * pol.block;
      while (p + 1 - tail() - pol.local >= pol.block) {
        const idx = Array.from({ length: pol.block }, (_, i) => tail() + i).sort((a, b) => rep[b]! - rep[a]! || a - b);
        unitReps.push(idx.slice(0, pol.representatives));
        units++;
      }
      rep[p] = 0;
      for (let q = Math.max(tail(), 0); q <= p; q++) if (q >= tail()) rep[q] = (rep[q] ?? 0) + dotq(qs[p]!.q, qs[q]!.k);
      let chosen = Array.from({ length: units }, (_, u) => u);
      if (units > pol.top) {
        const sc = chosen.map((u) => unitReps[u]!.reduce((a, i) => a + dotq(qs[p]!.q, qs[i]!.k), 0));
        chosen = chosen.sort((a, b) => sc[b]! - sc[a]! || a - b).slice(0, pol.top).sort((a, b) => a - b);
        if (chosen[0] !== units - pol.top) nonRecent++;
      }
      const sel: number[] = [];
      for (let i = 0; i < Math.min(pol.sinks, p + 1); i++) sel.push(i);
      for (const u of chosen) for (let i = 0; i < pol.block; i++) sel.push(pol.sinks + u * pol.block + i);
      for (let i = Math.max(tail(), Math.min(pol.sinks, p + 1)); i <= p; i++) sel.push(i);
      return sel;
    };
    const prompt = stream.slice(0, 9);
    const pl = s.nextAll(Int32Array.from(prompt));
    for (let t = 0; t < prompt.length; t++) {
      expect(expectedSel(t)).toEqual(Array.from({ length: t + 1 }, (_, i) => i));
      expectClose(pl.subarray(t * V, (t + 1) * V), denseLast(m, prompt.slice(0, t + 1)), 1e-5, 1e-4, `prompt row ${t}`);
    }
    for (let t = prompt.length; t < stream.length; t++) {
      const got = s.next(Int32Array.of(stream[t]!));
      const sel = expectedSel(t);
      expect(Array.from(s.lastSelection[0]!)).toEqual(sel);
      expect(sel.length).toBeLessThanOrEqual(s.attendBound);
      expectClose(got, denseLast(m, sel.map((i) => stream[i]!)), 1e-5, 1e-4, `step ${t}`);
    }
    expect(s.units).toBe(units);
    expect(units).toBeGreaterThan(pol.top + 5);
    expect(nonRecent).toBeGreaterThan(5);
  });

  it('is deterministic and the attended set stays bounded on a two-layer model', () => {
    const m = LlamaModel.init({ ...cfg, layers: 2 }, 52, { std: 0.3 });
    const run = (s: InfLLMSession): Float32Array[] => {
      const out = [s.nextAll(Int32Array.from(stream.slice(0, 30)))];
      for (let t = 30; t < stream.length; t++) {
        out.push(s.next(Int32Array.of(stream[t]!)));
        for (const sel of s.lastSelection) expect(sel.length).toBeLessThanOrEqual(s.attendBound);
      }
      return out;
    };
    const s1 = new InfLLMSession(m, pol), s2 = new InfLLMSession(m, pol);
    const a = run(s1);
    expect(run(s2)).toEqual(a);
    s1.reset();
    expect(run(s1)).toEqual(a);
    expect(s1.length).toBe(stream.length);
  });

  it('with top >= units it equals the full cache', () => {
    const m = LlamaModel.init({ ...cfg, layers: 2 }, 53, { std: 0.3 });
    const a = createSession(m, { ...pol, top: 100 }), b = createSession(m);
    expectClose(a.nextAll(Int32Array.from(stream.slice(0, 12))), b.nextAll(Int32Array.from(stream.slice(0, 12))), 1e-5, 1e-4, 'prefill');
    for (let t = 12; t < 50; t++) expectClose(a.next(Int32Array.of(stream[t]!)), b.next(Int32Array.of(stream[t]!)), 1e-5, 1e-4, `step ${t}`);
  });

  it('refuses bad policies', () => {
    const m = LlamaModel.init(base, 1);
    expect(() => createSession(m, { kind: 'infllm', block: 0, top: 2 })).toThrow(expect.objectContaining({ code: 'LMP_E_ARG' }));
    expect(() => createSession(m, { kind: 'infllm', block: 4, top: 2, representatives: 5 })).toThrow(expect.objectContaining({ code: 'LMP_E_ARG' }));
  });
});
