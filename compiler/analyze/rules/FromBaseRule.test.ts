import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { FromBaseRule } from './FromBaseRule.js';

describe('FromBaseRule', () => {
  it('reports an unknown base', () => {
    expect(at(run('data a from nope { source text("x") }\n', FromBaseRule))).toEqual(['LMP0204@1:13']);
  });
  it('reports a base of another kind', () => {
    expect(at(run('model m { load "x" }\ndata a from m { source text("x") }\n', FromBaseRule))).toEqual(['LMP0205@2:13']);
  });
  it('reports a cycle once, in from order starting at the first declaration', () => {
    const ds = run('data a from b { }\ndata b from c { }\ndata c from a { }\n', FromBaseRule);
    expect(at(ds)).toEqual(['LMP0206@1:13']);
    expect(ds[0]!.message).toBe("'from' inheritance forms a cycle: a -> b -> c -> a");
  });
  it('reports a self-cycle', () => {
    expect(run('data a from a { }\n', FromBaseRule)[0]!.message).toContain('a -> a');
  });
});
