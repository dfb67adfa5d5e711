import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { UnknownBuiltinRule } from './UnknownBuiltinRule.js';

describe('UnknownBuiltinRule', () => {
  it('reports an unknown mask primitive with a suggestion', () => {
    const ds = run('attention a { mask causl & window(4) }\n', UnknownBuiltinRule);
    expect(at(ds)).toEqual(['LMP0301@1:20']);
    expect(ds[0]!.message).toBe("unknown mask primitive 'causl'");
    expect(ds[0]!.help).toBe("did you mean 'causal'?");
  });
  it('reports an unknown sampler in a chain and lists samplers when nothing is close', () => {
    const ds = run('decode d { policy top_k(5) -> zzzzzzzz() }\n', UnknownBuiltinRule);
    expect(at(ds)).toEqual(['LMP0301@1:31']);
    expect(ds[0]!.help).toContain('samplers: temperature, top_k');
  });
  it('looks names up in the category of the position (linear is a schedule and a rope scale)', () => {
    expect(run('train t { schedule linear(to: 0.1) }\nattention a { position rope(scale: linear(2)) }\n', UnknownBuiltinRule)).toEqual([]);
    expect(at(run('train t { schedule ntk(2) }\n', UnknownBuiltinRule))).toEqual(['LMP0301@1:20']);
  });
});
