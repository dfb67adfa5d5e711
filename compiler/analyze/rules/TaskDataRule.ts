// LMP0208 for a task that reads a data declaration's text: tsort cuts it into segments, so an
// eval running tsort without a `data` clause (own or inherited) fails at run time
// (LMP_E_EVAL_PARAMS). Reported at the eval's name, as a missing clause.
import { diag } from '../../../grammar/diagnostics.js';
import type { Rule } from '../context.js';
import { asBuiltin } from '../facts.js';
import { clauseArg } from '../inherit.js';

const READS_DATA: Readonly<Record<string, string>> = { tsort: 'tsort cuts the text of a data declaration into segments' };

export const TaskDataRule: Rule = {
  name: 'TaskDataRule',
  codes: ['LMP0208'],
  create: (ctx) => ({
    decl(decl, eff) {
      if (decl.declKind !== 'eval') return;
      const task = asBuiltin(clauseArg(eff, 'task'), 'task');
      const why = task ? READS_DATA[task.def.name] : undefined;
      if (!why || clauseArg(eff, 'data') !== undefined) return;
      ctx.report(diag('LMP0208', decl.name.span, { declKind: 'eval', decl: decl.name.name, clause: 'data' }, { help: `${why}: add 'data D' (or D.holdout / D.train)` }));
    },
  }),
};
