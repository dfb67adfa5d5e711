// LMP0609: an allow / ban token string that is not one token of the tokenizer the decode's model
// reads. The runtime resolves the strings through that tokenizer before the chain runs
// (runtime/decode resolveTokenStrings: its tokenId) and refuses one that is not a single token
// (LMP_E_CHAIN_TOKEN). Judged where the tokenizer is known here and its tokens follow from the
// text: the byte tokenizer (one token per UTF-8 byte; sources.ts modelTokenizer). tiktoken and
// Hugging Face tokenizers are resolved at run time only.
import { diag } from '../../../grammar/diagnostics.js';
import type { Rule } from '../context.js';
import { argOf, policySamplers, refTo } from '../facts.js';
import { clauseArg } from '../inherit.js';
import { modelTokenizer } from '../sources.js';
import { unwrap } from '../values.js';

export const TokenStringRule: Rule = {
  name: 'TokenStringRule',
  codes: ['LMP0609'],
  create: (ctx) => ({
    clause(clause, _sem, decl) {
      const samplers = policySamplers(clause, decl)?.filter((x) => x.s.def.name === 'allow' || x.s.def.name === 'ban');
      if (!samplers?.length) return;
      const model = refTo(ctx, clauseArg(ctx.effective(decl), 'model'), 'model');
      if (!model || modelTokenizer(ctx, model)?.kind !== 'bytes') return;
      for (const { s } of samplers) {
        const list = argOf(s, 'tokens');
        const u = list ? unwrap(list) : undefined;
        if (u?.kind !== 'List') continue;
        for (const item of u.items) {
          if (item.kind !== 'String') continue;
          const n = Buffer.byteLength(item.value, 'utf8');
          if (n === 1) continue;
          ctx.report(diag('LMP0609', item.span, { name: s.def.name, text: JSON.stringify(item.value), tokenizer: 'bytes()', count: n, model: model.name.name }));
        }
      }
    },
  }),
};
