// LMP0307 / LMP0308: a value of the wrong shape (a string where a count is expected, a name
// outside an enumeration, an unknown key in a fixed map) or a number with the wrong unit.
import { diag } from '../../../grammar/diagnostics.js';
import { describeType } from '../../registry/index.js';
import type { Rule } from '../context.js';
import { describeFound, matchScore, numberValue, selectAlternative, unitAccepts } from '../values.js';

const UNIT_HELP: Record<string, string> = {
  count: "write a plain count such as 256 or 4k (k = 1024)",
  real: 'write a plain number such as 0.9 or 3e-4',
  fraction: 'write a percentage (10%) or a plain fraction (0.1)',
  duration: 'add a unit: ms, s, min or h',
  bytes: 'add a unit: B, KiB, MiB or GiB',
};

export const TypeRule: Rule = {
  name: 'TypeRule',
  codes: ['LMP0307', 'LMP0308'],
  create: (ctx) => ({
    value(e, type) {
      const mismatch = () => ctx.report(diag('LMP0307', e.span, { expected: describeType(type), found: describeFound(e) }));
      if (type.t === 'union') {
        if (selectAlternative(e, type, ctx.lookup) === undefined) mismatch();
        return;
      }
      if (e.kind === 'Paren' && type.t !== 'mask') return; // the walker re-visits the inner expression
      const score = matchScore(e, type, ctx.lookup);
      if (score === 0) return mismatch();
      switch (type.t) {
        case 'number': {
          const n = numberValue(e)!;
          if (!unitAccepts(type.unit, n.unit))
            ctx.report(diag('LMP0308', e.span, { expected: describeType({ ...type, min: undefined, max: undefined }), found: describeFound(e).replace(/ '.*'$/, ''), raw: n.raw, help: UNIT_HELP[type.unit]! }));
          return;
        }
        case 'enum':
          if (e.kind === 'Ident' && !type.values.includes(e.name)) mismatch();
          return;
        case 'dataset':
          if (e.kind === 'Member' && !['holdout', 'train'].includes(e.property.name))
            ctx.report(diag('LMP0307', e.property.span, { expected: "a data split ('holdout' or 'train')", found: `'${e.property.name}'` }));
          else if (e.kind === 'Member' && e.object.kind !== 'Ident') mismatch();
          return;
        case 'record':
          if (e.kind === 'Map')
            for (const entry of e.entries) {
              const key = entry.key.kind === 'Number' ? entry.key.raw : entry.key.kind === 'String' ? entry.key.value : entry.key.name;
              if (!(key in type.fields)) ctx.report(diag('LMP0307', entry.key.span, { expected: `one of the keys ${Object.keys(type.fields).map((k) => `'${k}'`).join(', ')}`, found: `'${key}'` }));
            }
          return;
        case 'tuple':
          if (e.kind === 'Tuple' && e.items.length !== type.of.length)
            ctx.report(diag('LMP0307', e.span, { expected: describeType(type), found: `a tuple of ${e.items.length}` }));
          return;
        default:
          return;
      }
    },
  }),
};
