import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { DecomposeBoundsRule } from './DecomposeBoundsRule.js';

describe('DecomposeBoundsRule', () => {
  it('reports min > max (8k = 8192 > 4096)', () => {
    const ds = run('data d { pack decompose(min: 8k, max: 4k) }\n', DecomposeBoundsRule);
    expect(at(ds)).toEqual(['LMP0401@1:15']);
    expect(ds[0]!.message).toBe('decompose min (8192) is greater than max (4096)');
  });
  it('uses defaults (min 256) against a given max', () => {
    expect(at(run('data d { pack decompose(max: 128) }\n', DecomposeBoundsRule))).toEqual(['LMP0401@1:15']);
    expect(run('data d { pack decompose(min: 256, max: 256) }\n', DecomposeBoundsRule)).toEqual([]);
  });
});
