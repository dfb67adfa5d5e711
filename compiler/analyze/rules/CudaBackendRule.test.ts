import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { CudaBackendRule } from './CudaBackendRule.js';

const file = (arch: string, backend: string, position = 'rope(theta: 10000)'): string =>
  `tokenizer b = bytes()\ndata d { source text("x.txt")  tokenizer b }\nattention a { mask causal  position ${position} }\n` +
  `model m { arch llama(${arch})  vocab b  attention a }\ntrain t { model m  data d  steps 1  backend ${backend} }\n`;

describe('CudaBackendRule', () => {
  it('reports backend cuda with a head dim the CUDA kernels lack (dim 64 / heads 4 = 16)', () => {
    const ds = run(file('dim: 64, layers: 1, heads: 4, ffn: 64', 'cuda'), CudaBackendRule);
    expect(at(ds)).toEqual(['LMP0708@5:37']);
    expect(ds[0]!.message).toContain('head dim (dim 64 / heads 4 = 16)');
  });
  it('accepts RoPE with a distance limit on cuda (LM-Infinite trains on the device)', () => {
    expect(run(file('dim: 64, layers: 1, heads: 2, ffn: 64', 'cuda', 'rope(theta: 10000) limit 512'), CudaBackendRule)).toEqual([]);
  });
  it('accepts head dims 32, 64, 128 on cuda, and anything on cpu or auto', () => {
    for (const heads of [2, 1]) expect(run(file(`dim: 64, layers: 1, heads: ${heads}, ffn: 64`, 'cuda'), CudaBackendRule)).toEqual([]);
    expect(run(file('dim: 256, layers: 1, heads: 2, ffn: 64', 'cuda'), CudaBackendRule)).toEqual([]);
    expect(run(file('dim: 64, layers: 1, heads: 4, ffn: 64', 'auto'), CudaBackendRule)).toEqual([]);
    expect(run(file('dim: 64, layers: 1, heads: 4, ffn: 64', 'cpu'), CudaBackendRule)).toEqual([]);
  });
});
