// LMP0604: a policy the decoding backend cannot run. Speculative decoding verifies draft tokens
// against the target's distribution p (accept with min(1, p/q)); cascades defer on the small
// model's token distribution. A stateful terminal (mirostat, mirostat_v2) changes its
// distribution after every sampled token by that token's surprise, so neither can run it.
import { diag } from '../../../grammar/diagnostics.js';
import type { Rule } from '../context.js';
import { asBuiltin } from '../facts.js';
import { clauseArg, clausesOf } from '../inherit.js';
import { unwrap } from '../values.js';

export const DecodeSupportRule: Rule = {
  name: 'DecodeSupportRule',
  codes: ['LMP0604'],
  create: (ctx) => ({
    decl(decl, eff) {
      if (decl.declKind !== 'decode') return;
      const policy = clauseArg(eff, 'policy');
      if (!policy) return;
      const features = [clausesOf(eff, 'speculate').length > 0 ? 'speculative decoding' : undefined, clausesOf(eff, 'cascade').length > 0 ? 'a cascade' : undefined].filter((f) => f !== undefined);
      if (features.length === 0) return;
      const root = unwrap(policy);
      const items = root.kind === 'Chain' ? root.items : [root];
      for (const item of items) {
        const s = asBuiltin(item, 'sampler');
        if (!s?.def.stateful) continue;
        for (const feature of features)
          ctx.report(
            diag('LMP0604', item.span, {
              feature,
              name: s.def.name,
              reason: 'it updates its target after each sampled token, so draft or deferred tokens cannot be checked against a fixed distribution',
            }),
          );
      }
    },
  }),
};
