import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { DuplicateFilterRule } from './DuplicateFilterRule.js';

const chain = (policy: string) => run(`decode d { policy ${policy} }\n`, DuplicateFilterRule);
const messages = (policy: string) => chain(policy).map((d) => d.message);

describe('DuplicateFilterRule', () => {
  it('warns at the repeated filter, with the first one as a note', () => {
    const ds = chain('top_k(40) -> temperature(0.7) -> top_k(20)');
    expect(at(ds)).toEqual(['LMP0608@1:52']);
    expect(ds[0]!.severity).toBe('warning');
    expect(ds[0]!.message).toBe("'top_k' appears twice in the chain: at most 20 candidates are left either way");
    expect(ds[0]!.notes[0]!.span?.col).toBe(19);
  });
  it('says what each pair does', () => {
    expect(messages('min_p(0.05) -> top_k(50) -> min_p(0.1)')).toEqual(["'min_p' appears twice in the chain: each keeps p >= min_p * p_max and renormalizing keeps that ratio: min_p(0.1) alone does the same"]);
    // a temperature between changes the ratios
    expect(messages('min_p(0.05) -> temperature(2) -> min_p(0.1)')).toEqual(["'min_p' appears twice in the chain: the second cuts what the first kept, renormalized: the pair is not one min_p"]);
    expect(messages('top_p(0.9) -> top_p(0.9) -> top_p(0.8)')).toHaveLength(2);
    expect(messages('allow([1, 2, 3]) -> allow([3, 4])')).toEqual(["'allow' appears twice in the chain: the second keeps only the tokens of both lists"]);
  });
  it('rejects two allow lists with no token in common', () => {
    const ds = chain('allow([1, 2]) -> top_k(5) -> allow([3, 4])');
    expect(at(ds)).toEqual(['LMP0607@1:48']);
    expect(ds[0]!.message).toBe("'allow' can leave no candidate: no token is in both allow lists");
  });
  it('accepts distinct filters, a repeated ban, and leaves repeats after top_k(1) to TopOneRule', () => {
    expect(chain('top_k(40) -> top_p(0.9) -> min_p(0.05) -> typical(0.95)')).toEqual([]);
    expect(chain('ban([1]) -> top_k(40) -> ban([2])')).toEqual([]);
    expect(chain('top_k(1) -> top_k(1)')).toEqual([]);
  });
});
