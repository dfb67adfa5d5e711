import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from './cli.js';

async function lmpc(argv: string[], env: Record<string, string> = {}, isTTY = false) {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), isTTY, env });
  return { code, stdout, stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'lmpc-cli-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('lmpc check', () => {
  it('prints tsc-style diagnostics with a frame, underline, help and summary; exit 1', async () => {
    const p = file('a.lmp', 'attention a { mask causl & window(4) }\n');
    const r = await lmpc(['check', p]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      `${p}:1:20 - error LMP0301: unknown mask primitive 'causl'\n\n1 attention a { mask causl & window(4) }\n                     ~~~~~\n  help: did you mean 'causal'?\n\nFound 1 error in 1 file.\n`,
    );
  });
  it('exit 0 with only warnings, and counts them', async () => {
    const r = await lmpc(['check', file('w.lmp', 'attention a { mask causal & prefix(8) }\n')]);
    expect(r.code).toBe(0);
    expect(r.stdout.endsWith('Found 1 warning in 1 file.\n')).toBe(true);
  });
  it('--json prints only JSON', async () => {
    const r = await lmpc(['check', join(dir, 'missing.lmp'), '--json']);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.files[0].diagnostics[0].code).toBe('LMP0901');
  });
  it('colors only on a TTY without NO_COLOR', async () => {
    const p = file('c.lmp', 'attention a { mask causl }\n');
    expect((await lmpc(['check', p], {}, true)).stdout).toContain('\x1b[');
    expect((await lmpc(['check', p], { NO_COLOR: '1' }, true)).stdout).not.toContain('\x1b[');
  });
  it('usage errors exit 2', async () => {
    expect((await lmpc(['check'])).code).toBe(2);
    expect((await lmpc(['frobnicate'])).code).toBe(2);
  });
  it('deeply nested parentheses are a diagnostic, not a crash', async () => {
    const r = await lmpc(['check', file('deep.lmp', `attention a { mask ${'('.repeat(5000)}causal${')'.repeat(5000)} }\n`)]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('LMP0106');
  });
});
