import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { ClauseCountRule } from './ClauseCountRule.js';

describe('ClauseCountRule', () => {
  it('reports a non-repeatable clause written twice, at the second', () => {
    const ds = run('model m { load "a" }\ntrain t { model m  data d  steps 1  steps 2 }\ndata d { source text("x") tokenizer bytes() }\n', ClauseCountRule);
    expect(at(ds)).toEqual(['LMP0207@2:37']);
  });
  it('allows repeatable clauses', () => {
    expect(run('data d { source text("x")  source text("y")  tokenizer bytes() }\n', ClauseCountRule)).toEqual([]);
  });
  it('reports each missing required clause of a train', () => {
    const ds = run('train t { model m }\n', ClauseCountRule);
    expect(ds.map((d) => d.message)).toEqual(["train 't' has no 'data' clause", "train 't' has no 'steps' clause"]);
  });
  it('counts inherited clauses', () => {
    const src = 'train a { model m  data d  steps 10 }\ntrain b from a { steps 20 }\n';
    expect(run(src, ClauseCountRule)).toEqual([]);
  });
  it('requires a model or a cascade in decode', () => {
    expect(at(run('decode x { max_tokens 5 }\n', ClauseCountRule))).toEqual(['LMP0208@1:8']);
    expect(run('decode x { cascade s -> b }\n', ClauseCountRule)).toEqual([]);
  });
});
