#!/usr/bin/env node
// lmpc, the .lmp compiler's command line. Exit codes: 0 clean (warnings allowed), 1 diagnostics
// or a failed check, 2 usage errors or an internal failure. `--json` prints only JSON on stdout.
//
// Each command lives in commands/<name>.ts and exports `register(program)`; add one import and
// one entry in COMMANDS to add a command.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { attachContext, type CliContext, type CliIo } from './commands/context.js';
import { register as registerCheck } from './commands/check.js';
import { register as registerFmt } from './commands/fmt.js';
import { register as registerExplain } from './commands/explain.js';
import { register as registerBuild } from './commands/build.js';
import { register as registerRun } from './commands/run.js';
import { register as registerData } from './commands/data.js';
import { register as registerShowMask } from './commands/show-mask.js';
import { register as registerPlot } from './commands/plot.js';
import { register as registerExport } from './commands/export.js';
import { register as registerLsp } from './commands/lsp.js';

const COMMANDS: readonly ((program: Command) => void)[] = [registerCheck, registerFmt, registerExplain, registerBuild, registerRun, registerData, registerExport, registerShowMask, registerPlot, registerLsp];

export const VERSION = '0.1.0';

/** Run lmpc with `argv` (without node and the script) and return the exit code. Never throws. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const program = new Command();
  const ctx: CliContext = { io, exitCode: 0 };
  attachContext(program, ctx);
  program
    .name('lmpc')
    .description('the .lmp compiler')
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s) });
  for (const register of COMMANDS) register(program);
  for (const cmd of program.commands) cmd.exitOverride();
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit with 0; everything else commander rejects is a usage error.
      return e.exitCode === 0 ? 0 : 2;
    }
    io.stderr(`lmpc: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 2;
  }
  return ctx.exitCode;
}

function isEntryPoint(): boolean {
  const arg = process.argv[1];
  if (arg === undefined) return false;
  try {
    return realpathSync(arg) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const code = await main(process.argv.slice(2), {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    isTTY: process.stdout.isTTY === true,
    env: process.env,
  });
  process.exitCode = code;
}
