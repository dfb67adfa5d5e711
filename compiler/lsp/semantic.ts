// Semantic tokens: what the tree and the checker's walk know, over the lexer's tokens. Contextual
// keywords (declaration kinds, clause and modifier words, `from`) are keywords only where the
// parser took them as such; a name is a built-in of a category only where the checker resolved it.
import { SemanticTokensBuilder, type SemanticTokens, type SemanticTokensLegend } from 'vscode-languageserver';
import { children, type Node } from '../../grammar/index.js';
import { firstTokenAt } from './context.js';
import type { LmpDocument } from './document.js';

export const TOKEN_TYPES = ['keyword', 'function', 'variable', 'parameter', 'property', 'enumMember', 'number', 'string', 'comment', 'operator'] as const;
export const TOKEN_MODIFIERS = ['declaration', 'defaultLibrary'] as const;
export const LEGEND: SemanticTokensLegend = { tokenTypes: [...TOKEN_TYPES], tokenModifiers: [...TOKEN_MODIFIERS] };

type TokenType = (typeof TOKEN_TYPES)[number];
type Mod = (typeof TOKEN_MODIFIERS)[number];
interface Tok {
  readonly start: number;
  readonly end: number;
  readonly type: TokenType;
  readonly mods: number;
}

const OPERATORS = new Set(['Arrow', 'Then', 'DotDot', 'LE', 'GE', 'EqEq', 'NotEq', 'LT', 'GT', 'Bang', 'Amp', 'Pipe', 'Minus']);
const bits = (...m: Mod[]): number => m.reduce((b, x) => b | (1 << TOKEN_MODIFIERS.indexOf(x)), 0);

/** Every classified range, not overlapping, in source order (before splitting at line ends). */
export function classify(doc: LmpDocument): Tok[] {
  const idx = doc.index;
  const byStart = new Map<number, Tok>();
  const put = (start: number, end: number, type: TokenType, mods = 0): void => {
    if (end > start && !byStart.has(start)) byStart.set(start, { start, end, type, mods });
  };
  const { tokens, comments } = doc.tokens;
  // Words the parser read as keywords: each word of a (possibly two-word) keyword span.
  const keywordWords = (s: number, e: number): void => {
    for (let i = firstTokenAt(tokens, s); i < tokens.length && tokens[i]!.span.end <= e; i++) put(tokens[i]!.span.start, tokens[i]!.span.end, 'keyword');
  };
  for (const d of idx.program.decls) {
    keywordWords(d.keywordSpan.start, d.keywordSpan.end);
    put(d.name.span.start, d.name.span.end, 'variable', bits('declaration'));
    if (d.base) keywordWords(d.name.span.end, d.base.span.start);
    for (const c of d.clauses) {
      keywordWords(c.keywordSpan.start, c.keywordSpan.end);
      for (const m of c.modifiers) keywordWords(m.keywordSpan.start, m.keywordSpan.end);
    }
  }
  for (const b of idx.builtins) if (b.def) put(b.span.start, b.span.end, 'function', bits('defaultLibrary'));
  for (const p of idx.params) put(p.span.start, p.span.end, 'parameter');
  for (const r of idx.references) put(r.ident.span.start, r.ident.span.end, 'variable');
  for (const t of idx.typed) {
    if (t.expr.kind === 'Ident' && t.type.t === 'enum' && t.type.values.includes(t.expr.name)) put(t.expr.span.start, t.expr.span.end, 'enumMember');
  }
  // Member properties and map keys (a plain stack walk: no parent lists needed here).
  const stack: Node[] = [idx.program];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n.kind === 'Member') put(n.property.span.start, n.property.span.end, 'property');
    else if (n.kind === 'MapEntry' && n.key.kind === 'Ident') put(n.key.span.start, n.key.span.end, 'property');
    stack.push(...children(n));
  }
  for (const t of tokens) {
    if (t.type === 'Number') put(t.span.start, t.span.end, 'number');
    else if (t.type === 'String' || t.type === 'UnterminatedString') put(t.span.start, t.span.end, 'string');
    else if (t.type === 'True' || t.type === 'False') put(t.span.start, t.span.end, 'keyword');
    else if (OPERATORS.has(t.type)) put(t.span.start, t.span.end, t.type === 'Then' ? 'keyword' : 'operator');
  }
  for (const c of comments) put(c.span.start, c.span.end, 'comment');
  const out = [...byStart.values()].sort((a, b) => a.start - b.start);
  // Drop anything overlapping an earlier range (a broken tree may report odd spans).
  const clean: Tok[] = [];
  for (const t of out) if (clean.length === 0 || t.start >= clean[clean.length - 1]!.end) clean.push(t);
  return clean;
}

export function semanticTokens(doc: LmpDocument): SemanticTokens {
  const b = new SemanticTokensBuilder();
  for (const t of classify(doc)) {
    // One token per line (block comments and their like may span several).
    let s = t.start;
    while (s < t.end) {
      const pos = doc.positionAt(s);
      const lineEnd = doc.offsetAt({ line: pos.line + 1, character: 0 });
      let e = Math.min(t.end, lineEnd);
      while (e > s && (doc.text[e - 1] === '\n' || doc.text[e - 1] === '\r')) e--;
      if (e > s) b.push(pos.line, pos.character, e - s, TOKEN_TYPES.indexOf(t.type), t.mods);
      if (lineEnd <= s) break;
      s = Math.max(lineEnd, s + 1);
    }
  }
  return b.build();
}
