import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { TypeRule } from './TypeRule.js';

describe('TypeRule', () => {
  it('reports a string where a count is expected', () => {
    const ds = run('train t { steps "many" }\n', TypeRule);
    expect(at(ds)).toEqual(['LMP0307@1:17']);
    expect(ds[0]!.message).toBe('expected a count >= 1, found a string "many"');
  });
  it('reports a duration where a token count is expected', () => {
    const ds = run('attention a { mask causal & window(30s) }\n', TypeRule);
    expect(at(ds)).toEqual(['LMP0308@1:36']);
    expect(ds[0]!.message).toBe('expected a count, found a duration (30s)');
  });
  it('requires a unit for durations', () => {
    expect(at(run('optimize o { budget {time: 30} }\n', TypeRule))).toEqual(['LMP0308@1:28']);
    expect(run('optimize o { budget {time: 30min, trials: 4} }\n', TypeRule)).toEqual([]);
  });
  it('accepts percent or plain fractions, and rejects names outside an enumeration', () => {
    expect(run('data d { holdout 2% }\ndata e { holdout 0.02 }\n', TypeRule)).toEqual([]);
    expect(at(run('data d { pack pad(512, truncate: middle) }\n', TypeRule))).toEqual(['LMP0307@1:34']);
  });
  it('reports an unknown key of a fixed map and a wrong data split', () => {
    expect(at(run('optimize o { budget {trails: 4} }\n', TypeRule))).toEqual(['LMP0307@1:22']);
    expect(at(run('data d { source text("x") }\neval e { data d.holdot }\n', TypeRule))).toEqual(['LMP0307@2:17']);
  });
});
