// LMP0701..LMP0704: a model's architecture: heads a multiple of kv_heads (grouped-query
// attention shares each KV head among heads / kv_heads query heads), dim a multiple of heads,
// both arch and load (arch is dead), neither.
import { diag } from '../../../grammar/diagnostics.js';
import type { Rule } from '../context.js';
import { argOf, asBuiltin } from '../facts.js';
import { clausesOf } from '../inherit.js';
import { numberValue } from '../values.js';

export const ModelShapeRule: Rule = {
  name: 'ModelShapeRule',
  codes: ['LMP0701', 'LMP0702', 'LMP0703', 'LMP0704'],
  create: (ctx) => ({
    decl(decl, eff) {
      if (decl.declKind !== 'model') return;
      const hasArch = clausesOf(eff, 'arch').length > 0;
      const hasLoad = clausesOf(eff, 'load').length > 0;
      if (eff.value === undefined) {
        if (hasArch && hasLoad) ctx.report(diag('LMP0703', clausesOf(eff, 'arch')[0]!.clause.keywordSpan, { model: decl.name.name }));
        if (!hasArch && !hasLoad) ctx.report(diag('LMP0704', decl.name.span, { model: decl.name.name }));
      }
      // Shape checks belong to the declaration that wrote the arch call.
      const archExpr = decl.value ?? decl.clauses.find((c) => c.keyword === 'arch')?.args[0];
      const arch = asBuiltin(archExpr, 'arch');
      if (!arch || arch.def.name !== 'llama') return;
      const n = (p: string) => {
        const e = argOf(arch, p);
        return e ? { v: numberValue(e)?.value, e } : undefined;
      };
      const heads = n('heads');
      const kv = n('kv_heads');
      const dim = n('dim');
      if (heads?.v && kv?.v && Number.isInteger(heads.v) && kv.v > 0 && heads.v % kv.v !== 0) ctx.report(diag('LMP0701', kv.e.span, { heads: heads.v, kv_heads: kv.v }));
      if (heads?.v && dim?.v && heads.v > 0 && dim.v % heads.v !== 0) ctx.report(diag('LMP0702', dim.e.span, { dim: dim.v, heads: heads.v }));
    },
  }),
};
