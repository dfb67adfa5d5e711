// LMP0606: a penalty (repetition, frequency, presence, dry, logit_bias) after a filter whose kept
// set depends on the logits (top_k, top_p, min_p, typical, epsilon, eta). The chain runs in the
// written order over one candidate set (runtime/decode), so the filter picks its tokens from
// logits without the penalty and the penalty only reweights those: a repeated token the penalty
// would have pushed out stays a candidate. It runs, silently unlike llama.cpp's order (penalties
// first): a warning. After allow / ban the order does not matter (their sets ignore the logits).
import { diag } from '../../../grammar/diagnostics.js';
import type { Rule } from '../context.js';
import { LOGIT_FILTERS, policySamplers } from '../facts.js';

export const SamplerOrderRule: Rule = {
  name: 'SamplerOrderRule',
  codes: ['LMP0606'],
  create: (ctx) => ({
    clause(clause, _sem, decl) {
      const samplers = policySamplers(clause, decl);
      if (!samplers) return;
      const filter = samplers.find((x) => x.s.def.role === 'filter' && LOGIT_FILTERS.has(x.s.def.name));
      if (!filter) return;
      for (const { e, s } of samplers.slice(samplers.indexOf(filter) + 1)) {
        if (s.def.role !== 'penalty') continue;
        ctx.report(diag('LMP0606', e.span, { penalty: s.def.name, filter: filter.s.def.name }, { notes: [{ message: `the first filter, '${filter.s.def.name}'`, span: filter.e.span }] }));
      }
    },
  }),
};
