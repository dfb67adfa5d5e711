import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { DecodeSupportRule } from './DecodeSupportRule.js';

describe('DecodeSupportRule', () => {
  it('rejects mirostat under speculative decoding', () => {
    const ds = run('decode d { speculate draft s candidates 4  policy top_k(40) -> mirostat(tau: 3) }\n', DecodeSupportRule);
    expect(at(ds)).toEqual(['LMP0604@1:64']);
    expect(ds[0]!.message.startsWith("speculative decoding cannot run sampler 'mirostat'")).toBe(true);
  });
  it('accepts stateless chains with speculation, and mirostat without it', () => {
    expect(run('decode d { speculate draft s candidates 4  policy temperature(0.8) -> top_p(0.9) }\ndecode e { policy mirostat(tau: 3) }\n', DecodeSupportRule)).toEqual([]);
  });
});
