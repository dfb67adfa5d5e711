import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { OptimizeRule } from './OptimizeRule.js';

const base =
  'attention s { mask causal & (sink(4) | window(1k)) }\ndecode d { policy top_k(10) -> mirostat(tau: 3) }\neval e { task passkey(lengths: [1k])  metric accuracy }\n';

describe('OptimizeRule', () => {
  it('accepts the sketch knobs and objective', () => {
    const src = base + 'optimize o { vary s.mask.window in [256, 512]  vary s.mask.sink in 0..16  vary d.policy.mirostat.tau in 2.0..6.0  maximize e.accuracy  subject to latency.p50 < 50ms  search grid() }\n';
    expect(run(src, OptimizeRule)).toEqual([]);
  });
  it('reports a knob naming a primitive the clause lacks', () => {
    const ds = run(base + 'optimize o { vary s.mask.chunked in [2]  maximize e.accuracy }\n', OptimizeRule);
    expect(at(ds)).toEqual(['LMP0801@4:26']);
    expect(ds[0]!.message).toBe("'s.mask.chunked' does not name a tunable setting: 'chunked' does not appear in s.mask");
  });
  it('reports vary values of the wrong kind or range', () => {
    expect(at(run(base + 'optimize o { vary s.mask.window in [0, 2.5, "x"]  maximize e.accuracy }\n', OptimizeRule))).toEqual(['LMP0804@4:37', 'LMP0804@4:40', 'LMP0804@4:45']);
  });
  it('reports a metric the eval does not report, and a wrong objective count', () => {
    expect(at(run(base + 'optimize o { maximize e.perplexity }\n', OptimizeRule))).toEqual(['LMP0802@4:25']);
    expect(at(run(base + 'optimize o { maximize e.accuracy  minimize e.accuracy }\n', OptimizeRule))).toEqual(['LMP0803@4:10']);
  });
});
