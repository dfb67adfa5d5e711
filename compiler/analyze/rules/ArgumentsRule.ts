// LMP0302..LMP0306: arguments that do not bind to a built-in's parameters: unknown names,
// missing required parameters, positional after named, too many, one parameter twice.
import { diag } from '../../../grammar/diagnostics.js';
import { bindArgs } from '../../registry/index.js';
import type { Rule } from '../context.js';
import { didYouMean } from '../suggest.js';

export const ArgumentsRule: Rule = {
  name: 'ArgumentsRule',
  codes: ['LMP0302', 'LMP0303', 'LMP0304', 'LMP0305', 'LMP0306'],
  create: (ctx) => ({
    call(node, name, def) {
      if (def === undefined) return;
      const args = node.kind === 'Call' ? node.args : [];
      const { bound, problems, missing } = bindArgs(def, args);
      const params = def.params.map((p) => p.name);
      for (const p of problems) {
        switch (p.kind) {
          case 'unknown': {
            const s = didYouMean(p.name, params);
            ctx.report(diag('LMP0302', p.arg.name!.span, { callee: name, name: p.name, params: params.join(', ') || '(none)' }, s ? { help: s } : {}));
            break;
          }
          case 'positional-after-named':
            ctx.report(diag('LMP0304', p.arg.span));
            break;
          case 'too-many':
            ctx.report(diag('LMP0305', p.arg.span, { callee: name, max: def.params.length, found: args.filter((a) => a.name === undefined).length }));
            break;
          case 'duplicate':
            ctx.report(diag('LMP0306', p.arg.span, { callee: name, name: p.name }));
            break;
        }
      }
      // A misplaced positional argument was meant for some parameter: do not also call it missing.
      if (problems.some((p) => p.kind === 'positional-after-named')) return;
      for (const m of missing) ctx.report(diag('LMP0303', node.span, { callee: name, name: m.name, doc: `${m.name}: ${m.doc}` }));
      if (def.exactlyOne && !def.exactlyOne.some((n) => bound.has(n))) {
        const names = def.exactlyOne.map((n) => `'${n}'`).join(' or ');
        ctx.report(diag('LMP0303', node.span, { callee: name, name: def.exactlyOne.join('|'), doc: `give exactly one of ${names}` }));
      }
    },
  }),
};
