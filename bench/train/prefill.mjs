// Prefill of a batch of prompts: padded batch (every prompt right-padded to the longest) vs
// prepacking (prompts bin-packed by BFD into sequences of the longest prompt's length, positions
// restarting per prompt, causal & same_document), runtime/model/prefill.ts. Same model, same
// prompts (lognormal lengths, seeded). Each mode runs in its own child process so its peak RSS is
// its own; time is the best of --reps runs; both produce the per-prompt KV caches and next-token
// logits (checked equal here). Writes "## prefill" in bench/RESULTS.md unless --no-write.
//   node bench/train/prefill.mjs [--prompts 64] [--median 96] [--sigma 1.0] [--max 1024] [--reps 3] [--threads 2] [--no-write]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const N = Number(arg('prompts', '64')), MEDIAN = Number(arg('median', '96')), SIGMA = Number(arg('sigma', '1.0'));
const MAXLEN = Number(arg('max', '1024')), REPS = Number(arg('reps', '3')), THREADS = Number(arg('threads', '2'));
process.env.LMP_NATIVE_PATH ??= join(root, 'build/native/Release/lmp.node');
const cfg = { dim: 256, layers: 4, heads: 4, kvHeads: 2, ffn: 768, vocab: 256, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: false };

// seeded lognormal prompt lengths and tokens
let s = 99;
const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
const lens = Array.from({ length: N }, () => Math.max(4, Math.min(MAXLEN, Math.round(MEDIAN * Math.exp(SIGMA * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()))))));
const prompts = lens.map((n) => Array.from({ length: n }, () => Math.floor(u() * 256)));

const child = arg('child', null);
if (child) {
  const { bundle } = JSON.parse(arg('bundle-json', '{}'));
  const M = await import(pathToFileURL(bundle).href);
  M.kernels().setNumThreads(THREADS);
  const model = M.LlamaModel.init(cfg, 7, M.native().modules.includes('attention') ? { attention: M.fusedAttention() } : {});
  const f = child === 'padded' ? (p) => M.paddedPrefill(model, p) : (p) => M.prefillPacked(model, p);
  let best = Infinity, r;
  for (let i = 0; i < REPS; i++) {
    const t0 = performance.now();
    r = f(prompts);
    best = Math.min(best, performance.now() - t0);
  }
  const sum = r.logits.map((l) => l.reduce((a, b) => a + b, 0));
  console.log(JSON.stringify({ ms: best, maxRssMB: process.resourceUsage().maxRSS / 1024, tokens: r.tokensRun, sequences: r.sequences, sum }));
  process.exit(0);
}

const tmp = mkdtempSync(join(tmpdir(), 'lmp-bench-prefill-'));
const entry = join(tmp, 'entry.ts');
const rt = (p) => JSON.stringify(join(root, p));
writeFileSync(entry, `export { LlamaModel } from ${rt('runtime/model/llama.ts')};
export { prefillPacked, paddedPrefill } from ${rt('runtime/model/prefill.ts')};
export { kernels } from ${rt('runtime/model/kernels.ts')};
export { fusedAttention } from ${rt('runtime/model/fused.ts')};
export { native } from ${rt('runtime/native.ts')};`);
const bundle = join(tmp, 'bundle.mjs');
await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', outfile: bundle, logLevel: 'error' });
const run = (mode) => JSON.parse(execFileSync(process.execPath, [fileURLToPath(import.meta.url), ...process.argv.slice(2), '--child', mode, '--bundle-json', JSON.stringify({ bundle })], { encoding: 'utf8', env: process.env }).trim().split('\n').at(-1));
// baseline RSS: the child with nothing run
const pad = run('padded'), pack = run('packed');
let maxDiff = 0;
pad.sum.forEach((x, i) => (maxDiff = Math.max(maxDiff, Math.abs(x - pack.sum[i]) / Math.max(1, Math.abs(x)))));
const real = lens.reduce((a, b) => a + b, 0);
const sorted = [...lens].sort((a, b) => a - b);
const text = [
  `Command: \`node bench/train/prefill.mjs --prompts ${N} --median ${MEDIAN} --sigma ${SIGMA} --max ${MAXLEN} --reps ${REPS} --threads ${THREADS}\``,
  `(${cpus()[0]?.model ?? 'cpu'}, ${THREADS} threads). Model: dim 256, 4 layers, 4 heads (2 KV), ffn 768, vocab 256, fp32.`,
  `${N} prompts, lognormal lengths (median ${MEDIAN}, sigma ${SIGMA}): min ${sorted[0]}, median ${sorted[N >> 1]}, max ${sorted[N - 1]}, ${real} real tokens.`,
  '',
  '| | sequences | tokens run | padding | best of ' + REPS + ' ms | peak RSS MB |',
  '| --- | --- | --- | --- | --- | --- |',
  `| padded batch | ${pad.sequences} | ${pad.tokens} | ${(100 * (1 - real / pad.tokens)).toFixed(1)}% | ${pad.ms.toFixed(0)} | ${pad.maxRssMB.toFixed(0)} |`,
  `| prepacked (BFD, capacity = longest) | ${pack.sequences} | ${pack.tokens} | 0% | ${pack.ms.toFixed(0)} | ${pack.maxRssMB.toFixed(0)} |`,
  '',
  `Prepacking: ${(pad.ms / pack.ms).toFixed(2)}x faster, ${(pad.maxRssMB / pack.maxRssMB).toFixed(2)}x less peak RSS (each mode in its own process; RSS includes the model and the runtime). ` +
    `Next-token logits agree (max relative difference of per-prompt logit sums ${maxDiff.toExponential(1)}).`,
].join('\n');
console.log(text);
if (!process.argv.includes('--no-write')) {
  const path = join(root, 'bench/RESULTS.md');
  let md = '';
  try {
    md = readFileSync(path, 'utf8');
  } catch {}
  const sec = `## prefill\n\n${text}\n`;
  const re = /## prefill\n[\s\S]*?(?=\n## |$)/;
  md = re.test(md) ? md.replace(re, sec.trimEnd() + '\n') : md.trimEnd() + '\n\n' + sec;
  writeFileSync(path, md);
}
