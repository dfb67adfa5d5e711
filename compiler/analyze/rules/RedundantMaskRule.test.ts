import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { RedundantMaskRule } from './RedundantMaskRule.js';

describe('RedundantMaskRule', () => {
  it('warns that prefix adds nothing next to causal', () => {
    const ds = run('attention a { mask causal & prefix(64) }\n', RedundantMaskRule);
    expect(at(ds)).toEqual(['LMP0503@1:29']);
    expect(ds[0]!.severity).toBe('warning');
    expect(ds[0]!.message.startsWith('prefix(64) adds nothing')).toBe(true);
  });
  it('warns on full in an intersection, also nested', () => {
    expect(at(run('attention a { mask causal & (full & window(8)) }\n', RedundantMaskRule))).toEqual(['LMP0503@1:30']);
  });
  it('keeps prefix alone and prefix in a union', () => {
    expect(run('attention a { mask prefix(64) }\nattention b { mask causal | prefix(4) }\n', RedundantMaskRule)).toEqual([]);
  });
});
