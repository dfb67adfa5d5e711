// Value types of the registry: what a clause, a modifier or a built-in parameter accepts.
//
// The checker (compiler/analyze) matches AST expressions against these; the spec generator
// prints them with `describeType`; the code generator reads the same descriptions. Plain data,
// no functions, so the registry can be dumped to JSON.
import type { DeclKind } from '../../grammar/ast.js';

/**
 * Units of numbers. The lexer normalizes literals (grammar/ast.ts NumberUnit); these are what a
 * parameter accepts:
 *  - 'count':    a whole number of things (tokens, steps, heads); `4k` = 4096 (k = 1024)
 *  - 'real':     a dimensionless real (learning rate, temperature, theta); plain numbers only
 *  - 'fraction': a fraction, written as a percent (`10%`) or a plain number in [0, 1]
 *  - 'duration': seconds, written with a unit (`50ms`, `30s`, `10min`)
 *  - 'bytes':    a memory size, written with a unit (`64KiB`, `2GiB`)
 */
export type Unit = 'count' | 'real' | 'fraction' | 'duration' | 'bytes';

export interface NumberType {
  readonly t: 'number';
  readonly unit: Unit;
  /** Inclusive lower bound (or exclusive when minExclusive). */
  readonly min?: number;
  readonly minExclusive?: boolean;
  readonly max?: number;
  readonly maxExclusive?: boolean;
  readonly powerOfTwo?: boolean;
}

/** Built-in categories: the kinds of calls a value may be. */
export const CATEGORIES = [
  'mask',
  'packer',
  'source',
  'filter',
  'tokenizer',
  'curriculum',
  'weights',
  'growth',
  'position',
  'rope_scale',
  'score',
  'cache',
  'arch',
  'checkpoint',
  'optimizer',
  'schedule',
  'sampler',
  'length_control',
  'speculation',
  'statistic',
  'task',
  'metric',
  'search',
] as const;
export type Category = (typeof CATEGORIES)[number];

export type ValueType =
  | NumberType
  | { readonly t: 'string'; readonly what?: string }
  | { readonly t: 'bool' }
  /** One identifier out of a fixed set (`by: length`, `algorithm: best_fit_decreasing`). */
  | { readonly t: 'enum'; readonly values: readonly string[] }
  /** A reference to a declaration of one of these kinds. */
  | { readonly t: 'ref'; readonly kinds: readonly DeclKind[] }
  /** A call (or a bare name, when it needs no arguments) of a built-in of the category. */
  | { readonly t: 'call'; readonly category: Category }
  /** A mask expression: mask built-ins combined with & | ! and parentheses. */
  | { readonly t: 'mask' }
  /** `a -> b -> c` of the item type (a single item is a chain of one). */
  | { readonly t: 'chain'; readonly of: ValueType }
  /** `a then b` of the item type (a single item is one phase). */
  | { readonly t: 'then'; readonly of: ValueType }
  | { readonly t: 'list'; readonly of: ValueType }
  | { readonly t: 'tuple'; readonly of: readonly ValueType[] }
  | { readonly t: 'map'; readonly key: ValueType; readonly value: ValueType }
  /** A map with fixed keys, each with its own type (`budget {trials: 40, time: 30min}`). */
  | { readonly t: 'record'; readonly fields: Readonly<Record<string, ValueType>> }
  /** `a..b`, both ends of the item type. */
  | { readonly t: 'range'; readonly of: ValueType }
  | { readonly t: 'union'; readonly of: readonly ValueType[] }
  /** A data declaration or one of its splits: `speeches`, `speeches.holdout`. */
  | { readonly t: 'dataset' }
  /** `left OP right`, a comparison (`rejection > 0.3`, `quantile(logprob, 0.1) < -2.5`). */
  | { readonly t: 'compare'; readonly left: ValueType; readonly right: ValueType }
  /** A tunable setting: `DECL.CLAUSE[.BUILTIN][.PARAM]` (optimize `vary`). */
  | { readonly t: 'knob' }
  /** `EVAL.METRIC` or a metric with a field (`latency.p50`). */
  | { readonly t: 'metric_ref' }
  /** Any expression (checked by a dedicated rule, not by shape). */
  | { readonly t: 'any'; readonly what: string };

// Small constructors used by the registry tables.
export const count = (o: Omit<NumberType, 't' | 'unit'> = {}): NumberType => ({ t: 'number', unit: 'count', ...o });
export const real = (o: Omit<NumberType, 't' | 'unit'> = {}): NumberType => ({ t: 'number', unit: 'real', ...o });
export const fraction = (o: Omit<NumberType, 't' | 'unit'> = {}): NumberType => ({ t: 'number', unit: 'fraction', min: 0, max: 1, ...o });
export const duration = (o: Omit<NumberType, 't' | 'unit'> = {}): NumberType => ({ t: 'number', unit: 'duration', ...o });
export const bytes = (o: Omit<NumberType, 't' | 'unit'> = {}): NumberType => ({ t: 'number', unit: 'bytes', ...o });
export const str = (what?: string): ValueType => (what === undefined ? { t: 'string' } : { t: 'string', what });
export const bool: ValueType = { t: 'bool' };
export const oneOf = (...values: string[]): ValueType => ({ t: 'enum', values });
export const ref = (...kinds: DeclKind[]): ValueType => ({ t: 'ref', kinds });
export const call = (category: Category): ValueType => ({ t: 'call', category });
export const list = (of: ValueType): ValueType => ({ t: 'list', of });
export const union = (...of: ValueType[]): ValueType => ({ t: 'union', of });
export const mask: ValueType = { t: 'mask' };

const UNIT_WORDS: Record<Unit, string> = {
  count: 'a count',
  real: 'a number',
  fraction: 'a fraction (10% or 0..1)',
  duration: 'a duration (e.g. 50ms, 30s)',
  bytes: 'a size in bytes (e.g. 64KiB)',
};

/** Human description of a range constraint, e.g. "in (0, 1]" or ">= 1". */
export function describeRange(n: NumberType): string | undefined {
  const lo = n.min;
  const hi = n.max;
  if (lo !== undefined && hi !== undefined) return `in ${n.minExclusive ? '(' : '['}${lo}, ${hi}${n.maxExclusive ? ')' : ']'}`;
  if (lo !== undefined) return `${n.minExclusive ? '>' : '>='} ${lo}`;
  if (hi !== undefined) return `${n.maxExclusive ? '<' : '<='} ${hi}`;
  return undefined;
}

/** Human description of a type, as used in messages and in spec/builtins.md. */
export function describeType(t: ValueType): string {
  switch (t.t) {
    case 'number': {
      const r = t.unit === 'fraction' && t.min === 0 && t.max === 1 && !t.minExclusive && !t.maxExclusive ? undefined : describeRange(t);
      return UNIT_WORDS[t.unit] + (t.powerOfTwo ? ', a power of two' : '') + (r ? ` ${r}` : '');
    }
    case 'string':
      return t.what ? `a string (${t.what})` : 'a string';
    case 'bool':
      return 'true or false';
    case 'enum':
      return t.values.length === 1 ? `\`${t.values[0]}\`` : `one of ${t.values.map((v) => `\`${v}\``).join(', ')}`;
    case 'ref':
      return t.kinds.map((k) => `a ${k} name`).join(' or ');
    case 'call':
      return `a ${t.category.replace('_', ' ')} built-in`;
    case 'mask':
      return 'a mask expression';
    case 'chain':
      return `a chain (->) of ${describeType(t.of)}`;
    case 'then':
      return `phases (then) of ${describeType(t.of)}`;
    case 'list':
      return `a list of ${describeType(t.of)}`;
    case 'tuple':
      return `a tuple (${t.of.map(describeType).join(', ')})`;
    case 'map':
      return `a map {${describeType(t.key)}: ${describeType(t.value)}}`;
    case 'record':
      return `a map with keys ${Object.keys(t.fields).map((k) => `\`${k}\``).join(', ')}`;
    case 'range':
      return `a range a..b of ${describeType(t.of)}`;
    case 'union':
      return t.of.map(describeType).join(', or ');
    case 'dataset':
      return 'a data name or a split (name.holdout, name.train)';
    case 'compare':
      return `a comparison ${describeType(t.left)} < ${describeType(t.right)}`;
    case 'knob':
      return 'a setting path DECL.CLAUSE[.BUILTIN][.PARAM]';
    case 'metric_ref':
      return 'a metric path (EVAL.METRIC or metric.field)';
    case 'any':
      return t.what;
  }
}
