// `lmpc data FILE --target NAME [--json] [--out DIR]`: tokenize, pack and write the shards of one
// `data` declaration (runtime/data buildShards) under a cache key; a second run with nothing changed
// reuses the cache entry. Exit 0 ok, 1 check diagnostics, 2 usage errors or a fatal error (an
// unreadable file, an unknown target, a glob matching nothing, a malformed JSONL line...).
// A progress bar goes to stderr only when stderr is a terminal and neither --json nor CI is set.
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { Diagnostic } from '../../grammar/diagnostics.js';
import type { DataStats } from '../../runtime/data/shards.js';
import { lineStarts, renderDiagnostic } from '../diagnostics/render.js';
import { check } from '../index.js';
import { readSource } from '../io/read.js';
import { contextOf, setExit, type CliIo } from './context.js';

export interface DataFlags {
  readonly target: string;
  readonly json?: boolean;
  readonly out?: string;
  /** Whether stderr is a terminal (the progress bar needs it). */
  readonly stderrTTY?: boolean;
}

export interface DataCommandResult {
  code: number;
  dir?: string;
  key?: string;
  reused?: boolean;
  stats?: DataStats;
}

/** A one-line progress bar redrawn in place on stderr. */
function progressBar(io: CliIo): { update: (phase: string, done: number, total: number) => void; end: () => void } {
  let last = 0;
  let drawn = false;
  return {
    update(phase, done, total) {
      const now = Date.now();
      if (now - last < 100 && done !== total) return;
      last = now;
      drawn = true;
      if (total > 0) {
        const f = Math.min(1, done / total);
        const w = 30;
        const full = Math.round(f * w);
        io.stderr(`\r${phase.padEnd(5)} [${'#'.repeat(full)}${'.'.repeat(w - full)}] ${(100 * f).toFixed(0).padStart(3)}% ${done}/${total}`);
      } else io.stderr(`\r${phase.padEnd(5)} ${(done / 1e6).toFixed(1)} MB`);
    },
    end() {
      if (drawn) io.stderr('\r\x1b[K');
    },
  };
}

/** Run `lmpc data` on one file; writes to `io`, returns the exit code (and what it built). */
export async function runData(file: string, flags: DataFlags, io: CliIo): Promise<DataCommandResult> {
  const fatal = (msg: string): DataCommandResult => {
    io.stderr(`lmpc data: ${msg}\n`);
    return { code: 2 };
  };
  const src = readSource(file);
  if (!src.ok) return fatal(`cannot read ${file}`);
  const r = check(src.text, file);
  const errors = r.diagnostics.filter((d: Diagnostic) => d.severity === 'error');
  if (errors.length > 0) {
    const starts = lineStarts(src.text);
    for (const d of r.diagnostics) io.stderr(renderDiagnostic(d, src.text, { color: false }, starts) + '\n');
    return { code: 1 };
  }
  // Loaded on use, so that registering the command loads neither the lowering nor the runtime.
  const [{ lower }, { buildShards }] = await Promise.all([import('../lower/index.js'), import('../../runtime/data/shards.js')]);
  const ir = lower(r.program);
  const decl = ir.decls.find((d) => d.kind === 'data' && d.name === flags.target);
  if (!decl || decl.spec.kind !== 'data') {
    const names = ir.decls.filter((d) => d.kind === 'data').map((d) => d.name);
    return fatal(`no data declaration named '${flags.target}' in ${file}${names.length ? ` (data declarations: ${names.join(', ')})` : ' (it declares no data)'}`);
  }
  const spec = decl.spec;
  for (const u of spec.unsupported) io.stderr(`lmpc data: warning: ${spec.where}: not supported by runtime/data, ignored: ${u}\n`);
  const root = dirname(resolve(file));
  const cfg = { ...spec.config, root };
  const outDir = resolve(flags.out ?? join(root, '.lmp-cache', 'data'));
  const env = io.env ?? {};
  const showProgress = flags.stderrTTY === true && flags.json !== true && (env['CI'] ?? '') === '';
  const bar = showProgress ? progressBar(io) : null;
  let res;
  try {
    res = await buildShards(cfg, { outDir, ...(bar ? { onProgress: bar.update } : {}) });
  } catch (e) {
    bar?.end();
    const code = (e as { code?: unknown })?.code;
    return fatal(`${typeof code === 'string' && code.startsWith('LMP') ? `error ${code}: ` : ''}${e instanceof Error ? e.message : String(e)}`);
  } finally {
    bar?.end();
  }
  const stats = res.index.stats;
  if (flags.json) io.stdout(JSON.stringify(stats, null, 2) + '\n');
  else {
    const lines = [
      `${res.reused ? 'reused' : 'wrote'} ${res.dir}`,
      `documents read ${stats.documentsRead}, kept ${stats.documentsKept}, mixed ${stats.documentsMixed}; tokens read ${stats.tokensRead}, packed ${stats.tokensPacked}, dropped ${stats.tokensDropped}`,
      `sequences ${stats.sequences} (${Object.entries(stats.perBucket).map(([l, n]) => `${l}: ${n}`).join(', ')}); padding ${(100 * stats.paddingFraction).toFixed(2)}%`,
    ];
    io.stdout(lines.join('\n') + '\n');
  }
  return { code: 0, dir: res.dir, key: res.key, reused: res.reused, stats };
}

export function register(program: Command): void {
  program
    .command('data')
    .description('tokenize, pack and write the shards of a data declaration (cached by content and config)')
    .argument('<file>', '.lmp file')
    .requiredOption('--target <name>', 'the data declaration to build')
    .option('--json', 'print only the stats JSON on stdout')
    .option('--out <dir>', 'cache folder (default: .lmp-cache/data beside the file)')
    .action(async function (this: Command, file: string, opts: { target: string; json?: boolean; out?: string }) {
      const ctx = contextOf(this);
      const r = await runData(file, { ...opts, stderrTTY: process.stderr.isTTY === true }, ctx.io);
      setExit(ctx, r.code);
    });
}
