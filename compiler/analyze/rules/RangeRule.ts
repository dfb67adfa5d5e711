// LMP0309 / LMP0310 / LMP0311: numbers outside their allowed range (top_p in (0, 1],
// window >= 1, temperature > 0, ...), fractional counts, and counts that must be powers of two.
// One range depends on another argument: needle's queries are at most its keys (runtime/eval
// needle.ts refuses more with LMP_E_EVAL_PARAMS).
import { diag } from '../../../grammar/diagnostics.js';
import { describeRange } from '../../registry/index.js';
import type { Rule } from '../context.js';
import { argOf, numArg } from '../facts.js';
import { numberValue, unitAccepts } from '../values.js';

export const RangeRule: Rule = {
  name: 'RangeRule',
  codes: ['LMP0309', 'LMP0310', 'LMP0311'],
  create: (ctx) => ({
    call(node, name, def, category) {
      if (category !== 'task' || name !== 'needle' || !def || node.kind !== 'Call') return;
      const c = { node, def };
      const q = argOf(c, 'queries');
      const keys = numArg(c, 'keys');
      const queries = q ? numberValue(q) : undefined;
      if (q && queries && keys !== undefined && queries.value > keys) ctx.report(diag('LMP0309', q.span, { what: 'needle() queries', range: `at most keys (${keys})`, value: queries.raw }));
    },
    value(e, type, site) {
      if (type.t !== 'number') return;
      const n = numberValue(e);
      if (n === undefined || !unitAccepts(type.unit, n.unit)) return;
      const v = n.value;
      const shown = () => (n.raw === String(v) ? n.raw : `${n.raw} (= ${v})`);
      if (type.unit === 'count' && !Number.isInteger(v)) {
        ctx.report(diag('LMP0310', e.span, { what: site.what, value: shown() }));
        return;
      }
      const below = type.min !== undefined && (type.minExclusive ? v <= type.min : v < type.min);
      const above = type.max !== undefined && (type.maxExclusive ? v >= type.max : v > type.max);
      if (below || above) {
        ctx.report(diag('LMP0309', e.span, { what: site.what, range: describeRange(type)!, value: shown() }));
        return;
      }
      if (type.powerOfTwo && !(v > 0 && Number.isInteger(Math.log2(v)))) {
        const lower = v > 0 ? 2 ** Math.floor(Math.log2(v)) : 1;
        ctx.report(diag('LMP0311', e.span, { what: site.what, value: shown(), lower, upper: lower * 2 }));
      }
    },
  }),
};
