// Front-end throughput: check (parse + analyze) on large generated files, in process (warm, best
// of 5) and as a whole `lmpc check` process (cold: start-up, first parse, first check), and
// `lmpc check` on every example against a bare `node -e 0`. Needs the build:
//   npx tsc -p tsconfig.json && node bench/frontend/run.mjs
// The generated input (bench/frontend/gen.mjs) is 31 lines per pipeline and checks clean.
// Besides wall time it reports CPU time (user + system), which a busy machine inflates far less:
// in process from process.cpuUsage, for child processes from /proc/self/stat (Linux).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const { parse } = await import('../../dist/grammar/index.js');
const { check } = await import('../../dist/compiler/index.js');
const { generate } = await import('./gen.mjs');

/** Best wall and best CPU time (ms) of n runs of f, and f's last result. */
const best = (f, n = 5, cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; }) => {
  let bw = Infinity;
  let bc = Infinity;
  let r;
  for (let i = 0; i < n; i++) {
    const c0 = cpu();
    const t0 = performance.now();
    r = f();
    bw = Math.min(bw, performance.now() - t0);
    bc = Math.min(bc, cpu() - c0);
  }
  return [bw, bc, r];
};

/** CPU time (ms) of the waited-for child processes so far (cutime + cstime), or NaN off Linux. */
const childCpu = () => {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[13]) + Number(f[14])) * 1000) / 100; // clock ticks (USER_HZ = 100)
  } catch {
    return NaN;
  }
};

/** Best wall and CPU time of a whole process (exit 1, diagnostics, still counts). */
const proc = (args, n = 5) =>
  best(
    () => {
      try {
        execFileSync(process.execPath, args, { stdio: 'pipe' });
      } catch {
        // diagnostics exit 1; the time still counts
      }
    },
    n,
    childCpu,
  );

const f0 = (x) => x.toFixed(0);

const dir = mkdtempSync(join(tmpdir(), 'lmp-frontend-'));
try {
  for (const blocks of (process.env['BLOCKS'] ?? '323,3230').split(',').map(Number)) {
    const text = generate(blocks);
    const lines = text.split('\n').length;
    const mb = Buffer.byteLength(text) / 2 ** 20;
    const [tp, tpc] = best(() => parse(text, 'big.lmp'));
    const [tc, tcc, res] = best(() => check(text, 'big.lmp'));
    if (res.diagnostics.length !== 0) throw new Error(`generated file should check clean: ${res.diagnostics[0].message}`);
    const file = join(dir, `big${blocks}.lmp`);
    writeFileSync(file, text);
    const [cw, cc] = proc(['dist/compiler/cli.js', 'check', file], 3);
    console.log(
      `${lines} lines (${mb.toFixed(2)} MB): warm parse ${f0(tp)} ms (cpu ${f0(tpc)}), warm check ${f0(tc)} ms (cpu ${f0(tcc)}) = ` +
        `${f0(lines / (tc / 1000))} lines/s, ${(mb / (tc / 1000)).toFixed(2)} MB/s; analyze/parse ${((tcc - tpc) / tpc).toFixed(2)} (cpu); ` +
        `lmpc check FILE as a process (cold) ${f0(cw)} ms (cpu ${f0(cc)})`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const examples = readdirSync('examples').filter((f) => f.endsWith('.lmp')).map((f) => `examples/${f}`);
const [ew, ec] = proc(['dist/compiler/cli.js', 'check', ...examples]);
const [nw, nc] = proc(['-e', '0']);
console.log(`lmpc check ${examples.length} examples (whole process): best ${f0(ew)} ms (cpu ${f0(ec)}); bare node -e 0: best ${f0(nw)} ms (cpu ${f0(nc)})`);
