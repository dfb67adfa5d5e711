// `lmpc lsp --stdio`: the service (service.ts) on a vscode-languageserver connection.
//
// Diagnostics are debounced per document with a leading edge: a change after a quiet spell is
// checked at once (the user sees the result of their last keystroke as fast as the checker
// allows; a request that came with the change is answered first), and further changes within
// `debounceMs` of a check are folded into one check at the end of that window. Each publish
// carries the version it was computed from.
//
// No handler can take the server down: an exception in one is logged and answered as an
// internal error (requests) or skipped (notifications); the process keeps serving.
import {
  CodeActionKind,
  createConnection,
  ProposedFeatures,
  ResponseError,
  ErrorCodes,
  TextDocuments,
  TextDocumentSyncKind,
  type Connection,
  type InitializeResult,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { LEGEND } from './semantic.js';
import { LmpService } from './service.js';

export interface ServerOptions {
  /** The debounce window for diagnostics (initializationOptions.debounceMs overrides it). */
  readonly debounceMs?: number;
  /** The version reported in serverInfo (lmpc's). */
  readonly version?: string;
}

export const DEFAULT_DEBOUNCE_MS = 200;
/** The wait of the leading edge (see Debouncer). */
export const LEAD_MS = 4;

/**
 * Per-document scheduling of checks: leading edge, then at most one check per window. The
 * leading edge waits LEAD_MS, so that a request sent with the change (an editor asks for
 * completion right after a keystroke) is read, answered and written out before the check takes
 * the thread.
 */
export class Debouncer {
  private readonly pending = new Map<string, { cancelled: boolean; timer?: ReturnType<typeof setTimeout> }>();
  private readonly lastRun = new Map<string, number>();
  constructor(
    private windowMs: number,
    private readonly run: (uri: string) => void,
  ) {}
  set window(ms: number) {
    this.windowMs = ms;
  }
  schedule(uri: string): void {
    if (this.pending.has(uri)) return;
    const wait = Math.max(0, (this.lastRun.get(uri) ?? -Infinity) + this.windowMs - performance.now());
    const job: { cancelled: boolean; timer?: ReturnType<typeof setTimeout> } = { cancelled: false };
    this.pending.set(uri, job);
    const fire = (): void => {
      if (job.cancelled) return;
      this.pending.delete(uri);
      this.lastRun.set(uri, performance.now());
      this.run(uri);
    };
    // Then one more turn (setImmediate): answers already handled are written out first.
    job.timer = setTimeout(() => setImmediate(fire), Math.max(LEAD_MS, wait));
  }
  cancel(uri: string): void {
    const job = this.pending.get(uri);
    if (job) {
      job.cancelled = true;
      if (job.timer !== undefined) clearTimeout(job.timer);
    }
    this.pending.delete(uri);
    this.lastRun.delete(uri);
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

export function startServer(connection: Connection, options: ServerOptions = {}): LmpService {
  const documents = new TextDocuments(TextDocument);
  const service = new LmpService((uri) => documents.get(uri));
  const publish = (uri: string): void => {
    try {
      const r = service.diagnostics(uri);
      if (r) void connection.sendDiagnostics({ uri, version: r.version, diagnostics: r.diagnostics });
    } catch (e) {
      connection.console.error(`lmpc lsp: checking ${uri} failed: ${describe(e)}`);
    }
  };
  const debouncer = new Debouncer(options.debounceMs ?? DEFAULT_DEBOUNCE_MS, publish);

  // Requests: exceptions become an InternalError answer, never an unhandled crash.
  const guard =
    <P, R>(name: string, f: (p: P, token?: never) => R | Promise<R>) =>
    async (p: P, token?: unknown): Promise<R> => {
      try {
        return await f(p, token as never);
      } catch (e) {
        if (e instanceof ResponseError) throw e;
        connection.console.error(`lmpc lsp: ${name} failed: ${describe(e)}`);
        throw new ResponseError(ErrorCodes.InternalError, `${name} failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    };

  connection.onInitialize((params): InitializeResult => {
    const ms = (params.initializationOptions as { debounceMs?: unknown } | undefined)?.debounceMs;
    if (typeof ms === 'number' && Number.isFinite(ms) && ms >= 0) debouncer.window = ms;
    return {
      serverInfo: { name: 'lmpc', ...(options.version ? { version: options.version } : {}) },
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        hoverProvider: true,
        completionProvider: { triggerCharacters: ['.', '(', ',', ':'] },
        definitionProvider: true,
        referencesProvider: true,
        renameProvider: { prepareProvider: true },
        documentSymbolProvider: true,
        documentFormattingProvider: true,
        documentRangeFormattingProvider: true,
        semanticTokensProvider: { legend: LEGEND, full: true },
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
      },
    };
  });

  documents.onDidChangeContent((e) => debouncer.schedule(e.document.uri));
  documents.onDidClose((e) => {
    debouncer.cancel(e.document.uri);
    service.close(e.document.uri);
    void connection.sendDiagnostics({ uri: e.document.uri, diagnostics: [] });
  });

  connection.onHover(guard('hover', (p, token) => service.hover(p, token)));
  connection.onCompletion(guard('completion', (p) => service.completion(p)));
  connection.onDefinition(guard('definition', (p) => service.definition(p)));
  connection.onReferences(guard('references', (p) => service.references(p)));
  connection.onPrepareRename(guard('prepareRename', (p) => service.prepareRename(p)));
  connection.onRenameRequest(guard('rename', (p) => service.rename(p)));
  connection.onDocumentSymbol(guard('documentSymbol', (p) => service.documentSymbols(p)));
  connection.onDocumentFormatting(guard('formatting', (p) => service.formatting(p)));
  connection.onDocumentRangeFormatting(guard('rangeFormatting', (p) => service.rangeFormatting(p)));
  connection.onCodeAction(guard('codeAction', (p) => service.codeActions(p)));
  connection.languages.semanticTokens.on(guard('semanticTokens', (p) => service.semanticTokens(p)));

  documents.listen(connection);
  connection.listen();
  return service;
}

/** `lmpc lsp --stdio`: serve on stdin/stdout until the client says exit (or stdin closes). */
export function runStdio(options: ServerOptions = {}): void {
  const connection = createConnection(ProposedFeatures.all, process.stdin, process.stdout);
  // stdout carries the protocol: anything logged goes to the client's output instead.
  const log = (level: 'log' | 'info' | 'warn' | 'error') => (...args: unknown[]) => connection.console[level](args.map((a) => (typeof a === 'string' ? a : describe(a))).join(' '));
  console.log = log('log');
  console.info = log('info');
  console.debug = log('log');
  console.warn = log('warn');
  console.error = log('error');
  startServer(connection, options);
}
