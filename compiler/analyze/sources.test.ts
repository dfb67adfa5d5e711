import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from '../../grammar/index.js';
import { sourceDocs, sourcePath } from './sources.js';

/** The documents of `source text(GLOB)` under `root`, as one check (its own program) sees them. */
function docsOf(root: string, glob: string) {
  const program = parse(`data d {\n  source text("${glob}")\n  tokenizer bytes()\n}\n`, join(root, 'x.lmp')).program;
  return sourceDocs(program, root, sourcePath(program.decls[0]!.clauses[0]!.args[0])!)!;
}

const dir = mkdtempSync(join(tmpdir(), 'lmp-sources-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('sourceDocs across checks', () => {
  it('a later check reuses what an unchanged file said (the language server checks on every edit)', () => {
    const corpus = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'corpus');
    const a = docsOf(corpus, 'moby-dick-*.txt');
    const b = docsOf(corpus, 'moby-dick-*.txt');
    expect(a.docs!.length).toBe(3);
    expect(b.docs!.map((d) => d.bytes)).toEqual(a.docs!.map((d) => d.bytes));
    b.docs!.forEach((d, i) => expect(d.bytes).toBe(a.docs![i]!.bytes));
  });
  it('a file rewritten at the same size is read again (the stat stamp changes; a file changed within the last second is never kept)', () => {
    writeFileSync(join(dir, 's.txt'), Buffer.alloc(10, 0xff)); // 10 U+FFFD: 30 bytes of text
    expect(docsOf(dir, 's.txt').total).toBe(30);
    writeFileSync(join(dir, 's.txt'), 'a'.repeat(10));
    expect(docsOf(dir, 's.txt').total).toBe(10);
  });
});
