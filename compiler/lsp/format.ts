// Formatting through `lmpc fmt`'s formatter: the whole document, or the declarations a range
// touches (the formatter's output for those declarations; the rest stays as written). A file
// with syntax errors is left alone, as `lmpc fmt` leaves it (LMP0908).
import type { TextEdit } from 'vscode-languageserver';
import { parse } from '../../grammar/index.js';
import { format } from '../format/index.js';
import type { LmpDocument } from './document.js';

/** One edit turning `text[from, to)` into `next`, trimmed to the part that differs. */
function minimalEdit(doc: LmpDocument, from: number, to: number, next: string): TextEdit[] {
  const old = doc.text.slice(from, to);
  if (old === next) return [];
  let p = 0;
  const max = Math.min(old.length, next.length);
  while (p < max && old.charCodeAt(p) === next.charCodeAt(p)) p++;
  let s = 0;
  while (s < max - p && old.charCodeAt(old.length - 1 - s) === next.charCodeAt(next.length - 1 - s)) s++;
  return [{ range: doc.range({ start: from + p, end: to - s }), newText: next.slice(p, next.length - s) }];
}

function formatted(doc: LmpDocument): string | undefined {
  if (doc.hasSyntaxErrors) return undefined;
  return format(doc.program, doc.text);
}

export function formatDocument(doc: LmpDocument): TextEdit[] {
  const f = formatted(doc);
  return f === undefined ? [] : minimalEdit(doc, 0, doc.text.length, f);
}

export function formatRange(doc: LmpDocument, start: number, end: number): TextEdit[] {
  const f = formatted(doc);
  if (f === undefined) return [];
  const decls = doc.program.decls;
  const hit = decls.flatMap((d, i) => (d.span.start <= end && start <= d.span.end ? [i] : []));
  if (hit.length === 0) return [];
  const after = parse(f, doc.file).program.decls;
  if (after.length !== decls.length) return formatDocument(doc);
  const i = hit[0]!;
  const j = hit[hit.length - 1]!;
  // From the start of the first declaration's line (when only indentation precedes it).
  let from = decls[i]!.span.start;
  while (from > 0 && (doc.text[from - 1] === ' ' || doc.text[from - 1] === '\t')) from--;
  if (from > 0 && doc.text[from - 1] !== '\n' && doc.text[from - 1] !== '\r') from = decls[i]!.span.start;
  return minimalEdit(doc, from, decls[j]!.span.end, f.slice(after[i]!.span.start, after[j]!.span.end));
}
