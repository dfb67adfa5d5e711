// LMP0402 / LMP0404 / LMP0405: curriculum weights against the buckets the train's data can
// produce (decompose(min, max) produces 2^k for k in [log2 min, log2 max]; concat_chunk(L) and
// pad(L) produce L): a weight for a bucket that cannot exist (error), a weight of 0 (dead
// setting), a produced bucket with no weight (its sequences are never used).
import type { Expr } from '../../../grammar/ast.js';
import { diag, type Diagnostic } from '../../../grammar/diagnostics.js';
import type { Rule } from '../context.js';
import { bucketsOf, curriculumFacts, refTo } from '../facts.js';
import { clauseArg } from '../inherit.js';
import { numberValue } from '../values.js';

export const CurriculumWeightsRule: Rule = {
  name: 'CurriculumWeightsRule',
  codes: ['LMP0402', 'LMP0404', 'LMP0405'],
  create: (ctx) => {
    const reported = new Set<string>();
    const once = (d: Diagnostic) => {
      const key = `${d.code}:${d.span.start}:${d.message}`;
      if (!reported.has(key)) {
        reported.add(key);
        ctx.report(d);
      }
    };
    return {
      clause(clause, _sem, decl) {
        if (decl.declKind !== 'curriculum' || clause.keyword !== 'weights') return;
        const w = clause.args[0];
        if (w?.kind !== 'Map') return;
        for (const entry of w.entries) {
          const v = numberValue(entry.value);
          if (v?.value === 0) ctx.report(diag('LMP0404', entry.span, { bucket: entry.key.kind === 'Ident' ? entry.key.name : entry.key.raw }));
        }
      },
      decl(decl, eff) {
        if (decl.declKind !== 'train') return;
        const data = refTo(ctx, clauseArg(eff, 'data'), 'data');
        if (!data) return;
        const buckets = bucketsOf(ctx.effective(data));
        const cur = curriculumFacts(ctx, clauseArg(eff, 'curriculum'));
        if (!buckets || !cur) return;
        const produced = new Set(buckets.lengths);
        const bad = (at: Expr, bucket: string) =>
          once(
            diag('LMP0402', at.span, { bucket, data: data.name.name, packer: buckets.packer, buckets: buckets.lengths.join(', ') }, {
              notes: [{ message: `used by train '${decl.name.name}'`, span: decl.name.span }],
            }),
          );
        if (cur.fixedLength && !produced.has(cur.fixedLength.value)) bad(cur.fixedLength.expr, String(cur.fixedLength.expr.kind === 'Number' ? cur.fixedLength.expr.raw : cur.fixedLength.value));
        if (cur.weights) {
          const weighted = new Set<number>();
          for (const entry of cur.weights.entries) {
            const k = entry.key.kind === 'Number' ? entry.key.value : undefined;
            if (k === undefined) continue;
            weighted.add(k);
            if (!produced.has(k)) bad(entry.key, entry.key.kind === 'Number' ? entry.key.raw : String(k));
          }
          for (const len of buckets.lengths)
            if (!weighted.has(len))
              once(diag('LMP0405', cur.weights.span, { bucket: len, data: data.name.name }, { notes: [{ message: `used by train '${decl.name.name}'`, span: decl.name.span }] }));
        }
      },
    };
  },
};
