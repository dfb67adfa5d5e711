// Batched decoding (runtime/model/batch.ts) against decoding the same prompts one after another, in
// one run: the 23.1M-parameter Llama of bench/peers/llamacpp (dim 512, 6 layers, 8 heads / 4 kv,
// ffn 1536, vocab 4096, random init), P prompts of 128 random tokens, 64 greedy tokens each, full
// KV cache. Sequential: one Decoder per prompt, in turn. Batched B: every prompt's Decoder at once,
// their steps in forwards of up to B rows. Generation tokens/s = P * 63 / (time of the generation
// steps: the whole run minus the prompts' prefill, timed apart in the same run); the tokens of
// every prompt must be equal in both (checked).
//   node bench/train/decode-batch.mjs [--prompts 16] [--batches 4,8,16] [--threads 1,2] [--reps 3] [--no-write]
// Writes the "## batched decoding" section of bench/RESULTS.md.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const P = Number(arg('prompts', '16'));
const batches = arg('batches', '4,8,16').split(',').map(Number);
const threadList = arg('threads', '1,2').split(',').map(Number);
const reps = Number(arg('reps', '3'));
const promptLen = 128, gen = 64;
process.env.LMP_NATIVE_PATH ??= join(root, 'build/native/Release/lmp.node');

const tmp = mkdtempSync(join(tmpdir(), 'lmp-bench-batch-'));
writeFileSync(join(tmp, 'entry.ts'), `export { LlamaModel } from ${JSON.stringify(join(root, 'runtime/model/llama.ts'))};
export { kernels } from ${JSON.stringify(join(root, 'runtime/model/kernels.ts'))};
export { fusedAttention } from ${JSON.stringify(join(root, 'runtime/model/fused.ts'))};
export { ModelLogitsSource } from ${JSON.stringify(join(root, 'runtime/model/source.ts'))};
export { DecodeBatcher } from ${JSON.stringify(join(root, 'runtime/model/batch.ts'))};
export { Decoder } from ${JSON.stringify(join(root, 'runtime/decode/decoder.ts'))};
export { native } from ${JSON.stringify(join(root, 'runtime/native.ts'))};`);
await build({ entryPoints: [join(tmp, 'entry.ts')], bundle: true, platform: 'node', format: 'esm', outfile: join(tmp, 'bundle.mjs'), logLevel: 'error' });
const { LlamaModel, kernels, fusedAttention, ModelLogitsSource, DecodeBatcher, Decoder, native } = await import(pathToFileURL(join(tmp, 'bundle.mjs')).href);
const load0 = loadavg();

const cfg = { dim: 512, layers: 6, heads: 8, kvHeads: 4, ffn: 1536, vocab: 4096, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: false };
const model = LlamaModel.init(cfg, 1, { attention: fusedAttention() });
let seed = 7;
const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) % cfg.vocab;
const prompts = Array.from({ length: P }, () => Array.from({ length: promptLen }, rnd));
const chain = [{ name: 'greedy' }];

async function sequential() {
  const t0 = performance.now();
  const out = [];
  for (const p of prompts) out.push((await new Decoder(new ModelLogitsSource(model), { chain, maxTokens: gen }).generate(p)).tokens);
  return { seconds: (performance.now() - t0) / 1000, tokens: out };
}
async function batched(B) {
  const batcher = new DecodeBatcher(B);
  const t0 = performance.now();
  const out = [];
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < P; i = next++) out[i] = (await new Decoder(new ModelLogitsSource(model).via(batcher), { chain, maxTokens: gen }).generate(prompts[i])).tokens;
  };
  await Promise.all(Array.from({ length: Math.min(B, P) }, worker));
  return { seconds: (performance.now() - t0) / 1000, tokens: out, mean: batcher.stats.steps / batcher.stats.forwards };
}
function prefillSeconds() {
  const t0 = performance.now();
  for (const p of prompts) model.session().next(Int32Array.from(p));
  return (performance.now() - t0) / 1000;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const rows = [];
for (const threads of threadList) {
  kernels().setNumThreads(threads);
  const seq = [], pre = [], bat = new Map(batches.map((b) => [b, []]));
  let ref, same = true, means = new Map();
  for (let r = 0; r < reps; r++) {
    // alternating: sequential, each batch size, the prefill alone
    const s = await sequential();
    ref ??= s.tokens;
    seq.push(s.seconds);
    for (const B of batches) {
      const b = await batched(B);
      same &&= JSON.stringify(b.tokens) === JSON.stringify(ref);
      bat.get(B).push(b.seconds);
      means.set(B, b.mean);
    }
    pre.push(prefillSeconds());
  }
  const pf = median(pre), genTokens = P * (gen - 1);
  const seqRate = genTokens / (median(seq) - pf);
  const row = { threads, prefillSeconds: pf, sequential: seqRate, batched: batches.map((B) => ({ B, rate: genTokens / (median(bat.get(B)) - pf), meanBatch: means.get(B) })), same };
  rows.push(row);
  console.log(JSON.stringify(row));
}

const section = [
  '## batched decoding (runtime/model/batch.ts)',
  '',
  `Machine: ${cpus()[0]?.model ?? '?'}, ${cpus().length} logical CPUs, lmp SIMD ${native().version().dispatch}, load average at start ${load0.map((x) => x.toFixed(1)).join(' ')}, ${new Date().toISOString().slice(0, 10)}. Command: \`node bench/train/decode-batch.mjs --prompts ${P} --batches ${batches.join(',')} --threads ${threadList.join(',')} --reps ${reps}\`.`,
  `Model: 23.1M-parameter Llama (dim 512, 6 layers, 8 heads / 4 kv, ffn 1536, vocab 4096, random init), ${P} prompts of ${promptLen} random tokens, ${gen} greedy tokens each, full KV cache. Generation tokens/s = ${P} x ${gen - 1} / (median run time - median prefill time of the same prompts, timed apart in the same run); medians of ${reps} alternating repetitions.`,
  '',
  `| threads | sequential tok/s | ${batches.map((B) => `batched ${B} tok/s (x sequential; mean rows per forward)`).join(' | ')} | same tokens |`,
  `| --- | --- | ${batches.map(() => '---').join(' | ')} | --- |`,
  ...rows.map((r) => `| ${r.threads} | ${r.sequential.toFixed(0)} | ${r.batched.map((b) => `${b.rate.toFixed(0)} (${(b.rate / r.sequential).toFixed(2)}x; ${b.meanBatch.toFixed(1)})`).join(' | ')} | ${r.same ? `${P}/${P}` : 'NO'} |`),
  '',
].join('\n');
console.log(section);
if (!process.argv.includes('--no-write')) {
  const path = join(root, 'bench/RESULTS.md');
  let text = readFileSync(path, 'utf8');
  const head = '## batched decoding (runtime/model/batch.ts)';
  const i = text.indexOf(head);
  if (i >= 0) {
    const j = text.indexOf('\n## ', i + head.length);
    text = text.slice(0, i) + section + (j >= 0 ? text.slice(j + 1) : '');
  } else text = text.trimEnd() + '\n\n' + section;
  writeFileSync(path, text);
}
