// Markdown for hovers and completion items, from the registry and the clause table (the same
// words spec/builtins.md and spec/reference.md print).
import type { DeclKind } from '../../grammar/ast.js';
import { DECL_SPECS, type ClauseSpec } from '../../grammar/clauses.js';
import { CLAUSE_SEMANTICS, describeRange, describeType, type BuiltinDef, type ParamDef, type ValueType } from '../registry/index.js';
import { CATEGORY_NOUN } from '../analyze/rules/UnknownBuiltinRule.js';

const code = (s: string): string => '```lmp\n' + s + '\n```';

/** `window(size)`, `llama(dim, layers, heads, kv_heads?, ffn, norm_eps?)`. */
export function signature(def: BuiltinDef): string {
  return `${def.name}(${def.params.map((p) => (p.required ? p.name : `${p.name}?`)).join(', ')})`;
}

function numberFacts(t: ValueType): string[] {
  if (t.t !== 'number') return [];
  const out = [`unit: ${t.unit}`];
  const r = describeRange(t);
  if (r) out.push(`range: ${r}`);
  if (t.powerOfTwo) out.push('a power of two');
  return out;
}

export function paramLine(p: ParamDef): string {
  const facts = [describeType(p.type), p.required ? 'required' : `default \`${p.default ?? ''}\``, ...numberFacts(p.type).filter((f) => !f.startsWith('range'))];
  return `- \`${p.name}\`: ${facts.join('; ')} — ${p.doc}`;
}

export function builtinMarkdown(def: BuiltinDef): string {
  const tags = [
    def.role ? `role: ${def.role}${def.role === 'terminal' ? ' (must be last in a chain)' : ''}` : '',
    def.stateful ? 'stateful' : '',
    def.evicts !== undefined ? (def.evicts ? 'evicts' : 'never evicts') : '',
    def.reports ? `reports: ${def.reports.join(', ')}` : '',
    def.fields ? `fields: ${def.fields.join(', ')}` : '',
    def.exactlyOne ? `exactly one of: ${def.exactlyOne.join(', ')}` : '',
  ].filter(Boolean);
  let out = `${code(signature(def))}\n${CATEGORY_NOUN[def.category]} — ${def.doc}`;
  if (tags.length) out += `\n\n_${tags.join('; ')}_`;
  if (def.params.length) out += '\n\n' + def.params.map(paramLine).join('\n');
  return out;
}

export function paramMarkdown(def: BuiltinDef, p: ParamDef): string {
  return `${code(`${def.name}(${p.name}: …)`)}\nparameter of ${CATEGORY_NOUN[def.category]} \`${def.name}\`\n\n${paramLine(p)}`;
}

export function clauseMarkdown(kind: DeclKind, spec: ClauseSpec): string {
  const kw = spec.words.join(' ');
  const sem = CLAUSE_SEMANTICS[kind][kw];
  const lines = [`${code(`${kind} … { ${kw} … }`)}\n${spec.doc}`];
  const facts: string[] = [];
  if (sem?.arg) facts.push(`takes ${describeType(sem.arg)}${spec.args === 'list' ? ' (a comma-separated list)' : ''}`);
  if (sem?.body) facts.push(`\`: ${describeType(sem.body)}\``);
  if (sem?.required) facts.push('required');
  if (spec.repeatable) facts.push('repeatable');
  if (facts.length) lines.push(facts.join('; '));
  if (spec.modifiers.length) {
    lines.push(
      spec.modifiers
        .map((m) => {
          const w = m.words.join(' ');
          const t = sem?.modifiers?.[w];
          return `- \`${w}\`${t ? ` ${describeType(t)}` : ' (a flag)'} — ${m.doc}`;
        })
        .join('\n'),
    );
  }
  return lines.join('\n\n');
}

export function declKindMarkdown(kind: DeclKind): string {
  const spec = DECL_SPECS[kind];
  const vf = spec.valueForm ? `\n\nValue form: \`${kind} NAME = expr\` — ${spec.valueForm}` : '';
  return `${code(`${kind} NAME { … }`)}\n${spec.doc}${vf}\n\nClauses: ${spec.clauses.map((c) => `\`${c.words.join(' ')}\``).join(', ')}`;
}
