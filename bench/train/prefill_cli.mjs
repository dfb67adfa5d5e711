// Prefill through `lmpc run`: a decode over a data declaration of prompts (JSONL) with
// `pack prepack()` (prompts bin-packed by BFD into sequences of the longest prompt, positions
// restarting per prompt) against the same prompts with `pack pad(L)` (a padded batch: every
// prompt right-padded to the longest). Same model (untrained, seeded), same prompts as
// bench/train/prefill.mjs (lognormal lengths, seeded), as UTF-8 bytes. Each mode is its own
// `lmpc run --json` process (dist/compiler/cli.js, `npm run build:ts` first); the prefill time is
// the `prefill.seconds` the run reports (the forward of the prompts only), best of --reps
// processes; max_tokens 1 so the decode after it is one token per prompt. Both modes must give the
// same first token for every prompt. Appends "## prefill through lmpc run" to bench/RESULTS.md
// unless --no-write.
//   node bench/train/prefill_cli.mjs [--prompts 64] [--median 96] [--sigma 1.0] [--max 1024] [--reps 3] [--no-write]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const N = Number(arg('prompts', '64')), MEDIAN = Number(arg('median', '96')), SIGMA = Number(arg('sigma', '1.0'));
const MAXLEN = Number(arg('max', '1024')), REPS = Number(arg('reps', '3'));

// the seeded lognormal lengths of bench/train/prefill.mjs; text of printable ASCII (one byte per token)
let s = 99;
const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 4294967296;
const lens = Array.from({ length: N }, () => Math.max(4, Math.min(MAXLEN, Math.round(MEDIAN * Math.exp(SIGMA * Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()))))));
const prompts = lens.map((n) => Array.from({ length: n }, () => String.fromCharCode(97 + Math.floor(u() * 26))).join(''));

const dir = mkdtempSync(join(tmpdir(), 'lmp-bench-prefill-cli-'));
writeFileSync(join(dir, 'prompts.jsonl'), prompts.map((p) => JSON.stringify({ prompt: p })).join('\n') + '\n');
const file = join(dir, 'prefill.lmp');
writeFileSync(
  file,
  `tokenizer bytes = bytes()

data packed_prompts {
  source jsonl("prompts.jsonl", field: "prompt")
  tokenizer bytes
  pack prepack(capacity: longest, algorithm: best_fit_decreasing)
}

data padded_prompts {
  source jsonl("prompts.jsonl", field: "prompt")
  tokenizer bytes
  pack pad(${MAXLEN})
}

model m {
  arch llama(dim: 256, layers: 4, heads: 4, kv_heads: 2, ffn: 768)
  vocab bytes
  seed 7
}

decode packed {
  model m
  prompt packed_prompts
  policy greedy
  max_tokens 1
}

decode padded {
  model m
  prompt padded_prompts
  policy greedy
  max_tokens 1
}
`,
);
const cli = join(root, 'dist', 'compiler', 'cli.js');
const run = (target) => {
  const out = execFileSync(process.execPath, [cli, 'run', file, '--target', target, '--json', '--cache-dir', join(dir, 'build')], { encoding: 'utf8', env: { ...process.env, CI: '1' }, maxBuffer: 1 << 28 });
  return JSON.parse(out).results[0];
};
const best = {};
for (const mode of ['padded', 'packed']) {
  for (let i = 0; i < REPS; i++) {
    const r = run(mode);
    if (!best[mode] || r.prefill.seconds < best[mode].prefill.seconds) best[mode] = r;
    console.error(`${mode} run ${i + 1}: prefill ${(r.prefill.seconds * 1000).toFixed(0)} ms, ${r.prefill.tokensRun} tokens in ${r.prefill.sequences} sequences`);
  }
}
const a = best.padded, b = best.packed;
const same = a.prompts.every((p, i) => p.tokens[0] === b.prompts[i].tokens[0]);
if (!same) throw new Error('padded and prepacked prefill chose different first tokens');
const real = b.prefill.promptTokens;
const ratio = a.prefill.seconds / b.prefill.seconds;
const sorted = [...lens].sort((x, y) => x - y);
const row = (name, r) => `| ${name} | ${r.prefill.sequences} | ${r.prefill.tokensRun} | ${(100 * (1 - real / r.prefill.tokensRun)).toFixed(1)}% | ${(r.prefill.seconds * 1000).toFixed(0)} |`;
const text = `
## prefill through lmpc run

Command: \`node bench/train/prefill_cli.mjs --prompts ${N} --median ${MEDIAN} --sigma ${SIGMA} --max ${MAXLEN} --reps ${REPS}\`
(${cpus()[0]?.model.trim() ?? 'CPU'}, ${cpus().length} cores, shared). A decode over a JSONL file of ${N} prompts (\`prompt P\`, P a data declaration), \`pack prepack(capacity: longest, algorithm: best_fit_decreasing)\` against \`pack pad(${MAXLEN})\` (a padded batch), through \`lmpc run --json\` (prefill.seconds, best of ${REPS} processes each). Model: dim 256, 4 layers, 4 heads (2 KV), ffn 768, vocab 257 (bytes), fp32, untrained. Lengths as ## prefill: min ${sorted[0]}, median ${sorted[Math.floor(N / 2)]}, max ${sorted[N - 1]}, ${real} real tokens.

| | sequences | tokens run | padding | best prefill ms |
| --- | --- | --- | --- | --- |
${row('padded batch (pack pad)', a)}
${row('prepacked (pack prepack, BFD, capacity = longest)', b)}

Prepacking through lmpc run: ${ratio.toFixed(2)}x faster prefill; the same first token for every prompt in both modes.
`;
console.log(text);
if (!process.argv.includes('--no-write')) writeFileSync(join(root, 'bench', 'RESULTS.md'), readFileSync(join(root, 'bench', 'RESULTS.md'), 'utf8') + text);
