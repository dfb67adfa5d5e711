// Conformance cases: spec/conformance/<case>/input.lmp with expected.json beside it (the
// diagnostics: code, severity, line, col, message), or a cli.json describing a command line
// (argv, files to create in a temporary directory) for file and command-line cases.
//   UPDATE_SNAPSHOTS=1 npx vitest run spec/conformance.test.ts   regenerate expected.json
//   LMP_CASE=<name> npx vitest run spec/conformance.test.ts      run one case
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CATALOG } from '../grammar/diagnostics.js';
import { main } from '../compiler/cli.js';

const ROOT = 'spec/conformance';
const UPDATE = process.env['UPDATE_SNAPSHOTS'] === '1';
const ONLY = process.env['LMP_CASE'];

interface Setup {
  readonly text?: string;
  readonly hex?: string;
  readonly repeat?: string;
  readonly bytes?: number;
  readonly dir?: boolean;
  readonly symlink?: string;
}
interface CliCase {
  readonly argv: readonly string[];
  readonly setup?: Readonly<Record<string, Setup>>;
}
interface Expected {
  readonly exitCode?: number;
  readonly diagnostics: readonly { code: string; severity: string; line: number; col: number; message: string }[];
}

export const cases = readdirSync(ROOT, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

/** Run one case; returns what expected.json should hold. */
export async function runCase(name: string): Promise<Expected> {
  const dir = join(ROOT, name);
  const cliPath = join(dir, 'cli.json');
  let argv: string[];
  let tmp: string | undefined;
  if (existsSync(cliPath)) {
    const spec = JSON.parse(readFileSync(cliPath, 'utf8')) as CliCase;
    tmp = mkdtempSync(join(tmpdir(), 'lmp-case-'));
    for (const [file, s] of Object.entries(spec.setup ?? {})) {
      const p = join(tmp, file);
      if (s.dir) mkdirSync(p);
      else if (s.symlink !== undefined) symlinkSync(s.symlink, p);
      else if (s.hex !== undefined) writeFileSync(p, Buffer.from(s.hex, 'hex'));
      else if (s.repeat !== undefined) writeFileSync(p, Buffer.alloc(s.bytes ?? 0, s.repeat));
      else writeFileSync(p, s.text ?? '');
    }
    argv = spec.argv.map((a) => a.replaceAll('{tmp}', tmp!).replaceAll('{case}', dir));
  } else argv = ['check', join(dir, 'input.lmp')];
  let out = '';
  const exitCode = await main([...argv, '--json'], { stdout: (s) => (out += s), stderr: () => undefined });
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  const doc = JSON.parse(out) as { files: { diagnostics: { code: string; severity: string; line: number; col: number; message: string }[] }[] };
  const norm = (m: string) => (tmp ? m.replaceAll(tmp, '{tmp}') : m);
  return {
    exitCode,
    diagnostics: doc.files.flatMap((f) => f.diagnostics.map((d) => ({ code: d.code, severity: d.severity, line: d.line, col: d.col, message: norm(d.message) }))),
  };
}

describe('conformance', () => {
  for (const name of cases) {
    if (ONLY !== undefined && ONLY !== name) continue;
    it(name, async () => {
      const actual = await runCase(name);
      const file = join(ROOT, name, 'expected.json');
      if (UPDATE || !existsSync(file)) writeFileSync(file, JSON.stringify(actual, null, 2) + '\n');
      else expect(actual).toEqual(JSON.parse(readFileSync(file, 'utf8')));
    });
  }

  it('every diagnostic code in the catalog has a case', () => {
    const covered = new Set<string>();
    for (const name of cases) {
      const file = join(ROOT, name, 'expected.json');
      if (!existsSync(file)) continue;
      for (const d of (JSON.parse(readFileSync(file, 'utf8')) as Expected).diagnostics) covered.add(d.code);
    }
    expect(Object.keys(CATALOG).filter((c) => !covered.has(c))).toEqual([]);
  });
});
