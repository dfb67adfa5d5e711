// Front-end throughput: check (parse + analyze) on a large generated file, and the wall time of
// `lmpc check` on every example as a whole process. Needs the build: `npx tsc -p tsconfig.json`.
//   node bench/frontend/run.mjs
// Baseline measured in the same run: lexing+parsing alone, so the analyze share is a ratio.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const { parse } = await import('../../dist/grammar/index.js');
const { check } = await import('../../dist/compiler/index.js');

function generate(blocks) {
  let s = '';
  for (let i = 0; i < blocks; i++) {
    s += `tokenizer t${i} = bytes()
data d${i} {
  source text("corpus/${i}/*.txt")
  source jsonl("c${i}.jsonl", field: "content") weight 0.25
  tokenizer t${i}
  holdout 2% seed 7
  pack decompose(min: 256, max: 8k)
}
curriculum c${i} {
  tokens_per_step 64k
  weights { 256: 32, 512: 16, 1k: 8, 2k: 4, 4k: 2, 8k: 1 }
  cycles 8
}
attention a${i} {
  mask causal & (sink(${4 + (i % 8)}) | window(${256 << (i % 3)}))
  position rope(theta: 100000)
}
model m${i} {
  arch llama(dim: 256, layers: 4, heads: 8, kv_heads: 4, ffn: 704)
  attention a${i}
}
train r${i} {
  model m${i}
  data d${i}
  curriculum c${i}
  optimizer adamw(lr: 3e-4, betas: (0.9, 0.95), weight_decay: 0.1)
  schedule warmup(100) then cosine(to: 10%)
  steps 2000
  eval every 200: perplexity(d${i}.holdout, by: length)
}
decode s${i} { model m${i}  policy repetition(1.1, last: 64) -> top_k(100) -> mirostat(tau: 3.0, eta: 0.1)  max_tokens 2k }
`;
  }
  return s;
}

const best = (f, n = 5) => {
  let b = Infinity;
  let r;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    r = f();
    b = Math.min(b, performance.now() - t0);
  }
  return [b, r];
};

for (const blocks of [250, 2500]) {
  const text = generate(blocks);
  const lines = text.split('\n').length;
  const mb = Buffer.byteLength(text) / 2 ** 20;
  const [tp] = best(() => parse(text, 'big.lmp'));
  const [tc, res] = best(() => check(text, 'big.lmp'));
  if (res.diagnostics.length !== 0) throw new Error(`generated file should check clean: ${res.diagnostics[0].message}`);
  console.log(
    `${lines} lines (${mb.toFixed(2)} MB): parse ${tp.toFixed(0)} ms, check ${tc.toFixed(0)} ms = ${(lines / (tc / 1000)).toFixed(0)} lines/s, ${(mb / (tc / 1000)).toFixed(2)} MB/s; analyze/parse ratio ${((tc - tp) / tp).toFixed(2)}`,
  );
}

const examples = readdirSync('examples').filter((f) => f.endsWith('.lmp')).map((f) => `examples/${f}`);
const wall = [];
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  try {
    execFileSync(process.execPath, ['dist/compiler/cli.js', 'check', ...examples], { stdio: 'pipe' });
  } catch {
    // diagnostics exit 1; the time still counts
  }
  wall.push(performance.now() - t0);
}
const t0 = performance.now();
execFileSync(process.execPath, ['-e', '0']);
const nodeStart = performance.now() - t0;
console.log(`lmpc check ${examples.length} examples (whole process): best ${Math.min(...wall).toFixed(0)} ms; bare node start ${nodeStart.toFixed(0)} ms`);
