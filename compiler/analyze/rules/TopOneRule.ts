// After top_k(1) one candidate is left (the most probable token):
//  - LMP0603 (warning): a later top_k / top_p / min_p / typical / epsilon / eta keeps at least
//    one token, so it changes nothing;
//  - LMP0607 (error): a later allow / ban removes that token whenever it is not allowed (is
//    banned), and decoding fails with LMP_E_NO_CANDIDATES (runtime/decode), mid-generation.
// (temperature after top_k(1) is SamplerChainRule's; a penalty after it is SamplerOrderRule's.)
import { diag } from '../../../grammar/diagnostics.js';
import type { Rule } from '../context.js';
import { LOGIT_FILTERS, policySamplers, topOneIndex } from '../facts.js';

export const TopOneRule: Rule = {
  name: 'TopOneRule',
  codes: ['LMP0603', 'LMP0607'],
  create: (ctx) => ({
    clause(clause, _sem, decl) {
      const samplers = policySamplers(clause, decl);
      if (!samplers) return;
      const one = topOneIndex(samplers);
      if (one < 0) return;
      const note = { notes: [{ message: 'top_k(1) keeps only the most probable token', span: samplers[one]!.e.span }] };
      for (const { e, s } of samplers.slice(one + 1)) {
        const name = s.def.name;
        if (LOGIT_FILTERS.has(name)) ctx.report(diag('LMP0603', e.span, { name, reason: 'top_k(1) before it leaves a single candidate' }, note));
        else if (name === 'allow' || name === 'ban')
          ctx.report(
            diag('LMP0607', e.span, { name, reason: `top_k(1) before it keeps a single token, which ${name} removes whenever the most probable token is ${name === 'ban' ? 'banned' : 'not allowed'}`, help: `put ${name} before top_k(1): the most probable token is then chosen among the tokens ${name} keeps` }, note),
          );
      }
    },
  }),
};
