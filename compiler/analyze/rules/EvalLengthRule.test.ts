import { describe, expect, it } from 'vitest';
import { fixedText } from '../../../runtime/eval/minimum.js';
import { lookupBuiltin } from '../../registry/index.js';
import { parseDefault } from '../facts.js';
import { at, run } from '../test-helpers.js';
import { EvalLengthRule } from './EvalLengthRule.js';

const MODEL = 'model m {\n  arch llama(dim: 32, layers: 1, heads: 2, kv_heads: 1, ffn: 64)\n  VOCAB\n}\ndecode g { model m }\n';
const src = (task: string, vocab = 'vocab 257', extra = '') => `${extra}${MODEL.replace('VOCAB', vocab)}eval e {\n  task ${task}\n  using g\n}\n`;

describe('EvalLengthRule', () => {
  it('reports each length below the fixed text, at the length', () => {
    const ds = run(src('threading(lengths: [512, 617, 618, 1k])'), EvalLengthRule);
    expect(at(ds)).toEqual(['LMP0806@7:28', 'LMP0806@7:33']);
    expect(ds[0]!.message).toBe("threading length 512 is shorter than the task's fixed text: 618 tokens with the byte tokenizer");
    expect(ds[0]!.help).toBe('the prompt without filler must fit: use lengths of at least 618');
  });
  it('needle: the minimum is the fixed text with the longest keys; tsort: a lower bound', () => {
    const n = run(src('needle(lengths: [360], keys: 2, values: 2, queries: 2)'), EvalLengthRule);
    const f = fixedText('needle', { keys: 2, values: 2, queries: 2 })!;
    expect(n[0]!.message).toBe(`needle length 360 is shorter than the task's fixed text: ${f.max} tokens with the byte tokenizer when the draws pick the longest keys (${f.min} with the shortest)`);
    expect(at(run(src('tsort(lengths: [301, 302], segments: 4)'), EvalLengthRule))).toEqual(['LMP0806@7:24']);
    expect(at(run(src('passkey(lengths: [95, 96])'), EvalLengthRule))).toEqual(['LMP0806@7:26']);
  });
  it('follows using to a model directly, through from, and a bytes() tokenizer declaration', () => {
    const direct = `${MODEL.replace('VOCAB', '')}eval e {\n  task passkey(lengths: [64])\n  using m\n}\neval f from e {\n  seed 2\n}\n`;
    expect(at(run(direct, EvalLengthRule))).toEqual(['LMP0806@7:26']);
    expect(at(run(src('passkey(lengths: [64])', 'vocab t', 'tokenizer t = bytes()\n'), EvalLengthRule))).toEqual(['LMP0806@8:26']);
  });
  // A model without `vocab` was taken to read bytes even when a train of the file trains it on a
  // Hugging Face tokenizer's data, which is what it then decodes with (runTrain records it).
  it('a model a train of the file trains: the train data\'s tokenizer, not bytes', () => {
    const train = (tok: string) => `tokenizer h = ${tok}\ndata d {\n  source text("c/*.txt")\n  tokenizer h\n}\ntrain t {\n  model m\n  data d\n  steps 1\n}\n`;
    expect(run(src('passkey(lengths: [64])', '', train('hf("tokenizer.json")')), EvalLengthRule)).toEqual([]);
    expect(run(src('passkey(lengths: [64])', '', train('tiktoken("gpt2")')), EvalLengthRule)).toEqual([]);
    expect(at(run(src('passkey(lengths: [64])', '', train('bytes()')), EvalLengthRule))).toEqual(['LMP0806@17:26']);
    // two trains on different tokenizers: not known here
    const two = `${train('hf("tokenizer.json")')}tokenizer b = bytes()\ndata e {\n  source text("c/*.txt")\n  tokenizer b\n}\ntrain u {\n  model m\n  data e\n  steps 1\n}\n`;
    expect(run(src('passkey(lengths: [64])', '', two), EvalLengthRule)).toEqual([]);
  });
  it('does not judge other tokenizers (they count differently) or a missing using', () => {
    expect(run(src('passkey(lengths: [64])', 'vocab t', 'tokenizer t = tiktoken("cl100k_base")\n'), EvalLengthRule)).toEqual([]);
    expect(run(src('passkey(lengths: [64])', 'vocab t', 'tokenizer t = hf("tokenizer.json")\n'), EvalLengthRule)).toEqual([]);
    expect(run('eval e {\n  task passkey(lengths: [64])\n}\n', EvalLengthRule)).toEqual([]);
    // a checkpoint without `vocab` decodes with the tokenizer saved beside it (runtime/entry/common.ts)
    expect(run(src('passkey(lengths: [64])', 'load "ckpt"'), EvalLengthRule)).toEqual([]);
  });
  it("the registry's lengths docs state the minima of the default parameters", () => {
    for (const task of ['passkey', 'needle', 'threading', 'tsort']) {
      const def = lookupBuiltin('task', task)!;
      const defaults = Object.fromEntries(def.params.filter((p) => !p.required && ['keys', 'values', 'queries', 'steps', 'segments'].includes(p.name)).map((p) => [p.name, parseDefault(p.default)!]));
      const f = fixedText(task, defaults)!;
      expect(def.params.find((p) => p.name === 'lengths')!.doc).toContain(`needs ${f.max === null ? 'at least ' : ''}${f.max ?? f.min}`);
    }
  });
});
