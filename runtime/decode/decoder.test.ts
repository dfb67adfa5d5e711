// Decoder: speculative sampling reproduces the target distribution (chi-square), stop
// strings across token boundaries, min/max tokens, the length controller, cascades, traces.
import { describe, expect, test } from 'vitest';
import { cascade, Decoder, quantile, type LogitsSource } from './decoder.js';

function softmax(x: ArrayLike<number>): number[] {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) m = Math.max(m, x[i]!);
  const e = Array.from(x, (v) => (v === -Infinity ? 0 : Math.exp(v - m)));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

/** A source whose logits do not depend on the context. */
function fixedSource(logits: number[], batched = true): LogitsSource & { calls: number } {
  const src = {
    vocabSize: logits.length,
    calls: 0,
    next: () => {
      src.calls++;
      return Float32Array.from(logits);
    },
    ...(batched ? { score: (_p: readonly number[], c: readonly number[]) => Array.from({ length: c.length + 1 }, () => Float32Array.from(logits)) } : {}),
  };
  return src;
}

// chi-square critical value, df = 5, alpha = 0.001
const CHI2_5_0001 = 20.515;
function chi2(counts: number[], probs: number[]): number {
  const n = counts.reduce((a, b) => a + b, 0);
  return counts.reduce((a, c, i) => a + (c - n * probs[i]!) ** 2 / (n * probs[i]!), 0);
}

describe('speculative sampling', () => {
  const targetLogits = [1.2, 0.3, -0.5, 2.0, 0.0, -1.0];
  const p = softmax(targetLogits);
  const drafts: [string, number[]][] = [
    ['same as target', targetLogits],
    ['uniform', [0, 0, 0, 0, 0, 0]],
    ['bad (mass where the target has little)', [-3, -3, 4, -3, -3, 3]],
    ['one-hot on the least likely', [-50, -50, -50, -50, -50, 10]],
  ];
  for (const [name, dl] of drafts) {
    test(`output distribution = target's by chi-square, draft: ${name}`, async () => {
      const n = 20000;
      const dec = new Decoder(fixedSource(targetLogits), {
        chain: [],
        seed: 12345,
        maxTokens: n,
        speculate: { draft: fixedSource(dl), candidates: 4 },
      });
      const r = await dec.generate([]);
      expect(r.tokens.length).toBe(n);
      const counts = new Array(6).fill(0);
      for (const t of r.tokens) counts[t]++;
      expect(chi2(counts, p)).toBeLessThan(CHI2_5_0001);
      // Expected tokens per round: (1 - a^(g+1)) / (1 - a), a = sum min(p, q) (Leviathan et al.).
      const q = softmax(dl);
      const a = p.reduce((s, pi, i) => s + Math.min(pi, q[i]!), 0);
      const want = a > 0.999999 ? 5 : (1 - a ** 5) / (1 - a);
      expect(r.stats!.tokensPerRound).toBeGreaterThan(want * 0.95);
      expect(r.stats!.tokensPerRound).toBeLessThan(want * 1.05);
      expect(r.stats!.targetCalls).toBe(r.stats!.rounds);
      expect(r.stats!.acceptanceRate).toBeCloseTo(r.stats!.accepted / r.stats!.drafted, 12);
    });
  }

  test('stateful chain (penalties) stays exact across rejected drafts: 3-token sequences by chi-square', async () => {
    // Target: V = 4 with a repetition penalty over the history; the exact probability of each
    // 3-token sequence is the product of the penalized softmaxes, computed here directly.
    const base = [1.0, 0.5, 0.0, -0.5];
    const pen = (hist: number[]) => {
      const cnt = new Map<number, number>();
      for (const t of hist) cnt.set(t, (cnt.get(t) ?? 0) + 1);
      return base.map((v, i) => (cnt.has(i) ? (v > 0 ? v / 2 : v * 2) - 0.3 * cnt.get(i)! : v));
    };
    const exact = new Map<string, number>();
    for (let a = 0; a < 4; a++)
      for (let b = 0; b < 4; b++)
        for (let c = 0; c < 4; c++) exact.set(`${a}${b}${c}`, softmax(pen([]))[a]! * softmax(pen([a]))[b]! * softmax(pen([a, b]))[c]!);
    const counts = new Map<string, number>();
    const runs = 6000;
    for (let s = 0; s < runs; s++) {
      const dec = new Decoder(fixedSource(base), {
        chain: [{ name: 'penalties', last: -1, repeat: 2, frequency: 0.3 }],
        seed: s,
        maxTokens: 3,
        speculate: { draft: fixedSource([0, 0, 1, 0]), candidates: 2, draftChain: [] },
      });
      const k = (await dec.generate([])).tokens.join('');
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    let x2 = 0;
    for (const [k, pk] of exact) x2 += ((counts.get(k) ?? 0) - runs * pk) ** 2 / (runs * pk);
    // df = 63, alpha = 0.001: 103.4
    expect(x2).toBeLessThan(103.4);
  });

  test('greedy variant: same tokens as plain greedy decoding, whatever the draft', async () => {
    let seq = 0;
    const ctxSource = (V: number, salt: number): LogitsSource => ({
      vocabSize: V,
      next: (toks) => {
        seq++;
        return Float32Array.from({ length: V }, (_, i) => Math.sin(i * 3.1 + toks.length * 1.7 + (toks.at(-1) ?? 0) * 0.37 + salt));
      },
    });
    const plain = await new Decoder(ctxSource(50, 0), { chain: [{ name: 'greedy' }], maxTokens: 40 }).generate([1, 2]);
    const spec = await new Decoder(ctxSource(50, 0), {
      chain: [{ name: 'greedy' }],
      maxTokens: 40,
      speculate: { draft: ctxSource(50, 0.5), candidates: 3, greedy: true },
    }).generate([1, 2]);
    expect(spec.tokens).toEqual(plain.tokens);
    expect(spec.stats!.targetCalls).toBeLessThanOrEqual(spec.stats!.rounds * 4);
    expect(spec.stats!.tokensPerRound).toBeGreaterThan(1);
    expect(seq).toBeGreaterThan(0);
  });

  test('SpecDec++ adaptive length: stops drafting once P(some rejection) > h', async () => {
    // Draft confidence q(x) is about 0.5 per token here: 1 - 0.5^g > 0.3 already at g = 1,
    // so every round drafts exactly min (1) candidate; with h = 0.99 it drafts up to 6.
    const dl = [0, 0, -9, -9, -9, -9];
    const mk = (h: number) =>
      new Decoder(fixedSource(targetLogits), { chain: [], seed: 3, maxTokens: 300, speculate: { draft: fixedSource(dl), candidates: { max: 8, stopWhen: h } } });
    const a = (await mk(0.3).generate([])).stats!;
    expect(a.drafted).toBe(a.rounds);
    expect(a.draftCalls).toBe(a.rounds);
    const b = (await mk(0.99).generate([])).stats!;
    expect(b.drafted / b.rounds).toBeGreaterThan(5);
    expect(b.drafted / b.rounds).toBeLessThanOrEqual(8);
  });
});

// A toy vocabulary of text pieces.
const PIECES = ['He', 'llo', ' wo', 'rld', '\n', '\n', ' the', ' cat', ' sat', '.', '<eos>'];
const EOS = 10;
const detok = (ids: readonly number[]) => ids.map((i) => PIECES[i]).join('');

function scripted(script: number[], eosLogit = -5): LogitsSource {
  return {
    vocabSize: PIECES.length,
    next: (toks) => {
      const x = new Float32Array(PIECES.length).fill(-10);
      x[EOS] = eosLogit;
      x[script[toks.length % script.length]!] = 5;
      return x;
    },
  };
}

describe('stop rules', () => {
  test('a stop string spanning token boundaries ends generation and is cut from the text', async () => {
    const r = await new Decoder(scripted([0, 1, 2, 3, 4]), { chain: [{ name: 'greedy' }], stop: ['lo w'], decode: detok }).generate([]);
    expect(r.stopReason).toBe('stop');
    expect(r.tokens).toEqual([0, 1, 2]);
    expect(r.text).toBe('Hel');
    const r2 = await new Decoder(scripted([0, 1, 2, 3, 4, 5, 6]), { chain: [{ name: 'greedy' }], stop: ['\n\n'], decode: detok }).generate([]);
    expect(r2.text).toBe('Hello world');
    expect(r2.tokens).toEqual([0, 1, 2, 3, 4, 5]);
  });
  test('min and max tokens', async () => {
    const eager = scripted([6, 7], 20); // EOS is by far the likeliest
    const r = await new Decoder(eager, { chain: [{ name: 'greedy' }], eos: EOS, minTokens: 4 }).generate([]);
    expect(r.tokens.length).toBe(4);
    expect(r.stopReason).toBe('eos');
    const m = await new Decoder(scripted([6, 7, 8]), { chain: [], seed: 1, maxTokens: 7 }).generate([]);
    expect(m.tokens.length).toBe(7);
    expect(m.stopReason).toBe('max_tokens');
  });
});

describe('length target', () => {
  // Words source: tokens " the", " cat", " sat" add one word each; "." adds none.
  const words = (eosLogit: number, seed: number): LogitsSource => ({
    vocabSize: PIECES.length,
    next: (toks) => {
      const x = Float32Array.from(PIECES, (_, i) => (i >= 6 && i <= 9 ? Math.sin(i * 7 + toks.length * 1.3 + seed) : -20));
      x[EOS] = eosLogit;
      return x;
    },
  });
  for (const [name, eos] of [
    ['never ends by itself', -30],
    ['wants to end at once', 5],
    ['neutral', 0],
  ] as const) {
    test(`hits the words window when the source ${name}`, async () => {
      for (let seed = 0; seed < 10; seed++) {
        const r = await new Decoder(words(eos, seed), {
          chain: [],
          seed,
          eos: EOS,
          decode: detok,
          length: { unit: 'words', value: 50, within: 0.1 },
        }).generate([]);
        const n = (r.text!.match(/\w+/g) ?? []).length;
        expect(n).toBeGreaterThanOrEqual(45);
        expect(n).toBeLessThanOrEqual(55);
      }
    });
  }
  test('tokens and chars units', async () => {
    const r = await new Decoder(words(5, 1), { chain: [], eos: EOS, length: { unit: 'tokens', value: 20, within: 0.1 } }).generate([]);
    expect(r.tokens.length).toBeGreaterThanOrEqual(18);
    expect(r.tokens.length).toBeLessThanOrEqual(22);
    const c = await new Decoder(words(-30, 2), { chain: [], eos: EOS, decode: detok, length: { unit: 'chars', value: 100, within: 0.1 } }).generate([]);
    expect(c.text!.length).toBeGreaterThanOrEqual(90);
    expect(c.text!.length).toBeLessThanOrEqual(110);
  });
});

describe('traces and cascades', () => {
  test('trace: entropy, surprise and log-probability of the raw distribution', async () => {
    const logits = [1.2, 0.3, -0.5, 2.0, 0.0, -1.0];
    const p = softmax(logits);
    const H = -p.reduce((a, x) => a + x * Math.log(x), 0);
    const r = await new Decoder(fixedSource(logits), { chain: [{ name: 'top_k', k: 3 }], seed: 9, maxTokens: 20, trace: true }).generate([]);
    expect(r.trace!.length).toBe(20);
    r.trace!.forEach((t, i) => {
      expect(t.entropy).toBeCloseTo(H, 5);
      expect(t.logprob).toBeCloseTo(Math.log(p[r.tokens[i]!]!), 5);
      expect(t.surprise).toBeCloseTo(-Math.log2(p[r.tokens[i]!]!), 5);
      expect(t.candidates).toBe(3);
    });
  });
  test('quantile is numpy’s linear (type 7)', () => {
    expect(quantile([1, 2, 3, 4], 0.1)).toBeCloseTo(1.3, 12);
    expect(quantile([4, 1, 3, 2], 0.5)).toBeCloseTo(2.5, 12);
  });
  test('cascade defers when the small model’s logprob quantile is below the threshold', async () => {
    const confident = fixedSource([10, 0, 0, 0, 0, 0]);
    const unsure = fixedSource([0, 0, 0, 0, 0, 0]);
    const big = fixedSource([0, 0, 0, 0, 0, 10]);
    const mk = (src: LogitsSource, trace: boolean) => new Decoder(src, { chain: [], seed: 1, maxTokens: 8, trace });
    const a = await cascade([], { small: mk(confident, true), big: mk(big, false), quantile: 0.1, threshold: -1 });
    expect(a.deferred).toBe(false);
    expect(a.tokens.every((t) => t === 0)).toBe(true);
    const b = await cascade([], { small: mk(unsure, true), big: mk(big, false), quantile: 0.1, threshold: -1 });
    expect(b.deferred).toBe(true);
    expect(b.score).toBeCloseTo(Math.log(1 / 6), 5);
    expect(b.tokens.every((t) => t === 5)).toBe(true);
  });
});
