// LMP0608 (warning): the same filter twice in a chain. It runs, but not as one filter: top_k twice
// leaves the smaller k; min_p twice (only filters between) the larger p, since renormalizing keeps
// each token's ratio to the most probable one; a second top_p, typical, epsilon or eta cuts what
// the first kept, renormalized; two allow lists keep their common tokens. LMP0607 (error): two
// allow lists of token ids with none in common leave no candidate (LMP_E_NO_CANDIDATES at run
// time). A repeated ban is one ban of both lists and is not reported; occurrences after top_k(1)
// are TopOneRule's.
import type { Expr } from '../../../grammar/ast.js';
import { diag } from '../../../grammar/diagnostics.js';
import type { Rule } from '../context.js';
import { argOf, numArg, policySamplers, topOneIndex, type BuiltinCall } from '../facts.js';
import { numberValue, unwrap } from '../values.js';

/** The token ids of an allow list, when every entry is a number. */
function ids(s: BuiltinCall): Set<number> | undefined {
  const e = argOf(s, 'tokens');
  const l = e ? unwrap(e) : undefined;
  if (l?.kind !== 'List') return undefined;
  const out = l.items.map((x: Expr) => numberValue(x)?.value);
  return out.every((x): x is number => x !== undefined) ? new Set(out) : undefined;
}

export const DuplicateFilterRule: Rule = {
  name: 'DuplicateFilterRule',
  codes: ['LMP0608', 'LMP0607'],
  create: (ctx) => ({
    clause(clause, _sem, decl) {
      const samplers = policySamplers(clause, decl);
      if (!samplers) return;
      const one = topOneIndex(samplers);
      samplers.forEach(({ e, s }, j) => {
        const name = s.def.name;
        if (s.def.role !== 'filter' || name === 'ban' || (one >= 0 && j > one)) return;
        const i = samplers.findIndex((x) => x.s.def.name === name);
        if (i === j) return;
        const first = samplers[i]!;
        const note = { notes: [{ message: `the first '${name}'`, span: first.e.span }] };
        let reason: string;
        if (name === 'allow') {
          const a = ids(first.s), b = ids(s);
          if (a && b && ![...b].some((t) => a.has(t))) {
            ctx.report(diag('LMP0607', e.span, { name, reason: 'no token is in both allow lists', help: 'keep one allow list' }, note));
            return;
          }
          reason = 'the second keeps only the tokens of both lists';
        } else if (name === 'top_k') {
          const k1 = numArg(first.s, 'k'), k2 = numArg(s, 'k');
          reason = k1 !== undefined && k2 !== undefined ? `at most ${Math.min(k1, k2)} candidates are left either way` : 'the smaller k decides';
        } else if (name === 'min_p' && samplers.slice(i + 1, j).every((x) => x.s.def.role === 'filter')) {
          const p1 = numArg(first.s, 'p'), p2 = numArg(s, 'p');
          reason = `each keeps p >= min_p * p_max and renormalizing keeps that ratio: min_p(${p1 !== undefined && p2 !== undefined ? Math.max(p1, p2) : 'the larger p'}) alone does the same`;
        } else reason = `the second cuts what the first kept, renormalized: the pair is not one ${name}`;
        ctx.report(diag('LMP0608', e.span, { name, reason }, note));
      });
    },
  }),
};
