// Handler cases: compiler/lsp/cases/<case>/input.lmp holds a document with a cursor (¦) and, on
// its first line, `// requests: hover completion ...`; expected.json holds what each request
// answers there, in a readable form (positions as line:col, 1-based; rename and formatting as
// the text after the edits).
//   UPDATE_SNAPSHOTS=1 npx vitest run compiler/lsp/cases.test.ts   regenerate expected.json
//   LMP_CASE=<name> npx vitest run compiler/lsp/cases.test.ts      one case
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CompletionItem, Location, Range } from 'vscode-languageserver';
import { DECL_KINDS } from '../../grammar/ast.js';
import { DECL_SPECS } from '../../grammar/clauses.js';
import { BUILTINS, builtinsOf, CATEGORIES, CLAUSE_SEMANTICS, describeType } from '../registry/index.js';
import { applyEdits, TestHost } from './test-host.js';

const ROOT = 'compiler/lsp/cases';
const UPDATE = process.env['UPDATE_SNAPSHOTS'] === '1';
const ONLY = process.env['LMP_CASE'];

const pos = (r: Range): string => `${r.start.line + 1}:${r.start.character + 1}-${r.end.line + 1}:${r.end.character + 1}`;
const loc = (l: Location | null): string | null => (l ? pos(l.range) : null);

// The tables name the registry's and the clause table's words by reference, so that editing a
// doc line or adding a built-in elsewhere does not change them: a doc or a type description
// becomes ‹doc KIND.CLAUSE›, ‹doc BUILTIN.PARAM›, ‹type BUILTIN.PARAM›...; a completion list that
// holds every built-in of a category, in registry order, becomes one line ‹every CATEGORY built-in›.
const WORDS: [string, string][] = (() => {
  const out: [string, string][] = [];
  for (const k of DECL_KINDS) {
    out.push([DECL_SPECS[k].doc, `‹doc ${k}›`]);
    for (const c of DECL_SPECS[k].clauses) {
      const kw = c.words.join(' ');
      out.push([c.doc, `‹doc ${k}.${kw}›`]);
      for (const m of c.modifiers) out.push([m.doc, `‹doc ${k}.${kw}.${m.words.join(' ')}›`]);
      const sem = CLAUSE_SEMANTICS[k][kw];
      if (sem?.arg) out.push([describeType(sem.arg), `‹type ${k}.${kw}›`]);
    }
  }
  for (const b of BUILTINS) {
    out.push([b.doc, `‹doc ${b.category}.${b.name}›`]);
    for (const p of b.params) out.push([p.doc, `‹doc ${b.name}.${p.name}›`], [describeType(p.type), `‹type ${b.name}.${p.name}›`]);
  }
  // Longest first; short texts are too likely to occur inside others.
  return out.filter(([t]) => t.length >= 16).sort((a, b) => b[0].length - a[0].length);
})();
const byReference = (line: string): string => WORDS.reduce((l, [t, ref]) => l.split(t).join(ref), line);

function collapseCategories(items: string[]): string[] {
  for (const cat of CATEGORIES) {
    const names = builtinsOf(cat).map((b) => b.name);
    if (names.length < 3) continue;
    const labels = items.map((i) => i.split(' → ')[0]);
    const at = labels.indexOf(names[0]!);
    if (at >= 0 && names.every((n, k) => labels[at + k] === n)) items = [...items.slice(0, at), `‹every ${cat} built-in›`, ...items.slice(at + names.length)];
  }
  return items;
}

function item(i: CompletionItem): string {
  const text = i.textEdit && 'newText' in i.textEdit ? i.textEdit.newText : (i.insertText ?? i.label);
  return text === i.label ? i.label : `${i.label} → ${text}`;
}

async function run(input: string): Promise<Record<string, unknown>> {
  const requests = /^\/\/ requests: (.*)$/m.exec(input)?.[1]?.split(/\s+/) ?? [];
  const host = new TestHost();
  const { uri, position } = host.open(input);
  const at = { textDocument: { uri }, position };
  const out: Record<string, unknown> = {};
  for (const r of requests) {
    switch (r) {
      case 'hover': {
        const h = await host.service.hover(at);
        out['hover'] = h ? { range: h.range ? pos(h.range) : null, contents: (h.contents as { value: string }).value.split('\n').map(byReference) } : null;
        break;
      }
      case 'completion':
        out['completion'] = collapseCategories(host.service.completion(at).map(item));
        break;
      case 'definition':
        out['definition'] = loc(host.service.definition(at));
        break;
      case 'references':
        out['references'] = host.service.references({ ...at, context: { includeDeclaration: true } }).map(loc);
        break;
      case 'rename': {
        const e = host.service.rename({ ...at, newName: 'renamed' });
        out['rename'] = e ? applyEdits(host.text(uri), e.changes![uri]!).split('\n') : null;
        break;
      }
      case 'formatting':
        out['formatting'] = applyEdits(host.text(uri), host.service.formatting({ textDocument: { uri } })).split('\n');
        break;
      default:
        throw new Error(`unknown request '${r}'`);
    }
  }
  return out;
}

const cases = readdirSync(ROOT, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

describe('language server cases', () => {
  for (const name of cases) {
    if (ONLY !== undefined && ONLY !== name) continue;
    it(name, async () => {
      const actual = await run(readFileSync(join(ROOT, name, 'input.lmp'), 'utf8'));
      const file = join(ROOT, name, 'expected.json');
      if (UPDATE || !existsSync(file)) writeFileSync(file, JSON.stringify(actual, null, 2) + '\n');
      else expect(actual).toEqual(JSON.parse(readFileSync(file, 'utf8')));
    });
  }
});
