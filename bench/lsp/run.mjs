// Language-server latency over stdio, as an editor sees it: `lmpc lsp --stdio` in a child
// process, vscode-jsonrpc as the client, a 2,000-line file (bench/frontend/gen.mjs, 65 clean
// pipelines). Warm server (a warm-up of 15 rounds first).
//   - change → diagnostics: didChange (one edit in the middle of the file) after a quiet spell
//     (the debouncer's leading edge) until the publishDiagnostics of that version arrives; an
//     edit that keeps the file valid (the full checker runs) and one that breaks the syntax
//   - completion: a request in the middle of the file, the document already checked; and
//     right after a didChange (completion lexes the new version; the check comes after it)
// Baseline in the same run: check() of the same text in this process (the checker alone).
//   npm run build:ts && node bench/lsp/run.mjs
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { generate } from '../frontend/gen.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { check } = await import(join(root, 'dist/compiler/index.js'));

const text = generate(65);
const lines = text.split('\n');
const ROUNDS = Number(process.env.ROUNDS ?? 30);
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
/** The server's CPU time so far (user + system, ms), from /proc: robust to other load on the machine. */
function serverCpuMs() {
  try {
    const f = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
}
/** Run `op` ROUNDS times (a quiet spell after each); latencies and the server's mean CPU per op. */
async function phase(op) {
  const ms = [];
  let note = '';
  const cpu0 = serverCpuMs();
  for (let i = 0; i < ROUNDS; i++) {
    const r = await op(i);
    ms.push(r.ms);
    if (r.note) note = r.note;
    await sleep(QUIET_MS);
  }
  return { ms, cpu: (serverCpuMs() - cpu0) / ROUNDS, note };
}
const valid = await phase(async (i) => {
  const a = await change(stepsEdit(i));
  return { ms: a.ms, note: `${a.count} diagnostic(s)` };
});
const syntax = await phase(async () => {
  const b = await change(syntaxEdit());
  return { ms: b.ms, note: broken ? `${b.count} diagnostic(s)` : '' };
});
if (broken) await change(syntaxEdit());
const compWarm = await phase(async () => {
  const c = await completion();
  return { ms: c.ms, note: `${c.count} items` };
});
// A change and a completion right behind it: the new version has not been checked yet (the
// server's CPU figure includes the check that follows the answer).
const compAfterChange = await phase(async (i) => {
  version++;
  const t0 = performance.now();
  const w = published(version);
  void conn.sendNotification('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [stepsEdit(i + 1)] });
  await conn.sendRequest('textDocument/completion', { textDocument: { uri }, position: at(maskLine, maskCol) });
  const ms = performance.now() - t0;
  await w;
  return { ms, note: 'the new version lexed, not parsed; the check runs after the answer' };
});
await conn.sendRequest('shutdown');
await conn.sendNotification('exit');

// The checker alone, in this process, on the same text.
const alone = [];
const cpuA = process.cpuUsage();
for (let i = 0; i < WARMUP + ROUNDS; i++) {
  const t0 = performance.now();
  check(text, 'big.lmp');
  if (i >= WARMUP) alone.push(performance.now() - t0);
}
const cpuAlone = process.cpuUsage(cpuA);

const rows = [
  ['change → diagnostics, valid edit (full check)', valid],
  ['change → diagnostics, syntax error edit', syntax],
  ['completion, document already checked', compWarm],
  ['change + completion right behind it', compAfterChange],
  ['baseline: check() in this process, same text', { ms: alone, cpu: (cpuAlone.user + cpuAlone.system) / 1000 / (WARMUP + ROUNDS), note: 'no IPC' }],
];
const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`lsp bench: ${lines.length} lines, ${(text.length / 1024).toFixed(0)} KiB, ${ROUNDS} rounds per row after ${WARMUP} warm-up rounds, Node ${process.version}, load average at the end ${load}`);
console.log('| what | median ms | p90 ms | max ms | server CPU ms per op (mean) | note |\n| --- | ---: | ---: | ---: | ---: | --- |');
for (const [what, r] of rows) {
  const st = stats(r.ms);
  console.log(`| ${what} | ${fmt(st.median)} | ${fmt(st.p90)} | ${fmt(st.max)} | ${fmt(r.cpu)} | ${r.note} |`);
}
