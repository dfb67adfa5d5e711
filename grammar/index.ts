// The .lmp front end's public API. Everything outside grammar/ imports from here (or from
// ast.ts, clauses.ts and diagnostics.ts directly); no Chevrotain type is exported.
import type { Program } from './ast.js';
import type { Diagnostic } from './diagnostics.js';
import { diag } from './diagnostics.js';
import { lex } from './lexer.js';
import { MAX_DEPTH, parseTokens } from './parser.js';

export * from './ast.js';
export * from './clauses.js';
export * from './diagnostics.js';
export { tokenize, type Token } from './lexer.js';
export { MAX_DEPTH } from './parser.js';

/** At most this many diagnostics are reported per file; then LMP0107. */
export const MAX_ERRORS = 100;

export interface ParseResult {
  readonly program: Program;
  /** Lexical and syntax diagnostics, in source order (at most MAX_ERRORS, then LMP0107). */
  readonly diagnostics: Diagnostic[];
}

/**
 * Parse a .lmp source. Never throws: on errors it returns a partial tree (ErrorExpr where an
 * expression could not be parsed) and every diagnostic.
 */
export function parse(text: string, file: string): ParseResult {
  const lexed = lex(text, file);
  let decls: Program['decls'] = [];
  let syntax: Diagnostic[];
  try {
    ({ decls, diagnostics: syntax } = parseTokens(lexed.tokens, lexed.spans));
  } catch (e) {
    // Nesting is cut off at MAX_DEPTH long before the stack runs out; should a caller's own
    // stack be nearly spent, the overflow still becomes a diagnostic rather than a crash.
    if (!(e instanceof RangeError)) throw e;
    syntax = [diag('LMP0106', lexed.spans.span(0, 0), { max: MAX_DEPTH })];
  }
  let diagnostics = [...lexed.diagnostics, ...syntax].sort((a, b) => a.span.start - b.span.start);
  if (diagnostics.length > MAX_ERRORS) {
    const next = diagnostics[MAX_ERRORS]!;
    diagnostics = [...diagnostics.slice(0, MAX_ERRORS), diag('LMP0107', next.span, { max: MAX_ERRORS })];
  }
  const program: Program = { kind: 'Program', decls, comments: lexed.comments, span: lexed.spans.span(0, text.length) };
  return { program, diagnostics };
}
