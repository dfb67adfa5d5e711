import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { UnresolvedNameRule } from './UnresolvedNameRule.js';

describe('UnresolvedNameRule', () => {
  it('reports an unknown model with a suggestion', () => {
    const ds = run('model tiny { load "x" }\ntrain r { model tiyn }\n', UnresolvedNameRule);
    expect(at(ds)).toEqual(['LMP0202@2:17']);
    expect(ds[0]!.help).toBe("did you mean 'tiny'?");
  });
  it('reports a model clause naming a data declaration', () => {
    const ds = run('data d { source text("a") }\ntrain r { model d }\n', UnresolvedNameRule);
    expect(at(ds)).toEqual(['LMP0203@2:17']);
    expect(ds[0]!.message).toBe("'d' is a data declaration, but a model is expected here");
  });
  it('resolves names declared later in the file', () => {
    expect(run('train r { model m }\nmodel m { load "x" }\n', UnresolvedNameRule)).toEqual([]);
  });
});
