// LMP0204 / LMP0205 / LMP0206: `from` names an unknown base, a base of another kind, or the
// bases form a cycle (reported once per cycle, at the first declaration of the cycle in source).
import { diag } from '../../../grammar/diagnostics.js';
import type { Rule } from '../context.js';

export const FromBaseRule: Rule = {
  name: 'FromBaseRule',
  codes: ['LMP0204', 'LMP0205', 'LMP0206'],
  create: (ctx) => ({
    decl(decl) {
      if (decl.base === undefined) return;
      const base = ctx.lookup(decl.base.name);
      if (base === undefined) ctx.report(diag('LMP0204', decl.base.span, { decl: decl.name.name, base: decl.base.name }));
      else if (base.declKind !== decl.declKind)
        ctx.report(
          diag('LMP0205', decl.base.span, { declKind: decl.declKind, decl: decl.name.name, baseKind: base.declKind, base: base.name.name }, { notes: [{ message: 'the base is declared here', span: base.name.span }] }),
        );
    },
    end() {
      for (const cycle of ctx.inheritance.cycles) {
        const first = [...cycle].sort((a, b) => a.span.start - b.span.start)[0]!;
        const i = cycle.indexOf(first);
        const ordered = [...cycle.slice(i), ...cycle.slice(0, i), first];
        ctx.report(
          diag('LMP0206', first.base!.span, { cycle: ordered.map((d) => d.name.name).join(' -> ') }, {
            notes: ordered.slice(1, -1).map((d) => ({ message: `'${d.name.name}' inherits from '${d.base!.name}'`, span: d.base!.span })),
          }),
        );
      }
    },
  }),
};
