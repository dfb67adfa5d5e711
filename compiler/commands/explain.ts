// `lmpc explain FILE [--json] [--plot FILE.svg] [--lengths NAME|FILE.json] [--bytes N]`: the cost
// model before anything runs (compiler/explain). Exit 0 on success, 1 when the file cannot be read
// or has check errors, 2 on usage errors.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { readSource } from '../io/read.js';
import { writeFileAtomic } from '../io/write.js';
import type { ExplainOptions, ExplainReport } from '../explain/report.js';
import { contextOf, setExit, type CliIo } from './context.js';

export interface ExplainFlags {
  readonly json?: boolean;
  readonly plot?: string;
  readonly lengths?: string;
  readonly bytes?: string;
}

/** Run explain on one file; writes to `io`, returns the exit code. */
export async function runExplain(file: string, flags: ExplainFlags, io: CliIo): Promise<{ code: number; report?: ExplainReport }> {
  const usage = (msg: string) => {
    io.stderr(`lmpc explain: ${msg}\n`);
    return { code: 2 };
  };
  const bytes = flags.bytes === undefined ? 4 : Number(flags.bytes);
  if (!(Number.isInteger(bytes) && bytes > 0)) return usage('--bytes must be a positive integer');
  if (flags.plot !== undefined && !flags.plot.toLowerCase().endsWith('.svg')) return usage('--plot must name a .svg file');
  let lengths: ExplainOptions['lengths'];
  if (flags.lengths !== undefined) {
    if (flags.lengths.toLowerCase().endsWith('.json')) {
      try {
        const j = JSON.parse(readFileSync(flags.lengths, 'utf8')) as unknown;
        const arr = Array.isArray(j) ? j : (j as { lengths?: unknown }).lengths;
        if (!Array.isArray(arr) || !arr.every((x) => Number.isInteger(x) && x > 0)) return usage(`${flags.lengths}: expected a JSON array of positive integers (or {"lengths": [...]})`);
        lengths = { name: flags.lengths, lengths: arr as number[] };
      } catch (e) {
        return usage(`cannot read ${flags.lengths}: ${e instanceof Error ? e.message : String(e)}`);
      }
    } else lengths = flags.lengths;
  }
  // Loaded on use, so that registering the command does not load the cost model and the runtime.
  const [{ explainSource, ExplainError }, { renderReport }, { renderSvg }] = await Promise.all([import('../explain/report.js'), import('../explain/render.js'), import('../explain/svg.js')]);
  const src = readSource(file);
  if (!src.ok) {
    io.stderr(`lmpc explain: cannot read ${file}\n`);
    return { code: 1 };
  }
  let report: ExplainReport;
  try {
    report = await explainSource(src.text, file, { bytes, ...(lengths !== undefined ? { lengths } : {}) });
  } catch (e) {
    if (e instanceof ExplainError) {
      io.stderr(`lmpc explain: ${e.message}\n`);
      return { code: e.exitCode };
    }
    throw e;
  }
  if (flags.plot !== undefined) {
    try {
      writeFileAtomic(flags.plot, renderSvg(report));
    } catch (e) {
      io.stderr(`lmpc explain: cannot write ${flags.plot}: ${e instanceof Error ? e.message : String(e)}\n`);
      return { code: 1, report };
    }
    if (!flags.json) io.stderr(`wrote ${flags.plot}\n`);
  }
  io.stdout(flags.json ? JSON.stringify(report, null, 2) + '\n' : renderReport(report));
  return { code: 0, report };
}

export function register(program: Command): void {
  program
    .command('explain')
    .description('the cost model before anything runs: FLOPs, densities, memory per train/attention/decode')
    .argument('<file>', '.lmp file')
    .option('--json', 'print only JSON on stdout')
    .option('--plot <file.svg>', 'draw attention cost by length against the concat-and-chunk baseline')
    .option('--lengths <name|file.json>', 'document lengths for every data block: a fixture (sotu, moby-dick, sotu+moby-dick) or a JSON array')
    .option('--bytes <n>', 'bytes per element for memory figures', '4')
    .action(async function (this: Command, file: string, opts: ExplainFlags) {
      const ctx = contextOf(this);
      const r = await runExplain(file, opts, ctx.io);
      setExit(ctx, r.code);
    });
}
