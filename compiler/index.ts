// The compiler in one place, read top to bottom (Svelte's compile(): parse, analyze, transform):
//
//   text --parse--> AST + syntax diagnostics --analyze--> semantic diagnostics
//
// Lowering to IR and emitting (TypeScript, kernels.json, the bundle) are later phases that take
// the checked AST; they will be added here in that order.
import { parse, type Diagnostic, type Program } from '../grammar/index.js';
import { analyze } from './analyze/index.js';

export interface CheckResult {
  readonly program: Program;
  /** Syntax diagnostics, then (only when there is no syntax error) semantic ones, in source order. */
  readonly diagnostics: readonly Diagnostic[];
  /** Whether parsing reported an error (formatters and later phases refuse such files). */
  readonly syntaxErrors: boolean;
}

/**
 * Parse and check one source. Semantic checks run only on a file without syntax errors: on a
 * recovered, partial tree they would mostly repeat the syntax error in other words.
 */
export function check(text: string, file: string): CheckResult {
  const parsed = parse(text, file);
  const syntaxErrors = parsed.diagnostics.some((d) => d.severity === 'error');
  if (syntaxErrors) return { program: parsed.program, diagnostics: parsed.diagnostics, syntaxErrors };
  const semantic = analyze(parsed.program);
  return { program: parsed.program, diagnostics: [...parsed.diagnostics, ...semantic], syntaxErrors };
}

export { parse } from '../grammar/index.js';
export { analyze } from './analyze/index.js';
export { resolveInheritance } from './analyze/inherit.js';
