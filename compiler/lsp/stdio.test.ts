// `lmpc lsp --stdio` as an editor runs it: a child process (the built CLI, dist/compiler/cli.js)
// and vscode-jsonrpc as the client. initialize, didOpen a broken file, publishDiagnostics with
// the checker's codes, a hover, didChange to a fixed text, diagnostics cleared, shutdown, exit.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';
import { main } from '../cli.js';

interface Published {
  uri: string;
  version?: number;
  diagnostics: { code: string; message: string; range: { start: { line: number; character: number } } }[];
}

describe('lmpc lsp --stdio', () => {
  it('serves diagnostics, hover and a clean shutdown over stdio', async () => {
    expect(existsSync('dist/compiler/cli.js'), 'dist/compiler/cli.js is missing: npm run build:ts').toBe(true);
    const child = spawn(process.execPath, ['dist/compiler/cli.js', 'lsp', '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    let gone: number | null | undefined;
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res((gone = code))));
    const conn: MessageConnection = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    const published: Published[] = [];
    let wake: (() => void) | undefined;
    conn.onNotification('textDocument/publishDiagnostics', (p: Published) => {
      published.push(p);
      wake?.();
    });
    conn.onNotification('window/logMessage', () => undefined);
    conn.listen();
    const next = (version: number): Promise<Published> =>
      new Promise((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`no diagnostics for version ${version}; stderr: ${stderr}`)), 20_000);
        void exited.then(() => rej(new Error(`the server exited (${gone}) before diagnostics for version ${version}; stderr: ${stderr}`)));
        const look = () => {
          const hit = published.find((p) => p.version === version);
          if (hit) {
            clearTimeout(timer);
            res(hit);
          }
        };
        wake = look;
        look();
      });
    try {
      const init = (await conn.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: {}, initializationOptions: { debounceMs: 20 } })) as { capabilities: Record<string, unknown>; serverInfo: { name: string } };
      expect(init.serverInfo.name).toBe('lmpc');
      expect(Object.keys(init.capabilities)).toEqual(expect.arrayContaining(['hoverProvider', 'completionProvider', 'definitionProvider', 'renameProvider', 'documentFormattingProvider', 'semanticTokensProvider', 'codeActionProvider']));
      await conn.sendNotification('initialized', {});
      const uri = 'file:///tmp/lmp-lsp-stdio/broken.lmp';
      const broken = 'attention a { mask causl & window(4) }\ndecode d {\n  policy greedy -> top_k(4)\n  model m\n}\nmodel m { arch llama(dim: 64, layers: 1, heads: 2, ffn: 128) }\n';
      await conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'lmp', version: 1, text: broken } });
      const first = await next(1);
      expect(first.uri).toBe(uri);
      expect(first.diagnostics.map((d) => d.code)).toEqual(['LMP0301', 'LMP0601']);
      expect(first.diagnostics[0]!.message).toBe("unknown mask primitive 'causl'\nhelp: did you mean 'causal'?");
      expect(first.diagnostics[0]!.range.start).toEqual({ line: 0, character: 19 });
      const hover = (await conn.sendRequest('textDocument/hover', { textDocument: { uri }, position: { line: 0, character: 28 } })) as { contents: { value: string } };
      expect(hover.contents.value).toContain('window(size)');
      // An incremental change fixes both errors.
      await conn.sendNotification('textDocument/didChange', {
        textDocument: { uri, version: 2 },
        contentChanges: [
          { range: { start: { line: 2, character: 9 }, end: { line: 2, character: 27 } }, text: 'top_k(4) -> greedy' },
          { range: { start: { line: 0, character: 19 }, end: { line: 0, character: 24 } }, text: 'causal' },
        ],
      });
      const second = await next(2);
      expect(second.diagnostics).toEqual([]);
      await conn.sendRequest('shutdown');
      await conn.sendNotification('exit');
      expect(await exited).toBe(0);
    } finally {
      conn.dispose();
      child.kill();
    }
  });

  it('without --stdio is a usage error (exit 2)', async () => {
    let err = '';
    const code = await main(['lsp'], { stdout: () => undefined, stderr: (s) => (err += s) });
    expect(code).toBe(2);
    expect(err).toContain('--stdio');
  });
});
