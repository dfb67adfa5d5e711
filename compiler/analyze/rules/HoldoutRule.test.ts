import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { HoldoutRule } from './HoldoutRule.js';

const src = (holdout: string, ref: string) => `data d {\n  source text("a")\n${holdout}}\ndata e from d {\n  pack concat_chunk(64)\n}\ntrain t {\n  data d\n  eval every 10: perplexity(${ref})\n}\n`;

describe('HoldoutRule', () => {
  it('reports D.holdout on data without a holdout clause', () => {
    const ds = run(src('', 'd.holdout'), HoldoutRule);
    expect(at(ds)).toEqual(['LMP0805@9:29']);
    expect(ds[0]!.message).toBe("'d.holdout' is empty: data 'd' holds nothing out");
  });
  it('reports a zero fraction, also inherited through from', () => {
    expect(at(run(src('  holdout 0%\n', 'e.holdout'), HoldoutRule))).toEqual(['LMP0805@10:29']);
    expect(at(run(src('  holdout 0\n', 'd.holdout'), HoldoutRule))).toEqual(['LMP0805@10:29']);
  });
  it('accepts a non-zero holdout (own or inherited) and the train side', () => {
    expect(run(src('  holdout 2% seed 7\n', 'd.holdout'), HoldoutRule)).toEqual([]);
    expect(run(src('  holdout 2%\n', 'e.holdout'), HoldoutRule)).toEqual([]);
    expect(run(src('', 'd.train'), HoldoutRule)).toEqual([]);
    expect(run(src('', 'd'), HoldoutRule)).toEqual([]);
  });
});
