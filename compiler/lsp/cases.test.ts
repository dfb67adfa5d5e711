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
import { applyEdits, TestHost } from './test-host.js';

const ROOT = 'compiler/lsp/cases';
const UPDATE = process.env['UPDATE_SNAPSHOTS'] === '1';
const ONLY = process.env['LMP_CASE'];

const pos = (r: Range): string => `${r.start.line + 1}:${r.start.character + 1}-${r.end.line + 1}:${r.end.character + 1}`;
const loc = (l: Location | null): string | null => (l ? pos(l.range) : null);

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
        out['hover'] = h ? { range: h.range ? pos(h.range) : null, contents: (h.contents as { value: string }).value.split('\n') } : null;
        break;
      }
      case 'completion':
        out['completion'] = host.service.completion(at).map(item);
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
