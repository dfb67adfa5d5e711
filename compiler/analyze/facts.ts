// Facts several rules need: a call's bound arguments as numbers, the buckets a data
// declaration's packer produces, the curriculum a train uses, the mask of an attention.
import type { Call, Clause, Decl, Expr, Ident, MapExpr } from '../../grammar/ast.js';
import type { MaskIR } from '../../runtime/mask/ir.js';
import { findEmptyRow, isCausal } from '../../runtime/mask/index.js';
import { lowerMask } from '../lower/mask.js';
import { bindArgs, lookupBuiltin, type BuiltinDef, type Category } from '../registry/index.js';
import type { RuleContext } from './context.js';
import { clauseArg, clausesOf, type EffectiveDecl } from './inherit.js';
import { calleeName, numberValue, unwrap } from './values.js';

/** A built-in call (or bare name) of a category, with its definition. */
export interface BuiltinCall {
  readonly node: Call | Ident;
  readonly def: BuiltinDef;
}

export function asBuiltin(e: Expr | undefined, category: Category): BuiltinCall | undefined {
  if (e === undefined) return undefined;
  const u = unwrap(e);
  if (u.kind !== 'Call' && u.kind !== 'Ident') return undefined;
  const name = calleeName(u);
  const def = name !== undefined ? lookupBuiltin(category, name) : undefined;
  return def ? { node: u, def } : undefined;
}

/** The expression bound to parameter `param` (undefined when absent). */
export function argOf(c: BuiltinCall, param: string): Expr | undefined {
  if (c.node.kind !== 'Call') return undefined;
  return bindArgs(c.def, c.node.args).bound.get(param)?.value;
}

/** Parse a registry default such as '256' or '8k' (k = 1024). */
export function parseDefault(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const m = /^(-?[0-9.e+-]+)([kMG]?)$/.exec(s);
  if (!m) return undefined;
  const mult = m[2] === 'k' ? 1024 : m[2] === 'M' ? 1024 ** 2 : m[2] === 'G' ? 1024 ** 3 : 1;
  return Number(m[1]) * mult;
}

/** A numeric argument, or its default. */
export function numArg(c: BuiltinCall, param: string): number | undefined {
  const e = argOf(c, param);
  if (e !== undefined) return numberValue(e)?.value;
  return parseDefault(c.def.params.find((p) => p.name === param)?.default);
}

/** The declaration an identifier expression names, if it is of `kind`. */
export function refTo(ctx: RuleContext, e: Expr | undefined, kind: Decl['declKind']): Decl | undefined {
  if (e === undefined || e.kind !== 'Ident') return undefined;
  const d = ctx.lookup(e.name);
  return d?.declKind === kind ? d : undefined;
}

export interface Buckets {
  readonly lengths: readonly number[];
  /** How the packer was written, for messages. */
  readonly packer: string;
}

/** Sequence lengths a data declaration's packer produces; undefined when not fixed by the source. */
export function bucketsOf(eff: EffectiveDecl): Buckets | undefined {
  const pk = asBuiltin(clauseArg(eff, 'pack'), 'packer');
  if (!pk) return undefined;
  switch (pk.def.name) {
    case 'decompose': {
      const min = numArg(pk, 'min');
      const max = numArg(pk, 'max');
      if (min === undefined || max === undefined || !(min > 0) || !(max >= min)) return undefined;
      const lo = Math.log2(min);
      const hi = Math.log2(max);
      if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi - lo > 40) return undefined;
      const lengths: number[] = [];
      for (let k = lo; k <= hi; k++) lengths.push(2 ** k);
      return { lengths, packer: `decompose(min: ${min}, max: ${max})` };
    }
    case 'concat_chunk':
    case 'pad': {
      const l = numArg(pk, 'length');
      return l !== undefined && l > 0 ? { lengths: [l], packer: `${pk.def.name}(${l})` } : undefined;
    }
    default:
      return undefined;
  }
}

/** What a train's curriculum says, whether declared or written as a call in the train. */
export interface CurriculumFacts {
  /** The curriculum declaration, when the train names one. */
  readonly decl: Decl | undefined;
  readonly weights: MapExpr | undefined;
  readonly tokensPerStep: { readonly value: number; readonly expr: Expr } | undefined;
  /** A fixed length (fixed(L, ..) or a `length` clause). */
  readonly fixedLength: { readonly value: number; readonly expr: Expr } | undefined;
}

const numFact = (e: Expr | undefined) => {
  const n = e ? numberValue(e) : undefined;
  return n && e ? { value: n.value, expr: e } : undefined;
};

export function curriculumFacts(ctx: RuleContext, e: Expr | undefined): CurriculumFacts | undefined {
  if (e === undefined) return undefined;
  const decl = refTo(ctx, e, 'curriculum');
  if (decl) {
    const eff = ctx.effective(decl);
    if (eff.value !== undefined) return { ...curriculumFacts(ctx, eff.value)!, decl };
    const w = clauseArg(eff, 'weights');
    return {
      decl,
      weights: w && unwrap(w).kind === 'Map' ? (unwrap(w) as MapExpr) : undefined,
      tokensPerStep: numFact(clauseArg(eff, 'tokens_per_step')),
      fixedLength: numFact(clauseArg(eff, 'length')),
    };
  }
  const c = asBuiltin(e, 'curriculum');
  if (!c) return undefined;
  return { decl: undefined, weights: undefined, tokensPerStep: numFact(argOf(c, 'tokens_per_step')), fixedLength: c.def.name === 'fixed' ? numFact(argOf(c, 'length')) : undefined };
}

/** The masks of an attention declaration: the `mask` clause and each `heads` group, lowered. */
export interface AttentionMasks {
  readonly default: { readonly clause: Clause; readonly mask: MaskIR } | undefined;
  readonly groups: readonly { readonly clause: Clause; readonly from: number; readonly to: number; readonly mask: MaskIR }[];
}

export function attentionMasks(eff: EffectiveDecl): AttentionMasks {
  const m = clausesOf(eff, 'mask')[0]?.clause;
  let dflt: AttentionMasks['default'];
  if (m?.args[0]) {
    const l = lowerMask(m.args[0]);
    if (l.ok) dflt = { clause: m, mask: l.mask };
  }
  const groups: AttentionMasks['groups'][number][] = [];
  for (const { clause } of clausesOf(eff, 'heads')) {
    const r = clause.args[0] ? unwrap(clause.args[0]) : undefined;
    if (!clause.body || !r || r.kind !== 'Range') continue;
    const from = numberValue(r.from)?.value;
    const to = numberValue(r.to)?.value;
    const l = lowerMask(clause.body);
    if (from !== undefined && to !== undefined && l.ok) groups.push({ clause, from, to, mask: l.mask });
  }
  return { default: dflt, groups };
}

/** A model's number of heads, when its architecture says. */
export function modelHeads(ctx: RuleContext, model: Decl): number | undefined {
  const eff = ctx.effective(model);
  const arch = asBuiltin(clauseArg(eff, 'arch') ?? eff.value, 'arch');
  return arch ? numberValue(argOf(arch, 'heads') ?? { kind: 'ErrorExpr', span: arch.node.span })?.value : undefined;
}

/** Render a mask IR back to .lmp syntax (for messages). */
export function maskText(m: MaskIR): string {
  switch (m.op) {
    case 'full':
    case 'causal':
    case 'same_document':
      return m.op;
    case 'window':
      return `window(${m.size})`;
    case 'sink':
      return `sink(${m.count})`;
    case 'prefix':
      return `prefix(${m.length})`;
    case 'chunked':
      return `chunked(${m.size})`;
    case 'not':
      return `!${m.arg.op === 'and' || m.arg.op === 'or' ? `(${maskText(m.arg)})` : maskText(m.arg)}`;
    case 'and':
      return m.args.map((a) => (a.op === 'or' ? `(${maskText(a)})` : maskText(a))).join(' & ');
    case 'or':
      return m.args.map(maskText).join(' | ');
  }
}

function maxParam(m: MaskIR): number {
  switch (m.op) {
    case 'window':
      return m.size;
    case 'sink':
      return m.count;
    case 'prefix':
      return m.length;
    case 'chunked':
      return m.size;
    case 'not':
      return maxParam(m.arg);
    case 'and':
    case 'or':
      return Math.max(0, ...m.args.map(maxParam));
    default:
      return 0;
  }
}

/**
 * Sequence length the mask checks run at. Every primitive compares a position or a distance
 * with its parameter (or is periodic in it, chunked), so rows past about twice the largest
 * parameter repeat, up to a shift, the rows before them: 4P + 64 covers every kind of row.
 * Capped at 4096 to bound the cost (a mask with parameters beyond 1k is checked up to 4096).
 */
export function maskCheckLength(m: MaskIR): number {
  const p = maxParam(m);
  return Math.min(4096, Math.max(128, 4 * (Number.isFinite(p) ? p : 0) + 64));
}

const emptyRowCache = new Map<string, number | undefined>();
const causalCache = new Map<string, boolean>();
const remember = <V>(cache: Map<string, V>, key: string, f: () => V): V => {
  if (cache.has(key)) return cache.get(key) as V;
  if (cache.size > 4096) cache.clear();
  const v = f();
  cache.set(key, v);
  return v;
};

/**
 * Whether the mask admits every diagonal element (q sees itself, runtime/mask maskAt at
 * kv = q) for every q and document layout: then no row is empty, and the tile-by-tile search
 * can be skipped. Decided from the expression: 'all', 'none', or 'mixed' (varies with q, or
 * not decided here; the search then runs).
 */
function diagonal(m: MaskIR): 'all' | 'none' | 'mixed' {
  switch (m.op) {
    case 'full':
    case 'causal':
    case 'prefix':
    case 'same_document':
      return 'all';
    case 'window':
      return m.size > 0 ? 'all' : 'mixed';
    case 'chunked':
      return m.size > 0 && Number.isFinite(m.size) ? 'all' : 'mixed';
    case 'sink':
      return 'mixed';
    case 'not': {
      const d = diagonal(m.arg);
      return d === 'all' ? 'none' : d === 'none' ? 'all' : 'mixed';
    }
    case 'and': {
      const ds = m.args.map(diagonal);
      return ds.includes('none') ? 'none' : ds.every((d) => d === 'all') ? 'all' : 'mixed';
    }
    case 'or': {
      const ds = m.args.map(diagonal);
      return ds.includes('all') ? 'all' : ds.every((d) => d === 'none') ? 'none' : 'mixed';
    }
  }
}

/** runtime/mask findEmptyRow at the check length, memoized by mask. */
export function emptyRowOf(m: MaskIR): number | undefined {
  return remember(emptyRowCache, JSON.stringify(m), () => {
    const length = maskCheckLength(m);
    return diagonal(m) === 'all' ? undefined : findEmptyRow(m, length);
  });
}

/** runtime/mask isCausal at the check length, memoized by mask. `causal & ...` is causal as written. */
export function isCausalMask(m: MaskIR): boolean {
  if (m.op === 'causal' || (m.op === 'and' && m.args.some((a) => a.op === 'causal'))) return true;
  return remember(causalCache, JSON.stringify(m), () => isCausal(m, maskCheckLength(m)));
}

/** A sampler of a decode's `policy` chain, with its expression. */
export interface ChainSampler {
  readonly e: Expr;
  readonly s: BuiltinCall;
}

/** The samplers of a `policy` clause, in order (unknown names left out: UnknownBuiltinRule reports them). */
export function policySamplers(clause: Clause, decl: Decl): ChainSampler[] | undefined {
  if (decl.declKind !== 'decode' || clause.keyword !== 'policy' || !clause.args[0]) return undefined;
  const root = unwrap(clause.args[0]);
  const items: readonly Expr[] = root.kind === 'Chain' ? root.items : [root];
  return items.flatMap((e) => {
    const s = asBuiltin(e, 'sampler');
    return s ? [{ e, s }] : [];
  });
}

/** Filters whose kept set depends on the logits (allow and ban do not). */
export const LOGIT_FILTERS: ReadonlySet<string> = new Set(['top_k', 'top_p', 'min_p', 'typical', 'epsilon', 'eta']);

/** Index of the first top_k(1) of a chain (one candidate left after it), or -1. */
export function topOneIndex(samplers: readonly ChainSampler[]): number {
  return samplers.findIndex((x) => x.s.def.name === 'top_k' && numArg(x.s, 'k') === 1);
}
