// The CUDA trainer and decoder (runtime/model/cuda-llama.ts) on a GPU, bundled by
// bench/gpu/prepare-carry.sh into .gpu-carry/train-bench.mjs (one file, no node_modules) and run by
// bench/gpu/train.sh with the carried CUDA addon (LMP_NATIVE_PATH). Two parts:
//   parity: a tiny model on the GPU against the CPU engine of the same addon (every gradient's
//     relative error, f32 and bf16; a 10-step loss curve; greedy tokens of a full-cache decode):
//     the checks of runtime/model/cuda-{train,decode}.test.ts, which CI runs under the emulator;
//   timing: a ~125M-parameter Llama (dim 768, 12 layers, 12 heads of 64, ffn 2048, vocab 32000) in
//     bf16: training tokens/s and model FLOP utilization at B sequences of T tokens (causal, packed
//     as varlen), greedy decode tokens/s at batch 1 (full cache and sinks + window) and at batch 32
//     (batched device steps), and the Decoder's
//     temperature -> sample with the draw on the device against the host draw (same tokens, tokens/s).
// Output: one JSON object per line on stdout ({part, ...}); PASS/FAIL lines for parity.
// Env: LMP_BENCH_SMALL=1 (tiny timing sizes: a check of the script itself, e.g. under the emulator),
//      LMP_BENCH_T (default 2048), LMP_BENCH_B (sequences per step, default 4), LMP_BENCH_STEPS (5).
import type { SamplerSpec } from '../../runtime/decode/chain.js';
import { Decoder } from '../../runtime/decode/decoder.js';
import { DecodeBatcher } from '../../runtime/model/batch.js';
import type { ModelConfig } from '../../runtime/model/config.js';
import { cudaDevices } from '../../runtime/model/cuda-attention.js';
import { CudaLlama } from '../../runtime/model/cuda-llama.js';
import { LlamaModel, type PackedBatch } from '../../runtime/model/llama.js';
import { ModelLogitsSource } from '../../runtime/model/source.js';
import { Trainer } from '../../runtime/model/train.js';

const env = process.env;
const small = env['LMP_BENCH_SMALL'] === '1';
const emit = (o: object): void => console.log(JSON.stringify(o));
let failed = 0;
const verdict = (name: string, ok: boolean, detail: string): void => {
  if (!ok) failed++;
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}: ${detail}`);
};

function batch(cfg: ModelConfig, B: number, T: number, seed: number): PackedBatch {
  let s = seed >>> 0;
  const N = B * T, tokens = new Int32Array(N), pos = new Int32Array(N), docIds = new Int32Array(N);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      const i = b * T + t;
      tokens[i] = t % 7 === 0 ? (s >>> 8) % cfg.vocab : (tokens[i - 1]! + 1) % cfg.vocab; // runs with random restarts
      pos[i] = t;
      docIds[i] = b;
    }
  return { tokens, cuSeqlens: Int32Array.from({ length: B + 1 }, (_, b) => b * T), positionIds: pos, docIds, lossMask: new Uint8Array(N).fill(1) };
}

function relErr(a: Float32Array, b: Float32Array): number {
  let d = 0, n = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i]! - b[i]!) ** 2;
    n += b[i]! ** 2;
  }
  return Math.sqrt(d) / Math.max(Math.sqrt(n), 1e-30);
}

function parity(): void {
  const cfg: ModelConfig = { vocab: 61, dim: 128, layers: 2, heads: 2, kvHeads: 1, ffn: 192, ropeTheta: 10000, normEps: 1e-5, tieEmbeddings: false };
  const b = batch(cfg, 2, 100, 3);
  // plain RoPE in f32 and bf16, and LM-Infinite (a distance limit and a Lambda mask: two attention plans per call) in bf16
  const limit = { position: { kind: 'rope', limit: 16 }, mask: { op: 'and', args: [{ op: 'causal' }, { op: 'same_document' }, { op: 'or', args: [{ op: 'sink', count: 2 }, { op: 'window', size: 48 }] }] } } as const;
  for (const [precision, opts, tag] of [['f32', {}, ''], ['bf16', {}, ''], ['bf16', limit, '_limit']] as const) {
    const cpu = LlamaModel.init(cfg, 1, opts);
    cpu.zeroGrads();
    const count = cpu.countTargets(b);
    const ref = cpu.backward(b, 1 / count);
    const gpu = new CudaLlama(cpu, { precision });
    gpu.zeroGrads();
    gpu.backward(b, 1 / count);
    const loss = gpu.takeLossSums()[0]!;
    const g = gpu.gradients();
    let worst = 0, which = '';
    for (const [n, r] of cpu.grads!) {
      const e = relErr(g.get(n)!, r);
      if (e > worst) [worst, which] = [e, n];
    }
    gpu.free();
    const tol = precision === 'f32' ? 1.2e-2 : 2.5e-2;
    verdict(`gradients_${precision}${tag}`, worst <= tol && Math.abs(loss - ref.lossSum) <= 1e-3 * ref.lossSum, `worst relative error ${worst.toExponential(2)} (${which}; tolerance ${tol}), loss ${loss} vs cpu ${ref.lossSum}`);
    emit({ part: 'parity', check: `gradients_${precision}${tag}`, worst, which, loss, cpuLoss: ref.lossSum });
  }
  const stream = function* (): Generator<PackedBatch> {
    for (let i = 0; ; i++) yield batch(cfg, 2, 64, 100 + i);
  };
  const opts = { lr: 3e-3, totalSteps: 10, clip: 1, schedule: { kind: 'cosine' as const, warmup: 2 } };
  const c = new Trainer(LlamaModel.init(cfg, 2), stream(), opts).run();
  const gt = new Trainer(LlamaModel.init(cfg, 2), stream(), { ...opts, backend: 'cuda' });
  const gm = gt.run();
  gt.close();
  const worst = Math.max(...c.map((m, i) => Math.abs(gm[i]!.loss - m.loss) / m.loss));
  verdict('loss_curve_bf16', worst <= 3e-2, `10 steps, worst relative loss difference ${worst.toExponential(2)} (tolerance 3e-2); cpu ${c[0]!.loss.toFixed(4)} -> ${c[9]!.loss.toFixed(4)}, cuda ${gm[0]!.loss.toFixed(4)} -> ${gm[9]!.loss.toFixed(4)}`);
  const model = gt.model;
  const dev = new CudaLlama(model, { train: false });
  const a = model.session(), d = dev.session();
  const argmax = (x: Float32Array): number => x.reduce((bi, v, i, arr) => (v > arr[bi]! ? i : bi), 0);
  const ctx = [1, 2, 3, 4, 5, 6, 7, 8];
  let la = a.nextAll(Int32Array.from(ctx)), ld = d.nextAll(Int32Array.from(ctx));
  const ta: number[] = [], td: number[] = [];
  for (let i = 0; i < 24; i++) {
    const x = argmax(la.subarray(la.length - cfg.vocab)), y = argmax(ld.subarray(ld.length - cfg.vocab));
    ta.push(x);
    td.push(y);
    la = a.next(Int32Array.of(x));
    ld = d.next(Int32Array.of(x)); // both continue the CPU's tokens
  }
  d.free();
  dev.free();
  const agree = ta.filter((t, i) => t === td[i]).length;
  verdict('greedy_decode', agree >= 22, `${agree}/24 greedy tokens equal (cpu ${ta.join(' ')})`);
}

async function timing(): Promise<void> {
  const cfg: ModelConfig = small
    ? { vocab: 257, dim: 64, layers: 2, heads: 2, kvHeads: 2, ffn: 128, ropeTheta: 10000, normEps: 1e-5, tieEmbeddings: true }
    : { vocab: 32000, dim: 768, layers: 12, heads: 12, kvHeads: 12, ffn: 2048, ropeTheta: 10000, normEps: 1e-5, tieEmbeddings: true };
  const T = small ? 64 : Number(env['LMP_BENCH_T'] ?? 2048), B = small ? 2 : Number(env['LMP_BENCH_B'] ?? 4), steps = small ? 2 : Number(env['LMP_BENCH_STEPS'] ?? 5);
  const model = LlamaModel.init(cfg, 1);
  const N = model.numParams(), nonEmbed = N - cfg.vocab * cfg.dim;
  const batches = function* (): Generator<PackedBatch> {
    for (let i = 0; ; i++) yield batch(cfg, B, T, 7 + i);
  };
  const tr = new Trainer(model, batches(), { lr: 1e-4, totalSteps: steps + 2, backend: 'cuda' });
  const warm = tr.run(2);
  const t0 = performance.now();
  const ms = tr.run(steps);
  const sec = (performance.now() - t0) / 1000;
  const tokens = B * T * steps;
  // model FLOPs per token: 6 N (matrices, embedding as the head) + 6 * layers * T * dim (causal attention: half of 12)
  const flopsPerToken = 6 * N + 6 * cfg.layers * T * cfg.dim;
  const peak = 989e12; // H200 dense bf16
  emit({ part: 'train', params: N, nonEmbedding: nonEmbed, T, B, steps, tokensPerSec: tokens / sec, msPerStep: (sec * 1000) / steps, mfu: (flopsPerToken * tokens) / sec / peak, firstLoss: warm[0]!.loss, lastLoss: ms[ms.length - 1]!.loss });
  tr.close();
  // decode at batch 1: a prompt, then greedy steps (logits to the host each step)
  const prompt = Int32Array.from({ length: small ? 32 : 512 }, (_, i) => (i * 7) % cfg.vocab);
  const gen = small ? 8 : 128;
  const dev = new CudaLlama(model, { train: false });
  for (const policy of [{ kind: 'full' } as const, { kind: 'sinks_window', sinks: 4, window: small ? 16 : 256 } as const]) {
    const s = dev.session(policy);
    const p0 = performance.now();
    let l = s.nextAll(prompt);
    const p1 = performance.now();
    for (let i = 0; i < gen; i++) {
      const last = l.subarray(l.length - cfg.vocab);
      let best = 0;
      for (let j = 1; j < last.length; j++) if (last[j]! > last[best]!) best = j;
      l = s.next(Int32Array.of(best));
    }
    const p2 = performance.now();
    emit({ part: 'decode', policy: policy.kind, prompt: prompt.length, generated: gen, prefillTokensPerSec: prompt.length / ((p1 - p0) / 1000), generateTokensPerSec: gen / ((p2 - p1) / 1000) });
    s.free();
  }
  // decode at batch 32 (full cache and sinks + window, greedy): 32 Decoders at once, their steps in batched device
  // forwards (runtime/model/batch.ts: GEMMs over the 32 rows, one attention plan per sequence, one
  // download of [32, vocab] logits per step); generation tokens/s without the prompts' prefill (timed
  // apart); agree: sequences whose tokens equal that prompt decoded alone (cuBLAS may round 32 rows
  // differently from 1, so near-ties may differ)
  for (const policy of [{ kind: 'full' } as const, { kind: 'sinks_window', sinks: 4, window: small ? 16 : 256 } as const]) {
    const nb = small ? 4 : 32, bgen = small ? 8 : 128;
    const prompts = Array.from({ length: nb }, (_, b) => Array.from({ length: prompt.length }, (_, i) => (i * 7 + b * 13) % cfg.vocab));
    const greedyChain: SamplerSpec[] = [{ name: 'greedy' }];
    const batcher = new DecodeBatcher(nb);
    const sessions = prompts.map(() => dev.session(policy));
    const t0 = performance.now();
    const outs = await Promise.all(prompts.map((p, b) => new Decoder(new ModelLogitsSource(model, undefined, undefined, sessions[b]).via(batcher), { chain: greedyChain, maxTokens: bgen }).generate(p)));
    const sec = (performance.now() - t0) / 1000;
    for (const s of sessions) s.free();
    const q0 = performance.now();
    for (const p of prompts) {
      const s = dev.session(policy);
      s.nextAll(Int32Array.from(p));
      s.free();
    }
    const pre = (performance.now() - q0) / 1000;
    let agree = 0;
    for (const b of [0, nb - 1]) {
      const s = dev.session(policy);
      const alone = await new Decoder(new ModelLogitsSource(model, undefined, undefined, s), { chain: greedyChain, maxTokens: bgen }).generate(prompts[b]!);
      s.free();
      if (JSON.stringify(alone.tokens) === JSON.stringify(outs[b]!.tokens)) agree++;
    }
    emit({ part: 'decode_batch', policy: policy.kind, batch: nb, prompt: prompt.length, generated: bgen, generateTokensPerSec: (nb * (bgen - 1)) / Math.max(1e-9, sec - pre), meanRowsPerForward: batcher.stats.steps / batcher.stats.forwards, seconds: sec, prefillSeconds: pre, agreeWithAlone: `${agree}/2` });
  }
  // the Decoder with temperature -> sample: the terminal draw on the device (one id per step) against
  // the same chain drawn on the host from the downloaded logits; the tokens must agree
  const chain: SamplerSpec[] = [{ name: 'temperature', t: 0.8 }, { name: 'sample' }];
  const runs: Record<string, { tokens: number[]; sec: number }> = {};
  for (const where of ['device', 'host'] as const) {
    const session = dev.session();
    const src = new ModelLogitsSource(model, undefined, undefined, session);
    const source = where === 'device' ? src : { vocabSize: src.vocabSize, next: (t: readonly number[]) => src.next(t) };
    const dec = new Decoder(source, { chain, seed: 7, maxTokens: gen });
    const t0 = performance.now();
    const r = await dec.generate([...prompt]);
    runs[where] = { tokens: r.tokens, sec: (performance.now() - t0) / 1000 };
    session.free();
  }
  const same = JSON.stringify(runs['device']!.tokens) === JSON.stringify(runs['host']!.tokens);
  verdict('device_draw', same, `temperature(0.8) -> sample, ${gen} tokens: device draw ${same ? '=' : '!='} host draw`);
  emit({ part: 'decode_draw', prompt: prompt.length, generated: gen, deviceTokensPerSec: gen / runs['device']!.sec, hostTokensPerSec: gen / runs['host']!.sec, sameTokens: same });
  dev.free();
}

const d = cudaDevices();
if (d.count === 0) {
  console.log(`FAIL device: no CUDA device (${d.why})`);
  process.exit(1);
}
console.log(`device: ${d.name}`);
if (env['LMP_BENCH_PART'] !== 'timing') parity();
if (env['LMP_BENCH_PART'] !== 'parity') await timing();
process.exit(failed ? 1 : 0);
