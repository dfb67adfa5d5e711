// lmp against PyTorch (CPU, fp32) on the same machine, alternating in one run, 1 and 2 threads:
//   attention   forward and forward+backward, masks full / causal / document / window / sinks+window,
//               T = 1k and 4k, 8 heads, d = 64: SDPA (boolean mask, or is_causal) and compiled
//               FlexAttention (block mask built outside the timing)
//   train       the training step (fwd + bwd + clip + AdamW) of the same 4.85M Llama from the same
//               safetensors init and batch: HF LlamaForCausalLM eager and torch.compile; the loss
//               of the init is checked equal first
//   sampling    lmp's sampler chain against HF logits processors + softmax + multinomial
//   decode      greedy prefill + generation of a 22.8M Llama against HF generate()
//
//   bash bench/peers/pytorch/setup.sh      (once: the venv with torch CPU + transformers)
//   node bench/peers/pytorch/run.mjs [--only attention,train,sampling,decode] [--threads 1,2]
//        [--reps 3] [--lengths 1024,4096] [--train-lengths 256,512,1024,2048] [--masks ...]
//        [--json out.json] [--no-write] [--before ADDON] [--gap MS]
// --gap MS (default 50): an idle pause before every timed call, lmp's and the peer's, so neither
// runs while the other's threads still spin after their last job (libgomp's workers spin after a
// parallel region: lmp's 2-thread rows timed right after a PyTorch call read up to 1.4x slow).
// --before ADDON: also runs lmp on an older build of the addon (its own copy of the runtime),
// alternating with the current one and the peers, for same-run before/after columns.
// Prints the tables and writes the "## peers: PyTorch" section of bench/RESULTS.md. Ratios are
// peer time / lmp time: above 1 lmp is faster. Every figure is a median over --reps repetitions,
// lmp and the peers alternating repetition by repetition.
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { arg, argmax, decodeCfg, dump, f, flag, list, machineLine, median, ratio, rnd, root, runtime, secs, timed, tmp, transcript, writeSection } from '../common.mjs';

const only = new Set(list('only', 'attention,train,sampling,decode'));
const threadList = list('threads', '1,2').map(Number);
const reps = Number(arg('reps', '3'));
const gapMs = Number(arg('gap', '50'));
const settle = () => new Promise((r) => setTimeout(r, gapMs));
const venv = process.env.LMP_PEERS_VENV ?? [join(root, '.venv-py'), join(root, 'build-peers/venv')].find((p) => existsSync(join(p, 'bin/python')));
if (!venv) {
  console.error('no Python venv with torch: run `bash bench/peers/pytorch/setup.sh` first');
  process.exit(2);
}

// ---------------------------------------------------------------- the Python peer
const py = spawn(join(venv, 'bin/python'), [join(root, 'bench/peers/pytorch/peer.py')], { stdio: ['pipe', 'pipe', 'inherit'] });
const lines = createInterface({ input: py.stdout });
const waiting = [];
lines.on('line', (l) => waiting.shift()?.(JSON.parse(l)));
py.on('exit', (c) => {
  if (waiting.length) {
    console.error(`the PyTorch peer exited (${c})`);
    process.exit(2);
  }
});
function call(req) {
  return new Promise((res, rej) => {
    waiting.push((r) => (r.error ? rej(new Error(`peer ${req.op}: ${r.error}`)) : res(r)));
    py.stdin.write(JSON.stringify(req) + '\n');
  });
}

const R = await runtime();
const N = R.native();
const B = arg('before') ? await runtime(arg('before')) : undefined; // the older build, or none
const BN = B?.native();
const simd = N.version().simd;
const ver = await call({ op: 'version' });
const setThreads = async (n) => {
  N.setNumThreads(n);
  BN?.setNumThreads(n);
  await call({ op: 'threads', n });
};
const results = { machine: machineLine(simd), torch: ver, attention: [], train: [], sampling: [], decode: [] };
const { lines: out, say } = transcript();
say(`${results.machine} torch ${ver.torch} (CPU capability ${ver.isa}), transformers ${ver.transformers}. Command: \`node bench/peers/pytorch/run.mjs${process.argv.slice(2).length ? ' ' + process.argv.slice(2).join(' ') : ''}\`; medians of ${reps} alternating repetitions; ratio = PyTorch time / lmp time (above 1: lmp faster).`);

// ---------------------------------------------------------------- attention
const H = 8, D = 64;
const causal = { op: 'causal' };
const and = (...args) => ({ op: 'and', args });
const maskDefs = (T) => ({
  full: { ir: { op: 'full' } },
  causal: { ir: causal },
  document: { ir: and(causal, { op: 'same_document' }) },
  window: { ir: and(causal, { op: 'window', size: T / 8 }), window: T / 8 },
  sinks_window: { ir: and(causal, { op: 'or', args: [{ op: 'sink', count: 4 }, { op: 'window', size: T / 4 }] }), window: T / 4, sinks: 4 },
});
function docs(T) {
  const lens = [];
  for (let s = 0, x = 7; s < T; ) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const l = 100 + ((x >>> 16) % 401);
    lens.push(Math.min(l, T - s));
    s += l;
  }
  return R.docIdsFromLengths(lens, T);
}

if (only.has('attention')) {
  say('\n### attention (8 heads, d = 64, one sequence of T tokens; documents 100..500 tokens)\n');
  say('CPU ratio: the same ratio over process CPU time (user + system), which the other jobs on a shared machine disturb far less at 1 thread.\n');
  say(`| threads | T | mask | pass | lmp ms | SDPA ms | SDPA / lmp | SDPA / lmp (CPU) | FlexAttention ms | Flex / lmp | max abs diff vs SDPA |${B ? ' lmp before ms | SDPA / lmp before |' : ''}`);
  say(`| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |${B ? ' --- | --- |' : ''}`);
  const masks = list('masks', 'full,causal,document,window,sinks_window');
  for (const threads of threadList) {
    await setThreads(threads);
    for (const T of list('lengths', '1024,4096').map(Number)) {
      const q = rnd(T * H * D, 1), k = rnd(T * H * D, 2), v = rnd(T * H * D, 3), dout = rnd(T * H * D, 4);
      const docIds = docs(T);
      const files = { q: dump('q.f32', q), k: dump('k.f32', k), v: dump('v.f32', v), dout: dump('do.f32', dout), doc: dump('doc.i32', docIds) };
      for (const name of masks) {
        const m = maskDefs(T)[name];
        const inp = { q, k, v, heads: H, kvHeads: H, headDim: D, docIds, mask: m.ir };
        const setup = await call({ op: 'attn_setup', T, H, D, mask: name, window: m.window ?? 0, sinks: m.sinks ?? 0, ...files });
        const fwd = R.attentionForward(inp);
        const outFile = dump('out.f32', fwd.out);
        for (const pass of ['fwd', 'fwdbwd']) {
          const run = (M) => (pass === 'fwd' ? () => M.attentionForward(inp) : () => M.attentionBackward({ ...inp, ...M.attentionForward(inp), dout }));
          const lmpRun = run(R), baseRun = B ? run(B) : undefined;
          lmpRun(); // warm
          baseRun?.();
          const t = { lmp: [], sdpa: [], flex: [], lmpCpu: [], sdpaCpu: [], before: [] };
          let diff;
          for (let r = 0; r < reps; r++) {
            if (baseRun) {
              await settle();
              t.before.push(secs(baseRun));
            }
            await settle();
            const a = timed(lmpRun);
            t.lmp.push(a.s), t.lmpCpu.push(a.cpu);
            await settle();
            const s = await call({ op: 'attn', impl: 'sdpa', mode: pass, out: r === 0 && pass === 'fwd' ? outFile : undefined });
            if (s.maxAbsDiff !== undefined) diff = s.maxAbsDiff;
            t.sdpa.push(s.s), t.sdpaCpu.push(s.cpu);
            await settle();
            const fl = (await call({ op: 'attn', impl: 'flex', mode: pass })).s;
            if (fl !== null) t.flex.push(fl);
          }
          const row = { threads, T, mask: name, pass, lmp: median(t.lmp), sdpa: median(t.sdpa), lmpCpu: median(t.lmpCpu), sdpaCpu: median(t.sdpaCpu), flex: t.flex.length ? median(t.flex) : undefined, before: t.before.length ? median(t.before) : undefined, maxAbsDiff: diff, flexMaskBuildS: setup.maskBuildS };
          results.attention.push(row);
          say(`| ${threads} | ${T} | ${name} | ${pass === 'fwd' ? 'forward' : 'fwd+bwd'} | ${f(row.lmp * 1e3)} | ${f(row.sdpa * 1e3)} | ${ratio(row.sdpa, row.lmp)} | ${ratio(row.sdpaCpu, row.lmpCpu)} | ${row.flex === undefined ? 'n/a (no CPU backward)' : f(row.flex * 1e3)} | ${ratio(row.flex, row.lmp)} | ${diff === undefined ? '' : diff.toExponential(1)} |${B ? ` ${f(row.before * 1e3)} | ${ratio(row.sdpa, row.before)} |` : ''}`);
        }
      }
    }
  }
}

// ---------------------------------------------------------------- training step
const cfg = { dim: 256, layers: 6, heads: 4, kvHeads: 2, ffn: 768, vocab: 256, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: false };
const trainOpts = { lr: 1e-3, clip: 1, wd: 0.1 };
if (only.has('train')) {
  const probe = R.LlamaModel.init(cfg, 1);
  say(`\n### training step (${(probe.numParams() / 1e6).toFixed(2)}M-parameter Llama: dim 256, 6 layers, 4 heads / 2 kv, ffn 768, vocab 256; one sequence of T tokens; fwd + bwd + clip 1 + AdamW)\n`);
  say('Same init (lmp writes model.safetensors, HF loads it) and the same batch; "loss check" = |lmp loss - HF loss| of the init.\n');
  say(`| threads | T | lmp tokens/s | eager tokens/s | eager / lmp time | eager / lmp (CPU) | compiled tokens/s | compiled / lmp time | compiled / lmp (CPU) | loss check |${B ? ' lmp before tokens/s | eager / lmp before (CPU) |' : ''}`);
  say(`| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |${B ? ' --- | --- |' : ''}`);
  for (const threads of threadList) {
    await setThreads(threads);
    for (const T of list('train-lengths', '256,512,1024,2048').map(Number)) {
      const model = R.LlamaModel.init(cfg, 1, { attention: R.fusedAttention() });
      const dir = join(tmp, `model-${T}`);
      R.saveModel(dir, model);
      const tokens = Int32Array.from({ length: T }, (_, i) => (i * 31 + 7 + ((i * i) % 13)) % cfg.vocab);
      const batch = { tokens, cuSeqlens: Int32Array.of(0, T), positionIds: Int32Array.from({ length: T }, (_, i) => i), docIds: new Int32Array(T), lossMask: new Uint8Array(T).fill(1) };
      const l0 = model.loss(batch);
      const lmpLoss0 = l0.lossSum / l0.count;
      const setup = await call({ op: 'train_setup', dir, tokens: dump('tokens.i32', tokens), ...trainOpts });
      const tr = new R.Trainer(model, (function* () { for (;;) yield batch; })(), { lr: trainOpts.lr, totalSteps: 1000, clip: trainOpts.clip, weightDecay: trainOpts.wd });
      tr.trainStep(); // warm-up
      let trB;
      if (B) {
        const mb = B.LlamaModel.init(cfg, 1, { attention: B.fusedAttention() });
        trB = new B.Trainer(mb, (function* () { for (;;) yield batch; })(), { lr: trainOpts.lr, totalSteps: 1000, clip: trainOpts.clip, weightDecay: trainOpts.wd });
        trB.trainStep();
      }
      const t = { lmp: [], eager: [], compiled: [], lmpCpu: [], eagerCpu: [], compiledCpu: [], before: [], beforeCpu: [] };
      for (let r = 0; r < reps; r++) {
        if (trB) {
          await settle();
          const b = timed(() => trB.trainStep());
          t.before.push(b.s), t.beforeCpu.push(b.cpu);
        }
        await settle();
        const a = timed(() => tr.trainStep());
        t.lmp.push(a.s), t.lmpCpu.push(a.cpu);
        for (const mode of ['eager', 'compiled']) {
          await settle();
          const e = await call({ op: 'train', mode });
          t[mode].push(e.s), t[mode + 'Cpu'].push(e.cpu);
        }
      }
      const row = { threads, T, lmp: median(t.lmp), eager: median(t.eager), compiled: median(t.compiled), lmpCpu: median(t.lmpCpu), eagerCpu: median(t.eagerCpu), compiledCpu: median(t.compiledCpu), before: t.before.length ? median(t.before) : undefined, beforeCpu: t.beforeCpu.length ? median(t.beforeCpu) : undefined, lossDiff: Math.abs(lmpLoss0 - setup.loss0), loss0: lmpLoss0 };
      results.train.push(row);
      say(`| ${threads} | ${T} | ${f(T / row.lmp, 0)} | ${f(T / row.eager, 0)} | ${ratio(row.eager, row.lmp)} | ${ratio(row.eagerCpu, row.lmpCpu)} | ${f(T / row.compiled, 0)} | ${ratio(row.compiled, row.lmp)} | ${ratio(row.compiledCpu, row.lmpCpu)} | ${row.lossDiff.toExponential(1)} (loss ${row.loss0.toFixed(4)}) |${B ? ` ${f(T / row.before, 0)} | ${ratio(row.eagerCpu, row.beforeCpu)} |` : ''}`);
    }
  }
}

// ---------------------------------------------------------------- sampling
if (only.has('sampling')) {
  // Kind numbers mirror runtime/decode/chain.ts (KIND) and native/src/sampling/sampling.h.
  const KIND = { temperature: 0, top_k: 1, top_p: 2, min_p: 3, typical: 4 };
  const P = { k: 50, p: 0.9, minP: 0.05, typical: 0.9, temp: 0.8 };
  const chains = {
    top_k: [{ kind: KIND.top_k, n: P.k }],
    top_p: [{ kind: KIND.top_p, a: P.p }],
    min_p: [{ kind: KIND.min_p, a: P.minP }],
    typical: [{ kind: KIND.typical, a: P.typical }],
    'temperature+top_k+top_p': [{ kind: KIND.temperature, a: P.temp }, { kind: KIND.top_k, n: P.k }, { kind: KIND.top_p, a: P.p }],
  };
  say('\n### sampling (one draw per call: lmp SamplerChain.sample vs HF logits processors + softmax + torch.multinomial; 1 thread)\n');
  say('| V | chain | lmp µs | HF µs | HF / lmp |');
  say('| --- | --- | --- | --- | --- |');
  await setThreads(1);
  for (const V of [32768, 131072]) {
    const x = rnd(V, V, 12);
    for (let j = 0; j < 5; j++) x[(j * 7919) % V] = 16 - j;
    await call({ op: 'sampling_setup', V, logits: dump('logits.f32', x), ...P });
    for (const [name, specs] of Object.entries(chains)) {
      const chain = new N.SamplerChain(specs, V, 1);
      const inner = 50;
      const t = { lmp: [], hf: [] };
      for (let r = 0; r < reps; r++) {
        const one = [];
        for (let i = 0; i < inner; i++) one.push(secs(() => chain.sample(x)));
        t.lmp.push(median(one));
        t.hf.push((await call({ op: 'sampling', name, reps: inner })).s);
      }
      const row = { V, name, lmp: median(t.lmp), hf: median(t.hf) };
      results.sampling.push(row);
      say(`| ${V} | ${name} | ${f(row.lmp * 1e6)} | ${f(row.hf * 1e6)} | ${ratio(row.hf, row.lmp)} |`);
    }
  }
}

// ---------------------------------------------------------------- decode
if (only.has('decode')) {
  const model = R.LlamaModel.init(decodeCfg, 3, { attention: R.fusedAttention() });
  const dir = join(tmp, 'model-decode');
  R.saveModel(dir, model);
  await call({ op: 'model_setup', dir });
  const P = Number(arg('prompt', '128')), G = Number(arg('new', '128'));
  const prompt = Int32Array.from({ length: P }, (_, i) => (i * 2654435761) % decodeCfg.vocab >>> 0);
  const promptFile = dump('prompt.i32', prompt);
  say(`\n### decode (${(model.numParams() / 1e6).toFixed(1)}M-parameter Llama: dim 512, 6 layers, 8 heads / 4 kv, ffn 1536, vocab 4096; greedy; prompt ${P}, ${G} new tokens; full KV cache)\n`);
  say(`| threads | lmp prefill tok/s | HF prefill tok/s | HF / lmp time | lmp generation tok/s | HF generate() tok/s | HF / lmp time | same tokens |${B ? ' lmp before prefill / generation tok/s |' : ''}`);
  say(`| --- | --- | --- | --- | --- | --- | --- | --- |${B ? ' --- |' : ''}`);
  const modelB = B ? B.LlamaModel.init(decodeCfg, 3, { attention: B.fusedAttention() }) : undefined;
  const lmpDecode = (m = model) => {
    const s = m.session();
    let toks = [];
    const tp = secs(() => toks.push(argmax(s.next(prompt))));
    const tg = secs(() => {
      for (let i = 1; i < G; i++) toks.push(argmax(s.next(Int32Array.of(toks[toks.length - 1]))));
    });
    return { tp, tg, toks };
  };
  for (const threads of threadList) {
    await setThreads(threads);
    lmpDecode();
    if (modelB) lmpDecode(modelB);
    const t = { lp: [], lg: [], hp: [], hg: [], bp: [], bg: [] };
    let same = '';
    for (let r = 0; r < reps; r++) {
      if (modelB) {
        await settle();
        const b = lmpDecode(modelB);
        t.bp.push(b.tp), t.bg.push(b.tg);
      }
      await settle();
      const a = lmpDecode();
      await settle();
      const h = await call({ op: 'generate', prompt: promptFile, new: G });
      t.lp.push(a.tp), t.lg.push(a.tg), t.hp.push(h.prefillS), t.hg.push(h.generateS);
      let n = 0;
      while (n < G && a.toks[n] === h.tokens[n]) n++;
      same = `${n}/${G}`;
    }
    // lmp's generation time covers G - 1 steps after the prefill's token; generate() runs its own
    // prefill plus G - 1 steps, so its per-token rate excludes the separately timed prefill.
    const lmpGen = (G - 1) / median(t.lg), hfGen = (G - 1) / Math.max(1e-9, median(t.hg) - median(t.hp));
    const row = { threads, lmpPrefill: P / median(t.lp), hfPrefill: P / median(t.hp), lmpGen, hfGen, same, ...(modelB ? { beforePrefill: P / median(t.bp), beforeGen: (G - 1) / median(t.bg) } : {}) };
    results.decode.push(row);
    say(`| ${threads} | ${f(row.lmpPrefill, 0)} | ${f(row.hfPrefill, 0)} | ${ratio(row.lmpPrefill, row.hfPrefill)} | ${f(lmpGen, 0)} | ${f(hfGen, 0)} | ${ratio(lmpGen, hfGen)} | ${same} |${modelB ? ` ${f(row.beforePrefill, 0)} / ${f(row.beforeGen, 0)} |` : ''}`);
  }
}

py.stdin.end();
N.setNumThreads(0);
const jsonOut = arg('json');
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 1));
if (!flag('no-write')) writeSection('peers: PyTorch', ['', ...out, '']);
