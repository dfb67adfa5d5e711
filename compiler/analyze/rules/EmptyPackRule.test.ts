// The boundary is the runtime's: for each case the runtime's own loading, mixing and packing of
// the lowered data config (runtime/data) is run too, and the rule reports exactly when it
// yields no sequence (byte tokenizer, every file read: the counts are exact).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from '../../../grammar/index.js';
import { isHeldOut, loadCorpus, mixOrder } from '../../../runtime/data/corpus.js';
import { planPack } from '../../../runtime/data/pack.js';
import { bytesTokenizer } from '../../../runtime/data/tokenizers.js';
import type { DataConfig } from '../../../runtime/data/config.js';
import { lower } from '../../lower/index.js';
import { at, run, runAt } from '../test-helpers.js';
import { EmptyPackRule } from './EmptyPackRule.js';

const dir = mkdtempSync(join(tmpdir(), 'lmp-emptypack-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const put = (name: string, content: string | Buffer) => writeFileSync(join(dir, name), content);
put('a.txt', 'a'.repeat(100));
put('b.txt', 'b'.repeat(50));
put('bad.txt', Buffer.alloc(10, 0xff)); // 10 invalid bytes: 10 U+FFFD, 30 bytes of text
put('e1.txt', '');
put('e2.txt', '');
put('long.txt', 'c'.repeat(128));
put('big.txt', 'd'.repeat((1 << 20) + 10)); // over the read limit: counted as 3 x its size
put('p.jsonl', '{"text": "0123456789"}\n{"text": ""}\n{"text": "\\u00e9"}\n'); // 10 + 2 bytes (the empty one is dropped)
const file = join(dir, 'x.lmp');
writeFileSync(file, '');

const MODEL = 'model m {\n  arch llama(dim: 32, layers: 1, heads: 2, kv_heads: 1, ffn: 64)\n  vocab 257\n}\n';
const src = (data: string, use = 'train t {\n  model m\n  data d\n  steps 1\n}\n') => `${MODEL}data d {\n${data}}\n${use}`;
const check = (data: string, use?: string) => runAt(file, src(data, use), EmptyPackRule);

/** Sequences the runtime packs from data d (train side). */
async function runtimeSequences(data: string, split: 'train' | 'holdout' = 'train'): Promise<number> {
  const spec = lower(parse(src(data), file).program).decls.find((d) => d.kind === 'data')!.spec as { config: DataConfig };
  const cfg = { ...spec.config, root: dir };
  const tok = bytesTokenizer(256, cfg.tokenizer.appendEot);
  const corpus = await loadCorpus(cfg, tok, split);
  return planPack(corpus, mixOrder(corpus.source, cfg.sources.map((s) => s.weight), cfg.seed), cfg.pack, tok.eot, cfg.seed).numSeqs;
}

describe('EmptyPackRule', () => {
  it('concat_chunk over fewer tokens than one sequence: exactly where the runtime packs none', async () => {
    const d = (L: number) => `  source text("{a,b}.txt")\n  tokenizer bytes()\n  pack concat_chunk(${L})\n`;
    // 100 + 50 bytes + 2 EOT = 152 tokens
    const ds = check(d(153));
    expect(at(ds)).toEqual(['LMP0406@8:3']);
    expect(ds[0]!.message).toBe("data 'd' packs to no sequence: its documents hold 152 tokens (EOT included), fewer than one sequence of concat_chunk(153)");
    expect(ds[0]!.notes[0]!.span?.line).toBe(12);
    expect(await runtimeSequences(d(153))).toBe(0);
    expect(check(d(152))).toEqual([]);
    expect(await runtimeSequences(d(152))).toBe(1);
  });
  it('decompose: no document of min + 1 tokens', async () => {
    const d = (glob: string) => `  source text("${glob}")\n  tokenizer bytes()\n  pack decompose(min: 128, max: 256)\n`;
    expect(check(d('{a,b}.txt'))[0]!.message).toBe("data 'd' packs to no sequence: its longest document has 101 tokens (EOT included), and decompose(min: 128) cuts a piece only from a document of 129");
    expect(await runtimeSequences(d('{a,b}.txt'))).toBe(0);
    expect(check(d('{a,long}.txt'))).toEqual([]); // 128 + EOT = 129
    expect(await runtimeSequences(d('{a,long}.txt'))).toBe(1);
  });
  it('measures invalid UTF-8 as decoded (U+FFFD is 3 bytes), jsonl by its fields, and eot none', async () => {
    const bad = (L: number) => `  source text("bad.txt")\n  tokenizer bytes()\n  pack concat_chunk(${L})\n`;
    expect(at(check(bad(32)))).toEqual(['LMP0406@8:3']);
    expect(check(bad(31))).toEqual([]);
    expect([await runtimeSequences(bad(32)), await runtimeSequences(bad(31))]).toEqual([0, 1]);
    const jl = (L: number) => `  source jsonl("p.jsonl")\n  tokenizer bytes()\n  pack concat_chunk(${L})\n`;
    expect(at(check(jl(15)))).toEqual(['LMP0406@8:3']); // 10 + 1, 2 + 1
    expect(check(jl(14))).toEqual([]);
    expect([await runtimeSequences(jl(15)), await runtimeSequences(jl(14))]).toEqual([0, 1]);
    const noEot = `tokenizer t {\n  use bytes()\n  eot none\n}\n`;
    expect(runAt(file, noEot + src('  source text("a.txt")\n  tokenizer t\n  pack concat_chunk(101)\n'), EmptyPackRule)[0]!.message).toContain('hold 100 tokens');
  });
  it('several weighted sources: bounded by the upsampling of the mixture', async () => {
    // a: one doc of 101 tokens, weight 3; b: one of 51, weight 1: round(2 * 3/4) = 2 of a, round(0.5) = 1 of b
    const d = (L: number) => `  source text("a.txt") weight 3\n  source text("b.txt") weight 1\n  tokenizer bytes()\n  pack concat_chunk(${L})\n`;
    expect(check(d(254))[0]!.message).toBe("data 'd' packs to no sequence: its documents hold at most 253 tokens (EOT included), fewer than one sequence of concat_chunk(254)");
    expect(check(d(253))).toEqual([]);
    expect([await runtimeSequences(d(254)), await runtimeSequences(d(253))]).toEqual([0, 1]);
  });
  it('a large file counts as 3 bytes per byte; the default packer is concat_chunk(2048)', () => {
    const size = (1 << 20) + 10;
    const big = (L: number) => `  source text("big.txt")\n  tokenizer bytes()\n  pack concat_chunk(${L})\n`;
    expect(check(big(3 * size + 2))[0]!.message).toContain(`hold at most ${3 * size + 1} tokens`);
    expect(check(big(3 * size + 1))).toEqual([]);
    const dflt = check('  source text("b.txt")\n  tokenizer bytes()\n');
    expect(at(dflt)).toEqual(['LMP0406@5:6']);
    expect(dflt[0]!.message).toContain('fewer than one sequence of concat_chunk(2048) (the default packer)');
  });
  it('no document left: empty files, or a length filter that drops them all', async () => {
    expect(check('  source text("e*.txt")\n  tokenizer bytes()\n  pack pad(64)\n')[0]!.message).toBe("data 'd' packs to no sequence: no document is left: every file it reads is empty");
    const f = '  source text("{a,b}.txt")\n  tokenizer bytes()\n  filter length(min: 101)\n  pack pad(64)\n';
    expect(check(f)[0]!.message).toBe("data 'd' packs to no sequence: no document is left: the length filter drops all 2 of its documents");
    expect(await runtimeSequences(f)).toBe(0);
    expect(check(f.replace('min: 101', 'min: 100'))).toEqual([]);
  });
  it('pad(L, truncate: drop) and prepack(capacity: C) over documents all longer: exactly where the runtime packs none', async () => {
    const d = (pack: string, glob = '{a,b}.txt') => `  source text("${glob}")\n  tokenizer bytes()\n  pack ${pack}\n`;
    // a: 100 bytes + EOT = 101 tokens, b: 50 + EOT = 51
    const pad = check(d('pad(50, truncate: drop)'));
    expect(at(pad)).toEqual(['LMP0406@8:3']);
    expect(pad[0]!.message).toBe("data 'd' packs to no sequence: every document is longer than 50 tokens (the shortest has 51, EOT included), and pad(50, truncate: drop) drops each longer one");
    expect(pad[0]!.help).toBe('use a length of at least 51, or truncate: right to keep the first 50 tokens');
    expect(await runtimeSequences(d('pad(50, truncate: drop)'))).toBe(0);
    expect(check(d('pad(51, truncate: drop)'))).toEqual([]);
    expect(await runtimeSequences(d('pad(51, truncate: drop)'))).toBe(1);
    expect(check(d('pad(50)'))).toEqual([]);
    expect(await runtimeSequences(d('pad(50)'))).toBe(2);
    const pre = check(d('prepack(capacity: 50)'));
    expect(pre[0]!.message).toBe("data 'd' packs to no sequence: every document is longer than 50 tokens (the shortest has 51, EOT included), and prepack(capacity: 50) drops each longer one");
    expect(pre[0]!.help).toBe('use a capacity of at least 51, or capacity: longest');
    expect(await runtimeSequences(d('prepack(capacity: 50)'))).toBe(0);
    expect(check(d('prepack(capacity: 51)'))).toEqual([]);
    expect(await runtimeSequences(d('prepack(capacity: 51)'))).toBe(1);
    expect(check(d('prepack(capacity: longest)'))).toEqual([]);
    expect(await runtimeSequences(d('prepack(capacity: longest)'))).toBe(2);
    // no lower bound on the tokens: tiktoken (fewer tokens than bytes), a file counted by its size
    expect(check(d('prepack(capacity: 50)').replace('bytes()', 'tiktoken("gpt2")'))).toEqual([]);
    expect(check(d('pad(50, truncate: drop)', '{a,big}.txt'))).toEqual([]);
  });
  it('the side a perplexity task packs: by the runtime content hash of each document', async () => {
    const ev = 'eval e {\n  task perplexity(d.holdout)\n  using m\n}\n';
    const d = (h: string) => `  source text("{a,b,long}.txt")\n  tokenizer bytes()\n  holdout ${h}\n  pack concat_chunk(64)\n`;
    const none = check(d('1%'), ev);
    expect(none.map((x) => x.message)).toEqual(["data 'd.holdout' packs to no sequence: no document is left: holdout 1% holds out none of its 3 documents (by content hash)"]);
    expect(await runtimeSequences(d('1%'), 'holdout')).toBe(0);
    // a seed that holds out exactly the 50-byte document: 51 tokens, less than 64
    const seed = [...Array(200).keys()].find((s) => ['a', 'b', 'long'].map((n) => isHeldOut(Buffer.from(n === 'a' ? 'a'.repeat(100) : n === 'b' ? 'b'.repeat(50) : 'c'.repeat(128)), 0.5, s)).join() === 'false,true,false')!;
    expect(check(d(`50% seed ${seed}`), ev)[0]!.message).toBe("data 'd.holdout' packs to no sequence: its documents hold 51 tokens (EOT included), fewer than one sequence of concat_chunk(64)");
    expect(await runtimeSequences(d(`50% seed ${seed}`), 'holdout')).toBe(0);
    // the training side keeps the other two: 230 tokens, three sequences of 64
    expect(check(d(`50% seed ${seed}`))).toEqual([]);
    expect(await runtimeSequences(d(`50% seed ${seed}`), 'train')).toBe(3);
  });
  it('judges only packed data (a train, a perplexity task), bounded tokenizers, files on disk', () => {
    const d = '  source text("b.txt")\n  tokenizer bytes()\n  holdout 50%\n  pack concat_chunk(64)\n';
    expect(check(d, '')).toEqual([]);
    expect(at(check(d, 'eval e {\n  task perplexity(d.holdout)\n  using m\n}\n'))).toEqual(['LMP0406@9:3']);
    expect(check(d.replace('bytes()', 'hf("tokenizer.json")'))).toEqual([]);
    expect(at(check(d.replace('bytes()', 'tiktoken("gpt2")')))).toEqual(['LMP0406@9:3']);
    expect(run(src(d), EmptyPackRule)).toEqual([]);
  });
});
