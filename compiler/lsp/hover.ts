// Hover: built-ins (signature, parameters with types, units, defaults, ranges, doc, from the
// registry), parameters, declarations (kind, what they inherit), clause and modifier keywords,
// numbers (normalized value and the type expected there), masks (density and tile classes at the
// lengths the file uses, from `lmpc explain`'s report) and sampler chains (the checked order).
import { MarkupKind, type Hover } from 'vscode-languageserver';
import type { Clause, Decl, Expr, Token } from '../../grammar/index.js';
import { DECL_SPECS } from '../../grammar/clauses.js';
import { clauseSemantics, describeType, lookupBuiltin } from '../registry/index.js';
import { calleeName, unwrap } from '../analyze/values.js';
import type { ExplainReport } from '../explain/report.js';
import { builtinMarkdown, clauseMarkdown, declKindMarkdown, paramMarkdown } from './docs.js';
import { within, type LmpDocument } from './document.js';
import { innermost } from './symbols.js';

const code = (s: string): string => '```lmp\n' + s + '\n```';
const pct = (x: number): string => `${(100 * x).toFixed(x > 0 && x < 0.01 ? 1 : 0)}%`;

/** The explain report of this version (memoized; undefined when the file has errors or explain cannot cost it). */
export function explainReport(doc: LmpDocument): Promise<ExplainReport | undefined> {
  if (!doc.explain) return Promise.resolve(undefined);
  let p = doc.memo.get('explain') as Promise<ExplainReport | undefined> | undefined;
  if (p === undefined) {
    p = (async () => {
      if (doc.checked.diagnostics.some((d) => d.severity === 'error')) return undefined;
      try {
        const { explainSource } = await import('../explain/report.js');
        return await explainSource(doc.text, doc.file, { readSources: doc.uri.startsWith('file:') });
      } catch {
        return undefined;
      }
    })();
    doc.memo.set('explain', p);
  }
  return p;
}

export async function maskMarkdown(doc: LmpDocument, attention: string): Promise<string> {
  const r = await explainReport(doc);
  const a = r?.attentions.find((x) => x.name === attention);
  if (!a) return '_Density and tiles: shown once the file checks without errors (`lmpc explain`)._';
  const rows = a.at.map((x) => `| ${x.length} | ${x.density.toFixed(3)} | ${pct(x.empty)} | ${pct(x.full)} | ${pct(x.partial)} | ${x.tiles} |`);
  let out = `**Mask** \`${a.mask}\`${a.heads !== undefined ? `, averaged over ${a.heads} heads` : ''}; tile ${a.tile}; lengths: ${a.lengthsFrom}\n\n| length | density | empty tiles | full | partial | tiles |\n| ---: | ---: | ---: | ---: | ---: | ---: |\n${rows.join('\n')}`;
  if (a.cache.bound !== undefined) out += `\n\nKV cache \`${a.cache.policy}\`: at most ${a.cache.bound} entries kept (${a.cache.keptAt.map((k) => `${k.kept} at ${k.length}`).join(', ')})`;
  for (const n of a.notes) out += `\n\n_${n}_`;
  return out;
}

/** The chain of a decode's `policy` as checked: each sampler's role (and state, from explain), in order. */
export async function chainMarkdown(doc: LmpDocument, decl: Decl, clause: Clause): Promise<string> {
  const r = await explainReport(doc);
  const d = r?.decodes.find((x) => x.name === decl.name.name);
  let rows: string[];
  if (d) rows = d.chain.map((s, i) => `${i + 1}. \`${s.sampler}\` — ${s.role}; state: ${s.state}`);
  else {
    const arg = clause.args[0];
    const items: readonly Expr[] = arg ? (unwrap(arg).kind === 'Chain' ? (unwrap(arg) as Extract<Expr, { kind: 'Chain' }>).items : [arg]) : [];
    rows = items.map((e, i) => {
      const name = calleeName(unwrap(e));
      const def = name !== undefined ? lookupBuiltin('sampler', name) : undefined;
      return `${i + 1}. \`${doc.text.slice(e.span.start, e.span.end)}\` — ${def?.role ?? 'unknown sampler'}`;
    });
    const last = items[items.length - 1];
    const lastDef = last ? lookupBuiltin('sampler', calleeName(unwrap(last)) ?? '') : undefined;
    if (items.length > 0 && lastDef?.role !== 'terminal') rows.push(`${items.length + 1}. \`sample\` (implicit) — terminal`);
  }
  const problems = doc.checked.diagnostics.filter((x) => x.span.start >= clause.span.start && x.span.end <= clause.span.end && /^LMP06/.test(x.code));
  let out = `**Sampler chain** (penalties, then transforms and filters, one terminal last), as checked:\n\n${rows.join('\n')}`;
  if (problems.length) out += '\n\n' + problems.map((p) => `- ${p.severity} ${p.code}: ${p.message}`).join('\n');
  else if (!doc.checked.syntaxErrors) out += '\n\nThe order checks.';
  for (const w of d?.warnings ?? []) out += `\n\n_${w}_`;
  return out;
}

function declMarkdown(doc: LmpDocument, decl: Decl): string {
  const head = `${decl.declKind} ${decl.name.name}${decl.base ? ` from ${decl.base.name}` : ''}`;
  let out = `${code(head)}\n${decl.declKind} declaration — ${DECL_SPECS[decl.declKind].doc}`;
  const eff = doc.index.inheritance?.effective.get(decl);
  if (eff && eff.chain.length > 1) {
    out += `\n\nInherits from ${eff.chain.slice(1).map((d) => `\`${d.name.name}\``).join(' ← ')}`;
    const inherited = eff.clauses.filter((c) => c.owner !== decl);
    if (inherited.length) out += `; inherited clauses: ${inherited.map((c) => `\`${c.clause.keyword}\` (from ${c.owner.name.name})`).join(', ')}`;
  }
  if (decl.base && (!eff || eff.chain.length === 1)) out += `\n\n\`from ${decl.base.name}\`: not a ${decl.declKind} declared in this file`;
  const own = decl.clauses.map((c) => `\`${c.keyword}\``);
  if (own.length) out += `\n\nClauses: ${[...new Set(own)].join(', ')}`;
  const users = doc.index.references.filter((r) => r.target === decl).length;
  out += `\n\n${users} reference${users === 1 ? '' : 's'}`;
  return out;
}

/** The token at `offset` (the one containing it, else the one ending there). */
function tokenAt(tokens: readonly Token[], offset: number): Token | undefined {
  let found: Token | undefined;
  for (const t of tokens) {
    if (t.span.start > offset) break;
    if (t.span.start <= offset && offset < t.span.end) return t;
    if (t.span.end === offset) found = t;
  }
  return found;
}

export async function hover(doc: LmpDocument, offset: number): Promise<Hover | null> {
  const idx = doc.index;
  const result = (value: string, span: { start: number; end: number }): Hover => ({ contents: { kind: MarkupKind.Markdown, value }, range: doc.range(span) });
  const use = innermost(idx.builtins, offset);
  if (use && use.def) {
    let value = builtinMarkdown(use.def);
    if (use.category === 'sampler' && use.site.clause?.keyword === 'policy') value += '\n\n---\n' + (await chainMarkdown(doc, use.site.decl, use.site.clause));
    return result(value, use.span);
  }
  const param = innermost(idx.params, offset);
  if (param) return result(paramMarkdown(param.def, param.param), param.span);
  const ref = idx.references.find((r) => within(r.ident.span, offset));
  if (ref) return result(await withDeclExtras(doc, ref.target, declMarkdown(doc, ref.target)), ref.ident.span);
  for (const decl of idx.program.decls) {
    if (!within(decl.span, offset) && !within(decl.keywordSpan, offset)) continue;
    if (within(decl.name.span, offset)) return result(await withDeclExtras(doc, decl, declMarkdown(doc, decl)), decl.name.span);
    if (within(decl.keywordSpan, offset)) return result(declKindMarkdown(decl.declKind), decl.keywordSpan);
    for (const clause of decl.clauses) {
      if (!within(clause.span, offset)) continue;
      const spec = DECL_SPECS[decl.declKind].clauses.find((c) => c.words.join(' ') === clause.keyword);
      if (within(clause.keywordSpan, offset) && spec) {
        let value = clauseMarkdown(decl.declKind, spec);
        if (decl.declKind === 'attention' && ['mask', 'heads', 'cache'].includes(clause.keyword)) value += '\n\n---\n' + (await maskMarkdown(doc, decl.name.name));
        if (decl.declKind === 'decode' && clause.keyword === 'policy') value += '\n\n---\n' + (await chainMarkdown(doc, decl, clause));
        return result(value, clause.keywordSpan);
      }
      for (const m of clause.modifiers) {
        if (!within(m.keywordSpan, offset)) continue;
        const ms = spec?.modifiers.find((x) => x.words.join(' ') === m.keyword);
        const t = clauseSemantics(decl.declKind, clause.keyword)?.modifiers?.[m.keyword];
        if (ms) return result(`${code(`${clause.keyword} … ${m.keyword}${ms.value ? ' …' : ''}`)}\nmodifier of \`${clause.keyword}\` — ${ms.doc}${t ? `\n\ntakes ${describeType(t)}` : ''}`, m.keywordSpan);
      }
      const tok = tokenAt(doc.tokens.tokens, offset);
      if (tok && ['Amp', 'Pipe', 'Bang'].includes(tok.type) && decl.declKind === 'attention' && (clause.keyword === 'mask' || clause.keyword === 'heads')) {
        return result(await maskMarkdown(doc, decl.name.name), tok.span);
      }
      if (tok && tok.type === 'Arrow' && decl.declKind === 'decode' && clause.keyword === 'policy') return result(await chainMarkdown(doc, decl, clause), tok.span);
    }
  }
  // Literals and enum values: what was written, and what the position expects.
  const typed = idx.typed.filter((t) => within(t.expr.span, offset) && (t.expr.kind === 'Number' || t.expr.kind === 'Ident' || t.expr.kind === 'Bool' || t.expr.kind === 'String'));
  const lit = typed[typed.length - 1];
  if (lit) {
    const e = lit.expr;
    const what = e.kind === 'Number' ? `\`${e.raw}\` = ${e.value} (${e.unit})\n\n` : '';
    return result(`${what}${lit.site.what}: expects ${describeType(lit.type)}`, e.span);
  }
  return null;
}

async function withDeclExtras(doc: LmpDocument, decl: Decl, md: string): Promise<string> {
  if (decl.declKind === 'attention') return md + '\n\n---\n' + (await maskMarkdown(doc, decl.name.name));
  if (decl.declKind === 'decode') {
    const policy = decl.clauses.find((c) => c.keyword === 'policy');
    if (policy) return md + '\n\n---\n' + (await chainMarkdown(doc, decl, policy));
  }
  return md;
}
