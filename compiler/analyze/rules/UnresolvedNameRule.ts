// LMP0202 / LMP0203: a reference names no declaration, or a declaration of the wrong kind
// (a `model` clause naming a data declaration).
import type { DeclKind } from '../../../grammar/ast.js';
import { diag } from '../../../grammar/diagnostics.js';
import type { Rule } from '../context.js';
import { didYouMean } from '../suggest.js';

export const kindsPhrase = (kinds: readonly DeclKind[]): string => kinds.map((k) => `a ${k}`).join(' or ');

export const UnresolvedNameRule: Rule = {
  name: 'UnresolvedNameRule',
  codes: ['LMP0202', 'LMP0203'],
  create: (ctx) => ({
    value(e, type) {
      if (type.t !== 'ref' || e.kind !== 'Ident') return;
      const target = ctx.lookup(e.name);
      if (target === undefined) {
        const sameKind = ctx.program.decls.filter((d) => type.kinds.includes(d.declKind)).map((d) => d.name.name);
        ctx.report(diag('LMP0202', e.span, { expected: type.kinds.join(' or '), name: e.name, suggestion: didYouMean(e.name, sameKind) }));
      } else if (!type.kinds.includes(target.declKind)) {
        ctx.report(
          diag('LMP0203', e.span, { name: e.name, found: target.declKind, expected: kindsPhrase(type.kinds) }, { notes: [{ message: `'${e.name}' is declared here`, span: target.name.span }] }),
        );
      }
    },
  }),
};
