// Shared pieces of the peer benchmarks (bench/peers/pytorch, bench/peers/llamacpp): the runtime
// bundle, argument parsing, medians, deterministic inputs, greedy argmax, the report transcript
// and the RESULTS.md section writer.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
process.env.LMP_NATIVE_PATH ??= join(root, 'build/native/Release/lmp.node');

export const arg = (name, dflt) => {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
export const flag = (name) => process.argv.includes('--' + name);
export const list = (name, dflt) => arg(name, dflt).split(',').filter(Boolean);

export const tmp = mkdtempSync(join(tmpdir(), 'lmp-peers-'));

/**
 * The TypeScript runtime bundled with esbuild (what a user's built module imports), on the addon
 * at LMP_NATIVE_PATH, or on `addon` (a second copy of the runtime with its own addon: the
 * before/after comparisons load an older build beside the current one), bundled from the
 * TypeScript under `src` (default: this checkout; an older worktree to compare TypeScript changes).
 */
let bundles = 0;
export async function runtime(addon, src = root) {
  const { build } = await import('esbuild');
  const rt = (p) => JSON.stringify(join(resolve(src), p));
  writeFileSync(join(tmp, 'entry.ts'), `export { LlamaModel } from ${rt('runtime/model/llama.ts')};
export { Trainer } from ${rt('runtime/model/train.ts')};
export { saveModel } from ${rt('runtime/model/io.ts')};
export { fusedAttention } from ${rt('runtime/model/fused.ts')};
export { attentionForward, attentionBackward } from ${rt('runtime/attention/index.ts')};
export { docIdsFromLengths } from ${rt('runtime/mask/index.ts')};
export { kernels } from ${rt('runtime/model/kernels.ts')};
export { native } from ${rt('runtime/native.ts')};`);
  const out = join(tmp, `bundle-${bundles++}.mjs`);
  await build({ entryPoints: [join(tmp, 'entry.ts')], bundle: true, platform: 'node', format: 'esm', outfile: out, logLevel: 'error' });
  const prev = process.env.LMP_NATIVE_PATH;
  if (addon) process.env.LMP_NATIVE_PATH = resolve(addon);
  try {
    const mod = await import(pathToFileURL(out).href);
    mod.native(); // the addon is loaded now, from the path in force
    return mod;
  } finally {
    process.env.LMP_NATIVE_PATH = prev;
  }
}

export const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  const n = s.length;
  return n % 2 ? s[n >> 1] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
export const secs = (fn) => {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
};
/** Wall and process CPU seconds (user + system, all threads) of fn. */
export const timed = (fn) => {
  const c0 = process.cpuUsage(), t0 = process.hrtime.bigint();
  fn();
  const s = Number(process.hrtime.bigint() - t0) / 1e9, c = process.cpuUsage(c0);
  return { s, cpu: (c.user + c.system) / 1e6 };
};

/** Uniform in [-0.5, 0.5), deterministic in seed (an LCG: the same bytes on every machine). */
export function rnd(n, seed, scale = 1) {
  let s = seed >>> 0;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = (((s >>> 8) & 0xffff) / 65536 - 0.5) * scale;
  }
  return x;
}

/** Writes a typed array as raw little-endian bytes into the temp folder; returns the path. */
export function dump(name, arr) {
  const p = join(tmp, name);
  writeFileSync(p, Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength));
  return p;
}

export function machineLine(simd) {
  const l = loadavg();
  return `Machine: ${cpus()[0]?.model ?? 'cpu'}, ${cpus().length} logical CPUs (shared with other engineers' jobs: timings are noisy, ratios are same-run), lmp SIMD ${simd}, load average at start ${l.map((x) => x.toFixed(1)).join(' ')}, ${new Date().toISOString().slice(0, 10)}.`;
}

/** Replaces (or appends) the `## NAME` section of bench/RESULTS.md. */
export function writeSection(name, lines) {
  const path = join(root, 'bench/RESULTS.md');
  let text = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmark results\n\n';
  const head = `## ${name}`;
  const esc = head.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`${esc}\\n[\\s\\S]*?(?=\\n## |$)`);
  const section = [head, ...lines].join('\n').trimEnd() + '\n';
  text = re.test(text) ? text.replace(re, section) : text.trimEnd() + '\n\n' + section;
  writeFileSync(path, text);
}

/** Index of the largest logit (the lowest id on ties): greedy decoding. */
export const argmax = (l) => {
  let b = 0;
  for (let j = 1; j < l.length; j++) if (l[j] > l[b]) b = j;
  return b;
};

/** A report: say(line) prints the line and keeps it in `lines` for writeSection. */
export function transcript() {
  const lines = [];
  return { lines, say: (s = '') => (lines.push(s), console.log(s)) };
}

export const f = (x, d = 1) => (x === undefined || Number.isNaN(x) ? 'n/a' : x.toFixed(d));
/** "1.23x" where > 1 means lmp is faster (peer time / lmp time). */
export const ratio = (peer, ours) => (peer === undefined || ours === undefined ? 'n/a' : `${(peer / ours).toFixed(2)}x`);

/** The decode model both peers run (22.8M parameters with its 4096-token vocabulary). */
export const decodeCfg = { dim: 512, layers: 6, heads: 8, kvHeads: 4, ffn: 1536, vocab: 4096, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: false };
