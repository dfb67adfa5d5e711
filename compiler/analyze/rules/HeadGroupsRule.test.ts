import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { HeadGroupsRule } from './HeadGroupsRule.js';

describe('HeadGroupsRule', () => {
  it('reports overlapping head ranges', () => {
    expect(at(run('attention a { heads 0..3: causal  heads 3..7: causal }\n', HeadGroupsRule))).toEqual(['LMP0504@1:41']);
  });
  it('reports groups beyond the model heads and a mask that groups fully override', () => {
    const src = 'attention a { mask causal  heads 0..3: causal  heads 4..9: causal }\nmodel m { arch llama(dim: 64, layers: 1, heads: 8, ffn: 64)  attention a }\n';
    expect(at(run(src, HeadGroupsRule))).toEqual(['LMP0506@1:15', 'LMP0705@1:54']);
  });
  it('accepts disjoint groups covering the heads', () => {
    const src = 'attention a { heads 0..3: causal  heads 4..7: causal }\nmodel m { arch llama(dim: 64, layers: 1, heads: 8, ffn: 64)  attention a }\n';
    expect(run(src, HeadGroupsRule)).toEqual([]);
  });
});
