// The language service: LSP requests in, LSP results out, with no connection in between (the
// server wires it to one; the in-process tests call it directly).
//
// Versions: every request works on an immutable snapshot of the document as it is when the
// request is handled (document.ts). A request that waits (hover on a mask runs the explain
// report) checks afterwards that the document has not changed; if it has, it fails with
// ContentModified rather than answer with ranges into a text the editor no longer shows.
import {
  LSPErrorCodes,
  ResponseError,
  type CancellationToken,
  type CodeAction,
  type CompletionItem,
  type Diagnostic,
  type DocumentSymbol,
  type Hover,
  type Location,
  type Position,
  type Range,
  type SemanticTokens,
  type TextEdit,
  type WorkspaceEdit,
} from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { complete } from './completion.js';
import { codeActions, diagnostics } from './diagnostics.js';
import { LmpDocument } from './document.js';
import { formatDocument, formatRange } from './format.js';
import { hover } from './hover.js';
import { definition, documentSymbols, prepareRename, references, rename, RenameError } from './navigation.js';
import { semanticTokens } from './semantic.js';

export interface TextDocumentParams {
  readonly textDocument: { readonly uri: string };
}
export interface PositionParams extends TextDocumentParams {
  readonly position: Position;
}

export interface ServiceOptions {
  /** Whether hovers on masks and sampler chains run the explain report (default true). */
  readonly explain?: boolean;
}

export class LmpService {
  private readonly cache = new Map<string, LmpDocument>();

  /** `source(uri)` is the editor's current document (undefined once closed). */
  constructor(
    private readonly source: (uri: string) => Pick<TextDocument, 'uri' | 'version' | 'getText'> | undefined,
    private readonly options: ServiceOptions = {},
  ) {}

  /** The snapshot of the document's current version (made once per version). */
  document(uri: string): LmpDocument | undefined {
    const live = this.source(uri);
    if (live === undefined) {
      this.cache.delete(uri);
      return undefined;
    }
    let d = this.cache.get(uri);
    // The text too: a client that reopens a document may start again at the same version.
    if (d === undefined || d.version !== live.version || d.text !== live.getText()) {
      d = new LmpDocument(live, this.options.explain ?? true);
      this.cache.set(uri, d);
    }
    return d;
  }

  close(uri: string): void {
    this.cache.delete(uri);
  }

  /** Fail the request when its document moved on while it waited (or the client cancelled it). */
  private current(d: LmpDocument, token?: CancellationToken): void {
    if (token?.isCancellationRequested) throw new ResponseError(LSPErrorCodes.RequestCancelled, 'request cancelled');
    const live = this.source(d.uri);
    if (live === undefined || live.version !== d.version || live.getText() !== d.text) throw new ResponseError(LSPErrorCodes.ContentModified, `document changed (version ${d.version} is no longer current)`);
  }

  diagnostics(uri: string): { version: number; diagnostics: Diagnostic[] } | undefined {
    const d = this.document(uri);
    return d ? { version: d.version, diagnostics: diagnostics(d) } : undefined;
  }

  async hover(p: PositionParams, token?: CancellationToken): Promise<Hover | null> {
    const d = this.document(p.textDocument.uri);
    if (!d) return null;
    const r = await hover(d, d.offsetAt(p.position));
    this.current(d, token);
    return r;
  }

  completion(p: PositionParams): CompletionItem[] {
    const d = this.document(p.textDocument.uri);
    return d ? complete(d, d.offsetAt(p.position)) : [];
  }

  definition(p: PositionParams): Location | null {
    const d = this.document(p.textDocument.uri);
    return d ? definition(d, d.offsetAt(p.position)) : null;
  }

  references(p: PositionParams & { readonly context?: { readonly includeDeclaration: boolean } }): Location[] {
    const d = this.document(p.textDocument.uri);
    return d ? references(d, d.offsetAt(p.position), p.context?.includeDeclaration ?? true) : [];
  }

  prepareRename(p: PositionParams): { range: Range; placeholder: string } | null {
    const d = this.document(p.textDocument.uri);
    return d ? prepareRename(d, d.offsetAt(p.position)) : null;
  }

  rename(p: PositionParams & { readonly newName: string }): WorkspaceEdit | null {
    const d = this.document(p.textDocument.uri);
    if (!d) return null;
    try {
      return rename(d, d.offsetAt(p.position), p.newName);
    } catch (e) {
      if (e instanceof RenameError) throw new ResponseError(LSPErrorCodes.RequestFailed, e.message);
      throw e;
    }
  }

  documentSymbols(p: TextDocumentParams): DocumentSymbol[] {
    const d = this.document(p.textDocument.uri);
    return d ? documentSymbols(d) : [];
  }

  formatting(p: TextDocumentParams): TextEdit[] {
    const d = this.document(p.textDocument.uri);
    return d ? formatDocument(d) : [];
  }

  rangeFormatting(p: TextDocumentParams & { readonly range: Range }): TextEdit[] {
    const d = this.document(p.textDocument.uri);
    return d ? formatRange(d, d.offsetAt(p.range.start), d.offsetAt(p.range.end)) : [];
  }

  semanticTokens(p: TextDocumentParams): SemanticTokens {
    const d = this.document(p.textDocument.uri);
    return d ? semanticTokens(d) : { data: [] };
  }

  codeActions(p: TextDocumentParams & { readonly range: Range }): CodeAction[] {
    const d = this.document(p.textDocument.uri);
    return d ? codeActions(d, d.offsetAt(p.range.start), d.offsetAt(p.range.end)) : [];
  }
}
