import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { SamplerOrderRule } from './SamplerOrderRule.js';

const chain = (policy: string) => run(`decode d { policy ${policy} }\n`, SamplerOrderRule);

describe('SamplerOrderRule', () => {
  it('warns about each penalty after a logit filter, at the penalty, naming the first filter', () => {
    const ds = chain('top_k(40) -> repetition(1.1) -> top_p(0.9) -> presence(0.5)');
    expect(at(ds)).toEqual(['LMP0606@1:32', 'LMP0606@1:65']);
    expect(ds[0]!.severity).toBe('warning');
    expect(ds[0]!.message).toBe("'repetition' after 'top_k' only reweights the tokens top_k kept: top_k chose them from logits without the penalty");
    expect(ds[0]!.notes[0]!.span?.col).toBe(19);
    expect(at(chain('min_p(0.05) -> dry(0.8)'))).toEqual(['LMP0606@1:34']);
  });
  it('accepts penalties first, after a transform, and after allow / ban (their sets ignore the logits)', () => {
    expect(chain('repetition(1.1, last: 64) -> frequency(0.2) -> top_k(40) -> mirostat(tau: 3)')).toEqual([]);
    expect(chain('temperature(0.8) -> repetition(1.1) -> top_p(0.9)')).toEqual([]);
    expect(chain('ban([1, 2]) -> allow([3, 4, 5]) -> logit_bias({3: 1.5}) -> sample')).toEqual([]);
  });
});
