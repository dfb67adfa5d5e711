// Test helpers: an in-process host for the language service (documents kept as the editor
// would, edits applied), and the cursor marker of the handler cases (not part of the server).
import { TextDocument } from 'vscode-languageserver-textdocument';
import type { Position, TextEdit } from 'vscode-languageserver';
import { LmpService } from './service.js';

/** Where a case puts the cursor; removed from the text before the document is opened. */
export const CURSOR = '¦';

export class TestHost {
  readonly docs = new Map<string, TextDocument>();
  readonly service = new LmpService((uri) => this.docs.get(uri));

  open(text: string, uri = 'file:///test/input.lmp'): { uri: string; position: Position; offset: number } {
    const offset = text.indexOf(CURSOR);
    const clean = text.replace(CURSOR, '');
    const doc = TextDocument.create(uri, 'lmp', 1, clean);
    this.docs.set(uri, doc);
    return { uri, position: doc.positionAt(Math.max(0, offset)), offset };
  }

  /** Replace the whole text (a new version). */
  change(uri: string, text: string): void {
    const doc = this.docs.get(uri)!;
    TextDocument.update(doc, [{ text }], doc.version + 1);
  }

  text(uri: string): string {
    return this.docs.get(uri)!.getText();
  }
}

/** The text after applying `edits` (non-overlapping) to `text`. */
export function applyEdits(text: string, edits: readonly TextEdit[]): string {
  const doc = TextDocument.create('file:///x', 'lmp', 1, text);
  return TextDocument.applyEdits(doc, [...edits]);
}
