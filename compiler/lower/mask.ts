// Lowering of a mask expression (AST) to the mask IR (runtime/mask/ir.ts).
//
// Total on any AST: what it cannot lower (an unknown primitive, a missing or non-numeric
// argument, an ErrorExpr left by the parser) is returned as a problem with its span, and the
// checker reports it with a code. The checker's mask rules and the code generator both call
// this, so the mask that is checked is the mask that is emitted.
import type { Arg, Expr, Span } from '../../grammar/ast.js';
import type { MaskIR } from '../../runtime/mask/ir.js';

export interface MaskProblem {
  readonly span: Span;
  readonly reason: 'unknown-primitive' | 'bad-argument' | 'not-a-mask';
  readonly message: string;
}

export type MaskLowering = { readonly ok: true; readonly mask: MaskIR } | { readonly ok: false; readonly problems: readonly MaskProblem[] };

/** Mask primitives as written in .lmp, with their numeric parameter (if any). */
export const MASK_SYNTAX: Readonly<Record<string, { readonly param?: string; readonly params?: readonly string[] }>> = {
  full: {},
  causal: {},
  same_document: {},
  window: { param: 'size' },
  sink: { param: 'count' },
  prefix: { param: 'length' },
  chunked: { param: 'size' },
  lambda: { params: ['global', 'window'] },
};

function argValue(args: readonly Arg[], name: string, index: number): Expr | undefined {
  const named = args.find((a) => a.name?.name === name);
  if (named) return named.value;
  const positional = args.filter((a) => a.name === undefined);
  return positional[index]?.value;
}

export function lowerMask(expr: Expr): MaskLowering {
  const problems: MaskProblem[] = [];
  const num = (e: Expr | undefined, at: Span, what: string): number => {
    if (e && e.kind === 'Number' && e.unit === 'count') return e.value;
    problems.push({ span: e?.span ?? at, reason: 'bad-argument', message: `${what} must be a token count` });
    return NaN;
  };
  const go = (e: Expr): MaskIR => {
    switch (e.kind) {
      case 'Paren':
        return go(e.expr);
      case 'Unary':
        if (e.op === '!') return { op: 'not', arg: go(e.operand) };
        break;
      case 'Binary':
        if (e.op === '&' || e.op === '|') {
          const op = e.op === '&' ? 'and' : 'or';
          const args: MaskIR[] = [];
          for (const side of [go(e.left), go(e.right)]) {
            if (side.op === op) args.push(...side.args);
            else args.push(side);
          }
          return { op, args };
        }
        break;
      case 'Ident':
      case 'Call': {
        const name = e.kind === 'Ident' ? e.name : e.callee.kind === 'Ident' ? e.callee.name : undefined;
        const args = e.kind === 'Call' ? e.args : [];
        const syntax = name !== undefined ? MASK_SYNTAX[name] : undefined;
        if (name === undefined || syntax === undefined) {
          problems.push({ span: e.span, reason: 'unknown-primitive', message: `'${name ?? '?'}' is not a mask primitive` });
          return { op: 'full' };
        }
        switch (name) {
          case 'full':
            return { op: 'full' };
          case 'causal':
            return { op: 'causal' };
          case 'same_document':
            return { op: 'same_document' };
          case 'window':
            return { op: 'window', size: num(argValue(args, 'size', 0), e.span, 'window size') };
          case 'sink':
            return { op: 'sink', count: num(argValue(args, 'count', 0), e.span, 'sink count') };
          case 'prefix':
            return { op: 'prefix', length: num(argValue(args, 'length', 0), e.span, 'prefix length') };
          case 'chunked':
            return { op: 'chunked', size: num(argValue(args, 'size', 0), e.span, 'chunk size') };
          case 'lambda': {
            const g = num(argValue(args, 'global', 0), e.span, 'global tokens');
            const w = num(argValue(args, 'window', 1), e.span, 'window');
            return { op: 'and', args: [{ op: 'causal' }, { op: 'or', args: [{ op: 'sink', count: g }, { op: 'window', size: w }] }] };
          }
        }
        break;
      }
      default:
        break;
    }
    problems.push({ span: e.span, reason: 'not-a-mask', message: 'expected a mask expression (primitives combined with & | ! and parentheses)' });
    return { op: 'full' };
  };
  const mask = go(expr);
  return problems.length === 0 ? { ok: true, mask } : { ok: false, problems };
}
