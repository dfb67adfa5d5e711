// Where the cursor is, for completion: at the top level, in a declaration header, at a clause
// keyword, in a value (with the registry type expected there), after `name.`, or right after a
// number (units).
//
// Half-typed text is the normal case here, so this works from the lexer's tokens alone (no parse:
// completion right after a keystroke does not wait for one): the declarations from the tokens
// (document.ts outlineOf), and a scan of that declaration's tokens up to the cursor follows the parser's own rules from
// grammar/clauses.ts (a clause keyword starts a clause where no value is pending; modifiers and
// `: body` by the clause's spec) and keeps a stack of open calls, lists and maps. The expected
// type then comes from the registry: the clause's semantics, then each enclosing call's
// parameter (by name, or by position before the first named argument).
import type { Span, Token } from '../../grammar/index.js';
import { DECL_SPECS, type ClauseSpec, type ModifierSpec } from '../../grammar/clauses.js';
import { clauseSemantics, lookupBuiltin, VALUE_FORM_SEMANTICS, type BuiltinDef, type Category, type ValueType } from '../registry/index.js';
import type { LmpDocument, OutlineDecl as Decl } from './document.js';

export type Cursor =
  | { readonly kind: 'none' }
  | { readonly kind: 'top'; readonly replace: Span }
  /** After `KIND NAME`: `from` may follow. */
  | { readonly kind: 'header'; readonly decl: Decl; readonly replace: Span }
  /** After `from`: a declaration of the same kind. */
  | { readonly kind: 'base'; readonly decl: Decl; readonly replace: Span }
  | {
      readonly kind: 'clause';
      readonly decl: Decl;
      /** Clause keywords already written in this block. */
      readonly written: readonly string[];
      /** The clause the cursor follows on the same line, whose unused modifiers may come next. */
      readonly modifiers: readonly ModifierSpec[];
      readonly replace: Span;
    }
  | {
      readonly kind: 'value';
      readonly decl: Decl;
      readonly type: ValueType | undefined;
      /** At the start of an argument of a known built-in: its parameters not given yet. */
      readonly call: { readonly def: BuiltinDef; readonly given: readonly string[] } | undefined;
      /** At a key of a record map (`budget {trials: 40, |}`): the keys not given yet. */
      readonly recordKeys: readonly string[] | undefined;
      /** Modifiers that may come here instead of a value (`eval |` → `every`). */
      readonly modifiers: readonly ModifierSpec[];
      readonly replace: Span;
    }
  | { readonly kind: 'member'; readonly decl: Decl; readonly type: ValueType | undefined; readonly path: readonly string[]; readonly replace: Span }
  | { readonly kind: 'unit'; readonly decl: Decl | undefined; readonly type: ValueType | undefined; readonly replace: Span };

/** Tokens after which an expression continues (the next line cannot start a clause). */
const CONTINUES = new Set(['Arrow', 'Then', 'DotDot', 'Dot', 'LE', 'GE', 'EqEq', 'NotEq', 'LT', 'GT', 'Eq', 'Bang', 'Amp', 'Pipe', 'Minus', 'Comma', 'Colon', 'LParen', 'LBracket', 'LBrace']);
const WORDS = new Set(['Ident', 'True', 'False', 'Then']);

/** A nesting level of an expression; `cmp`: a comparison operator was seen in its current item. */
interface Level {
  cmp: boolean;
}
type Frame = Level &
  (
    | { kind: 'call'; callee: string; type: ValueType | undefined; open: Token; argIndex: number; argName: string | undefined; named: boolean; given: string[] }
    | { kind: 'paren'; type: ValueType | undefined; open: Token; commas: number }
    | { kind: 'list'; type: ValueType | undefined; open: Token }
    | { kind: 'map'; type: ValueType | undefined; open: Token; key: string | undefined; afterColon: boolean; given: string[] }
  );
const COMPARISONS = new Set(['LT', 'LE', 'GT', 'GE', 'EqEq', 'NotEq']);

/** Which side of a comparison (`latency.p50 < 50ms`) the cursor is on. */
function side(t: ValueType | undefined, cmp: boolean): ValueType | undefined {
  const c = alternatives(t).find((a) => a.t === 'compare');
  return c?.t === 'compare' ? (cmp ? c.right : c.left) : t;
}

interface ClauseState {
  readonly spec: ClauseSpec | undefined;
  readonly keyword: string;
  section: 'args' | 'modifier' | 'body';
  cmp: boolean;
  modifier: ModifierSpec | undefined;
  readonly usedMods: Set<ModifierSpec>;
  /** A value must follow (after the keyword of a clause with arguments, or a modifier that takes one). */
  needsValue: boolean;
  readonly line: number;
}

/** Alternatives of a type, unions flattened. */
export function alternatives(t: ValueType | undefined): ValueType[] {
  if (t === undefined) return [];
  if (t.t === 'union') return t.of.flatMap(alternatives);
  return [t];
}

/** The built-in categories a value of type `t` may call (chains, phases and masks seen through). */
export function callCategories(t: ValueType | undefined): Category[] {
  const out: Category[] = [];
  const add = (x: ValueType): void => {
    if (x.t === 'call') out.push(x.category);
    else if (x.t === 'mask') out.push('mask');
    else if (x.t === 'chain' || x.t === 'then') add(x.of);
    else if (x.t === 'union') x.of.forEach(add);
    else if (x.t === 'compare') add(x.left);
  };
  if (t) add(t);
  return [...new Set(out)];
}

export function resolveCall(t: ValueType | undefined, name: string): BuiltinDef | undefined {
  for (const c of callCategories(t)) {
    const def = lookupBuiltin(c, name);
    if (def) return def;
  }
  return undefined;
}

function elementOf(t: ValueType | undefined, kind: 'list' | 'map' | 'record' | 'tuple' | 'range'): ValueType | undefined {
  return alternatives(t).find((a) => a.t === kind);
}

function frameType(f: Frame): ValueType | undefined {
  switch (f.kind) {
    case 'call': {
      const def = resolveCall(f.type, f.callee);
      if (!def) return undefined;
      if (f.argName !== undefined) return def.params.find((p) => p.name === f.argName)?.type;
      return f.named ? undefined : def.params[f.argIndex]?.type;
    }
    case 'paren': {
      if (f.commas === 0) return f.type;
      const tup = elementOf(f.type, 'tuple');
      return tup?.t === 'tuple' ? tup.of[f.commas] : undefined;
    }
    case 'list': {
      const l = elementOf(f.type, 'list');
      return l?.t === 'list' ? l.of : undefined;
    }
    case 'map': {
      const rec = elementOf(f.type, 'record');
      if (rec?.t === 'record') return f.afterColon && f.key !== undefined ? rec.fields[f.key] : undefined;
      const m = elementOf(f.type, 'map');
      return m?.t === 'map' ? (f.afterColon ? m.value : m.key) : undefined;
    }
  }
}

function lineOf(doc: LmpDocument, offset: number): number {
  return doc.positionAt(offset).line;
}

/** Index of the first token starting at or after `offset` (binary search). */
export function firstTokenAt(tokens: readonly Token[], offset: number): number {
  let lo = 0;
  let hi = tokens.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (tokens[mid]!.span.start < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const span = (doc: LmpDocument, start: number, end: number): Span => ({ file: doc.file, start, end, line: 0, col: 0 });

export function cursorAt(doc: LmpDocument, off: number): Cursor {
  const { tokens, comments } = doc.tokens;
  for (const c of comments) if (c.span.start < off && (off < c.span.end || (!c.block && off === c.span.end))) return { kind: 'none' };
  const endIdx = firstTokenAt(tokens, off);
  // The token the cursor touches or is inside.
  const cur = endIdx > 0 ? tokens[endIdx - 1] : undefined;
  if (cur && cur.span.end > off) {
    // Inside a token: only a word or a number being typed gets completion.
    if (!WORDS.has(cur.type) && cur.type !== 'Number') return { kind: 'none' };
  }
  if (cur && (cur.type === 'String' || cur.type === 'UnterminatedString') && cur.span.end >= off && cur.span.start < off) {
    if (cur.type === 'UnterminatedString' || cur.span.end > off) return { kind: 'none' };
  }
  if (cur && cur.type === 'Number' && cur.span.start < off && off <= cur.span.end) return unitCursor(doc, tokens, endIdx - 1, off);
  if (cur && WORDS.has(cur.type) && cur.span.start < off && off <= cur.span.end) return scan(doc, tokens, endIdx - 1, cur.span.start, span(doc, cur.span.start, cur.span.end));
  return scan(doc, tokens, endIdx, off, span(doc, off, off));
}

function unitCursor(doc: LmpDocument, tokens: readonly Token[], idx: number, off: number): Cursor {
  const t = tokens[idx]!;
  const digits = /^\d[\d_]*(?:\^\d[\d_]*|(?:\.\d[\d_]*)?(?:[eE][+-]?\d[\d_]*)?)/.exec(t.image)?.[0] ?? t.image;
  const inner = scan(doc, tokens, idx, t.span.start, span(doc, t.span.start, t.span.start));
  const type = inner.kind === 'value' ? inner.type : undefined;
  const decl = 'decl' in inner ? inner.decl : undefined;
  return { kind: 'unit', decl, type, replace: span(doc, t.span.start + digits.length, Math.max(off, t.span.start + digits.length)) };
}

/** The declaration whose text the cursor is in: the last one starting before it, if still open there. */
function scan(doc: LmpDocument, tokens: readonly Token[], stop: number, at: number, replace: Span): Cursor {
  let decl: Decl | undefined;
  for (const d of doc.outline) if (d.start < at) decl = d;
  if (decl === undefined) return { kind: 'top', replace };
  let i = firstTokenAt(tokens, decl.start) + 1;
  // Header: KIND NAME [from BASE] then `{` or `=`.
  const header: Token[] = [];
  while (i < stop && tokens[i]!.type !== 'LBrace' && tokens[i]!.type !== 'Eq' && header.length < 3) header.push(tokens[i++]!);
  if (i >= stop) {
    if (header.length === 0) return { kind: 'top', replace }; // a new declaration's name is being typed
    const last = header[header.length - 1]!;
    if (lineOf(doc, last.span.end) !== lineOf(doc, at)) return { kind: 'top', replace };
    if (last.image === 'from' && header.length === 2) return { kind: 'base', decl, replace };
    if (header.length === 1) return { kind: 'header', decl, replace };
    return { kind: 'none' };
  }
  const open = tokens[i]!;
  if (open.type === 'Eq') return valueForm(doc, tokens, decl, i + 1, stop, at, replace);
  return block(doc, tokens, decl, i + 1, stop, at, replace);
}

function valueForm(doc: LmpDocument, tokens: readonly Token[], decl: Decl, from: number, stop: number, at: number, replace: Span): Cursor {
  const type = VALUE_FORM_SEMANTICS[decl.declKind];
  const frames: Frame[] = [];
  const level: Level = { cmp: false };
  // The value ends where a line ends outside brackets after a complete expression.
  const ended = (prev: Token, nextStart: number): boolean => frames.length === 0 && !CONTINUES.has(prev.type) && lineOf(doc, nextStart) !== lineOf(doc, prev.span.end);
  let prev = tokens[from - 1]!;
  for (let j = from; j < stop; j++) {
    const t = tokens[j]!;
    if (ended(prev, t.span.start)) return { kind: 'top', replace };
    step(frames, tokens, j, type, level);
    prev = t;
  }
  if (ended(prev, at)) return { kind: 'top', replace };
  return valueCursor(decl, frames, tokens, stop, side(type, level.cmp), [], replace);
}

/** Push and pop frames and track arguments, for one token inside an expression. */
function step(frames: Frame[], tokens: readonly Token[], j: number, base: ValueType | undefined, level: Level): void {
  const t = tokens[j]!;
  const top = frames[frames.length - 1];
  const typeHere = top ? side(frameType(top), top.cmp) : side(base, level.cmp);
  if (COMPARISONS.has(t.type)) (top ?? level).cmp = true;
  const prev = tokens[j - 1];
  switch (t.type) {
    case 'LParen':
      if (prev && prev.type === 'Ident' && prev.span.end === t.span.start) frames.push({ kind: 'call', callee: prev.image, type: typeHere, open: t, argIndex: 0, argName: undefined, named: false, given: [], cmp: false });
      else frames.push({ kind: 'paren', type: typeHere, open: t, commas: 0, cmp: false });
      return;
    case 'LBracket':
      frames.push({ kind: 'list', type: typeHere, open: t, cmp: false });
      return;
    case 'LBrace':
      frames.push({ kind: 'map', type: typeHere, open: t, key: undefined, afterColon: false, given: [], cmp: false });
      return;
    case 'RParen':
    case 'RBracket':
    case 'RBrace':
      frames.pop();
      return;
    case 'Comma':
      (top ?? level).cmp = false;
      if (top?.kind === 'call') {
        top.argIndex++;
        top.argName = undefined;
      } else if (top?.kind === 'paren') top.commas++;
      else if (top?.kind === 'map') {
        top.key = undefined;
        top.afterColon = false;
      }
      return;
    case 'Colon':
      if (top?.kind === 'map') top.afterColon = true;
      return;
    default:
      if (top && (t.type === 'Ident' || t.type === 'Number' || t.type === 'String') && tokens[j + 1]?.type === 'Colon' && prev && (prev === top.open || prev.type === 'Comma')) {
        const name = t.type === 'String' ? t.image.slice(1, -1) : t.image;
        if (top.kind === 'call') {
          top.argName = name;
          top.named = true;
          top.given.push(name);
        } else if (top.kind === 'map') {
          top.key = name;
          top.given.push(name);
        }
      } else if (top?.kind === 'call' && !top.named && prev && (prev === top.open || prev.type === 'Comma')) {
        const def = resolveCall(top.type, top.callee);
        const p = def?.params[top.argIndex];
        if (p) top.given.push(p.name);
      }
  }
}

function valueCursor(
  decl: Decl,
  frames: readonly Frame[],
  tokens: readonly Token[],
  stop: number,
  base: ValueType | undefined,
  modifiers: readonly ModifierSpec[],
  replace: Span,
): Cursor {
  const top = frames[frames.length - 1];
  const type = top ? side(frameType(top), top.cmp) : base;
  const prev = tokens[stop - 1];
  // `a.b.` → a member path.
  if (prev?.type === 'Dot') {
    const path: string[] = [];
    let k = stop - 2;
    while (k >= 0 && tokens[k]!.type === 'Ident') {
      path.unshift(tokens[k]!.image);
      if (tokens[k - 1]?.type !== 'Dot') break;
      k -= 2;
    }
    return { kind: 'member', decl, type, path, replace };
  }
  let call: { def: BuiltinDef; given: string[] } | undefined;
  let recordKeys: string[] | undefined;
  const atArgStart = top && prev && (prev === top.open || prev.type === 'Comma');
  if (top?.kind === 'call' && atArgStart) {
    const def = resolveCall(top.type, top.callee);
    if (def) call = { def, given: top.given };
  }
  if (top?.kind === 'map' && atArgStart) {
    const rec = elementOf(top.type, 'record');
    if (rec?.t === 'record') recordKeys = Object.keys(rec.fields).filter((k) => !top.given.includes(k));
  }
  return { kind: 'value', decl, type: recordKeys ? undefined : type, call, recordKeys, modifiers, replace };
}

function matchWords(tokens: readonly Token[], j: number, words: readonly string[], stop: number): boolean {
  for (let k = 0; k < words.length; k++) {
    const t = tokens[j + k];
    if (!t || j + k >= stop || t.type !== 'Ident' || t.image !== words[k]) return false;
  }
  return true;
}

function block(doc: LmpDocument, tokens: readonly Token[], decl: Decl, from: number, stop: number, at: number, replace: Span): Cursor {
  const specs = DECL_SPECS[decl.declKind].clauses;
  const frames: Frame[] = [];
  const written: string[] = [];
  let clause: ClauseState | undefined;
  let prev: Token | undefined;
  const sectionType = (c: ClauseState | undefined): ValueType | undefined => {
    if (!c?.spec) return undefined;
    const sem = clauseSemantics(decl.declKind, c.keyword);
    if (c.section === 'modifier') return c.modifier ? (sem?.modifiers?.[c.modifier.words.join(' ')] ?? undefined) : undefined;
    return c.section === 'body' ? sem?.body : sem?.arg;
  };
  const here = (c: ClauseState | undefined): ValueType | undefined => side(sectionType(c), c?.cmp ?? false);
  const noClause: Level = { cmp: false };
  const startsClause = (j: number): boolean => {
    if (clause?.needsValue) return false;
    if (prev === undefined || prev.type === 'Semicolon') return true;
    if (CONTINUES.has(prev.type)) return false;
    const t = tokens[j]!;
    const next = tokens[j + 1];
    if (next && (next.type === 'LParen' || next.type === 'Dot') && next.span.start === t.span.end) return lineOf(doc, prev.span.end) !== lineOf(doc, t.span.start);
    if (lineOf(doc, prev.span.end) !== lineOf(doc, t.span.start)) return true;
    return specs.some((s) => matchWords(tokens, j, s.words, stop));
  };
  for (let j = from; j < stop; j++) {
    const t = tokens[j]!;
    // Unclosed brackets: the parser resyncs at a clause keyword starting a line (LMP0105).
    if (frames.length > 0 && t.type === 'Ident' && prev && prev.type !== 'Comma' && lineOf(doc, prev.span.end) !== lineOf(doc, t.span.start)) {
      const next = tokens[j + 1];
      if (!(next && ['Colon', 'LParen', 'Dot', 'Comma'].includes(next.type)) && specs.some((sp) => matchWords(tokens, j, sp.words, stop))) {
        frames.length = 0;
        if (clause) clause.needsValue = false;
        prev = undefined;
      }
    }
    if (frames.length === 0) {
      if (t.type === 'RBrace') return { kind: 'top', replace }; // the block is closed
      if (t.type === 'Semicolon') {
        clause = undefined;
        prev = t;
        continue;
      }
      if (t.type === 'Ident' && startsClause(j)) {
        const spec = specs.find((s) => matchWords(tokens, j, s.words, stop));
        const n = spec ? spec.words.length : 1;
        const keyword = spec ? spec.words.join(' ') : t.image;
        clause = { spec, keyword, section: 'args', cmp: false, modifier: undefined, usedMods: new Set(), needsValue: spec !== undefined && spec.args !== 'optional', line: lineOf(doc, t.span.start) };
        written.push(keyword);
        j += n - 1;
        prev = tokens[j]!;
        continue;
      }
      if (clause?.spec && t.type === 'Ident' && !clause.needsValue) {
        const m = clause.spec.modifiers.find((mm) => !clause!.usedMods.has(mm) && matchWords(tokens, j, mm.words, stop));
        const next = tokens[j + (m?.words.length ?? 1)];
        if (m && !(next && (next.type === 'LParen' || next.type === 'Dot') && next.span.start === tokens[j + m.words.length - 1]!.span.end)) {
          clause.usedMods.add(m);
          clause.section = 'modifier';
          clause.cmp = false;
          clause.modifier = m;
          clause.needsValue = m.value;
          j += m.words.length - 1;
          prev = tokens[j]!;
          continue;
        }
      }
      if (clause?.spec && t.type === 'Colon' && clause.spec.body !== 'none') {
        clause.section = 'body';
        clause.cmp = false;
        clause.needsValue = true;
        prev = t;
        continue;
      }
    }
    step(frames, tokens, j, sectionType(clause), clause ?? noClause);
    if (clause && t.type !== 'Comma' && !CONTINUES.has(t.type)) clause.needsValue = false;
    if (clause && frames.length > 0) clause.needsValue = false;
    prev = t;
  }
  const unusedMods = (c: ClauseState | undefined): ModifierSpec[] => (c?.spec ? c.spec.modifiers.filter((m) => !c.usedMods.has(m)) : []);
  if (frames.length > 0) return valueCursor(decl, frames, tokens, stop, here(clause), [], replace);
  if (clause === undefined || prev === undefined || prev.type === 'Semicolon') return { kind: 'clause', decl, written, modifiers: [], replace };
  if (prev.type === 'Dot' || clause.needsValue || CONTINUES.has(prev.type)) {
    // After an optional-argument clause's keyword (`eval |`, `speculate |`) a modifier may come too.
    const mods = clause.spec?.args === 'optional' && clause.section === 'args' ? unusedMods(clause) : [];
    return valueCursor(decl, frames, tokens, stop, here(clause), mods, replace);
  }
  if (clause.spec?.args === 'optional' && clause.section === 'args' && tokens[stop - 1] && matchWords(tokens, stop - clause.spec.words.length, clause.spec.words, stop)) {
    return valueCursor(decl, frames, tokens, stop, here(clause), unusedMods(clause), replace);
  }
  const sameLine = lineOf(doc, prev.span.end) === lineOf(doc, at);
  return { kind: 'clause', decl, written, modifiers: sameLine ? unusedMods(clause) : [], replace };
}

