// lmp against llama.cpp's own engine (through node-llama-cpp, prebuilt CPU binaries) on the same
// weights: lmp's random-init Llama written to GGUF F32 by ./gguf.mjs, F32 KV cache, llama.cpp's
// flash attention off, greedy. Prefill (the prompt in one batch) and generation tokens/s at 1 and
// 2 threads, alternating lmp and llama.cpp repetition by repetition in one process; medians.
//   bash bench/peers/llamacpp/setup.sh     (once: node-llama-cpp into build-peers/llamacpp)
//   node bench/peers/llamacpp/run.mjs [--threads 1,2] [--reps 5] [--prompt 128] [--new 128] [--no-write] [--before ADDON]
// --before ADDON: an older lmp build (its own runtime copy) measured in the same alternation.
// Writes the "## peers: llama.cpp" section of bench/RESULTS.md.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { arg, argmax, decodeCfg, f, flag, list, machineLine, median, ratio, root, runtime, tmp, transcript, writeSection } from '../common.mjs';
import { writeGguf } from './gguf.mjs';

const dir = process.env.LMP_LLAMACPP_DIR ?? join(root, 'build-peers/llamacpp');
const entry = join(dir, 'node_modules/node-llama-cpp/dist/index.js');
if (!existsSync(entry)) {
  console.error('node-llama-cpp is not installed: run `bash bench/peers/llamacpp/setup.sh` first');
  process.exit(2);
}
const { getLlama } = await import(pathToFileURL(entry).href);
const R = await runtime();
const N = R.native();
const B = arg('before') ? await runtime(arg('before')) : undefined;
const threadList = list('threads', '1,2').map(Number);
const reps = Number(arg('reps', '5'));
const P = Number(arg('prompt', '128')), G = Number(arg('new', '128'));

const model = R.LlamaModel.init(decodeCfg, 3, { attention: R.fusedAttention() });
const modelB = B ? B.LlamaModel.init(decodeCfg, 3, { attention: B.fusedAttention() }) : undefined;
const gguf = writeGguf(join(tmp, 'model.gguf'), model, { contextLength: 2 * (P + G) });
const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error', progressLogs: false });
const lm = await llama.loadModel({ modelPath: gguf, gpuLayers: 0 });
const prompt = Int32Array.from({ length: P }, (_, i) => 3 + ((i * 2654435761) >>> 0) % (decodeCfg.vocab - 3));

const now = () => Number(process.hrtime.bigint()) / 1e9;

function lmpRun(m = model) {
  const s = m.session();
  const toks = [];
  const t0 = now();
  const l0 = s.next(prompt);
  const t1 = now();
  toks.push(argmax(l0));
  for (let i = 1; i < G; i++) toks.push(argmax(s.next(Int32Array.of(toks[i - 1]))));
  return { prefill: t1 - t0, gen: now() - t1, toks, logits0: l0 };
}

async function cppRun(ctx) {
  const seq = ctx.getSequence();
  try {
    const t0 = now();
    await seq.evaluateWithoutGeneratingNewTokens(Array.from(prompt));
    const prefill = now() - t0;
    await seq.clearHistory();
    // Generation: the same prompt, then G greedy tokens; timed from the first token to the last.
    const toks = [];
    let t1 = 0;
    for await (const tok of seq.evaluate(Array.from(prompt), { temperature: 0 })) {
      if (toks.length === 0) t1 = now();
      toks.push(tok);
      if (toks.length === G) break;
    }
    return { prefill, gen: now() - t1, toks };
  } finally {
    seq.dispose();
  }
}

const { lines: out, say } = transcript();
say('');
say(`${machineLine(N.version().simd)} node-llama-cpp 3.22.1 (llama.cpp's CPU backend picks its kernels for this CPU at run time). Command: \`node bench/peers/llamacpp/run.mjs${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}\`.`);
say(`Model: lmp's ${(model.numParams() / 1e6).toFixed(1)}M-parameter Llama (dim ${decodeCfg.dim}, ${decodeCfg.layers} layers, ${decodeCfg.heads} heads / ${decodeCfg.kvHeads} kv, ffn ${decodeCfg.ffn}, vocab ${decodeCfg.vocab}, random init), written to GGUF F32 by bench/peers/llamacpp/gguf.mjs; F32 KV cache, flash attention off, greedy; prompt ${P} tokens in one batch, ${G} generated; medians of ${reps} alternating repetitions. Generation tok/s = (G - 1) / time from the first generated token to the last.`);
say('');
say(`| threads | lmp prefill tok/s | llama.cpp prefill tok/s | lmp / llama.cpp | lmp generation tok/s | llama.cpp generation tok/s | lmp / llama.cpp | same greedy tokens | lmp 2-thread / 1-thread generation |${B ? ' lmp before: prefill / generation tok/s (vs llama.cpp) |' : ''}`);
say(`| --- | --- | --- | --- | --- | --- | --- | --- | --- |${B ? ' --- |' : ''}`);
const rows = [];
for (const threads of threadList) {
  N.setNumThreads(threads);
  B?.native().setNumThreads(threads);
  const ctx = await lm.createContext({
    contextSize: 2 * (P + G), batchSize: Math.max(512, P), threads, flashAttention: false,
    experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32',
  });
  lmpRun();
  if (modelB) lmpRun(modelB);
  await cppRun(ctx);
  const t = { lp: [], lg: [], cp: [], cg: [], bp: [], bg: [] };
  let same = 0;
  for (let r = 0; r < reps; r++) {
    if (modelB) {
      const o = lmpRun(modelB);
      t.bp.push(o.prefill), t.bg.push(o.gen);
    }
    const a = lmpRun();
    const b = await cppRun(ctx);
    t.lp.push(a.prefill), t.lg.push(a.gen), t.cp.push(b.prefill), t.cg.push(b.gen);
    let n = 0;
    while (n < G && a.toks[n] === b.toks[n]) n++;
    same = n;
  }
  await ctx.dispose();
  const row = { threads, lp: P / median(t.lp), cp: P / median(t.cp), lg: (G - 1) / median(t.lg), cg: (G - 1) / median(t.cg), same, ...(modelB ? { bp: P / median(t.bp), bg: (G - 1) / median(t.bg) } : {}) };
  rows.push(row);
  const one = rows.find((x) => x.threads === 1);
  say(`| ${threads} | ${f(row.lp, 0)} | ${f(row.cp, 0)} | ${ratio(row.lp, row.cp)} | ${f(row.lg, 0)} | ${f(row.cg, 0)} | ${ratio(row.lg, row.cg)} | ${same}/${G} | ${threads > 1 && one ? `lmp ${(row.lg / one.lg).toFixed(2)}x, llama.cpp ${(row.cg / one.cg).toFixed(2)}x` : ''} |${modelB ? ` ${f(row.bp, 0)} / ${f(row.bg, 0)} (${ratio(row.bp, row.cp)} / ${ratio(row.bg, row.cg)}) |` : ''}`);
}
say('');
say("Note: at 2 threads node-llama-cpp's binding starts and joins ggml's worker threads for every evaluated batch (every generated token), a cost llama.cpp's own CLI tools avoid with a persistent thread pool: its 2-thread generation figure is lower than llama.cpp's best.");
await lm.dispose();
await llama.dispose();
N.setNumThreads(0);
if (!flag('no-write')) writeSection('peers: llama.cpp', [...out, '']);
