import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { TokenStringRule } from './TokenStringRule.js';

const MODEL = (vocab: string) => `tokenizer b = bytes()\ntokenizer t = tiktoken("gpt2")\nmodel m {\n  arch llama(dim: 32, layers: 1, heads: 2, ffn: 64)\n  ${vocab}\n}\n`;

describe('TokenStringRule', () => {
  it('a string of more than one UTF-8 byte is not one token of bytes() (its tokenId: one byte)', () => {
    const src = `${MODEL('vocab b')}decode d {\n  model m\n  policy ban(["a", "ab", "\u00e9", 7]) -> allow(["x", "\u4e2d"])\n}\n`;
    const ds = run(src, TokenStringRule);
    expect(at(ds)).toEqual(['LMP0609@9:20', 'LMP0609@9:26', 'LMP0609@9:50']);
    expect(ds[0]!.message).toBe('ban: "ab" is not one token of model m\'s tokenizer bytes() (2 tokens)');
    expect(ds[1]!.message).toContain('"\u00e9" is not one token'); // U+00E9: 2 bytes
    expect(ds[2]!.message).toBe('allow: "\u4e2d" is not one token of model m\'s tokenizer bytes() (3 tokens)');
  });
  it('judged only where the tokenizer is bytes: a model without vocab (the runtime default) yes, tiktoken or a checkpoint no', () => {
    const dec = 'decode d {\n  model m\n  policy ban(["ab"])\n}\n';
    expect(at(run(`${MODEL('vocab 257')}${dec}`, TokenStringRule))).toEqual(['LMP0609@9:15']);
    expect(run(`${MODEL('vocab t')}${dec}`, TokenStringRule)).toEqual([]);
    expect(run(`tokenizer b = bytes()\nmodel m = load("ck")\n${dec}`, TokenStringRule)).toEqual([]);
  });
});
