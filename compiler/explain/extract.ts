// From a checked program to the plain inputs of the cost model. This is the thin layer that the
// IR lowering (compiler/lower, compiler/ir) will replace: it reads effective (inherited) clauses,
// fills the registry's defaults, and keeps nothing of the AST but names and numbers.
import type { Decl, Expr, Program } from '../../grammar/ast.js';
import type { Diagnostic } from '../../grammar/diagnostics.js';
import type { AttentionMaskIR, MaskIR } from '../../runtime/mask/ir.js';
import type { ScheduleConfig } from '../../runtime/curriculum/config.js';
import { growP2 } from '../../runtime/curriculum/config.js';
import { lowerMask } from '../lower/mask.js';
import { resolveInheritance, symbolTable, clauseArg, clausesOf, type EffectiveDecl } from '../analyze/inherit.js';
import { argOf, asBuiltin, attentionMasks, numArg } from '../analyze/facts.js';
import { numberValue, unwrap, calleeName } from '../analyze/values.js';
import { lookupBuiltin } from '../registry/index.js';
import type { ModelShape, PackInput } from './cost.js';
import type { SourceConfig } from '../../runtime/data/config.js';

export interface ModelInput {
  readonly name: string;
  /** undefined when the model is loaded from a checkpoint (shape unknown before run time). */
  readonly shape: ModelShape | undefined;
  readonly attention: string | undefined;
  readonly note?: string;
}

export interface CacheInput {
  readonly policy: string;
  /** keep(mask): the mask of kept positions. */
  readonly keep?: MaskIR;
  /** sirllm(keep: n): entries kept. */
  readonly keepCount?: number;
}

export interface AttentionInput {
  readonly name: string;
  readonly masks: AttentionMaskIR;
  readonly maskText: string;
  readonly tile: number;
  readonly cache: CacheInput;
}

export interface DataInput {
  readonly name: string;
  readonly pack: PackInput | undefined;
  readonly packText: string;
  /** Source descriptions as written (`text("corpus/sotu/*.txt")`). */
  readonly sources: readonly string[];
  /** The sources as runtime configs, when every one could be read from the file. */
  readonly sourceConfigs: readonly SourceConfig[] | undefined;
  readonly tokenizer: string;
  /** Whether the tokenizer is bytes() (lengths are then byte counts + 1 EOT). */
  readonly bytesTokenizer: boolean;
}

export interface CurriculumInput {
  readonly text: string;
  readonly tokensPerStep: number | undefined;
  /** The schedule, once the data's bucket lengths are known (Grow-P2 weights depend on them). */
  readonly schedule: (lengths: readonly number[]) => ScheduleConfig | undefined;
}

export interface TrainInput {
  readonly name: string;
  readonly model: string | undefined;
  readonly data: string | undefined;
  readonly curriculum: CurriculumInput | undefined;
  readonly steps: number | undefined;
}

export interface SamplerInput {
  readonly name: string;
  readonly text: string;
  readonly role: string;
  readonly state: string;
}

export interface DecodeInput {
  readonly name: string;
  readonly model: string | undefined;
  readonly attention: string | undefined;
  readonly chain: readonly SamplerInput[];
  readonly maxTokens: number | undefined;
  readonly warnings: readonly string[];
}

export interface ExplainInputs {
  readonly models: ReadonlyMap<string, ModelInput>;
  readonly attentions: ReadonlyMap<string, AttentionInput>;
  readonly data: ReadonlyMap<string, DataInput>;
  readonly trains: readonly TrainInput[];
  readonly decodes: readonly DecodeInput[];
}

const num = (e: Expr | undefined): number | undefined => (e ? numberValue(e)?.value : undefined);
const identName = (e: Expr | undefined): string | undefined => {
  if (!e) return undefined;
  const u = unwrap(e);
  return u.kind === 'Ident' ? u.name : undefined;
};

/** The source text of an expression (for display). */
function text(src: string, e: Expr | undefined): string {
  return e ? src.slice(e.span.start, e.span.end) : '';
}

/** Vocabulary of a tokenizer call: bytes() is 257 (256 bytes + EOT); others are known only at load. */
function vocabOf(e: Expr | undefined, symbols: ReadonlyMap<string, Decl>, eff: (d: Decl) => EffectiveDecl): number | undefined {
  if (!e) return undefined;
  const n = num(e);
  if (n !== undefined) return n;
  const name = identName(e);
  const d = name ? symbols.get(name) : undefined;
  const call = d?.declKind === 'tokenizer' ? (eff(d).value ?? clauseArg(eff(d), 'use')) : e;
  return calleeName(unwrap(call ?? e)) === 'bytes' ? 257 : undefined;
}

/** The state a sampler keeps across decoding steps. */
export function samplerState(name: string, bound: (p: string) => number | undefined): string {
  switch (name) {
    case 'repetition':
    case 'frequency':
    case 'presence': {
      const last = bound('last');
      return `token history (${last === undefined || last === 0 ? 'all generated tokens' : `last ${last} tokens`}) with counts`;
    }
    case 'dry':
      return 'token history (repeat matching against earlier text)';
    case 'mirostat':
    case 'mirostat_v2':
      return 'mu (the running surprise bound, starts at 2 tau) and the RNG stream';
    case 'sample':
      return 'the RNG stream (seeded)';
    default:
      return 'none';
  }
}

function schedulePart(e: Expr | undefined, decl: Decl | undefined, src: string, eff: (d: Decl) => EffectiveDecl): CurriculumInput | undefined {
  if (decl) {
    const ed = eff(decl);
    if (ed.value !== undefined) return schedulePart(ed.value, undefined, src, eff);
    const tps = num(clauseArg(ed, 'tokens_per_step'));
    const cycles = num(clauseArg(ed, 'cycles'));
    const length = num(clauseArg(ed, 'length'));
    const w = clauseArg(ed, 'weights');
    const grow = asBuiltin(clauseArg(ed, 'grow'), 'growth');
    const desc = `curriculum ${decl.name.name}`;
    return {
      text: desc,
      tokensPerStep: tps,
      schedule: (lengths) => {
        if (length !== undefined) return { kind: 'fixed', length };
        if (grow) {
          const from = numArg(grow, 'from'), to = numArg(grow, 'to'), steps = numArg(grow, 'steps');
          if (from === undefined || to === undefined || steps === undefined) return undefined;
          return { kind: 'grow', from, to, steps, shape: 'linear' };
        }
        if (w) {
          const u = unwrap(w);
          if (u.kind === 'Map') {
            const weights = u.entries.flatMap((en) => (en.key.kind === 'Number' && num(en.value) !== undefined ? [{ length: en.key.value, weight: num(en.value)! }] : []));
            return { kind: 'weights', weights, cycles: cycles ?? 1 };
          }
          const name = calleeName(u);
          if (name === 'grow_p2' && lengths.length) return growP2(Math.min(...lengths), Math.max(...lengths), cycles ?? 8);
          if (name === 'uniform') return { kind: 'uniform', cycles: cycles ?? 1 };
        }
        return lengths.length === 1 ? { kind: 'fixed', length: lengths[0]! } : { kind: 'uniform', cycles: cycles ?? 1 };
      },
    };
  }
  const c = asBuiltin(e, 'curriculum');
  if (!c) return undefined;
  const tps = numArg(c, 'tokens_per_step');
  const t = text(src, e);
  switch (c.def.name) {
    case 'fixed': {
      const length = numArg(c, 'length');
      return { text: t, tokensPerStep: tps, schedule: () => (length !== undefined ? { kind: 'fixed', length } : undefined) };
    }
    case 'uniform':
      return { text: t, tokensPerStep: tps, schedule: () => ({ kind: 'uniform', cycles: 1 }) };
    case 'grow_p2': {
      const cycles = numArg(c, 'cycles') ?? 8;
      return { text: t, tokensPerStep: tps, schedule: (lengths) => (lengths.length ? growP2(Math.min(...lengths), Math.max(...lengths), cycles) : undefined) };
    }
    default:
      return undefined;
  }
}

/** Everything explain needs from a program (with the checker's diagnostics for decode warnings). */
export function extractInputs(program: Program, src: string, diagnostics: readonly Diagnostic[]): ExplainInputs {
  const symbols = symbolTable(program);
  const inh = resolveInheritance(program, symbols);
  const eff = (d: Decl): EffectiveDecl => inh.effective.get(d)!;
  const models = new Map<string, ModelInput>();
  const attentions = new Map<string, AttentionInput>();
  const data = new Map<string, DataInput>();
  const trains: TrainInput[] = [];
  const decodes: DecodeInput[] = [];

  for (const d of program.decls) {
    const ed = eff(d);
    const name = d.name.name;
    switch (d.declKind) {
      case 'model': {
        const arch = asBuiltin(clauseArg(ed, 'arch') ?? ed.value, 'arch');
        const attention = identName(clauseArg(ed, 'attention'));
        if (!arch || arch.def.name !== 'llama') {
          models.set(name, { name, shape: undefined, attention, note: 'no llama(...) architecture in the file (a checkpoint is loaded at run time)' });
          break;
        }
        const dim = numArg(arch, 'dim'), layers = numArg(arch, 'layers'), heads = numArg(arch, 'heads'), ffn = numArg(arch, 'ffn');
        const kvHeads = num(argOf(arch, 'kv_heads')) ?? heads;
        const vocab = vocabOf(clauseArg(ed, 'vocab'), symbols, eff);
        const tie = unwrap(clauseArg(ed, 'tie_embeddings') ?? { kind: 'Bool', value: false, span: d.span });
        if (dim === undefined || layers === undefined || heads === undefined || ffn === undefined || kvHeads === undefined || vocab === undefined) {
          models.set(name, { name, shape: undefined, attention, note: vocab === undefined ? 'vocabulary size unknown before the tokenizer is loaded (write `vocab N`)' : 'incomplete architecture' });
          break;
        }
        models.set(name, { name, shape: { dim, layers, heads, kvHeads, ffn, vocab, tieEmbeddings: tie.kind === 'Bool' && tie.value }, attention });
        break;
      }
      case 'attention': {
        const m = attentionMasks(ed);
        const masks: AttentionMaskIR = { default: m.default?.mask, groups: m.groups.map((g) => ({ from: g.from, to: g.to, mask: g.mask })) };
        const maskText = [
          ...(m.default ? [text(src, m.default.clause.args[0])] : []),
          ...m.groups.map((g) => `heads ${text(src, g.clause.args[0])}: ${text(src, g.clause.body)}`),
        ].join('; ');
        const tileArg = clauseArg(ed, 'tile');
        let tile = 64;
        if (tileArg) {
          const u = unwrap(tileArg);
          const n = num(u);
          if (n !== undefined) tile = n;
        }
        const cacheCall = asBuiltin(clauseArg(ed, 'cache'), 'cache');
        let cache: CacheInput = { policy: 'full (default: keep every key and value)' };
        if (cacheCall) {
          const t = text(src, clauseArg(ed, 'cache'));
          if (cacheCall.def.name === 'keep') {
            const me = argOf(cacheCall, 'mask');
            const l = me ? lowerMask(me) : undefined;
            cache = { policy: t, keep: l?.ok ? l.mask : undefined };
          } else if (cacheCall.def.name === 'sirllm') cache = { policy: t, keepCount: numArg(cacheCall, 'keep') };
          else cache = { policy: t };
        }
        attentions.set(name, { name, masks, maskText: maskText || 'none (full)', tile, cache });
        break;
      }
      case 'data': {
        const pkE = clauseArg(ed, 'pack');
        const pk = asBuiltin(pkE, 'packer');
        const seed = num(clauseArg(ed, 'seed')) ?? 0;
        let pack: PackInput | undefined;
        if (pk) {
          switch (pk.def.name) {
            case 'decompose': {
              const det = argOf(pk, 'deterministic');
              const u = det ? unwrap(det) : undefined;
              pack = { kind: 'decompose', min: numArg(pk, 'min') ?? 256, max: numArg(pk, 'max') ?? 8192, deterministic: u?.kind === 'Bool' ? u.value : false, seed };
              break;
            }
            case 'concat_chunk':
            case 'pad': {
              const l = numArg(pk, 'length');
              if (l !== undefined) pack = { kind: pk.def.name, length: l };
              break;
            }
            case 'prepack': {
              const c = numArg(pk, 'capacity');
              if (c !== undefined) pack = { kind: 'prepack', capacity: c };
              break;
            }
          }
        }
        const tokE = clauseArg(ed, 'tokenizer');
        const configs: SourceConfig[] = [];
        for (const c of clausesOf(ed, 'source')) {
          const sc = asBuiltin(c.clause.args[0], 'source');
          const str = (p: string, dflt?: string): string | undefined => {
            const v = sc ? argOf(sc, p) : undefined;
            const u = v ? unwrap(v) : undefined;
            return u?.kind === 'String' ? u.value : dflt;
          };
          const weight = num(c.clause.modifiers.find((m) => m.keyword === 'weight')?.value) ?? 1;
          if (sc?.def.name === 'text' && str('glob')) configs.push({ kind: 'text', glob: str('glob')!, weight });
          else if (sc?.def.name === 'jsonl' && str('path')) configs.push({ kind: 'jsonl', path: str('path')!, field: str('field', 'text')!, weight, onError: 'skip' });
          else if (sc?.def.name === 'parquet' && str('path')) configs.push({ kind: 'parquet', path: str('path')!, column: str('column', 'text')!, weight });
        }
        data.set(name, {
          name,
          pack,
          packText: pkE ? text(src, pkE) : 'none',
          sources: clausesOf(ed, 'source').map((c) => text(src, c.clause.args[0])),
          sourceConfigs: configs.length === clausesOf(ed, 'source').length ? configs : undefined,
          tokenizer: text(src, tokE),
          bytesTokenizer: vocabOf(tokE, symbols, eff) === 257,
        });
        break;
      }
      case 'train': {
        const cE = clauseArg(ed, 'curriculum');
        const cName = identName(cE);
        const cDecl = cName ? symbols.get(cName) : undefined;
        trains.push({
          name,
          model: identName(clauseArg(ed, 'model')),
          data: identName(clauseArg(ed, 'data')),
          curriculum: schedulePart(cE, cDecl?.declKind === 'curriculum' ? cDecl : undefined, src, eff),
          steps: num(clauseArg(ed, 'steps')),
        });
        break;
      }
      case 'decode': {
        const policy = clauseArg(ed, 'policy');
        const items = policy ? (unwrap(policy).kind === 'Chain' ? (unwrap(policy) as Extract<Expr, { kind: 'Chain' }>).items : [policy]) : [];
        const chain: SamplerInput[] = items.map((it) => {
          const sname = calleeName(unwrap(it)) ?? text(src, it);
          const def = lookupBuiltin('sampler', sname);
          const call = asBuiltin(it, 'sampler');
          return { name: sname, text: text(src, it), role: def?.role ?? 'unknown', state: samplerState(sname, (p) => (call ? numArg(call, p) : undefined)) };
        });
        if (chain.length && !chain.some((s) => s.role === 'terminal')) chain.push({ name: 'sample', text: 'sample (implicit)', role: 'terminal', state: samplerState('sample', () => undefined) });
        const within = (x: Diagnostic): boolean => x.span.file === d.span.file && x.span.start >= d.span.start && x.span.end <= d.span.end;
        decodes.push({
          name,
          model: identName(clauseArg(ed, 'model')),
          attention: identName(clauseArg(ed, 'attention')),
          chain,
          maxTokens: num(clauseArg(ed, 'max_tokens')),
          warnings: diagnostics.filter((x) => within(x)).map((x) => `${x.severity} ${x.code}: ${x.message}`),
        });
        break;
      }
      default:
        break;
    }
  }
  return { models, attentions, data, trains, decodes };
}
