import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { MaskRowRule } from './MaskRowRule.js';

describe('MaskRowRule', () => {
  it('causal & !sink(4): rows 0..3 see nothing; names row 0 and the term !sink(4)', () => {
    const ds = run('attention a { mask causal & !sink(4) }\n', MaskRowRule);
    expect(at(ds)).toEqual(['LMP0501@1:20']);
    expect(ds[0]!.message).toBe('query row 0 sees no key: !sink(4) hides every key from it');
  });
  it('!causal: the last row has no later key', () => {
    const ds = run('attention a { mask !causal }\n', MaskRowRule);
    expect(ds[0]!.code).toBe('LMP0501');
    expect(ds[0]!.message).toMatch(/^query row \d+ sees no key/);
  });
  it('accepts the masks of the sketch, and checks heads groups', () => {
    expect(run('attention a { mask causal & (sink(4) | window(1k)) }\nattention b { mask causal & same_document }\n', MaskRowRule)).toEqual([]);
    expect(at(run('attention h { heads 0..3: causal & !causal }\n', MaskRowRule))).toEqual(['LMP0501@1:27']);
  });
});
