import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { RangeRule } from './RangeRule.js';

describe('RangeRule', () => {
  it('top_p is in (0, 1]: 0 and 1.5 are out, 1 is in', () => {
    const ds = run('decode d { policy top_p(0) -> top_p(1.5) -> top_p(1) }\n', RangeRule);
    expect(at(ds)).toEqual(['LMP0309@1:25', 'LMP0309@1:37']);
    expect(ds[0]!.message).toBe('top_p() p must be in (0, 1], found 0');
  });
  it('window >= 1 and temperature > 0', () => {
    expect(at(run('attention a { mask causal & window(0) }\ndecode d { policy temperature(0) }\n', RangeRule))).toEqual(['LMP0309@1:36', 'LMP0309@2:31']);
  });
  it('a count must be whole', () => {
    expect(at(run('train t { steps 2.5 }\n', RangeRule))).toEqual(['LMP0310@1:17']);
  });
  it('decompose bounds are powers of two (4k = 4096 is, 1000 is not)', () => {
    const ds = run('data d { pack decompose(min: 1000, max: 4k) }\n', RangeRule);
    expect(at(ds)).toEqual(['LMP0311@1:30']);
    expect(ds[0]!.help).toBe('nearest powers of two: 512 and 1024');
  });
  it('decompose bounds stop at 2^31: 4G is a power of two but out of range (it passed before, then failed at run time)', () => {
    const ds = run('data d { pack decompose(min: 256, max: 4G) }\n', RangeRule);
    expect(at(ds)).toEqual(['LMP0309@1:40']);
    expect(ds[0]!.message).toBe('decompose() max must be in [1, 2147483648], found 4G (= 4294967296)');
    expect(at(run('data d { pack decompose(min: 256, max: 2G) }\n', RangeRule))).toEqual([]);
  });
  it('needle asks for at most its keys (more fail at run time with LMP_E_EVAL_PARAMS)', () => {
    const ev = (args: string) => `eval e {\n  task needle(lengths: [1k], ${args})\n}\n`;
    const ds = run(ev('keys: 2, queries: 3'), RangeRule);
    expect(at(ds)).toEqual(['LMP0309@2:48']);
    expect(ds[0]!.message).toBe('needle() queries must be at most keys (2), found 3');
    expect(at(run(ev('queries: 2'), RangeRule))).toEqual(['LMP0309@2:39']); // keys defaults to 1
    expect(run(ev('keys: 3, queries: 3'), RangeRule)).toEqual([]);
  });
  it('a percent above 100% is out of a fraction range', () => {
    expect(at(run('data d { holdout 150% }\n', RangeRule))).toEqual(['LMP0309@1:18']);
  });
});
