// LMP0201: two declarations with one name (all kinds share one namespace).
import { diag } from '../../../grammar/diagnostics.js';
import type { Rule } from '../context.js';

export const DuplicateDeclRule: Rule = {
  name: 'DuplicateDeclRule',
  codes: ['LMP0201'],
  create: (ctx) => ({
    decl(decl) {
      const first = ctx.symbols.get(decl.name.name);
      if (first !== undefined && first !== decl)
        ctx.report(diag('LMP0201', decl.name.span, { name: decl.name.name }, { notes: [{ message: `first declared here as ${first.declKind} '${first.name.name}'`, span: first.name.span }] }));
    },
  }),
};
