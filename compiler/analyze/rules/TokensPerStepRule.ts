// LMP0403: tokens_per_step must be divisible by every bucket length a step may draw from
// (each step takes tokens_per_step / L sequences of length L, so tokens per step stay constant).
import { diag } from '../../../grammar/diagnostics.js';
import type { Rule } from '../context.js';
import { bucketsOf, curriculumFacts, refTo } from '../facts.js';
import { clauseArg } from '../inherit.js';

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

export const TokensPerStepRule: Rule = {
  name: 'TokensPerStepRule',
  codes: ['LMP0403'],
  create: (ctx) => {
    const reported = new Set<string>();
    return {
      decl(decl, eff) {
        if (decl.declKind !== 'train') return;
        const cur = curriculumFacts(ctx, clauseArg(eff, 'curriculum'));
        if (!cur?.tokensPerStep) return;
        const data = refTo(ctx, clauseArg(eff, 'data'), 'data');
        let lengths: number[] = [];
        if (cur.fixedLength) lengths = [cur.fixedLength.value];
        else if (cur.weights) lengths = cur.weights.entries.flatMap((e) => (e.key.kind === 'Number' ? [e.key.value] : []));
        else if (data) lengths = [...(bucketsOf(ctx.effective(data))?.lengths ?? [])];
        lengths = lengths.filter((l) => Number.isInteger(l) && l > 0);
        if (lengths.length === 0) return;
        const lcm = lengths.reduce((a, b) => (a / gcd(a, b)) * b, 1);
        const tps = cur.tokensPerStep.value;
        for (const l of lengths) {
          if (!Number.isInteger(tps) || tps % l === 0) continue;
          const key = `${cur.tokensPerStep.expr.span.start}:${l}`;
          if (reported.has(key)) continue;
          reported.add(key);
          ctx.report(diag('LMP0403', cur.tokensPerStep.expr.span, { tokens: tps, bucket: l, lcm }));
        }
      },
    };
  },
};
