// Ada-LEval TSort: the shown segments are the shuffled consecutive pieces of one window of the
// text; the reference order restores it; only the exact order scores.
import { describe, expect, it } from 'vitest';
import { firstOrder, tsortCorrect, tsortQuestion, tsortSamples } from './tsort.js';

const bytes = (t: string): number => Buffer.byteLength(t, 'utf8');
const DOCS = Array.from({ length: 3 }, (_, d) => Array.from({ length: 400 }, (_, i) => `d${d}w${i}`).join(' '));
const ALL = DOCS.join(' ');

describe('tsort', () => {
  const P = { lengths: [512, 1024], segments: 4, samples: 3 };
  const samples = tsortSamples(P, DOCS, 5, bytes);

  it('segments in the reference order are one window of consecutive words of the text', () => {
    expect(samples).toHaveLength(6);
    for (const s of samples) {
      const segs = [...s.prompt.matchAll(/^Segment (\d+): (.*)$/gm)].map((m) => [Number(m[1]), m[2]!] as const);
      expect(segs.map((x) => x[0])).toEqual([1, 2, 3, 4]);
      const order = s.references[0]!.split(', ').map(Number);
      expect([...order].sort()).toEqual([1, 2, 3, 4]);
      const restored = order.map((j) => segs[j - 1]![1]).join(' ');
      expect(ALL.includes(restored)).toBe(true);
      const sizes = order.map((j) => segs[j - 1]![1].split(' ').length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      expect(s.prompt.endsWith(tsortQuestion(4))).toBe(true);
      expect(s.promptTokens).toBeLessThanOrEqual(s.cell.length!);
      expect(s.promptTokens).toBeGreaterThan(s.cell.length! - 12); // one more word would not fit
    }
  });

  it('is seeded; a text shorter than the segments is an error', () => {
    expect(tsortSamples(P, DOCS, 5, bytes)).toEqual(samples);
    expect(tsortSamples(P, DOCS, 6, bytes).map((s) => s.prompt)).not.toEqual(samples.map((s) => s.prompt));
    expect(() => tsortSamples(P, ['a b'], 0, bytes)).toThrow(expect.objectContaining({ code: 'LMP_E_EVAL_PARAMS' }));
  });

  it('only the exact order scores', () => {
    expect(firstOrder(' [3, 1, 4, 2]', 4)).toBe('3, 1, 4, 2');
    expect(tsortCorrect(' [3, 1, 4, 2]', '3, 1, 4, 2')).toBe(true);
    expect(tsortCorrect('3 1 4 2 5', '3, 1, 4, 2')).toBe(true);
    expect(tsortCorrect(' [3, 1, 2, 4]', '3, 1, 4, 2')).toBe(false);
    expect(tsortCorrect(' [3, 1, 4]', '3, 1, 4, 2')).toBe(false);
  });
});
