// The checker's diagnostics as LSP diagnostics, and the quick fixes their help lines name.
//
// A diagnostic is `lmpc check`'s, word for word: the code, the message, then its notes and help
// as `lmpc check` prints them (`note: ...`, `help: ...`); notes with a location are also related
// information pointing there.
import { CodeActionKind, DiagnosticSeverity, type CodeAction, type Diagnostic as LspDiagnostic, type TextEdit } from 'vscode-languageserver';
import type { Diagnostic } from '../../grammar/index.js';
import type { LmpDocument } from './document.js';

const SEVERITY = { error: DiagnosticSeverity.Error, warning: DiagnosticSeverity.Warning, info: DiagnosticSeverity.Information } as const;

export function toLsp(doc: LmpDocument, d: Diagnostic): LspDiagnostic {
  const lines = [d.message];
  for (const n of d.notes) lines.push(`note: ${n.span ? `${n.span.file}:${n.span.line}:${n.span.col} - ` : ''}${n.message}`);
  if (d.help) lines.push(`help: ${d.help}`);
  const related = d.notes
    .filter((n) => n.span !== undefined && n.span.file === d.span.file)
    .map((n) => ({ location: { uri: doc.uri, range: doc.range(n.span!) }, message: n.message }));
  return {
    range: doc.range(d.span),
    severity: SEVERITY[d.severity],
    code: d.code,
    source: 'lmpc',
    message: lines.join('\n'),
    ...(related.length ? { relatedInformation: related } : {}),
  };
}

export function diagnostics(doc: LmpDocument): LspDiagnostic[] {
  return doc.checked.diagnostics.map((d) => toLsp(doc, d));
}

/** `did you mean 'a'?`, `did you mean 'a' or 'b'?` in a help line or a note: the names. */
function suggestions(d: Diagnostic): string[] {
  const texts = [d.help ?? '', ...d.notes.map((n) => n.message)];
  const out: string[] = [];
  for (const t of texts) {
    const m = /did you mean (.+)\?/.exec(t);
    if (m) for (const q of m[1]!.matchAll(/'([^']+)'/g)) out.push(q[1]!);
  }
  return [...new Set(out)];
}

/** Delete [start, end) plus the whitespace before it on its line. */
function deletion(doc: LmpDocument, start: number, end: number): TextEdit {
  let s = start;
  while (s > 0 && (doc.text[s - 1] === ' ' || doc.text[s - 1] === '\t')) s--;
  return { range: doc.range({ start: s, end }), newText: '' };
}

/** Remove a map entry and the comma that separates it from its neighbour. */
function entryDeletion(doc: LmpDocument, start: number, end: number): TextEdit {
  const after = /^\s*,[ \t]*/.exec(doc.text.slice(end));
  if (after) return { range: doc.range({ start, end: end + after[0].length }), newText: '' };
  const before = /,\s*$/.exec(doc.text.slice(0, start));
  return { range: doc.range({ start: before ? start - before[0].length : start, end }), newText: '' };
}

/** The fixes a diagnostic's help names. */
export function fixesFor(doc: LmpDocument, d: Diagnostic): CodeAction[] {
  const lsp = toLsp(doc, d);
  const action = (title: string, edits: TextEdit[], preferred = false): CodeAction => ({
    title,
    kind: CodeActionKind.QuickFix,
    diagnostics: [lsp],
    ...(preferred ? { isPreferred: true } : {}),
    edit: { changes: { [doc.uri]: edits } },
  });
  const range = doc.range(d.span);
  const out: CodeAction[] = suggestions(d).map((s, i) => action(`Change to '${s}'`, [{ range, newText: s }], i === 0));
  if (d.code === 'LMP0311' && d.help) {
    const m = /nearest powers of two: (\d+) and (\d+)/.exec(d.help);
    if (m) out.push(action(`Use ${m[1]}`, [{ range, newText: m[1]! }]), action(`Use ${m[2]}`, [{ range, newText: m[2]! }]));
  }
  if (d.code === 'LMP0505') out.push(action("Remove 'reposition'", [deletion(doc, d.span.start, d.span.end)], true));
  if (d.code === 'LMP0404') out.push(action('Remove the zero-weight entry', [entryDeletion(doc, d.span.start, d.span.end)], true));
  return out;
}

export function codeActions(doc: LmpDocument, start: number, end: number): CodeAction[] {
  return doc.checked.diagnostics.filter((d) => d.span.start <= end && start <= d.span.end).flatMap((d) => fixesFor(doc, d));
}
