// LMP0502: a train whose model's attention lets a query see a later key (next-token training
// would read the answer). Proved with runtime/mask isCausal over the block classifier.
import { diag, type DiagnosticNote } from '../../../grammar/diagnostics.js';
import type { Rule } from '../context.js';
import { attentionMasks, isCausalMask, refTo } from '../facts.js';
import { clauseArg, clausesOf } from '../inherit.js';

export const TrainCausalRule: Rule = {
  name: 'TrainCausalRule',
  codes: ['LMP0502'],
  create: (ctx) => ({
    decl(decl, eff) {
      if (decl.declKind !== 'train') return;
      const modelExpr = clauseArg(eff, 'model');
      const model = refTo(ctx, modelExpr, 'model');
      if (!model || !modelExpr) return;
      const attn = refTo(ctx, clauseArg(ctx.effective(model), 'attention'), 'attention');
      if (!attn) return;
      const masks = attentionMasks(ctx.effective(attn));
      const bad: DiagnosticNote[] = [];
      if (masks.default && !isCausalMask(masks.default.mask)) bad.push({ message: 'this mask admits keys after the query', span: masks.default.clause.args[0]!.span });
      for (const g of masks.groups) if (!isCausalMask(g.mask)) bad.push({ message: `heads ${g.from}..${g.to} admit keys after the query`, span: g.clause.body!.span });
      if (bad.length > 0) {
        const at = clausesOf(eff, 'model')[0]!;
        ctx.report(diag('LMP0502', at.owner === decl ? modelExpr.span : decl.name.span, { train: decl.name.name, attention: attn.name.name }, { notes: bad }));
      }
    },
  }),
};
