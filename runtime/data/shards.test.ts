import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, appendFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultDataConfig, type DataConfig } from './config.js';
import { buildShards, cacheKey, ShardCorruptError, ShardReader, writeShard, writeShardAsync } from './shards.js';
import { crc32Table } from './hash.js';
import { planPad } from './pack.js';
import { CurriculumIterator } from '../curriculum/index.js';

const EX = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'corpus');
const work = mkdtempSync(join(tmpdir(), 'lmp-shards-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function config(root: string, pack: DataConfig['pack']): DataConfig {
  return defaultDataConfig({
    root,
    sources: [
      { kind: 'text', glob: 'moby-dick-*.txt', weight: 1 },
      { kind: 'jsonl', path: 'sotu-excerpts.jsonl', field: 'text', weight: 1, onError: 'fail' },
    ],
    pack,
    seed: 1,
  });
}

describe('shards', () => {
  // hf("/abs/tokenizer.json") was joined onto the root (ENOENT in lmpc data and lmpc export)
  it('the cache key hashes a Hugging Face tokenizer.json at an absolute path, or relative to the root', () => {
    const dir = join(work, 'hfkey');
    cpSync(EX, dir, { recursive: true, filter: (p) => !p.includes('/sotu/') && !p.includes('/moby/') });
    const tokFile = join(dir, 'tokenizer.json');
    writeFileSync(tokFile, '{"a": 1}');
    const cfg = (path: string): DataConfig => ({ ...config(dir, { kind: 'concat_chunk', length: 64 }), tokenizer: { kind: 'huggingface', path, eot: null, appendEot: true, bos: 'auto' } });
    const abs = cacheKey(cfg(tokFile)), rel = cacheKey(cfg('tokenizer.json'));
    writeFileSync(tokFile, '{"a": 2}');
    expect(cacheKey(cfg(tokFile))).not.toBe(abs); // the file's bytes are in the key
    expect(cacheKey(cfg('tokenizer.json'))).not.toBe(rel);
  });

  it('concat_chunk: writes, reads back the exact text, and reuses the cache on a second run', async () => {
    const root = join(work, 'corpus1');
    cpSync(EX, root, { recursive: true });
    const cfg = config(root, { kind: 'concat_chunk', length: 512 });
    const out = join(work, 'out1');
    const a = await buildShards(cfg, { outDir: out, shardTokens: 2048 });
    expect(a.reused).toBe(false);
    expect(readdirSync(out).filter((f) => f.startsWith('.tmp'))).toEqual([]); // temp folder renamed away
    const s = a.index.stats;
    expect(s.documentsKept).toBe(8);
    // total tokens = sum of UTF-8 bytes + one EOT per document; all packed but the tail
    const bytes = [1, 2, 3].reduce((t, i) => t + readFileSync(join(root, `moby-dick-${i}.txt`)).length, 0) + readFileSync(join(root, 'sotu-excerpts.jsonl'), 'utf8').split('\n').filter(Boolean).reduce((t, l) => t + Buffer.byteLength(JSON.parse(l).text), 0);
    expect(s.tokensKept).toBe(bytes + 8);
    // the 1:1 mixture takes 4 documents from each source (3 Moby-Dick chapters upsampled, 5 SOTU downsampled)
    expect(s.perSource.map((p) => p.mixedDocuments)).toEqual([4, 4]);
    expect(s.tokensPacked + s.tokensDropped).toBe(s.tokensMixed);
    expect(s.tokensDropped).toBe(s.tokensMixed % 512);
    expect(s.perBucket).toEqual({ '512': Math.floor(s.tokensMixed / 512) });
    expect(a.index.buckets[0]!.shards.length).toBeGreaterThan(1);

    const r = new ShardReader(a.dir);
    // every sequence's segments are contiguous pieces of real documents: the text of each segment
    // occurs verbatim in the corpus
    const corpusText = [1, 2, 3].map((i) => readFileSync(join(root, `moby-dick-${i}.txt`), 'utf8')).join('\n') + readFileSync(join(root, 'sotu-excerpts.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).text).join('\n');
    const total = r.buckets[0]!.count;
    const b = r.batch(512, Array.from({ length: total }, (_, i) => i));
    expect(b.cuSeqlens[total]).toBe(total * 512);
    let checked = 0;
    for (let g = 0; g < b.segDoc.length; g++) {
      const seq = b.segCu.findIndex((x) => x > g) - 1;
      const st = b.cuSeqlens[seq]! + b.segOffset[g]!;
      const ids = [...b.tokens.subarray(st, st + b.segLength[g]!)].filter((t) => t < 256);
      const text = Buffer.from(ids).toString('utf8').replace(/^[\s\S]?\uFFFD+|\uFFFD+$/g, '');
      if (text.length > 20) {
        expect(corpusText.includes(text.slice(2, -2))).toBe(true);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(5);

    const again = await buildShards(cfg, { outDir: out, shardTokens: 2048 });
    expect(again.reused).toBe(true);
    expect(again.key).toBe(a.key);
    // a changed source changes the key
    appendFileSync(join(root, 'moby-dick-1.txt'), ' More.');
    const changed = await buildShards(cfg, { outDir: out, shardTokens: 2048 });
    expect(changed.reused).toBe(false);
    expect(changed.key).not.toBe(a.key);
  });

  it('decompose: buckets of 2^k + 1 token sequences drive a curriculum; batches come back from disk', async () => {
    const cfg = config(EX, { kind: 'decompose', min: 64, max: 1024, deterministic: false });
    const res = await buildShards(cfg, { outDir: join(work, 'out2') });
    const r = new ShardReader(res.dir);
    const st = res.index.stats;
    expect(st.tokensPacked + st.tokensDropped).toBe(st.tokensMixed);
    for (const bk of r.buckets) {
      const seq = r.sequence(bk.length, 0);
      expect(seq.tokens.length).toBe(bk.length + 1);
    }
    const it = new CurriculumIterator({ schedule: { kind: 'uniform', cycles: 1 }, tokensPerStep: 1024, ranks: 1, seed: 0 }, r.buckets);
    const step = it.next()!;
    const batch = r.batch(step.length, step.sequences);
    expect(batch.cuSeqlens.length).toBe(step.sequences.length + 1);
    expect(batch.tokens.length).toBe(step.globalSequences * (step.length + 1));
    expect([...batch.positionIds.subarray(0, 3)]).toEqual([0, 1, 2]);
  });

  it('a corrupt shard or index is detected by its checksum with a clear error', async () => {
    const cfg = config(EX, { kind: 'pad', length: 256, truncate: 'split', padId: null });
    const res = await buildShards(cfg, { outDir: join(work, 'out3') });
    expect(res.index.stats.paddingTokens).toBeGreaterThan(0);
    const ok = new ShardReader(res.dir);
    const first = ok.sequence(256, 0);
    expect(first.tokens.length).toBe(256);
    // flip one byte of a token file
    const tokFile = join(res.dir, res.index.buckets[0]!.shards[0]!.name + '.tok');
    const bytes = readFileSync(tokFile);
    bytes[10] = bytes[10]! ^ 0xff;
    writeFileSync(tokFile, bytes);
    expect(() => new ShardReader(res.dir).sequence(256, 0)).toThrow(ShardCorruptError);
    expect(() => new ShardReader(res.dir).sequence(256, 0)).toThrow(/\.tok: CRC-32 .* corrupt shard/);
    // edit the index
    const ixFile = join(res.dir, 'index.json');
    writeFileSync(ixFile, readFileSync(ixFile, 'utf8').replace('"sequences":', '"sequences":1'));
    expect(() => new ShardReader(res.dir)).toThrow(/index checksum mismatch/);
    // and a cache entry with a corrupt index is not silently reused
    await expect(buildShards(cfg, { outDir: join(work, 'out3') })).rejects.toThrow(ShardCorruptError);
  });

  it('prepack shards keep per-prompt segments with positions restarting at 0', async () => {
    const cfg = config(EX, { kind: 'prepack', capacity: 4096, algorithm: 'bfd', group: 0 });
    const res = await buildShards(cfg, { outDir: join(work, 'out4') });
    const r = new ShardReader(res.dir);
    const b = r.batch(4096, [0]);
    expect(b.segCu[1]).toBeGreaterThan(1);
    for (let g = 0; g < b.segCu[1]!; g++) {
      expect(b.positionIds[b.segOffset[g]!]).toBe(0);
      expect(b.docIds[b.segOffset[g]!]).toBe(b.segDoc[g]);
    }
  });
});

describe('writeShard', () => {
  it('writes exactly the naive gather (u16 and u32, sync and async, sequences and pads crossing staging chunks) with the right CRC-32', async () => {
    // 3 documents, one longer than a staging chunk (2^18 tokens); pad(L = 450000, split) pads the
    // short ones: 1.35 M tokens = 6 chunks, so the async ring (4 buffers) reuses its buffers
    const lens = [450_000 - 5, 70_001, 12];
    const offsets = new Float64Array(lens.length + 1);
    lens.forEach((l, i) => (offsets[i + 1] = offsets[i]! + l));
    const tokens = new Int32Array(offsets[lens.length]!);
    for (let i = 0; i < tokens.length; i++) tokens[i] = (i * 7919) % 60000;
    const plan = planPad({ tokens, offsets }, Int32Array.from([2, 0, 1]), 450_000, 'split', 65535);
    const seqs = Int32Array.from([1, 0, 2].filter((s) => s < plan.numSeqs));
    // naive: every sequence's segments in order, then padding to its length
    const expected: number[] = [];
    for (const s of seqs) {
      const start = expected.length;
      for (let g = plan.seqFirstSeg[s]!; g < plan.seqFirstSeg[s + 1]!; g++) for (let t = 0; t < plan.segLen[g]!; t++) expected.push(tokens[plan.segStart[g]! + t]!);
      while (expected.length < start + plan.seqLength[s]!) expected.push(65535);
    }
    const dir = mkdtempSync(join(work, 'ws-'));
    for (const [dtype, mode] of [['u16', 'sync'], ['u32', 'sync'], ['u16', 'async'], ['u32', 'async']] as const) {
      const name = 'x' + dtype + mode;
      const e = mode === 'sync' ? writeShard(dir, name, plan, tokens, seqs, dtype) : await writeShardAsync(dir, name, plan, tokens, seqs, dtype);
      const raw = readFileSync(join(dir, name + '.tok'));
      const got = dtype === 'u16' ? new Uint16Array(raw.buffer, raw.byteOffset, raw.length / 2) : new Uint32Array(raw.buffer, raw.byteOffset, raw.length / 4);
      expect(e.tokens).toBe(expected.length);
      expect(got.length).toBe(expected.length);
      let mismatches = 0;
      for (let i = 0; i < expected.length; i++) if (got[i] !== expected[i]) mismatches++;
      expect(mismatches).toBe(0);
      expect(e.crc.tok).toBe(crc32Table(raw));
      expect(e.crc.seg).toBe(crc32Table(readFileSync(join(dir, name + '.seg'))));
      expect(e.segments).toBe(plan.seqFirstSeg[plan.numSeqs]!);
    }
  });
});
