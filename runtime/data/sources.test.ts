import { mkdtempSync, writeFileSync, openSync, writeSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defaultDataConfig, validateDataConfig, DataConfigError } from './config.js';
import { isHeldOut, loadCorpus, mixOrder } from './corpus.js';
import { globFiles, readJsonl, readParquet } from './sources.js';
import { bytesTokenizer } from './tokenizers.js';

const FIX = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const EX = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'corpus');

describe('sources', () => {
  it('text glob: one document per file, sorted; no match names the pattern', () => {
    const files = globFiles('text/*.txt', FIX).map((f) => f.slice(f.lastIndexOf('/') + 1));
    expect(files).toEqual(['a.txt', 'b.txt', 'bad-utf8.txt', 'empty.txt', 'tiny.txt']);
    expect(globFiles('**/{a,b}.txt', FIX).length).toBe(2);
    expect(() => globFiles('text/*.md', FIX)).toThrow(/glob 'text\/\*\.md' matched no files/);
  });

  it('jsonl: documents by field, blank lines ignored', () => {
    const c = { malformedLines: 0, missingField: 0 };
    expect([...readJsonl(join(FIX, 'docs.jsonl'), { field: 'text', onError: 'fail' }, c)].map((d) => d.text)).toEqual(['alpha document', 'beta document is here', 'gamma']);
    expect([...readJsonl(join(FIX, 'docs.jsonl'), { field: 'meta.title', onError: 'skip' }, c)].map((d) => d.text)).toEqual(['A']);
    expect(c.missingField).toBe(2);
  });

  it('jsonl: a malformed line fails with file:line, or is skipped and counted', () => {
    const f = join(FIX, 'bad.jsonl');
    expect(() => [...readJsonl(f, { field: 'text', onError: 'fail' }, { malformedLines: 0, missingField: 0 })]).toThrow(/bad\.jsonl:2: malformed JSON line/);
    const c = { malformedLines: 0, missingField: 0 };
    expect([...readJsonl(f, { field: 'text', onError: 'skip' }, c)].map((d) => d.text)).toEqual(['ok one', 'ok two']);
    expect(c).toEqual({ malformedLines: 1, missingField: 1 });
    // a missing field fails naming file:line and the field under onError: 'fail'
    const g = join(mkdtempSync(join(tmpdir(), 'lmp-data-')), 'x.jsonl');
    writeFileSync(g, '{"text": "a"}\n{"body": "b"}\n');
    expect(() => [...readJsonl(g, { field: 'text', onError: 'fail' }, c)]).toThrow(/x\.jsonl:2: field 'text' is missing/);
  });

  it('jsonl: lines split across read chunks are reassembled; CRLF handled', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmp-data-'));
    const f = join(dir, 'c.jsonl');
    const docs = Array.from({ length: 50 }, (_, i) => 'doc ' + i + ' ' + 'x'.repeat(i * 7));
    writeFileSync(f, docs.map((t) => JSON.stringify({ text: t })).join('\r\n'));
    const got = [...readJsonl(f, { field: 'text', onError: 'fail', chunkBytes: 64 }, { malformedLines: 0, missingField: 0 })].map((d) => d.text);
    expect(got).toEqual(docs);
    rmSync(dir, { recursive: true });
  });

  it('jsonl: a 100 MB single line works, and a line over maxLineBytes fails clearly', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lmp-data-'));
    const f = join(dir, 'big.jsonl');
    const fd = openSync(f, 'w');
    writeSync(fd, '{"text": "');
    const block = Buffer.alloc(1 << 20, 'a');
    for (let i = 0; i < 100; i++) writeSync(fd, block);
    writeSync(fd, '"}\n{"text": "after"}\n');
    closeSync(fd);
    const c = { malformedLines: 0, missingField: 0 };
    const lens = [...readJsonl(f, { field: 'text', onError: 'fail' }, c)].map((d) => d.text!.length);
    expect(lens).toEqual([100 << 20, 5]);
    expect(() => [...readJsonl(f, { field: 'text', onError: 'fail', maxLineBytes: 10 << 20 }, c)]).toThrow(/big\.jsonl:1: line longer than 10485760 bytes/);
    rmSync(dir, { recursive: true });
  });

  it('parquet: a string column via hyparquet; a missing column is named', async () => {
    const c = { malformedLines: 0, missingField: 0 };
    const docs = await readParquet(join(FIX, 'docs.parquet'), 'text', c);
    expect(docs.map((d) => d.text)).toEqual(['The first parquet document.', 'A second one, a little longer than the first.', '', 'Fourth: unicode — café, 日本語.']);
    await expect(readParquet(join(FIX, 'docs.parquet'), 'body', c)).rejects.toThrow(/no column 'body' \(columns: text, id\)/);
  });
});

describe('corpus', () => {
  const tok = bytesTokenizer();
  it('counts empty, invalid-UTF-8 and too-short documents; fails on invalid UTF-8 when asked', async () => {
    const cfg = defaultDataConfig({ root: FIX, sources: [{ kind: 'text', glob: 'text/*.txt', weight: 1 }], filter: { minLength: 2, maxLength: null } });
    const c = await loadCorpus(cfg, tok);
    expect(c.stats.documentsRead).toBe(5);
    expect(c.stats.emptyDocuments).toBe(1);
    expect(c.stats.invalidUtf8Documents).toBe(1);
    expect(c.stats.tooShortDocuments).toBe(1); // tiny.txt: 1 byte
    expect(c.stats.documentsKept).toBe(3);
    // a.txt is 34 bytes + EOT
    expect(c.offsets[1]! - c.offsets[0]!).toBe(35);
    expect(c.tokens[34]).toBe(256);
    // bad-utf8.txt: 'bad ' + 2 invalid bytes (each U+FFFD = 3 bytes) + ' bytes'
    expect(c.offsets[3]! - c.offsets[2]!).toBe(4 + 6 + 6 + 1);
    await expect(loadCorpus({ ...cfg, utf8: 'fail' }, tok)).rejects.toThrow(/bad-utf8\.txt: invalid UTF-8/);
  });

  it('hold-out split is by content: the same document lands on the same side whatever else is read', async () => {
    expect(isHeldOut(Buffer.from('same text'), 0.5, 1)).toBe(isHeldOut(Buffer.from('same text'), 0.5, 1));
    let held = 0;
    for (let i = 0; i < 4000; i++) if (isHeldOut(Buffer.from('document number ' + i), 0.1, 7)) held++;
    expect(Math.abs(held / 4000 - 0.1)).toBeLessThan(0.02);
    const base = { root: EX, holdout: { fraction: 0.5, seed: 3 } };
    const one = defaultDataConfig({ ...base, sources: [{ kind: 'jsonl', path: 'sotu-excerpts.jsonl', field: 'text', weight: 1, onError: 'fail' }] });
    const two = defaultDataConfig({ ...base, sources: [{ kind: 'text', glob: 'moby-*.txt', weight: 1 }, ...one.sources] });
    const h1 = await loadCorpus(one, tok, 'holdout');
    const h2 = await loadCorpus(two, tok, 'holdout');
    const t1 = await loadCorpus(one, tok, 'train');
    const docs = (c: typeof h1, src: number): string[] => Array.from({ length: c.source.length }, (_, i) => i).filter((i) => c.source[i] === src).map((i) => tok.decode(c.tokens.subarray(c.offsets[i]!, c.offsets[i + 1]!)));
    expect(docs(h2, 1)).toEqual(docs(h1, 0));
    expect(h1.stats.documentsKept + t1.stats.documentsKept).toBe(5);
    expect(new Set([...docs(h1, 0), ...docs(t1, 0)]).size).toBe(5);
  });

  it('mixture: shares by weight, upsampling the small source, deterministic for a seed', () => {
    const source = Int32Array.from([...Array(100).fill(0), ...Array(20).fill(1)]);
    const o = mixOrder(source, [1, 1], 5);
    expect(o.length).toBe(120);
    const from1 = [...o].filter((d) => source[d] === 1);
    expect(from1.length).toBe(60); // 120 * 1/2
    // each of the 20 documents appears exactly 3 times (whole passes)
    const counts = new Map<number, number>();
    from1.forEach((d) => counts.set(d, (counts.get(d) ?? 0) + 1));
    expect([...counts.values()].every((c) => c === 3)).toBe(true);
    expect([...mixOrder(source, [1, 1], 5)]).toEqual([...o]);
    expect([...mixOrder(source, [1, 1], 6)]).not.toEqual([...o]);
  });

  it('config validation names the field', () => {
    expect(() => validateDataConfig(defaultDataConfig({ sources: [{ kind: 'text', glob: '*', weight: 1 }], pack: { kind: 'decompose', min: 300, max: 8192, deterministic: false } }))).toThrow(DataConfigError);
    expect(() => validateDataConfig(defaultDataConfig({ sources: [{ kind: 'text', glob: '*', weight: 1 }], pack: { kind: 'decompose', min: 300, max: 8192, deterministic: false } }))).toThrow(/pack\.min must be a power of two/);
    // 2^32 wraps to 0 in 32-bit bitwise arithmetic; it is a power of two, but beyond decompose's 2^31 bound.
    expect(() => validateDataConfig(defaultDataConfig({ sources: [{ kind: 'text', glob: '*', weight: 1 }], pack: { kind: 'decompose', min: 256, max: 2 ** 32, deterministic: false } }))).toThrow(/pack\.max must be at most 2\^31/);
    expect(() => validateDataConfig(defaultDataConfig({ sources: [{ kind: 'text', glob: '*', weight: 1 }], pack: { kind: 'decompose', min: 256, max: 2 ** 33 + 1, deterministic: false } }))).toThrow(/pack\.max must be a power of two/);
    expect(() => validateDataConfig(defaultDataConfig({ sources: [] }))).toThrow(/sources must list/);
  });
});
