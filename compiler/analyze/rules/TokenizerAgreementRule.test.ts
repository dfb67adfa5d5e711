import { describe, expect, it } from 'vitest';
import { at, run } from '../test-helpers.js';
import { TokenizerAgreementRule } from './TokenizerAgreementRule.js';

// Each program below checked clean and then stopped at run time (LMP_E_TOKENIZER / LMP_E_SHAPE).
const TOKS = 'tokenizer tok = bytes()\ntokenizer tok2 {\n  use bytes()\n  eot 300\n}\n';
const ARCH = 'arch llama(dim: 16, layers: 1, heads: 2, ffn: 32)';

describe('TokenizerAgreementRule', () => {
  it('a train whose model reads another tokenizer than its data (LMP0706 at the data clause)', () => {
    const ds = run(`${TOKS}data d { source text("a.txt")  tokenizer tok }\nmodel m { ${ARCH}  vocab tok2 }\ntrain t { model m  data d  steps 1 }\n`, TokenizerAgreementRule);
    expect(at(ds)).toEqual(['LMP0706@8:20']);
    expect(ds[0]!.message).toBe('data d uses bytes() (eot 256), but model m reads bytes() (eot 300): a model trains on the tokenizer it reads');
    expect(run(`${TOKS}data d { source text("a.txt")  tokenizer tok2 }\nmodel m { ${ARCH}  vocab tok2 }\ntrain t { model m  data d  steps 1 }\n`, TokenizerAgreementRule)).toEqual([]);
  });
  it('prompt data tokenized with another tokenizer than the model reads', () => {
    const src = `${TOKS}data p { source jsonl("p.jsonl")  tokenizer tok }\nmodel m { ${ARCH}  vocab tok2 }\ndecode g { model m  prompt p }\n`;
    expect(at(run(src, TokenizerAgreementRule))).toEqual(['LMP0706@8:21']);
    // a model without vocab T reads the byte tokenizer: prompts of bytes() data agree
    expect(run(`${TOKS}data p { source jsonl("p.jsonl")  tokenizer tok }\nmodel m { ${ARCH}  vocab 257 }\ndecode g { model m  prompt p }\n`, TokenizerAgreementRule)).toEqual([]);
  });
  it('the models of a cascade, and a draft and its target, share one tokenizer', () => {
    const models = `model s { ${ARCH}  vocab tok }\nmodel m { ${ARCH}  vocab tok2 }\n`;
    const ds = run(`${TOKS}${models}decode c { cascade s -> m defer when quantile(logprob, 0.1) < -1 }\ndecode sp { model m  speculate draft s candidates 2 }\n`, TokenizerAgreementRule);
    expect(at(ds)).toEqual(['LMP0706@8:12', 'LMP0706@9:22', 'LMP0707@9:22']);
    expect(ds[2]!.message).toBe("model 's' has vocab 257, but the vocabulary of target m has 301 tokens (a draft proposes tokens of its target)");
  });
  it('a numeric vocab below the tokenizer the model meets (LMP0707); vocab T always fits', () => {
    const src =
      `${TOKS}data d { source text("a.txt")  tokenizer tok }\nmodel small { ${ARCH}  vocab 100 }\nmodel fits { ${ARCH}  vocab tok }\n` +
      'train t { model small  data d  steps 1 }\ndecode g { model fits }\nmodel other { ' + ARCH + '  vocab 200 }\ndecode h { model other }\n' +
      'eval e { task passkey(lengths: [128])  using other }\n';
    const ds = run(src, TokenizerAgreementRule);
    expect(at(ds)).toEqual(['LMP0707@9:24', 'LMP0707@12:12', 'LMP0707@13:40']);
    expect(ds[0]!.message).toBe("model 'small' has vocab 100, but bytes() (eot 256) has 257 tokens (its train t reads data d)");
    expect(ds[1]!.message).toMatch(/model 'other' has vocab 200, but bytes\(\) \(eot 256\) has 257 tokens \(decode h runs it with the byte tokenizer\)/);
  });
  it('says nothing where the tokenizer is not known here: a checkpoint, a model the file trains, two Hugging Face files', () => {
    const src =
      'tokenizer h1 = hf("a/tokenizer.json")\ntokenizer h2 = hf("b/tokenizer.json")\ndata p { source jsonl("p.jsonl")  tokenizer h1 }\n' +
      `model m { ${ARCH}  vocab h2 }\nmodel loaded { load "ck" }\nmodel tr { ${ARCH}  vocab 300 }\n` +
      'data d { source text("a.txt")  tokenizer bytes() }\ntrain t { model tr  data d  steps 1 }\n' +
      'decode a { model m  prompt p }\ndecode b { model loaded  prompt p }\ndecode c { model tr  prompt p }\n';
    expect(run(src, TokenizerAgreementRule)).toEqual([]);
  });
});
