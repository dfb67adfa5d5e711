// Lowering: checked AST -> IR (compiler/ir/types.ts), i.e. the runtime's spec objects.
//
// Called only on files without check errors, so every reference resolves and every value has
// the type and unit the registry asks for; lowering still never throws on an odd shape (it falls
// back to the registry default) because the checker is the one place that reports problems.
// Inheritance comes from compiler/analyze/inherit.ts (effective clauses); defaults come from the
// registry's `default` strings; each declaration is lowered once and memoized, so a reference
// lowers to the very object of the referenced declaration.
import type { Call, Clause, Decl, Expr, Ident, MapExpr, Program, Span } from '../../grammar/ast.js';
import { resolveInheritance, symbolTable, type EffectiveDecl } from '../analyze/inherit.js';
import { calleeName, numberValue, unwrap } from '../analyze/values.js';
import { bindArgs, lookupBuiltin, type BuiltinDef, type Category } from '../registry/index.js';
import { lowerMask } from './mask.js';
import { validateChain, type SamplerSpec } from '../../runtime/decode/chain.js';
import type { AttentionMaskIR, HeadGroupIR, MaskIR } from '../../runtime/mask/ir.js';
import { TIKTOKEN_ENCODINGS, type DataConfig, type PackConfig, type SourceConfig, type TokenizerConfig } from '../../runtime/data/config.js';
import type { ScheduleConfig } from '../../runtime/curriculum/config.js';
import type { RopeScaling } from '../../runtime/attention/positions.js';
import { cacheKeepPolicy } from '../../runtime/model/settings.js';
import type { LengthTarget } from '../../runtime/decode/decoder.js';
import {
  IR_VERSION,
  type AnySpec,
  type AttentionSpec,
  type CacheSpec,
  type CurriculumSpec,
  type DataSpec,
  type DeclIR,
  type DecodeSpec,
  type EvalSpec,
  type Json,
  type ModelSpec,
  type OptimizeSpec,
  type OptimizerSpec,
  type PositionSpec,
  type ProgramIR,
  type ScheduleSpec,
  type ScoreSpec,
  type TaskSpec,
  type TokenizerSpec,
  type TrainEvalSpec,
  type TrainBackend,
  type TrainSpec,
} from '../ir/types.js';

/** Default kernel tiles: the CPU kernel's 64x64 (runtime/attention TILE_Q/TILE_KV); FlashAttention-2's 128x64 on CUDA. */
export const DEFAULT_TILES = { cpu: { q: 64, kv: 64 }, cuda: { q: 128, kv: 64 } } as const;
/** Defaults of clauses that have none in the registry (documented in spec/ir.md). */
export const CLAUSE_DEFAULTS = { cycles: 1, ranks: 1, seed: 0, accumulate: 1, pack: { kind: 'concat_chunk', length: 2048 } as PackConfig } as const;

export const where = (s: Span): string => `${s.file}:${s.line}:${s.col}`;

// ---------------------------------------------------------------------------------------------
// Values

/** A registry default string ('8k', '10%', '"text"', '(0.9, 0.999)', 'false', 'paper') as a JSON value. */
export function parseDefaultValue(s: string): Json | undefined {
  const t = s.trim();
  if (t === 'true' || t === 'false') return t === 'true';
  if (t.startsWith('"') && t.endsWith('"')) return t.slice(1, -1);
  if (t.startsWith('(') && t.endsWith(')')) {
    const items = t.slice(1, -1).split(',').map((x) => parseDefaultValue(x));
    return items.every((x) => x !== undefined) ? (items as Json[]) : undefined;
  }
  const m = /^(-?[0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)([kMG%]?)$/.exec(t);
  if (m) {
    const n = Number(m[1]);
    const unit = m[2];
    return unit === 'k' ? n * 1024 : unit === 'M' ? n * 1024 ** 2 : unit === 'G' ? n * 1024 ** 3 : unit === '%' ? n / 100 : n;
  }
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(t)) return t;
  return undefined;
}

/** An expression as a JSON value: numbers normalized by the lexer, strings, bools, idents, lists, tuples, maps. */
export function exprValue(e: Expr): Json {
  const u = unwrap(e);
  const n = numberValue(u);
  if (n) return n.value;
  switch (u.kind) {
    case 'String':
    case 'Bool':
      return u.value;
    case 'Ident':
      return u.name;
    case 'Member':
      return memberPath(u) ?? null;
    case 'List':
    case 'Tuple':
      return u.items.map(exprValue);
    case 'Map': {
      const o: Record<string, Json> = {};
      for (const en of u.entries) o[en.key.kind === 'Ident' ? en.key.name : String(en.key.value)] = exprValue(en.value);
      return o;
    }
    case 'Call':
      return calleeName(u) ?? null;
    default:
      return null;
  }
}

/** `a.b.c` as a string. */
export function memberPath(e: Expr): string | undefined {
  const u = unwrap(e);
  if (u.kind === 'Ident') return u.name;
  if (u.kind === 'Member') {
    const o = memberPath(u.object);
    return o === undefined ? undefined : `${o}.${u.property.name}`;
  }
  return undefined;
}

/** A built-in call with its arguments bound and the registry defaults filled. */
export class BoundCall {
  readonly name: string;
  constructor(
    readonly def: BuiltinDef,
    readonly node: Call | Ident,
  ) {
    this.name = def.name;
  }
  get span(): Span {
    return this.node.span;
  }
  arg(param: string): Expr | undefined {
    return this.node.kind === 'Call' ? bindArgs(this.def, this.node.args).bound.get(param)?.value : undefined;
  }
  has(param: string): boolean {
    return this.arg(param) !== undefined;
  }
  value(param: string): Json | undefined {
    const e = this.arg(param);
    if (e !== undefined) return exprValue(e);
    const d = this.def.params.find((p) => p.name === param)?.default;
    return d === undefined ? undefined : parseDefaultValue(d);
  }
  num(param: string, fallback = NaN): number {
    const v = this.value(param);
    return typeof v === 'number' ? v : fallback;
  }
  str(param: string, fallback = ''): string {
    const v = this.value(param);
    return typeof v === 'string' ? v : fallback;
  }
  bool(param: string, fallback = false): boolean {
    const v = this.value(param);
    return typeof v === 'boolean' ? v : fallback;
  }
  /** Every parameter, explicit (absent defaults such as '-' or 'unbounded' become null). */
  params(): Record<string, Json> {
    const o: Record<string, Json> = {};
    for (const p of this.def.params) {
      const v = this.value(p.name);
      o[p.name] = v === undefined || v === '-' || v === 'unbounded' || v === 'none' ? (this.has(p.name) ? (v ?? null) : null) : v;
    }
    return o;
  }
}

export function builtin(e: Expr | undefined, category: Category): BoundCall | undefined {
  if (e === undefined) return undefined;
  const u = unwrap(e);
  if (u.kind !== 'Call' && u.kind !== 'Ident') return undefined;
  const name = calleeName(u);
  const def = name !== undefined ? lookupBuiltin(category, name) : undefined;
  return def ? new BoundCall(def, u) : undefined;
}

const num = (e: Expr | undefined, fallback: number): number => {
  if (e === undefined) return fallback;
  const n = numberValue(unwrap(e));
  return n ? n.value : fallback;
};

// ---------------------------------------------------------------------------------------------
// The lowering

export function lower(program: Program): ProgramIR {
  return new Lowerer(program).run();
}

/**
 * The spec of single declarations, lowered on demand (memoized), for checks that compare what
 * the runtime will be given (tokenizer configs, vocabulary sizes) without lowering the whole
 * program. A declaration that cannot be lowered (a program with other errors) gives undefined.
 */
export function lowerOnDemand(program: Program): (d: Decl) => AnySpec | undefined {
  const l = new Lowerer(program);
  return (d) => {
    try {
      return l.decl(d);
    } catch {
      return undefined;
    }
  };
}

class Lowerer {
  private readonly symbols: Map<string, Decl>;
  private readonly eff: ReadonlyMap<Decl, EffectiveDecl>;
  private readonly memo = new Map<Decl, AnySpec>();
  private readonly file: string;

  constructor(private readonly program: Program) {
    this.symbols = symbolTable(program);
    this.eff = resolveInheritance(program, this.symbols).effective;
    this.file = program.span.file;
  }

  run(): ProgramIR {
    const decls: DeclIR[] = [];
    const seen = new Set<string>();
    for (const d of this.program.decls) {
      if (seen.has(d.name.name)) continue;
      seen.add(d.name.name);
      decls.push({ kind: d.declKind, name: d.name.name, span: d.span, spec: this.decl(d) } as DeclIR);
    }
    return { version: IR_VERSION, file: this.file, decls };
  }

  // ---- helpers over effective clauses

  private clauses(d: Decl, keyword: string): readonly Clause[] {
    return this.eff
      .get(d)!
      .clauses.filter((c) => c.clause.keyword === keyword)
      .map((c) => c.clause);
  }
  private clause(d: Decl, keyword: string): Clause | undefined {
    return this.clauses(d, keyword)[0];
  }
  private arg(d: Decl, keyword: string): Expr | undefined {
    return this.clause(d, keyword)?.args[0];
  }
  private modifier(c: Clause | undefined, keyword: string): { present: boolean; value: Expr | undefined } {
    const m = c?.modifiers.find((x) => x.keyword === keyword);
    return { present: m !== undefined, value: m?.value };
  }
  private valueOf(d: Decl): Expr | undefined {
    return this.eff.get(d)!.value;
  }
  private ref(e: Expr | undefined, kind: Decl['declKind']): Decl | undefined {
    if (e === undefined) return undefined;
    const u = unwrap(e);
    if (u.kind !== 'Ident') return undefined;
    const d = this.symbols.get(u.name);
    return d?.declKind === kind ? d : undefined;
  }
  private seed(d: Decl): number {
    return num(this.arg(d, 'seed'), CLAUSE_DEFAULTS.seed);
  }

  decl(d: Decl): AnySpec {
    const hit = this.memo.get(d);
    if (hit) return hit;
    let spec: AnySpec;
    switch (d.declKind) {
      case 'tokenizer':
        spec = this.tokenizer(d);
        break;
      case 'data':
        spec = this.data(d);
        break;
      case 'curriculum':
        spec = this.curriculum(d, undefined);
        break;
      case 'attention':
        spec = this.attention(d);
        break;
      case 'model':
        spec = this.model(d);
        break;
      case 'train':
        spec = this.train(d);
        break;
      case 'decode':
        spec = this.decode(d);
        break;
      case 'eval':
        spec = this.eval(d);
        break;
      case 'optimize':
        spec = this.optimize(d);
        break;
    }
    this.memo.set(d, spec);
    return spec;
  }

  // ---- tokenizer

  private tokenizerCall(call: BoundCall | undefined, eotExpr: Expr | undefined, name: string | null, at: Span): TokenizerSpec {
    const unsupported: string[] = [];
    const eotV = eotExpr !== undefined ? exprValue(eotExpr) : undefined;
    const appendEot = eotV !== 'none';
    let config: TokenizerConfig;
    let vocabSize: number | null = null;
    switch (call?.name) {
      case 'hf':
        // no eot: tokenizer_config.json's eos_token (runtime/data/tokenizers.ts)
        // no bos clause: the tokenizer's own (auto: what its post-processor adds in front)
        config = { kind: 'huggingface', path: call.str('path'), eot: typeof eotV === 'number' || (typeof eotV === 'string' && eotV !== 'none') ? eotV : null, appendEot, bos: 'auto' };
        break;
      case 'tiktoken': {
        const enc = call.str('encoding');
        const encoding = TIKTOKEN_ENCODINGS.find((k) => k === enc);
        if (!encoding) unsupported.push(`tiktoken encoding '${enc}' (known: ${TIKTOKEN_ENCODINGS.join(', ')})`);
        config = { kind: 'tiktoken', encoding: encoding ?? 'cl100k_base', eot: typeof eotV === 'number' || (typeof eotV === 'string' && eotV !== 'none') ? eotV : '<|endoftext|>', appendEot };
        break;
      }
      default: {
        const eot = typeof eotV === 'number' ? eotV : 256;
        config = { kind: 'bytes', eot, appendEot };
        vocabSize = Math.max(256, eot + 1);
        break;
      }
    }
    return { kind: 'tokenizer', name, where: where(at), unsupported, config, vocabSize };
  }

  private tokenizer(d: Decl): TokenizerSpec {
    const call = builtin(this.valueOf(d) ?? this.arg(d, 'use'), 'tokenizer');
    const bosE = this.arg(d, 'bos');
    const spec = this.tokenizerCall(call, this.arg(d, 'eot'), d.name.name, d.span);
    // bos: an id or a token name prepended to every document and prompt, or none; absent: none,
    // except a Hugging Face tokenizer's own (tokenizerCall: auto)
    if (bosE === undefined) return spec;
    const v = exprValue(bosE);
    const bos = typeof v === 'number' || (typeof v === 'string' && v !== 'none') ? v : null;
    const config = { ...spec.config, bos } as TokenizerConfig;
    const vocabSize = spec.vocabSize !== null && typeof bos === 'number' ? Math.max(spec.vocabSize, bos + 1) : spec.vocabSize;
    return { ...spec, config, vocabSize };
  }

  private tokenizerRef(e: Expr | undefined, at: Span): TokenizerSpec {
    const d = this.ref(e, 'tokenizer');
    if (d) return this.decl(d) as TokenizerSpec;
    return this.tokenizerCall(builtin(e, 'tokenizer'), undefined, null, e?.span ?? at);
  }

  // ---- data

  private data(d: Decl): DataSpec {
    const unsupported: string[] = [];
    const sources: SourceConfig[] = [];
    for (const c of this.clauses(d, 'source')) {
      const call = builtin(c.args[0], 'source');
      const weight = num(this.modifier(c, 'weight').value, 1);
      if (!call) continue;
      if (call.name === 'text') sources.push({ kind: 'text', glob: call.str('glob'), weight });
      else if (call.name === 'jsonl') sources.push({ kind: 'jsonl', path: call.str('path'), field: call.str('field', 'text'), weight, onError: call.str('on_error', 'fail') === 'skip' ? 'skip' : 'fail' });
      else sources.push({ kind: 'parquet', path: call.str('path'), column: call.str('column', 'text'), weight });
    }
    const tokenizer = this.tokenizerRef(this.arg(d, 'tokenizer'), d.name.span);
    const hc = this.clause(d, 'holdout');
    const holdout = { fraction: num(hc?.args[0], 0), seed: num(this.modifier(hc, 'seed').value, 0) };
    let filter: DataConfig['filter'] = { minLength: 0, maxLength: null };
    for (const c of this.clauses(d, 'filter')) {
      const f = builtin(c.args[0], 'filter');
      if (f?.name === 'length') filter = { minLength: f.num('min', 0), maxLength: f.has('max') ? f.num('max') : null };
    }
    const pk = builtin(this.arg(d, 'pack'), 'packer');
    let pack: PackConfig = CLAUSE_DEFAULTS.pack;
    let buckets: number[] = [];
    switch (pk?.name) {
      case 'concat_chunk':
        pack = { kind: 'concat_chunk', length: pk.num('length') };
        break;
      case 'pad': {
        const t = pk.str('truncate', 'right');
        if (t === 'left') unsupported.push('pad(truncate: left) (runtime/data keeps the first tokens or splits)');
        pack = { kind: 'pad', length: pk.num('length'), truncate: t === 'drop' ? 'drop' : 'truncate', padId: null };
        break;
      }
      case 'decompose':
        pack = { kind: 'decompose', min: pk.num('min'), max: pk.num('max'), deterministic: pk.bool('deterministic') };
        break;
      case 'prepack': {
        const cap = pk.value('capacity');
        pack = { kind: 'prepack', capacity: typeof cap === 'number' ? cap : 'longest', algorithm: pk.str('algorithm') === 'first_fit_decreasing' ? 'ffd' : 'bfd', group: 0 };
        break;
      }
      default:
        break;
    }
    if (pack.kind === 'decompose') for (let l = pack.min; l <= pack.max; l *= 2) buckets.push(l);
    else if (pack.kind === 'concat_chunk' || pack.kind === 'pad') buckets = [pack.length];
    if (tokenizer.config.kind !== 'bytes' && tokenizer.unsupported.length) unsupported.push(...tokenizer.unsupported);
    const config: DataConfig = {
      sources,
      tokenizer: tokenizer.config,
      holdout,
      filter,
      utf8: 'replace',
      pack,
      seed: this.seed(d),
      root: '.',
    };
    return { kind: 'data', name: d.name.name, where: where(d.span), unsupported, config, buckets };
  }

  // ---- curriculum (lowered against the buckets of the data it feeds, when known)

  private weightsOf(e: Expr | undefined, buckets: readonly number[]): { length: number; weight: number }[] | 'uniform' | undefined {
    if (e === undefined) return undefined;
    const u = unwrap(e);
    if (u.kind === 'Map') {
      return (u as MapExpr).entries
        .map((en) => ({ length: en.key.kind === 'Number' ? en.key.value : NaN, weight: num(en.value, 0) }))
        .filter((w) => Number.isFinite(w.length))
        .sort((a, b) => a.length - b.length);
    }
    const call = builtin(u, 'weights');
    if (call?.name === 'uniform') return 'uniform';
    if (call?.name === 'grow_p2') {
      const bs = [...buckets].sort((a, b) => a - b);
      return bs.map((length, i) => ({ length, weight: 2 ** (bs.length - 1 - i) }));
    }
    return undefined;
  }

  private curriculumCall(call: BoundCall | undefined, buckets: readonly number[], at: Span): CurriculumSpec {
    let schedule: ScheduleConfig;
    let tokensPerStep = 0;
    switch (call?.name) {
      case 'fixed':
        schedule = { kind: 'fixed', length: call.num('length') };
        tokensPerStep = call.num('tokens_per_step');
        break;
      case 'grow_p2': {
        tokensPerStep = call.num('tokens_per_step');
        const bs = [...buckets].sort((a, b) => a - b);
        schedule = { kind: 'weights', weights: bs.map((length, i) => ({ length, weight: 2 ** (bs.length - 1 - i) })), cycles: call.num('cycles', 8) };
        break;
      }
      default:
        tokensPerStep = call ? call.num('tokens_per_step') : 0;
        schedule = { kind: 'uniform', cycles: CLAUSE_DEFAULTS.cycles };
    }
    return { kind: 'curriculum', name: null, where: where(at), unsupported: [], config: { schedule, tokensPerStep, ranks: CLAUSE_DEFAULTS.ranks, seed: CLAUSE_DEFAULTS.seed } };
  }

  private curriculum(d: Decl, buckets: readonly number[] | undefined): CurriculumSpec {
    const bs = buckets ?? this.firstUserBuckets(d);
    const v = this.valueOf(d);
    if (v !== undefined) return { ...this.curriculumCall(builtin(v, 'curriculum'), bs, d.name.span), name: d.name.name, where: where(d.span) };
    const unsupported: string[] = [];
    const cycles = num(this.arg(d, 'cycles'), CLAUSE_DEFAULTS.cycles);
    let schedule: ScheduleConfig;
    const grow = builtin(this.arg(d, 'grow'), 'growth');
    const length = this.arg(d, 'length');
    const w = this.weightsOf(this.arg(d, 'weights'), bs);
    if (grow) schedule = { kind: 'grow', from: grow.num('from'), to: grow.num('to'), steps: grow.num('steps'), shape: 'linear' };
    else if (length !== undefined) schedule = { kind: 'fixed', length: num(length, 0) };
    else if (w === undefined || w === 'uniform') schedule = { kind: 'uniform', cycles };
    else schedule = { kind: 'weights', weights: w, cycles };
    return {
      kind: 'curriculum',
      name: d.name.name,
      where: where(d.span),
      unsupported,
      config: { schedule, tokensPerStep: num(this.arg(d, 'tokens_per_step'), 0), ranks: num(this.arg(d, 'ranks'), CLAUSE_DEFAULTS.ranks), seed: this.seed(d) },
    };
  }

  /** Buckets of the data of the first train (in source order) that uses curriculum `d`. */
  private firstUserBuckets(d: Decl): readonly number[] {
    for (const t of this.program.decls) {
      if (t.declKind !== 'train') continue;
      if (this.ref(this.arg(t, 'curriculum'), 'curriculum') !== d) continue;
      const data = this.ref(this.arg(t, 'data'), 'data');
      if (data) return (this.decl(data) as DataSpec).buckets;
    }
    return [];
  }

  // ---- attention

  private attention(d: Decl): AttentionSpec {
    const unsupported: string[] = [];
    const mc = this.clause(d, 'mask');
    let dflt: MaskIR | undefined;
    if (mc?.args[0]) {
      const l = lowerMask(mc.args[0]);
      if (l.ok) dflt = l.mask;
    }
    const groups: HeadGroupIR[] = [];
    for (const c of this.clauses(d, 'heads')) {
      const r = c.args[0] ? unwrap(c.args[0]) : undefined;
      if (!c.body || !r || r.kind !== 'Range') continue;
      const l = lowerMask(c.body);
      if (l.ok) groups.push({ from: num(r.from, 0), to: num(r.to, 0), mask: l.mask });
    }
    groups.sort((a, b) => a.from - b.from);
    // No mask at all: causal (the language's default for a decoder).
    const mask: AttentionMaskIR = { default: dflt ?? (groups.length ? undefined : { op: 'causal' }), groups };

    const sc = builtin(this.arg(d, 'score'), 'score');
    let score: ScoreSpec = { kind: 'softmax', temperature: 1 };
    if (sc?.name === 'softmax') score = { kind: 'softmax', temperature: sc.num('temperature', 1) };
    else if (sc?.name === 'softcap') score = { kind: 'softcap', cap: sc.num('cap') };
    else if (sc?.name === 'softplus') score = { kind: 'softplus', power: sc.num('power', 1), lengthScale: sc.bool('length_scale', true) };

    const pcl = this.clause(d, 'position');
    const limitE = this.modifier(pcl, 'limit').value;
    const limit = limitE !== undefined ? num(limitE, 0) : null;
    const pc = builtin(pcl?.args[0], 'position');
    let position: PositionSpec;
    if (pc?.name === 'alibi') position = { kind: 'alibi', limit };
    else if (pc?.name === 'none') position = { kind: 'none', limit };
    else {
      const sc2 = builtin(pc?.arg('scale'), 'rope_scale');
      let scaling: RopeScaling = { kind: 'none' };
      if (sc2?.name === 'linear') scaling = { kind: 'linear', factor: sc2.num('factor') };
      else if (sc2?.name === 'ntk') scaling = { kind: 'ntk', factor: sc2.num('factor') };
      else if (sc2?.name === 'yarn') scaling = { kind: 'yarn', factor: sc2.num('factor'), originalLength: sc2.num('original'), alpha: sc2.num('beta_slow', 1), beta: sc2.num('beta_fast', 32) };
      else if (sc2?.name === 'truncate') scaling = { kind: 'truncated', a: sc2.num('low'), b: sc2.num('high'), rho: sc2.num('rho', 0) };
      position = { kind: 'rope', theta: pc ? pc.num('theta', 10000) : 10000, scaling, limit };
    }

    const ccl = this.clause(d, 'cache');
    const reposition = this.modifier(ccl, 'reposition').present;
    const cc = builtin(ccl?.args[0], 'cache');
    let cache: CacheSpec = { kind: 'full', reposition };
    if (cc?.name === 'keep') {
      const e = cc.arg('mask');
      const l = e ? lowerMask(e) : undefined;
      cache = { kind: 'keep', mask: l?.ok ? l.mask : { op: 'full' }, reposition };
    } else if (cc?.name === 'sirllm') cache = { kind: 'sirllm', keep: cc.num('keep'), decay: cc.num('decay', 0.9), recent: cc.num('recent', 64), reposition };
    else if (cc?.name === 'infllm')
      cache = { kind: 'infllm', block: cc.num('block'), top: cc.num('top'), local: cc.num('local', 512), sinks: cc.num('sinks', 4), representatives: cc.num('representatives', 4), reposition };

    const tileE = this.arg(d, 'tile');
    let tile: AttentionSpec['tile'] = DEFAULT_TILES;
    if (tileE !== undefined) {
      const u = unwrap(tileE);
      if (u.kind === 'Map') {
        const v = exprValue(u) as Record<string, Json>;
        const cpu = typeof v['cpu'] === 'number' ? v['cpu'] : undefined;
        const cuda = typeof v['cuda'] === 'number' ? v['cuda'] : undefined;
        tile = { cpu: cpu !== undefined ? { q: cpu, kv: cpu } : DEFAULT_TILES.cpu, cuda: cuda !== undefined ? { q: cuda, kv: cuda } : DEFAULT_TILES.cuda };
      } else {
        const t = num(u, 64);
        tile = { cpu: { q: t, kv: t }, cuda: { q: t, kv: t } };
      }
    }
    if (cache.kind === 'keep') {
      const kp = cacheKeepPolicy(cache);
      if ('error' in kp) unsupported.push(kp.error);
    }
    return { kind: 'attention', name: d.name.name, where: where(d.span), unsupported, mask, score, position, cache, tile };
  }

  // ---- model

  private model(d: Decl): ModelSpec {
    const unsupported: string[] = [];
    const archE = this.arg(d, 'arch') ?? this.valueOf(d);
    const arch = builtin(archE, 'arch');
    const loadCall = builtin(this.valueOf(d), 'checkpoint');
    const loadClause = this.arg(d, 'load');
    const load = loadCall ? loadCall.str('path') : loadClause !== undefined ? String(exprValue(loadClause)) : null;
    const attD = this.ref(this.arg(d, 'attention'), 'attention');
    const attention = attD ? (this.decl(attD) as AttentionSpec) : null;
    const vocabE = this.arg(d, 'vocab');
    const tokD = this.ref(vocabE, 'tokenizer');
    const tokenizer = tokD ? (this.decl(tokD) as TokenizerSpec) : null;
    // vocab 0: the tokenizer's size, read when it is loaded (Hugging Face, tiktoken; runtime/entry/common.ts)
    const vocab = tokenizer ? (tokenizer.vocabSize ?? 0) : num(vocabE, 0);
    let config: ModelSpec['config'] = null;
    if (arch) {
      const heads = arch.num('heads');
      config = {
        dim: arch.num('dim'),
        layers: arch.num('layers'),
        heads,
        kvHeads: arch.has('kv_heads') ? arch.num('kv_heads') : heads,
        ffn: arch.num('ffn'),
        vocab,
        normEps: arch.num('norm_eps', 1e-5),
        ropeTheta: attention?.position.kind === 'rope' ? attention.position.theta : 10000,
        tieEmbeddings: this.arg(d, 'tie_embeddings') !== undefined ? exprValue(this.arg(d, 'tie_embeddings')!) === true : false,
      };
    }
    if (attention) {
      if (attention.position.kind === 'none' && attention.position.limit !== null) unsupported.push('a position distance limit with position none (limit applies to rope or alibi)');
    }
    return { kind: 'model', name: d.name.name, where: where(d.span), unsupported, config, load, attention, tokenizer, seed: this.seed(d) };
  }

  // ---- train

  private task(e: Expr): TaskSpec {
    const call = builtin(e, 'task');
    if (!call) return { task: calleeName(unwrap(e) as Call) ?? '?', where: where(e.span), params: {} };
    const params = call.params();
    // dataset references keep their path: `speeches.holdout`
    const dp = call.def.params.find((p) => p.type.t === 'dataset');
    if (dp) params[dp.name] = memberPath(call.arg(dp.name) ?? e) ?? null;
    return { task: call.name, where: where(call.span), params };
  }

  /** `perplexity(D.holdout | D.train, by: length | none)` as the runtime runs it, else null (reason in unsupported). */
  private trainPerplexity(task: TaskSpec, e: Expr, unsupported: string[]): TrainEvalSpec['perplexity'] {
    if (task.task !== 'perplexity') return null;
    const call = builtin(e, 'task');
    const de = call?.arg('data');
    const u = de !== undefined ? unwrap(de) : undefined;
    const dataDecl = u?.kind === 'Member' ? this.ref(u.object, 'data') : this.ref(u, 'data');
    const side = u?.kind === 'Member' ? u.property.name : null;
    const by = task.params['by'];
    if (!dataDecl) return null;
    if (side !== 'holdout' && side !== 'train') {
      unsupported.push(`perplexity on data ${dataDecl.name.name} without a split side (write ${dataDecl.name.name}.holdout or ${dataDecl.name.name}.train)`);
      return null;
    }
    if (by !== 'length' && by !== 'position' && by !== 'none') {
      unsupported.push(`perplexity by ${String(by)} (by: length, position or none)`);
      return null;
    }
    const data = this.decl(dataDecl) as DataSpec;
    if (data.unsupported.length) unsupported.push(...data.unsupported.map((x) => `${x} (data ${data.name} of a periodic eval)`));
    return { data, split: side, by };
  }

  private train(d: Decl): TrainSpec {
    const model = this.decl(this.ref(this.arg(d, 'model'), 'model')!) as ModelSpec;
    const data = this.decl(this.ref(this.arg(d, 'data'), 'data')!) as DataSpec;
    const ce = this.arg(d, 'curriculum');
    const cd = this.ref(ce, 'curriculum');
    let curriculum: CurriculumSpec;
    if (cd) {
      curriculum = this.curriculum(cd, data.buckets);
      // Same buckets as the declaration's own lowering: share the object (one constant in pipeline.ts).
      const own = this.decl(cd) as CurriculumSpec;
      if (JSON.stringify(own) === JSON.stringify(curriculum)) curriculum = own;
    } else if (ce !== undefined) curriculum = this.curriculumCall(builtin(ce, 'curriculum'), data.buckets, ce.span);
    else {
      // No curriculum: every bucket uniformly, one sequence of the longest bucket per step.
      const longest = Math.max(0, ...data.buckets);
      curriculum = { kind: 'curriculum', name: null, where: where(d.span), unsupported: [], config: { schedule: { kind: 'uniform', cycles: 1 }, tokensPerStep: longest, ranks: 1, seed: 0 } };
    }
    const oc = builtin(this.arg(d, 'optimizer'), 'optimizer');
    let optimizer: OptimizerSpec = { kind: 'adamw', lr: 3e-4, beta1: 0.9, beta2: 0.999, weightDecay: 0, eps: 1e-8 };
    if (oc?.name === 'adamw') {
      const betas = oc.value('betas');
      const [b1, b2] = Array.isArray(betas) ? (betas as number[]) : [0.9, 0.999];
      optimizer = { kind: 'adamw', lr: oc.num('lr'), beta1: b1 ?? 0.9, beta2: b2 ?? 0.999, weightDecay: oc.num('weight_decay', 0), eps: oc.num('eps', 1e-8) };
    } else if (oc?.name === 'sgd') optimizer = { kind: 'sgd', lr: oc.num('lr'), momentum: oc.num('momentum', 0) };
    const se = this.arg(d, 'schedule');
    const phases = se === undefined ? [] : unwrap(se).kind === 'Then' ? (unwrap(se) as { items: readonly Expr[] }).items : [se];
    let schedule: ScheduleSpec = { warmup: 0, decay: 'constant', finalFraction: 1 };
    for (const p of phases) {
      const c = builtin(p, 'schedule');
      if (c?.name === 'warmup') schedule = { ...schedule, warmup: c.num('steps') };
      else if (c?.name === 'cosine' || c?.name === 'linear') schedule = { ...schedule, decay: c.name, finalFraction: c.num('to', 0) };
      else if (c?.name === 'constant') schedule = { ...schedule, decay: 'constant', finalFraction: 1 };
    }
    const unsupported: string[] = [];
    const evals: TrainSpec['evals'][number][] = [];
    for (const c of this.clauses(d, 'eval')) {
      const every = num(this.modifier(c, 'every').value, 0);
      const body = c.body ?? c.args[0];
      const ev = this.ref(body, 'eval');
      const task = ev || !body ? null : this.task(body);
      const perplexity = task ? this.trainPerplexity(task, body!, unsupported) : null;
      if (task && task.task !== 'perplexity') unsupported.push(`periodic eval task ${task.task} (write it as an eval declaration and name it: eval every N: NAME)`);
      evals.push({ every, task, eval: ev ? ev.name.name : null, perplexity, evalSpec: ev ? (this.decl(ev) as EvalSpec) : null });
    }
    const ck = this.clause(d, 'checkpoint');
    if (optimizer.kind === 'sgd') unsupported.push('optimizer sgd (runtime/model trains with AdamW)');
    const ranks = num(this.arg(d, 'ranks'), CLAUSE_DEFAULTS.ranks);
    return {
      kind: 'train',
      name: d.name.name,
      where: where(d.span),
      unsupported,
      model,
      data,
      curriculum,
      optimizer,
      schedule,
      steps: num(this.arg(d, 'steps'), 0),
      accumulate: num(this.arg(d, 'accumulate'), CLAUSE_DEFAULTS.accumulate),
      clip: this.arg(d, 'clip') !== undefined ? num(this.arg(d, 'clip'), 0) : null,
      evals,
      checkpoint: ck ? { dir: String(exprValue(ck.args[0]!)), every: num(this.modifier(ck, 'every').value, 0) } : null,
      log: this.arg(d, 'log') !== undefined ? String(exprValue(this.arg(d, 'log')!)) : null,
      ranks,
      seed: this.seed(d),
      resume: this.arg(d, 'resume') !== undefined ? 'auto' : null,
      backend: this.arg(d, 'backend') !== undefined ? (String(exprValue(this.arg(d, 'backend')!)) as TrainBackend) : 'cpu',
    };
  }

  // ---- decode

  private sampler(e: Expr, unsupported: string[]): SamplerSpec | undefined {
    const c = builtin(e, 'sampler');
    if (!c) return undefined;
    const last = (v: number): number => (v === 0 ? -1 : v); // lmp: 0 = all; runtime: -1 = all
    switch (c.name) {
      case 'temperature':
        return { name: 'temperature', t: c.num('t') };
      case 'top_k':
        return { name: 'top_k', k: c.num('k') };
      case 'top_p':
        return { name: 'top_p', p: c.num('p') };
      case 'min_p':
        return { name: 'min_p', p: c.num('p') };
      case 'typical': {
        const crossing = c.str('variant', 'hf') === 'llama_cpp' ? 'llama_cpp' : 'hf';
        const ties = c.has('ties') ? (c.str('ties') === 'by_id' ? 'by_id' : 'keep') : crossing === 'hf' ? 'keep' : 'by_id';
        return { name: 'typical', p: c.num('p'), crossing, ties };
      }
      case 'epsilon':
        return { name: 'epsilon', epsilon: c.num('e') };
      case 'eta':
        return { name: 'eta', eta: c.num('e') };
      case 'mirostat': {
        // eta follows the variant's reference: the paper's code (basusourya/mirostat) updates mu
        // with learning_rate = 1, llama.cpp's default mirostat_eta is 0.1
        const variant = c.str('variant', 'paper') === 'llama_cpp' ? 'llama_cpp' : 'paper';
        return { name: 'mirostat', tau: c.num('tau'), eta: c.num('eta', variant === 'llama_cpp' ? 0.1 : 1), m: c.num('m', 100), variant };
      }
      case 'mirostat_v2':
        return { name: 'mirostat_v2', tau: c.num('tau'), eta: c.num('eta', 0.1), variant: 'paper' };
      case 'repetition':
        return { name: 'penalties', last: last(c.num('last', 64)), repeat: c.num('penalty'), frequency: 0, presence: 0 };
      case 'frequency':
        return { name: 'penalties', last: last(c.num('last', 0)), repeat: 1, frequency: c.num('f'), presence: 0 };
      case 'presence':
        return { name: 'penalties', last: last(c.num('last', 0)), repeat: 1, frequency: 0, presence: c.num('p') };
      case 'dry':
        return { name: 'dry', multiplier: c.num('multiplier'), base: c.num('base', 1.75), allowedLength: c.num('allowed_length', 2), last: last(c.num('last', 0)), breakers: [] };
      case 'logit_bias': {
        const v = c.value('bias');
        const bias: Record<number, number> = {};
        if (v && typeof v === 'object' && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) if (typeof x === 'number') bias[Number(k)] = x;
        return { name: 'logit_bias', bias };
      }
      case 'allow':
      case 'ban': {
        const v = c.value('tokens');
        const items = Array.isArray(v) ? v : [];
        const tokens = items.filter((x): x is number => typeof x === 'number');
        // token strings: resolved through the decode's tokenizer at run time (runtime/decode resolveTokenStrings)
        const strings = items.filter((x): x is string => typeof x === 'string');
        return { name: c.name === 'allow' ? 'allowed' : 'banned', tokens, ...(strings.length ? { strings } : {}) };
      }
      case 'greedy':
        return { name: 'greedy' };
      case 'sample':
        return { name: 'sample' };
      default:
        return undefined;
    }
  }

  private decode(d: Decl): DecodeSpec {
    const unsupported: string[] = [];
    const mD = this.ref(this.arg(d, 'model'), 'model');
    const model = mD ? (this.decl(mD) as ModelSpec) : null;
    const aD = this.ref(this.arg(d, 'attention'), 'attention');
    const attention = aD ? (this.decl(aD) as AttentionSpec) : (model?.attention ?? null);
    const pe = this.arg(d, 'policy');
    const items = pe === undefined ? [] : unwrap(pe).kind === 'Chain' ? (unwrap(pe) as { items: readonly Expr[] }).items : [pe];
    const samplers = items.map((e) => this.sampler(e, unsupported)).filter((s): s is SamplerSpec => s !== undefined);
    const seed = this.seed(d);
    const { chain } = validateChain(samplers);
    const promptE = this.arg(d, 'prompt');
    const promptD = this.ref(promptE, 'data');
    const prompt = promptD ? { data: this.decl(promptD) as DataSpec } : promptE !== undefined ? { text: String(exprValue(promptE)) } : null;
    const tmplE = this.modifier(this.clause(d, 'prompt'), 'template').value;
    const tmpl = tmplE !== undefined ? exprValue(tmplE) : null;
    const template: DecodeSpec['template'] = tmpl === 'tokenizer' ? { kind: 'tokenizer' } : tmpl === 'chatml' || tmpl === 'llama3' || tmpl === 'llama2' || tmpl === 'alpaca' ? { kind: 'named', name: tmpl } : null;
    const lc = builtin(this.arg(d, 'length'), 'length_control');
    let length: LengthTarget | null = null;
    if (lc) {
      const unit = (['words', 'tokens', 'chars'] as const).find((u) => lc.has(u)) ?? 'tokens';
      length = { unit, value: lc.num(unit), within: lc.num('within', 0.1), strength: 8 };
    }
    const trace: string[] = [];
    for (const c of this.clauses(d, 'trace')) for (const a of c.args) trace.push(String(exprValue(a)));
    const sp = this.clause(d, 'speculate');
    let speculate: DecodeSpec['speculate'] = null;
    if (sp) {
      const draftD = this.ref(this.modifier(sp, 'draft').value, 'model');
      const candE = this.modifier(sp, 'candidates').value;
      const adaptive = builtin(candE, 'speculation');
      let candidates: number | { max: number; min: number; stopWhen: number } = 4;
      if (adaptive) {
        const sw = adaptive.arg('stop_when');
        const swU = sw ? unwrap(sw) : undefined;
        const stopWhen = swU && swU.kind === 'Binary' ? num(swU.right, 0.3) : 0.3;
        candidates = { max: adaptive.num('max'), min: adaptive.num('min', 1), stopWhen };
      } else if (candE !== undefined) candidates = num(candE, 4);
      if (draftD) speculate = { draft: this.decl(draftD) as ModelSpec, candidates, greedy: this.modifier(sp, 'greedy').present };
    }
    const cc = this.clause(d, 'cascade');
    let cascade: DecodeSpec['cascade'] = null;
    if (cc?.args[0]) {
      const ce = unwrap(cc.args[0]);
      const names = ce.kind === 'Chain' ? ce.items : [ce];
      const models = names.map((n) => this.ref(n, 'model')).filter((x): x is Decl => x !== undefined).map((m) => this.decl(m) as ModelSpec);
      const dw = this.modifier(cc, 'defer when').value;
      const dwU = dw ? unwrap(dw) : undefined;
      let statistic: NonNullable<DecodeSpec['cascade']>['statistic'] = { kind: 'quantile', of: 'logprob', q: 0.1 };
      let op = '<';
      let threshold = 0;
      if (dwU && dwU.kind === 'Binary') {
        const st = builtin(dwU.left, 'statistic');
        if (st?.name === 'quantile') statistic = { kind: 'quantile', of: st.str('of', 'logprob'), q: st.num('q') };
        else if (st?.name === 'mean') statistic = { kind: 'mean', of: st.str('of', 'logprob') };
        op = dwU.op;
        threshold = num(dwU.right, 0);
      }
      cascade = { models, statistic, op, threshold };
    }
    // lmpc check rejects it (LMP0208, ClauseCountRule); kept so that a spec built otherwise is refused, not guessed
    if (!model && !cascade) unsupported.push('a decode without a model');
    const maxE = this.arg(d, 'max_tokens');
    const minE = this.arg(d, 'min_tokens');
    const stops: string[] = [];
    for (const c of this.clauses(d, 'stop')) for (const a of c.args) stops.push(String(exprValue(a)));
    return {
      kind: 'decode',
      name: d.name.name,
      where: where(d.span),
      unsupported,
      model,
      attention,
      chain: { samplers: chain, seed },
      prompt,
      template,
      maxTokens: maxE !== undefined ? num(maxE, 0) : null,
      minTokens: minE !== undefined ? num(minE, 0) : null,
      stop: stops,
      length,
      trace,
      speculate,
      cascade,
      seed,
    };
  }

  // ---- eval and optimize

  private eval(d: Decl): EvalSpec {
    const task = this.task(this.arg(d, 'task')!);
    const ue = this.arg(d, 'using');
    const uD = ue !== undefined && unwrap(ue).kind === 'Ident' ? this.symbols.get((unwrap(ue) as Ident).name) : undefined;
    const using = uD && (uD.declKind === 'decode' || uD.declKind === 'model') ? { kind: uD.declKind, name: uD.name.name } : null;
    const metrics: string[] = [];
    for (const c of this.clauses(d, 'metric')) for (const a of c.args) metrics.push(String(exprValue(a)));
    const de = this.arg(d, 'data');
    const data = de !== undefined ? (memberPath(de) ?? null) : null;
    // The specs of what the eval names, so that it runs on its own (spec.refs).
    const refs: Record<string, DecodeSpec | ModelSpec | DataSpec> = {};
    if (uD && using) refs[using.name] = this.decl(uD) as DecodeSpec | ModelSpec;
    const taskData = task.params['data'];
    for (const path of [data, typeof taskData === 'string' ? taskData : null]) {
      const dd = path ? this.symbols.get(path.split('.')[0]!) : undefined;
      if (dd && dd.declKind === 'data') refs[dd.name.name] = this.decl(dd) as DataSpec;
    }
    return {
      kind: 'eval',
      name: d.name.name,
      where: where(d.span),
      unsupported: [],
      task,
      using,
      data,
      metrics,
      seed: this.seed(d),
      refs,
    };
  }

  private optimize(d: Decl): OptimizeSpec {
    const vary: OptimizeSpec['vary'][number][] = [];
    for (const c of this.clauses(d, 'vary')) {
      const path = memberPath(c.args[0]!) ?? '?';
      const inE = this.modifier(c, 'in').value;
      const u = inE ? unwrap(inE) : undefined;
      if (u?.kind === 'Range') {
        const a = numberValue(unwrap(u.from));
        const b = numberValue(unwrap(u.to));
        const integer = !!a && !!b && !/[.e]/i.test(a.raw + b.raw) && a.unit === 'count' && b.unit === 'count';
        vary.push({ path, values: { from: a?.value ?? 0, to: b?.value ?? 0, integer } });
      } else vary.push({ path, values: { list: u && u.kind === 'List' ? u.items.map(exprValue) : [] } });
    }
    const mx = this.arg(d, 'maximize');
    const mn = this.arg(d, 'minimize');
    const objective = mx !== undefined ? { direction: 'maximize' as const, metric: memberPath(mx) ?? '?' } : mn !== undefined ? { direction: 'minimize' as const, metric: memberPath(mn) ?? '?' } : null;
    const constraints: OptimizeSpec['constraints'][number][] = [];
    for (const c of this.clauses(d, 'subject to')) {
      const u = c.args[0] ? unwrap(c.args[0]) : undefined;
      if (u?.kind === 'Binary') constraints.push({ metric: memberPath(u.left) ?? '?', op: u.op, value: num(u.right, 0) });
    }
    const sc = builtin(this.arg(d, 'search'), 'search');
    const be = this.arg(d, 'budget');
    const bv = be !== undefined ? (exprValue(be) as Record<string, Json>) : {};
    const bnum = (k: string): number | null => (typeof bv[k] === 'number' ? (bv[k] as number) : null);
    const save = this.arg(d, 'save');
    // runtime/optimize runs these search strategies and comparisons; anything else is named here
    const search = sc?.name ?? 'grid';
    const unsupported: string[] = [];
    if (!['grid', 'random', 'tpe', 'halving'].includes(search)) unsupported.push(`search ${search} (runtime/optimize runs grid, random, tpe, halving)`);
    for (const c of constraints) if (!['<', '<=', '>', '>=', '==', '!='].includes(c.op)) unsupported.push(`constraint ${c.metric} ${c.op} ${c.value}`);
    return {
      kind: 'optimize',
      name: d.name.name,
      where: where(d.span),
      unsupported,
      vary,
      objective,
      constraints,
      search: { kind: search, params: sc ? sc.params() : {} },
      budget: { trials: bnum('trials'), time: bnum('time'), cost: bnum('cost') },
      save: save !== undefined ? String(exprValue(save)) : null,
      seed: this.seed(d),
    };
  }
}
