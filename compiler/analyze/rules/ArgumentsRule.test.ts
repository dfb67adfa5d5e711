import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { ArgumentsRule } from './ArgumentsRule.js';

describe('ArgumentsRule', () => {
  it('reports an unknown parameter with a suggestion', () => {
    const ds = run('data d { pack decompose(mni: 256) }\n', ArgumentsRule);
    expect(at(ds)).toEqual(['LMP0302@1:25']);
    expect(ds[0]!.help).toBe("did you mean 'min'?");
  });
  it('reports a missing required parameter', () => {
    expect(at(run('data d { pack concat_chunk() }\n', ArgumentsRule))).toEqual(['LMP0303@1:15']);
    expect(run('attention a { mask causal & window }\n', ArgumentsRule)[0]!.message).toBe("window() needs parameter 'size'");
  });
  it('reports a positional argument after a named one', () => {
    expect(at(run('data d { pack pad(truncate: left, 512) }\n', ArgumentsRule))).toEqual(['LMP0304@1:35']);
  });
  it('reports too many positional arguments', () => {
    expect(at(run('attention a { mask window(4, 5) }\n', ArgumentsRule))).toEqual(['LMP0305@1:30']);
  });
  it('reports a parameter given twice (positionally, then by name)', () => {
    expect(at(run('attention a { mask window(4, size: 5) }\n', ArgumentsRule))).toEqual(['LMP0306@1:30']);
  });
  it('requires exactly one of words, tokens, chars in target()', () => {
    expect(at(run('decode d { length target(within: 10%) }\n', ArgumentsRule))).toEqual(['LMP0303@1:19']);
    expect(run('decode d { length target(words: 300, within: 10%) }\n', ArgumentsRule)).toEqual([]);
  });
});
