// Training-step benchmark of a ~5M-parameter Llama-style model (runtime/model) at T = 256..2048,
// in GFLOP/s (6N per token + attention), against a same-run square SGEMM (ours and OpenBLAS when
// libopenblas-dev is installed), on 1 and 2 threads; peak memory. Writes the "## train" section
// of bench/RESULTS.md.
//   node bench/train/run.mjs [--lengths 256,512,1024,2048] [--threads 1,2] [--steps 2] [--attention fused|reference] [--no-write]
// Uses the addon at LMP_NATIVE_PATH (default build/native/Release/lmp.node); the TypeScript
// runtime is bundled on the fly with esbuild.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const lengths = arg('lengths', '256,512,1024,2048').split(',').map(Number);
const threadList = arg('threads', '1,2').split(',').map(Number);
const steps = Number(arg('steps', '2'));
process.env.LMP_NATIVE_PATH ??= join(root, 'build/native/Release/lmp.node');

const tmp = mkdtempSync(join(tmpdir(), 'lmp-bench-train-'));
const entry = join(tmp, 'entry.ts');
writeFileSync(entry, `export { LlamaModel } from ${JSON.stringify(join(root, 'runtime/model/llama.ts'))};
export { Trainer } from ${JSON.stringify(join(root, 'runtime/model/train.ts'))};
export { kernels } from ${JSON.stringify(join(root, 'runtime/model/kernels.ts'))};
export { fusedAttention } from ${JSON.stringify(join(root, 'runtime/model/fused.ts'))};
export { native } from ${JSON.stringify(join(root, 'runtime/native.ts'))};`);
await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', outfile: join(tmp, 'bundle.mjs'), logLevel: 'error' });
const { LlamaModel, Trainer, kernels, native, fusedAttention } = await import(pathToFileURL(join(tmp, 'bundle.mjs')).href);
const K = kernels();
const load0 = loadavg();
const attnKind = arg('attention', native().modules.includes('attention') ? 'fused' : 'reference');
const modelOpts = () => (attnKind === 'fused' ? { attention: fusedAttention() } : {});

const cfg = { dim: 256, layers: 6, heads: 4, kvHeads: 2, ffn: 768, vocab: 256, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: false };
const probe = LlamaModel.init(cfg, 1);
const nParams = probe.numParams();
const nMatmul = nParams - cfg.vocab * cfg.dim; // the embedding gather does no multiply-adds
const stepFlops = (T) => 6 * nMatmul * T + 3 * 4 * cfg.dim * cfg.layers * ((T * (T + 1)) / 2);

// same-run square GEMM: ours and OpenBLAS
const GEMM_N = 1024;
function ourGemm(threads) {
  K.setNumThreads(threads);
  const n = GEMM_N, A = new Float32Array(n * n).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5), B = A.slice().reverse(), C = new Float32Array(n * n);
  K.gemm(false, true, n, n, n, 1, A, n, B, n, 0, C, n);
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    K.gemm(false, true, n, n, n, 1, A, n, B, n, 0, C, n);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return (2 * n ** 3) / best / 1e9;
}
let blas;
try {
  const exe = join(tmp, 'blas_sgemm');
  execFileSync('cc', ['-O2', '-o', exe, join(root, 'bench/train/blas_sgemm.c'), '-lopenblas'], { stdio: 'pipe' });
  blas = (threads) => (2 * GEMM_N ** 3) / Number(execFileSync(exe, [String(GEMM_N), String(threads), '5']).toString()) / 1e9;
} catch {
  blas = undefined;
}

function packed(T) {
  const tokens = Int32Array.from({ length: T }, (_, i) => (i * 31 + 7) % cfg.vocab);
  return { tokens, cuSeqlens: Int32Array.of(0, T), positionIds: Int32Array.from({ length: T }, (_, i) => i), docIds: new Int32Array(T), lossMask: new Uint8Array(T).fill(1) };
}

const rows = [];
let peakRss = 0;
for (const threads of threadList) {
  const ours = ourGemm(threads);
  const ob = blas ? blas(threads) : undefined;
  K.setNumThreads(threads);
  for (const T of lengths) {
    const model = LlamaModel.init(cfg, 1, modelOpts());
    const b = packed(T);
    const tr = new Trainer(model, (function* () { for (;;) yield b; })(), { lr: 1e-3, totalSteps: steps + 1, clip: 1 });
    tr.trainStep(); // warm-up
    let best = Infinity;
    for (let s = 0; s < steps; s++) {
      const t0 = process.hrtime.bigint();
      tr.trainStep();
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }
    const gflops = stepFlops(T) / best / 1e9;
    const row = { threads, T, stepS: best, tokensPerS: T / best, gflops, ourGemm: ours, blasGemm: ob, vsOurs: gflops / ours, vsBlas: ob ? gflops / ob : undefined };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
}
const maxRssMiB = process.resourceUsage().maxRSS / 1024;

const f = (x, d = 1) => (x === undefined ? 'n/a' : x.toFixed(d));
const lines = [
  '## train',
  '',
  `Training step (forward + backward + AdamW + clipping) of a Llama-style model with ${(nParams / 1e6).toFixed(2)}M parameters`,
  `(dim ${cfg.dim}, ${cfg.layers} layers, ${cfg.heads} heads / ${cfg.kvHeads} kv heads, ffn ${cfg.ffn}, vocab ${cfg.vocab}, untied head), one packed`,
  `sequence of T tokens (causal), attention: ${attnKind === 'fused' ? 'the fused kernels of runtime/attention (adapter runtime/model/fused.ts)' : 'the reference op (dense mask + our GEMM; computes the full T x T scores)'}.`,
  `FLOPs = 6 x ${(nMatmul / 1e6).toFixed(2)}M (params excluding the embedding gather) per token + 12 x dim x layers x T(T+1)/2 (attention, causal).`,
  `Baselines in the same run: square ${GEMM_N}^3 SGEMM (C = A B^T), ours and OpenBLAS${blas ? '' : ' (not installed)'}. Best of ${steps} steps after a warm-up.`,
  `Machine: ${cpus()[0]?.model ?? 'cpu'}, ${cpus().length} logical CPUs, SIMD ${native().version().simd}, load average at start ${load0.map((x) => x.toFixed(1)).join(' ')}. Command: \`node bench/train/run.mjs\`.`,
  '',
  '| threads | T | step s | tokens/s | GFLOP/s | our sgemm GFLOP/s | OpenBLAS GFLOP/s | step / our sgemm | step / OpenBLAS |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...rows.map((r) => `| ${r.threads} | ${r.T} | ${f(r.stepS, 3)} | ${f(r.tokensPerS, 0)} | ${f(r.gflops)} | ${f(r.ourGemm)} | ${f(r.blasGemm)} | ${f(r.vsOurs * 100, 0)}% | ${r.vsBlas === undefined ? 'n/a' : f(r.vsBlas * 100, 0) + '%'} |`),
  '',
  ...(load0[0] > cpus().length ? [`Note: the machine was shared (load average ${load0[0].toFixed(1)} on ${cpus().length} CPUs), so absolute figures are depressed and noisy; the ratios compare timings of the same run.`, ''] : []),
  `Peak memory: max RSS ${maxRssMiB.toFixed(0)} MiB (getrusage), max sampled RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB (process.memoryUsage).`,
  '',
];
console.log(lines.join('\n'));
if (!process.argv.includes('--no-write')) {
  const path = join(root, 'bench/RESULTS.md');
  let text = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmark results\n\n';
  const section = lines.join('\n');
  const re = /## train\n[\s\S]*?(?=\n## |$)/;
  text = re.test(text) ? text.replace(re, section.trimEnd() + '\n') : text.trimEnd() + '\n\n' + section;
  writeFileSync(path, text);
}
