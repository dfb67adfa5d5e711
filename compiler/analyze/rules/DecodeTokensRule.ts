// LMP0605: min_tokens greater than max_tokens (end-of-sequence could never be allowed in time).
import { diag } from '../../../grammar/diagnostics.js';
import type { Rule } from '../context.js';
import { clauseArg } from '../inherit.js';
import { numberValue } from '../values.js';

export const DecodeTokensRule: Rule = {
  name: 'DecodeTokensRule',
  codes: ['LMP0605'],
  create: (ctx) => ({
    decl(decl, eff) {
      if (decl.declKind !== 'decode') return;
      const minE = clauseArg(eff, 'min_tokens');
      const min = minE ? numberValue(minE)?.value : undefined;
      const maxE = clauseArg(eff, 'max_tokens');
      const max = maxE ? numberValue(maxE)?.value : undefined;
      if (min !== undefined && max !== undefined && min > max) ctx.report(diag('LMP0605', minE!.span, { min, max }, { notes: [{ message: 'max_tokens', span: maxE!.span }] }));
    },
  }),
};
