import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { llama3Dir } from './llama3.testutil.js';
import { bytesTokenizer, huggingfaceTokenizer, tiktokenTokenizer } from './tokenizers.js';

describe('tokenizers', () => {
  it('bytes: UTF-8 bytes, EOT 256 appended, vocabulary 257', () => {
    const t = bytesTokenizer();
    expect([...t.encodeDoc('hé')]).toEqual([104, 0xc3, 0xa9, 256]);
    expect(t.vocabSize).toBe(257);
    expect([...bytesTokenizer(300, false).encodeDoc('a')]).toEqual([97]);
    expect(() => bytesTokenizer(10)).toThrow(/eot must be/);
  });

  it('tiktoken cl100k_base: known reference ids', async () => {
    const t = await tiktokenTokenizer('cl100k_base', '<|endoftext|>');
    // OpenAI cookbook "How to count tokens with tiktoken": "tiktoken is great!" -> [83, 1609, 5963, 374, 2294, 0]
    expect([...t.encode('tiktoken is great!')]).toEqual([83, 1609, 5963, 374, 2294, 0]);
    // widely quoted: "hello world" -> [15339, 1917]; <|endoftext|> is 100257 in cl100k_base
    expect([...t.encodeDoc('hello world')]).toEqual([15339, 1917, 100257]);
    // special-token text inside a document is plain text, never the special id
    expect([...t.encode('<|endoftext|>')]).not.toContain(100257);
  });

  it('tiktoken: built once per encoding and settings in a process (the same tokenizer returned)', async () => {
    const a = await tiktokenTokenizer('gpt2', '<|endoftext|>');
    expect(await tiktokenTokenizer('gpt2', '<|endoftext|>')).toBe(a);
    const b = await tiktokenTokenizer('gpt2', '<|endoftext|>', false);
    expect(b).not.toBe(a);
    expect([b.appendEot, a.appendEot]).toEqual([false, true]);
  });

  it('Hugging Face tokenizer.json (Llama 3, read from a local file): known reference ids', async () => {
    const file = join(llama3Dir(), 'tokenizer.json');
    expect(existsSync(file)).toBe(true);
    const t = await huggingfaceTokenizer(file, '<|end_of_text|>');
    // Meta's Llama 3 special tokens: <|begin_of_text|> 128000, <|end_of_text|> 128001, <|eot_id|> 128009.
    expect(t.eot).toBe(128001);
    // Llama 3's first 100k tokens are cl100k_base's: "hello world" -> [15339, 1917];
    // tokenizers.js README (Llama-3-vocabulary SmolLM3): "Hello World" -> [9906, 4435].
    expect([...t.encode('hello world')]).toEqual([15339, 1917]);
    expect([...t.encodeDoc('Hello World')]).toEqual([9906, 4435, 128001]);
    expect(t.vocabSize).toBe(128256);
  });

  it('bos: prepended to documents and prompts (bytes id, Hugging Face token name); none by default', async () => {
    const b = bytesTokenizer(256, true, 257);
    expect([...b.encodeDoc('a')]).toEqual([257, 97, 256]);
    expect([...b.encodePrompt('a')]).toEqual([257, 97]);
    expect(b.vocabSize).toBe(258);
    expect(bytesTokenizer().bos).toBeNull();
    const file = join(llama3Dir(), 'tokenizer.json');
    // no eot given: tokenizer_config.json's eos_token (<|end_of_text|> 128001)
    const t = await huggingfaceTokenizer(file, null, true, '<|begin_of_text|>');
    expect([t.bos, t.eot]).toEqual([128000, 128001]);
    expect([...t.encodeDoc('hello world')]).toEqual([128000, 15339, 1917, 128001]);
    // auto: this tokenizer.json's post-processor (ByteLevel) adds nothing in front, and its
    // tokenizer_config.json has no add_bos_token: no BOS
    expect((await huggingfaceTokenizer(file, null, true, 'auto')).bos).toBeNull();
    expect(t.chatTemplate).toMatch(/start_header_id/);
  });
});
