// LMP0505 (warning): `reposition` re-rotates cached keys after eviction; with a cache that never
// evicts (full, or no cache clause) it does nothing.
import { diag } from '../../../grammar/diagnostics.js';
import type { Rule } from '../context.js';
import { asBuiltin } from '../facts.js';

export const RepositionRule: Rule = {
  name: 'RepositionRule',
  codes: ['LMP0505'],
  create: (ctx) => ({
    clause(clause, _sem, decl) {
      if (decl.declKind !== 'attention' || clause.keyword !== 'cache') return;
      const flag = clause.modifiers.find((m) => m.keyword === 'reposition');
      if (!flag) return;
      const policy = asBuiltin(clause.args[0], 'cache');
      if (policy && policy.def.evicts === false) ctx.report(diag('LMP0505', flag.keywordSpan, { cache: policy.def.name }));
    },
  }),
};
