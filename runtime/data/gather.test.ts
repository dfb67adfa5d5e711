import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultDataConfig } from './config.js';
import { buildShards, ShardReader } from './shards.js';
import { BatchBuffers, gatherBackend, materialize, materializeJs, planConcatChunk, planDecompose, planPad, planPrepack, type CorpusView, type PackedBatch, type SequencePlan } from './pack.js';
import { Rng } from './rng.js';
import { native, nativeAvailable } from '../native.js';

/** The reference: one token at a time, every array written element by element. */
function naiveGather(plan: SequencePlan, tokens: Int32Array, seqs: ArrayLike<number>): PackedBatch {
  const cu = [0];
  const tok: number[] = [];
  const doc: number[] = [];
  const pos: number[] = [];
  const mask: number[] = [];
  const segCu = [0];
  const segDoc: number[] = [];
  const segOffset: number[] = [];
  const segLength: number[] = [];
  for (let b = 0; b < seqs.length; b++) {
    const s = seqs[b]!;
    const base = tok.length;
    for (let g = plan.seqFirstSeg[s]!; g < plan.seqFirstSeg[s + 1]!; g++) {
      segDoc.push(plan.segDoc[g]!);
      segOffset.push(tok.length - base);
      segLength.push(plan.segLen[g]!);
      for (let t = 0; t < plan.segLen[g]!; t++) {
        pos.push(plan.positions === 'sequence' ? tok.length - base : t);
        tok.push(tokens[plan.segStart[g]! + t]!);
        doc.push(plan.segDoc[g]!);
        mask.push(1);
      }
    }
    while (tok.length < base + plan.seqLength[s]!) {
      pos.push(tok.length - base);
      tok.push(plan.padId);
      doc.push(-1);
      mask.push(0);
    }
    cu.push(tok.length);
    segCu.push(segDoc.length);
  }
  return {
    tokens: Int32Array.from(tok), cuSeqlens: Int32Array.from(cu), docIds: Int32Array.from(doc), positionIds: Int32Array.from(pos), lossMask: Uint8Array.from(mask),
    segCu: Int32Array.from(segCu), segDoc: Int32Array.from(segDoc), segOffset: Int32Array.from(segOffset), segLength: Int32Array.from(segLength),
  };
}

const plain = (b: PackedBatch): Record<string, number[]> => Object.fromEntries(Object.entries(b).map(([k, v]) => [k, [...(v as ArrayLike<number>)]]));

/** Random document lengths with many empty and length-1 documents. */
function randomCorpus(rng: Rng, n: number): CorpusView {
  const offsets = new Float64Array(n + 1);
  for (let d = 0; d < n; d++) {
    const r = rng.int(10);
    const len = r < 2 ? 0 : r < 4 ? 1 : 1 + rng.int(r < 8 ? 40 : 300);
    offsets[d + 1] = offsets[d]! + len;
  }
  const tokens = new Int32Array(offsets[n]!);
  for (let i = 0; i < tokens.length; i++) tokens[i] = rng.int(1 << 30);
  return { tokens, offsets };
}

/** A plan of random spans of the token stream: each sequence has 0..5 spans (of length 0, 1 or
 *  more, anywhere in the stream, documents included) and 0..7 tokens of padding. */
function randomPlan(rng: Rng, c: CorpusView, numSeqs: number, positions: 'sequence' | 'segment'): SequencePlan {
  const first = [0];
  const segDoc: number[] = [];
  const segStart: number[] = [];
  const segLen: number[] = [];
  const seqLength: number[] = [];
  const nDocs = c.offsets.length - 1;
  let packed = 0;
  for (let s = 0; s < numSeqs; s++) {
    const k = rng.int(6);
    let used = 0;
    for (let j = 0; j < k; j++) {
      const d = rng.int(nDocs);
      const n = c.offsets[d + 1]! - c.offsets[d]!;
      const off = n === 0 ? 0 : rng.int(n + 1);
      const r = rng.int(4);
      const len = r === 0 ? 0 : r === 1 ? Math.min(1, n - off) : rng.int(n - off + 1);
      segDoc.push(d);
      segStart.push(c.offsets[d]! + off);
      segLen.push(len);
      used += len;
    }
    first.push(segDoc.length);
    seqLength.push(used + rng.int(8));
    packed += used;
  }
  const sl = Int32Array.from(seqLength);
  return {
    kind: 'prepack', numSeqs, seqLength: sl, bucket: sl.slice(), seqFirstSeg: Int32Array.from(first), segDoc: Int32Array.from(segDoc), segStart: Float64Array.from(segStart),
    segLen: Int32Array.from(segLen), positions, padId: 7, tokensIn: packed, tokensPacked: packed, tokensDropped: 0, paddingTokens: sl.reduce((a, b) => a + b, 0) - packed,
  };
}

type Gather = (plan: SequencePlan, tokens: Int32Array, seqs: ArrayLike<number>, into?: BatchBuffers) => PackedBatch;
const hasNative = nativeAvailable() && typeof native()['dataGather'] === 'function';
const gathers: [string, Gather][] = [
  ['TypeScript', materializeJs],
  ['native, auto stores', (p, t, s, i) => materialize(p, t, s, i, { backend: 'native' })],
  ['native, streaming stores', (p, t, s, i) => materialize(p, t, s, i, { backend: 'native', store: 'stream' })],
  ['native, cached stores', (p, t, s, i) => materialize(p, t, s, i, { backend: 'native', store: 'cached' })],
  ['native, scalar build path', (p, t, s, i) => {
    native().setForceScalar(true);
    try { return materialize(p, t, s, i, { backend: 'native', store: 'stream' }); } finally { native().setForceScalar(false); }
  }],
];

describe.each(gathers)('bulk gather (%s) equals a naive per-token gather', (name, gather) => {
  const run = name === 'TypeScript' || hasNative ? it : it.skip;
  run('random spans, empty and length-1 documents, both position modes, fresh and reused buffers', () => {
    const rng = new Rng(41);
    const into = new BatchBuffers();
    for (let trial = 0; trial < 60; trial++) {
      const c = randomCorpus(rng, 1 + rng.int(60));
      const plan = randomPlan(rng, c, 1 + rng.int(20), trial % 2 === 0 ? 'sequence' : 'segment');
      // any subset, in any order, with repeats, or none
      const seqs = Array.from({ length: rng.int(2 * plan.numSeqs + 1) }, () => rng.int(plan.numSeqs));
      const want = plain(naiveGather(plan, c.tokens, seqs));
      expect(plain(gather(plan, c.tokens, seqs))).toEqual(want);
      // a reused buffer holds the previous (larger or smaller) batch's values: all must be overwritten
      expect(plain(gather(plan, c.tokens, seqs, into))).toEqual(want);
    }
  });
  run('every packer on corpora with empty and length-1 documents', () => {
    const rng = new Rng(42);
    const into = new BatchBuffers();
    for (let trial = 0; trial < 20; trial++) {
      const c = randomCorpus(rng, 5 + rng.int(80));
      const ord = rng.permutation(c.offsets.length - 1);
      const plans = [
        planConcatChunk(c, ord, 1 + rng.int(64), 3),
        planPad(c, ord, 1 + rng.int(64), (['truncate', 'split', 'drop'] as const)[trial % 3]!, 3),
        planDecompose(c, ord, 2, 64, trial % 2 === 0, trial),
        planPrepack(c, ord, 'longest', trial % 2 === 0 ? 'bfd' : 'ffd', rng.int(10), 3),
        planPrepack(c, ord, 128, 'bfd', 0, 3),
      ];
      for (const plan of plans) {
        const seqs = rng.permutation(plan.numSeqs);
        const want = plain(naiveGather(plan, c.tokens, seqs));
        expect(plain(gather(plan, c.tokens, seqs))).toEqual(want);
        expect(plain(gather(plan, c.tokens, seqs, into))).toEqual(want);
      }
    }
  });
  run('reused buffers: no allocation once warm, views of the same storage', () => {
    const c: CorpusView = { tokens: Int32Array.from([5, 6, 7, 8]), offsets: Float64Array.from([0, 1, 1, 4]) };
    const plan = planPad(c, Int32Array.from([0, 1, 2]), 4, 'truncate', 9);
    const into = new BatchBuffers();
    const a = gather(plan, c.tokens, [0, 2], into);
    expect([...a.tokens]).toEqual([5, 9, 9, 9, 6, 7, 8, 9]);
    expect([...a.positionIds]).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
    const buf = into.tokens.buffer;
    const b = gather(plan, c.tokens, [2], into);
    expect([...b.tokens]).toEqual([6, 7, 8, 9]);
    expect([...b.docIds]).toEqual([2, 2, 2, -1]);
    expect([...b.lossMask]).toEqual([1, 1, 1, 0]);
    expect(b.tokens.buffer).toBe(buf);
  });
});

describe('native gather', () => {
  const run = hasNative ? it : it.skip;
  run('is what materialize runs when the addon has it', () => {
    expect(gatherBackend()).toBe('native');
  });
  run('long spans at every alignment, streaming and cached stores agree with the reference', () => {
    const rng = new Rng(43);
    const offsets = new Float64Array(25);
    for (let d = 0; d < 24; d++) offsets[d + 1] = offsets[d]! + 1 + rng.int(2000);
    const tokens = new Int32Array(offsets[24]!);
    for (let i = 0; i < tokens.length; i++) tokens[i] = rng.int(1 << 30);
    const c: CorpusView = { tokens, offsets };
    for (const length of [7, 33, 1000, 4099]) {
      const plan = planConcatChunk(c, rng.permutation(24), length, 5);
      const seqs = rng.permutation(plan.numSeqs);
      const want = plain(naiveGather(plan, tokens, seqs));
      for (const store of ['stream', 'cached', 'auto'] as const) expect(plain(materialize(plan, tokens, seqs, undefined, { backend: 'native', store }))).toEqual(want);
    }
  });
  run('checks the plan before writing: spans outside the corpus, bad indices', () => {
    const c: CorpusView = { tokens: Int32Array.from([5, 6, 7, 8]), offsets: Float64Array.from([0, 1, 1, 4]) };
    const plan = planPad(c, Int32Array.from([0, 1, 2]), 4, 'truncate', 9);
    const into = new BatchBuffers();
    into.reserve(16, 4, 4);
    into.tokens.fill(-5);
    const bad = { ...plan, segStart: Float64Array.from(plan.segStart, () => 2) };
    expect(() => materialize(bad, c.tokens, [0, 2], into, { backend: 'native' })).toThrow(expect.objectContaining({ code: 'LMP_E_RANGE', message: expect.stringMatching(/outside the corpus/) }));
    expect([...into.tokens.subarray(0, 8)]).toEqual(Array(8).fill(-5));
    const short = { ...plan, seqLength: Int32Array.from([4, 4, 2]) };
    expect(() => materialize(short, c.tokens, [2], into, { backend: 'native' })).toThrow(expect.objectContaining({ code: 'LMP_E_RANGE', message: expect.stringMatching(/holds 3 tokens but its length is 2/) }));
    expect(() => materialize(plan, c.tokens, [3], into)).toThrow(/outside the plan's 3 sequences/);
    expect(() => materialize(plan, c.tokens, [0.5], into)).toThrow(/sequence index 0.5 .* outside the plan's 3 sequences/);
  });
});

describe('ShardReader bulk decode', () => {
  const work = mkdtempSync(join(tmpdir(), 'lmp-gather-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  it('u16 and u32 shards read back the same batches (EOT 256 vs 70000)', async () => {
    const root = join(work, 'corpus');
    cpSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'corpus'), root, { recursive: true });
    const readers: ShardReader[] = [];
    for (const eot of [256, 70000]) {
      const cfg = defaultDataConfig({
        root, sources: [{ kind: 'text', glob: 'moby-dick-*.txt', weight: 1 }], tokenizer: { kind: 'bytes', eot, appendEot: true },
        pack: { kind: 'prepack', capacity: 'longest', algorithm: 'bfd', group: 0 }, seed: 3,
      });
      const r = await buildShards(cfg, { outDir: join(work, 'out'), shardTokens: 4096 });
      readers.push(new ShardReader(r.dir));
    }
    const [a, b] = readers as [ShardReader, ShardReader];
    expect(a.index.dtype).toBe('u16');
    expect(b.index.dtype).toBe('u32');
    for (const { length, count } of a.buckets) {
      const seqs = Array.from({ length: count }, (_, i) => count - 1 - i);
      const x = plain(a.batch(length, seqs));
      const y = plain(b.batch(length, seqs));
      y.tokens = y.tokens!.map((t) => (t === 70000 ? 256 : t));
      expect(y).toEqual(x);
      // positions restart per prompt and count on through the padding
      const bx = a.batch(length, seqs);
      for (let j = 0; j < seqs.length; j++) {
        const base = bx.cuSeqlens[j]!;
        for (let g = bx.segCu[j]!; g < bx.segCu[j + 1]!; g++) {
          const o = base + bx.segOffset[g]!;
          expect([...bx.positionIds.subarray(o, o + bx.segLength[g]!)]).toEqual(Array.from({ length: bx.segLength[g]! }, (_, t) => t));
        }
      }
    }
  });
});
