import { describe, expect, it } from 'vitest';
import { closest, editDistance } from './suggest.js';

describe('suggestions', () => {
  it('edit distance counts an adjacent swap as one edit', () => {
    expect(editDistance('mni', 'min')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
  });
  it('suggests only close names', () => {
    expect(closest('causl', ['full', 'causal', 'window'])).toBe('causal');
    expect(closest('zzzzzzzz', ['top_k', 'top_p'])).toBeUndefined();
  });
});
