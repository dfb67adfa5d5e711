// Tests only: lmpc run in process (cli.ts main) with stdout and stderr captured and an empty
// environment (no CI, no TTY progress).
import { main } from './cli.js';

export async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await main(args, { stdout: (s) => (out += s), stderr: (s) => (err += s), env: {} });
  return { code, out, err };
}
