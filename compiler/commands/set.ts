// `--set PATH=VALUE` for `lmpc run`: override one setting before running.
//
// PATH is DECL.CLAUSE[.BUILTIN][.PARAM] (the same paths `optimize ... vary` names):
//   dd_run.steps=50                       the clause's value
//   streaming.mask.window=512             the one parameter of window() in the mask
//   story.policy.mirostat.tau=4           a named parameter (added when it was defaulted)
// The override is applied to the source text at the span of the value (or inserted), and the
// patched source goes through the whole checker, so a value of the wrong type, unit or range is
// rejected with the registry's own message. The IR is then lowered from the patched source.
import type { Call, Decl, Expr, Ident, Program } from '../../grammar/ast.js';
import { parse } from '../../grammar/index.js';
import { calleeName } from '../analyze/values.js';
import { check } from '../index.js';
import { BUILTINS, bindArgs, CLAUSE_SEMANTICS } from '../registry/index.js';

export class SetError extends Error {
  constructor(
    readonly code: 'LMP_E_SET_PATH' | 'LMP_E_SET_VALUE',
    message: string,
  ) {
    super(message);
    this.name = 'SetError';
  }
}

/** Calls and bare names inside an expression, in source order. */
function callsIn(e: Expr | undefined, out: (Call | Ident)[] = []): (Call | Ident)[] {
  if (e === undefined) return out;
  switch (e.kind) {
    case 'Call':
      out.push(e);
      for (const a of e.args) callsIn(a.value, out);
      break;
    case 'Ident':
      out.push(e);
      break;
    case 'Paren':
      callsIn(e.expr, out);
      break;
    case 'Unary':
      callsIn(e.operand, out);
      break;
    case 'Binary':
      callsIn(e.left, out);
      callsIn(e.right, out);
      break;
    case 'Chain':
    case 'Then':
    case 'List':
    case 'Tuple':
      for (const x of e.items) callsIn(x, out);
      break;
    default:
      break;
  }
  return out;
}

const splice = (text: string, start: number, end: number, insert: string): string => text.slice(0, start) + insert + text.slice(end);

/** Apply one `PATH=VALUE` to `text`; returns the patched text. Throws SetError. */
export function applySet(text: string, file: string, assignment: string): string {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new SetError('LMP_E_SET_PATH', `--set '${assignment}': expected PATH=VALUE`);
  const path = assignment.slice(0, eq).trim();
  const value = assignment.slice(eq + 1).trim();
  if (value === '') throw new SetError('LMP_E_SET_VALUE', `--set ${path}: empty value`);
  const parts = path.split('.');
  const bad = (why: string): never => {
    throw new SetError('LMP_E_SET_PATH', `--set ${path}: ${why}`);
  };
  if (parts.length < 2 || parts.length > 4 || parts.some((p) => p === '')) bad('expected DECL.CLAUSE[.BUILTIN][.PARAM]');
  const program: Program = parse(text, file).program;
  const decl: Decl | undefined = program.decls.find((d) => d.name.name === parts[0]);
  if (!decl) bad(`no declaration '${parts[0]}' (declared: ${program.decls.map((d) => d.name.name).join(', ')})`);
  const d = decl!;
  const keyword = parts[1]!;
  const sem = CLAUSE_SEMANTICS[d.declKind][keyword];
  if (!sem) bad(`${d.declKind} '${d.name.name}' has no clause '${keyword}' (clauses: ${Object.keys(CLAUSE_SEMANTICS[d.declKind]).join(', ')})`);
  const clause = d.clauses.find((c) => c.keyword === keyword);
  if (parts.length === 2) {
    if (clause?.args[0]) return splice(text, clause.args[0].span.start, clause.args[0].span.end, value);
    if (clause) bad(`clause '${keyword}' has no value to replace`);
    if (d.form !== 'block') bad(`${d.declKind} '${d.name.name}' is written as '= expr'; it has no clauses`);
    // Insert the clause before the block's closing brace.
    const close = text.lastIndexOf('}', d.span.end - 1);
    return splice(text, close, close, `  ${keyword} ${value}\n`);
  }
  if (!clause) bad(`${d.declKind} '${d.name.name}' does not write clause '${keyword}' itself (inherited or absent); set the whole clause: ${parts[0]}.${keyword}=...`);
  const name = parts[2]!;
  const found = [...clause!.args, ...(clause!.body ? [clause!.body] : [])].flatMap((a) => callsIn(a)).filter((c) => calleeName(c) === name);
  if (found.length === 0) bad(`clause '${keyword}' of '${d.name.name}' has no '${name}'`);
  if (found.length > 1) bad(`clause '${keyword}' of '${d.name.name}' has ${found.length} '${name}' calls; the path is ambiguous`);
  const node = found[0]!;
  const defs = BUILTINS.filter((b) => b.name === name && b.params.length > 0);
  if (defs.length === 0) bad(`'${name}' takes no parameters`);
  let param = parts[3];
  if (param === undefined) {
    const single = defs.find((b) => b.params.length === 1);
    if (!single) bad(`name a parameter of ${name}(): ${defs[0]!.params.map((p) => p.name).join(', ')}`);
    param = single!.params[0]!.name;
  }
  const def = defs.find((b) => b.params.some((p) => p.name === param));
  if (!def) bad(`${name}() has no parameter '${param}' (parameters: ${defs[0]!.params.map((p) => p.name).join(', ')})`);
  if (node.kind === 'Ident') return splice(text, node.span.start, node.span.end, `${name}(${param}: ${value})`);
  const arg = bindArgs(def!, node.args).bound.get(param!);
  if (arg) return splice(text, arg.value.span.start, arg.value.span.end, value);
  const close = node.span.end - 1; // the call's ')'
  return splice(text, close, close, `${node.args.length ? ', ' : ''}${param}: ${value}`);
}

/** Apply every assignment, then check the result; a check error is a SetError naming the value. */
export function applySets(text: string, file: string, assignments: readonly string[]): string {
  let out = text;
  for (const a of assignments) {
    out = applySet(out, file, a);
    const errors = check(out, file).diagnostics.filter((x) => x.severity === 'error');
    if (errors.length) throw new SetError('LMP_E_SET_VALUE', `--set ${a}: ${errors.map((e) => `${e.code} ${e.message}`).join('; ')}`);
  }
  return out;
}
