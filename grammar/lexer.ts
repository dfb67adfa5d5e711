// The .lmp lexer: Chevrotain token types, literal decoding (numbers with units, string
// escapes), comment collection and lexical diagnostics (LMP00xx).
//
// Chevrotain types stay inside grammar/: `tokenize` returns plain `Token` objects, and the
// parser (grammar/parser.ts) is the only other module that sees the Chevrotain tokens.
import { createToken, Lexer, type IToken, type TokenType } from './chevrotain.js';
import type { Comment, NumberUnit, Span } from './ast.js';
import { diag, type Diagnostic } from './diagnostics.js';

// ---------------------------------------------------------------------------------------
// Token types

/** Every token type belongs to this category (used by the parser's error recovery). */
export const AnyTok = createToken({ name: 'AnyTok', pattern: Lexer.NA });
/** Tokens that can start an expression. */
export const ExprStart = createToken({ name: 'ExprStart', pattern: Lexer.NA });
/** Tokens that can start a primary expression (ExprStart less the prefix operators). */
export const PrimaryStart = createToken({ name: 'PrimaryStart', pattern: Lexer.NA, categories: [ExprStart] });
/** Binary and n-ary operators: `-> then | & < <= > >= == != ..`. */
export const BinaryOp = createToken({ name: 'BinaryOp', pattern: Lexer.NA });
export const PrefixOp = createToken({ name: 'PrefixOp', pattern: Lexer.NA, categories: [ExprStart] });
export const StringCat = createToken({ name: 'StringCat', pattern: Lexer.NA, categories: [PrimaryStart] });
export const Opener = createToken({ name: 'Opener', pattern: Lexer.NA });
export const Closer = createToken({ name: 'Closer', pattern: Lexer.NA });

const tok = (name: string, pattern: RegExp, label: string, categories: TokenType[] = [], extra: object = {}): TokenType =>
  createToken({ name, pattern, label, categories: [AnyTok, ...categories], ...extra });

export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[ \t\r\n\f\v\uFEFF]+/, group: Lexer.SKIPPED });
export const LineComment = createToken({ name: 'LineComment', pattern: /\/\/[^\r\n]*/, group: 'comments' });
export const BlockComment = createToken({ name: 'BlockComment', pattern: /\/\*[\s\S]*?\*\//, group: 'comments' });
export const UnterminatedBlockComment = createToken({ name: 'UnterminatedBlockComment', pattern: /\/\*[\s\S]*/, group: 'comments' });

export const StringLit = tok('String', /"(?:[^"\\\r\n]|\\[^\r\n])*"/, 'a string', [StringCat]);
export const UnterminatedString = tok('UnterminatedString', /"(?:[^"\\\r\n]|\\[^\r\n])*\\?/, 'a string', [StringCat]);
/** A number with an optional power (`2^13`), fraction, exponent and unit suffix. */
export const NumberLit = tok(
  'Number',
  /\d[\d_]*(?:\^\d[\d_]*|(?:\.\d[\d_]*)?(?:[eE][+-]?\d[\d_]*)?)(?:[A-Za-z_][A-Za-z0-9_]*|%)?/,
  'a number',
  [PrimaryStart],
);
export const Ident = tok('Ident', /[A-Za-z_][A-Za-z0-9_]*/, 'a name', [PrimaryStart]);
export const True = tok('True', /true/, "'true'", [PrimaryStart], { longer_alt: Ident });
export const False = tok('False', /false/, "'false'", [PrimaryStart], { longer_alt: Ident });
export const Then = tok('Then', /then/, "'then'", [BinaryOp], { longer_alt: Ident });

export const Arrow = tok('Arrow', /->/, "'->'", [BinaryOp]);
export const DotDot = tok('DotDot', /\.\./, "'..'", [BinaryOp]);
export const Dot = tok('Dot', /\./, "'.'");
export const LE = tok('LE', /<=/, "'<='", [BinaryOp]);
export const GE = tok('GE', />=/, "'>='", [BinaryOp]);
export const EqEq = tok('EqEq', /==/, "'=='", [BinaryOp]);
export const NotEq = tok('NotEq', /!=/, "'!='", [BinaryOp]);
export const LT = tok('LT', /</, "'<'", [BinaryOp]);
export const GT = tok('GT', />/, "'>'", [BinaryOp]);
export const Eq = tok('Eq', /=/, "'='");
export const Bang = tok('Bang', /!/, "'!'", [PrefixOp]);
export const Amp = tok('Amp', /&/, "'&'", [BinaryOp]);
export const Pipe = tok('Pipe', /\|/, "'|'", [BinaryOp]);
export const Minus = tok('Minus', /-/, "'-'", [PrefixOp]);
export const LParen = tok('LParen', /\(/, "'('", [PrimaryStart, Opener]);
export const RParen = tok('RParen', /\)/, "')'", [Closer]);
export const LBracket = tok('LBracket', /\[/, "'['", [PrimaryStart, Opener]);
export const RBracket = tok('RBracket', /\]/, "']'", [Closer]);
export const LBrace = tok('LBrace', /\{/, "'{'", [PrimaryStart, Opener]);
export const RBrace = tok('RBrace', /\}/, "'}'", [Closer]);
export const Comma = tok('Comma', /,/, "','");
export const Colon = tok('Colon', /:/, "':'");
export const Semicolon = tok('Semicolon', /;/, "';'");

/** Token types the parser sees. */
export const PARSER_TOKENS: TokenType[] = [
  AnyTok, ExprStart, PrimaryStart, BinaryOp, PrefixOp, StringCat, Opener, Closer,
  StringLit, UnterminatedString, NumberLit, True, False, Then, Ident,
  Arrow, DotDot, Dot, LE, GE, EqEq, NotEq, LT, GT, Eq, Bang, Amp, Pipe, Minus,
  LParen, RParen, LBracket, RBracket, LBrace, RBrace, Comma, Colon, Semicolon,
];

const LEXER_TOKENS: TokenType[] = [
  WhiteSpace, LineComment, BlockComment, UnterminatedBlockComment,
  StringLit, UnterminatedString, NumberLit, True, False, Then, Ident,
  Arrow, DotDot, Dot, LE, GE, EqEq, NotEq, LT, GT, Eq, Bang, Amp, Pipe, Minus,
  LParen, RParen, LBracket, RBracket, LBrace, RBrace, Comma, Colon, Semicolon,
];

/** The pattern of every token type the lexer matches, by name, in the lexer's order (for tools such as the TextMate grammar generator). */
export function tokenPatterns(): { readonly name: string; readonly pattern: RegExp }[] {
  return LEXER_TOKENS.flatMap((t) => (t.PATTERN instanceof RegExp ? [{ name: t.name, pattern: t.PATTERN }] : []));
}

// Characters no token matches are dropped by the Chevrotain lexer and come back as its
// errors (reported as LMP0001, one per character). A catch-all token would cost the lexer
// its first-character optimization, which `ensureOptimizations` keeps us honest about.
const lexer = new Lexer(LEXER_TOKENS, { positionTracking: 'onlyOffset', ensureOptimizations: true });

// ---------------------------------------------------------------------------------------
// Positions

/** Turns offsets into spans (line and column computed from a line-start table). */
export class SpanMaker {
  private readonly lineStarts: number[] = [0];
  constructor(
    readonly text: string,
    readonly file: string,
  ) {
    for (const m of text.matchAll(/\r\n?|\n/g)) this.lineStarts.push(m.index + m[0].length);
  }
  /** A span from `start` to `end` (exclusive), both clamped into the text. */
  span(start: number, end: number): Span {
    const n = this.text.length;
    const s = Math.max(0, Math.min(n, start));
    const e = Math.max(s, Math.min(n, end));
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= s) lo = mid;
      else hi = mid - 1;
    }
    return { file: this.file, start: s, end: e, line: lo + 1, col: s - this.lineStarts[lo]! + 1 };
  }
  /** The span of a token; the end-of-file token is an empty span at the end of the text. */
  tok(t: IToken): Span {
    if (!Number.isFinite(t.startOffset)) return this.span(this.text.length, this.text.length);
    return this.span(t.startOffset, t.startOffset + t.image.length);
  }
  /** `line:col` of an offset, for messages. */
  where(offset: number): string {
    const s = this.span(offset, offset);
    return `${s.line}:${s.col}`;
  }
}

// ---------------------------------------------------------------------------------------
// Literal decoding

export interface NumberPayload {
  readonly value: number;
  readonly unit: NumberUnit;
}
export interface StringPayload {
  readonly value: string;
}

/** Unit suffixes of number literals: what each measures and its factor (exported for editors: completion, grammar). */
export const UNITS: Readonly<Record<string, { unit: NumberUnit; mul?: number; div?: number }>> = {
  '': { unit: 'count', mul: 1 },
  k: { unit: 'count', mul: 1024 },
  M: { unit: 'count', mul: 1024 ** 2 },
  G: { unit: 'count', mul: 1024 ** 3 },
  '%': { unit: 'percent', div: 100 },
  ms: { unit: 'duration', div: 1000 },
  s: { unit: 'duration', mul: 1 },
  min: { unit: 'duration', mul: 60 },
  h: { unit: 'duration', mul: 3600 },
  B: { unit: 'bytes', mul: 1 },
  KiB: { unit: 'bytes', mul: 1024 },
  MiB: { unit: 'bytes', mul: 1024 ** 2 },
  GiB: { unit: 'bytes', mul: 1024 ** 3 },
};

const NUMBER_PARTS = /^(\d[\d_]*)(?:\^(\d[\d_]*)|(\.\d[\d_]*)?([eE][+-]?\d[\d_]*)?)(.*)$/;
const DIGIT_GROUPS = /^\d+(?:_\d+)*$/;
const PLAIN_COUNT = /^\d{1,15}$/;

/** Decode a number literal; problems are pushed to `out` with the literal's span. */
export function decodeNumber(raw: string, span: Span, out: Diagnostic[]): NumberPayload {
  const m = NUMBER_PARTS.exec(raw);
  if (!m) {
    out.push(diag('LMP0007', span, { raw, reason: 'not a number' }));
    return { value: NaN, unit: 'count' };
  }
  const [, int = '', pow, frac, exp, suffix = ''] = m;
  const groups = [int, pow, frac?.slice(1), exp?.replace(/^[eE][+-]?/, '')].filter((g): g is string => g !== undefined);
  if (groups.some((g) => !DIGIT_GROUPS.test(g))) {
    out.push(diag('LMP0007', span, { raw, reason: "'_' may only separate digits" }));
  }
  const clean = (s: string | undefined) => (s ?? '').replace(/_/g, '');
  let value: number;
  if (pow !== undefined) value = Number(clean(int)) ** Number(clean(pow));
  else value = Number(clean(int) + clean(frac) + clean(exp));
  const u = UNITS[suffix];
  if (u === undefined) {
    if (suffix === 'm') out.push(diag('LMP0006', span, { raw }));
    else out.push(diag('LMP0005', span, { unit: suffix, raw }));
    return { value, unit: 'count' };
  }
  if (u.mul !== undefined) value *= u.mul;
  if (u.div !== undefined) value /= u.div;
  if (!Number.isFinite(value)) {
    out.push(diag('LMP0007', span, { raw, reason: 'too large' }));
  }
  return { value, unit: u.unit };
}

/** Decode a string literal (quotes included; an unterminated one lacks the closing quote). */
export function decodeString(raw: string, start: number, terminated: boolean, spans: SpanMaker, out: Diagnostic[]): StringPayload {
  const body = raw.slice(1, terminated ? -1 : undefined);
  let value = '';
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch !== '\\') {
      value += ch;
      continue;
    }
    const next = body[i + 1];
    const at = start + 1 + i;
    switch (next) {
      case 'n': value += '\n'; i++; continue;
      case 't': value += '\t'; i++; continue;
      case 'r': value += '\r'; i++; continue;
      case '0': value += '\0'; i++; continue;
      case '"': value += '"'; i++; continue;
      case '\\': value += '\\'; i++; continue;
      case 'u': {
        const m = /^u\{([0-9A-Fa-f]{1,6})\}/.exec(body.slice(i + 1));
        const cp = m ? parseInt(m[1]!, 16) : NaN;
        if (m && cp <= 0x10ffff) {
          value += String.fromCodePoint(cp);
          i += m[0].length;
          continue;
        }
        const bad = /^u(\{[^}\s"]*\}?)?/.exec(body.slice(i + 1))![0];
        out.push(diag('LMP0003', spans.span(at, at + 1 + bad.length), { escape: '\\' + bad }));
        i += bad.length;
        continue;
      }
      default: {
        const esc = next === undefined ? '\\' : '\\' + String.fromCodePoint(body.codePointAt(i + 1)!);
        out.push(diag('LMP0003', spans.span(at, at + esc.length), { escape: esc }));
        i += esc.length - 1;
      }
    }
  }
  return { value };
}

// ---------------------------------------------------------------------------------------
// Lexing

export interface LexResult {
  /** Tokens for the parser (comments, whitespace and bad characters removed). */
  readonly tokens: IToken[];
  readonly comments: Comment[];
  readonly diagnostics: Diagnostic[];
  readonly spans: SpanMaker;
}

/** Lex `text`; never throws. Literal tokens carry their decoded value in `payload`. */
export function lex(text: string, file: string): LexResult {
  const spans = new SpanMaker(text, file);
  const diagnostics: Diagnostic[] = [];
  const result = lexer.tokenize(text);
  const tokens: IToken[] = [];
  for (const t of result.tokens) {
    const type = t.tokenType;
    if (type === NumberLit) {
      // Fast path: a plain count of at most 15 digits is exact and cannot be wrong (most literals).
      t.payload = PLAIN_COUNT.test(t.image) ? ({ value: Number(t.image), unit: 'count' } satisfies NumberPayload) : decodeNumber(t.image, spans.tok(t), diagnostics);
    }
    else if (type === StringLit) t.payload = decodeString(t.image, t.startOffset, true, spans, diagnostics);
    else if (type === UnterminatedString) {
      diagnostics.push(diag('LMP0002', spans.tok(t)));
      t.payload = decodeString(t.image, t.startOffset, false, spans, diagnostics);
    }
    tokens.push(t);
  }
  for (const e of result.errors) {
    // One diagnostic per character (code point) of the dropped run.
    for (let i = e.offset; i < e.offset + e.length; ) {
      const ch = String.fromCodePoint(text.codePointAt(i)!);
      diagnostics.push(diag('LMP0001', spans.span(i, i + ch.length), { char: printable(ch) }));
      i += ch.length;
    }
  }
  const comments: Comment[] = [];
  for (const t of result.groups['comments'] ?? []) {
    const span = spans.tok(t);
    if (t.tokenType === UnterminatedBlockComment) diagnostics.push(diag('LMP0004', spans.span(span.start, span.start + 2)));
    comments.push({ kind: 'Comment', text: t.image, block: t.tokenType !== LineComment, span });
  }
  diagnostics.sort((a, b) => a.span.start - b.span.start);
  return { tokens, comments, diagnostics, spans };
}

function printable(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  if (cp < 0x20 || cp === 0x7f || (cp >= 0x80 && cp < 0xa0)) return `\\u{${cp.toString(16)}}`;
  return ch;
}

// ---------------------------------------------------------------------------------------
// Public token view

/** A token as tools outside grammar/ see it (no Chevrotain types). */
export interface Token {
  /** The token type's name: 'Ident', 'Number', 'String', 'LParen', 'Arrow', ... */
  readonly type: string;
  readonly image: string;
  readonly span: Span;
}

/** Tokenize `text` (for tools such as highlighters); comments are returned separately. */
export function tokenize(text: string, file: string): { tokens: Token[]; comments: Comment[]; diagnostics: Diagnostic[] } {
  const r = lex(text, file);
  return {
    tokens: r.tokens.map((t) => ({ type: t.tokenType.name, image: t.image, span: r.spans.tok(t) })),
    comments: r.comments,
    diagnostics: r.diagnostics,
  };
}
