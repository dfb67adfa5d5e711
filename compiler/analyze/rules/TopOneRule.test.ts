import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { TopOneRule } from './TopOneRule.js';

const chain = (policy: string) => run(`decode d { policy ${policy} }\n`, TopOneRule);

describe('TopOneRule', () => {
  it('warns that a logit filter after top_k(1) changes nothing', () => {
    const ds = chain('top_k(1) -> top_p(0.5) -> min_p(0.1) -> typical(0.9) -> epsilon(0.01) -> eta(0.01) -> top_k(5)');
    expect(ds.map((d) => `${d.code} ${d.severity}`)).toEqual(Array(6).fill('LMP0603 warning'));
    expect(ds[0]!.message).toBe("'top_p' changes nothing here: top_k(1) before it leaves a single candidate");
    expect(at(ds)[0]).toBe('LMP0603@1:31');
  });
  it('rejects allow / ban after top_k(1): they can remove the only candidate', () => {
    const ds = chain('top_k(k: 1) -> ban([10, 11]) -> allow([3])');
    expect(at(ds)).toEqual(['LMP0607@1:34', 'LMP0607@1:51']);
    expect(ds[0]!.severity).toBe('error');
    expect(ds[0]!.message).toBe("'ban' can leave no candidate: top_k(1) before it keeps a single token, which ban removes whenever the most probable token is banned");
    expect(ds[1]!.help).toBe('put allow before top_k(1): the most probable token is then chosen among the tokens allow keeps');
  });
  it('accepts filters before top_k(1), and after top_k(2)', () => {
    expect(chain('ban([10]) -> top_p(0.9) -> top_k(1)')).toEqual([]);
    expect(chain('top_k(2) -> top_p(0.5) -> ban([10])')).toEqual([]);
  });
});
