// Decoding on the device (cuda-llama.ts CudaKVSession: full, sinks + window, SirLLM and InfLLM
// caches) against the CPU sessions (KVCacheSession, SirLLMSession, InfLLMSession) on the same weights. Runs where the addon has the CUDA backend and a device (a
// GPU, or .ci/run's emulated CUDA addon with LMP_REQUIRE_CUDA=1); elsewhere it skips and says why.
// Tolerance: logits |cuda - cpu| <= 6e-3 max|cpu| (f32: the attention's bf16 q/k/v and cache) and
// 1e-2 (bf16) (measured under the emulator: 1.5e-3, 2.5e-3); greedy decoding of a trained model
// gives the CPU's tokens.
import { describe, expect, it } from 'vitest';
import type { SamplerSpec } from '../decode/chain.js';
import { Decoder, deviceDraw } from '../decode/decoder.js';
import { Sampler } from '../decode/sampler.js';
import type { ModelConfig } from './config.js';
import { cudaDevices } from './cuda-attention.js';
import { DecodeBatcher } from './batch.js';
import { cudaAddon, CudaLlama } from './cuda-llama.js';
import { LlamaModel, type PackedBatch } from './llama.js';
import { ModelLogitsSource } from './source.js';
import { rng } from './testutil.js';
import { Trainer } from './train.js';

const dev = cudaDevices();
if (dev.count === 0) {
  if (process.env['LMP_REQUIRE_CUDA']) throw new Error(`LMP_REQUIRE_CUDA is set but no CUDA device is found (${dev.why})`);
  console.log(`cuda-decode.test: skipped, no CUDA device (${dev.why})`);
}

const CFG: ModelConfig = { vocab: 37, dim: 64, layers: 2, heads: 2, kvHeads: 1, ffn: 96, ropeTheta: 10000, normEps: 1e-5, tieEmbeddings: true };

/** Sequences counting up by a step (mod vocab): a pattern a tiny model learns in a few steps. */
function* counting(seed: number): Generator<PackedBatch> {
  let s = seed;
  for (;;) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const start = (s >>> 8) % CFG.vocab, step = 1 + ((s >>> 20) % 2), T = 48;
    const tokens = Int32Array.from({ length: T }, (_, i) => (start + i * step) % CFG.vocab);
    yield { tokens, cuSeqlens: Int32Array.of(0, T), positionIds: Int32Array.from({ length: T }, (_, i) => i), docIds: new Int32Array(T), lossMask: new Uint8Array(T).fill(1) };
  }
}

function maxDiff(a: Float32Array, b: Float32Array): { diff: number; scale: number } {
  let diff = 0, scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return { diff, scale };
}
const argmax = (x: Float32Array): number => x.reduce((bi, v, i, a) => (v > a[bi]! ? i : bi), 0);

describe.skipIf(dev.count === 0)('CUDA decoding (full KV cache)', () => {
  const trained = new Trainer(LlamaModel.init(CFG, 2), counting(1), { lr: 1e-2, totalSteps: 40, clip: 1 });
  trained.run();
  const model = trained.model;

  for (const precision of ['f32', 'bf16'] as const) {
    it(`${precision}: logits of a prompt and of each appended token follow the CPU cache, past the first growth (64 rows)`, () => {
      const gpu = new CudaLlama(model, { precision, train: false });
      try {
        const a = model.session(), b = gpu.session();
        const prompt = Int32Array.from({ length: 50 }, (_, i) => (3 + 2 * i) % CFG.vocab);
        const tol = precision === 'f32' ? 6e-3 : 1e-2;
        const la = a.nextAll(prompt), lb = b.nextAll(prompt);
        const d0 = maxDiff(lb, la);
        expect(d0.diff).toBeLessThanOrEqual(tol * d0.scale);
        for (let i = 0; i < 20; i++) {
          const t = Int32Array.of((3 + 2 * (50 + i)) % CFG.vocab);
          const x = a.next(t), y = b.next(t);
          const d = maxDiff(y, x);
          if (!(d.diff <= tol * d.scale)) expect.fail(`step ${i}: max |cuda - cpu| ${d.diff} > ${tol} * ${d.scale}`);
        }
        expect(b.length).toBe(70);
      } finally {
        gpu.free();
      }
    });
  }

  it('sinks + window (StreamingLLM, keys rotated by slot) follows the CPU session through evictions', () => {
    const gpu = new CudaLlama(model, { train: false });
    try {
      const policy = { kind: 'sinks_window', sinks: 4, window: 20 } as const;
      const a = model.session(policy), b = gpu.session(policy);
      const prompt = Int32Array.from({ length: 30 }, (_, i) => (1 + 2 * i) % CFG.vocab);
      const d0 = maxDiff(b.nextAll(prompt), a.nextAll(prompt));
      expect(d0.diff).toBeLessThanOrEqual(1e-2 * d0.scale);
      for (let i = 0; i < 12; i++) {
        const t = Int32Array.of((1 + 2 * (30 + i)) % CFG.vocab);
        const d = maxDiff(b.next(t), a.next(t));
        if (!(d.diff <= 1e-2 * d.scale)) expect.fail(`step ${i}: max |cuda - cpu| ${d.diff} > 1e-2 * ${d.scale}`);
      }
      expect(b.length).toBe(24);
      expect(b.cachedTokens).toEqual(a.cachedTokens);
      expect(() => b.truncate(10)).toThrow(expect.objectContaining({ code: 'LMP_E_ARG' }));
    } finally {
      gpu.free();
    }
  });

  it('SirLLM (entropy-scored key tokens, evicted slots moved on the device) follows the CPU session', async () => {
    const { SirLLMSession } = await import('./cache.js');
    // the counting model on a stream that breaks its pattern every third token: the surprising
    // tokens score ~100x the predictable ones, so the victims are far from ties (the smallest gap
    // between the lowest two candidates, CPU scores, decay 1: 0.13 nats; the bf16 logits move a
    // surprisal by ~1e-2) and both sides evict the same slots, most of them not the oldest
    const stream = Int32Array.from({ length: 40 }, (_, i) => (i % 3 === 2 ? (i * 17 + 5) % CFG.vocab : (3 + 2 * i) % CFG.vocab));
    const gpu = new CudaLlama(model, { train: false });
    try {
      const policy = { kind: 'sirllm', keep: 5, decay: 1, recent: 6, sinks: 3 } as const;
      const a = new SirLLMSession(model, policy), b = gpu.session(policy);
      const prompt = stream.subarray(0, 17);
      const d0 = maxDiff(b.nextAll(prompt), a.nextAll(prompt));
      expect(d0.diff).toBeLessThanOrEqual(1e-2 * d0.scale);
      expect(b.length).toBe(14); // 3 + 5 + 6: three evictions inside the prompt
      let nonOldest = 0;
      for (let i = 17; i < stream.length; i++) {
        const before = [...b.origins];
        const d = maxDiff(b.next(stream.subarray(i, i + 1)), a.next(stream.subarray(i, i + 1)));
        if (!(d.diff <= 1e-2 * d.scale)) expect.fail(`token ${i}: max |cuda - cpu| ${d.diff} > 1e-2 * ${d.scale}`);
        expect(b.origins).toEqual(a.origins);
        expect(b.cachedTokens).toEqual(a.cachedTokens);
        if (!b.origins.includes(before[3]!)) continue; // the oldest candidate went
        nonOldest++;
      }
      expect(nonOldest).toBeGreaterThanOrEqual(10);
      b.tokenScores.forEach((x, k) => expect(Math.abs(x - a.tokenScores[k]!)).toBeLessThanOrEqual(5e-2 * Math.max(1, a.tokenScores[k]!)));
      expect(() => b.truncate(5)).toThrow(expect.objectContaining({ code: 'LMP_E_ARG' }));
      b.reset();
      a.reset();
      const r = maxDiff(b.nextAll(prompt), a.nextAll(prompt));
      expect(r.diff).toBeLessThanOrEqual(1e-2 * r.scale);
      expect(b.cachedTokens).toEqual(a.cachedTokens);
    } finally {
      gpu.free();
    }
  });

  for (const precision of ['f32', 'bf16'] as const)
    it(`${precision}: InfLLM (memory units chosen per layer from the host key mirror, gathered on the device) follows the CPU session`, async () => {
      const { InfLLMSession } = await import('./cache.js');
      const gpu = new CudaLlama(model, { precision, train: false });
      try {
        const policy = { kind: 'infllm', block: 4, top: 2, local: 8, sinks: 2, representatives: 2 } as const;
        const a = new InfLLMSession(model, policy), b = gpu.session(policy);
        const stream = Int32Array.from({ length: 60 }, (_, i) => (i % 5 === 4 ? (i * 13 + 1) % CFG.vocab : (7 + 3 * i) % CFG.vocab));
        const prompt = stream.subarray(0, 20);
        const d0 = maxDiff(b.nextAll(prompt), a.nextAll(prompt));
        expect(d0.diff).toBeLessThanOrEqual(1e-2 * d0.scale);
        let unitsChosen = 0;
        const picks = new Set<string>(); // which units layer 0 attended, over the steps that chose
        for (let i = 20; i < stream.length; i++) {
          const d = maxDiff(b.next(stream.subarray(i, i + 1)), a.next(stream.subarray(i, i + 1)));
          if (!(d.diff <= 1e-2 * d.scale)) expect.fail(`token ${i}: max |cuda - cpu| ${d.diff} > 1e-2 * ${d.scale}`);
          for (let l = 0; l < CFG.layers; l++) expect(Array.from(b.lastSelection[l]!), `token ${i}, layer ${l}`).toEqual(Array.from(a.lastSelection[l]!));
          if (a.units > policy.top) {
            unitsChosen++;
            const units = Array.from(a.lastSelection[0]!).filter((x) => x >= policy.sinks && x < policy.sinks + a.units * policy.block && (x - policy.sinks) % policy.block === 0);
            picks.add(units.map((x) => (x - policy.sinks) / policy.block).join());
          }
        }
        expect(b.units).toBe(a.units);
        expect(b.units).toBeGreaterThan(policy.top + 4); // most steps choose among several units
        expect(unitsChosen).toBeGreaterThan(20);
        // not always the latest units: the choice follows the queries
        expect([...picks].some((p) => p.split(',').map(Number).some((u) => u < a.units - 2 * policy.top))).toBe(true);
        expect(b.cachedTokens).toEqual(Array.from(stream));
        expect(() => b.truncate(3)).toThrow(expect.objectContaining({ code: 'LMP_E_ARG' }));
      } finally {
        gpu.free();
      }
    });

  it('greedy decoding gives the CPU tokens; a source rewinds the device cache to a shared prefix', () => {
    const gpu = new CudaLlama(model, { train: false });
    try {
      const greedy = (src: ModelLogitsSource, prompt: number[], n: number): number[] => {
        const ctx = [...prompt];
        for (let i = 0; i < n; i++) ctx.push(argmax(src.next(ctx)));
        return ctx.slice(prompt.length);
      };
      const cpu = new ModelLogitsSource(model), dsrc = new ModelLogitsSource(model, undefined, undefined, gpu.session());
      const p1 = [5, 7, 9, 11, 13, 15], p2 = [5, 7, 9, 11, 13, 15, 17, 19, 21, 20];
      const want1 = greedy(cpu, p1, 16);
      expect(new Set(want1).size).toBeGreaterThanOrEqual(8); // it counts on: not a constant, degenerate output
      expect(greedy(dsrc, p1, 16)).toEqual(want1);
      const computed = dsrc.computed;
      // p2 shares p1's first 6 tokens and then branches: the cache is truncated, not rebuilt
      expect(greedy(dsrc, p2, 12)).toEqual(greedy(cpu, p2, 12));
      expect(dsrc.computed - computed).toBeLessThan(p2.length + 12);
    } finally {
      gpu.free();
    }
  });

  for (const precision of ['f32', 'bf16'] as const)
    it(`${precision}: batched device steps (DecodeBatcher over CudaKVSessions, full and sinks + window) follow each session's own steps; greedy tokens equal`, async () => {
      const gpu = new CudaLlama(model, { precision, train: false });
      try {
        // logits of batched steps vs the same sessions stepped alone (the emulator's GEMM loops give
        // the same bits; a GPU's cuBLAS may round B rows otherwise: the CPU tolerance of this file)
        const tol = precision === 'f32' ? 6e-3 : 1e-2;
        // full caches and sinks + window ones (1 sink + 6: the steps evict) in the same batched steps
        const prompts = [[5, 7, 9], [1], [2, 4, 6, 8, 10, 12, 14], [30, 31], [11, 13, 15, 17, 19]];
        const policyOf = (i: number) => (i % 2 === 1 ? ({ kind: 'sinks_window', sinks: 1, window: 6 } as const) : ({ kind: 'full' } as const));
        const alone = prompts.map((_, i) => gpu.session(policyOf(i))), joint = prompts.map((_, i) => gpu.session(policyOf(i)));
        prompts.forEach((p, i) => {
          alone[i]!.nextAll(Int32Array.from(p));
          joint[i]!.nextAll(Int32Array.from(p));
        });
        let tok = prompts.map((p) => p[p.length - 1]!);
        for (let step = 0; step < 9; step++) {
          const next = tok.map((t) => (t + 2) % CFG.vocab);
          const seqs = joint.map((j, i) => j._prepareOne(next[i]!));
          const rows = gpu._decodeBatch(Int32Array.from(next), seqs);
          joint.forEach((j, i) => j._commitOne(next[i]!));
          alone.forEach((a, i) => {
            const ref = a.next(Int32Array.of(next[i]!)), got = rows.subarray(i * CFG.vocab, (i + 1) * CFG.vocab);
            const d = maxDiff(got, ref);
            if (!(d.diff <= tol * d.scale)) expect.fail(`step ${step} sequence ${i}: max |batched - alone| ${d.diff} > ${tol} * ${d.scale}`);
          });
          tok = next;
        }
        expect(joint.map((j) => j.length)).toEqual(alone.map((a) => a.length));
        // through the batcher: concurrent greedy decoders on device caches give the CPU's tokens
        const batcher = new DecodeBatcher(4);
        const chain: SamplerSpec[] = [{ name: 'greedy' }];
        const ps = [[5, 7, 9, 11], [2, 4, 6], [20, 22, 24, 26, 28], [9, 11], [1, 3, 5, 7, 9, 11]];
        const got = await Promise.all(ps.map((p) => new Decoder(new ModelLogitsSource(model, undefined, undefined, gpu.session()).via(batcher), { chain, maxTokens: 12 }).generate(p)));
        for (let i = 0; i < ps.length; i++) {
          const want = await new Decoder(new ModelLogitsSource(model), { chain, maxTokens: 12 }).generate(ps[i]!);
          expect(got[i]!.tokens, `prompt ${i}`).toEqual(want.tokens);
        }
        expect(batcher.stats.forwards).toBeLessThan(batcher.stats.steps / 2);
        // SirLLM (scores from the host logits) does not join batched steps
        const sir = { kind: 'sirllm', keep: 4, decay: 0.9, recent: 4, sinks: 1 } as const;
        expect(gpu.session(sir).batchable).toBe(false);
        expect(() => gpu.session(sir)._prepareOne(1)).toThrow(expect.objectContaining({ code: 'LMP_E_ARG' }));
      } finally {
        gpu.free();
      }
    });

  it('a freed session reallocates; tokens outside the vocabulary are coded errors', () => {
    const gpu = new CudaLlama(model, { train: false });
    try {
      const s = gpu.session();
      const x = s.next(Int32Array.of(1, 2, 3));
      s.free();
      s.reset();
      const y = s.next(Int32Array.of(1, 2, 3));
      expect(Buffer.from(y.buffer).equals(Buffer.from(x.buffer))).toBe(true);
      expect(() => s.next(Int32Array.of(CFG.vocab))).toThrow(expect.objectContaining({ code: 'LMP_E_TOKEN' }));
      expect(() => gpu.backward({} as PackedBatch, 1)).toThrow(expect.objectContaining({ code: 'LMP_E_ARG' }));
    } finally {
      gpu.free();
    }
  });
});

describe.skipIf(dev.count === 0)('CUDA prefill (prepacked and padded)', () => {
  it('prefills packed prompts on the device: the logits and the sessions continue as the CPU prefill does', async () => {
    const { paddedPrefill, prefillPacked } = await import('./prefill.js');
    const model = LlamaModel.init(CFG, 5);
    const gpu = new CudaLlama(model, { train: false });
    try {
      const prompts = [[1, 2, 3], [4, 5, 6, 7, 8, 9, 10], Array.from({ length: 40 }, (_, i) => (i * 3) % CFG.vocab), [11, 12, 13, 14, 15, 16]];
      for (const run of [(d?: CudaLlama) => prefillPacked(model, prompts, { capacity: 48, ...(d ? { device: d } : {}) }), (d?: CudaLlama) => paddedPrefill(model, prompts, 0, d)]) {
        const cpu = run(), dv = run(gpu);
        expect(dv.sequences).toBe(cpu.sequences);
        prompts.forEach((p, i) => {
          const d0 = maxDiff(dv.logits[i]!, cpu.logits[i]!);
          if (!(d0.diff <= 1e-2 * d0.scale)) expect.fail(`prompt ${i}: prefill logits differ by ${d0.diff} (scale ${d0.scale})`);
          expect(dv.sessions[i]!.length).toBe(p.length);
          const t = Int32Array.of(17);
          const d1 = maxDiff(dv.sessions[i]!.next(t), cpu.sessions[i]!.next(t));
          if (!(d1.diff <= 1e-2 * d1.scale)) expect.fail(`prompt ${i}: the next token's logits differ by ${d1.diff}`);
        });
        for (const s of dv.sessions) (s as { free?: () => void }).free?.();
      }
    } finally {
      gpu.free();
    }
  });
});

// LM-Infinite (RoPE with a distance limit): the CPU caches keys before RoPE and its fused op scores
// pairs beyond the limit from qFar . kFar; the device caches them before RoPE too, rotates them by
// slot every step and runs the split plans (near / far, limitMasks) combined by cudaAttnCombine.
// A model trained with the limit (so its attention is far from uniform), limit 6 and a Lambda mask.
describe.skipIf(dev.count === 0)('CUDA decoding with a distance limit (LM-Infinite)', () => {
  const opts = { position: { kind: 'rope', limit: 6 }, mask: { op: 'and', args: [{ op: 'causal' }, { op: 'or', args: [{ op: 'sink', count: 2 }, { op: 'window', size: 24 }] }] } } as const;
  const trained = new Trainer(LlamaModel.init(CFG, 2, opts), counting(3), { lr: 1e-2, totalSteps: 30, clip: 1 });
  trained.run();
  const model = trained.model;
  const prompt = Int32Array.from({ length: 30 }, (_, i) => (3 + 2 * i) % CFG.vocab);
  const follow = (a: { nextAll(t: Int32Array): Float32Array; next(t: Int32Array): Float32Array }, b: typeof a, tol: number, steps: number): void => {
    const d0 = maxDiff(b.nextAll(prompt), a.nextAll(prompt));
    expect(d0.diff).toBeLessThanOrEqual(tol * d0.scale);
    for (let i = 0; i < steps; i++) {
      const t = Int32Array.of((3 + 2 * (30 + i)) % CFG.vocab);
      const d = maxDiff(b.next(t), a.next(t));
      if (!(d.diff <= tol * d.scale)) expect.fail(`step ${i}: max |cuda - cpu| ${d.diff} > ${tol} * ${d.scale}`);
    }
  };

  for (const precision of ['f32', 'bf16'] as const)
    it(`${precision}: full and sinks + window caches follow the CPU sessions; prefill on the device continues as the CPU's`, async () => {
      const gpu = new CudaLlama(model, { precision, train: false });
      try {
        const tol = precision === 'f32' ? 6e-3 : 1e-2;
        follow(model.session(), gpu.session(), tol, 12);
        const sw = { kind: 'sinks_window', sinks: 2, window: 16 } as const;
        follow(model.session(sw), gpu.session(sw), tol, 12);
        // the limit matters: the same weights without it give other logits than the CPU's with it
        const plain = LlamaModel.init(CFG, 2, { mask: opts.mask });
        for (const [n, w] of model.params) plain.params.get(n)!.set(w);
        const d = maxDiff(plain.session().nextAll(prompt), model.session().nextAll(prompt));
        expect(d.diff).toBeGreaterThan(10 * tol * d.scale);
        const { prefillPacked } = await import('./prefill.js');
        const prompts = [[1, 2, 3], Array.from({ length: 20 }, (_, i) => (i * 3) % CFG.vocab), [4, 5, 6, 7, 8, 9, 10]];
        const cpu = prefillPacked(model, prompts, { capacity: 32 }), dv = prefillPacked(model, prompts, { capacity: 32, device: gpu });
        prompts.forEach((_, i) => {
          const d0 = maxDiff(dv.logits[i]!, cpu.logits[i]!);
          if (!(d0.diff <= tol * d0.scale)) expect.fail(`prompt ${i}: prefill logits differ by ${d0.diff} (scale ${d0.scale})`);
          const t = Int32Array.of(17);
          const d1 = maxDiff(dv.sessions[i]!.next(t), cpu.sessions[i]!.next(t));
          if (!(d1.diff <= tol * d1.scale)) expect.fail(`prompt ${i}: the next token's logits differ by ${d1.diff}`);
        });
        // no LM-Infinite path in batched steps or with InfLLM
        expect(gpu.session().batchable).toBe(false);
        expect(() => gpu.session({ kind: 'infllm', block: 4, top: 1, local: 8 } as never)).toThrow(expect.objectContaining({ code: 'LMP_E_CONFIG_UNSUPPORTED' }));
      } finally {
        gpu.free();
      }
    });
});

// The decoder's terminal draw on the device (sample.cu draw_row, CudaKVSession.draw): the CPU chain
// (native/src/sampling) is the reference. Same logits and the same uniform -> the same token, for
// greedy, temperature -> greedy, sample, temperature -> sample and top_k / min_p cuts with
// temperatures before and after, with ties, -inf, the EOS bias.
describe.skipIf(dev.count === 0)('CUDA terminal draw (the sampler chain on the device)', () => {
  const chains: { name: string; chain: SamplerSpec[] }[] = [
    { name: 'greedy', chain: [{ name: 'greedy' }] },
    { name: 'temperature(0.7) -> greedy', chain: [{ name: 'temperature', t: 0.7 }, { name: 'greedy' }] },
    { name: 'sample', chain: [{ name: 'sample' }] },
    { name: 'temperature(0.8) -> sample', chain: [{ name: 'temperature', t: 0.8 }, { name: 'sample' }] },
  ];
  const cuts: { name: string; chain: SamplerSpec[] }[] = [
    { name: 'top_k(5) -> sample', chain: [{ name: 'top_k', k: 5 }, { name: 'sample' }] },
    { name: 'temperature(0.7) -> top_k(20) -> sample', chain: [{ name: 'temperature', t: 0.7 }, { name: 'top_k', k: 20 }, { name: 'sample' }] },
    { name: 'top_k(3) -> temperature(1.5) -> sample', chain: [{ name: 'top_k', k: 3 }, { name: 'temperature', t: 1.5 }, { name: 'sample' }] },
    { name: 'temperature(0.8) -> top_k(50) -> temperature(0.9) -> sample', chain: [{ name: 'temperature', t: 0.8 }, { name: 'top_k', k: 50 }, { name: 'temperature', t: 0.9 }, { name: 'sample' }] },
    { name: 'top_k(7) -> greedy', chain: [{ name: 'top_k', k: 7 }, { name: 'greedy' }] },
    { name: 'min_p(0.05) -> sample', chain: [{ name: 'min_p', p: 0.05 }, { name: 'sample' }] },
    { name: 'temperature(0.8) -> top_k(20) -> min_p(0.1) -> temperature(1.2) -> sample', chain: [{ name: 'temperature', t: 0.8 }, { name: 'top_k', k: 20 }, { name: 'min_p', p: 0.1 }, { name: 'temperature', t: 1.2 }, { name: 'sample' }] },
    { name: 'min_p(0.2) -> greedy', chain: [{ name: 'min_p', p: 0.2 }, { name: 'greedy' }] },
  ];

  it('deviceDraw takes temperature / top_k / greedy|sample chains and refuses the rest', () => {
    expect(deviceDraw([{ name: 'top_k', k: 3 }, { name: 'temperature', t: 2 }, { name: 'sample' }])).toEqual({ mode: 'sample', scale: 1, topK: 3, post: Math.fround(0.5), minP: 0 });
    expect(deviceDraw([{ name: 'temperature', t: 0.7 }, { name: 'top_k', k: 9 }, { name: 'greedy' }])).toEqual({ mode: 'greedy', scale: Math.fround(1 / 0.7), topK: 0, post: 1, minP: 0 });
    expect(deviceDraw([{ name: 'min_p', p: 0.1 }, { name: 'temperature', t: 2 }, { name: 'sample' }])).toEqual({ mode: 'sample', scale: 1, topK: 0, post: Math.fround(0.5), minP: 0.1 });
    for (const chain of [
      [{ name: 'top_k', k: 3 }, { name: 'temperature', t: 2 }, { name: 'greedy' }],
      [{ name: 'top_p', p: 0.9 }, { name: 'sample' }],
      [{ name: 'temperature', t: 2 }, { name: 'temperature', t: 2 }, { name: 'sample' }],
      [{ name: 'top_k', k: 3 }, { name: 'top_k', k: 2 }, { name: 'sample' }],
      [{ name: 'min_p', p: 0.1 }, { name: 'top_k', k: 2 }, { name: 'sample' }],
      [{ name: 'mirostat', tau: 3 }],
    ] as SamplerSpec[][])
      expect(deviceDraw(chain)).toBeUndefined();
  });

  it('cudaDrawRow gives the CPU chain\'s token on random rows (awkward vocabularies, ties, -inf, EOS bias)', () => {
    const A = cudaAddon();
    const r = rng(11);
    let draws = 0, notArgmax = 0;
    for (const V of [1, 37, 255, 256, 257, 1000, 4099]) {
      for (const { name, chain } of [...chains, ...cuts]) {
        const d = deviceDraw(chain)!;
        expect(d).toBeDefined();
        const cpu = new Sampler(chain, { vocab: V, seed: 77 }), twin = new Sampler(chain, { vocab: V, seed: 77 });
        for (let row = 0; row < 12; row++) {
          // rows 0-3: continuous logits; 4-7: quantized to quarters (many ties); 8-11: a third -inf
          const x = Float32Array.from({ length: V }, () => {
            const g = (r() * 2 - 1) * 4;
            return row >= 4 && row < 8 ? Math.round(g * 4) / 4 : g;
          });
          if (row >= 8) for (let i = 0; i < V; i++) if (r() < 0.33 && i !== V - 1) x[i] = -Infinity;
          const eos = row % 3 === 0 ? -1 : Math.floor(r() * V);
          const bias = row % 3 === 1 ? 2.5 : row % 3 === 2 && V > 1 ? -Infinity : 0;
          const host = x.slice();
          if (eos >= 0 && bias !== 0) host[eos] = bias === -Infinity ? -Infinity : host[eos]! + bias;
          const want = cpu.sample(host);
          const t = new A.CudaTensor('f32', 2 * V);
          try {
            t.upload(new Float32Array(V).fill(-1), 0); // row 0: filler, the draw reads row 1
            t.upload(x, V);
            const u = d.mode === 'sample' ? twin.uniform() : 0;
            const got = A.cudaDrawRow(t, 1, V, d.mode === 'greedy' ? 0 : 1, d.scale, u, eos, eos >= 0 ? bias : 0, d.topK, d.post, d.minP);
            if (got !== want) expect.fail(`${name}, V = ${V}, row ${row}: device ${got}, CPU ${want}`);
          } finally {
            t.free();
          }
          draws++;
          if (want !== argmax(host)) notArgmax++;
        }
      }
    }
    expect(draws).toBe(7 * 12 * 12);
    expect(notArgmax).toBeGreaterThan(50); // the sampled rows really sample
  });

  it('NaN and +inf are LMP_E_NAN, every logit -inf is LMP_E_NO_CANDIDATES, bad arguments are coded', () => {
    const A = cudaAddon();
    const t = new A.CudaTensor('f32', 300);
    try {
      const x = new Float32Array(300).fill(0.5);
      x[299] = NaN;
      t.upload(x);
      for (const mode of [0, 1]) expect(() => A.cudaDrawRow(t, 0, 300, mode, 1, 0.5, -1, 0)).toThrow(expect.objectContaining({ code: 'LMP_E_NAN' }));
      x[299] = Infinity;
      t.upload(x);
      expect(() => A.cudaDrawRow(t, 0, 300, 1, 1, 0.5, -1, 0)).toThrow(expect.objectContaining({ code: 'LMP_E_NAN' }));
      x.fill(-Infinity);
      x[17] = 3;
      t.upload(x);
      expect(A.cudaDrawRow(t, 0, 300, 1, 1, 0.99, -1, 0)).toBe(17);
      // the EOS ban removes the only finite logit
      for (const mode of [0, 1]) expect(() => A.cudaDrawRow(t, 0, 300, mode, 1, 0.5, 17, -Infinity)).toThrow(expect.objectContaining({ code: 'LMP_E_NO_CANDIDATES' }));
      expect(() => A.cudaDrawRow(t, 1, 300, 0, 1, 0, -1, 0)).toThrow(expect.objectContaining({ code: 'LMP_E_SHAPE' }));
      expect(() => A.cudaDrawRow(t, 0, 300, 1, 1, 1, -1, 0)).toThrow(expect.objectContaining({ code: 'LMP_E_ARG' }));
      expect(() => A.cudaDrawRow(t, 0, 300, 2, 1, 0, -1, 0)).toThrow(expect.objectContaining({ code: 'LMP_E_ARG' }));
    } finally {
      t.free();
    }
  });

  const model = LlamaModel.init(CFG, 9);
  /** The same source with its draw hidden: the decoder downloads the logits and samples on the host. */
  const hostOnly = (s: ModelLogitsSource) => ({ vocabSize: s.vocabSize, next: (t: readonly number[]) => s.next(t) });

  for (const policy of [{ kind: 'full' }, { kind: 'sinks_window', sinks: 2, window: 12 }, { kind: 'infllm', sinks: 2, local: 8, block: 4, top: 2, representatives: 2 }] as const) {
    it(`${policy.kind}: Decoder tokens with the draw on the device equal the host draw from the same device logits (one id downloaded per step)`, async () => {
      const gpu = new CudaLlama(model, { train: false });
      try {
        for (const { name, chain } of [...chains, cuts[3]!, cuts[6]!]) {
          for (const extra of [{}, { eos: 3, minTokens: 10 }, { eos: 5, length: { unit: 'tokens' as const, value: 14, within: 0.2 } }]) {
            const opts = { chain, seed: 4242, maxTokens: 24, ...extra };
            const src = new ModelLogitsSource(model, undefined, undefined, gpu.session(policy));
            let drawn = 0;
            const draw = src.draw.bind(src);
            src.draw = (t, d) => {
              const tok = draw(t, d);
              if (tok !== undefined) drawn++;
              return tok;
            };
            const a = await new Decoder(src, opts).generate([1, 4, 9, 16]);
            const b = await new Decoder(hostOnly(new ModelLogitsSource(model, undefined, undefined, gpu.session(policy))), opts).generate([1, 4, 9, 16]);
            if (JSON.stringify(a.tokens) !== JSON.stringify(b.tokens)) expect.fail(`${name} ${JSON.stringify(extra)}: device ${a.tokens} host ${b.tokens}`);
            expect(a.stopReason).toBe(b.stopReason);
            expect(drawn).toBeGreaterThanOrEqual(a.tokens.length); // every emitted token (and a final EOS) drawn on the device
          }
        }
      } finally {
        gpu.free();
      }
    });
  }

  it('a prefilled context\'s first token is drawn on the host from its logits, the rest on the device, with one RNG stream', async () => {
    const gpu = new CudaLlama(model, { train: false });
    try {
      const chain: SamplerSpec[] = [{ name: 'temperature', t: 0.9 }, { name: 'sample' }];
      const prompt = [2, 3, 5, 7, 11];
      const pre = gpu.session();
      const logits = pre.nextAll(Int32Array.from(prompt)).slice((prompt.length - 1) * CFG.vocab);
      const src = new ModelLogitsSource(model, undefined, { session: pre, logits });
      const a = await new Decoder(src, { chain, seed: 9, maxTokens: 20 }).generate(prompt);
      const b = await new Decoder(hostOnly(new ModelLogitsSource(model, undefined, undefined, gpu.session())), { chain, seed: 9, maxTokens: 20 }).generate(prompt);
      expect(a.tokens).toEqual(b.tokens);
      expect(new Set(a.tokens).size).toBeGreaterThan(5);
    } finally {
      gpu.free();
    }
  });

  it('SirLLM declines the device draw (its scores need the logits on the host) and decodes as before', async () => {
    const gpu = new CudaLlama(model, { train: false });
    try {
      const policy = { kind: 'sirllm', sinks: 2, keep: 4, recent: 6, decay: 0.9 } as const;
      const s = gpu.session(policy);
      expect(s.draw(Int32Array.of(1, 2), { mode: 'greedy', scale: 1, topK: 0, post: 1, minP: 0, uniform: () => 0, eos: -1, eosBias: 0 })).toBeUndefined();
      expect(s.length).toBe(0);
      const opts = { chain: chains[3]!.chain, seed: 1, maxTokens: 16 };
      const a = await new Decoder(new ModelLogitsSource(model, undefined, undefined, gpu.session(policy)), opts).generate([1, 2, 3]);
      const b = await new Decoder(hostOnly(new ModelLogitsSource(model, undefined, undefined, gpu.session(policy))), opts).generate([1, 2, 3]);
      expect(a.tokens).toEqual(b.tokens);
    } finally {
      gpu.free();
    }
  });
});
