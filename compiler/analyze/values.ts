// Shape-level matching of expressions against registry types: what the walker uses to pick a
// union alternative and to decide where to descend, and what the type rule reports against.
import type { Decl, Expr, NumberLit, NumberUnit } from '../../grammar/ast.js';
import { lookupBuiltin, type Unit, type ValueType } from '../registry/index.js';

const COMPARE_OPS = new Set(['<', '<=', '>', '>=', '==', '!=']);

/** A numeric literal, possibly negated (`-2.5`). */
export interface NumberValue {
  readonly value: number;
  readonly unit: NumberUnit;
  readonly raw: string;
  readonly lit: NumberLit;
}

export function numberValue(e: Expr): NumberValue | undefined {
  if (e.kind === 'Number') return { value: e.value, unit: e.unit, raw: e.raw, lit: e };
  if (e.kind === 'Paren') return numberValue(e.expr);
  if (e.kind === 'Unary' && e.op === '-') {
    const inner = numberValue(e.operand);
    if (inner) return { ...inner, value: -inner.value, raw: `-${inner.raw}` };
  }
  return undefined;
}

export function unwrap(e: Expr): Expr {
  return e.kind === 'Paren' ? unwrap(e.expr) : e;
}

/** The callee name of a call (`top_k(40)`) or a bare name (`causal`); undefined otherwise. */
export function calleeName(e: Expr): string | undefined {
  if (e.kind === 'Ident') return e.name;
  if (e.kind === 'Call' && e.callee.kind === 'Ident') return e.callee.name;
  return undefined;
}

/** Whether a literal of `lit` unit is acceptable where `unit` is expected. */
export function unitAccepts(unit: Unit, lit: NumberUnit): boolean {
  switch (unit) {
    case 'count':
    case 'real':
      return lit === 'count';
    case 'fraction':
      return lit === 'percent' || lit === 'count';
    case 'duration':
      return lit === 'duration';
    case 'bytes':
      return lit === 'bytes';
  }
}

export const UNIT_FOUND: Record<NumberUnit, string> = {
  count: 'a plain number',
  percent: 'a percentage',
  duration: 'a duration',
  bytes: 'a size in bytes',
};

/** A short description of what an expression is, for "expected X, found Y". */
export function describeFound(e: Expr): string {
  const n = numberValue(e);
  if (n) return `${UNIT_FOUND[n.unit]} '${n.raw}'`;
  switch (e.kind) {
    case 'String':
      return `a string ${e.raw}`;
    case 'Bool':
      return `'${e.value}'`;
    case 'Ident':
      return `the name '${e.name}'`;
    case 'Call':
      return `a call of '${calleeName(e) ?? 'an expression'}'`;
    case 'Member':
      return 'a member path';
    case 'List':
      return 'a list';
    case 'Tuple':
      return 'a tuple';
    case 'Map':
      return 'a map';
    case 'Range':
      return 'a range';
    case 'Binary':
      return COMPARE_OPS.has(e.op) ? 'a comparison' : `a mask expression ('${e.op}')`;
    case 'Unary':
      return `'${e.op}' applied to an expression`;
    case 'Chain':
      return "a chain ('->')";
    case 'Then':
      return "phases ('then')";
    case 'Paren':
      return describeFound(e.expr);
    default:
      return 'an expression';
  }
}

export type Lookup = (name: string) => Decl | undefined;

/**
 * How well `e` matches `t`: 2 = certainly this type, 1 = this shape (details may still be
 * wrong), 0 = no. ErrorExpr (parser recovery) matches everything so nothing is reported on it.
 */
export function matchScore(e: Expr, t: ValueType, lookup: Lookup): 0 | 1 | 2 {
  if (e.kind === 'ErrorExpr') return 2;
  if (e.kind === 'Paren' && t.t !== 'mask') return matchScore(e.expr, t, lookup);
  switch (t.t) {
    case 'number': {
      const n = numberValue(e);
      if (!n) return 0;
      return unitAccepts(t.unit, n.unit) ? 2 : 1;
    }
    case 'string':
      return e.kind === 'String' ? 2 : 0;
    case 'bool':
      return e.kind === 'Bool' ? 2 : 0;
    case 'enum':
      return e.kind === 'Ident' ? (t.values.includes(e.name) ? 2 : 1) : 0;
    case 'ref': {
      if (e.kind !== 'Ident') return 0;
      const d = lookup(e.name);
      return d !== undefined && t.kinds.includes(d.declKind) ? 2 : 1;
    }
    case 'call': {
      if (e.kind !== 'Ident' && e.kind !== 'Call') return 0;
      const name = calleeName(e);
      if (name === undefined) return 0;
      const def = lookupBuiltin(t.category, name);
      return def === undefined ? 1 : 2;
    }
    case 'mask':
      if (e.kind === 'Binary') return e.op === '&' || e.op === '|' ? 2 : 0;
      if (e.kind === 'Unary') return e.op === '!' ? 2 : 0;
      if (e.kind === 'Paren') return matchScore(e.expr, t, lookup);
      return matchScore(e, { t: 'call', category: 'mask' }, lookup);
    case 'chain':
      return e.kind === 'Chain' ? 2 : matchScore(e, t.of, lookup);
    case 'then':
      return e.kind === 'Then' ? 2 : matchScore(e, t.of, lookup);
    case 'list':
      return e.kind === 'List' ? 2 : 0;
    case 'tuple':
      return e.kind === 'Tuple' ? 2 : 0;
    case 'map':
    case 'record':
      return e.kind === 'Map' ? 2 : 0;
    case 'range':
      return e.kind === 'Range' ? 2 : 0;
    case 'compare':
      return e.kind === 'Binary' && COMPARE_OPS.has(e.op) ? 2 : 0;
    case 'dataset':
      return e.kind === 'Ident' || e.kind === 'Member' ? 1 : 0;
    case 'knob':
    case 'metric_ref':
      return e.kind === 'Member' || e.kind === 'Ident' ? 1 : 0;
    case 'union': {
      let best: 0 | 1 | 2 = 0;
      for (const alt of t.of) best = Math.max(best, matchScore(e, alt, lookup)) as 0 | 1 | 2;
      return best;
    }
    case 'any':
      return 2;
  }
}

/** The union alternative `e` matches best (the first among equals), or undefined. */
export function selectAlternative(e: Expr, t: ValueType & { t: 'union' }, lookup: Lookup): ValueType | undefined {
  let best: ValueType | undefined;
  let bestScore = 0;
  for (const alt of t.of) {
    const s = matchScore(e, alt, lookup);
    if (s > bestScore) {
      best = alt;
      bestScore = s;
    }
  }
  return best;
}
