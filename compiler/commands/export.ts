// `lmpc export FILE --target NAME --pytorch [-o DIR] [--force] [--json]`: compile a train or decode
// block to a self-contained PyTorch package (compiler/export; spec/export.md). Exit 0 written or up
// to date, 1 check diagnostics, 2 usage errors and refusals (a coded reason: LMP_E_EXPORT_*, or
// LMP0906 when DIR cannot be written).
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { printReports } from './check.js';
import { contextOf, setExit, useColor, type CliIo } from './context.js';

export interface ExportFlags {
  readonly target: string;
  readonly pytorch?: boolean;
  readonly outDir?: string;
  readonly force?: boolean;
  readonly json?: boolean;
}

/** Run `lmpc export` on one file; returns the exit code. */
export async function runExport(file: string, flags: ExportFlags, io: CliIo, color = false): Promise<number> {
  const fail = (code: string, message: string): number => {
    if (flags.json) io.stdout(JSON.stringify({ file, target: flags.target, error: { code, message } }, null, 2) + '\n');
    else io.stderr(`lmpc export: error ${code}: ${message}\n`);
    return 2;
  };
  if (flags.pytorch !== true) return fail('LMP_E_EXPORT_USAGE', 'name the backend: --pytorch (the one export lmpc has)');
  // Loaded on use: registering the command loads neither the exporter nor the runtime.
  const { exportFile } = await import('../export/index.js');
  const outDir = flags.outDir ?? join(dirname(file), 'export', flags.target);
  const r = await exportFile(file, { target: flags.target, outDir, force: flags.force === true });
  if (!r.ok && 'diagnostics' in r) return printReports([{ file, source: r.source, diagnostics: r.diagnostics }], io, flags.json === true, color) || 1;
  if (!r.ok) return fail(r.refusal.code, r.refusal.message);
  if (flags.json) io.stdout(JSON.stringify({ file, target: flags.target, outDir: r.outDir, skipped: r.skipped, files: r.files }, null, 2) + '\n');
  else io.stdout(r.skipped ? `${file}: ${flags.target} up to date (${r.outDir})\n` : `${file}: exported ${flags.target} to ${r.outDir} (${r.files.length} files + data shards)\n`);
  return 0;
}

export function register(program: Command): void {
  program
    .command('export')
    .description('compile a train or decode block to a PyTorch package (torchrun, FSDP2, FlexAttention)')
    .argument('<file>', '.lmp file')
    .requiredOption('--target <name>', 'the train or decode block to export')
    .option('--pytorch', 'the backend: a PyTorch package (train.py, generate.py)')
    .option('-o, --out-dir <dir>', 'output folder (default: export/NAME beside FILE)')
    .option('--force', 'export again even when the stamp says the package is up to date')
    .option('--json', 'print only JSON on stdout')
    .action(async function (this: Command, file: string, opts: ExportFlags) {
      const ctx = contextOf(this);
      setExit(ctx, await runExport(file, opts, ctx.io, useColor(ctx.io)));
    });
}
