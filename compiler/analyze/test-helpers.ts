// Test helpers: parse a small source (asserting it has no syntax error) and run some rules.
import { parse } from '../../grammar/index.js';
import type { Diagnostic } from '../../grammar/diagnostics.js';
import type { Rule } from './context.js';
import { analyze } from './index.js';

export function run(src: string, ...rules: Rule[]): Diagnostic[] {
  return runAt('t.lmp', src, ...rules);
}

/** `run` with the source checked as `file` (rules that read files resolve paths against its folder when it exists). */
export function runAt(file: string, src: string, ...rules: Rule[]): Diagnostic[] {
  const { program, diagnostics } = parse(src, file);
  const syntax = diagnostics.filter((d) => d.severity === 'error');
  if (syntax.length > 0) throw new Error(`test source has syntax errors: ${syntax.map((d) => `${d.code} ${d.span.line}:${d.span.col} ${d.message}`).join('; ')}`);
  return analyze(program, rules.length > 0 ? { rules } : {});
}

/** `CODE@line:col` for each diagnostic, in order. */
export function at(ds: readonly Diagnostic[]): string[] {
  return ds.map((d) => `${d.code}@${d.span.line}:${d.span.col}`);
}
