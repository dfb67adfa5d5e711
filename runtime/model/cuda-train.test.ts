// The CUDA training step (cuda-llama.ts, Trainer backend 'cuda') against the CPU model on the same
// weights and batches. Runs where the addon has the CUDA backend and a device: on a GPU, and in
// .ci/run against the emulated CUDA addon (npm run build:cuda-emu, LMP_REQUIRE_CUDA=1, where a skip
// is a failure); elsewhere it skips and says why.
//
// Tolerances (the CUDA attention rounds q/k/v, O and dO to bf16 in both precisions; bf16 precision
// also rounds the GEMM operands):
//   loss: |cuda - cpu| <= 1e-4 * cpu (f32), 1e-3 * cpu (bf16)
//   each gradient tensor: ||cuda - cpu|| <= 1.2e-2 ||cpu|| (f32), 2.5e-2 ||cpu|| (bf16)
//   (measured under the emulator: worst 4.0e-3 (f32) and 7.6e-3 (bf16), losses within 3e-7)
//   20 training steps: every step's loss within 1e-2 (f32) / 3e-2 (bf16) of the CPU run's, relative
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ModelConfig } from './config.js';
import { cudaDevices } from './cuda-attention.js';
import { CudaLlama } from './cuda-llama.js';
import { LlamaModel, type ModelOptions, type PackedBatch } from './llama.js';
import { evaluate } from './eval.js';
import { Trainer, type TrainerOptions } from './train.js';

const dev = cudaDevices();
if (dev.count === 0) {
  if (process.env['LMP_REQUIRE_CUDA']) throw new Error(`LMP_REQUIRE_CUDA is set but no CUDA device is found (${dev.why})`);
  console.log(`cuda-train.test: skipped, no CUDA device (${dev.why})`);
}

const tmp = mkdtempSync(join(tmpdir(), 'lmp-cuda-train-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// head dim 32 (CUDA attention: 32, 64, 128), GQA 2/1, two layers, an untied head
const CFG: ModelConfig = { vocab: 61, dim: 64, layers: 2, heads: 2, kvHeads: 1, ffn: 96, ropeTheta: 10000, normEps: 1e-5, tieEmbeddings: false };

/** Two sequences (one of two documents), positions restarting per document; a deterministic stream. */
function* stream(seed: number): Generator<PackedBatch> {
  let s = seed;
  const rnd = (n: number): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % n;
  };
  for (;;) {
    const lens = [37, 30, 29];
    const T = 96;
    const tokens = new Int32Array(T), docIds = new Int32Array(T), pos = new Int32Array(T);
    let t = 0;
    lens.forEach((L, d) => {
      const base = rnd(CFG.vocab);
      for (let j = 0; j < L; j++, t++) {
        tokens[t] = (base + j * (d + 1) + (rnd(4) === 0 ? rnd(7) : 0)) % CFG.vocab; // learnable: mostly arithmetic runs
        docIds[t] = d;
        pos[t] = j;
      }
    });
    const lossMask = new Uint8Array(T).fill(1);
    lossMask[5] = 0;
    yield { tokens, cuSeqlens: Int32Array.of(0, 67, 96), positionIds: pos, docIds, lossMask };
  }
}

function relErr(a: Float32Array, b: Float32Array): number {
  let d = 0, n = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i]! - b[i]!) ** 2;
    n += b[i]! ** 2;
  }
  return Math.sqrt(d) / Math.max(Math.sqrt(n), 1e-30);
}

const TOL = { f32: { loss: 1e-4, grad: 1.2e-2, curve: 1e-2 }, bf16: { loss: 1e-3, grad: 2.5e-2, curve: 3e-2 } } as const;

/** One device forward/backward of b from zeroed gradients: its loss sum and every gradient against the CPU's. */
function oneStepMatches(gpu: CudaLlama, b: PackedBatch, count: number, lossSum: number, grads: ReadonlyMap<string, Float32Array>, precision: 'f32' | 'bf16'): void {
  gpu.zeroGrads();
  gpu.backward(b, 1 / count);
  const [got] = gpu.takeLossSums();
  expect(Math.abs(got! - lossSum)).toBeLessThanOrEqual(TOL[precision].loss * lossSum);
  const dev = gpu.gradients();
  for (const [n, g] of grads) {
    const e = relErr(dev.get(n)!, g);
    if (!(e <= TOL[precision].grad)) expect.fail(`${n}: relative gradient error ${e.toExponential(2)} > ${TOL[precision].grad}`);
  }
}

describe.skipIf(dev.count === 0)('CUDA training step', () => {
  for (const precision of ['f32', 'bf16'] as const) {
    it(`${precision}: one forward/backward matches the CPU model's loss and every gradient`, () => {
      const cpu = LlamaModel.init(CFG, 3);
      const b = stream(1).next().value as PackedBatch;
      cpu.zeroGrads();
      const count = cpu.countTargets(b);
      const ref = cpu.backward(b, 1 / count);
      const gpu = new CudaLlama(cpu, { precision });
      try {
        oneStepMatches(gpu, b, count, ref.lossSum, cpu.grads!, precision);
        // a second batch accumulates (beta = 1 everywhere, the embedding scatter from the previous value)
        const b2 = stream(2).next().value as PackedBatch;
        cpu.backward(b2, 1 / count);
        const allocated = gpu.allocations;
        gpu.backward(b2, 1 / count);
        // same shape: every buffer comes from the pool but the embedding index (its length counts the batch's distinct ids)
        expect(gpu.allocations - allocated).toBeLessThanOrEqual(1);
        expect(gpu.takeLossSums().length).toBe(2);
        const g2 = gpu.gradients();
        for (const [n, g] of cpu.grads!) expect(relErr(g2.get(n)!, g), n).toBeLessThanOrEqual(TOL[precision].grad);
      } finally {
        gpu.free();
      }
    });
  }

  const opts = (extra: Partial<TrainerOptions> = {}): TrainerOptions => ({ lr: 3e-3, totalSteps: 20, clip: 1, accumSteps: 2, schedule: { kind: 'cosine', warmup: 3 }, seed: 1, ...extra });

  it('20 steps (accumulation 2, clipping, cosine): the loss curve follows the CPU run\'s and falls', () => {
    for (const precision of ['f32', 'bf16'] as const) {
      const cpu = new Trainer(LlamaModel.init(CFG, 4), stream(7), opts());
      const gpu = new Trainer(LlamaModel.init(CFG, 4), stream(7), opts({ backend: 'cuda', cuda: { precision } }));
      try {
        const a = cpu.run(), b = gpu.run();
        for (let i = 0; i < a.length; i++) {
          const d = Math.abs(b[i]!.loss - a[i]!.loss);
          if (!(d <= TOL[precision].curve * a[i]!.loss)) expect.fail(`${precision} step ${i + 1}: cuda loss ${b[i]!.loss}, cpu ${a[i]!.loss}`);
          expect(Math.abs(b[i]!.gradNorm - a[i]!.gradNorm)).toBeLessThanOrEqual(0.05 * a[i]!.gradNorm + 1e-6);
        }
        expect(b[19]!.loss).toBeLessThan(b[0]!.loss * 0.9);
        // the host copy after sync: close to the CPU run's weights
        gpu.syncModel();
        for (const [n, p] of cpu.model.params) expect(relErr(gpu.model.params.get(n)!, p), n).toBeLessThanOrEqual(precision === 'f32' ? 2e-2 : 5e-2);
      } finally {
        gpu.close();
      }
    }
  });

  it('kill + resume on the GPU continues bit for bit; a GPU checkpoint loads and trains on the CPU', () => {
    const dir = join(tmp, 'ck');
    const full = new Trainer(LlamaModel.init(CFG, 5), stream(9), opts({ totalSteps: 8, backend: 'cuda' }));
    const fm = full.run();
    full.close();
    const first = new Trainer(LlamaModel.init(CFG, 5), stream(9), opts({ totalSteps: 8, backend: 'cuda', checkpointDir: dir, checkpointEvery: 4 }));
    first.run(4);
    first.close();
    const resumed = Trainer.resume(dir, stream(9), opts({ totalSteps: 8, backend: 'cuda' }));
    expect(resumed.step).toBe(4);
    const rm = resumed.run();
    resumed.syncModel();
    full.syncModel();
    for (let i = 0; i < 4; i++) expect(rm[i]!.loss).toBe(fm[i + 4]!.loss);
    for (const [n, p] of full.model.params) expect(Buffer.from(resumed.model.params.get(n)!.buffer).equals(Buffer.from(p.buffer)), n).toBe(true);
    resumed.close();
    // the checkpoint the GPU wrote at step 4 resumes on the CPU
    const onCpu = Trainer.resume(dir, stream(9), opts({ totalSteps: 8 }));
    expect(onCpu.step).toBe(4);
    const cm = onCpu.run();
    for (let i = 0; i < 4; i++) expect(Math.abs(cm[i]!.loss - fm[i + 4]!.loss)).toBeLessThanOrEqual(TOL.bf16.curve * cm[i]!.loss);
  });

  // LM-Infinite (RoPE with a distance limit): the CPU's fused op scores far pairs in one call; the
  // device splits the mask at the limit into two plans (near with q, k; far with qFar, kFar) and
  // combines them (cudaAttnCombine), the backward of each with the combined out and lse. Documents
  // of 37, 30 and 29 tokens with a limit of 8: most pairs of every document are far.
  for (const precision of ['f32', 'bf16'] as const)
    it(`${precision}: LM-Infinite (a distance limit and a Lambda mask): loss and every gradient match the CPU model's`, () => {
      const lim: ModelOptions = {
        position: { kind: 'rope', limit: 8 },
        mask: { op: 'and', args: [{ op: 'causal' }, { op: 'same_document' }, { op: 'or', args: [{ op: 'sink', count: 2 }, { op: 'window', size: 24 }] }] },
      };
      const cpu = LlamaModel.init(CFG, 3, lim);
      const b = stream(1).next().value as PackedBatch;
      cpu.zeroGrads();
      const count = cpu.countTargets(b);
      const ref = cpu.backward(b, 1 / count);
      const refGrads = new Map([...cpu.grads!].map(([n, g]) => [n, g.slice()]));
      const gpu = new CudaLlama(cpu, { precision });
      try {
        oneStepMatches(gpu, b, count, ref.lossSum, refGrads, precision);
        // the limit matters: the same weights without it give other query gradients
        const plain = LlamaModel.init(CFG, 3, { mask: lim.mask! });
        plain.zeroGrads();
        plain.backward(b, 1 / count);
        expect(relErr(plain.grads!.get('model.layers.0.self_attn.q_proj.weight')!, refGrads.get('model.layers.0.self_attn.q_proj.weight')!)).toBeGreaterThan(5 * TOL[precision].grad);
      } finally {
        gpu.free();
      }
    });

  // Held-out evals on the device (CudaLlama.tokenLosses, what a cuda Trainer's periodic evals use):
  // per-token losses within the precision's loss tolerance of the CPU model's, weights equal.
  it('per-token eval losses on the device follow the CPU model; a cuda Trainer evaluates there', () => {
    const cpu = LlamaModel.init(CFG, 6);
    const gpu = new CudaLlama(cpu, { train: false, precision: 'bf16' });
    try {
      for (const seed of [1, 2]) {
        const b = stream(seed).next().value as PackedBatch;
        const want = cpu.tokenLosses(b), got = gpu.tokenLosses(b);
        expect([...got.weight]).toEqual([...want.weight]);
        for (let t = 0; t < want.loss.length; t++)
          if (!(Math.abs(got.loss[t]! - want.loss[t]!) <= TOL.bf16.loss * 10 * Math.max(1, want.loss[t]!))) expect.fail(`token ${t}: ${got.loss[t]} vs ${want.loss[t]}`);
      }
    } finally {
      gpu.free();
    }
    const evalOpts = { every: 2, batches: () => [stream(11).next().value as PackedBatch] };
    const tr = new Trainer(LlamaModel.init(CFG, 7), stream(12), opts({ totalSteps: 4, backend: 'cuda', eval: evalOpts }));
    const device = (tr as unknown as { device: CudaLlama }).device;
    let calls = 0;
    const own = device.tokenLosses.bind(device);
    device.tokenLosses = (b) => (calls++, own(b));
    try {
      tr.run();
      expect(calls).toBe(2); // the evals at steps 2 and 4, one batch each, on the device
      const onDevice = tr.lastEval!;
      const onHost = evaluate(tr.syncModel(), evalOpts.batches());
      expect(Math.abs(onDevice.loss - onHost.loss)).toBeLessThanOrEqual(TOL.bf16.curve * onHost.loss);
      expect(onDevice.tokens).toBe(onHost.tokens);
    } finally {
      tr.close();
    }
  });

  it('refuses what is not on CUDA, with codes', () => {
    const odd: ModelConfig = { ...CFG, dim: 48, heads: 2 }; // head dim 24
    expect(() => new CudaLlama(LlamaModel.init(odd, 1))).toThrow(expect.objectContaining({ code: 'LMP_E_CONFIG_UNSUPPORTED' }));
  });
});
