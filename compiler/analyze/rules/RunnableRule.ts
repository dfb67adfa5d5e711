// What checks must run: this rule rejects (or warns about) the combinations the runtime would
// otherwise refuse at run time (LMP_E_NO_RUNTIME) or silently ignore.
//   LMP0312  an expression right after a keyword-only clause (`speculate big candidates 4`: the
//            model named without `draft` would decode without speculating; a train's
//            `eval X every N: TASK`, whose X nothing reads).
//   LMP0313  cannot run yet: speculate without a draft (a decode without a model is LMP0208); speculation with a cascade or with traces; prompts prefilled from data
//            (prepack / pad) under an evicting cache or a mask other than causal; a cache
//            keep(MASK) other than keep(sink(g) | window(w)) reposition; a distance limit with
//            position none; pad(truncate: left); a tiktoken encoding js-tiktoken does not ship;
//            `template tokenizer` for a model whose tokenizer has no chat template (bytes, tiktoken); a
//            train's periodic eval other than perplexity(D.side) (or a declaration), or an eval
//            declaration whose `using` runs another model than the train's (or a cascade); optimizer
//            sgd. (allow/ban token strings run: resolved through the decode's tokenizer, LMP0609.)
//   LMP0314  no effect (warning): a `model` clause beside a cascade; hold-out, weights, seed or a
//            training packer on a data declaration used only as prompts; an attention's `tile`
//            (the CPU kernels' tiles are fixed).
import type { Clause, Expr, Program } from '../../../grammar/ast.js';
import { visit } from '../../../grammar/ast.js';
import { diag } from '../../../grammar/diagnostics.js';
import { lowerMask } from '../../lower/mask.js';
import { TIKTOKEN_ENCODINGS } from '../../../runtime/data/config.js';
import { cacheKeepPolicy } from '../../../runtime/model/settings.js';
import { TILE_KV, TILE_Q } from '../../../runtime/attention/index.js';
import { prefillMaskOk } from '../../../runtime/mask/checks.js';
import type { Rule, RuleContext } from '../context.js';
import { asBuiltin, argOf } from '../facts.js';
import { clauseArg, clausesOf, type EffectiveDecl } from '../inherit.js';
import { modelTokenizer } from '../sources.js';
import { describeFound, unwrap } from '../values.js';


const refName = (e: Expr | undefined): string | undefined => {
  const u = e ? unwrap(e) : undefined;
  return u?.kind === 'Ident' ? u.name : undefined;
};

/** Names of data declarations read by anything but a decode's prompt (trains, evals, tasks). */
function dataReadElsewhere(program: Program): Set<string> {
  const used = new Set<string>();
  for (const d of program.decls) {
    if (d.declKind === 'decode' || d.declKind === 'data') continue;
    visit(d, { Ident: (n) => void used.add(n.name) });
  }
  return used;
}

export const RunnableRule: Rule = {
  name: 'RunnableRule',
  codes: ['LMP0312', 'LMP0313', 'LMP0314'],
  create: (ctx) => {
    const cannot = (at: { span: Expr['span'] } | Clause, what: string, reason: string, help = ''): void => ctx.report(diag('LMP0313', at.span, { what, reason, help }));
    const noEffect = (at: { span: Expr['span'] }, what: string, reason: string, help = ''): void => ctx.report(diag('LMP0314', at.span, { what, reason, help }));
    let elsewhere: Set<string> | undefined;
    const promptOnly = new Set<string>(); // data declarations already judged as prompt-only
    return {
      clause(clause, sem) {
        if (!sem || sem.arg || clause.args.length === 0) return;
        // a train's `eval TASK` (no every, no body) is read: the task; beside a body it is not
        if (clause.keyword === 'eval' && !clause.body) return;
        const a = clause.args[0]!;
        const help =
          clause.keyword === 'speculate'
            ? `name the draft model with 'draft': speculate draft ${refName(a) ?? 'MODEL'} candidates N`
            : clause.keyword === 'eval'
              ? 'write eval every N: TASK (or eval every N: NAME of an eval declaration)'
              : `remove it, or write it as a modifier of '${clause.keyword}'`;
        ctx.report(diag('LMP0312', a.span, { clause: clause.keyword, found: describeFound(a), help }));
      },
      call(node, name, def, category) {
        if (!def || node.kind !== 'Call') return;
        const c = { node, def };
        if (category === 'tokenizer' && name === 'tiktoken') {
          const e = argOf(c, 'encoding');
          const u = e ? unwrap(e) : undefined;
          const v = u?.kind === 'String' ? u.value : u?.kind === 'Ident' ? u.name : undefined;
          if (e && v !== undefined && !(TIKTOKEN_ENCODINGS as readonly string[]).includes(v)) cannot(e, `tiktoken encoding '${v}'`, `js-tiktoken ships ${TIKTOKEN_ENCODINGS.join(', ')}`);
        }
        if (category === 'packer' && name === 'pad') {
          const t = argOf(c, 'truncate');
          if (t && refName(t) === 'left') cannot(t, 'pad(truncate: left)', 'runtime/data keeps the first tokens of a longer document (right) or drops it', "use truncate: right or drop");
        }
      },
      decl(decl, eff) {
        switch (decl.declKind) {
          case 'decode':
            return decode(ctx, eff, cannot, noEffect, (n) => {
              elsewhere ??= dataReadElsewhere(ctx.program);
              if (elsewhere.has(n) || promptOnly.has(n)) return false;
              promptOnly.add(n);
              return true;
            });
          case 'attention':
            return attention(eff, cannot, noEffect);
          case 'train':
            return train(ctx, eff, cannot);
          default:
            return;
        }
      },
    };
  },
};

type Report = (at: { span: Expr['span'] } | Clause, what: string, reason: string, help?: string) => void;

function decode(ctx: RuleContext, eff: EffectiveDecl, cannot: Report, noEffect: Report, judgeOnce: (data: string) => boolean): void {
  const model = clausesOf(eff, 'model')[0]?.clause;
  const cascade = clausesOf(eff, 'cascade')[0]?.clause;
  const speculate = clausesOf(eff, 'speculate')[0]?.clause;
  const trace = clausesOf(eff, 'trace')[0]?.clause;
  if (model && cascade) noEffect(model, `'model' beside a cascade`, 'the cascade decodes with the models it lists', "remove 'model'");
  if (speculate) {
    if (!speculate.modifiers.some((m) => m.keyword === 'draft')) cannot(speculate, 'speculate', 'it names no draft model', 'write speculate draft MODEL candidates N');
    if (cascade) cannot(speculate, 'speculative decoding in a cascade', "runtime/decode speculates for one target model", 'use speculate or cascade, not both');
    if (trace) cannot(trace, 'trace with speculative decoding', 'traces come from plain decoding (runtime/decode)', 'remove trace, or decode without speculate');
  }
  // prompts from data: prefill (prepack / pad) needs a full cache and a causal mask
  const pc = clausesOf(eff, 'prompt')[0]?.clause;
  // the model that decodes the prompt: the decode's, else the cascade's first
  const firstModel = model ? refName(model.args[0]) : cascade ? refName(firstOfChain(cascade.args[0])) : undefined;
  const tm = pc?.modifiers.find((m) => m.keyword === 'template');
  if (tm && refName(tm.value) === 'tokenizer') {
    const firstDecl = firstModel ? ctx.lookup(firstModel) : undefined;
    const kind = firstDecl?.declKind === 'model' ? modelTokenizer(ctx, firstDecl)?.kind : undefined;
    if (kind === 'bytes' || kind === 'tiktoken')
      cannot(tm.value!, 'template tokenizer', `model ${firstModel}'s tokenizer (${kind}) has no chat template (Hugging Face tokenizers bring one in tokenizer_config.json)`, 'name a template: chatml, llama3, llama2 or alpaca');
  }
  const dataName = refName(pc?.args[0]);
  const data = dataName ? ctx.lookup(dataName) : undefined;
  if (!pc || !data || data.declKind !== 'data') return;
  const deff = ctx.effective(data);
  const pack = asBuiltin(clauseArg(deff, 'pack'), 'packer');
  if (pack && (pack.def.name === 'prepack' || pack.def.name === 'pad')) {
    const attName = refName(clauseArg(eff, 'attention')) ?? (firstModel ? refName(modelAttention(ctx, firstModel)) : undefined);
    const att = attName ? ctx.lookup(attName) : undefined;
    if (att && att.declKind === 'attention') {
      const aeff = ctx.effective(att);
      const cache = asBuiltin(clauseArg(aeff, 'cache'), 'cache');
      if (cache && cache.def.name !== 'full') cannot(pc, `prompts prefilled with ${pack.def.name}()`, `the prefilled cache is split per prompt in full; attention '${attName}' decodes with cache ${cache.def.name}`, 'use cache full for this decode, or a data declaration without prepack/pad');
      const maskE = clauseArg(aeff, 'mask');
      const lowered = maskE ? lowerMask(maskE) : undefined;
      const groups = clausesOf(aeff, 'heads').length > 0;
      if (groups || (lowered?.ok && !prefillMaskOk(lowered.mask)))
        cannot(pc, `prompts prefilled with ${pack.def.name}()`, `prefill packs prompts under causal & same_document; attention '${attName}' has ${groups ? 'per-head masks' : 'another mask'}`, 'prefill with the causal mask, or a data declaration without prepack/pad');
    }
  }
  if (!judgeOnce(data.name.name)) return;
  // only prompts: what shapes training data does nothing here
  const holdout = clausesOf(deff, 'holdout')[0]?.clause;
  if (holdout) noEffect(holdout, `holdout on data '${data.name.name}'`, 'it is used only as prompts (every document is a prompt)', 'remove it');
  const seed = clausesOf(deff, 'seed')[0]?.clause;
  if (seed) noEffect(seed, `seed on data '${data.name.name}'`, 'prompts are read in input order, nothing is shuffled', 'remove it');
  for (const s of clausesOf(deff, 'source')) {
    const w = s.clause.modifiers.find((m) => m.keyword === 'weight');
    if (w) noEffect(w, `a source weight on data '${data.name.name}'`, 'every document of every source is a prompt once', 'remove it');
  }
  if (pack && (pack.def.name === 'concat_chunk' || pack.def.name === 'decompose'))
    noEffect(pack.node, `pack ${pack.def.name}() on data '${data.name.name}'`, 'prompts are whole documents; only prepack() or pad() change how they are prefilled', 'use pack prepack(...), pad(...), or none');
}

function firstOfChain(e: Expr | undefined): Expr | undefined {
  const u = e ? unwrap(e) : undefined;
  return u?.kind === 'Chain' ? u.items[0] : u;
}

function modelAttention(ctx: RuleContext, model: string): Expr | undefined {
  const m = ctx.lookup(model);
  return m && m.declKind === 'model' ? clauseArg(ctx.effective(m), 'attention') : undefined;
}

function attention(eff: EffectiveDecl, cannot: Report, noEffect: Report): void {
  const cc = clausesOf(eff, 'cache')[0]?.clause;
  const cache = asBuiltin(cc?.args[0], 'cache');
  if (cc && cache?.def.name === 'keep') {
    const me = argOf(cache, 'mask');
    const l = me ? lowerMask(me) : undefined;
    if (l?.ok) {
      const p = cacheKeepPolicy({ kind: 'keep', mask: l.mask, reposition: cc.modifiers.some((m) => m.keyword === 'reposition') });
      if ('error' in p) cannot(cc, 'this cache policy', p.error, 'write cache keep(sink(G) | window(W)) reposition');
    }
  }
  // The kernels' tiles are fixed (runtime/attention TILE_Q x TILE_KV, native/cuda/attention the same); `tile` only feeds
  // kernels.json's per-backend table and explain's tile statistics.
  const tc = clausesOf(eff, 'tile')[0]?.clause;
  if (tc && tc.args[0]) noEffect(tc.args[0], `tile`, `the attention kernels (CPU and CUDA) use fixed ${TILE_Q}x${TILE_KV} tiles; it sets only kernels.json's tile table and lmpc explain's tile statistics`, 'remove it, or keep it to size the explain report');
  const pc = clausesOf(eff, 'position')[0]?.clause;
  const pos = asBuiltin(pc?.args[0], 'position');
  const limit = pc?.modifiers.find((m) => m.keyword === 'limit');
  if (pos?.def.name === 'none' && limit) cannot(limit, 'a distance limit with position none', 'limit clamps relative distances of rope or alibi', 'remove limit, or use rope() or alibi()');
}

/**
 * `eval every N: NAME` runs NAME with the model being trained (runtime/entry: LMP_E_EVAL_USING
 * before step 1 otherwise): its `using` must be this train's model or a decode of it; a cascade
 * decode runs other models.
 */
function periodicEvalModel(ctx: RuleContext, eff: EffectiveDecl, at: Expr, name: string, evalDecl: NonNullable<ReturnType<RuleContext['lookup']>>, cannot: Report): void {
  const trained = refName(clauseArg(eff, 'model'));
  const usingName = refName(clauseArg(ctx.effective(evalDecl), 'using'));
  const target = usingName ? ctx.lookup(usingName) : undefined;
  if (!trained || !target) return; // a missing model or using is reported elsewhere (LMP0208)
  const help = `write using ${trained} (or a decode whose model is ${trained}) in eval ${name}`;
  if (target.declKind === 'decode') {
    const deff = ctx.effective(target);
    if (clausesOf(deff, 'cascade').length > 0) {
      cannot(at, `periodic eval ${name}`, `it runs decode ${usingName}, a cascade of other models; a train's periodic eval runs the model being trained (${trained})`, help);
      return;
    }
    const m = refName(clauseArg(deff, 'model'));
    if (m && m !== trained) cannot(at, `periodic eval ${name}`, `it runs model ${m} (through decode ${usingName}); a train's periodic eval runs the model being trained (${trained})`, help);
  } else if (target.declKind === 'model' && usingName !== trained) {
    cannot(at, `periodic eval ${name}`, `it runs model ${usingName}; a train's periodic eval runs the model being trained (${trained})`, help);
  }
}

function train(ctx: RuleContext, eff: EffectiveDecl, cannot: Report): void {
  const oc = clausesOf(eff, 'optimizer')[0]?.clause;
  if (oc && asBuiltin(oc.args[0], 'optimizer')?.def.name === 'sgd') cannot(oc.args[0]!, 'optimizer sgd', 'runtime/model trains with AdamW', 'use adamw(lr: ...)');
  for (const { clause } of clausesOf(eff, 'eval')) {
    const body = clause.body ?? clause.args[0];
    if (!body) continue;
    const name = refName(body);
    const evalDecl = name ? ctx.lookup(name) : undefined;
    if (evalDecl?.declKind === 'eval') {
      periodicEvalModel(ctx, eff, body, name!, evalDecl, cannot);
      continue;
    }
    const task = asBuiltin(body, 'task');
    if (!task) continue;
    if (task.def.name !== 'perplexity') {
      cannot(body, `periodic eval task ${task.def.name}`, 'a train runs perplexity(D.holdout) inline; other tasks run as an eval declaration', `declare eval NAME { task ${task.def.name}(...) using DECODE } and write eval every N: NAME`);
      continue;
    }
    const d = argOf(task, 'data');
    const u = d ? unwrap(d) : undefined;
    if (u?.kind === 'Ident') cannot(d!, `perplexity on data ${u.name} without a split side`, 'a periodic eval reads one side of the hold-out split', `write ${u.name}.holdout or ${u.name}.train`);
  }
}
