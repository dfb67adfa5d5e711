// Language-server latency over stdio, as an editor sees it: `lmpc lsp --stdio` in a child
// process, vscode-jsonrpc as the client, a 2,000-line file (bench/frontend/gen.mjs, 65 clean
// pipelines). Warm server (a warm-up of 15 rounds first).
//   - change → diagnostics: didChange (one edit in the middle of the file) after a quiet spell
//     (the debouncer's leading edge) until the publishDiagnostics of that version arrives; an
//     edit that keeps the file valid (the full checker runs) and one that breaks the syntax
//   - completion: a request in the middle of the file, the document already checked; and
//     right after a didChange (the new version is parsed on demand)
// Baseline in the same run: check() of the same text in this process (the checker alone).
//   npm run build:ts && node bench/lsp/run.mjs
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { generate } from '../frontend/gen.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { check } = await import(join(root, 'dist/compiler/index.js'));

const text = generate(65);
const lines = text.split('\n');
const ROUNDS = Number(process.env.ROUNDS ?? 40);
const WARMUP = 15;
const QUIET_MS = 260; // longer than the server's 200 ms debounce window: every change hits the leading edge

const child = spawn(process.execPath, [join(root, 'dist/compiler/cli.js'), 'lsp', '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
const waiters = new Map();
conn.onNotification('textDocument/publishDiagnostics', (p) => {
  const w = waiters.get(p.version);
  if (w) {
    waiters.delete(p.version);
    w({ at: performance.now(), count: p.diagnostics.length });
  }
});
conn.onNotification('window/logMessage', () => undefined);
conn.listen();
await conn.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: {} });
await conn.sendNotification('initialized', {});
const uri = 'file:///bench/lsp/big.lmp';
let version = 1;
const published = (v) => new Promise((res) => waiters.set(v, res));
let p = published(1);
await conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'lmp', version, text } });
await p;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The edit sites: `steps 2000` of block 32 (valid) and its `{` line (a syntax error when removed).
const stepsLine = lines.findIndex((l, i) => i > lines.length / 2 && l.trim() === 'steps 2000');
const maskLine = lines.findIndex((l, i) => i > lines.length / 2 && l.trim().startsWith('mask causal'));
const maskCol = lines[maskLine].indexOf('& (') + 2;

async function change(edit) {
  version++;
  const v = version;
  const w = published(v);
  const t0 = performance.now();
  await conn.sendNotification('textDocument/didChange', { textDocument: { uri, version: v }, contentChanges: [edit] });
  const r = await w;
  return { ms: r.at - t0, count: r.count };
}
const at = (line, character) => ({ line, character });
const stepsEdit = (n) => ({ range: { start: at(stepsLine, 8), end: at(stepsLine, 12) }, text: String(2000 + (n % 2)) });
// Replace `steps 200x` by `steps 200x(` and back: an unclosed bracket (LMP0105).
let broken = false;
const syntaxEdit = () => {
  broken = !broken;
  return broken ? { range: { start: at(stepsLine, 12), end: at(stepsLine, 12) }, text: '(' } : { range: { start: at(stepsLine, 12), end: at(stepsLine, 13) }, text: '' };
};

async function completion() {
  const t0 = performance.now();
  const items = await conn.sendRequest('textDocument/completion', { textDocument: { uri }, position: at(maskLine, maskCol) });
  return { ms: performance.now() - t0, count: items.length };
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (f) => s[Math.min(s.length - 1, Math.floor(f * s.length))];
  return { median: q(0.5), p90: q(0.9), max: s[s.length - 1] };
};
const fmt = (x) => x.toFixed(1);

for (let i = 0; i < WARMUP; i++) {
  await change(stepsEdit(i));
  await completion();
  await sleep(QUIET_MS);
}
const valid = [];
const syntax = [];
const compWarm = [];
const compAfterChange = [];
let counts = {};
for (let i = 0; i < ROUNDS; i++) {
  const a = await change(stepsEdit(i));
  valid.push(a.ms);
  counts.valid = a.count;
  const c = await completion();
  compWarm.push(c.ms);
  counts.completion = c.count;
  await sleep(QUIET_MS);
  const b = await change(syntaxEdit());
  syntax.push(b.ms);
  if (broken) counts.syntax = b.count;
  await sleep(QUIET_MS);
  // A change and a completion right behind it: the new version has not been checked yet.
  version++;
  const t0 = performance.now();
  const w = published(version);
  void conn.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [stepsEdit(i + 1)] });
  await conn.sendRequest('textDocument/completion', { textDocument: { uri }, position: at(maskLine, maskCol) });
  compAfterChange.push(performance.now() - t0);
  await w;
  await sleep(QUIET_MS);
}
await conn.sendRequest('shutdown');
await conn.sendNotification('exit');

// The checker alone, in this process, on the same text.
const alone = [];
for (let i = 0; i < WARMUP + ROUNDS; i++) {
  const t0 = performance.now();
  check(text, 'big.lmp');
  if (i >= WARMUP) alone.push(performance.now() - t0);
}

const rows = [
  ['change → diagnostics, valid edit (full check)', valid, `${counts.valid} diagnostics`],
  ['change → diagnostics, syntax error edit', syntax, `${counts.syntax} diagnostic(s)`],
  ['completion, document already checked', compWarm, `${counts.completion} items`],
  ['change + completion right behind it', compAfterChange, 'parse on demand'],
  ['baseline: check() in process, same text', alone, 'no IPC'],
];
console.log(`lsp bench: ${lines.length} lines, ${(text.length / 1024).toFixed(0)} KiB, ${ROUNDS} rounds after ${WARMUP} warm-up, Node ${process.version}`);
console.log('| what | median ms | p90 ms | max ms | note |\n| --- | ---: | ---: | ---: | --- |');
for (const [what, xs, note] of rows) {
  const s = stats(xs);
  console.log(`| ${what} | ${fmt(s.median)} | ${fmt(s.p90)} | ${fmt(s.max)} | ${note} |`);
}
