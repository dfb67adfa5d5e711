// What commands share: where output goes, whether to color, and the exit code. `main` attaches a
// context to the root Command; a command's action finds it from its own Command.
import type { Command } from 'commander';

export interface CliIo {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
  /** Whether stdout is a terminal (colors only then, and only when NO_COLOR is unset). */
  readonly isTTY?: boolean;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface CliContext {
  readonly io: CliIo;
  exitCode: number;
}

const contexts = new WeakMap<Command, CliContext>();

export function attachContext(root: Command, ctx: CliContext): void {
  contexts.set(root, ctx);
}

export function contextOf(cmd: Command): CliContext {
  let c: Command | null = cmd;
  while (c) {
    const ctx = contexts.get(c);
    if (ctx) return ctx;
    c = c.parent;
  }
  throw new Error('lmpc: command has no context');
}

export function useColor(io: CliIo): boolean {
  return io.isTTY === true && (io.env?.['NO_COLOR'] ?? '') === '';
}

/** Raise the exit code (0 clean < 1 diagnostics < 2 usage or fatal); never lower it. */
export function setExit(ctx: CliContext, code: number): void {
  if (code > ctx.exitCode) ctx.exitCode = code;
}
