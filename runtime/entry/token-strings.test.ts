// allow / ban with token strings: lowered as strings, resolved through the decode's tokenizer at
// run time (runtime/decode resolveTokenStrings), so a decode with strings emits what the same
// decode with the ids written by hand emits; a string that is not one token is LMP_E_CHAIN_TOKEN.
import { describe, expect, it } from 'vitest';
import { check } from '../../compiler/index.js';
import { findDecl } from '../../compiler/ir/types.js';
import { lower } from '../../compiler/lower/index.js';
import { lowerSpec, resolveTokenStrings } from '../decode/chain.js';
import { loadTokenizer } from '../data/tokenizers.js';
import { llama3Dir } from '../data/llama3.testutil.js';
import { join } from 'node:path';
import { runDecode, type DecodeSpec } from './index.js';

const decode = (policy: string): DecodeSpec => {
  const src = `tokenizer b = bytes()\nmodel m {\n  arch llama(dim: 16, layers: 1, heads: 2, ffn: 32)\n  vocab b\n  seed 4\n}\ndecode g {\n  model m\n  prompt "the whale"\n  policy ${policy}\n  min_tokens 12\n  max_tokens 12\n  seed 3\n}\n`;
  const r = check(src, 't.lmp');
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return findDecl(lower(r.program), 'g')!.spec as DecodeSpec;
};

describe('allow / ban token strings', () => {
  it('lower as strings and run as the byte ids written by hand (a = 97, b = 98, e = 101)', async () => {
    const s = decode('allow(["a", "b", 101]) -> sample()');
    expect(s.chain.samplers[0]).toEqual({ name: 'allowed', tokens: [101], strings: ['a', 'b'] });
    const withStrings = await runDecode(s, { baseDir: '.' });
    expect(withStrings.tokens.length).toBe(12);
    expect(withStrings.tokens.every((t) => t === 97 || t === 98 || t === 101)).toBe(true);
    expect(new Set(withStrings.tokens).size).toBeGreaterThan(1);
    expect(withStrings.tokens).toEqual((await runDecode(decode('allow([101, 97, 98]) -> sample()'), { baseDir: '.' })).tokens);
    const plain = (await runDecode(decode('greedy()'), { baseDir: '.' })).tokens;
    const banned = (await runDecode(decode(`ban(["${String.fromCharCode(plain[0]!)}"]) -> greedy()`), { baseDir: '.' })).tokens;
    // greedy's first token banned by its text: another first token, never that one
    expect(plain[0]).toBeLessThan(128);
    expect(banned[0]).not.toBe(plain[0]);
    expect(banned).not.toContain(plain[0]);
    expect(banned).toEqual((await runDecode(decode(`ban([${plain[0]}]) -> greedy()`), { baseDir: '.' })).tokens);
  }, 60_000);

  it('a Hugging Face tokenizer: a string that is one token is its id; one of several tokens is LMP_E_CHAIN_TOKEN', async () => {
    const tok = await loadTokenizer({ kind: 'huggingface', path: join(llama3Dir(), 'tokenizer.json'), eot: null, appendEot: true, bos: 'auto' }, '.');
    expect(Array.from(tok.encode(' the'))).toEqual([279]); // Llama 3: "Ġthe"
    expect(resolveTokenStrings([{ name: 'banned', tokens: [5], strings: [' the', '<|eot_id|>'] }], tok)).toEqual([{ name: 'banned', tokens: [5, 279, 128009] }]);
    expect(tok.encode(' the whale').length).toBeGreaterThan(1);
    expect(() => resolveTokenStrings([{ name: 'allowed', tokens: [], strings: [' the whale'] }], tok, 'l3')).toThrow(expect.objectContaining({ code: 'LMP_E_CHAIN_TOKEN', message: expect.stringContaining('" the whale" is not one token of l3') }));
    // strings nobody resolved are refused, not dropped
    expect(() => lowerSpec({ name: 'banned', tokens: [1], strings: ['a'] })).toThrow(expect.objectContaining({ code: 'LMP_E_CHAIN_TOKEN' }));
  });
});
