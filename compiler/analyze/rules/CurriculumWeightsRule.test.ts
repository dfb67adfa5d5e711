import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { CurriculumWeightsRule } from './CurriculumWeightsRule.js';

const data = 'data d { source text("x")  pack decompose(min: 256, max: 1k) }\n'; // buckets 256, 512, 1024
const train = 'train t { model m  data d  curriculum c  steps 1 }\n';

describe('CurriculumWeightsRule', () => {
  it('reports a weight for a bucket decompose cannot produce (2k > max)', () => {
    const ds = run(data + 'curriculum c { tokens_per_step 8k  weights { 256: 4, 512: 2, 1k: 1, 2k: 1 } }\n' + train, CurriculumWeightsRule);
    expect(at(ds)).toEqual(['LMP0402@2:69']);
    expect(ds[0]!.help).toBe('buckets it produces: 256, 512, 1024');
  });
  it('warns on a zero weight and on a produced bucket with no weight', () => {
    const ds = run(data + 'curriculum c { weights { 256: 0, 512: 1 } }\n' + train, CurriculumWeightsRule);
    expect(at(ds)).toEqual(['LMP0405@2:24', 'LMP0404@2:26']);
    expect(ds[0]!.message).toContain('bucket 1024');
  });
  it('accepts weights covering exactly the produced buckets', () => {
    expect(run(data + 'curriculum c { weights { 256: 4, 512: 2, 1k: 1 } }\n' + train, CurriculumWeightsRule)).toEqual([]);
  });
  it('checks a fixed curriculum length against concat_chunk', () => {
    const src = 'data e { source text("x")  pack concat_chunk(4k) }\ntrain u { data e  curriculum fixed(8k, tokens_per_step: 64k) }\n';
    expect(at(run(src, CurriculumWeightsRule))).toEqual(['LMP0402@2:36']);
  });
});
