import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { RunnableRule } from './RunnableRule.js';

const M = 'model s { arch llama(dim: 16, layers: 1, heads: 2, ffn: 32) vocab 257 }\nmodel b { arch llama(dim: 16, layers: 1, heads: 2, ffn: 32) vocab 257 }\n';

describe('RunnableRule', () => {
  it('a model named after speculate without draft is not read (LMP0312), and speculation needs a draft (LMP0313)', () => {
    const ds = run(`${M}decode d { model b  speculate s candidates 4 }\n`, RunnableRule);
    expect(at(ds)).toEqual(['LMP0313@3:21', 'LMP0312@3:31']);
    expect(ds[1]!.help).toBe("name the draft model with 'draft': speculate draft s candidates N");
  });
  it('accepts a draft, and plain decodes with a model', () => {
    expect(run(`${M}decode d { model b  speculate draft s candidates 4 }\ndecode e { model s }\n`, RunnableRule)).toEqual([]);
  });
  it('traces under speculation, speculation in a cascade', () => {
    const ds = run(`${M}decode d { model s }\ndecode e { model b  speculate draft s candidates 2  trace entropy }\ndecode f { cascade s -> b defer when quantile(logprob, 0.1) < -1  speculate draft s candidates 2 }\n`, RunnableRule);
    expect(at(ds)).toEqual(['LMP0313@4:53', 'LMP0313@5:67']);
  });
  it("a 'model' beside a cascade has no effect (warning)", () => {
    const ds = run(`${M}decode d { model b  cascade s -> b defer when quantile(logprob, 0.1) < -1 }\n`, RunnableRule);
    expect(at(ds)).toEqual(['LMP0314@3:12']);
    expect(ds[0]!.severity).toBe('warning');
  });
  it('tiktoken encodings js-tiktoken does not ship, pad(truncate: left), sgd, inline passkey; allow with strings runs (LMP0609 judges them)', () => {
    const ds = run(
      'tokenizer t = tiktoken("cl99k")\ndata x { source text("a.txt")  tokenizer t  pack pad(64, truncate: left) }\n' +
        `${M}decode d { model b  policy allow(["a", 3]) -> greedy }\n` +
        'train r { model b  data x  steps 1  optimizer sgd(lr: 0.1)  eval every 2: passkey(lengths: [256]) }\n',
      RunnableRule,
    );
    expect(at(ds)).toEqual(['LMP0313@1:24', 'LMP0313@2:68', 'LMP0313@6:47', 'LMP0313@6:75']);
  });
  it('cache keep(MASK) other than sinks + window with reposition; a limit with position none', () => {
    const ds = run('attention a { cache keep(sink(4) | window(64)) }\nattention b { cache keep(window(64) & sink(2)) reposition }\nattention c { position none limit 64 }\nattention ok { cache keep(sink(4) | window(64)) reposition }\n', RunnableRule);
    expect(at(ds)).toEqual(['LMP0313@1:15', 'LMP0313@2:15', 'LMP0313@3:29']);
  });
  it('prompts prefilled from data: a full cache and the causal mask; training settings of prompt-only data have no effect', () => {
    const src =
      'data p { source jsonl("p.jsonl", field: "prompt") weight 2  tokenizer bytes()  holdout 5%  pack prepack() }\n' +
      'data q { source jsonl("p.jsonl")  tokenizer bytes()  pack concat_chunk(64) }\n' +
      'attention w { mask causal & window(16)  cache keep(sink(4) | window(64)) reposition }\n' +
      'model m { arch llama(dim: 16, layers: 1, heads: 2, ffn: 32) vocab 257  attention w }\n' +
      'model n { arch llama(dim: 16, layers: 1, heads: 2, ffn: 32) vocab 257 }\n' +
      'decode a { model m  prompt p }\ndecode b { model n  prompt p }\ndecode c { model n  prompt q }\n';
    const ds = run(src, RunnableRule);
    // data p: once (weight, holdout), though two decodes read it; decode a's cache and mask; data q's packer
    expect(at(ds)).toEqual(['LMP0314@1:51', 'LMP0314@1:80', 'LMP0314@2:59', 'LMP0313@6:21', 'LMP0313@6:21']);
    expect(ds[3]!.message).toMatch(/cache keep/);
    expect(ds[4]!.message).toMatch(/another mask/);
  });
  it('template tokenizer needs a tokenizer with a chat template (Hugging Face); named templates always run', () => {
    const src = `${M}tokenizer h = hf("tokenizer.json")\nmodel hm { arch llama(dim: 16, layers: 1, heads: 2, ffn: 32) vocab h }\ndecode a { model s  prompt "hi" template tokenizer }\ndecode b { model hm  prompt "hi" template tokenizer }\ndecode c { model s  prompt "hi" template chatml }\n`;
    expect(at(run(src, RunnableRule))).toEqual(['LMP0313@5:42']);
  });
  it('template tokenizer for a model a train of the file trains: judged on the train data\'s tokenizer', () => {
    const src = (tok: string) => `tokenizer h = ${tok}\ndata d { source text("c/*.txt")  tokenizer h }\nmodel m { arch llama(dim: 16, layers: 1, heads: 2, ffn: 32) }\ntrain t { model m  data d  steps 1 }\ndecode a { model m  prompt "hi" template tokenizer }\n`;
    // trained on a Hugging Face tokenizer (its chat template): runs; it was taken for bytes and refused
    expect(run(src('hf("tokenizer.json")'), RunnableRule)).toEqual([]);
    expect(at(run(src('bytes()'), RunnableRule))).toEqual(['LMP0313@5:42']);
  });
  it('data a train also reads keeps its training settings quietly', () => {
    const src = 'data p { source jsonl("p.jsonl") tokenizer bytes()  holdout 5%  pack concat_chunk(64) }\nmodel n { arch llama(dim: 16, layers: 1, heads: 2, ffn: 32) vocab 257 }\ntrain t { model n  data p  steps 1 }\ndecode a { model n  prompt p }\n';
    expect(run(src, RunnableRule)).toEqual([]);
  });
  it("an attention's tile has no effect on the CPU kernels (warning)", () => {
    const ds = run('attention a { mask causal  tile 128 }\nattention b { mask causal }\n', RunnableRule);
    expect(at(ds)).toEqual(['LMP0314@1:33']);
    expect(ds[0]!.severity).toBe('warning');
    expect(ds[0]!.message).toMatch(/fixed 64x64 tiles/);
  });
  it("a train's periodic eval declaration must run the trained model: not another model, not a cascade (failed at run time with LMP_E_EVAL_USING)", () => {
    const src =
      `${M}data x { source text("a.txt")  tokenizer bytes()  holdout 10%  pack concat_chunk(64) }\n` +
      'decode ds { model s }\ndecode db { model b }\ndecode dc { cascade s -> b defer when quantile(logprob, 0.1) < -1 }\n' +
      'eval e1 { task passkey(lengths: [128], samples: 1)  using ds }\neval e2 { task passkey(lengths: [128], samples: 1)  using db }\n' +
      'eval e3 { task passkey(lengths: [128], samples: 1)  using dc }\neval e4 { task passkey(lengths: [128], samples: 1)  using b }\n' +
      'eval e5 { task passkey(lengths: [128], samples: 1)  using s }\n' +
      'train t { model s  data x  steps 1  eval every 1: e1  eval every 1: e2  eval every 1: e3  eval every 1: e4  eval every 1: e5 }\n';
    const ds = run(src, RunnableRule);
    expect(at(ds)).toEqual(['LMP0313@12:69', 'LMP0313@12:87', 'LMP0313@12:105']);
    expect(ds[0]!.message).toMatch(/runs model b \(through decode db\)/);
    expect(ds[1]!.message).toMatch(/a cascade of other models/);
    expect(ds[2]!.message).toMatch(/runs model b;/);
  });
});
