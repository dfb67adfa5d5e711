import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { DecodeTokensRule } from './DecodeTokensRule.js';

describe('DecodeTokensRule', () => {
  it('reports min_tokens above max_tokens (1k = 1024 > 1000)', () => {
    expect(at(run('decode d { min_tokens 1k  max_tokens 1000 }\n', DecodeTokensRule))).toEqual(['LMP0605@1:23']);
    expect(run('decode d { min_tokens 10  max_tokens 10 }\n', DecodeTokensRule)).toEqual([]);
  });
});
