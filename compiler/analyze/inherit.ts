// `from` inheritance: the effective clauses of every declaration.
//
// A derived declaration starts from its base's effective clauses; every keyword it writes
// replaces the inherited clauses of that keyword (for repeatable clauses such as `source`, the
// whole inherited set). Exported for the IR lowering, which works on effective clauses only.
import type { Clause, Decl, Expr, Program } from '../../grammar/ast.js';

export interface EffectiveClause {
  readonly clause: Clause;
  /** The declaration that wrote the clause (the decl itself or one of its bases). */
  readonly owner: Decl;
}

export interface EffectiveDecl {
  readonly decl: Decl;
  /** The declaration, then its base, its base's base, ... (stops before a repeat or a bad base). */
  readonly chain: readonly Decl[];
  readonly clauses: readonly EffectiveClause[];
  /** The value of a value-form declaration (`= expr`), own or inherited. */
  readonly value: Expr | undefined;
}

export interface Inheritance {
  readonly effective: ReadonlyMap<Decl, EffectiveDecl>;
  /** Each cycle once, as the declarations in `from` order starting from the first in source. */
  readonly cycles: readonly (readonly Decl[])[];
}

/** The first declaration of each name (later duplicates are reported, not used). */
export function symbolTable(program: Program): Map<string, Decl> {
  const table = new Map<string, Decl>();
  for (const d of program.decls) if (!table.has(d.name.name)) table.set(d.name.name, d);
  return table;
}

export function resolveInheritance(program: Program, symbols: ReadonlyMap<string, Decl> = symbolTable(program)): Inheritance {
  const effective = new Map<Decl, EffectiveDecl>();
  const cycles: Decl[][] = [];
  const seenCycle = new Set<Decl>();

  // The usable base of `d`: declared and of the same kind.
  const baseOf = (d: Decl): Decl | undefined => {
    if (d.base === undefined) return undefined;
    const b = symbols.get(d.base.name);
    return b !== undefined && b.declKind === d.declKind ? b : undefined;
  };

  for (const d of program.decls) {
    const chain: Decl[] = [d];
    const onChain = new Set<Decl>([d]);
    let cur = baseOf(d);
    while (cur !== undefined) {
      if (onChain.has(cur)) {
        const start = chain.indexOf(cur);
        const cycle = chain.slice(start);
        if (!cycle.some((c) => seenCycle.has(c))) {
          cycle.forEach((c) => seenCycle.add(c));
          cycles.push(cycle);
        }
        break;
      }
      chain.push(cur);
      onChain.add(cur);
      cur = baseOf(cur);
    }
    // Apply from the farthest base to the declaration itself.
    let clauses: EffectiveClause[] = [];
    let value: Expr | undefined;
    if (chain.length === 1) {
      // No base (the common case): the declaration's own clauses, in order.
      effective.set(d, { decl: d, chain, clauses: d.clauses.map((clause) => ({ clause, owner: d })), value: d.value });
      continue;
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const owner = chain[i]!;
      const written = new Set(owner.clauses.map((c) => c.keyword));
      clauses = clauses.filter((c) => !written.has(c.clause.keyword));
      for (const c of owner.clauses) clauses.push({ clause: c, owner });
      if (owner.value !== undefined) value = owner.value;
    }
    effective.set(d, { decl: d, chain, clauses, value });
  }
  return { effective, cycles };
}

/** The effective clauses of one keyword. */
export function clausesOf(eff: EffectiveDecl, keyword: string): readonly EffectiveClause[] {
  return eff.clauses.filter((c) => c.clause.keyword === keyword);
}

/** The first argument of the (single) effective clause `keyword`, if any. */
export function clauseArg(eff: EffectiveDecl, keyword: string): Expr | undefined {
  return clausesOf(eff, keyword)[0]?.clause.args[0];
}
