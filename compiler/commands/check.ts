// `lmpc check FILE... [--json]`: parse and check; exit 0 when no errors (warnings allowed),
// 1 when any file has an error (I/O errors included: they are diagnostics too), 2 on usage errors.
import type { Command } from 'commander';
import type { Diagnostic } from '../../grammar/diagnostics.js';
import { countDiagnostics, diagnosticJson, lineStarts, renderDiagnostic, renderSummary } from '../diagnostics/render.js';
import { check } from '../index.js';
import { fileSpan, readSource } from '../io/read.js';
import { diag } from '../../grammar/diagnostics.js';
import { contextOf, setExit, useColor } from './context.js';

export interface FileReport {
  readonly file: string;
  readonly source: string | undefined;
  readonly diagnostics: readonly Diagnostic[];
}

/** Read and check one file; every failure is a diagnostic in the report. */
export function checkFile(file: string): FileReport {
  const r = readSource(file);
  if (!r.ok) return { file, source: undefined, diagnostics: [r.diagnostic] };
  return { file, source: r.text, diagnostics: checkSource(r.text, file).diagnostics };
}

/** Check one source as `lmpc check` does (the language server uses it too): check() plus LMP0905 for a file that declares nothing. */
export function checkSource(text: string, file: string): ReturnType<typeof check> {
  const res = check(text, file);
  if (res.program.decls.length > 0 || res.syntaxErrors) return res;
  return { ...res, diagnostics: [...res.diagnostics, diag('LMP0905', fileSpan(file), { path: file })] };
}

/** Print reports (human text on stdout like tsc, or one JSON document) and return the exit code. */
export function printReports(reports: readonly FileReport[], io: { stdout: (s: string) => void }, json: boolean, color: boolean): number {
  const counts = countDiagnostics(new Map(reports.map((r) => [r.file, r.diagnostics])));
  if (json) {
    const files = reports.map((r) => {
      const starts = r.source !== undefined ? lineStarts(r.source) : undefined;
      return { file: r.file, diagnostics: r.diagnostics.map((d) => diagnosticJson(d, starts)) };
    });
    io.stdout(JSON.stringify({ files, summary: { errors: counts.errors, warnings: counts.warnings, files: reports.length } }, null, 2) + '\n');
  } else {
    for (const r of reports) {
      const starts = r.source !== undefined ? lineStarts(r.source) : undefined;
      for (const d of r.diagnostics) io.stdout(renderDiagnostic(d, r.source, { color }, starts) + '\n');
    }
    const summary = renderSummary(counts);
    if (summary) io.stdout(summary + '\n');
  }
  return counts.errors > 0 ? 1 : 0;
}

export function register(program: Command): void {
  program
    .command('check')
    .description('parse and check .lmp files; print diagnostics')
    .argument('<files...>', '.lmp files')
    .option('--json', 'print only JSON on stdout')
    .action(function (this: Command, files: string[], opts: { json?: boolean }) {
      const ctx = contextOf(this);
      const reports = files.map(checkFile);
      setExit(ctx, printReports(reports, ctx.io, opts.json === true, useColor(ctx.io)));
    });
}
