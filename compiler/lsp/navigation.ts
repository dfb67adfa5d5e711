// Go to definition, find references, rename (declarations and `from` bases), document symbols.
import { SymbolKind, type DocumentSymbol, type Location, type Range, type TextEdit, type WorkspaceEdit } from 'vscode-languageserver';
import type { Decl, DeclKind, Ident } from '../../grammar/index.js';
import { within, type LmpDocument } from './document.js';

/** The declaration named at `offset`: a declaration's own name, or a reference to one. */
export function declAt(doc: LmpDocument, offset: number): { decl: Decl; at: Ident } | undefined {
  const idx = doc.index;
  const ref = idx.references.find((r) => within(r.ident.span, offset));
  if (ref) return { decl: ref.target, at: ref.ident };
  for (const d of idx.program.decls) if (within(d.name.span, offset)) return { decl: d, at: d.name };
  return undefined;
}

export function definition(doc: LmpDocument, offset: number): Location | null {
  const hit = declAt(doc, offset);
  return hit ? { uri: doc.uri, range: doc.range(hit.decl.name.span) } : null;
}

/** Every place naming the declaration: references (and its own name when asked). */
function occurrences(doc: LmpDocument, decl: Decl, includeDeclaration: boolean): Ident[] {
  const refs = doc.index.references.filter((r) => r.target === decl).map((r) => r.ident);
  return includeDeclaration ? [decl.name, ...refs].sort((a, b) => a.span.start - b.span.start) : refs;
}

export function references(doc: LmpDocument, offset: number, includeDeclaration: boolean): Location[] {
  const hit = declAt(doc, offset);
  if (!hit) return [];
  return occurrences(doc, hit.decl, includeDeclaration).map((i) => ({ uri: doc.uri, range: doc.range(i.span) }));
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED = new Set(['true', 'false', 'then', 'from']);

export function prepareRename(doc: LmpDocument, offset: number): { range: Range; placeholder: string } | null {
  const hit = declAt(doc, offset);
  return hit ? { range: doc.range(hit.at.span), placeholder: hit.at.name } : null;
}

export class RenameError extends Error {}

export function rename(doc: LmpDocument, offset: number, newName: string): WorkspaceEdit | null {
  const hit = declAt(doc, offset);
  if (!hit) return null;
  if (!NAME.test(newName) || RESERVED.has(newName)) throw new RenameError(`'${newName}' is not a valid declaration name`);
  const clash = doc.index.symbols.get(newName);
  if (clash && clash !== hit.decl) throw new RenameError(`'${newName}' is already declared (${clash.declKind} ${newName}, line ${clash.name.span.line})`);
  const edits: TextEdit[] = occurrences(doc, hit.decl, true).map((i) => ({ range: doc.range(i.span), newText: newName }));
  return { changes: { [doc.uri]: edits } };
}

const SYMBOL_KIND: Record<DeclKind, SymbolKind> = {
  tokenizer: SymbolKind.Function,
  data: SymbolKind.Package,
  curriculum: SymbolKind.Event,
  attention: SymbolKind.Interface,
  model: SymbolKind.Class,
  train: SymbolKind.Module,
  decode: SymbolKind.Module,
  eval: SymbolKind.Module,
  optimize: SymbolKind.Module,
};

/** A symbol whose selection lies inside its range (LSP requires it; partial trees may not guarantee it). */
function symbol(doc: LmpDocument, name: string, detail: string, kind: SymbolKind, start: number, end: number, selStart: number, selEnd: number, children?: DocumentSymbol[]): DocumentSymbol {
  const s = Math.min(start, selStart);
  const e = Math.max(end, selEnd);
  return { name: name || '?', detail, kind, range: doc.range({ start: s, end: e }), selectionRange: doc.range({ start: selStart, end: selEnd }), ...(children ? { children } : {}) };
}

export function documentSymbols(doc: LmpDocument): DocumentSymbol[] {
  return doc.program.decls.map((d) => {
    const children = d.clauses.map((c) =>
      symbol(doc, c.keyword, doc.text.slice(c.keywordSpan.end, c.span.end).trim().slice(0, 80), SymbolKind.Property, c.span.start, c.span.end, c.keywordSpan.start, c.keywordSpan.end),
    );
    const start = Math.min(d.keywordSpan.start, d.span.start, ...d.clauses.map((c) => c.span.start));
    const end = Math.max(d.span.end, ...d.clauses.map((c) => c.span.end));
    return symbol(doc, d.name.name || d.declKind, `${d.declKind}${d.base ? ` from ${d.base.name}` : ''}`, SYMBOL_KIND[d.declKind], start, end, d.name.span.start, d.name.span.end, children);
  });
}
