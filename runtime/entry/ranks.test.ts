import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { check } from '../../compiler/index.js';
import { findDecl } from '../../compiler/ir/types.js';
import { lower } from '../../compiler/lower/index.js';
import type { SequencePlan } from '../data/pack.js';
import { runTrain, type TrainSpec } from './index.js';
import { formatRankBalance, masksByDocument, RankBalancer, trainCostModel } from './ranks.js';

/** Sequences of 8 tokens: A = one document of 8, B = two documents of 4, C = 3 tokens + 5 of padding. */
function handPlan(): SequencePlan {
  return {
    kind: 'prepack', numSeqs: 3, seqLength: Int32Array.from([8, 8, 8]), bucket: Int32Array.from([8, 8, 8]), seqFirstSeg: Int32Array.from([0, 1, 3, 4]),
    segDoc: Int32Array.from([0, 1, 2, 3]), segStart: Float64Array.from([0, 8, 12, 16]), segLen: Int32Array.from([8, 4, 4, 3]),
    positions: 'segment', padId: 0, tokensIn: 19, tokensPacked: 19, tokensDropped: 0, paddingTokens: 5,
  };
}

describe('rank balance of a train step', () => {
  it('hand case: pairs are squared document pieces (padding its own piece); cost vs token balance', () => {
    // pairs: A 64, B 16 + 16 = 32, C 9 + 25 = 34; a = 0, b = 1, R = 2, total 130, mean 65.
    // Token LPT (equal lengths, ties by index): A, C on rank 0 = 98, B on rank 1 = 32.
    // Cost LPT: A (64) on rank 0, C (34) and B (32) on rank 1 = 66.
    const b = new RankBalancer(2, { a: 0, b: 1 }, true);
    const rank = b.step(handPlan(), [0, 1, 2]);
    expect(rank[1]).toBe(rank[2]);
    expect(rank[0]).not.toBe(rank[1]);
    const r = b.report();
    expect(r.steps).toBe(1);
    expect(r.byTokens.totalMaxCost).toBe(98);
    expect(r.byCost.totalMaxCost).toBe(66);
    expect(r.byTokens.meanImbalance).toBeCloseTo(98 / 65, 12);
    expect(r.byCost.meanImbalance).toBeCloseTo(66 / 65, 12);
    expect(r.stepTimeRatio).toBeCloseTo(98 / 66, 12);
  });
  it('without a document mask every sequence of equal length costs the same', () => {
    const b = new RankBalancer(3, { a: 1, b: 1 }, false);
    b.step(handPlan(), [0, 1, 2]);
    const r = b.report();
    expect(r.byCost.meanImbalance).toBe(1);
    expect(r.byTokens.meanImbalance).toBe(1);
    expect(r.stepTimeRatio).toBe(1);
  });
  it('the cost model counts dense parameters and attention pairs (hand computation)', () => {
    // dim 64, 2 layers, 4 heads (hd 16), 2 kv heads, ffn 128, vocab 100:
    // per layer q, o 2 * 64 * 64 = 8192; k, v 2 * 64 * 2 * 16 = 4096; SwiGLU 3 * 64 * 128 = 24576 -> 36864
    // dense = 2 * 36864 + 64 * 100 = 80128; a = 6 * 80128; b = 6 * 64 * 2
    const m = trainCostModel({ dim: 64, layers: 2, heads: 4, kvHeads: 2, ffn: 128, vocab: 100, normEps: 1e-5, ropeTheta: 1e4, tieEmbeddings: true });
    expect(m).toEqual({ a: 6 * 80128, b: 768 });
  });
  it('recognizes document masks: default, ANDed at the root, in every head group', () => {
    const doc = { op: 'same_document' } as const;
    const causal = { op: 'causal' } as const;
    expect(masksByDocument(null)).toBe(true);
    expect(masksByDocument({ default: { op: 'and', args: [causal, doc] }, groups: [] })).toBe(true);
    expect(masksByDocument({ default: causal, groups: [] })).toBe(false);
    expect(masksByDocument({ default: { op: 'or', args: [causal, doc] }, groups: [] })).toBe(false);
    expect(masksByDocument({ default: undefined, groups: [{ from: 0, to: 1, mask: { op: 'and', args: [doc, causal] } }, { from: 2, to: 3, mask: causal }] })).toBe(false);
    expect(masksByDocument({ default: undefined, groups: [{ from: 0, to: 3, mask: { op: 'and', args: [{ op: 'and', args: [doc, causal] }, { op: 'window', size: 4 }] } }] })).toBe(true);
  });
});

describe('train with ranks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lmp-ranks-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'c'));
  let x = 7;
  const rnd = (): number => ((x = (x * 1103515245 + 12345) >>> 0), x / 2 ** 32);
  for (let d = 0; d < 24; d++) {
    let t = `Doc ${d}.`;
    const n = 60 + Math.floor(rnd() * 400);
    while (t.length < n) t += ' word' + Math.floor(rnd() * 9);
    writeFileSync(join(dir, 'c', `d${d}.txt`), t);
  }
  const spec = (pack: string, schedule: string, ranks: string): TrainSpec => {
    const src = `tokenizer b = bytes()
data d {
  source text("c/*.txt")
  tokenizer b
  pack ${pack}
}
model m {
  arch llama(dim: 32, layers: 1, heads: 2, ffn: 64)
  vocab b
}
train t {
  model m
  data d
  curriculum ${schedule}
  optimizer adamw(lr: 1e-3)
  steps 3
  ${ranks}
}
`;
    const r = check(src, join(dir, 't.lmp'));
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const d = findDecl(lower(r.program), 't')!;
    expect(d.spec.unsupported).toEqual([]);
    return d.spec as TrainSpec;
  };
  it('prepacked bins: cost balancing never loses to token balancing, and the result says so', async () => {
    const r = await runTrain(spec('prepack(capacity: 512, algorithm: best_fit_decreasing)', 'fixed(512, tokens_per_step: 2k)', 'ranks 2'), { baseDir: dir });
    expect(r.ranks).not.toBeNull();
    const b = r.ranks!;
    expect(b.ranks).toBe(2);
    expect(b.steps).toBeGreaterThanOrEqual(3);
    expect(b.documentMask).toBe(true);
    expect(b.byCost.totalMaxCost).toBeLessThanOrEqual(b.byTokens.totalMaxCost);
    expect(b.byCost.meanImbalance).toBeGreaterThanOrEqual(1);
    expect(b.stepTimeRatio).toBeCloseTo(b.byTokens.totalMaxCost / b.byCost.totalMaxCost, 12);
    expect(formatRankBalance(b)).toMatch(/^ranks 2 over \d+ steps \(document-masked attention cost\): cost-balanced max\/mean/);
  });
  it('decomposition buckets: every sequence of a step costs the same, so both balances agree', async () => {
    const r = await runTrain(spec('decompose(min: 32, max: 64)', 'fixed(64, tokens_per_step: 512)', 'ranks 4'), { baseDir: dir });
    const b = r.ranks!;
    expect(b.byCost.totalMaxCost).toBe(b.byTokens.totalMaxCost);
    expect(b.byCost.meanImbalance).toBeCloseTo(1, 12);
  });
  it('no ranks clause: no report', async () => {
    const r = await runTrain(spec('decompose(min: 32, max: 64)', 'fixed(64, tokens_per_step: 512)', ''), { baseDir: dir });
    expect(r.ranks).toBeNull();
  });
});
