import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { TokensPerStepRule } from './TokensPerStepRule.js';

describe('TokensPerStepRule', () => {
  it('reports tokens_per_step not divisible by a bucket (6000 % 256 != 0), with the lcm', () => {
    const src = 'data d { pack decompose(min: 256, max: 1k) }\ncurriculum c { tokens_per_step 6000  weights { 256: 1, 512: 1, 1k: 1 } }\ntrain t { data d  curriculum c }\n';
    const ds = run(src, TokensPerStepRule);
    expect(at(ds)).toEqual(['LMP0403@2:32', 'LMP0403@2:32', 'LMP0403@2:32']);
    expect(ds[0]!.help).toBe('use a multiple of 1024');
  });
  it('accepts 64k over buckets up to 8k, and checks a fixed length', () => {
    expect(run('data d { pack decompose(min: 256, max: 8k) }\ncurriculum c { tokens_per_step 64k }\ntrain t { data d  curriculum c }\n', TokensPerStepRule)).toEqual([]);
    expect(at(run('train t { curriculum fixed(3000, tokens_per_step: 64k) }\n', TokensPerStepRule))).toEqual(['LMP0403@1:51']);
  });
});
