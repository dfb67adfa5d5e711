// `lmpc fmt FILE... [--write | --check] [--json]`: print canonical source, rewrite files in
// place (atomically: temp file + rename), or report files that are not formatted (exit 1).
// A file with syntax errors is never formatted (LMP0908): the tree is partial.
import type { Command } from 'commander';
import { diag, type Diagnostic } from '../../grammar/diagnostics.js';
import { parse } from '../../grammar/index.js';
import { fileSpan, readSource, describeError } from '../io/read.js';
import { writeFileAtomic } from '../io/write.js';
import { printReports, type FileReport } from './check.js';
import { contextOf, setExit, useColor } from './context.js';

interface FmtOptions {
  write?: boolean;
  check?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('fmt')
    .description('format .lmp files (print, --write in place, or --check)')
    .argument('<files...>', '.lmp files')
    .option('--write', 'rewrite the files in place (atomically)')
    .option('--check', 'exit 1 if any file is not formatted; change nothing')
    .option('--json', 'print only JSON on stdout')
    .action(async function (this: Command, files: string[], opts: FmtOptions) {
      // Loaded on use, so `lmpc check` does not load the formatter.
      const { format } = await import('../format/index.js');
      const ctx = contextOf(this);
      if (opts.write && opts.check) {
        ctx.io.stderr("lmpc fmt: --write and --check cannot be used together\n");
        setExit(ctx, 2);
        return;
      }
      const reports: FileReport[] = [];
      const outputs: { file: string; formatted: string; changed: boolean }[] = [];
      for (const file of files) {
        const r = readSource(file);
        if (!r.ok) {
          reports.push({ file, source: undefined, diagnostics: [r.diagnostic] });
          continue;
        }
        const parsed = parse(r.text, file);
        if (parsed.diagnostics.some((d) => d.severity === 'error')) {
          reports.push({ file, source: r.text, diagnostics: [...parsed.diagnostics, diag('LMP0908', fileSpan(file), { path: file })] });
          continue;
        }
        const formatted = format(parsed.program, r.text);
        const changed = formatted !== r.text;
        const ds: Diagnostic[] = [];
        if (opts.check && changed) ds.push(diag('LMP0909', fileSpan(file), { path: file }));
        if (opts.write && changed) {
          try {
            writeFileAtomic(file, formatted);
          } catch (e) {
            ds.push(diag('LMP0906', fileSpan(file), { path: file, reason: describeError(e) }));
          }
        }
        reports.push({ file, source: r.text, diagnostics: ds });
        outputs.push({ file, formatted, changed });
      }
      if (opts.json) {
        // One JSON document: the diagnostics, and the formatted text when printing.
        const sink: string[] = [];
        const code = printReports(reports, { stdout: (s) => sink.push(s) }, true, false);
        const doc = JSON.parse(sink.join('')) as Record<string, unknown>;
        doc['formatted'] = outputs.map((o) => ({ file: o.file, changed: o.changed, ...(opts.write || opts.check ? {} : { text: o.formatted }) }));
        ctx.io.stdout(JSON.stringify(doc, null, 2) + '\n');
        setExit(ctx, code);
        return;
      }
      if (!opts.write && !opts.check) for (const o of outputs) ctx.io.stdout(o.formatted);
      // Diagnostics go to stderr when stdout carries formatted source.
      const target = opts.write || opts.check ? ctx.io.stdout : ctx.io.stderr;
      setExit(ctx, printReports(reports, { stdout: target }, false, useColor(ctx.io)));
    });
}
