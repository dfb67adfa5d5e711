// What the checker's walk sees, as an index for hover, navigation and highlighting.
//
// The index is built by running the analyzer itself (compiler/analyze) with one extra rule that
// records instead of reporting: every built-in call with the category its position takes, every
// reference to a declaration (ref positions, data splits, knob and metric paths), every named
// argument with its parameter, every expression with the registry type expected there. So the
// server resolves `linear` in `schedule` as a schedule and in `scale:` as a RoPE scaling exactly
// as `lmpc check` does. It runs on partial trees too (the walk skips ErrorExpr).
import type { Call, Decl, Expr, Ident, Program, Span } from '../../grammar/ast.js';
import { analyze, symbolTable, type Inheritance, type Rule, type Site } from '../analyze/index.js';
import type { BuiltinDef, Category, ParamDef, ValueType } from '../registry/index.js';

export interface BuiltinUse {
  /** The callee name's span (a bare name: the name). */
  readonly span: Span;
  readonly name: string;
  readonly def: BuiltinDef | undefined;
  readonly category: Category;
  readonly node: Call | Ident;
  readonly site: Site;
}

export interface ParamUse {
  /** The span of the argument's name (`min` in `min: 256`). */
  readonly span: Span;
  readonly def: BuiltinDef;
  readonly param: ParamDef;
}

export interface Reference {
  readonly ident: Ident;
  readonly target: Decl;
}

export interface TypedExpr {
  readonly expr: Expr;
  readonly type: ValueType;
  readonly site: Site;
}

export interface SymbolIndex {
  readonly program: Program;
  /** The first declaration of each name (what references resolve to). */
  readonly symbols: ReadonlyMap<string, Decl>;
  readonly inheritance: Inheritance | undefined;
  readonly builtins: readonly BuiltinUse[];
  readonly params: readonly ParamUse[];
  /** References to declarations, `from` bases included, in source order. */
  readonly references: readonly Reference[];
  /** Every (expression, expected type) pair of the walk, outermost first. */
  readonly typed: readonly TypedExpr[];
}

/** The leftmost identifier of `a.b.c` (knob and metric paths, data splits). */
function pathRoot(e: Expr): Ident | undefined {
  let cur = e;
  while (cur.kind === 'Member') cur = cur.object;
  return cur.kind === 'Ident' ? cur : undefined;
}

export function buildIndex(program: Program): SymbolIndex {
  const symbols = symbolTable(program);
  const builtins: BuiltinUse[] = [];
  const params: ParamUse[] = [];
  const refs = new Map<Ident, Decl>();
  const typed: TypedExpr[] = [];
  const addRef = (id: Ident | undefined): void => {
    if (id === undefined) return;
    const target = symbols.get(id.name);
    if (target !== undefined) refs.set(id, target);
  };
  let inheritance: Inheritance | undefined;
  const collector: Rule = {
    name: 'LspIndex',
    codes: [],
    create: (ctx) => {
      inheritance = ctx.inheritance;
      return {
        call(node, name, def, category, site) {
          builtins.push({ span: node.kind === 'Call' ? node.callee.span : node.span, name, def, category, node, site });
          if (def === undefined || node.kind !== 'Call') return;
          for (const arg of node.args) {
            if (arg.name === undefined) continue;
            const param = def.params.find((p) => p.name === arg.name!.name);
            if (param) params.push({ span: arg.name.span, def, param });
          }
        },
        value(e, type, site) {
          typed.push({ expr: e, type, site });
          if (type.t === 'ref' && e.kind === 'Ident') addRef(e);
          else if ((type.t === 'knob' || type.t === 'metric_ref' || type.t === 'dataset') && e.kind === 'Member') addRef(pathRoot(e));
          else if ((type.t === 'knob' || type.t === 'metric_ref') && e.kind === 'Ident') addRef(e);
        },
      };
    },
  };
  try {
    analyze(program, { rules: [collector] });
  } catch {
    // A partial tree the walk cannot take is indexed as far as it got (never a crash).
  }
  for (const d of program.decls) addRef(d.base);
  const references = [...refs.entries()].map(([ident, target]) => ({ ident, target })).sort((a, b) => a.ident.span.start - b.ident.span.start);
  return { program, symbols, inheritance, builtins, params, references, typed };
}

/** The innermost entry of `list` whose span contains `offset` (ends inclusive). */
export function innermost<T extends { readonly span: Span }>(list: readonly T[], offset: number): T | undefined {
  let best: T | undefined;
  for (const x of list) {
    if (x.span.start <= offset && offset <= x.span.end && (best === undefined || x.span.end - x.span.start <= best.span.end - best.span.start)) best = x;
  }
  return best;
}
