// LMP0806: an eval length shorter than the task's prompt without filler (runtime/eval/minimum.ts,
// built with the generators' own prompt functions), which fails at run time with
// LMP_E_EVAL_LENGTH. Judged when the model the eval's `using` reaches encodes with the byte
// tokenizer (tokens = UTF-8 bytes): a `vocab` naming a bytes() tokenizer, or none and no
// checkpoint loaded (the runtime's default; sources.ts modelTokenizer), unless a train of the file
// trains the model on data of another tokenizer (it then decodes with that one). For needle the minimum
// is the fixed text with the longest keys the draws can pick (shorter lengths fail for some
// samples); for tsort a lower bound (one-byte words).
import type { Decl } from '../../../grammar/ast.js';
import { diag } from '../../../grammar/diagnostics.js';
import { fixedText } from '../../../runtime/eval/minimum.js';
import type { Rule } from '../context.js';
import { argOf, asBuiltin, numArg, refTo } from '../facts.js';
import { clauseArg } from '../inherit.js';
import { modelTokenizer } from '../sources.js';
import { numberValue, unwrap } from '../values.js';

const PARAMS: Readonly<Record<string, readonly string[]>> = { passkey: [], needle: ['keys', 'values', 'queries'], threading: ['steps'], tsort: ['segments'] };

export const EvalLengthRule: Rule = {
  name: 'EvalLengthRule',
  codes: ['LMP0806'],
  create: (ctx) => {
    const reported = new Set<number>();
    const modelOf = (d: Decl): Decl | undefined => {
      if (d.declKind === 'model') return d;
      return d.declKind === 'decode' ? refTo(ctx, clauseArg(ctx.effective(d), 'model'), 'model') : undefined;
    };
    return {
      decl(decl, eff) {
        if (decl.declKind !== 'eval') return;
        const task = asBuiltin(clauseArg(eff, 'task'), 'task');
        const names = task ? PARAMS[task.def.name] : undefined;
        if (!task || !names) return;
        const u = clauseArg(eff, 'using');
        const target = u?.kind === 'Ident' ? ctx.lookup(u.name) : undefined;
        const model = target ? modelOf(target) : undefined;
        if (!model || modelTokenizer(ctx, model)?.kind !== 'bytes') return;
        const params: Record<string, number> = {};
        for (const n of names) {
          const v = numArg(task, n);
          if (v === undefined) return;
          params[n] = v;
        }
        const f = fixedText(task.def.name, params);
        const arg = argOf(task, 'lengths');
        const list = arg ? unwrap(arg) : undefined;
        if (!f || list?.kind !== 'List') return;
        const need = f.max ?? f.min;
        const text =
          f.max === null ? `at least ${f.min} tokens with the byte tokenizer (one-byte words; the data's words add to it)`
          : f.max !== f.min ? `${f.max} tokens with the byte tokenizer when the draws pick the longest keys (${f.min} with the shortest)`
          : `${f.min} tokens with the byte tokenizer`;
        for (const item of list.items) {
          const n = numberValue(item)?.value;
          if (n === undefined || n >= need || reported.has(item.span.start)) continue;
          reported.add(item.span.start);
          ctx.report(diag('LMP0806', item.span, { task: task.def.name, length: n, need: text, min: need }));
        }
      },
    };
  },
};
