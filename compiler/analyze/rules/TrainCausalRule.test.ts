import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { TrainCausalRule } from './TrainCausalRule.js';

const rest = 'model m { load "x"  attention a }\ntrain t { model m }\n';

describe('TrainCausalRule', () => {
  it('reports a train whose attention is bidirectional in a prefix', () => {
    const ds = run('attention a { mask prefix(64) }\n' + rest, TrainCausalRule);
    expect(at(ds)).toEqual(['LMP0502@3:17']);
    expect(ds[0]!.notes[0]!.span!.line).toBe(1);
  });
  it('reports a non-causal head group', () => {
    expect(at(run('attention a { heads 0..1: causal  heads 2..3: full }\n' + rest, TrainCausalRule))).toEqual(['LMP0502@3:17']);
  });
  it('accepts causal masks (window and sinks intersected with causal)', () => {
    expect(run('attention a { mask causal & (sink(4) | window(256)) }\n' + rest, TrainCausalRule)).toEqual([]);
  });
});
