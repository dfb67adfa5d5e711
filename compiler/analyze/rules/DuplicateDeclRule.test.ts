import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { DuplicateDeclRule } from './DuplicateDeclRule.js';

describe('DuplicateDeclRule', () => {
  it('reports the second declaration of a name, across kinds, pointing back at the first', () => {
    const ds = run('tokenizer t = bytes()\ndata t { source text("a") }\n', DuplicateDeclRule);
    expect(at(ds)).toEqual(['LMP0201@2:6']);
    expect(ds[0]!.notes[0]!.span!.line).toBe(1);
  });
  it('accepts distinct names', () => {
    expect(run('tokenizer t = bytes()\ntokenizer u = bytes()\n', DuplicateDeclRule)).toEqual([]);
  });
});
