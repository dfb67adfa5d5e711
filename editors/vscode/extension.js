// The lmp extension's client side: starts `lmpc lsp --stdio` and connects VS Code to it.
// Highlighting comes from the generated TextMate grammar (syntaxes/, copied from
// grammar/lmp.tmLanguage.json by `npm install`); everything else from the server.
'use strict';
const { existsSync } = require('node:fs');
const path = require('node:path');
const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

/** @type {LanguageClient | undefined} */
let client;

/** Which lmpc to run: the setting, the workspace's own, this repository's build, or PATH's. */
function serverCommand(context) {
  const configured = vscode.workspace.getConfiguration('lmp').get('server.command', []);
  if (Array.isArray(configured) && configured.length > 0) return { command: configured[0], args: configured.slice(1) };
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const bin = path.join(folder.uri.fsPath, 'node_modules', '.bin', process.platform === 'win32' ? 'lmpc.cmd' : 'lmpc');
    if (existsSync(bin)) return { command: bin, args: ['lsp', '--stdio'] };
  }
  const repoCli = path.join(context.extensionPath, '..', '..', 'dist', 'compiler', 'cli.js');
  if (existsSync(repoCli)) return { command: 'node', args: [repoCli, 'lsp', '--stdio'] };
  return { command: 'lmpc', args: ['lsp', '--stdio'] };
}

function activate(context) {
  const config = vscode.workspace.getConfiguration('lmp');
  client = new LanguageClient('lmp', 'lmp language server', serverCommand(context), {
    documentSelector: [{ language: 'lmp' }],
    initializationOptions: { debounceMs: config.get('diagnostics.debounceMs', 200) },
  });
  return client.start();
}

function deactivate() {
  return client?.stop();
}

module.exports = { activate, deactivate };
