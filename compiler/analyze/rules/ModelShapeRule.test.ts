import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { ModelShapeRule } from './ModelShapeRule.js';

describe('ModelShapeRule', () => {
  it('heads must be a multiple of kv_heads, dim a multiple of heads', () => {
    expect(at(run('model m { arch llama(dim: 250, layers: 2, heads: 8, kv_heads: 3, ffn: 64) }\n', ModelShapeRule))).toEqual(['LMP0702@1:27', 'LMP0701@1:63']);
  });
  it('warns on arch plus load, errors on neither', () => {
    expect(at(run('model m { arch llama(dim: 64, layers: 1, heads: 8, ffn: 64)  load "x" }\nmodel n { seed 1 }\n', ModelShapeRule))).toEqual(['LMP0703@1:11', 'LMP0704@2:7']);
  });
  it('accepts the sketch model and value forms', () => {
    expect(run('model m { arch llama(dim: 256, layers: 4, heads: 8, kv_heads: 4, ffn: 704) }\nmodel n = load("ckpt")\n', ModelShapeRule)).toEqual([]);
  });
});
