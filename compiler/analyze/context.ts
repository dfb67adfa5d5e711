// What a rule sees. A rule is `create(context) => visitor` (graphql-js's validation rules); the
// analyzer walks the program once and calls every rule's hooks as it goes.
import type { Call, Clause, Decl, Expr, Ident, Program } from '../../grammar/ast.js';
import type { Diagnostic, DiagnosticCode } from '../../grammar/diagnostics.js';
import type { BuiltinDef, Category, ClauseSemantics, ParamDef, ValueType } from '../registry/index.js';
import type { EffectiveDecl, Inheritance } from './inherit.js';

/** Where a value sits: which declaration, clause, built-in parameter. */
export interface Site {
  readonly decl: Decl;
  readonly clause: Clause | undefined;
  /** Human name of the value for messages: "window size", "clause 'steps'". */
  readonly what: string;
  readonly builtin?: BuiltinDef;
  readonly param?: ParamDef;
}

export interface RuleVisitor {
  /** Every declaration, once, with its effective (inherited) clauses. */
  readonly decl?: (decl: Decl, eff: EffectiveDecl) => void;
  /** Every clause as written (inherited clauses are visited in their own declaration). */
  readonly clause?: (clause: Clause, sem: ClauseSemantics | undefined, decl: Decl) => void;
  /** Every (expression, expected type) pair the walker meets, before it descends. */
  readonly value?: (expr: Expr, type: ValueType, site: Site) => void;
  /** Every call or bare name in a built-in position (def undefined: unknown built-in). */
  readonly call?: (node: Call | Ident, name: string, def: BuiltinDef | undefined, category: Category, site: Site) => void;
  /** After the walk. */
  readonly end?: () => void;
}

export interface RuleContext {
  readonly program: Program;
  readonly file: string;
  /** First declaration of each name. */
  readonly symbols: ReadonlyMap<string, Decl>;
  readonly inheritance: Inheritance;
  effective(decl: Decl): EffectiveDecl;
  lookup(name: string): Decl | undefined;
  report(d: Diagnostic): void;
}

export interface Rule {
  readonly name: string;
  /** The catalog codes this rule reports (the spec and the coverage test read it). */
  readonly codes: readonly DiagnosticCode[];
  create(context: RuleContext): RuleVisitor;
}
