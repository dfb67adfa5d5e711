// The checker: one walk over the AST, every rule's hooks called as it goes.
//
// The walk visits each declaration's own clauses (so a mistake in a base is reported once, in
// the base) and matches every expression against the registry type its position expects; the
// rules in ./rules/ turn what they see into diagnostics. Cross-clause rules read effective
// (inherited) clauses through `context.effective`.
import type { Call, Clause, Decl, Expr, Ident, Program } from '../../grammar/ast.js';
import type { Diagnostic } from '../../grammar/diagnostics.js';
import { bindArgs, clauseSemantics, lookupBuiltin, VALUE_FORM_SEMANTICS, type ValueType } from '../registry/index.js';
import type { Rule, RuleContext, RuleVisitor, Site } from './context.js';
import { resolveInheritance, symbolTable } from './inherit.js';
import { ALL_RULES } from './rules/index.js';
import { calleeName, selectAlternative } from './values.js';

export type { Rule, RuleContext, RuleVisitor, Site } from './context.js';
export { resolveInheritance, symbolTable, clausesOf, clauseArg, type EffectiveDecl, type EffectiveClause, type Inheritance } from './inherit.js';
export { ALL_RULES } from './rules/index.js';

const MASK_CALL: ValueType & { t: 'call' } = { t: 'call', category: 'mask' };

export interface AnalyzeOptions {
  /** Rules to run (default: all). */
  readonly rules?: readonly Rule[];
}

export function analyze(program: Program, options: AnalyzeOptions = {}): Diagnostic[] {
  const rules = options.rules ?? ALL_RULES;
  const symbols = symbolTable(program);
  const inheritance = resolveInheritance(program, symbols);
  const out: Diagnostic[] = [];
  const context: RuleContext = {
    program,
    file: program.span.file,
    symbols,
    inheritance,
    effective: (d) => inheritance.effective.get(d)!,
    lookup: (name) => symbols.get(name),
    report: (d) => out.push(d.help === '' ? { ...d, help: undefined } : d),
  };
  const visitors: RuleVisitor[] = rules.map((r) => r.create(context));
  const declHooks = visitors.flatMap((v) => (v.decl ? [v.decl] : []));
  const clauseHooks = visitors.flatMap((v) => (v.clause ? [v.clause] : []));
  const valueHooks = visitors.flatMap((v) => (v.value ? [v.value] : []));
  const callHooks = visitors.flatMap((v) => (v.call ? [v.call] : []));

  const lookup = context.lookup;

  const walkCall = (node: Call | Ident, type: ValueType & { t: 'call' }, site: Site): void => {
    const name = calleeName(node);
    if (name === undefined) return;
    const def = lookupBuiltin(type.category, name);
    for (const h of callHooks) h(node, name, def, type.category, site);
    if (def === undefined || node.kind === 'Ident') return;
    const { bound } = bindArgs(def, node.args);
    for (const param of def.params) {
      const arg = bound.get(param.name);
      if (arg) walkValue(arg.value, param.type, { decl: site.decl, clause: site.clause, what: `${def.name}() ${param.name}`, builtin: def, param });
    }
  };

  // Iterative over list-like nodes, recursive over nesting; the parser caps nesting depth.
  const walkValue = (e: Expr, type: ValueType, site: Site): void => {
    if (e.kind === 'ErrorExpr') return;
    for (const h of valueHooks) h(e, type, site);
    if (e.kind === 'Paren' && type.t !== 'mask') return walkValue(e.expr, type, site);
    switch (type.t) {
      case 'union': {
        const alt = selectAlternative(e, type, lookup);
        if (alt) walkValue(e, alt, site);
        return;
      }
      case 'call':
        if (e.kind === 'Call' || e.kind === 'Ident') walkCall(e, type, site);
        return;
      case 'mask':
        if (e.kind === 'Binary' && (e.op === '&' || e.op === '|')) {
          walkValue(e.left, type, site);
          walkValue(e.right, type, site);
        } else if (e.kind === 'Unary' && e.op === '!') walkValue(e.operand, type, site);
        else if (e.kind === 'Paren') walkValue(e.expr, type, site);
        else if (e.kind === 'Call' || e.kind === 'Ident') walkCall(e, MASK_CALL, site);
        return;
      case 'chain':
        if (e.kind === 'Chain') for (const item of e.items) walkValue(item, type.of, site);
        else walkValue(e, type.of, site);
        return;
      case 'then':
        if (e.kind === 'Then') for (const item of e.items) walkValue(item, type.of, site);
        else walkValue(e, type.of, site);
        return;
      case 'list':
        if (e.kind === 'List') for (const item of e.items) walkValue(item, type.of, site);
        return;
      case 'tuple':
        if (e.kind === 'Tuple') e.items.forEach((item, i) => type.of[i] && walkValue(item, type.of[i]!, site));
        return;
      case 'map':
        if (e.kind === 'Map')
          for (const entry of e.entries) {
            walkValue(entry.key, type.key, site);
            walkValue(entry.value, type.value, site);
          }
        return;
      case 'record':
        if (e.kind === 'Map')
          for (const entry of e.entries) {
            const key = entry.key.kind === 'Number' ? undefined : entry.key.kind === 'String' ? entry.key.value : entry.key.name;
            const ft = key !== undefined ? type.fields[key] : undefined;
            if (ft) walkValue(entry.value, ft, { ...site, what: `'${key}'` });
          }
        return;
      case 'range':
        if (e.kind === 'Range') {
          walkValue(e.from, type.of, site);
          walkValue(e.to, type.of, site);
        }
        return;
      case 'compare':
        if (e.kind === 'Binary') {
          walkValue(e.left, type.left, site);
          walkValue(e.right, type.right, site);
        }
        return;
      case 'dataset':
        if (e.kind === 'Ident') walkValue(e, { t: 'ref', kinds: ['data'] }, site);
        else if (e.kind === 'Member' && e.object.kind === 'Ident') walkValue(e.object, { t: 'ref', kinds: ['data'] }, site);
        return;
      default:
        return;
    }
  };

  const walkClause = (decl: Decl, clause: Clause): void => {
    const sem = clauseSemantics(decl.declKind, clause.keyword);
    for (const h of clauseHooks) h(clause, sem, decl);
    if (!sem) return;
    const site: Site = { decl, clause, what: `clause '${clause.keyword}'` };
    if (sem.arg) for (const a of clause.args) walkValue(a, sem.arg, site);
    for (const mod of clause.modifiers) {
      const mt = sem.modifiers?.[mod.keyword];
      if (mt && mod.value) walkValue(mod.value, mt, { decl, clause, what: `'${mod.keyword}'` });
    }
    if (sem.body && clause.body) walkValue(clause.body, sem.body, site);
  };

  for (const decl of program.decls) {
    const eff = context.effective(decl);
    for (const h of declHooks) h(decl, eff);
    for (const clause of decl.clauses) walkClause(decl, clause);
    const vt = VALUE_FORM_SEMANTICS[decl.declKind];
    if (decl.value && vt) walkValue(decl.value, vt, { decl, clause: undefined, what: `the value of ${decl.declKind} '${decl.name.name}'` });
  }
  for (const v of visitors) v.end?.();
  return sortDiagnostics(out);
}

/** Source order (then code), stable. */
export function sortDiagnostics(ds: readonly Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => a.span.start - b.span.start || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
}
