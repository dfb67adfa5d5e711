// The Hugging Face peer suite (npm run test:peers; not part of npm test): lmp against transformers
// itself on random tiny Llama checkpoints.
//   hf -> lmp: transformers writes checkpoints with save_pretrained (peers/hf/hf_peer.py: tied and
//     untied, MHA and GQA, theta 10000 and 500000, every rope type lmp reads: default, linear,
//     dynamic, yarn, llama3; float32 and bfloat16; the transformers 4 layout too) and its logits;
//     lmp's loadModel reads each and its logits must match: a full forward per length and a
//     KV-cached decode (prefill, then one token a step).
//   lmp -> hf: lmp's saveModel writes checkpoints (same variety) and LlamaForCausalLM.from_pretrained
//     (AutoModelForCausalLM) must give lmp's logits; transformers must log no warning reading them.
//     A NoPE model (position none) is written as SmolLM3 with RoPE off in every layer: transformers
//     must give its logits, and not those of the same weights under RoPE. An ALiBi model has no
//     transformers form: AutoModelForCausalLM and LlamaForCausalLM must both refuse to load it.
// Each comparison passes when |lmp - hf| <= ATOL + RTOL * |hf| everywhere. Each case whose RoPE is
// not plain theta 10000 also checks that the suite can fail: lmp's logits with the checkpoint's
// RoPE dropped (theta 10000, no scaling: what lmp did before rope_parameters was read; in the
// lmp -> hf direction, what transformers would compute had it missed the written scaling) must
// miss the tolerance (except dynamic NTK at lengths within max_position_embeddings, plain by definition).
// The Python environment is .ci/python-env.sh's (.venv-lmp); LMP_PYTHON overrides it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ATOL = 1e-4, RTOL = 1e-4;
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
process.env.LMP_NATIVE_PATH ??= join(root, 'build/native/Release/lmp.node');
const tmp = mkdtempSync(join(tmpdir(), 'lmp-hf-peers-'));
const keep = process.argv.includes('--keep');
const t0 = Date.now();

function python() {
  if (process.env.LMP_PYTHON) return process.env.LMP_PYTHON;
  return execFileSync('bash', [join(root, '.ci/python-env.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

/** lmp's runtime from its TypeScript sources (esbuild), as a built module would import it. */
async function runtime() {
  const { build } = await import('esbuild');
  const rt = (p) => JSON.stringify(join(root, p));
  writeFileSync(join(tmp, 'entry.ts'), `export { loadModel, saveModel } from ${rt('runtime/model/io.ts')};
export { LlamaModel, KVCacheSession } from ${rt('runtime/model/llama.ts')};`);
  await build({ entryPoints: [join(tmp, 'entry.ts')], bundle: true, platform: 'node', format: 'esm', outfile: join(tmp, 'lmp.mjs'), logLevel: 'error' });
  return import(pathToFileURL(join(tmp, 'lmp.mjs')).href);
}

const f32 = (p) => {
  const b = readFileSync(p);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
};

/** max |a - b|, max |a - b| / (ATOL + RTOL |b|) (<= 1 passes) */
function compare(a, b) {
  if (a.length !== b.length) return { maxAbs: Infinity, ratio: Infinity };
  let maxAbs = 0, ratio = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= maxAbs)) maxAbs = d;
    const r = d / (ATOL + RTOL * Math.abs(b[i]));
    if (!(r <= ratio)) ratio = r;
  }
  return { maxAbs, ratio };
}

const batch = (tokens) => ({
  tokens: Int32Array.from(tokens), cuSeqlens: Int32Array.of(0, tokens.length), positionIds: Int32Array.from(tokens, (_, i) => i),
  docIds: new Int32Array(tokens.length), lossMask: new Uint8Array(tokens.length).fill(1),
});

function lmpLogits(lmp, model, c) {
  const out = {};
  for (const n of c.lengths) out[n] = model.logits(batch(c.tokens.slice(0, n)));
  const s = new lmp.KVCacheSession(model);
  const rows = [s.nextAll(Int32Array.from(c.tokens.slice(0, c.prefill)))];
  for (let i = c.prefill; i < c.decode; i++) rows.push(s.next(Int32Array.of(c.tokens[i])));
  const dec = new Float32Array(c.decode * c.vocab);
  let o = 0;
  for (const r of rows) {
    dec.set(r, o);
    o += r.length;
  }
  out.decode = dec;
  return out;
}

const rows = [];
let passed = 0, failed = 0;
function check(dir, what, lmpOut, ref, wrong) {
  const r = compare(lmpOut, ref);
  const ok = r.ratio <= 1;
  const w = wrong ? compare(wrong, ref) : undefined;
  const sensitive = !w || w.ratio > 1;
  if (ok && sensitive) passed++;
  else failed++;
  rows.push({ dir, what, ...r, wrong: w?.maxAbs, ok: ok && sensitive, note: sensitive ? '' : 'the RoPE-less model also passes: the case tests nothing' });
}

/** Dynamic NTK up to max_position_embeddings is plain RoPE by definition: dropping it changes nothing there. */
const plainAt = (model, n) => model.config.ropeScaling?.kind === 'dynamic' && n <= model.config.ropeScaling.originalLength && model.config.ropeTheta === 10000;

/** The same weights under lmp's old reading of config.json: theta 10000, no scaling. */
function ropeDropped(lmp, model) {
  const { ropeScaling, ...rest } = model.config;
  if (!ropeScaling && model.config.ropeTheta === 10000) return undefined;
  const m = new lmp.LlamaModel({ ...rest, ropeTheta: 10000 });
  for (const [n, p] of model.params) m.params.get(n).set(p);
  return m;
}

// lmp -> hf: checkpoints written by saveModel (llama3 over theta 500000, the HF forms of YaRN, dynamic, linear; bf16)
const LMP_CASES = [
  { name: 'default-gqa-theta500k', kvHeads: 2, tie: false, theta: 500000 },
  { name: 'default-tied-bf16', kvHeads: 1, tie: true, theta: 10000, dtype: 'BF16' },
  { name: 'linear', kvHeads: 2, tie: true, theta: 10000, scaling: { kind: 'linear', factor: 4 } },
  { name: 'ntk-static', kvHeads: 4, tie: false, theta: 10000, scaling: { kind: 'ntk', factor: 4 } },
  { name: 'dynamic', kvHeads: 2, tie: false, theta: 10000, maxPositions: 32, lengths: [24, 80], scaling: { kind: 'dynamic', factor: 2, originalLength: 32 } },
  { name: 'yarn', kvHeads: 2, tie: false, theta: 10000, scaling: { kind: 'yarn', ramp: 'index', factor: 4, originalLength: 32 } },
  { name: 'yarn-beta-af', kvHeads: 1, tie: true, theta: 500000, scaling: { kind: 'yarn', ramp: 'index', factor: 8, originalLength: 16, alpha: 2, beta: 16, truncate: false, attentionFactor: 1.25 } },
  { name: 'llama3-bf16', kvHeads: 2, tie: false, theta: 500000, dtype: 'BF16', scaling: { kind: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalLength: 32 } },
  // NoPE: the "RoPE dropped" comparison is the same weights under RoPE (what a Llama config.json made transformers run)
  { name: 'nope', kvHeads: 2, tie: false, theta: 10000, position: { kind: 'none' } },
];
// lmp -> hf checkpoints transformers must refuse (no transformers form: loading them as a RoPE Llama is silently wrong)
const LMP_REFUSED = [{ name: 'alibi', position: { kind: 'alibi' } }, { name: 'alibi-limit', position: { kind: 'alibi', limit: 16 } }];

/** The same weights as `model` under plain RoPE (a NoPE model's wrong reading). */
function underRope(lmp, model) {
  const m = new lmp.LlamaModel(model.config);
  for (const [n, p] of model.params) m.params.get(n).set(p);
  return m;
}

async function main() {
  const py = python();
  const lmp = await runtime();
  const gen = JSON.parse(execFileSync(py, [join(root, 'peers/hf/hf_peer.py'), 'gen', tmp], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HF_HUB_OFFLINE: '1', TRANSFORMERS_NO_ADVISORY_WARNINGS: '1', HF_HUB_DISABLE_PROGRESS_BARS: '1', TQDM_DISABLE: '1' } }).trim().split('\n').pop());
  console.log(`transformers ${gen.transformers}, torch ${gen.torch}; tolerance |lmp - hf| <= ${ATOL} + ${RTOL} |hf|`);

  for (const dir of gen.dirs) {
    const c = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8'));
    const model = lmp.loadModel(dir);
    const out = lmpLogits(lmp, model, c);
    const dropped = ropeDropped(lmp, model);
    const wrong = dropped ? lmpLogits(lmp, dropped, c) : undefined;
    const name = `hf->lmp ${c.name} (${c.dtype})`;
    for (const n of c.lengths) check(name, `forward ${n}`, out[n], f32(join(dir, `ref-${n}.f32`)), plainAt(model, n) ? undefined : wrong?.[n]);
    check(name, `decode ${c.prefill}+${c.decode - c.prefill}`, out.decode, f32(join(dir, 'ref-decode.f32')), wrong?.decode);
    if (c.warnings.length) console.log(`  (transformers warned writing ${c.name}: ${c.warnings.join(' | ')})`);
  }

  const vocab = 101, dirs = [];
  for (const [i, k] of LMP_CASES.entries()) {
    const cfg = { dim: 64, layers: 2, heads: 4, kvHeads: k.kvHeads, ffn: 96, vocab, normEps: 1e-5, ropeTheta: k.theta, tieEmbeddings: k.tie, maxPositions: k.maxPositions ?? 128, ...(k.scaling ? { ropeScaling: k.scaling } : {}) };
    const model = lmp.LlamaModel.init(cfg, 100 + i, { std: 0.15, ...(k.position ? { position: k.position } : {}) });
    for (const [n, p] of model.params) if (n.endsWith('norm.weight')) for (let j = 0; j < p.length; j++) p[j] = 1 + 0.2 * Math.sin(j * 1.7 + i);
    const dir = join(tmp, `lmp-${k.name}`);
    lmp.saveModel(dir, model, { dtype: k.dtype ?? 'F32' });
    const saved = lmp.loadModel(dir); // the stored (bf16-rounded) weights
    let s = (i * 2654435761) >>> 0;
    const tokens = Array.from({ length: 80 }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 8) % vocab);
    const c = { name: k.name, tokens, lengths: k.lengths ?? [64], decode: 48, prefill: 16, vocab, dtype: k.dtype ?? 'F32' };
    writeFileSync(join(dir, 'case.json'), JSON.stringify(c));
    const dropped = k.position ? underRope(lmp, saved) : ropeDropped(lmp, saved);
    dirs.push({ dir, c, saved, out: lmpLogits(lmp, saved, c), wrong: dropped ? lmpLogits(lmp, dropped, c) : undefined });
  }
  execFileSync(py, [join(root, 'peers/hf/hf_peer.py'), 'logits', ...dirs.map((d) => d.dir)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HF_HUB_OFFLINE: '1', HF_HUB_DISABLE_PROGRESS_BARS: '1', TQDM_DISABLE: '1' } });
  for (const { dir, c, saved, out, wrong } of dirs) {
    const name = `lmp->hf ${c.name} (${c.dtype})`;
    for (const n of c.lengths) check(name, `forward ${n}`, out[n], f32(join(dir, `hf-${n}.f32`)), plainAt(saved, n) ? undefined : wrong?.[n]);
    check(name, `decode ${c.prefill}+${c.decode - c.prefill}`, out.decode, f32(join(dir, 'hf-decode.f32')), wrong?.decode);
    const warnings = JSON.parse(readFileSync(join(dir, 'warnings.json'), 'utf8'));
    if (warnings.length) {
      failed++;
      rows.push({ dir: name, what: 'from_pretrained warnings', maxAbs: NaN, ratio: NaN, ok: false, note: warnings.join(' | ') });
    } else passed++;
  }

  const refused = LMP_REFUSED.map((k, i) => {
    const cfg = { dim: 64, layers: 2, heads: 4, kvHeads: 2, ffn: 96, vocab, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: false, maxPositions: 128 };
    const dir = join(tmp, `lmp-${k.name}`);
    lmp.saveModel(dir, lmp.LlamaModel.init(cfg, 200 + i, { std: 0.15, position: k.position }));
    return { dir, k };
  });
  execFileSync(py, [join(root, 'peers/hf/hf_peer.py'), 'refuses', ...refused.map((r) => r.dir)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HF_HUB_OFFLINE: '1', HF_HUB_DISABLE_PROGRESS_BARS: '1', TQDM_DISABLE: '1' } });
  for (const { dir, k } of refused) {
    const r = JSON.parse(readFileSync(join(dir, 'refusals.json'), 'utf8'));
    for (const [loader, err] of Object.entries(r)) {
      const ok = typeof err === 'string';
      if (ok) passed++;
      else failed++;
      rows.push({ dir: `lmp->hf ${k.name}`, what: `${loader} refuses`, maxAbs: NaN, ratio: NaN, ok, note: ok ? err.split('\n')[0].slice(0, 120) : 'transformers loaded an ALiBi checkpoint (as a RoPE Llama)' });
    }
  }

  const fmt = (x) => (x === undefined ? '-' : Number.isNaN(x) ? '' : x.toExponential(2));
  console.log('| case | check | max abs diff | max diff / tol | RoPE dropped: max abs diff | ok |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(`| ${r.dir} | ${r.what} | ${fmt(r.maxAbs)} | ${fmt(r.ratio)} | ${fmt(r.wrong)} | ${r.ok ? 'yes' : 'NO'}${r.note ? ` (${r.note})` : ''} |`);
  console.log(`hf peers: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (e) {
  console.error(e?.stderr ? String(e.stderr) : '', e);
  console.log(`0 passed, 1 failed`);
} finally {
  if (!keep) rmSync(tmp, { recursive: true, force: true });
  else console.log(`kept ${tmp}`);
}
process.exit(code);
