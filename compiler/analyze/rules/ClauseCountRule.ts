// LMP0207 / LMP0208: a non-repeatable clause written twice in one block; a required clause
// missing after inheritance (a train without model, data or steps; a decode without a model
// or a cascade).
import { DECL_SPECS } from '../../../grammar/clauses.js';
import { diag } from '../../../grammar/diagnostics.js';
import { CLAUSE_SEMANTICS } from '../../registry/index.js';
import type { Rule } from '../context.js';

// Per declaration kind: the keywords that may be written once, and the required clauses.
const SINGLE = new Map(Object.entries(DECL_SPECS).map(([kind, spec]) => [kind, new Set(spec.clauses.filter((s) => !s.repeatable).map((s) => s.words.join(' ')))]));
const REQUIRED = new Map(Object.entries(CLAUSE_SEMANTICS).map(([kind, sems]) => [kind, Object.entries(sems).flatMap(([keyword, sem]) => (sem.required ? [keyword] : []))]));

export const ClauseCountRule: Rule = {
  name: 'ClauseCountRule',
  codes: ['LMP0207', 'LMP0208'],
  create: (ctx) => ({
    decl(decl, eff) {
      const single = SINGLE.get(decl.declKind)!;
      const seen = new Map<string, number>();
      for (const c of decl.clauses) {
        if (!single.has(c.keyword)) continue;
        const n = (seen.get(c.keyword) ?? 0) + 1;
        seen.set(c.keyword, n);
        if (n === 2) {
          const first = decl.clauses.find((x) => x.keyword === c.keyword)!;
          ctx.report(
            diag('LMP0207', c.keywordSpan, { clause: c.keyword, declKind: decl.declKind, decl: decl.name.name }, { notes: [{ message: 'first written here', span: first.keywordSpan }] }),
          );
        }
      }
      if (decl.form === 'value' || eff.value !== undefined) return;
      const present = new Set(eff.clauses.map((c) => c.clause.keyword));
      for (const keyword of REQUIRED.get(decl.declKind)!) {
        if (!present.has(keyword))
          ctx.report(diag('LMP0208', decl.name.span, { declKind: decl.declKind, decl: decl.name.name, clause: keyword }));
      }
      if (decl.declKind === 'decode' && !present.has('model') && !present.has('cascade'))
        ctx.report(diag('LMP0208', decl.name.span, { declKind: decl.declKind, decl: decl.name.name, clause: 'model' }, { help: "add 'model NAME' (or a 'cascade small -> big')" }));
    },
  }),
};
