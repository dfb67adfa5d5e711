// Binding call arguments to a built-in's parameters. Shared by the checker (which reports the
// problems) and later the lowering (which reads the bound values), so both agree on what
// `window(1k)` or `top_k(k: 40)` means.
import type { Arg } from '../../grammar/ast.js';
import type { BuiltinDef, ParamDef } from './builtins.js';

export type BindProblem =
  | { readonly kind: 'unknown'; readonly arg: Arg; readonly name: string }
  | { readonly kind: 'positional-after-named'; readonly arg: Arg }
  | { readonly kind: 'too-many'; readonly arg: Arg; readonly index: number }
  | { readonly kind: 'duplicate'; readonly arg: Arg; readonly name: string };

export interface Binding {
  /** Parameter name -> the argument bound to it. */
  readonly bound: ReadonlyMap<string, Arg>;
  readonly problems: readonly BindProblem[];
  /** Required parameters with no argument (and, for exactlyOne groups, handled by the caller). */
  readonly missing: readonly ParamDef[];
}

// The AST is immutable, so a binding is computed once per argument list: the walker, the rules
// and the facts helpers all bind the same call (memoized by the args array, checked against def).
const memo = new WeakMap<readonly Arg[], { readonly def: BuiltinDef; readonly binding: Binding }>();

export function bindArgs(def: BuiltinDef, args: readonly Arg[]): Binding {
  const hit = memo.get(args);
  if (hit !== undefined && hit.def === def) return hit.binding;
  const binding = bind(def, args);
  memo.set(args, { def, binding });
  return binding;
}

function bind(def: BuiltinDef, args: readonly Arg[]): Binding {
  const bound = new Map<string, Arg>();
  const problems: BindProblem[] = [];
  let positional = 0;
  let sawNamed = false;
  for (const arg of args) {
    if (arg.name === undefined) {
      if (sawNamed) {
        problems.push({ kind: 'positional-after-named', arg });
        continue;
      }
      const param = def.params[positional];
      positional++;
      if (param === undefined) {
        problems.push({ kind: 'too-many', arg, index: positional });
        continue;
      }
      bound.set(param.name, arg);
    } else {
      sawNamed = true;
      const name = arg.name.name;
      if (!def.params.some((p) => p.name === name)) {
        problems.push({ kind: 'unknown', arg, name });
        continue;
      }
      if (bound.has(name)) {
        problems.push({ kind: 'duplicate', arg, name });
        continue;
      }
      bound.set(name, arg);
    }
  }
  const missing = def.params.filter((p) => p.required && !bound.has(p.name));
  return { bound, problems, missing };
}
