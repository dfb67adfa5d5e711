// Materialized data: tokenize, pack and write shards under a cache key derived from the sources'
// content hashes and the config. Layout of a cache entry DIR/KEY/:
//
//   index.json          everything below plus `checksum` = CRC-32 of the JSON of the rest
//   b<L>-<i>.tok        tokens of bucket L, shard i (uint16 LE when the vocabulary fits, else uint32 LE)
//   b<L>-<i>.idx        float64 LE: numSeqs + 1 token offsets, then numSeqs + 1 segment offsets
//   b<L>-<i>.seg        int32 LE triples per segment: document id, offset in the sequence, length
//
// index.json records the CRC-32 of every file; a reader checks a shard's files the first time it
// touches that shard (streamed, never loading a whole shard) and a mismatch is a ShardCorruptError
// naming the file. Reads use positioned reads (readSync at an offset), so nothing is loaded whole.
// Writes go to a temporary folder renamed into place at the end (atomic on one file system).
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { promises as fsp } from 'node:fs';
import { endianness } from 'node:os';
import { join, relative, resolve } from 'node:path';
import type { DataConfig } from './config.js';
import { validateDataConfig } from './config.js';
import { loadCorpus, mixOrder, type CorpusStats } from './corpus.js';
import { crc32, Fnv1a64 } from './hash.js';
import { iotaFor, log2Histogram, planPack, type PackedBatch, type SequencePlan } from './pack.js';
import { Rng } from './rng.js';
import { sourceFiles } from './sources.js';
import { ensureDir } from '../fsutil.js';
import { loadTokenizer } from './tokenizers.js';

export const SHARD_FORMAT_VERSION = 1;
const LITTLE_ENDIAN = endianness() === 'LE';

export class ShardCorruptError extends Error {
  readonly code = 'LMP_E_SHARD_CORRUPT';
  constructor(message: string) {
    super(message);
    this.name = 'ShardCorruptError';
  }
}

export interface DataStats extends CorpusStats {
  /** Documents and tokens after the weighted mixture (what the packer sees). */
  documentsMixed: number;
  tokensMixed: number;
  sequences: number;
  /** Sequences per bucket length (decompose: 2^k; others: the sequence length). */
  perBucket: Record<string, number>;
  tokensPacked: number;
  /** Tokens the packer dropped (remainders, truncation, oversize prompts). */
  tokensDropped: number;
  paddingTokens: number;
  /** padding / (packed + padding). */
  paddingFraction: number;
  /** log2 histograms (index b counts lengths in [2^b, 2^(b+1))): document lengths before packing,
   *  real tokens per sequence after packing. */
  histogramBefore: number[];
  histogramAfter: number[];
}

interface ShardEntry {
  name: string;
  sequences: number;
  tokens: number;
  segments: number;
  crc: { tok: number; idx: number; seg: number };
}

export interface ShardIndex {
  version: number;
  key: string;
  config: DataConfig;
  tokenizer: { id: string; vocabSize: number; eot: number };
  dtype: 'u16' | 'u32';
  padId: number;
  positions: 'sequence' | 'segment';
  buckets: { length: number; sequences: number; shards: ShardEntry[] }[];
  stats: DataStats;
  checksum?: number;
}

export interface BuildOptions {
  outDir: string;
  /** Tokens per shard file (default 16 Mi). */
  shardTokens?: number;
  split?: 'train' | 'holdout';
  onProgress?: (phase: string, done: number, total: number) => void;
}

export interface BuildResult {
  dir: string;
  key: string;
  reused: boolean;
  index: ShardIndex;
}

function hashFile(h: Fnv1a64, file: string): void {
  const fd = openSync(file, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
}

/** Cache key: FNV-1a 64 of the format version, the config (without `root`), the split, and every
 *  source file's path (relative to root) and bytes. */
export function cacheKey(cfg: DataConfig, split: 'train' | 'holdout' = 'train'): string {
  const h = new Fnv1a64();
  const { root, ...rest } = cfg;
  h.updateString(JSON.stringify({ v: SHARD_FORMAT_VERSION, split, cfg: rest }));
  if (cfg.tokenizer.kind === 'huggingface') hashFile(h, resolve(root, cfg.tokenizer.path)); // an absolute path stays absolute, as loadTokenizer reads it
  for (const src of cfg.sources) {
    for (const f of sourceFiles(src, root)) {
      h.updateString('\0' + relative(root, f) + '\0');
      hashFile(h, f);
    }
  }
  return h.hex();
}

function indexChecksum(ix: ShardIndex): number {
  const { checksum: _c, ...body } = ix;
  return crc32(Buffer.from(JSON.stringify(body)));
}

function readIndex(dir: string): ShardIndex {
  const file = join(dir, 'index.json');
  let ix: ShardIndex;
  try {
    ix = JSON.parse(readFileSync(file, 'utf8')) as ShardIndex;
  } catch (e) {
    throw new ShardCorruptError(`${file}: unreadable shard index (${(e as Error).message})`);
  }
  if (ix.version !== SHARD_FORMAT_VERSION) throw new ShardCorruptError(`${file}: format version ${ix.version}, expected ${SHARD_FORMAT_VERSION}`);
  if (indexChecksum(ix) !== ix.checksum) throw new ShardCorruptError(`${file}: index checksum mismatch (the index was modified or truncated)`);
  return ix;
}

function writeAll(file: string, bytes: Uint8Array): number {
  const fd = openSync(file, 'w');
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
  } finally {
    closeSync(fd);
  }
  return crc32(bytes);
}

/** Tokens per staging chunk of writeShard (1 MiB of u32: stays in cache between gather, CRC and write). */
const STAGE_TOKENS = 1 << 18;
/** Positioned .tok writes writeShardAsync keeps in flight (libuv's pool has 4 threads by default). */
const WRITES_IN_FLIGHT = 3;

export interface Gathered {
  idx: Float64Array;
  seg: Int32Array;
  tokens: number;
  segments: number;
}

/** Gather the tokens of `seqs` (segments, then padding) into `ring` staging chunks used in turn and
 *  yield each full chunk's bytes; the consumer must be done with chunk k before asking for chunk
 *  k + ring (which reuses its buffer). Returns .idx/.seg. Bulk copies only: one `set` per segment
 *  piece (a piece ends at a segment's or a chunk's end), one `fill` per padding run. Exported for
 *  bench/data (the gather measured without the CRC and the file writes). */
export function* gatherChunks(plan: SequencePlan, tokens: Int32Array, seqs: ArrayLike<number>, dtype: 'u16' | 'u32', ring = 2): Generator<Uint8Array, Gathered, void> {
  let S = 0;
  for (let j = 0; j < seqs.length; j++) {
    const s = seqs[j]!;
    S += plan.seqFirstSeg[s + 1]! - plan.seqFirstSeg[s]!;
  }
  const mk = (): Uint16Array | Int32Array => (dtype === 'u16' ? new Uint16Array(STAGE_TOKENS) : new Int32Array(STAGE_TOKENS));
  const stages = Array.from({ length: ring }, mk);
  let which = 0;
  let stage = stages[0]!;
  const bpt = stage.BYTES_PER_ELEMENT;
  const idx = new Float64Array(2 * (seqs.length + 1));
  const seg = new Int32Array(3 * S);
  let fill = 0; // tokens in the staging chunk
  const take = (): Uint8Array => {
    const bytes = new Uint8Array(stage.buffer, 0, fill * bpt);
    which = (which + 1) % ring;
    stage = stages[which]!;
    fill = 0;
    return bytes;
  };
  let at = 0;
  let g = 0;
  for (let j = 0; j < seqs.length; j++) {
    const s = seqs[j]!;
    idx[j] = at;
    idx[seqs.length + 1 + j] = g;
    const base = at;
    for (let k = plan.seqFirstSeg[s]!; k < plan.seqFirstSeg[s + 1]!; k++) {
      let st = plan.segStart[k]!;
      const len = plan.segLen[k]!;
      seg[3 * g] = plan.segDoc[k]!;
      seg[3 * g + 1] = at - base;
      seg[3 * g + 2] = len;
      g++;
      at += len;
      const end = st + len;
      while (st < end) {
        const n = Math.min(end - st, STAGE_TOKENS - fill);
        // Int32 -> Int32 is a plain copy (u32 output is the same bytes); Int32 -> Uint16 narrows
        stage.set(tokens.subarray(st, st + n), fill);
        fill += n;
        st += n;
        if (fill === STAGE_TOKENS) yield take();
      }
    }
    const end = base + plan.seqLength[s]!;
    while (at < end) {
      const n = Math.min(end - at, STAGE_TOKENS - fill);
      stage.fill(plan.padId, fill, fill + n);
      fill += n;
      at += n;
      if (fill === STAGE_TOKENS) yield take();
    }
  }
  if (fill > 0) yield take();
  idx[seqs.length] = at;
  idx[2 * seqs.length + 1] = g;
  return { idx, seg, tokens: at, segments: S };
}

const u8 = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Write the sequences `seqs` of `plan` as one shard; returns its index entry. Tokens are gathered
 *  into a fixed staging chunk (a plain copy when dtype is u32: the Int32 corpus is viewed as the
 *  same bytes; a narrowing copy for u16), CRC'd and written per chunk: memory is bounded by the
 *  chunks plus the shard's .idx/.seg arrays, never a whole shard of tokens. */
export function writeShard(dir: string, name: string, plan: SequencePlan, tokens: Int32Array, seqs: ArrayLike<number>, dtype: 'u16' | 'u32'): ShardEntry {
  const fd = openSync(join(dir, name + '.tok'), 'w');
  let crcTok = 0;
  let r: Gathered;
  try {
    const it = gatherChunks(plan, tokens, seqs, dtype);
    for (;;) {
      const c = it.next();
      if (c.done) {
        r = c.value;
        break;
      }
      const bytes = c.value;
      crcTok = crc32(bytes, crcTok);
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    }
  } finally {
    closeSync(fd);
  }
  return {
    name, sequences: seqs.length, tokens: r.tokens, segments: r.segments,
    crc: { tok: crcTok, idx: writeAll(join(dir, name + '.idx'), u8(r.idx)), seg: writeAll(join(dir, name + '.seg'), u8(r.seg)) },
  };
}

/** writeShard with the file writes in the background (libuv's thread pool): positioned writes of up
 *  to WRITES_IN_FLIGHT chunks run while the next chunk is gathered and CRC'd. Same files, same entry. */
export async function writeShardAsync(dir: string, name: string, plan: SequencePlan, tokens: Int32Array, seqs: ArrayLike<number>, dtype: 'u16' | 'u32'): Promise<ShardEntry> {
  const fh = await fsp.open(join(dir, name + '.tok'), 'w');
  let crcTok = 0;
  let r: Gathered;
  const pending: Promise<void>[] = [];
  let pos = 0;
  const writeAt = async (bytes: Uint8Array, at: number): Promise<void> => {
    let off = 0;
    while (off < bytes.length) off += (await fh.write(bytes, off, bytes.length - off, at + off)).bytesWritten;
  };
  try {
    // ring = writes in flight + the chunk being gathered
    const it = gatherChunks(plan, tokens, seqs, dtype, WRITES_IN_FLIGHT + 1);
    for (;;) {
      if (pending.length === WRITES_IN_FLIGHT) await pending.shift(); // frees the buffer the next chunk reuses
      const c = it.next();
      if (c.done) {
        r = c.value;
        break;
      }
      const bytes = c.value;
      crcTok = crc32(bytes, crcTok);
      pending.push(writeAt(bytes, pos));
      pos += bytes.length;
    }
    await Promise.all(pending);
  } finally {
    await Promise.allSettled(pending);
    await fh.close();
  }
  return {
    name, sequences: seqs.length, tokens: r.tokens, segments: r.segments,
    crc: { tok: crcTok, idx: writeAll(join(dir, name + '.idx'), u8(r.idx)), seg: writeAll(join(dir, name + '.seg'), u8(r.seg)) },
  };
}

/** Tokenize, pack and write shards for `cfg` (or reuse the cache entry when nothing changed). */
export async function buildShards(cfg: DataConfig, opts: BuildOptions): Promise<BuildResult> {
  validateDataConfig(cfg);
  const split = opts.split ?? 'train';
  const key = cacheKey(cfg, split);
  const dir = join(opts.outDir, key);
  if (existsSync(join(dir, 'index.json'))) return { dir, key, reused: true, index: readIndex(dir) };
  const tok = await loadTokenizer(cfg.tokenizer, cfg.root);
  let readBytes = 0;
  const corpus = await loadCorpus(cfg, tok, split, (b) => opts.onProgress?.('read', (readBytes += b), 0));
  const order = mixOrder(corpus.source, cfg.sources.map((s) => s.weight), cfg.seed);
  // per-source mixed counts
  for (let i = 0; i < order.length; i++) corpus.stats.perSource[corpus.source[order[i]!]!]!.mixedDocuments++;
  const plan = planPack(corpus, order, cfg.pack, tok.eot, cfg.seed);
  const dtype: 'u16' | 'u32' = tok.vocabSize <= 65536 && plan.padId < 65536 ? 'u16' : 'u32';
  const tmp = join(opts.outDir, `.tmp-${key}-${process.pid}-${new Rng(Date.now()).u32().toString(16)}`);
  ensureDir(tmp);
  try {
    // group sequences by bucket; shuffle within a bucket (seeded) so shards are mixed
    const byBucket = new Map<number, number[]>();
    for (let s = 0; s < plan.numSeqs; s++) {
      const len = plan.kind === 'decompose' ? 2 ** plan.bucket[s]! : plan.seqLength[s]!;
      let l = byBucket.get(len);
      if (!l) byBucket.set(len, (l = []));
      l.push(s);
    }
    const shardTokens = opts.shardTokens ?? 16 << 20;
    const buckets: ShardIndex['buckets'] = [];
    const after: number[] = [];
    let written = 0;
    for (const [length, seqsList] of [...byBucket.entries()].sort((a, b) => a[0] - b[0])) {
      const seqs = new Rng(cfg.seed, 0x7368, length).shuffle(Int32Array.from(seqsList));
      const shards: ShardEntry[] = [];
      let from = 0;
      while (from < seqs.length) {
        let to = from;
        let t = 0;
        while (to < seqs.length && (to === from || t + plan.seqLength[seqs[to]!]! <= shardTokens)) t += plan.seqLength[seqs[to++]!]!;
        shards.push(await writeShardAsync(tmp, `b${length}-${shards.length}`, plan, corpus.tokens, seqs.subarray(from, to), dtype));
        written += to - from;
        opts.onProgress?.('write', written, plan.numSeqs);
        from = to;
      }
      buckets.push({ length, sequences: seqs.length, shards });
    }
    for (let s = 0; s < plan.numSeqs; s++) {
      let real = 0;
      for (let g = plan.seqFirstSeg[s]!; g < plan.seqFirstSeg[s + 1]!; g++) real += plan.segLen[g]!;
      after.push(real);
    }
    const docLens: number[] = [];
    for (let i = 0; i < order.length; i++) docLens.push(corpus.offsets[order[i]! + 1]! - corpus.offsets[order[i]!]!);
    const stats: DataStats = {
      ...corpus.stats,
      documentsMixed: order.length,
      tokensMixed: docLens.reduce((a, b) => a + b, 0),
      sequences: plan.numSeqs,
      perBucket: Object.fromEntries(buckets.map((b) => [String(b.length), b.sequences])),
      tokensPacked: plan.tokensPacked,
      tokensDropped: plan.tokensDropped,
      paddingTokens: plan.paddingTokens,
      paddingFraction: plan.paddingTokens / Math.max(1, plan.tokensPacked + plan.paddingTokens),
      histogramBefore: log2Histogram(docLens),
      histogramAfter: log2Histogram(after),
    };
    const index: ShardIndex = { version: SHARD_FORMAT_VERSION, key, config: cfg, tokenizer: { id: tok.id, vocabSize: tok.vocabSize, eot: tok.eot }, dtype, padId: plan.padId, positions: plan.positions, buckets, stats };
    index.checksum = indexChecksum(index);
    writeFileSync(join(tmp, 'index.json'), JSON.stringify(index));
    try {
      renameSync(tmp, dir);
    } catch (e) {
      // another process finished the same key first: keep its entry
      if (existsSync(join(dir, 'index.json'))) {
        rmSync(tmp, { recursive: true, force: true });
        return { dir, key, reused: true, index: readIndex(dir) };
      }
      throw e;
    }
    return { dir, key, reused: false, index };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** One sequence read back from shards. */
export interface ShardSequence {
  tokens: Int32Array;
  /** Segments: document id, offset in the sequence, length. */
  segments: Int32Array;
}

/** Random access to a shard cache entry without loading it; checksums are verified per shard on first use. */
export class ShardReader {
  readonly index: ShardIndex;
  private readonly verified = new Set<string>();
  private readonly bucketByLength = new Map<number, ShardIndex['buckets'][number]>();

  constructor(readonly dir: string, private readonly verify = true) {
    this.index = readIndex(dir);
    for (const b of this.index.buckets) this.bucketByLength.set(b.length, b);
  }

  get buckets(): { length: number; count: number }[] {
    return this.index.buckets.map((b) => ({ length: b.length, count: b.sequences }));
  }

  private checkFile(name: string, expected: number, size: number): void {
    const file = join(this.dir, name);
    if (!existsSync(file)) throw new ShardCorruptError(`${file}: shard file missing`);
    const fd = openSync(file, 'r');
    try {
      if (fstatSync(fd).size !== size) throw new ShardCorruptError(`${file}: size ${fstatSync(fd).size}, index says ${size} (truncated or corrupt shard)`);
      const buf = Buffer.allocUnsafe(1 << 20);
      let c = 0;
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, null);
        if (n === 0) break;
        c = crc32(buf.subarray(0, n), c);
      }
      if (c !== expected) throw new ShardCorruptError(`${file}: CRC-32 ${c.toString(16)} does not match the index (${expected.toString(16)}): corrupt shard`);
    } finally {
      closeSync(fd);
    }
  }

  private checkShard(sh: ShardEntry): void {
    if (!this.verify || this.verified.has(sh.name)) return;
    const w = this.index.dtype === 'u16' ? 2 : 4;
    this.checkFile(sh.name + '.tok', sh.crc.tok, sh.tokens * w);
    this.checkFile(sh.name + '.idx', sh.crc.idx, 16 * (sh.sequences + 1));
    this.checkFile(sh.name + '.seg', sh.crc.seg, 12 * sh.segments);
    this.verified.add(sh.name);
  }

  private pread(name: string, bytes: number, pos: number): Buffer {
    const fd = openSync(join(this.dir, name), 'r');
    try {
      const buf = Buffer.allocUnsafe(bytes);
      let got = 0;
      while (got < bytes) {
        const n = readSync(fd, buf, got, bytes - got, pos + got);
        if (n === 0) throw new ShardCorruptError(`${join(this.dir, name)}: unexpected end of file`);
        got += n;
      }
      return buf;
    } finally {
      closeSync(fd);
    }
  }

  /** Sequence i (0-based, in bucket order) of the bucket with the given length. */
  sequence(length: number, i: number): ShardSequence {
    const b = this.bucketByLength.get(length);
    if (!b) throw new RangeError(`no bucket of length ${length} (have ${[...this.bucketByLength.keys()].join(', ')})`);
    if (!(i >= 0 && i < b.sequences)) throw new RangeError(`sequence ${i} outside bucket ${length} (0..${b.sequences - 1})`);
    let sh = b.shards[0]!;
    let j = i;
    for (const s of b.shards) {
      sh = s;
      if (j < s.sequences) break;
      j -= s.sequences;
    }
    this.checkShard(sh);
    const n = sh.sequences;
    const off = this.pread(sh.name + '.idx', 16, 8 * j);
    const segOff = this.pread(sh.name + '.idx', 16, 8 * (n + 1 + j));
    const t0 = off.readDoubleLE(0);
    const t1 = off.readDoubleLE(8);
    const g0 = segOff.readDoubleLE(0);
    const g1 = segOff.readDoubleLE(8);
    const w = this.index.dtype === 'u16' ? 2 : 4;
    const raw = this.pread(sh.name + '.tok', (t1 - t0) * w, t0 * w);
    const tokens = new Int32Array(t1 - t0);
    if (LITTLE_ENDIAN) {
      // the file is little-endian like the typed arrays here: one widening (u16) or plain (u32) copy
      const aligned = raw.byteOffset % w === 0 ? raw : Buffer.from(raw);
      tokens.set(w === 2 ? new Uint16Array(aligned.buffer, aligned.byteOffset, tokens.length) : new Int32Array(aligned.buffer, aligned.byteOffset, tokens.length));
    } else for (let t = 0; t < tokens.length; t++) tokens[t] = w === 2 ? raw.readUInt16LE(2 * t) : raw.readUInt32LE(4 * t);
    const sraw = this.pread(sh.name + '.seg', (g1 - g0) * 12, g0 * 12);
    const segments = new Int32Array(sraw.buffer.slice(sraw.byteOffset, sraw.byteOffset + sraw.byteLength));
    return { tokens, segments };
  }

  /** A PackedBatch of the given sequences of one bucket (same layout as pack.ts `materialize`). */
  batch(length: number, seqs: ArrayLike<number>): PackedBatch {
    const items = Array.from({ length: seqs.length }, (_, j) => this.sequence(length, seqs[j]!));
    const cu = new Int32Array(items.length + 1);
    let nSeg = 0;
    items.forEach((it, j) => {
      cu[j + 1] = cu[j]! + it.tokens.length;
      nSeg += it.segments.length / 3;
    });
    const T = cu[items.length]!;
    const out: PackedBatch = {
      tokens: new Int32Array(T), cuSeqlens: cu, docIds: new Int32Array(T).fill(-1), positionIds: new Int32Array(T), lossMask: new Uint8Array(T),
      segCu: new Int32Array(items.length + 1), segDoc: new Int32Array(nSeg), segOffset: new Int32Array(nSeg), segLength: new Int32Array(nSeg),
    };
    let si = 0;
    let longest = 0;
    for (const it of items) longest = Math.max(longest, it.tokens.length);
    const pos = iotaFor(longest);
    items.forEach((it, j) => {
      const base = cu[j]!;
      out.tokens.set(it.tokens, base);
      out.positionIds.set(pos.subarray(0, it.tokens.length), base);
      for (let g = 0; g < it.segments.length; g += 3) {
        const doc = it.segments[g]!;
        const o = it.segments[g + 1]!;
        const len = it.segments[g + 2]!;
        out.docIds.fill(doc, base + o, base + o + len);
        out.lossMask.fill(1, base + o, base + o + len);
        if (this.index.positions === 'segment') out.positionIds.set(pos.subarray(0, len), base + o);
        out.segDoc[si] = doc;
        out.segOffset[si] = o;
        out.segLength[si] = len;
        si++;
      }
      out.segCu[j + 1] = si;
    });
    return out;
  }
}
