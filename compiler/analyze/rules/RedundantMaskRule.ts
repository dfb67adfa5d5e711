// LMP0503 (warning): a term of a mask intersection that changes nothing: `full` in any `&`, and
// `prefix(p)` next to `causal` (causal already implies kv < p || kv <= q).
import type { Expr } from '../../../grammar/ast.js';
import { diag } from '../../../grammar/diagnostics.js';
import type { Rule } from '../context.js';
import { lowerMask } from '../../lower/mask.js';
import { maskText } from '../facts.js';
import { calleeName, unwrap } from '../values.js';

function andTerms(e: Expr, out: Expr[]): void {
  const u = unwrap(e);
  if (u.kind === 'Binary' && u.op === '&') {
    andTerms(u.left, out);
    andTerms(u.right, out);
  } else out.push(u);
}

function check(e: Expr, report: (term: Expr, reason: string) => void): void {
  const u = unwrap(e);
  if (u.kind === 'Binary' && u.op === '&') {
    const terms: Expr[] = [];
    andTerms(u, terms);
    const hasCausal = terms.some((t) => calleeName(t) === 'causal' && t.kind === 'Ident');
    for (const t of terms) {
      const n = calleeName(t);
      if (n === 'full') report(t, 'intersecting with full keeps the other terms unchanged');
      else if (n === 'prefix' && t.kind === 'Call' && hasCausal) report(t, 'causal already shows every key a prefix adds (prefix(p) = kv < p | causal)');
    }
    for (const t of terms) check(t, report);
  } else if (u.kind === 'Binary' && u.op === '|') {
    check(u.left, report);
    check(u.right, report);
  } else if (u.kind === 'Unary') check(u.operand, report);
}

export const RedundantMaskRule: Rule = {
  name: 'RedundantMaskRule',
  codes: ['LMP0503'],
  create: (ctx) => ({
    clause(clause, _sem, decl) {
      if (decl.declKind !== 'attention') return;
      const expr = clause.keyword === 'mask' ? clause.args[0] : clause.keyword === 'heads' ? clause.body : undefined;
      if (expr) check(expr, (term, reason) => ctx.report(diag('LMP0503', term.span, { term: termText(term), reason })));
    },
  }),
};

function termText(e: Expr): string {
  const l = lowerMask(e);
  return l.ok ? maskText(l.mask) : (calleeName(e) ?? 'this term');
}
