// The fixed-text sizes against the generators themselves: at the minimum every sample fits, one
// token less fails with LMP_E_EVAL_LENGTH; the texts the generators measure with no filler (the
// first count of each fit) all lie in [min, max]; the needle's spread is the key lengths by hand.
import { describe, expect, it } from 'vitest';
import { FILLER_SENTENCES } from './haystack.js';
import { needleFixedText, passkeyFixedText, threadingFixedText, tsortFixedText } from './minimum.js';
import { ADJECTIVES, needleSamples, NOUNS } from './needle.js';
import { passkeySamples } from './passkey.js';
import { threadingSamples } from './threading.js';
import { tsortSamples } from './tsort.js';

const bytes = (t: string): number => Buffer.byteLength(t, 'utf8');
const LENGTH_ERROR = expect.objectContaining({ code: 'LMP_E_EVAL_LENGTH' });

/** A token counter that records the size of every text measured without any filler sentence. */
function recorder(isFixed: (t: string) => boolean) {
  const fixed: number[] = [];
  return { fixed, count: (t: string): number => (isFixed(t) && fixed.push(bytes(t)), bytes(t)) };
}
const noFiller = (t: string): boolean => !FILLER_SENTENCES.some((s) => t.includes(s));

describe('eval minimum lengths', () => {
  it('passkey: one size; fits at it, fails one below', () => {
    const { min, max } = passkeyFixedText();
    expect(max).toBe(min);
    expect(passkeySamples({ lengths: [min], depths: 3, samples: 4 }, 1, bytes)).toHaveLength(12);
    expect(() => passkeySamples({ lengths: [min - 1], depths: 1, samples: 1 }, 1, bytes)).toThrow(LENGTH_ERROR);
  });

  it('needle: the draws span exactly [min, max]; the spread is three times the key-length spread', () => {
    const { min, max } = needleFixedText({ keys: 1, values: 1, queries: 1 })!;
    const len = (w: string) => w.length;
    const longest = Math.max(...ADJECTIVES.map(len)) + 1 + Math.max(...NOUNS.map(len));
    const shortest = Math.min(...ADJECTIVES.map(len)) + 1 + Math.min(...NOUNS.map(len));
    // one key: in the needle sentence once and in the question twice
    expect(max! - min).toBe(3 * (longest - shortest));
    const r = recorder(noFiller);
    expect(needleSamples({ lengths: [max!], depths: 5, samples: 400, keys: 1, values: 1, queries: 1 }, 3, r.count)).toHaveLength(2000);
    // 2000 draws of 900 keys reach both ends (this seed does)
    expect([Math.min(...r.fixed), Math.max(...r.fixed)]).toEqual([min, max]);
    expect(() => needleSamples({ lengths: [min - 1], depths: 1, samples: 1, keys: 1, values: 1, queries: 1 }, 3, bytes)).toThrow(LENGTH_ERROR);
  });

  it('needle with several keys and values: the draws stay within the bounds', () => {
    const p = { keys: 3, values: 2, queries: 2 };
    const { min, max } = needleFixedText(p)!;
    const r = recorder(noFiller);
    needleSamples({ lengths: [max!], depths: 2, samples: 200, ...p }, 9, r.count);
    expect(Math.min(...r.fixed)).toBeGreaterThanOrEqual(min);
    expect(Math.max(...r.fixed)).toBeLessThanOrEqual(max!);
    expect(max! - min).toBeGreaterThan(0);
    expect(needleFixedText({ keys: 1, values: 1, queries: 2 })).toBeUndefined();
  });

  it('threading: one size; fits at it, fails one below; more steps need more', () => {
    const { min, max } = threadingFixedText({ steps: 3 })!;
    expect(max).toBe(min);
    expect(threadingSamples({ lengths: [min], steps: 3, samples: 5 }, 2, bytes)).toHaveLength(5);
    expect(() => threadingSamples({ lengths: [min - 1], steps: 3, samples: 1 }, 2, bytes)).toThrow(LENGTH_ERROR);
    // each more step is one more `  "uuid": "uuid",\n` line: 2 + 38 + 2 + 38 + 2 bytes
    expect(threadingFixedText({ steps: 4 })!.min - min).toBe(82);
  });

  it('tsort: the minimum takes one-byte words; longer words need more', () => {
    const { min, max } = tsortFixedText({ segments: 4 })!;
    expect(max).toBeNull();
    const oneByte = [Array.from({ length: 50 }, (_, i) => String.fromCharCode(97 + (i % 26))).join(' ')];
    expect(tsortSamples({ lengths: [min], segments: 4, samples: 3 }, oneByte, 1, bytes)).toHaveLength(3);
    expect(() => tsortSamples({ lengths: [min - 1], segments: 4, samples: 1 }, oneByte, 1, bytes)).toThrow(LENGTH_ERROR);
    expect(() => tsortSamples({ lengths: [min], segments: 4, samples: 1 }, ['alpha beta gamma delta epsilon'], 1, bytes)).toThrow(LENGTH_ERROR);
  });
});
