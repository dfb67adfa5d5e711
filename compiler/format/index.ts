// The .lmp formatter (`lmpc fmt`): canonical source from an error-free parse.
//
// Layout: one declaration per paragraph (a blank line between declarations), block clauses
// one per line indented two spaces, `KIND NAME = expr` on one line, canonical spacing inside
// expressions, number and string literals exactly as written, parentheses as written, and a
// `;` only where the next clause would otherwise read as a modifier (`holdout 2%;` + `seed 7`).
// Comments are all kept: a comment on the line where a clause (or declaration, or the `{`
// of a block) ends stays at the end of that line; every other comment is printed on its own
// line above the clause or declaration that follows it (a comment written inside a clause's
// expression moves above that clause). Single blank lines the author left between clauses
// or comments are kept; runs of blank lines become one.
//
// Idempotent (format(format(x)) == format(x)), and the result parses to the same tree
// modulo spans: both are tested on every example and on the parser's fuzz corpus.
import type { Clause, Comment, Decl, DeclKind, Expr, Modifier, Program } from '../../grammar/ast.js';
import { DECL_SPECS } from '../../grammar/clauses.js';
import type { Diagnostic } from '../../grammar/diagnostics.js';
import { parse } from '../../grammar/index.js';

const INDENT = '  ';
/** Space between code and a comment at the end of its line. */
const TRAILING_GAP = '  ';

// ---------------------------------------------------------------------------------------
// Expressions

/** Canonical text of an expression (one line). */
export function formatExpr(e: Expr): string {
  switch (e.kind) {
    case 'Number':
    case 'String':
      return e.raw;
    case 'Bool':
      return e.value ? 'true' : 'false';
    case 'Ident':
      return e.name;
    case 'Member':
      return `${formatExpr(e.object)}.${e.property.name}`;
    case 'Call':
      return `${formatExpr(e.callee)}(${e.args.map((a) => (a.name ? `${a.name.name}: ` : '') + formatExpr(a.value)).join(', ')})`;
    case 'List':
      return `[${e.items.map(formatExpr).join(', ')}]`;
    case 'Tuple':
      return e.items.length === 1 ? `(${formatExpr(e.items[0]!)},)` : `(${e.items.map(formatExpr).join(', ')})`;
    case 'Map':
      return `{${e.entries.map((en) => `${formatExpr(en.key)}: ${formatExpr(en.value)}`).join(', ')}}`;
    case 'Paren':
      return `(${formatExpr(e.expr)})`;
    case 'Range':
      return `${formatExpr(e.from)}..${formatExpr(e.to)}`;
    case 'Unary':
      return `${e.op}${formatExpr(e.operand)}`;
    case 'Binary':
      return `${formatExpr(e.left)} ${e.op} ${formatExpr(e.right)}`;
    case 'Chain':
      return e.items.map(formatExpr).join(' -> ');
    case 'Then':
      return e.items.map(formatExpr).join(' then ');
    case 'ErrorExpr':
      // Never formatted in practice (a file with syntax errors is refused); kept total.
      return '?';
  }
}

function formatModifier(m: Modifier): string {
  return m.value ? `${m.keyword} ${formatExpr(m.value)}` : m.keyword;
}

/** Canonical text of a clause (one line, no comments). */
export function formatClause(c: Clause): string {
  let s = c.keyword;
  if (c.args.length > 0) s += ' ' + c.args.map(formatExpr).join(', ');
  for (const m of c.modifiers) s += ' ' + formatModifier(m);
  if (c.body) s += ': ' + formatExpr(c.body);
  return s;
}

/**
 * Whether a `;` must end clause `a` so that the next clause `b` is not read as a modifier of
 * `a`: `holdout 2%;` before `seed 7` (without it, `seed 7` is the hold-out's seed).
 */
function needsSemicolon(kind: DeclKind, a: Clause, b: Clause): boolean {
  const spec = DECL_SPECS[kind].clauses.find((c) => c.words.join(' ') === a.keyword);
  const next = b.keyword.split(' ')[0];
  return (spec?.modifiers ?? []).some((m) => m.words[0] === next && !a.modifiers.some((u) => u.keyword === m.words.join(' ')));
}

function declHeader(d: Decl): string {
  return `${d.declKind} ${d.name.name}${d.base ? ` from ${d.base.name}` : ''}`;
}

// ---------------------------------------------------------------------------------------
// Comment placement

interface Slot {
  /** Comments printed on their own lines above the item. */
  readonly leading: Comment[];
  /** Comments printed at the end of the item's (last) line. */
  readonly trailing: Comment[];
}

interface ClauseItem extends Slot {
  readonly clause: Clause;
}

interface DeclItem extends Slot {
  readonly decl: Decl;
  /** Offset of the block's `{` (block form). */
  readonly open: number;
  /** Comments at the end of the `{` line. */
  readonly openTrailing: Comment[];
  readonly clauses: ClauseItem[];
  /** Comments after the last clause, before `}`. */
  readonly dangling: Comment[];
}

class Source {
  private readonly lineStarts: number[] = [0];
  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      if (ch === 10 || (ch === 13 && text.charCodeAt(i + 1) !== 10)) this.lineStarts.push(i + 1);
    }
  }
  line(offset: number): number {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
  /** Whether the text between two offsets holds an empty line. */
  blankBetween(from: number, to: number): boolean {
    if (to <= from) return false;
    return /\n[ \t\f\v]*\n/.test(this.text.slice(from, to).replace(/\r\n?/g, '\n'));
  }
}

/** The offset of the block's `{`: the first code after the header (comments skipped). */
function openBrace(d: Decl, text: string, comments: readonly Comment[]): number {
  let pos = (d.base ?? d.name).span.end;
  let ci = 0;
  for (;;) {
    while (pos < text.length && /\s/.test(text[pos]!)) pos++;
    while (ci < comments.length && comments[ci]!.span.start < pos) ci++;
    const c = comments[ci];
    if (c && c.span.start === pos) {
      pos = c.span.end;
      continue;
    }
    return pos;
  }
}

/** Attach every comment to a declaration or clause (see the file comment). */
function place(program: Program, src: Source): { decls: DeclItem[]; topDangling: Comment[] } {
  const comments = program.comments;
  const decls: DeclItem[] = program.decls.map((decl) => ({
    decl,
    open: decl.form === 'block' ? openBrace(decl, src.text, comments) : decl.span.end,
    leading: [],
    trailing: [],
    openTrailing: [],
    clauses: decl.clauses.map((clause) => ({ clause, leading: [], trailing: [] })),
    dangling: [],
  }));
  const topDangling: Comment[] = [];
  const lastLine = (end: number) => src.line(Math.max(0, end - 1));
  let di = 0;
  for (const c of comments) {
    const s = c.span.start;
    while (di < decls.length && decls[di]!.decl.span.end <= s) di++;
    const d = decls[di];
    const prev = decls[di - 1];
    if (!d || s < d.decl.span.start) {
      // Between declarations (or before the first / after the last one).
      if (prev && src.line(s) === lastLine(prev.decl.span.end)) prev.trailing.push(c);
      else if (d) d.leading.push(c);
      else topDangling.push(c);
      continue;
    }
    // Inside declaration d.
    if (d.decl.form === 'value' || s < d.open) {
      d.leading.push(c);
      continue;
    }
    const cls = d.clauses;
    const inside = cls.find((x) => x.clause.span.start <= s && s < x.clause.span.end);
    if (inside) {
      inside.leading.push(c);
      continue;
    }
    let before: ClauseItem | undefined;
    let after: ClauseItem | undefined;
    for (const x of cls) {
      if (x.clause.span.end <= s) before = x;
      else if (!after && x.clause.span.start >= c.span.end) after = x;
    }
    const prevEnd = before ? before.clause.span.end : d.open + 1;
    if (src.line(s) === lastLine(prevEnd)) (before ? before.trailing : d.openTrailing).push(c);
    else if (after) after.leading.push(c);
    else d.dangling.push(c);
  }
  return { decls, topDangling };
}

// ---------------------------------------------------------------------------------------
// Printing

function commentText(c: Comment): string {
  const t = c.block ? c.text : c.text.trimEnd();
  return t.replace(/\r\n?/g, '\n');
}

function withTrailing(line: string, trailing: readonly Comment[]): string {
  if (trailing.length === 0) return line;
  return line + TRAILING_GAP + trailing.map(commentText).join(' ');
}

/** End offset of an item including its trailing comments (for blank-line detection). */
function endWithTrailing(end: number, trailing: readonly Comment[]): number {
  return trailing.length > 0 ? Math.max(end, trailing[trailing.length - 1]!.span.end) : end;
}

/**
 * Emit `leading` comments then the item's line(s), keeping one blank line where the source
 * had at least one between consecutive things.
 */
class Writer {
  readonly lines: string[] = [];
  /** Source offset where the last emitted thing ended (-1: nothing yet in this container). */
  last = -1;

  constructor(private readonly src: Source) {}

  /** A separator before something starting at `start`: a blank line if `force` or the source had one. */
  gap(start: number, force = false): void {
    if (this.lines.length === 0) return;
    if (force || (this.last >= 0 && this.src.blankBetween(this.last, start))) {
      if (this.lines[this.lines.length - 1] !== '') this.lines.push('');
    }
  }

  comments(list: readonly Comment[], indent: string, limit: number): void {
    for (const c of list) {
      // A comment moved from inside a clause keeps no blank line before the clause.
      const start = Math.min(c.span.start, limit);
      this.gap(start);
      for (const l of commentText(c).split('\n')) this.lines.push(indent + l);
      this.last = Math.min(c.span.end, limit);
    }
  }
}

/** Format an error-free program. `text` is the source it was parsed from. */
export function format(program: Program, text: string): string {
  const src = new Source(text);
  const { decls, topDangling } = place(program, src);
  const w = new Writer(src);
  let afterDecl = false;
  for (const d of decls) {
    const decl = d.decl;
    // A declaration starts a paragraph; its leading comments stay attached to it unless the
    // author separated them by a blank line.
    if (d.leading.length > 0) {
      w.gap(d.leading[0]!.span.start, afterDecl);
      w.comments(d.leading, '', decl.span.start);
      w.gap(decl.span.start);
    } else {
      w.gap(decl.span.start, afterDecl);
    }
    const header = declHeader(decl);
    if (decl.form === 'value') {
      w.lines.push(withTrailing(`${header} = ${formatExpr(decl.value!)}`, d.trailing));
    } else if (d.clauses.length === 0 && d.dangling.length === 0 && d.openTrailing.length === 0) {
      w.lines.push(withTrailing(`${header} {}`, d.trailing));
    } else {
      w.lines.push(withTrailing(`${header} {`, d.openTrailing));
      w.last = endWithTrailing(d.open + 1, d.openTrailing);
      const inner = new Writer(src);
      inner.last = w.last;
      d.clauses.forEach((c, i) => {
        const next = d.clauses[i + 1];
        const semi = next !== undefined && needsSemicolon(decl.declKind, c.clause, next.clause) ? ';' : '';
        if (c.leading.length > 0) {
          inner.comments(c.leading, INDENT, c.clause.span.start);
          inner.gap(c.clause.span.start);
        } else {
          inner.gap(c.clause.span.start);
        }
        inner.lines.push(withTrailing(INDENT + formatClause(c.clause) + semi, c.trailing));
        inner.last = endWithTrailing(c.clause.span.end, c.trailing);
      });
      if (inner.lines.length === 0) inner.last = w.last;
      inner.comments(d.dangling, INDENT, Infinity);
      w.lines.push(...inner.lines);
      w.lines.push(withTrailing('}', d.trailing));
    }
    w.last = endWithTrailing(decl.span.end, d.trailing);
    afterDecl = true;
  }
  if (topDangling.length > 0) {
    w.gap(topDangling[0]!.span.start, afterDecl);
    w.comments(topDangling, '', Infinity);
  }
  return w.lines.length === 0 ? '' : w.lines.join('\n') + '\n';
}

export type FormatResult = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly diagnostics: Diagnostic[] };

/**
 * Parse and format. A file with errors is not formatted (its tree is partial): the result
 * carries its diagnostics instead.
 */
export function formatSource(text: string, file: string): FormatResult {
  const { program, diagnostics } = parse(text, file);
  if (diagnostics.some((d) => d.severity === 'error')) return { ok: false, diagnostics };
  return { ok: true, text: format(program, text) };
}
