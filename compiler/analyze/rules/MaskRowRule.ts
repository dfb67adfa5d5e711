// LMP0501: a mask that leaves some query row with no visible key (softmax over nothing). Proved
// with the runtime's block classifier (runtime/mask findEmptyRow), so what the checker accepts is
// what the kernel runs. The error names the first such row and the term of an intersection that
// empties it on its own, when there is one.
import { diag } from '../../../grammar/diagnostics.js';
import { findEmptyRow } from '../../../runtime/mask/index.js';
import type { MaskIR } from '../../../runtime/mask/ir.js';
import { lowerMask } from '../../lower/mask.js';
import type { Rule } from '../context.js';
import { emptyRowOf, maskText } from '../facts.js';

function reason(mask: MaskIR, row: number): string {
  if (mask.op === 'and') {
    for (const term of mask.args) if (findEmptyRow(term, row + 1) === row) return `${maskText(term)} hides every key from it`;
    return `the intersection ${maskText(mask)} leaves it no key`;
  }
  return `${maskText(mask)} hides every key from it`;
}

export const MaskRowRule: Rule = {
  name: 'MaskRowRule',
  codes: ['LMP0501'],
  create: (ctx) => ({
    clause(clause, _sem, decl) {
      if (decl.declKind !== 'attention') return;
      const expr = clause.keyword === 'mask' ? clause.args[0] : clause.keyword === 'heads' ? clause.body : undefined;
      if (!expr) return;
      const l = lowerMask(expr);
      if (!l.ok) return;
      const row = emptyRowOf(l.mask);
      if (row !== undefined) ctx.report(diag('LMP0501', expr.span, { row, reason: reason(l.mask, row) }));
    },
  }),
};
