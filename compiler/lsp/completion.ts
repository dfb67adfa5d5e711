// Completion: what may be written at the cursor (context.ts says where that is).
//   top level        declaration kinds (a snippet with a block or a value form)
//   header           `from`; after `from`, declarations of the same kind
//   clause position  the clause table's keywords not yet written (repeatable ones always), and the
//                    unused modifiers of the clause the cursor follows on its line
//   value            built-ins of the categories the position takes, with parameter snippets;
//                    declaration names of the kinds a reference takes; enum values; at an
//                    argument's start the built-in's parameters not yet given (`name: `)
//   after `a.`       data splits, metrics of an eval, clauses and built-ins of a knob path
//   after a number   the units its position accepts (k M G for counts, % for fractions, ...)
import { CompletionItemKind, InsertTextFormat, MarkupKind, type CompletionItem } from 'vscode-languageserver';
import { DECL_KINDS, type DeclKind, type Span } from '../../grammar/index.js';
import { DECL_SPECS } from '../../grammar/clauses.js';
import { UNITS } from '../../grammar/lexer.js';
import { builtinsOf, describeType, type BuiltinDef, type Unit, type ValueType } from '../registry/index.js';
import { alternatives, callCategories, cursorAt, type Cursor } from './context.js';
import { builtinMarkdown, clauseMarkdown, declKindMarkdown, paramLine } from './docs.js';
import type { LmpDocument, OutlineDecl } from './document.js';

const md = (value: string) => ({ kind: MarkupKind.Markdown, value });

/** A built-in without required parameters is written bare in these categories (`causal`, `greedy`). */
const BARE = new Set(['mask', 'metric']);

/** The snippet that calls a built-in: `window(${1:size})`, `llama(dim: ${1:dim}, ...)`. */
export function callSnippet(def: BuiltinDef): string {
  const req = def.params.filter((p) => p.required);
  if (req.length === 0) {
    if (BARE.has(def.category) || (def.params.length === 0 && def.category === 'sampler')) return def.name;
    return def.params.length === 0 ? `${def.name}()` : `${def.name}($1)`;
  }
  if (req.length === 1 && def.params[0] === req[0]) return `${def.name}(\${1:${req[0]!.name}})`;
  return `${def.name}(${req.map((p, i) => `${p.name}: \${${i + 1}:${p.name}}`).join(', ')})`;
}

function edit(doc: LmpDocument, replace: Span, newText: string) {
  return { range: doc.range(replace), newText };
}

function declSnippet(kind: DeclKind): string {
  return `${kind} \${1:name} {\n  $0\n}`;
}

function builtinItems(doc: LmpDocument, t: ValueType | undefined, replace: Span): CompletionItem[] {
  const out: CompletionItem[] = [];
  const seen = new Set<string>();
  for (const cat of callCategories(t)) {
    for (const def of builtinsOf(cat)) {
      if (seen.has(def.name)) continue;
      seen.add(def.name);
      out.push({
        label: def.name,
        kind: CompletionItemKind.Function,
        detail: `${cat.replace('_', ' ')}${def.role ? ` (${def.role})` : ''}`,
        documentation: md(builtinMarkdown(def)),
        insertTextFormat: InsertTextFormat.Snippet,
        textEdit: edit(doc, replace, callSnippet(def)),
      });
    }
  }
  return out;
}

function declItems(doc: LmpDocument, kinds: readonly DeclKind[] | undefined, except: OutlineDecl | undefined, replace: Span, suffix = ''): CompletionItem[] {
  const out: CompletionItem[] = [];
  const seen = new Set<string>();
  for (const d of doc.outline) {
    if (d.start === except?.start || seen.has(d.name) || (kinds && !kinds.includes(d.declKind))) continue;
    seen.add(d.name);
    out.push({ label: d.name + suffix, kind: CompletionItemKind.Variable, detail: d.declKind, textEdit: edit(doc, replace, d.name + suffix) });
  }
  return out;
}

function valueItems(doc: LmpDocument, t: ValueType | undefined, decl: OutlineDecl, replace: Span): CompletionItem[] {
  const out = builtinItems(doc, t, replace);
  for (const a of alternatives(t)) {
    switch (a.t) {
      case 'ref':
        out.push(...declItems(doc, a.kinds, decl, replace));
        break;
      case 'dataset':
        out.push(...declItems(doc, ['data'], decl, replace));
        break;
      case 'knob':
        out.push(...declItems(doc, undefined, decl, replace));
        break;
      case 'metric_ref':
        out.push(...declItems(doc, ['eval'], decl, replace));
        for (const m of builtinsOf('metric')) if (m.fields) out.push({ label: m.name, kind: CompletionItemKind.Function, detail: 'metric', textEdit: edit(doc, replace, m.name) });
        break;
      case 'compare':
        out.push(...valueItems(doc, a.left, decl, replace));
        break;
      case 'enum':
        for (const v of a.values) out.push({ label: v, kind: CompletionItemKind.EnumMember, detail: describeType(a), textEdit: edit(doc, replace, v) });
        break;
      case 'bool':
        for (const v of ['true', 'false']) out.push({ label: v, kind: CompletionItemKind.Constant, textEdit: edit(doc, replace, v) });
        break;
      default:
        break;
    }
  }
  return dedupe(out);
}

function dedupe(items: CompletionItem[]): CompletionItem[] {
  const seen = new Set<string>();
  return items.filter((i) => (seen.has(i.label) ? false : (seen.add(i.label), true)));
}

function modifierItems(doc: LmpDocument, mods: readonly { words: readonly string[]; value: boolean; doc: string }[], replace: Span): CompletionItem[] {
  return mods.map((m) => {
    const w = m.words.join(' ');
    return {
      label: w,
      kind: CompletionItemKind.Keyword,
      detail: `modifier${m.value ? '' : ' (a flag)'}`,
      documentation: md(m.doc),
      insertTextFormat: InsertTextFormat.Snippet,
      textEdit: edit(doc, replace, m.value ? `${w} $0` : w),
      sortText: `0${w}`,
    };
  });
}

/** Units a number at a position of type `t` accepts (all of them where the type is unknown). */
function unitItems(doc: LmpDocument, t: ValueType | undefined, replace: Span): CompletionItem[] {
  const wanted = new Set<Unit>();
  const add = (x: ValueType): void => {
    if (x.t === 'number') wanted.add(x.unit);
    else if (x.t === 'union') x.of.forEach(add);
    else if (x.t === 'range' || x.t === 'list') add(x.of);
  };
  if (t) add(t);
  const lexUnit: Record<Unit, string | undefined> = { count: 'count', real: undefined, fraction: 'percent', duration: 'duration', bytes: 'bytes' };
  const accepted = new Set([...wanted].map((u) => lexUnit[u]).filter((u): u is string => u !== undefined));
  const out: CompletionItem[] = [];
  for (const [suffix, u] of Object.entries(UNITS)) {
    if (suffix === '' || (t !== undefined && !accepted.has(u.unit))) continue;
    const factor = u.mul !== undefined ? `× ${u.mul}` : `÷ ${u.div}`;
    out.push({ label: suffix, kind: CompletionItemKind.Unit, detail: `${u.unit}, ${factor}`, filterText: suffix, textEdit: edit(doc, replace, suffix) });
  }
  return out;
}

function memberItems(doc: LmpDocument, c: Extract<Cursor, { kind: 'member' }>): CompletionItem[] {
  const [root, ...rest] = c.path;
  if (root === undefined) return [];
  const target = doc.index.symbols.get(root);
  const kinds = alternatives(c.type).map((a) => a.t);
  const word = (label: string, detail: string, kind: CompletionItemKind = CompletionItemKind.Property): CompletionItem => ({ label, kind, detail, textEdit: edit(doc, c.replace, label) });
  if (target === undefined) {
    // `latency.` → the metric's fields.
    const metric = builtinsOf('metric').find((m) => m.name === root);
    return rest.length === 0 && metric?.fields ? metric.fields.map((f) => word(f, `${root} field`)) : [];
  }
  if (target.declKind === 'data' && rest.length === 0) return [word('holdout', 'the held-out split'), word('train', 'the training split')];
  if (target.declKind === 'eval' && rest.length === 0 && (kinds.includes('metric_ref') || kinds.length === 0)) {
    const eff = doc.index.inheritance?.effective.get(target);
    const task = eff?.clauses.find((x) => x.clause.keyword === 'task')?.clause.args[0];
    const use = task ? doc.index.builtins.find((b) => b.node === task) : undefined;
    const reports = use?.def?.reports ?? builtinsOf('metric').map((m) => m.name);
    return reports.map((r) => word(r, `metric of eval ${target.name.name}`));
  }
  // Knob paths: DECL.CLAUSE[.BUILTIN][.PARAM].
  const eff = doc.index.inheritance?.effective.get(target);
  if (!eff) return [];
  if (rest.length === 0) {
    const seen = new Set<string>();
    return eff.clauses
      .filter((x) => (seen.has(x.clause.keyword) ? false : (seen.add(x.clause.keyword), true)))
      .map((x) => word(x.clause.keyword, `clause of ${target.declKind} ${target.name.name}`));
  }
  const clauses = eff.clauses.filter((x) => x.clause.keyword === rest[0]);
  const inClause = doc.index.builtins.filter((b) => b.def && clauses.some((x) => x.clause.span.start <= b.span.start && b.span.end <= x.clause.span.end));
  if (rest.length === 1) {
    const items = inClause.map((b) => word(b.name, `${b.category.replace('_', ' ')} in ${rest[0]}`, CompletionItemKind.Function));
    if (inClause.length === 1) for (const p of inClause[0]!.def!.params) items.push(word(p.name, `parameter of ${inClause[0]!.name}`));
    return dedupe(items);
  }
  const b = inClause.find((x) => x.name === rest[1]);
  return b?.def ? b.def.params.map((p) => ({ ...word(p.name, `parameter of ${b.name}`), documentation: md(paramLine(p)) })) : [];
}

export function complete(doc: LmpDocument, offset: number): CompletionItem[] {
  const c = cursorAt(doc, offset);
  switch (c.kind) {
    case 'none':
      return [];
    case 'top':
      return DECL_KINDS.map((k) => ({
        label: k,
        kind: CompletionItemKind.Keyword,
        detail: 'declaration',
        documentation: md(declKindMarkdown(k)),
        insertTextFormat: InsertTextFormat.Snippet,
        textEdit: edit(doc, c.replace, declSnippet(k)),
      }));
    case 'header':
      return [{ label: 'from', kind: CompletionItemKind.Keyword, detail: `inherit the clauses of another ${c.decl.declKind}`, textEdit: edit(doc, c.replace, 'from ') }];
    case 'base':
      return declItems(doc, [c.decl.declKind], c.decl, c.replace);
    case 'clause': {
      const spec = DECL_SPECS[c.decl.declKind];
      const clauses: CompletionItem[] = spec.clauses
        .filter((cl) => cl.repeatable || !c.written.includes(cl.words.join(' ')))
        .map((cl) => {
          const kw = cl.words.join(' ');
          return {
            label: kw,
            kind: CompletionItemKind.Keyword,
            detail: `${c.decl.declKind} clause`,
            documentation: md(clauseMarkdown(c.decl.declKind, cl)),
            insertTextFormat: InsertTextFormat.Snippet,
            textEdit: edit(doc, c.replace, cl.body === 'required' ? `${kw} $1: $0` : `${kw} $0`),
            sortText: `1${kw}`,
          };
        });
      // On the line of a clause with unused modifiers, a modifier word is read as the modifier.
      const modWords = new Set(c.modifiers.map((m) => m.words[0]));
      return [...modifierItems(doc, c.modifiers, c.replace), ...clauses.filter((i) => !modWords.has(i.label.split(' ')[0]!))];
    }
    case 'value': {
      const out: CompletionItem[] = [];
      if (c.recordKeys) {
        for (const k of c.recordKeys) out.push({ label: k, kind: CompletionItemKind.Field, insertTextFormat: InsertTextFormat.Snippet, textEdit: edit(doc, c.replace, `${k}: $0`) });
        return out;
      }
      if (c.call) {
        for (const p of c.call.def.params) {
          if (c.call.given.includes(p.name)) continue;
          out.push({
            label: `${p.name}:`,
            kind: CompletionItemKind.Field,
            detail: describeType(p.type),
            documentation: md(paramLine(p)),
            filterText: p.name,
            insertTextFormat: InsertTextFormat.Snippet,
            textEdit: edit(doc, c.replace, `${p.name}: $0`),
            sortText: `0${c.call.def.params.indexOf(p)}`,
          });
        }
      }
      out.push(...modifierItems(doc, c.modifiers, c.replace));
      out.push(...valueItems(doc, c.type, c.decl, c.replace));
      return out;
    }
    case 'member':
      return memberItems(doc, c);
    case 'unit':
      return unitItems(doc, c.type, c.replace);
  }
}
