// From the IR (compiler/lower) to the plain inputs of the cost model. Every number, mask,
// packer, schedule and sampler comes from the lowered specs, i.e. exactly what `lmpc build`
// emits and the runtime runs (`from` flattened, registry defaults filled). Only display labels
// (a clause as written, e.g. `decompose(min: 256, max: 8k)`) are read from the source text.
import type { Expr, Program } from '../../grammar/ast.js';
import type { Diagnostic } from '../../grammar/diagnostics.js';
import type { AttentionMaskIR, MaskIR } from '../../runtime/mask/ir.js';
import type { ScheduleConfig } from '../../runtime/curriculum/config.js';
import type { SourceConfig } from '../../runtime/data/config.js';
import type { SamplerSpec } from '../../runtime/decode/chain.js';
import { resolveInheritance, symbolTable, type EffectiveDecl } from '../analyze/inherit.js';
import { unwrap } from '../analyze/values.js';
import { declsOf, type ProgramIR } from '../ir/types.js';
import { lookupBuiltin } from '../registry/index.js';
import type { ModelShape, PackInput } from './cost.js';

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
  /** The sources as runtime configs (from the IR). */
  readonly sourceConfigs: readonly SourceConfig[];
  /** Whether the tokenizer is bytes() (lengths are then byte counts + 1 EOT). */
  readonly bytesTokenizer: boolean;
}

export interface CurriculumInput {
  readonly text: string;
  readonly tokensPerStep: number;
  readonly schedule: ScheduleConfig;
}

export interface TrainInput {
  readonly name: string;
  readonly model: string | undefined;
  readonly data: string | undefined;
  readonly curriculum: CurriculumInput;
  readonly steps: number | undefined;
}

export interface SamplerInput {
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

/** The state a sampler (runtime name, as in the IR's chain) keeps across decoding steps. */
export function samplerState(s: SamplerSpec): string {
  switch (s.name) {
    case 'penalties':
      return `token history (${s.last < 0 ? 'all generated tokens' : `last ${s.last} tokens`}) with counts`;
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

/** The lmp built-in a runtime sampler came from (for its role in the registry). */
function lmpSampler(s: SamplerSpec): string {
  switch (s.name) {
    case 'penalties':
      return (s.repeat ?? 1) !== 1 ? 'repetition' : s.frequency ? 'frequency' : 'presence';
    case 'allowed':
      return 'allow';
    case 'banned':
      return 'ban';
    default:
      return s.name;
  }
}

/** Display labels: clauses of each declaration as written in the source (after `from`). */
class Labels {
  private readonly eff: ReadonlyMap<string, EffectiveDecl>;
  constructor(
    program: Program,
    private readonly src: string,
  ) {
    const symbols = symbolTable(program);
    const inh = resolveInheritance(program, symbols);
    this.eff = new Map(program.decls.map((d) => [d.name.name, inh.effective.get(d)!] as const));
  }
  text(e: Expr | undefined): string {
    return e ? this.src.slice(e.span.start, e.span.end) : '';
  }
  clauses(decl: string, keyword: string) {
    return (this.eff.get(decl)?.clauses ?? []).filter((c) => c.clause.keyword === keyword).map((c) => c.clause);
  }
  arg(decl: string, keyword: string): string {
    return this.text(this.clauses(decl, keyword)[0]?.args[0]);
  }
  value(decl: string): string {
    return this.text(this.eff.get(decl)?.value);
  }
  /** The items of a decode's `policy` chain, as written. */
  chain(decl: string): string[] {
    const p = this.clauses(decl, 'policy')[0]?.args[0];
    if (!p) return [];
    const u = unwrap(p);
    return (u.kind === 'Chain' ? u.items : [p]).map((e) => this.text(e));
  }
}

/** Everything explain needs from a lowered program (with the checker's diagnostics for decode warnings). */
export function explainInputs(ir: ProgramIR, program: Program, src: string, diagnostics: readonly Diagnostic[]): ExplainInputs {
  const lab = new Labels(program, src);
  const models = new Map<string, ModelInput>();
  const attentions = new Map<string, AttentionInput>();
  const data = new Map<string, DataInput>();

  for (const { spec, name } of declsOf(ir, 'model')) {
    const attention = spec.attention?.name ?? undefined;
    const c = spec.config;
    if (!c) models.set(name, { name, shape: undefined, attention, note: 'no llama(...) architecture in the file (a checkpoint is loaded at run time)' });
    else if (c.vocab <= 0) models.set(name, { name, shape: undefined, attention, note: 'vocabulary size unknown before the tokenizer is loaded (write `vocab N`)' });
    else models.set(name, { name, shape: { dim: c.dim, layers: c.layers, heads: c.heads, kvHeads: c.kvHeads, ffn: c.ffn, vocab: c.vocab, tieEmbeddings: c.tieEmbeddings }, attention });
  }

  for (const { spec, name } of declsOf(ir, 'attention')) {
    const maskText = [
      ...lab.clauses(name, 'mask').map((c) => lab.text(c.args[0])),
      ...lab.clauses(name, 'heads').map((c) => `heads ${lab.text(c.args[0])}: ${lab.text(c.body)}`),
    ].join('; ');
    const written = lab.arg(name, 'cache');
    const cache: CacheInput =
      spec.cache.kind === 'keep'
        ? { policy: written, keep: spec.cache.mask as MaskIR }
        : spec.cache.kind === 'sirllm'
          ? { policy: written, keepCount: spec.cache.keep }
          : { policy: written || 'full (default: keep every key and value)' };
    attentions.set(name, { name, masks: spec.mask as AttentionMaskIR, maskText: maskText || 'none (full)', tile: spec.tile.cpu.q, cache });
  }

  for (const { spec, name } of declsOf(ir, 'data')) {
    const p = spec.config.pack;
    const pack: PackInput | undefined =
      p.kind === 'decompose'
        ? { kind: 'decompose', min: p.min, max: p.max, deterministic: p.deterministic, seed: spec.config.seed }
        : p.kind === 'concat_chunk' || p.kind === 'pad'
          ? { kind: p.kind, length: p.length }
          : p.kind === 'prepack' && typeof p.capacity === 'number'
            ? { kind: 'prepack', capacity: p.capacity }
            : undefined;
    const written = lab.arg(name, 'pack');
    data.set(name, {
      name,
      pack,
      packText: written || `${p.kind === 'concat_chunk' ? `concat_chunk(${p.length})` : p.kind} (default)`,
      sources: lab.clauses(name, 'source').map((c) => lab.text(c.args[0])),
      sourceConfigs: spec.config.sources as SourceConfig[],
      bytesTokenizer: spec.config.tokenizer.kind === 'bytes',
    });
  }

  const trains: TrainInput[] = declsOf(ir, 'train').map(({ spec, name }) => {
    const cur = spec.curriculum;
    const written = lab.arg(name, 'curriculum');
    return {
      name,
      model: spec.model.name ?? undefined,
      data: spec.data.name ?? undefined,
      curriculum: {
        text: cur.name !== null ? `curriculum ${cur.name}` : written || 'no curriculum (uniform over the buckets)',
        tokensPerStep: cur.config.tokensPerStep,
        schedule: cur.config.schedule as ScheduleConfig,
      },
      steps: spec.steps > 0 ? spec.steps : undefined,
    };
  });

  const decodes: DecodeInput[] = declsOf(ir, 'decode').map((d) => {
    const { spec, name } = d;
    const written = lab.chain(name);
    const samplers = spec.chain.samplers as readonly SamplerSpec[];
    const chain = samplers.map((s, i) => ({
      text: written[i] ?? `${s.name} (implicit)`,
      role: lookupBuiltin('sampler', lmpSampler(s))?.role ?? 'unknown',
      state: samplerState(s),
    }));
    const within = (x: Diagnostic): boolean => x.span.file === d.span.file && x.span.start >= d.span.start && x.span.end <= d.span.end;
    return {
      name,
      model: spec.model?.name ?? undefined,
      attention: spec.attention?.name ?? undefined,
      chain,
      maxTokens: spec.maxTokens ?? undefined,
      warnings: diagnostics.filter(within).map((x) => `${x.severity} ${x.code}: ${x.message}`),
    };
  });
  return { models, attentions, data, trains, decodes };
}
