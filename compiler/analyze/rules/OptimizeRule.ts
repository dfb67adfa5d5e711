// LMP0801..LMP0804 (and LMP0202/LMP0203 for metric paths): an optimize block. Each `vary` path
// DECL.CLAUSE[.BUILTIN][.PARAM] must name a numeric setting that exists (the built-in must appear
// in that clause; a built-in with one parameter may omit it), its values must fit that setting's
// type, unit and range, and the objective `EVAL.METRIC` must be a metric the eval reports.
import type { Decl, Expr, Ident } from '../../../grammar/ast.js';
import { diag } from '../../../grammar/diagnostics.js';
import { BUILTINS, CLAUSE_SEMANTICS, describeRange, describeType, lookupBuiltin, type ValueType } from '../../registry/index.js';
import type { Rule, RuleContext } from '../context.js';
import { clausesOf, type EffectiveDecl } from '../inherit.js';
import { calleeName, describeFound, matchScore, numberValue, unwrap } from '../values.js';

function segments(e: Expr): Ident[] | undefined {
  const u = unwrap(e);
  if (u.kind === 'Ident') return [u];
  if (u.kind === 'Member') {
    const head = segments(u.object);
    return head ? [...head, u.property] : undefined;
  }
  return undefined;
}

function callsIn(e: Expr, out: Expr[]): void {
  const u = unwrap(e);
  if (u.kind === 'Call' || u.kind === 'Ident') out.push(u);
  if (u.kind === 'Call') for (const a of u.args) callsIn(a.value, out);
  if (u.kind === 'Binary') (callsIn(u.left, out), callsIn(u.right, out));
  if (u.kind === 'Unary') callsIn(u.operand, out);
  if (u.kind === 'Chain' || u.kind === 'Then' || u.kind === 'List' || u.kind === 'Tuple') for (const i of u.items) callsIn(i, out);
}

const numeric = (t: ValueType): ValueType | undefined => (t.t === 'number' ? t : t.t === 'union' ? t.of.find((a) => a.t === 'number') : undefined);

type Knob = { ok: true; type: ValueType } | { ok: false; at: Expr; reason: string };

function resolveKnob(ctx: RuleContext, path: Expr): Knob {
  const segs = segments(path);
  if (!segs || segs.length < 2) return { ok: false, at: path, reason: 'write DECL.CLAUSE[.BUILTIN][.PARAM]' };
  const [d, c, b, p, ...rest] = segs;
  const decl = ctx.lookup(d!.name);
  if (!decl) return { ok: false, at: d!, reason: `no declaration is named '${d!.name}'` };
  const sem = CLAUSE_SEMANTICS[decl.declKind][c!.name];
  if (!sem) return { ok: false, at: c!, reason: `${decl.declKind} has no clause '${c!.name}'` };
  const written = clausesOf(ctx.effective(decl), c!.name)[0]?.clause;
  if (!written) return { ok: false, at: c!, reason: `${decl.declKind} '${decl.name.name}' has no '${c!.name}' clause` };
  if (!b) {
    const t = sem.arg ? numeric(sem.arg) : undefined;
    return t ? { ok: true, type: t } : { ok: false, at: c!, reason: `'${c!.name}' is not a number; name the built-in and parameter to vary` };
  }
  const found: Expr[] = [];
  for (const a of written.args) callsIn(a, found);
  if (written.body) callsIn(written.body, found);
  const node = found.find((n) => calleeName(n) === b.name);
  const def = node ? BUILTINS.find((x) => x.name === b.name && lookupBuiltin(x.category, b.name) === x && (x.params.length > 0 || !p)) : undefined;
  if (!node || !def) return { ok: false, at: b, reason: `'${b.name}' does not appear in ${d!.name}.${c!.name}` };
  if (rest.length > 0) return { ok: false, at: rest[0]!, reason: 'the path is too long' };
  if (!p) {
    if (def.params.length !== 1) return { ok: false, at: b, reason: `${def.name}() has ${def.params.length === 0 ? 'no parameters' : `several parameters; name one of ${def.params.map((x) => x.name).join(', ')}`}` };
    return { ok: true, type: def.params[0]!.type };
  }
  const param = def.params.find((x) => x.name === p.name);
  if (!param) return { ok: false, at: p, reason: `${def.name}() has no parameter '${p.name}'` };
  return { ok: true, type: param.type };
}

function evalMetrics(ctx: RuleContext, eff: EffectiveDecl): string[] {
  const written = clausesOf(eff, 'metric').flatMap((c) => c.clause.args.map((a) => calleeName(unwrap(a)) ?? ''));
  if (written.length > 0) return written;
  const task = clausesOf(eff, 'task')[0]?.clause.args[0];
  const name = task ? calleeName(unwrap(task)) : undefined;
  return [...((name && lookupBuiltin('task', name)?.reports) ?? [])];
}

export const OptimizeRule: Rule = {
  name: 'OptimizeRule',
  codes: ['LMP0801', 'LMP0802', 'LMP0803', 'LMP0804'],
  create: (ctx) => {
    const checkMetricRef = (e: Expr, allowBuiltinField: boolean) => {
      const segs = segments(e);
      if (!segs || segs.length !== 2) {
        ctx.report(diag('LMP0307', e.span, { expected: 'EVAL.METRIC', found: describeFound(e) }));
        return;
      }
      const [obj, prop] = segs as [Ident, Ident];
      const target: Decl | undefined = ctx.lookup(obj.name);
      if (target?.declKind === 'eval') {
        const metrics = evalMetrics(ctx, ctx.effective(target));
        if (!metrics.includes(prop.name)) ctx.report(diag('LMP0802', prop.span, { eval: obj.name, metric: prop.name, metrics: metrics.join(', ') || '(none)' }));
        return;
      }
      const metric = allowBuiltinField ? lookupBuiltin('metric', obj.name) : undefined;
      if (metric && target === undefined) {
        if (!(metric.fields ?? []).includes(prop.name))
          ctx.report(diag('LMP0307', prop.span, { expected: `a field of ${metric.name} (${(metric.fields ?? []).join(', ') || 'none'})`, found: `'${prop.name}'` }));
        return;
      }
      if (target === undefined) ctx.report(diag('LMP0202', obj.span, { expected: 'eval', name: obj.name, suggestion: '' }));
      else ctx.report(diag('LMP0203', obj.span, { name: obj.name, found: target.declKind, expected: 'an eval' }));
    };
    return {
      decl(decl, eff) {
        if (decl.declKind !== 'optimize' || eff.value !== undefined) return;
        const count = clausesOf(eff, 'maximize').length + clausesOf(eff, 'minimize').length;
        if (count !== 1) ctx.report(diag('LMP0803', decl.name.span, { decl: decl.name.name, count }));
      },
      clause(clause, _sem, decl) {
        if (decl.declKind !== 'optimize') return;
        const arg = clause.args[0];
        if (!arg) return;
        if (clause.keyword === 'maximize' || clause.keyword === 'minimize') return checkMetricRef(arg, false);
        if (clause.keyword === 'subject to') {
          const u = unwrap(arg);
          if (u.kind === 'Binary') checkMetricRef(u.left, true);
          return;
        }
        if (clause.keyword !== 'vary') return;
        const knob = resolveKnob(ctx, arg);
        if (!knob.ok) {
          ctx.report(diag('LMP0801', knob.at.span, { path: segments(arg)?.map((s) => s.name).join('.') ?? '?', reason: knob.reason }));
          return;
        }
        const values = clause.modifiers.find((m) => m.keyword === 'in')?.value;
        if (!values) return;
        const u = unwrap(values);
        const items = u.kind === 'List' ? u.items : u.kind === 'Range' ? [u.from, u.to] : undefined;
        const path = segments(arg)!.map((s) => s.name).join('.');
        if (!items) {
          ctx.report(diag('LMP0804', values.span, { path, reason: `expected a list [a, b, ...] or a range a..b, found ${describeFound(values)}` }));
          return;
        }
        for (const item of items) {
          if (item.kind === 'ErrorExpr') continue;
          if (matchScore(item, knob.type, ctx.lookup) !== 2) {
            ctx.report(diag('LMP0804', item.span, { path, reason: `expected ${describeType(knob.type)}, found ${describeFound(item)}` }));
            continue;
          }
          const n = numberValue(item);
          const t = knob.type;
          if (n && t.t === 'number') {
            const v = n.value;
            const bad = (t.min !== undefined && (t.minExclusive ? v <= t.min : v < t.min)) || (t.max !== undefined && (t.maxExclusive ? v >= t.max : v > t.max)) || (t.unit === 'count' && !Number.isInteger(v));
            if (bad) ctx.report(diag('LMP0804', item.span, { path, reason: `${n.raw} is not ${describeType(t)}${describeRange(t) ? '' : ''}` }));
          }
        }
      },
    };
  },
};
