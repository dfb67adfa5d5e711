// LMP0706 / LMP0707: tokenizers and vocabulary sizes that runtime/entry refuses before anything
// runs (LMP_E_TOKENIZER, LMP_E_SHAPE), compared on the lowered specs the runtime is given:
//   LMP0706  a train whose model reads `vocab T` while its data is tokenized with another
//            tokenizer; a decode whose prompt data is tokenized with another tokenizer than its
//            model reads; the models of a cascade or a draft and its target reading different
//            tokenizers (runtime/entry: index.ts runTrain, decode.ts prepareDecode, dataPrompts).
//   LMP0707  a numeric `vocab N` below the tokenizer the model meets (its train's data, or the byte
//            tokenizer a model without `vocab T` decodes with: common.ts modelTokenizer); a draft
//            and a target with different vocabulary sizes (runtime/decode decoder.ts).
// Only what is certain is reported: a model that loads a checkpoint, or that a train of the file
// trains (it then decodes with the train data's tokenizer), has no tokenizer known here; two
// Hugging Face tokenizers are compared by the runtime on the file's content, so never here.
import type { Clause, Decl } from '../../../grammar/ast.js';
import { diag } from '../../../grammar/diagnostics.js';
import type { TokenizerConfig } from '../../../runtime/data/config.js';
import type { AnySpec, ModelSpec } from '../../../runtime/entry/spec.js';
import { lowerOnDemand } from '../../lower/index.js';
import type { Rule, RuleContext } from '../context.js';
import { clausesOf, type EffectiveDecl } from '../inherit.js';
import { unwrap } from '../values.js';

/** The byte tokenizer a model without `vocab T` reads (runtime/entry/common.ts BYTES). */
const BYTES: TokenizerConfig = { kind: 'bytes', eot: 256, appendEot: true };
const BYTES_VOCAB = 257;

/** How the runtime names a tokenizer config (runtime/data/tokenizers.ts `id`), in words. */
function describe(c: TokenizerConfig): string {
  const bos = 'bos' in c && c.bos !== undefined && c.bos !== null && c.bos !== 'auto' ? `, bos ${c.bos}` : '';
  const eot = `eot ${c.appendEot ? String(c.eot ?? 'default') : 'none'}`;
  switch (c.kind) {
    case 'bytes':
      return `bytes() (${eot}${bos})`;
    case 'tiktoken':
      return `tiktoken("${c.encoding}") (${eot}${bos})`;
    case 'huggingface':
      return `hf("${c.path}")`;
  }
}

/**
 * Whether the runtime will see two different tokenizers: true only when certain. Different kinds
 * always differ (their ids do); two Hugging Face ones are compared on the file's bytes at run
 * time; fields of different types (an eot as an id or as a token name) may name the same token.
 */
function differ(a: TokenizerConfig, b: TokenizerConfig): boolean {
  if (a.kind !== b.kind) return true;
  if (a.kind === 'huggingface' || b.kind === 'huggingface') return false;
  const fields = (c: TokenizerConfig): unknown[] => [c.kind === 'tiktoken' ? c.encoding : '', c.appendEot, c.appendEot ? c.eot : null, 'bos' in c ? (c.bos ?? null) : null];
  const x = fields(a), y = fields(b);
  return x.some((v, i) => {
    const w = y[i];
    if (v === w) return false;
    return typeof v === typeof w || v === null || w === null;
  });
}

export const TokenizerAgreementRule: Rule = {
  name: 'TokenizerAgreementRule',
  codes: ['LMP0706', 'LMP0707'],
  create: (ctx) => {
    let spec: ((d: Decl) => AnySpec | undefined) | undefined;
    const specOf = (d: Decl): AnySpec | undefined => (spec ??= lowerOnDemand(ctx.program))(d);
    let trained: Set<string> | undefined;
    const trainedModels = (): Set<string> => (trained ??= trainedInFile(ctx));

    /** The tokenizer a model's prompts are encoded with, when known here. */
    const modelTok = (m: ModelSpec): TokenizerConfig | undefined => {
      if (m.tokenizer) return m.tokenizer.config;
      if (m.load || (m.name !== null && trainedModels().has(m.name))) return undefined;
      return BYTES;
    };
    /** A model's vocabulary size, when known here (0 in the spec: the tokenizer's, read at load). */
    const vocabOf = (m: ModelSpec): number | undefined => {
      if (m.config === null || m.load) return undefined;
      if (m.config.vocab > 0) return m.config.vocab;
      return m.tokenizer?.vocabSize ?? undefined;
    };
    const at = (eff: EffectiveDecl, keyword: string): Clause | undefined => clausesOf(eff, keyword)[0]?.clause;
    const tooSmall = (where: Clause | Decl, m: ModelSpec, size: number, tok: TokenizerConfig, meets: string): void => {
      if (!m.config || m.load || m.tokenizer || !(m.config.vocab > 0) || m.config.vocab >= size) return;
      ctx.report(
        diag('LMP0707', spanOf(where), { model: m.name ?? 'anonymous', vocab: m.config.vocab, size, tokenizer: describe(tok), meets }, { help: `write vocab ${size} or more (or vocab T, the tokenizer declaration) in model ${m.name ?? ''}` }),
      );
    };

    return {
      decl(decl, eff) {
        if (decl.declKind === 'train') {
          const s = specOf(decl);
          if (s?.kind !== 'train') return;
          const data = s.data.config.tokenizer;
          const where = at(eff, 'data') ?? decl;
          if (s.model.tokenizer && differ(s.model.tokenizer.config, data))
            ctx.report(
              diag('LMP0706', spanOf(where), { what: `data ${s.data.name}`, a: describe(data), other: `model ${s.model.name}`, b: describe(s.model.tokenizer.config), reason: 'a model trains on the tokenizer it reads' }, {
                help: `tokenize data ${s.data.name} with the tokenizer of model ${s.model.name}'s vocab`,
              }),
            );
          const size = knownVocab(data);
          if (size !== undefined) tooSmall(where, s.model, size, data, `its train ${decl.name.name} reads data ${s.data.name}`);
          return;
        }
        if (decl.declKind === 'eval') {
          const u = at(eff, 'using')?.args[0];
          const name = u ? unwrap(u) : undefined;
          const target = name?.kind === 'Ident' ? ctx.lookup(name.name) : undefined;
          if (target?.declKind !== 'model') return;
          const m = specOf(target);
          if (m?.kind === 'model' && modelTok(m) === BYTES) tooSmall(at(eff, 'using')!, m, BYTES_VOCAB, BYTES, `eval ${decl.name.name} runs it with the byte tokenizer`);
          return;
        }
        if (decl.declKind !== 'decode') return;
        const s = specOf(decl);
        if (s?.kind !== 'decode') return;
        const models: [ModelSpec, Clause | Decl][] = s.cascade
          ? s.cascade.models.map((m) => [m, at(eff, 'cascade') ?? decl])
          : s.model
            ? [[s.model, at(eff, 'model') ?? decl]]
            : [];
        if (s.speculate) models.push([s.speculate.draft, at(eff, 'speculate') ?? decl]);
        const first = models[0];
        if (!first) return;
        for (const [m, where] of models) if (modelTok(m) === BYTES) tooSmall(where, m, BYTES_VOCAB, BYTES, `decode ${decl.name.name} runs it with the byte tokenizer`);
        const t0 = modelTok(first[0]);
        if (t0) {
          for (const [m, where] of models.slice(1)) {
            const t = modelTok(m);
            if (t && differ(t, t0))
              ctx.report(
                diag('LMP0706', spanOf(where), { what: `model ${m.name}`, a: describe(t), other: `model ${first[0].name}`, b: describe(t0), reason: 'the models of a decode (a cascade, a draft and its target) share one tokenizer' }, {
                  help: 'give the models the same vocab tokenizer',
                }),
              );
          }
          const p = s.prompt;
          if (p && 'data' in p && differ(p.data.config.tokenizer, t0))
            ctx.report(
              diag('LMP0706', spanOf(at(eff, 'prompt') ?? decl), { what: `prompt data ${p.data.name}`, a: describe(p.data.config.tokenizer), other: `model ${first[0].name}`, b: describe(t0), reason: 'prompts are encoded with the tokenizer the model reads' }, {
                help: `tokenize data ${p.data.name} with model ${first[0].name}'s tokenizer`,
              }),
            );
        }
        if (s.speculate) {
          const vd = vocabOf(s.speculate.draft), vt = vocabOf(first[0]);
          if (vd !== undefined && vt !== undefined && vd !== vt)
            ctx.report(
              diag('LMP0707', spanOf(at(eff, 'speculate') ?? decl), { model: s.speculate.draft.name ?? 'anonymous', vocab: vd, size: vt, tokenizer: `the vocabulary of target ${first[0].name}`, meets: 'a draft proposes tokens of its target' }, {
                help: 'give the draft and the target the same vocab',
              }),
            );
        }
      },
    };
  },
};

const spanOf = (x: Clause | Decl): Clause['span'] => ('keyword' in x ? x.span : x.name.span);

/** A tokenizer's vocabulary size where it is known without loading it: bytes, max(eot, bos) + 1 (runtime/data bytesTokenizer). */
function knownVocab(c: TokenizerConfig): number | undefined {
  if (c.kind !== 'bytes') return undefined;
  return Math.max(c.eot, typeof c.bos === 'number' ? c.bos : 0) + 1;
}

/** Names of models some train of the file trains (they decode with that train's data tokenizer). */
function trainedInFile(ctx: RuleContext): Set<string> {
  const out = new Set<string>();
  for (const d of ctx.program.decls) {
    if (d.declKind !== 'train') continue;
    const m = clausesOf(ctx.effective(d), 'model')[0]?.clause.args[0];
    const u = m ? unwrap(m) : undefined;
    if (u?.kind === 'Ident') out.add(u.name);
  }
  return out;
}
