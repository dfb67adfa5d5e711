// LMP0805: `D.holdout` (a task's data, e.g. `eval every 200: perplexity(D.holdout)`) where data D
// has no `holdout` clause, own or inherited, or a zero fraction: the hold-out side is empty.
import { diag } from '../../../grammar/diagnostics.js';
import type { Rule } from '../context.js';
import { clauseArg } from '../inherit.js';
import { numberValue } from '../values.js';

export const HoldoutRule: Rule = {
  name: 'HoldoutRule',
  codes: ['LMP0805'],
  create: (ctx) => ({
    value(e, type) {
      if (type.t !== 'dataset' || e.kind !== 'Member' || e.property.name !== 'holdout' || e.object.kind !== 'Ident') return;
      const data = ctx.lookup(e.object.name);
      if (data?.declKind !== 'data') return; // not a data declaration: the name rules report it
      const h = clauseArg(ctx.effective(data), 'holdout');
      const fraction = h === undefined ? 0 : numberValue(h)?.value;
      if (fraction === 0) ctx.report(diag('LMP0805', e.span, { data: data.name.name }));
    },
  }),
};
