// One open document and what the server knows about it, computed lazily and only for its own
// version: a request always reads the analysis of the text it was asked about, never another
// version's (ranges would point into a different text).
//
//   parsed   the recovering parse (completion, symbols, hover need no more)
//   checked  exactly `lmpc check` (checkSource: parse, analyze when error-free, LMP0905)
//   index    what the checker's own walk saw: built-in calls with their category, references to
//            declarations, parameter names (see symbols.ts)
//   tokens   the lexer's tokens and comments (completion context, semantic tokens)
import { fileURLToPath } from 'node:url';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { Position, Range } from 'vscode-languageserver';
import { DECL_KINDS, parse, tokenize, type Comment, type DeclKind, type ParseResult, type Span, type Token } from '../../grammar/index.js';
import { checkSource } from '../commands/check.js';
import type { CheckResult } from '../index.js';
import { buildIndex, type SymbolIndex } from './symbols.js';

/** The file name diagnostics and spans carry: the path of a file: URI, else the URI itself. */
export function fileOfUri(uri: string): string {
  if (!uri.startsWith('file:')) return uri;
  try {
    return fileURLToPath(uri);
  } catch {
    return uri;
  }
}

/** A declaration as the tokens show it (completion reads these: no parse needed while typing). */
export interface OutlineDecl {
  readonly declKind: DeclKind;
  readonly name: string;
  /** Offset of the declaration keyword. */
  readonly start: number;
}

const KINDS: ReadonlySet<string> = new Set(DECL_KINDS);
const OPENERS = new Set(['LParen', 'LBracket', 'LBrace']);
const CLOSERS = new Set(['RParen', 'RBracket', 'RBrace']);

/**
 * The declarations of a token stream: `KIND NAME` outside brackets, or at the start of a line
 * and followed by `{`, `=` or `from` (where the parser, too, resyncs after an unclosed bracket).
 */
export function outlineOf(text: string, tokens: readonly Token[]): OutlineDecl[] {
  const out: OutlineDecl[] = [];
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (OPENERS.has(t.type)) depth++;
    else if (CLOSERS.has(t.type)) depth = Math.max(0, depth - 1);
    else if (t.type === 'Ident' && KINDS.has(t.image) && tokens[i + 1]?.type === 'Ident') {
      const after = tokens[i + 2];
      const lineStart = /(^|[\r\n])[ \t]*$/.test(text.slice(Math.max(0, t.span.start - 200), t.span.start));
      const header = after !== undefined && (after.type === 'LBrace' || after.type === 'Eq' || after.image === 'from');
      if (depth === 0 || (lineStart && header)) {
        out.push({ declKind: t.image as DeclKind, name: tokens[i + 1]!.image, start: t.span.start });
        depth = 0;
      }
    }
  }
  return out;
}

export class LmpDocument {
  readonly uri: string;
  readonly file: string;
  readonly version: number;
  readonly text: string;
  private _parsed: ParseResult | undefined;
  private _checked: CheckResult | undefined;
  private _index: SymbolIndex | undefined;
  private _tokens: { tokens: Token[]; comments: Comment[] } | undefined;
  private _outline: OutlineDecl[] | undefined;
  /** Memoized results of slow, asynchronous work (the explain report), for this version only. */
  readonly memo = new Map<string, Promise<unknown>>();

  /** An immutable snapshot: the editor's TextDocument is updated in place by later changes. */
  readonly doc: TextDocument;

  constructor(
    live: Pick<TextDocument, 'uri' | 'version' | 'getText'>,
    /** Whether hovers may run the explain report (slow: tests of many documents turn it off). */
    readonly explain = true,
  ) {
    this.uri = live.uri;
    this.file = fileOfUri(live.uri);
    this.version = live.version;
    this.text = live.getText();
    this.doc = TextDocument.create(this.uri, 'lmp', this.version, this.text);
  }

  get parsed(): ParseResult {
    if (this._parsed === undefined) {
      this._parsed = this._checked ? { program: this._checked.program, diagnostics: [] } : parse(this.text, this.file);
    }
    return this._parsed;
  }

  get checked(): CheckResult {
    this._checked ??= checkSource(this.text, this.file);
    return this._checked;
  }

  /** Whether check() has run for this version (then `program` is its tree). */
  get isChecked(): boolean {
    return this._checked !== undefined;
  }

  /** Whether the text has a lexical or syntax error (then the tree is partial and is not formatted). */
  get hasSyntaxErrors(): boolean {
    if (this._checked) return this._checked.syntaxErrors;
    return this.parsed.diagnostics.some((d) => d.severity === 'error');
  }

  get program(): ParseResult['program'] {
    return this._checked?.program ?? this.parsed.program;
  }

  get index(): SymbolIndex {
    this._index ??= buildIndex(this.program);
    return this._index;
  }

  get tokens(): { tokens: Token[]; comments: Comment[] } {
    this._tokens ??= tokenize(this.text, this.file);
    return this._tokens;
  }

  get outline(): readonly OutlineDecl[] {
    this._outline ??= outlineOf(this.text, this.tokens.tokens);
    return this._outline;
  }

  offsetAt(p: Position): number {
    return this.doc.offsetAt(p);
  }

  positionAt(offset: number): Position {
    return this.doc.positionAt(offset);
  }

  range(span: Pick<Span, 'start' | 'end'>): Range {
    return { start: this.doc.positionAt(span.start), end: this.doc.positionAt(span.end) };
  }
}

/** Whether offset `o` lies in `span` (both ends inclusive: a cursor right after a word is on it). */
export const within = (span: Pick<Span, 'start' | 'end'>, o: number): boolean => span.start <= o && o <= span.end;
