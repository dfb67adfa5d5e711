// `lmpc explain`'s report: the cost model applied to every train, attention and decode of a file.
// Plain JSON-able data; render.ts prints it as tables, svg.ts draws it.
import { dirname } from 'node:path';
import { check } from '../index.js';
import type { MaskIR, AttentionMaskIR } from '../../runtime/mask/ir.js';
import { maskForHead } from '../../runtime/mask/classify.js';
import { usesDocuments } from '../../runtime/mask/eval.js';
import { density as maskDensity, tileStats } from '../../runtime/mask/checks.js';
import { Rng } from '../../runtime/data/rng.js';
import { readSource } from '../../runtime/data/sources.js';
import {
  attentionAt,
  bucketMix,
  causalDensity,
  equivalentContext,
  keptBound,
  keptPositions,
  kvBytesPerToken,
  packBuckets,
  parameterCount,
  tokenFlopsPerToken,
  trainCost,
  baselineStep,
  type ModelShape,
  type PackInput,
  type StepCost,
  type TrainCost,
} from './cost.js';
import { lower } from '../lower/index.js';
import { explainInputs, type AttentionInput, type DataInput, type ModelInput } from './inputs.js';
import { LENGTH_FIXTURES } from './fixtures/lengths.js';

export interface ExplainOptions {
  /** Bytes per element for memory figures (4: float32, the CPU runtime's training dtype). */
  readonly bytes?: number;
  /** Document lengths to use for every data block: a fixture name or explicit lengths. */
  readonly lengths?: string | { readonly name: string; readonly lengths: readonly number[] };
  /** Read the data's sources from disk when they exist (bytes tokenizer only). Default true. */
  readonly readSources?: boolean;
}

export interface LengthsInfo {
  readonly source: string;
  readonly documents: number;
  readonly tokens: number;
}

export interface BucketRow extends StepCost {
  /** Sequences of this length the packer makes from the data. */
  readonly available: number;
  /** Share of the packed tokens in this bucket. */
  readonly tokenShare: number;
}

export interface TrainReport {
  readonly name: string;
  readonly model: string;
  readonly data: string;
  readonly packer: string;
  readonly curriculum: string;
  readonly tokensPerStep: number;
  readonly steps: number | undefined;
  readonly lengths: LengthsInfo;
  readonly packed: { readonly tokensIn: number; readonly tokensKept: number; readonly tokensDropped: number };
  readonly mix: { readonly how: string; readonly stepsPerPass: number | undefined };
  readonly mask: string;
  readonly buckets: readonly BucketRow[];
  readonly mean: TrainCost['mean'];
  /** Concat-and-chunk (causal, no document mask) at the longest length of this train. */
  readonly baseline: StepCost;
  readonly ratio: TrainCost['ratio'];
  /** The same comparison against concat-and-chunk at other lengths (2k and the max). */
  readonly baselines: readonly { readonly length: number; readonly attentionFlops: number; readonly totalFlops: number; readonly ratio: TrainCost['ratio'] }[];
  /** The concat-and-chunk context with the same attention cost per step. */
  readonly equivalentContext: number;
  readonly notes: readonly string[];
}

export interface AttentionReport {
  readonly name: string;
  readonly mask: string;
  readonly tile: number;
  readonly heads: number | undefined;
  readonly at: readonly { readonly length: number; readonly density: number; readonly empty: number; readonly full: number; readonly partial: number; readonly tiles: number }[];
  readonly lengthsFrom: string;
  readonly kv: readonly { readonly model: string; readonly bytesPerToken: number }[];
  readonly cache: { readonly policy: string; readonly bound: number | undefined; readonly keptAt: readonly { readonly length: number; readonly kept: number }[] };
  readonly notes: readonly string[];
}

export interface DecodeReport {
  readonly name: string;
  readonly model: string | undefined;
  readonly chain: readonly { readonly sampler: string; readonly role: string; readonly state: string }[];
  readonly warnings: readonly string[];
  readonly kvBytesPerToken: number | undefined;
  readonly maxTokens: number | undefined;
}

export interface ModelReport {
  readonly name: string;
  readonly shape: ModelShape | undefined;
  readonly parameters: number | undefined;
  readonly matmulParameters: number | undefined;
  readonly flopsPerToken: { readonly forward: number; readonly train: number } | undefined;
  readonly kvBytesPerToken: number | undefined;
  readonly note: string | undefined;
}

export interface ExplainReport {
  readonly file: string;
  readonly bytesPerElement: number;
  readonly models: readonly ModelReport[];
  readonly trains: readonly TrainReport[];
  readonly attentions: readonly AttentionReport[];
  readonly decodes: readonly DecodeReport[];
  /** The Dataset Decomposition comparison, one per train that packs with decompose. */
  readonly datasetDecomposition: readonly DDClaim[];
  /** Blocks explain could not cost, with the reason. */
  readonly skipped: readonly string[];
}

/** Dataset Decomposition vs concat-and-chunk, attention FLOPs per step (equal tokens per step). */
export interface DDClaim {
  readonly train: string;
  readonly max: number;
  /** With the curriculum's step mix (one pass of the runtime curriculum). */
  readonly vsMax: number;
  readonly vs2k: number;
  readonly equivalentContext: number;
  /** With every packed token trained once (step mix = token share per bucket; no per-cycle floors). */
  readonly tokenWeighted: { readonly vsMax: number; readonly vs2k: number; readonly equivalentContext: number };
  readonly lengths: string;
}

export class ExplainError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(message);
    this.name = 'ExplainError';
  }
}

const DEFAULT_FIXTURE = 'sotu';
const DEFAULT_LENGTHS = [1024, 4096, 16384];

/** Mean density over the heads of an attention (each head group weighs by its head count). */
function headMasks(masks: AttentionMaskIR, heads: number | undefined): { mask: MaskIR; weight: number }[] {
  const H = heads ?? (masks.groups.length ? Math.max(...masks.groups.map((g) => g.to)) + 1 : 1);
  const byKey = new Map<string, { mask: MaskIR; weight: number }>();
  for (let h = 0; h < H; h++) {
    const m = masks.groups.length || masks.default ? maskForHead(masks, h) : ({ op: 'full' } as MaskIR);
    const key = JSON.stringify(m);
    const e = byKey.get(key);
    if (e) e.weight++;
    else byKey.set(key, { mask: m, weight: 1 });
  }
  return [...byKey.values()].map((e) => ({ mask: e.mask, weight: e.weight / H }));
}

async function sourceLengths(d: DataInput, root: string): Promise<number[] | undefined> {
  if (!d.bytesTokenizer || d.sourceConfigs.length === 0) return undefined;
  const out: number[] = [];
  try {
    for (const s of d.sourceConfigs) {
      for await (const doc of readSource(s, root, { malformedLines: 0, missingField: 0 })) {
        out.push((doc.bytes ? doc.bytes.length : Buffer.byteLength(doc.text ?? '', 'utf8')) + 1);
      }
    }
  } catch {
    return undefined;
  }
  return out.length ? out : undefined;
}

async function lengthsFor(d: DataInput, root: string, opts: ExplainOptions): Promise<{ lengths: readonly number[]; info: LengthsInfo; note?: string }> {
  const info = (source: string, l: readonly number[]): LengthsInfo => ({ source, documents: l.length, tokens: l.reduce((a, b) => a + b, 0) });
  if (opts.lengths !== undefined) {
    if (typeof opts.lengths !== 'string') return { lengths: opts.lengths.lengths, info: info(opts.lengths.name, opts.lengths.lengths) };
    const names = opts.lengths.split('+');
    const all: number[] = [];
    for (const n of names) {
      const f = LENGTH_FIXTURES[n];
      if (!f) throw new ExplainError(`unknown length fixture '${n}' (have ${Object.keys(LENGTH_FIXTURES).join(', ')})`, 2);
      all.push(...f.lengths);
    }
    return { lengths: all, info: info(`fixture ${opts.lengths} (${names.map((n) => LENGTH_FIXTURES[n]!.source).join(', ')}; bytes tokenizer)`, all) };
  }
  if (opts.readSources !== false) {
    const l = await sourceLengths(d, root);
    if (l) return { lengths: l, info: info(`the data's sources on disk (${d.sources.join(', ')}), bytes + EOT`, l) };
  }
  const f = LENGTH_FIXTURES[DEFAULT_FIXTURE]!;
  return {
    lengths: f.lengths,
    info: info(`fixture ${DEFAULT_FIXTURE} (${f.source}; bytes tokenizer)`, f.lengths),
    note: `the sources of ${d.name} (${d.sources.join(', ') || 'none'}) are not readable here${d.bytesTokenizer ? '' : ' or the tokenizer is not bytes()'}; document lengths come from the committed fixture '${DEFAULT_FIXTURE}' (${f.description})`,
  };
}

/** Document ids of `n` concat-and-chunk sequences of `length`, evenly spaced over the documents
 *  of `lengths` concatenated in a seeded order (the runtime's order differs; the layout statistics
 *  are what matter). */
function concatDocIds(lengths: readonly number[], length: number, n: number, seed: number): Int32Array[] {
  const order = new Rng(seed, 0x63636b).permutation(lengths.length);
  const starts: number[] = [0];
  for (let i = 0; i < order.length; i++) starts.push(starts[i]! + lengths[order[i]!]!);
  const seqs = Math.floor(starts[starts.length - 1]! / length);
  const out: Int32Array[] = [];
  let d = 0;
  for (let j = 0; j < Math.min(n, seqs); j++) {
    const s0 = Math.floor((j * seqs) / Math.min(n, seqs)) * length;
    while (starts[d + 1]! <= s0) d++;
    const ids = new Int32Array(length);
    let e = d;
    for (let p = 0; p < length; p++) {
      while (starts[e + 1]! <= s0 + p) e++;
      ids[p] = e;
    }
    out.push(ids);
  }
  return out;
}

/** Density and computed-tile fraction of a train's sequences of length T under the attention's masks. */
function bucketDensity(att: AttentionInput | undefined, heads: number, T: number, pack: PackInput, lengths: readonly number[]): { density: number; computed: number | undefined; note?: string } {
  if (!att) return { density: causalDensity(T), computed: undefined, note: 'the model names no attention: causal assumed' };
  const hm = headMasks(att.masks, heads);
  const docs = hm.some((h) => usesDocuments(h.mask));
  let layouts: (Int32Array | undefined)[] = [undefined];
  let note: string | undefined;
  if (docs && (pack.kind === 'concat_chunk' || pack.kind === 'prepack')) {
    layouts = concatDocIds(lengths, T, 8, 0);
    if (!layouts.length) layouts = [undefined];
    note = `same_document over concatenated documents: density averaged over ${layouts.length} sequences of the real data`;
  }
  let density = 0, computed = 0;
  for (const { mask, weight } of hm) {
    for (const ids of layouts) {
      density += (weight / layouts.length) * maskDensity(mask, T, ids, att.tile);
      computed += (weight / layouts.length) * tileStats(mask, T, att.tile, ids).computedFraction;
    }
  }
  return { density, computed, ...(note ? { note } : {}) };
}

export async function explainSource(src: string, file: string, opts: ExplainOptions = {}): Promise<ExplainReport> {
  const bytes = opts.bytes ?? 4;
  const res = check(src, file);
  const errors = res.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new ExplainError(`${file} has ${errors.length} error${errors.length > 1 ? 's' : ''}; run \`lmpc check ${file}\``, 1);
  const inp = explainInputs(lower(res.program), res.program, src, res.diagnostics);
  const root = dirname(file);

  const models: ModelReport[] = [...inp.models.values()].map((m: ModelInput) => {
    const s = m.shape;
    const p = s ? parameterCount(s) : undefined;
    return {
      name: m.name,
      shape: s,
      parameters: p?.total,
      matmulParameters: p?.matmul,
      flopsPerToken: s ? { forward: tokenFlopsPerToken(s, false), train: tokenFlopsPerToken(s, true) } : undefined,
      kvBytesPerToken: s ? kvBytesPerToken(s, bytes) : undefined,
      note: m.note,
    };
  });

  const lengthsUsed = new Map<string, Set<number>>();
  const use = (att: string | undefined, l: number): void => {
    if (!att) return;
    let s = lengthsUsed.get(att);
    if (!s) lengthsUsed.set(att, (s = new Set()));
    s.add(l);
  };

  const trains: TrainReport[] = [];
  const dd: ExplainReport['datasetDecomposition'][number][] = [];
  const skipped: string[] = [];
  for (const t of inp.trains) {
    const model = t.model ? inp.models.get(t.model) : undefined;
    const data = t.data ? inp.data.get(t.data) : undefined;
    if (!model?.shape) {
      skipped.push(`train ${t.name}: ${model?.note ?? 'no model shape'}`);
      continue;
    }
    if (!data?.pack) {
      skipped.push(`train ${t.name}: the data has no packer with fixed lengths`);
      continue;
    }
    const tps = t.curriculum.tokensPerStep;
    if (!(tps > 0)) {
      skipped.push(`train ${t.name}: no curriculum with tokens_per_step`);
      continue;
    }
    const notes: string[] = [];
    const L = await lengthsFor(data, root, opts);
    if (L.note) notes.push(L.note);
    const packed = packBuckets(L.lengths, data.pack);
    const schedule = t.curriculum.schedule;
    let mix;
    try {
      mix = bucketMix(schedule, packed.counts, tps, t.steps ?? 1000);
    } catch (e) {
      skipped.push(`train ${t.name}: ${e instanceof Error ? e.message : String(e)}`);
      continue;
    }
    if (mix.steps.size === 0) {
      // too little data for one batch of any bucket per cycle: cost the packed tokens' mix instead
      const share = new Map<number, number>();
      const tokLen = (l: number): number => (data.pack!.kind === 'decompose' ? l + 1 : l);
      for (const [l, c] of packed.counts) share.set(l, (c * tokLen(l)) / (packed.tokensKept || 1));
      mix = { steps: share, stepsPerPass: 0, how: 'share of packed tokens per length (the curriculum makes no full batch per cycle from this data)' };
      notes.push(`the data is too small for one batch of ${tps} tokens per bucket per cycle; the mix is the share of packed tokens per length`);
    }
    if (mix.stepsPerPass !== undefined && t.steps !== undefined && mix.stepsPerPass > 0) {
      notes.push(`one pass over the data is ${mix.stepsPerPass} steps; the train asks for ${t.steps} (${(t.steps / mix.stepsPerPass).toFixed(2)} passes)`);
    }
    const att = model.attention ? inp.attentions.get(model.attention) : undefined;
    const kept = packed.tokensKept || 1;
    const inputs = [...mix.steps.entries()].map(([length, stepFraction]) => {
      use(model.attention, length);
      const d = bucketDensity(att, model.shape!.heads, length, data.pack!, L.lengths);
      if (d.note && !notes.includes(d.note)) notes.push(d.note);
      return { length, stepFraction, density: d.density, computedTiles: d.computed };
    });
    const maxLen = Math.max(...inputs.map((b) => b.length));
    const cost = trainCost(model.shape, tps, inputs, maxLen, bytes);
    const buckets: BucketRow[] = cost.buckets.map((c) => {
      const available = packed.counts.get(c.length) ?? 0;
      const tokLen = data.pack!.kind === 'decompose' ? c.length + 1 : c.length;
      return { ...c, available, tokenShare: (available * tokLen) / kept };
    });
    const others = [...new Set([2048, maxLen])].sort((a, b) => a - b);
    const baselines = others.map((length) => {
      const b = baselineStep(model.shape!, tps, length, bytes);
      return { length, attentionFlops: b.attentionFlops, totalFlops: b.totalFlops, ratio: { attention: cost.mean.attentionFlops / b.attentionFlops, total: cost.mean.totalFlops / b.totalFlops } };
    });
    const eq = equivalentContext(model.shape, tps, cost.mean.attentionFlops);
    trains.push({
      name: t.name,
      model: model.name,
      data: data.name,
      packer: data.packText,
      curriculum: t.curriculum.text,
      tokensPerStep: tps,
      steps: t.steps,
      lengths: L.info,
      packed: { tokensIn: packed.tokensIn, tokensKept: packed.tokensKept, tokensDropped: packed.tokensDropped },
      mix: { how: mix.how, stepsPerPass: mix.stepsPerPass },
      mask: att?.maskText ?? 'causal (no attention named)',
      buckets,
      mean: cost.mean,
      baseline: cost.baseline,
      ratio: cost.ratio,
      baselines,
      equivalentContext: eq,
      notes,
    });
    if (data.pack.kind === 'decompose') {
      const at2k = baselines.find((b) => b.length === 2048)!;
      const tw = trainCost(model.shape, tps, buckets.map((b) => ({ length: b.length, stepFraction: b.tokenShare, density: b.density })), maxLen, bytes);
      dd.push({
        train: t.name,
        max: data.pack.max,
        vsMax: cost.ratio.attention,
        vs2k: at2k.ratio.attention,
        equivalentContext: eq,
        tokenWeighted: { vsMax: tw.ratio.attention, vs2k: tw.mean.attentionFlops / at2k.attentionFlops, equivalentContext: equivalentContext(model.shape, tps, tw.mean.attentionFlops) },
        lengths: L.info.source,
      });
    }
  }

  const decodes: DecodeReport[] = inp.decodes.map((d) => {
    const m = d.model ? inp.models.get(d.model) : undefined;
    const att = d.attention ?? m?.attention;
    if (d.maxTokens !== undefined) use(att, d.maxTokens);
    return {
      name: d.name,
      model: d.model,
      chain: d.chain.map((s) => ({ sampler: s.text, role: s.role, state: s.state })),
      warnings: d.warnings,
      kvBytesPerToken: m?.shape ? kvBytesPerToken(m.shape, bytes) : undefined,
      maxTokens: d.maxTokens,
    };
  });

  const attentions: AttentionReport[] = [...inp.attentions.values()].map((a) => {
    const users = [...inp.models.values()].filter((m) => m.attention === a.name && m.shape);
    for (const d of inp.decodes) {
      const m = d.model ? inp.models.get(d.model) : undefined;
      if (d.attention === a.name && m?.shape && !users.includes(m)) users.push(m);
    }
    const heads = users[0]?.shape?.heads;
    const used = [...(lengthsUsed.get(a.name) ?? [])].sort((x, y) => x - y);
    const lengths = used.length ? used : DEFAULT_LENGTHS;
    const hm = headMasks(a.masks, heads);
    const notes: string[] = [];
    if (hm.some((h) => usesDocuments(h.mask))) notes.push('same_document: one document per sequence assumed (as Dataset Decomposition gives; concatenated data is in the train figures)');
    const at = lengths.map((length) => {
      let density = 0, empty = 0, full = 0, partial = 0, tiles = 0;
      for (const { mask, weight } of hm) {
        const r = attentionAt(mask, length, a.tile);
        density += weight * r.density;
        empty += weight * r.tiles.emptyFraction;
        full += weight * r.tiles.fullFraction;
        partial += weight * r.tiles.partialFraction;
        tiles = r.tiles.tiles;
      }
      return { length, density, empty, full, partial, tiles };
    });
    let bound: number | undefined;
    let keptAt: { length: number; kept: number }[] = lengths.map((l) => ({ length: l, kept: l }));
    if (a.cache.keep) {
      bound = keptBound(a.cache.keep);
      keptAt = lengths.map((l) => ({ length: l, kept: keptPositions(a.cache.keep!, l) }));
    } else if (a.cache.keepCount !== undefined) {
      bound = a.cache.keepCount;
      keptAt = lengths.map((l) => ({ length: l, kept: Math.min(l, a.cache.keepCount!) }));
    }
    return {
      name: a.name,
      mask: a.maskText,
      tile: a.tile,
      heads,
      at,
      lengthsFrom: used.length ? 'the lengths the file uses (train buckets, decode max_tokens)' : `no train or decode uses it: shown at ${DEFAULT_LENGTHS.join(', ')}`,
      kv: users.map((m) => ({ model: m.name, bytesPerToken: kvBytesPerToken(m.shape!, bytes) })),
      cache: { policy: a.cache.policy, bound, keptAt },
      notes,
    };
  });
  return { file, bytesPerElement: bytes, models, trains, attentions, decodes, datasetDecomposition: dd, skipped };
}
