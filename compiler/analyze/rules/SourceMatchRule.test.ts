import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { at, run, runAt } from '../test-helpers.js';
import { SourceMatchRule } from './SourceMatchRule.js';

const dir = mkdtempSync(join(tmpdir(), 'lmp-srcmatch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'corpus', 'deep'), { recursive: true });
writeFileSync(join(dir, 'corpus', 'deep', 'a.txt'), 'text');
writeFileSync(join(dir, 'p.jsonl'), '{"text": "x"}\n');
const file = join(dir, 'x.lmp');
writeFileSync(file, '');

const data = (...sources: string[]) => `data d {\n${sources.map((s) => `  source ${s}\n`).join('')}  tokenizer bytes()\n}\n`;

describe('SourceMatchRule', () => {
  it('warns about a glob with no match and a missing jsonl / parquet file, resolved against the file', () => {
    const ds = runAt(file, data('text("corpus/*.md")', 'jsonl("q.jsonl")', 'parquet("t.parquet")', 'text("corpus")'), SourceMatchRule);
    expect(at(ds)).toEqual(['LMP0407@2:10', 'LMP0407@3:10', 'LMP0407@4:10', 'LMP0407@5:10']);
    expect(ds[0]!.severity).toBe('warning');
    expect(ds[0]!.message).toBe(`text source glob 'corpus/*.md' matches no file (resolved against '${dir}')`);
    expect(ds[1]!.message).toBe(`jsonl source 'q.jsonl' matches no file (resolved against '${dir}')`);
  });
  it('accepts what the runtime glob matches (** and nested folders), and existing files', () => {
    expect(runAt(file, data('text("corpus/**/*.txt")', 'text("corpus/*/a.txt")', 'jsonl("p.jsonl")', `text("${dir}/corpus/deep/a.txt")`), SourceMatchRule)).toEqual([]);
  });
  it('looks nothing up for a file that is not on disk', () => {
    expect(run(data('text("no/such/*.txt")'), SourceMatchRule)).toEqual([]);
  });
});
