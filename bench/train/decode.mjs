// Decoding throughput of the ~5M-parameter model (same config as run.mjs) with the full KV cache
// and with the sinks + window cache, at growing generation lengths: tokens/s measured over the
// last `--span` tokens before each length. The sinks + window cache should stay flat.
//   node bench/train/decode.mjs [--lengths 256,1024,4096] [--span 64] [--sinks 4] [--window 252] [--threads 1] [--no-write]
// Writes the "## model decoding" section of bench/RESULTS.md.
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
const lengths = arg('lengths', '256,1024,4096').split(',').map(Number);
const span = Number(arg('span', '64'));
const sinks = Number(arg('sinks', '4')), windowSize = Number(arg('window', '252'));
const threads = Number(arg('threads', '1'));
process.env.LMP_NATIVE_PATH ??= join(root, 'build/native/Release/lmp.node');

const tmp = mkdtempSync(join(tmpdir(), 'lmp-bench-decode-'));
writeFileSync(join(tmp, 'entry.ts'), `export { LlamaModel } from ${JSON.stringify(join(root, 'runtime/model/llama.ts'))};
export { kernels } from ${JSON.stringify(join(root, 'runtime/model/kernels.ts'))};
export { fusedAttention } from ${JSON.stringify(join(root, 'runtime/model/fused.ts'))};
export { native } from ${JSON.stringify(join(root, 'runtime/native.ts'))};`);
await build({ entryPoints: [join(tmp, 'entry.ts')], bundle: true, platform: 'node', format: 'esm', outfile: join(tmp, 'bundle.mjs'), logLevel: 'error' });
const { LlamaModel, kernels, fusedAttention, native } = await import(pathToFileURL(join(tmp, 'bundle.mjs')).href);
const load0 = loadavg();
kernels().setNumThreads(threads);
const attnKind = arg('attention', native().modules.includes('attention') ? 'fused' : 'reference');

const cfg = { dim: 256, layers: 6, heads: 4, kvHeads: 2, ffn: 768, vocab: 256, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: false };
const model = LlamaModel.init(cfg, 1, attnKind === 'fused' ? { attention: fusedAttention() } : {});
const maxLen = Math.max(...lengths);

function measure(policy) {
  const s = model.session(policy);
  const res = [];
  let tok = 1;
  for (let t = 0; t < maxLen; t++) {
    const timing = lengths.some((L) => t >= L - span && t < L);
    const t0 = timing ? process.hrtime.bigint() : 0n;
    const logits = s.next(Int32Array.of(tok));
    if (timing) {
      const L = lengths.find((x) => t >= x - span && t < x);
      const r = res.find((x) => x.length === L) ?? (res.push({ length: L, seconds: 0, tokens: 0 }), res[res.length - 1]);
      r.seconds += Number(process.hrtime.bigint() - t0) / 1e9;
      r.tokens++;
    }
    let best = 0;
    for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
    tok = best;
  }
  return res.map((r) => ({ length: r.length, tokensPerS: r.tokens / r.seconds }));
}

const full = measure({ kind: 'full' });
const sw = measure({ kind: 'sinks_window', sinks, window: windowSize });
const rows = lengths.map((L, i) => ({ length: L, full: full[i].tokensPerS, sinksWindow: sw[i].tokensPerS }));
for (const r of rows) console.log(JSON.stringify(r));
const lines = [
  '## model decoding',
  '',
  `Greedy decoding, one token per step, of the ${(model.numParams() / 1e6).toFixed(2)}M-parameter model of "## train" (random weights), ${threads} thread(s),`,
  `attention: ${attnKind}. Tokens/s over the ${span} tokens before each generation length. Caches: full (every position) and`,
  `sinks + window (${sinks} sinks + ${windowSize} window, RoPE position shift). Machine: ${cpus()[0]?.model ?? 'cpu'}, ${cpus().length} logical CPUs, load average at start ${load0.map((x) => x.toFixed(1)).join(' ')}.`,
  'Command: `node bench/train/decode.mjs`.',
  '',
  '| generated length | full cache tokens/s | sinks + window tokens/s |',
  '| --- | --- | --- |',
  ...rows.map((r) => `| ${r.length} | ${r.full.toFixed(0)} | ${r.sinksWindow.toFixed(0)} |`),
  '',
  ...(load0[0] > cpus().length ? [`Note: shared machine (load average ${load0[0].toFixed(1)} on ${cpus().length} CPUs): single figures are noisy.`, ''] : []),
];
console.log(lines.join('\n'));
if (!process.argv.includes('--no-write')) {
  const path = join(root, 'bench/RESULTS.md');
  let text = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmark results\n\n';
  const re = /## model decoding\n[\s\S]*?(?=\n## |$)/;
  const section = lines.join('\n');
  text = re.test(text) ? text.replace(re, section.trimEnd() + '\n') : text.trimEnd() + '\n\n' + section;
  writeFileSync(path, text);
}
