import { describe, expect, it } from 'vitest';
import { CurriculumIterator, growP2, planBuckets, type Bucket, type CurriculumConfig, type Step } from './index.js';
import { planDecompose } from '../data/pack.js';

const ddBuckets = (n: number): Bucket[] => [256, 512, 1024, 2048, 4096, 8192].map((length) => ({ length, count: (n * 8192) / length }));

function run(it: CurriculumIterator, max = 1e9): Step[] {
  const out: Step[] = [];
  for (let s = it.next(); s && out.length < max; s = out.length < max ? it.next() : null) out.push(s);
  return out;
}

describe('curriculum', () => {
  it('Grow-P2 is weights 32, 16, 8, 4, 2, 1 over 256 .. 8192', () => {
    const s = growP2();
    expect(s).toEqual({ kind: 'weights', cycles: 8, weights: [256, 512, 1024, 2048, 4096, 8192].map((length, i) => ({ length, weight: 2 ** (5 - i) })) });
  });

  it('tokens per step are constant, every batch of a cycle is used once, and length grows within a cycle', () => {
    // every bucket holds the same tokens (as Dataset Decomposition's random draw makes it)
    const cfg: CurriculumConfig = { schedule: growP2(256, 8192, 2), tokensPerStep: 16384, ranks: 1, seed: 3 };
    const steps = run(new CurriculumIterator(cfg, ddBuckets(64)));
    // per bucket: 64*8192/len sequences, half per cycle, batches of 16384/len sequences -> 16 batches per cycle
    expect(steps.length).toBe(6 * 16 * 2);
    for (const s of steps) expect(s.globalSequences * s.length).toBe(16384);
    for (const c of [0, 1]) {
      const cyc = steps.filter((s) => s.cycle === c);
      const perBucket = new Map<number, number>();
      cyc.forEach((s) => perBucket.set(s.length, (perBucket.get(s.length) ?? 0) + 1));
      expect([...perBucket.values()]).toEqual([16, 16, 16, 16, 16, 16]);
      const mean = (xs: Step[]): number => xs.reduce((a, s) => a + s.length, 0) / xs.length;
      expect(mean(cyc.slice(0, 32))).toBeLessThan(mean(cyc.slice(64)));
    }
    // sequences of a bucket are distinct across all steps (the two cycles use disjoint halves)
    const byLen = new Map<number, number[]>();
    for (const s of steps) byLen.set(s.length, [...(byLen.get(s.length) ?? []), ...s.sequences]);
    for (const [len, seqs] of byLen) {
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(seqs.length).toBe((64 * 8192) / len);
    }
  });

  it('the first draw follows the weights (P(256) = 32/63 for Grow-P2)', () => {
    let first256 = 0;
    const N = 3000;
    for (let seed = 0; seed < N; seed++) {
      const s = new CurriculumIterator({ schedule: growP2(), tokensPerStep: 8192, ranks: 1, seed }, ddBuckets(64)).next()!;
      if (s.length === 256) first256++;
    }
    // binomial sd = sqrt(N p (1-p)) ~ 27; allow 4 sd
    expect(Math.abs(first256 - (N * 32) / 63)).toBeLessThan(110);
  });

  it('ranks draw the same bucket and take disjoint slices of the same global batch', () => {
    const cfg: CurriculumConfig = { schedule: { kind: 'uniform', cycles: 1 }, tokensPerStep: 32768, ranks: 4, seed: 9 };
    const its = [0, 1, 2, 3].map((r) => new CurriculumIterator(cfg, ddBuckets(32), r));
    const runs = its.map((i) => run(i));
    for (let s = 0; s < runs[0]!.length; s++) {
      const lens = runs.map((r) => r[s]!.length);
      expect(new Set(lens).size).toBe(1);
      const all = runs.flatMap((r) => [...r[s]!.sequences]);
      expect(all.length).toBe(runs[0]![s]!.globalSequences);
      expect(new Set(all).size).toBe(all.length);
    }
  });

  it('resume from state() gives exactly the batches of an uninterrupted run', () => {
    for (const schedule of [growP2(256, 8192, 3), { kind: 'grow', from: 256, to: 8192, steps: 40, shape: 'geometric' } as const, { kind: 'fixed', length: 1024 } as const]) {
      const cfg: CurriculumConfig = { schedule, tokensPerStep: 16384, ranks: 2, seed: 5 };
      const full = run(new CurriculumIterator(cfg, ddBuckets(16), 1), 150);
      const a = new CurriculumIterator(cfg, ddBuckets(16), 1);
      run(a, 37);
      const snap = JSON.parse(JSON.stringify(a.state()));
      const b = new CurriculumIterator(cfg, ddBuckets(16), 1);
      b.restore(snap);
      const rest = run(b, full.length - 37);
      expect(rest.map((s) => [s.step, s.length, [...s.sequences]])).toEqual(full.slice(37).map((s) => [s.step, s.length, [...s.sequences]]));
    }
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const mk = (seed: number): number[] => run(new CurriculumIterator({ schedule: growP2(), tokensPerStep: 8192, ranks: 1, seed }, ddBuckets(64))).map((s) => s.length);
    expect(mk(1)).toEqual(mk(1));
    expect(mk(1)).not.toEqual(mk(2));
  });

  it('fixed: endless epochs, each a permutation of the bucket', () => {
    const it = new CurriculumIterator({ schedule: { kind: 'fixed', length: 1024 }, tokensPerStep: 4096, ranks: 1, seed: 0 }, [{ length: 1024, count: 12 }]);
    const steps = run(it, 9); // 3 steps per epoch
    const epoch1 = steps.slice(0, 3).flatMap((s) => [...s.sequences]).sort((a, b) => a - b);
    const epoch2 = steps.slice(3, 6).flatMap((s) => [...s.sequences]).sort((a, b) => a - b);
    expect(epoch1).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(epoch2).toEqual(epoch1);
  });

  it('grow: the length is the largest bucket <= the linear schedule', () => {
    const it = new CurriculumIterator({ schedule: { kind: 'grow', from: 256, to: 1024, steps: 100, shape: 'linear' }, tokensPerStep: 4096, ranks: 1, seed: 0 }, [256, 512, 1024].map((length) => ({ length, count: 1000 })));
    const steps = run(it, 120);
    // g(s) = 256 + 768 s / 100: 512 from s = 34 (g = 517.1), 1024 from s = 100
    expect(steps[0]!.length).toBe(256);
    expect(steps[33]!.length).toBe(256);
    expect(steps[34]!.length).toBe(512);
    expect(steps[99]!.length).toBe(512);
    expect(steps[100]!.length).toBe(1024);
  });

  it('rejects a tokensPerStep that does not split into whole sequences per rank', () => {
    expect(() => new CurriculumIterator({ schedule: { kind: 'uniform', cycles: 1 }, tokensPerStep: 8192, ranks: 3, seed: 0 }, ddBuckets(2))).toThrow(/not a multiple/);
  });

  it('planBuckets groups decomposition sequences by 2^k', () => {
    const offsets = Float64Array.from([0, 600, 900]);
    const plan = planDecompose({ tokens: new Int32Array(900), offsets }, Int32Array.from([0, 1]), 256, 512, true, 0);
    // 600: k=9 (513), left 87 dropped; 300: k=8 (257), left 43 dropped
    const { buckets } = planBuckets(plan);
    expect(buckets).toEqual([{ length: 256, count: 1 }, { length: 512, count: 1 }]);
  });
});
