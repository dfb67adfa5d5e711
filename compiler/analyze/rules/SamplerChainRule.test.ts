import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { SamplerChainRule } from './SamplerChainRule.js';

describe('SamplerChainRule', () => {
  it('reports a terminal that is not last', () => {
    const ds = run('decode d { policy mirostat(tau: 3) -> top_k(40) }\n', SamplerChainRule);
    expect(at(ds)).toEqual(['LMP0601@1:19']);
    expect(ds[0]!.message).toContain("'top_k' follows it");
  });
  it('reports two terminals at the second', () => {
    expect(at(run('decode d { policy top_k(4) -> greedy -> mirostat_v2(tau: 3) }\n', SamplerChainRule))).toEqual(['LMP0602@1:41']);
  });
  it('warns about temperature before greedy and after top_k(1)', () => {
    expect(at(run('decode d { policy temperature(0.7) -> greedy }\n', SamplerChainRule))).toEqual(['LMP0603@1:19']);
    expect(at(run('decode d { policy top_k(1) -> temperature(0.7) }\n', SamplerChainRule))).toEqual(['LMP0603@1:31']);
  });
  it('accepts the sketch chains', () => {
    expect(run('decode d { policy repetition(1.1, last: 64) -> top_k(100) -> mirostat(tau: 3.0, eta: 0.1) }\ndecode e { policy temperature(0.8) -> top_p(0.95) }\n', SamplerChainRule)).toEqual([]);
  });
});
