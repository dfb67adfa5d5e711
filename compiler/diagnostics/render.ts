// Rendering diagnostics the way tsc does:
//
//   file.lmp:12:7 - error LMP0102: message
//
//   12   mask causl & window(1k)
//             ~~~~~
//     note: file.lmp:3:1 - first declared here
//     help: did you mean 'causal'?
//
// and a summary line (`Found 2 errors and 1 warning in 1 file.`). Colors only when asked (the CLI
// asks when stdout is a TTY and NO_COLOR is unset).
import type { Diagnostic, Severity } from '../../grammar/diagnostics.js';
import type { Span } from '../../grammar/ast.js';

export interface RenderOptions {
  readonly color: boolean;
}

const ANSI = { red: '\x1b[91m', yellow: '\x1b[93m', cyan: '\x1b[96m', gray: '\x1b[90m', bold: '\x1b[1m', reset: '\x1b[0m' };
const SEVERITY_COLOR: Record<Severity, string> = { error: ANSI.red, warning: ANSI.yellow, info: ANSI.cyan };

/** Start offsets of every line of `text` (index i = 0-based line i). */
export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

/** 1-based line and column of a 0-based UTF-16 offset. */
export function lineColAt(starts: readonly number[], offset: number): { line: number; col: number } {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, col: offset - starts[lo]! + 1 };
}

function paint(s: string, color: string, on: boolean): string {
  return on ? `${color}${s}${ANSI.reset}` : s;
}

function location(span: Span): string {
  return `${span.file}:${span.line}:${span.col}`;
}

/** A source excerpt: the span's first line with a ~~~ underline (at least one ~). */
export function codeFrame(source: string, starts: readonly number[], span: Span, opts: RenderOptions, color: string): string {
  const lineIdx = span.line - 1;
  if (lineIdx < 0 || lineIdx >= starts.length) return '';
  const ls = starts[lineIdx]!;
  let le = lineIdx + 1 < starts.length ? starts[lineIdx + 1]! - 1 : source.length;
  if (le > ls && source.charCodeAt(le - 1) === 13) le--;
  const MAX = 200;
  let text = source.slice(ls, Math.min(le, ls + MAX));
  const startCol = Math.max(0, Math.min(span.start - ls, text.length));
  const endCol = Math.max(startCol + 1, Math.min(span.end - ls, text.length));
  if (startCol >= MAX) return '';
  const gutter = String(span.line);
  const pad = text.slice(0, startCol).replace(/[^\t]/g, ' ');
  text = text.replace(/\r/g, '');
  const underline = pad + '~'.repeat(Math.max(1, endCol - startCol));
  return `${paint(gutter, ANSI.gray, opts.color && true)} ${text}\n${' '.repeat(gutter.length)} ${paint(underline, color, opts.color)}\n`;
}

/** One diagnostic. `source` is the file's text (undefined for I/O diagnostics: no frame). */
export function renderDiagnostic(d: Diagnostic, source: string | undefined, opts: RenderOptions, starts?: readonly number[]): string {
  const color = SEVERITY_COLOR[d.severity];
  let out = `${paint(location(d.span), ANSI.cyan, opts.color)} - ${paint(d.severity, color, opts.color)} ${paint(d.code, ANSI.gray, opts.color)}: ${d.message}\n`;
  if (source !== undefined && source.length > 0) {
    const frame = codeFrame(source, starts ?? lineStarts(source), d.span, opts, color);
    if (frame) out += `\n${frame}`;
  }
  for (const n of d.notes) out += `  ${paint('note', ANSI.bold, opts.color)}: ${n.span ? `${location(n.span)} - ` : ''}${n.message}\n`;
  if (d.help) out += `  ${paint('help', ANSI.bold, opts.color)}: ${d.help}\n`;
  return out;
}

export interface Counts {
  readonly errors: number;
  readonly warnings: number;
  /** Files with at least one error or warning. */
  readonly files: number;
}

export function countDiagnostics(byFile: ReadonlyMap<string, readonly Diagnostic[]>): Counts {
  let errors = 0;
  let warnings = 0;
  let files = 0;
  for (const ds of byFile.values()) {
    let any = false;
    for (const d of ds) {
      if (d.severity === 'error') (errors++, (any = true));
      else if (d.severity === 'warning') (warnings++, (any = true));
    }
    if (any) files++;
  }
  return { errors, warnings, files };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** `Found 2 errors and 1 warning in 1 file.`, or '' when there is nothing to report. */
export function renderSummary(c: Counts): string {
  if (c.errors === 0 && c.warnings === 0) return '';
  const parts = [c.errors > 0 ? plural(c.errors, 'error') : undefined, c.warnings > 0 ? plural(c.warnings, 'warning') : undefined].filter(Boolean);
  return `Found ${parts.join(' and ')} in ${plural(c.files, 'file')}.`;
}

/** The JSON form of a diagnostic (`--json`): 1-based line/col for start and end. */
export function diagnosticJson(d: Diagnostic, starts: readonly number[] | undefined) {
  const end = starts ? lineColAt(starts, d.span.end) : { line: d.span.line, col: d.span.col };
  return {
    code: d.code,
    severity: d.severity,
    message: d.message,
    file: d.span.file,
    line: d.span.line,
    col: d.span.col,
    endLine: end.line,
    endCol: end.col,
    start: d.span.start,
    end: d.span.end,
    notes: d.notes.map((n) => ({ message: n.message, ...(n.span ? { file: n.span.file, line: n.span.line, col: n.span.col } : {}) })),
    ...(d.help ? { help: d.help } : {}),
  };
}
