// `lmpc build FILE [-o DIR] [--force] [--json]`: check, lower, and write NAME.ts,
// NAME.kernels.json and NAME.mjs into DIR (default: beside the file). Exit 0 when built or up
// to date, 1 when the file has errors or the output cannot be written (nothing is written then),
// 2 on usage errors.
import type { Command } from 'commander';
import { contextOf, setExit, useColor } from './context.js';
import { printReports } from './check.js';

export function register(program: Command): void {
  program
    .command('build')
    .description('compile a .lmp file to NAME.ts, NAME.kernels.json and NAME.mjs')
    .argument('<file>', '.lmp file')
    .option('-o, --out-dir <dir>', 'output folder (default: the folder of FILE)')
    .option('--force', 'rebuild even when the stamp says the outputs are up to date')
    .option('--json', 'print only JSON on stdout')
    .action(async function (this: Command, file: string, opts: { outDir?: string; force?: boolean; json?: boolean }) {
      // Loaded on use, so that registering the command does not load the emitter (ts-morph, esbuild).
      const { buildFile } = await import('../emit/index.js');
      const ctx = contextOf(this);
      const json = opts.json === true;
      const r = await buildFile(file, { ...(opts.outDir !== undefined ? { outDir: opts.outDir } : {}), force: opts.force === true });
      if (!r.ok) {
        setExit(ctx, printReports([{ file, source: r.source, diagnostics: r.diagnostics }], ctx.io, json, useColor(ctx.io)) || 1);
        return;
      }
      if (json) {
        ctx.io.stdout(JSON.stringify({ file, outDir: r.outDir, skipped: r.skipped, files: r.files }, null, 2) + '\n');
      } else {
        const warnings = r.diagnostics.filter((d) => d.severity !== 'error');
        if (warnings.length) printReports([{ file, source: r.source, diagnostics: warnings }], ctx.io, false, useColor(ctx.io));
        ctx.io.stdout(r.skipped ? `${file}: up to date (${r.outDir})\n` : `${file}: wrote ${r.files.join(', ')}\n`);
      }
      setExit(ctx, 0);
    });
}
