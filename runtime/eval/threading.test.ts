// Needle Threading: the thread is in the haystack once and followable; the scorer is exact.
import { describe, expect, it } from 'vitest';
import { Rng } from '../data/rng.js';
import { threadingCorrect, threadingQuestion, threadingSamples, uuid, UUID_RE } from './threading.js';

const bytes = (t: string): number => Buffer.byteLength(t, 'utf8');

describe('threading', () => {
  const P = { lengths: [1024, 2048], steps: 3, samples: 3 };
  const samples = threadingSamples(P, 11, bytes);

  it('uuids are version-4 shaped and seeded', () => {
    const a = uuid(new Rng(1));
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(uuid(new Rng(1))).toBe(a);
    expect(uuid(new Rng(2))).not.toBe(a);
  });

  it('following the thread from the asked key for `steps` lookups ends at the reference; every key once', () => {
    expect(samples).toHaveLength(6);
    for (const s of samples) {
      const pairs = [...s.prompt.matchAll(/"([0-9a-f-]{36})": "([0-9a-f-]{36})"/g)].map((m) => [m[1]!, m[2]!] as const);
      const map = new Map(pairs);
      expect(map.size).toBe(pairs.length); // keys are distinct
      const start = /Start at the key ([0-9a-f-]{36})\./.exec(s.prompt)![1]!;
      expect(s.prompt.endsWith(threadingQuestion(start, 3))).toBe(true);
      let k = start;
      for (let i = 0; i < 3; i++) k = map.get(k)!;
      expect(k).toBe(s.references[0]);
      expect(map.has(k)).toBe(false); // the thread ends there
      expect(s.promptTokens).toBeLessThanOrEqual(s.cell.length!);
      expect(s.promptTokens).toBeGreaterThan(s.cell.length! - 90); // short by less than one pair line
    }
  });

  it('same seed, same prompts; another seed, others', () => {
    expect(threadingSamples(P, 11, bytes)).toEqual(samples);
    expect(threadingSamples(P, 12, bytes).map((s) => s.prompt)).not.toEqual(samples.map((s) => s.prompt));
  });

  it('exact match of the first UUID in the output', () => {
    const end = samples[0]!.references[0]!;
    expect(threadingCorrect(` ${end}.`, end)).toBe(true);
    expect(threadingCorrect(` ${end.toUpperCase()}`, end)).toBe(true);
    expect(threadingCorrect(` ${samples[1]!.references[0]} then ${end}`, end)).toBe(false);
    expect(threadingCorrect(end.slice(0, 30), end)).toBe(false);
    expect(UUID_RE.test('not a uuid')).toBe(false);
  });
});
