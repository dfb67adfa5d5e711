// LMP0401: decompose(min, max) with min > max (each bound being a power of two is RangeRule's).
import { diag } from '../../../grammar/diagnostics.js';
import type { Rule } from '../context.js';
import { numArg } from '../facts.js';

export const DecomposeBoundsRule: Rule = {
  name: 'DecomposeBoundsRule',
  codes: ['LMP0401'],
  create: (ctx) => ({
    call(node, _name, def, category) {
      if (category !== 'packer' || def?.name !== 'decompose') return;
      const min = numArg({ node, def }, 'min');
      const max = numArg({ node, def }, 'max');
      if (min !== undefined && max !== undefined && min > max) ctx.report(diag('LMP0401', node.span, { min, max }));
    },
  }),
};
