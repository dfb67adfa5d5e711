// `lmpc lsp --stdio`: the language server (compiler/lsp), Language Server Protocol over
// stdin/stdout. It serves until the client sends `exit` (exit code 0 after `shutdown`, 1
// without) or closes stdin.
import type { Command } from 'commander';
import { contextOf, setExit } from './context.js';

export function register(program: Command): void {
  program
    .command('lsp')
    .description('run the language server (LSP over stdio) for editors')
    .option('--stdio', 'talk LSP over stdin/stdout (the only transport)')
    .action(async function (this: Command, opts: { stdio?: boolean }) {
      const ctx = contextOf(this);
      if (!opts.stdio) {
        ctx.io.stderr('lmpc lsp: pass --stdio (LSP over stdin/stdout is the only transport)\n');
        setExit(ctx, 2);
        return;
      }
      // Loaded on use: other commands do not load the server.
      const { runStdio } = await import('../lsp/server.js');
      runStdio({ version: this.parent?.version() });
    });
}
