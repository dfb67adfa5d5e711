// The generated spec files (reference.md, builtins.md, diagnostics.md) must match what the
// registry, the clause table and the catalog produce. `npm run gen:spec` rewrites them.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtinsMd, diagnosticsMd, referenceMd } from '../compiler/registry/gen-spec.js';

const UPDATE = process.env['UPDATE_SNAPSHOTS'] === '1';

/** For each code, the input of the first conformance case (by name) that reports it. */
function examples(): Map<string, string> {
  const out = new Map<string, string>();
  const root = 'spec/conformance';
  for (const name of readdirSync(root).sort()) {
    const exp = join(root, name, 'expected.json');
    if (!existsSync(exp)) continue;
    const codes = (JSON.parse(readFileSync(exp, 'utf8')) as { diagnostics: { code: string }[] }).diagnostics.map((d) => d.code);
    const input = join(root, name, 'input.lmp');
    const cli = join(root, name, 'cli.json');
    const text = existsSync(input)
      ? readFileSync(input, 'utf8')
      : `// lmpc ${(JSON.parse(readFileSync(cli, 'utf8')) as { argv: string[] }).argv.join(' ')}   (case ${name}/cli.json)`;
    for (const c of codes) if (!out.has(c) && text.length <= 600) out.set(c, text === '' ? '// (an empty file)' : text);
  }
  return out;
}

describe('generated spec', () => {
  const files: [string, () => string][] = [
    ['spec/reference.md', referenceMd],
    ['spec/builtins.md', builtinsMd],
    ['spec/diagnostics.md', () => diagnosticsMd(examples())],
  ];
  for (const [path, gen] of files) {
    it(`${path} is up to date (npm run gen:spec)`, () => {
      const want = gen();
      if (UPDATE) writeFileSync(path, want);
      expect(existsSync(path) ? readFileSync(path, 'utf8') : '').toBe(want);
    });
  }
});
