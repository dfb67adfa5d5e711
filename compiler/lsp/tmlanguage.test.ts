// The TextMate grammar: the committed file is what the generator makes (regenerate with
// UPDATE_SNAPSHOTS=1), and vscode-textmate + vscode-oniguruma tokenize every example and every
// conformance input in agreement with the lexer: each lexer token's characters carry the scope
// its kind expects (table below), and on error-free files the words the parser and the checker
// classify (declaration kinds and names, clause and modifier keywords, built-ins by category,
// named arguments) carry theirs.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import vsctm from 'vscode-textmate';
import oniguruma from 'vscode-oniguruma';
import { parse, tokenize } from '../../grammar/index.js';
import { examples } from '../../grammar/test-util.js';
import { buildIndex } from './symbols.js';
import { GRAMMAR_FILE, grammarText, SCOPE } from './tmlanguage.js';

const UPDATE = process.env['UPDATE_SNAPSHOTS'] === '1';

/** Lexer token kind → the scope every character of it must carry (a prefix of one of its scopes). */
const EXPECTED: Record<string, readonly string[]> = {
  Number: ['constant.numeric.lmp'],
  String: ['string.quoted.double.lmp'],
  UnterminatedString: ['string.quoted.double.lmp'],
  True: ['constant.language.boolean.lmp'],
  False: ['constant.language.boolean.lmp'],
  Then: ['keyword.operator.word.then.lmp'],
  Arrow: ['keyword.operator.chain.lmp'],
  Amp: ['keyword.operator.mask.lmp'],
  Pipe: ['keyword.operator.mask.lmp'],
  Bang: ['keyword.operator.mask.lmp'],
  LT: ['keyword.operator.comparison.lmp'],
  LE: ['keyword.operator.comparison.lmp'],
  GT: ['keyword.operator.comparison.lmp'],
  GE: ['keyword.operator.comparison.lmp'],
  EqEq: ['keyword.operator.comparison.lmp'],
  NotEq: ['keyword.operator.comparison.lmp'],
  DotDot: ['keyword.operator.range.lmp'],
  Minus: ['keyword.operator.arithmetic.lmp'],
  Eq: ['keyword.operator.assignment.lmp'],
  Dot: ['punctuation.accessor.lmp'],
  Comma: ['punctuation.separator.comma.lmp'],
  Colon: ['punctuation.separator.colon.lmp'],
  Semicolon: ['punctuation.terminator.lmp'],
  LParen: ['punctuation.section.parens.begin.lmp'],
  RParen: ['punctuation.section.parens.end.lmp'],
  LBracket: ['punctuation.section.brackets.begin.lmp'],
  RBracket: ['punctuation.section.brackets.end.lmp'],
  LBrace: ['punctuation.section.block.begin.lmp', 'punctuation.section.map.begin.lmp'],
  RBrace: ['punctuation.section.block.end.lmp', 'punctuation.section.map.end.lmp'],
  Ident: [
    'keyword.declaration.lmp',
    'entity.name.type.declaration.lmp',
    'keyword.other.from.lmp',
    'entity.other.inherited-class.lmp',
    'keyword.other.clause.lmp',
    'keyword.other.modifier.lmp',
    'support.function.',
    'variable.parameter.lmp',
    'support.type.property-name.lmp',
    'variable.other.lmp',
  ],
  comment: ['comment.line.double-slash.lmp', 'comment.block.lmp'],
};

function inputs(): [string, string][] {
  const out = examples().map(([n, t]) => [`examples/${n}`, t] as [string, string]);
  for (const c of readdirSync('spec/conformance').sort()) {
    const p = join('spec/conformance', c, 'input.lmp');
    if (existsSync(p)) out.push([p, readFileSync(p, 'utf8')]);
  }
  return out;
}

let grammar: vsctm.IGrammar;

beforeAll(async () => {
  if (UPDATE || !existsSync(GRAMMAR_FILE)) writeFileSync(GRAMMAR_FILE, grammarText());
  const require = createRequire(import.meta.url);
  const wasm = readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({ createOnigScanner: (p: string[]) => new oniguruma.OnigScanner(p), createOnigString: (s: string) => new oniguruma.OnigString(s) }),
    loadGrammar: async (scope: string) => (scope === SCOPE ? vsctm.parseRawGrammar(readFileSync(GRAMMAR_FILE, 'utf8'), 'lmp.tmLanguage.json') : null),
  });
  grammar = (await registry.loadGrammar(SCOPE))!;
});

/** The scopes at every offset of `text` (newlines get none). */
function scopesOf(text: string): (readonly string[] | undefined)[] {
  const at: (readonly string[] | undefined)[] = new Array(text.length);
  let stack = vsctm.INITIAL;
  let offset = 0;
  for (const m of text.matchAll(/[^\r\n]*(\r\n|\r|\n|$)/g)) {
    const line = m[0].replace(/(\r\n|\r|\n)$/, '');
    if (m[0] === '' && offset >= text.length) break;
    const r = grammar.tokenizeLine(line, stack);
    for (const t of r.tokens) for (let i = t.startIndex; i < Math.min(t.endIndex, line.length); i++) at[offset + i] = t.scopes;
    stack = r.ruleStack;
    offset += m[0].length;
  }
  return at;
}

/** What is wrong with [start, end) against the accepted scope prefixes (undefined: nothing). */
function mismatch(text: string, at: readonly (readonly string[] | undefined)[], start: number, end: number, accepted: readonly string[], what: string): string | undefined {
  for (let i = start; i < end; i++) {
    if (text[i] === '\n' || text[i] === '\r') continue;
    const scopes = at[i] ?? [];
    if (!scopes.some((s) => accepted.some((a) => s.startsWith(a)))) return `${what} '${text.slice(start, end)}' at ${start}: [${scopes.join(' ')}], expected ${accepted.join(' or ')}`;
  }
  return undefined;
}

describe('TextMate grammar', () => {
  it('is what the generator makes from the lexer, the clause table and the registry', () => {
    const text = grammarText();
    // Stale after a change to the lexer, the clause table or the registry: `npm run gen:spec` regenerates it.
    expect(readFileSync(GRAMMAR_FILE, 'utf8') === text, `${GRAMMAR_FILE} is stale: run npm run gen:spec (or UPDATE_SNAPSHOTS=1 npx vitest run compiler/lsp/tmlanguage.test.ts)`).toBe(true);
  });

  it('is the grammar the VS Code extension contributes for .lmp, next to a client that runs lmpc lsp --stdio', () => {
    const manifest = JSON.parse(readFileSync('editors/vscode/package.json', 'utf8')) as {
      contributes: { languages: { id: string; extensions: string[] }[]; grammars: { language: string; scopeName: string; path: string }[] };
      scripts: Record<string, string>;
    };
    expect(manifest.contributes.languages).toEqual([expect.objectContaining({ id: 'lmp', extensions: ['.lmp'] })]);
    expect(manifest.contributes.grammars).toEqual([{ language: 'lmp', scopeName: SCOPE, path: './syntaxes/lmp.tmLanguage.json' }]);
    expect(readFileSync('editors/vscode/scripts/copy-grammar.mjs', 'utf8')).toContain("'grammar', 'lmp.tmLanguage.json'");
    expect(readFileSync('editors/vscode/extension.js', 'utf8')).toContain("'lsp', '--stdio'");
  });

  it('tokenizes every example and conformance input as the lexer does', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const [name, text] of inputs()) {
      const at = scopesOf(text);
      const lexed = tokenize(text, name);
      for (const t of lexed.tokens) {
        const bad = mismatch(text, at, t.span.start, t.span.end, EXPECTED[t.type] ?? ['<no entry>'], t.type);
        if (bad) problems.push(`${name}: ${bad}`);
        checked++;
      }
      for (const c of lexed.comments) {
        const bad = mismatch(text, at, c.span.start, c.span.end, EXPECTED['comment']!, 'comment');
        if (bad) problems.push(`${name}: ${bad}`);
      }
      // Where the file parses cleanly, the words the parser and the checker classify.
      const parsed = parse(text, name);
      if (parsed.diagnostics.some((d) => d.severity === 'error')) continue;
      const idx = buildIndex(parsed.program);
      const expect1 = (s: { start: number; end: number }, scope: string, what: string) => {
        const bad = mismatch(text, at, s.start, s.end, [scope], what);
        if (bad) problems.push(`${name}: ${bad}`);
      };
      for (const d of parsed.program.decls) {
        expect1(d.keywordSpan, 'keyword.declaration.lmp', 'declaration kind');
        expect1(d.name.span, 'entity.name.type.declaration.lmp', 'declaration name');
        if (d.base) expect1(d.base.span, 'entity.other.inherited-class.lmp', 'base');
        for (const c of d.clauses) {
          for (const w of lexed.tokens.filter((t) => t.span.start >= c.keywordSpan.start && t.span.end <= c.keywordSpan.end)) expect1(w.span, 'keyword.other.clause.lmp', 'clause keyword');
          for (const m of c.modifiers) for (const w of lexed.tokens.filter((t) => t.span.start >= m.keywordSpan.start && t.span.end <= m.keywordSpan.end)) expect1(w.span, 'keyword.other.modifier.lmp', 'modifier');
        }
      }
      for (const b of idx.builtins) if (b.def) expect1(b.span, `support.function.${b.category}.lmp`, `${b.category} built-in`);
      for (const p of idx.params) expect1(p.span, 'variable.parameter.lmp', 'parameter name');
      for (const r of idx.references) {
        const bad = mismatch(text, at, r.ident.span.start, r.ident.span.end, ['variable.other.lmp', 'entity.other.inherited-class.lmp'], 'reference');
        if (bad) problems.push(`${name}: ${bad}`);
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(2000);
  });
});
