// Fused attention vs onnxruntime-node running the same attention with an explicit T x T additive
// mask bias (MatMul(Q, K^T) * scale + bias -> Softmax -> MatMul(., V)), per mask, 1 and 2 threads.
// onnxruntime-node is NOT a project dependency: install it in a scratch directory and point
// ORT_DIR there (default /tmp/ort):
//   mkdir -p /tmp/ort && cd /tmp/ort && npm init -y && npm install --no-save --ignore-scripts onnxruntime-node
// (--ignore-scripts: its install script only fetches the optional CUDA provider from nuget.org; the
// CPU binaries ship in the npm package.) Run: node bench/attention/ort.mjs [--quick] [T]
// The ONNX model is encoded by hand (minimal protobuf writer below) and loaded from bytes.
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const quick = process.argv.includes('--quick');
if (!process.env.LMP_NATIVE_PATH && existsSync(join(root, 'build-attention/Release/lmp.node')))
  process.env.LMP_NATIVE_PATH = join(root, 'build-attention/Release/lmp.node');
const ortDir = process.env.ORT_DIR ?? '/tmp/ort';
const ort = createRequire(join(ortDir, 'package.json'))('onnxruntime-node');
const tArg = process.argv.slice(2).find((a) => /^\d+$/.test(a));
const T = tArg ? Number(tArg) : quick ? 1024 : 4096, D = 64, H = 2;
const reps = quick ? 2 : 3;

const tmp = mkdtempSync(join(tmpdir(), 'lmp-attn-ort-'));
const bundle = process.env.LMP_BENCH_BUNDLE ?? join(tmp, 'attn.mjs');
if (!process.env.LMP_BENCH_BUNDLE) {
  const { build } = await import('esbuild');
  await build({
    stdin: {
      contents: `export * from './runtime/attention/index.ts'; export { tileStats, docIdsFromLengths, denseMask } from './runtime/mask/index.ts'; export { native } from './runtime/native.ts';`,
      resolveDir: root,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile: bundle,
    logLevel: 'error',
    banner: { js: `import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);` },
  });
}
const A = await import(bundle);

// ---- minimal protobuf writer (only what an ONNX ModelProto needs) ----
const varint = (n) => {
  const b = [];
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n;
  do {
    let x = Number(v & 0x7fn);
    v >>= 7n;
    if (v) x |= 0x80;
    b.push(x);
  } while (v);
  return b;
};
const key = (f, wt) => varint((f << 3) | wt);
const fInt = (f, n) => [...key(f, 0), ...varint(n)];
const fBytes = (f, bytes) => [...key(f, 2), ...varint(bytes.length), ...bytes];
const fStr = (f, s) => fBytes(f, [...Buffer.from(s, 'utf8')]);
const fMsg = fBytes;
const attrInt = (name, i) => fMsg(5, [...fStr(1, name), ...fInt(3, i), ...fInt(20, 2)]);
const attrInts = (name, xs) => fMsg(5, [...fStr(1, name), ...xs.flatMap((x) => fInt(8, x)), ...fInt(20, 7)]);
const node = (op, ins, outs, attrs = []) => fMsg(1, [...ins.flatMap((s) => fStr(1, s)), ...outs.flatMap((s) => fStr(2, s)), ...fStr(3, `${op}_${outs[0]}`), ...fStr(4, op), ...attrs.flat()]);
const valueInfo = (f, name, dims) =>
  fMsg(f, [...fStr(1, name), ...fMsg(2, fMsg(1, [...fInt(1, 1), ...fMsg(2, dims.flatMap((d) => fMsg(1, fInt(1, d))))]))]);
const scalarInit = (name, x) => {
  const raw = [...new Uint8Array(Float32Array.of(x).buffer)];
  return fMsg(5, [...fInt(2, 1), ...fStr(8, name), ...fBytes(9, raw)]);
};
function attentionModel(T, D, H, scale) {
  const graph = [
    node('Transpose', ['k'], ['kt'], [attrInts('perm', [0, 1, 3, 2])]),
    node('MatMul', ['q', 'kt'], ['s']),
    node('Mul', ['s', 'scale'], ['ss']),
    node('Add', ['ss', 'bias'], ['sb']),
    node('Softmax', ['sb'], ['p'], [attrInt('axis', -1)]),
    node('MatMul', ['p', 'v'], ['o']),
    ...fStr(2, 'attention'),
    ...scalarInit('scale', scale),
    ...valueInfo(11, 'q', [1, H, T, D]),
    ...valueInfo(11, 'k', [1, H, T, D]),
    ...valueInfo(11, 'v', [1, H, T, D]),
    ...valueInfo(11, 'bias', [T, T]),
    ...valueInfo(12, 'o', [1, H, T, D]),
  ].flat();
  return Uint8Array.from([...fInt(1, 8), ...fStr(2, 'lmp-bench'), ...fMsg(8, [...fStr(1, ''), ...fInt(2, 17)]), ...fMsg(7, graph)]);
}

// ---- data (same generator and masks as run.mjs) ----
function rnd(n, seed) {
  let s = seed >>> 0;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = ((s >>> 8) & 0xffff) / 65536 - 0.5;
  }
  return x;
}
const q = rnd(T * H * D, 1), k = rnd(T * H * D, 2), v = rnd(T * H * D, 3);
const docLens = [];
for (let s = 0, x = 7; s < T; ) {
  x = (Math.imul(x, 1103515245) + 12345) >>> 0;
  const l = 100 + ((x >>> 16) % 401);
  docLens.push(l);
  s += l;
}
const docIds = A.docIdsFromLengths(docLens, T);
const causal = { op: 'causal' };
const and = (...args) => ({ op: 'and', args });
const or = (...args) => ({ op: 'or', args });
const masks = [
  ['full', { op: 'full' }],
  ['causal', causal],
  ['causal & window(512)', and(causal, { op: 'window', size: 512 })],
  ['window(256) (alone)', { op: 'window', size: 256 }],
  ['sink(64) (alone)', { op: 'sink', count: 64 }],
  ['prefix(1024)', { op: 'prefix', length: 1024 }],
  ['chunked(512)', { op: 'chunked', size: 512 }],
  ['causal & same_document', and(causal, { op: 'same_document' })],
  ['lambda: causal & (sink(4) | window(1k))', and(causal, or({ op: 'sink', count: 4 }, { op: 'window', size: 1024 }))],
  ['causal & chunked(512)', and(causal, { op: 'chunked', size: 512 })],
  ['causal & !window(64)', and(causal, { op: 'not', arg: { op: 'window', size: 64 } })],
];
// [T, H, D] -> [1, H, T, D] for ORT (done once, outside the timing).
const toHTD = (x) => {
  const y = new Float32Array(x.length);
  for (let t = 0; t < T; t++) for (let h = 0; h < H; h++) y.set(x.subarray((t * H + h) * D, (t * H + h + 1) * D), (h * T + t) * D);
  return y;
};
const feeds0 = {
  q: new ort.Tensor('float32', toHTD(q), [1, H, T, D]),
  k: new ort.Tensor('float32', toHTD(k), [1, H, T, D]),
  v: new ort.Tensor('float32', toHTD(v), [1, H, T, D]),
};
const scale = 1 / Math.sqrt(D);
const model = attentionModel(T, D, H, scale);
const timeAsync = async (fn) => {
  await fn();
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = process.hrtime.bigint();
    await fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e9);
  }
  return best;
};
const time = (fn) => {
  fn();
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = process.hrtime.bigint();
    fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e9);
  }
  return best;
};

console.log(`Command: \`node bench/attention/ort.mjs${quick ? ' --quick' : ''}${tArg ? ' ' + tArg : ''}\`; T = ${T}, d = ${D}, heads = ${H}, best of ${reps}; onnxruntime-node ${ort.env.versions?.common ?? ''} from ${ortDir}; ${new Date().toISOString()}`);
const denses = new Map(masks.map(([name, mask]) => [name, A.denseMask(mask, { qLen: T, kvLen: T, docIds })]));
for (const threads of [1, 2]) {
  A.native().setNumThreads(threads);
  const sess = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  console.log(`\n### ${threads} thread${threads > 1 ? 's' : ''}\n`);
  console.log('| mask | fused ms | onnxruntime ms (explicit T x T bias) | onnxruntime / fused | max abs diff |');
  console.log('|---|---|---|---|---|');
  for (const [name, mask] of masks) {
    const dense = denses.get(name);
    const bias = new Float32Array(T * T);
    for (let i = 0; i < T * T; i++) bias[i] = dense[i] ? 0 : -1e9; // finite: a fully masked row gives a uniform row, not NaN
    const feeds = { ...feeds0, bias: new ort.Tensor('float32', bias, [T, T]) };
    const inp = { q, k, v, heads: H, kvHeads: H, headDim: D, docIds, mask };
    const tf = time(() => A.attentionForward(inp));
    let res;
    const to = await timeAsync(async () => {
      res = await sess.run(feeds);
    });
    // Accuracy check on rows that see at least one key (ORT's output is [1, H, T, D]).
    const ours = A.attentionForward(inp).out;
    const o = res.o.data;
    let diff = 0;
    for (let t = 0; t < T; t++) {
      let any = false;
      for (let j = 0; j < T && !any; j++) any = dense[t * T + j] === 1;
      if (!any) continue;
      for (let h = 0; h < H; h++)
        for (let d = 0; d < D; d++) diff = Math.max(diff, Math.abs(o[(h * T + t) * D + d] - ours[(t * H + h) * D + d]));
    }
    console.log(`| ${name} | ${(tf * 1e3).toFixed(1)} | ${(to * 1e3).toFixed(1)} | ${(to / tf).toFixed(1)} | ${diff.toExponential(1)} |`);
  }
  await sess.release();
}
A.native().setNumThreads(0);
