import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { RepositionRule } from './RepositionRule.js';

describe('RepositionRule', () => {
  it('warns when the cache never evicts', () => {
    expect(at(run('attention a { cache full reposition }\n', RepositionRule))).toEqual(['LMP0505@1:26']);
  });
  it('accepts reposition with an evicting cache', () => {
    expect(run('attention a { cache keep(sink(4) | window(1k)) reposition }\n', RepositionRule)).toEqual([]);
  });
});
