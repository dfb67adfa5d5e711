// LMP0504 / LMP0506 / LMP0705: per-head masks. Head ranges must not overlap; a `mask` clause is
// dead when the groups cover every head of each model that uses the attention; a group may not
// name heads a model using the attention does not have.
import type { Decl } from '../../../grammar/ast.js';
import { diag } from '../../../grammar/diagnostics.js';
import type { Rule } from '../context.js';
import { attentionMasks, modelHeads, refTo } from '../facts.js';
import { clauseArg } from '../inherit.js';

export const HeadGroupsRule: Rule = {
  name: 'HeadGroupsRule',
  codes: ['LMP0504', 'LMP0506', 'LMP0705'],
  create: (ctx) => ({
    decl(decl, eff) {
      if (decl.declKind !== 'attention') return;
      const masks = attentionMasks(eff);
      const own = masks.groups.filter((g) => decl.clauses.includes(g.clause));
      for (let i = 0; i < masks.groups.length; i++)
        for (let j = i + 1; j < masks.groups.length; j++) {
          const a = masks.groups[i]!;
          const b = masks.groups[j]!;
          if (!own.includes(b)) continue;
          if (a.from <= b.to && b.from <= a.to) ctx.report(diag('LMP0504', b.clause.args[0]!.span, { a: `${a.from}..${a.to}`, b: `${b.from}..${b.to}` }, { notes: [{ message: 'the other group', span: a.clause.args[0]!.span }] }));
        }
      if (masks.groups.length === 0) return;
      const users: { model: Decl; heads: number }[] = [];
      for (const d of ctx.program.decls) {
        if (d.declKind !== 'model' || ctx.lookup(d.name.name) !== d) continue;
        if (refTo(ctx, clauseArg(ctx.effective(d), 'attention'), 'attention') !== decl) continue;
        const heads = modelHeads(ctx, d);
        if (heads !== undefined && Number.isInteger(heads) && heads > 0 && heads <= 4096) users.push({ model: d, heads });
      }
      for (const { model, heads } of users)
        for (const g of own)
          if (g.to >= heads) ctx.report(diag('LMP0705', g.clause.args[0]!.span, { range: `${g.from}..${g.to}`, heads, model: model.name.name }, { notes: [{ message: 'the model', span: model.name.span }] }));
      if (masks.default && decl.clauses.includes(masks.default.clause) && users.length > 0) {
        const coversAll = users.every(({ heads }) => {
          for (let h = 0; h < heads; h++) if (!masks.groups.some((g) => g.from <= h && h <= g.to)) return false;
          return true;
        });
        if (coversAll) ctx.report(diag('LMP0506', masks.default.clause.keywordSpan, { heads: users.map((u) => `${u.heads} in model ${u.model.name.name}`).join(', ') }));
      }
    },
  }),
};
