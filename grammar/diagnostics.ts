// The one catalog of diagnostics: every code the toolchain can report, with its severity,
// message template, and help line. It lives in grammar/ (the lowest layer) because the
// lexer and parser report through it too; compiler/ adds no codes of its own elsewhere.
//
// Codes: LMP + 4 digits, grouped by hundreds:
//   00xx lexical   01xx syntax   02xx names and references   03xx parameters, types, units
//   04xx data and curricula   05xx attention and masks   06xx decoding   07xx model and train
//   08xx eval and optimize   09xx files, I/O and the command line
// A test checks that every code has a conformance case under spec/conformance/.
import type { Span } from './ast.js';

export type Severity = 'error' | 'warning' | 'info';

export interface DiagnosticDef {
  readonly severity: Severity;
  /** Short title for the spec's table. */
  readonly title: string;
  /** Message template; `{name}` placeholders are filled from the params. */
  readonly message: string;
  /** A help line telling the user what to do; may use placeholders too. */
  readonly help?: string;
}

export interface DiagnosticNote {
  readonly message: string;
  readonly span?: Span;
}

export interface Diagnostic {
  readonly code: DiagnosticCode;
  readonly severity: Severity;
  readonly message: string;
  readonly span: Span;
  readonly notes: readonly DiagnosticNote[];
  readonly help: string | undefined;
}

export const CATALOG = {
  // --- 00xx lexical -------------------------------------------------------------------
  LMP0001: { severity: 'error', title: 'unexpected character', message: "unexpected character '{char}'", help: 'remove it, or put it inside a string' },
  LMP0002: { severity: 'error', title: 'unterminated string', message: 'unterminated string literal', help: 'close the string with " on the same line' },
  LMP0003: { severity: 'error', title: 'invalid escape', message: "invalid escape sequence '{escape}' in string", help: 'valid escapes: \\n \\t \\r \\0 \\" \\\\ \\u{hex}' },
  LMP0004: { severity: 'error', title: 'unterminated comment', message: 'unterminated block comment', help: 'close it with */' },
  LMP0005: { severity: 'error', title: 'unknown unit', message: "unknown unit '{unit}' on number '{raw}'", help: 'units: k M G (powers of 1024), %, ms s min h, B KiB MiB GiB' },
  LMP0006: { severity: 'error', title: 'ambiguous unit', message: "ambiguous unit 'm' on '{raw}'", help: "write 'min' for minutes or 'M' for 2^20" },
  LMP0007: { severity: 'error', title: 'malformed number', message: "malformed number '{raw}': {reason}" },

  // --- 01xx syntax --------------------------------------------------------------------
  LMP0101: { severity: 'error', title: 'unexpected token', message: "expected {expected}, found {found}" },
  LMP0102: { severity: 'error', title: 'unknown declaration kind', message: "unknown declaration kind '{name}'", help: 'a declaration starts with one of: {kinds}' },
  LMP0103: { severity: 'error', title: 'unknown clause', message: "unknown clause '{name}' in {declKind} '{decl}'", help: '{declKind} accepts: {clauses}' },
  LMP0104: { severity: 'error', title: 'missing expression', message: 'expected an expression after {after}' },
  LMP0105: { severity: 'error', title: 'unclosed bracket', message: "'{open}' is never closed", help: "add the matching '{close}'" },
  LMP0106: { severity: 'error', title: 'nesting too deep', message: 'expressions nest deeper than {max} levels', help: 'split the expression' },
  LMP0107: { severity: 'info', title: 'too many errors', message: 'too many errors; stopped after {max}' },
  LMP0108: { severity: 'error', title: 'no value form', message: "a {declKind} declaration cannot be written as '= expr'", help: 'use a block: {declKind} {decl} { ... }' },
  LMP0109: { severity: 'error', title: 'missing clause body', message: "'{clause}' needs ': expr' after its arguments" },
  LMP0110: { severity: 'error', title: 'unexpected clause body', message: "'{clause}' takes no ': expr' body" },
  LMP0111: { severity: 'error', title: 'missing clause arguments', message: "'{clause}' needs {expected}" },

  // --- 09xx files, I/O and the command line ---------------------------------------------
  LMP0901: { severity: 'error', title: 'file not found', message: "cannot read '{path}': no such file" },
  LMP0902: { severity: 'error', title: 'is a directory', message: "'{path}' is a directory, not a .lmp file" },
  LMP0903: { severity: 'error', title: 'invalid UTF-8', message: "'{path}' is not valid UTF-8 (first bad byte at offset {offset})" },
  LMP0904: { severity: 'error', title: 'file too large', message: "'{path}' is {size} bytes; the limit is {max}" },
  LMP0905: { severity: 'warning', title: 'empty file', message: "'{path}' declares nothing" },
  LMP0906: { severity: 'error', title: 'cannot write', message: "cannot write '{path}': {reason}" },
  LMP0907: { severity: 'error', title: 'cannot read', message: "cannot read '{path}': {reason}" },
} as const satisfies Record<string, DiagnosticDef>;

export type DiagnosticCode = keyof typeof CATALOG;

function fill(template: string, params: Readonly<Record<string, string | number>>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => (key in params ? String(params[key]) : whole));
}

/** Build a diagnostic from the catalog. Every diagnostic in the toolchain goes through here. */
export function diag(
  code: DiagnosticCode,
  span: Span,
  params: Readonly<Record<string, string | number>> = {},
  extra: { notes?: readonly DiagnosticNote[]; help?: string } = {},
): Diagnostic {
  const def: DiagnosticDef = CATALOG[code];
  const help = extra.help ?? (def.help !== undefined ? fill(def.help, params) : undefined);
  return { code, severity: def.severity, message: fill(def.message, params), span, notes: extra.notes ?? [], help };
}
