// quickstart.ts
import { runDecode, runTrain } from "lmp/runtime";
var source = {
  file: "examples/quickstart.lmp",
  sha256: "02dc3b15892bb2422e4b4ca26bbd3b95ea5d0f1aac76a8f7bc0458e10ac582f1",
  compiler: "0.1.0"
};
var tokenizer_bytes = {
  kind: "tokenizer",
  name: "bytes",
  where: "examples/quickstart.lmp:5:1",
  unsupported: [],
  config: { kind: "bytes", eot: 256, appendEot: true },
  vocabSize: 257
};
var data_corpus = {
  kind: "data",
  name: "corpus",
  where: "examples/quickstart.lmp:7:1",
  unsupported: [],
  config: {
    sources: [
      { kind: "text", glob: "corpus/moby-dick-*.txt", weight: 1 },
      {
        kind: "jsonl",
        path: "corpus/sotu-excerpts.jsonl",
        field: "text",
        weight: 1,
        onError: "fail"
      }
    ],
    tokenizer: { kind: "bytes", eot: 256, appendEot: true },
    holdout: { fraction: 0.25, seed: 1 },
    filter: { minLength: 0, maxLength: null },
    utf8: "replace",
    pack: { kind: "decompose", min: 64, max: 512, deterministic: false },
    seed: 0,
    root: "."
  },
  buckets: [64, 128, 256, 512]
};
var curriculum_grow = {
  kind: "curriculum",
  name: "grow",
  where: "examples/quickstart.lmp:15:1",
  unsupported: [],
  config: {
    schedule: {
      kind: "weights",
      weights: [
        { length: 64, weight: 8 },
        { length: 128, weight: 4 },
        { length: 256, weight: 2 },
        { length: 512, weight: 1 }
      ],
      cycles: 1
    },
    tokensPerStep: 1024,
    ranks: 1,
    seed: 0
  }
};
var attention_doc_causal = {
  kind: "attention",
  name: "doc_causal",
  where: "examples/quickstart.lmp:20:1",
  unsupported: [],
  mask: {
    default: { op: "and", args: [{ op: "causal" }, { op: "same_document" }] },
    groups: []
  },
  score: { kind: "softmax", temperature: 1 },
  position: { kind: "rope", theta: 1e4, scaling: { kind: "none" }, limit: null },
  cache: { kind: "full", reposition: false },
  tile: { cpu: { q: 64, kv: 64 }, cuda: { q: 128, kv: 64 } }
};
var model_tiny = {
  kind: "model",
  name: "tiny",
  where: "examples/quickstart.lmp:25:1",
  unsupported: [],
  config: {
    dim: 64,
    layers: 2,
    heads: 4,
    kvHeads: 2,
    ffn: 176,
    vocab: 257,
    normEps: 1e-5,
    ropeTheta: 1e4,
    tieEmbeddings: false
  },
  load: null,
  attention: attention_doc_causal,
  tokenizer: tokenizer_bytes,
  seed: 1
};
var train_quick = {
  kind: "train",
  name: "quick",
  where: "examples/quickstart.lmp:32:1",
  unsupported: [],
  model: model_tiny,
  data: data_corpus,
  curriculum: curriculum_grow,
  optimizer: {
    kind: "adamw",
    lr: 3e-3,
    beta1: 0.9,
    beta2: 0.95,
    weightDecay: 0.01,
    eps: 1e-8
  },
  schedule: { warmup: 5, decay: "cosine", finalFraction: 0.1 },
  steps: 60,
  accumulate: 1,
  clip: 1,
  evals: [
    {
      every: 20,
      task: {
        task: "perplexity",
        where: "examples/quickstart.lmp:39:18",
        params: { data: "corpus.holdout", by: "length" }
      },
      eval: null,
      perplexity: { data: data_corpus, split: "holdout", by: "length" },
      evalSpec: null
    }
  ],
  checkpoint: null,
  log: null,
  ranks: 1,
  seed: 1,
  resume: null,
  backend: "cpu"
};
var decode_sample = {
  kind: "decode",
  name: "sample",
  where: "examples/quickstart.lmp:44:1",
  unsupported: [],
  model: model_tiny,
  attention: attention_doc_causal,
  chain: {
    samplers: [
      { name: "penalties", last: 32, repeat: 1.1, frequency: 0, presence: 0 },
      { name: "top_k", k: 20 },
      { name: "temperature", t: 0.8 },
      { name: "sample" }
    ],
    seed: 7
  },
  prompt: { text: "The " },
  template: null,
  maxTokens: 80,
  minTokens: null,
  stop: [],
  length: null,
  trace: [],
  speculate: null,
  cascade: null,
  seed: 7
};
async function quick(options = {}) {
  return runTrain(train_quick, options);
}
async function sample(options = {}) {
  return runDecode(decode_sample, options);
}
var targets = {
  quick: { kind: "train", where: "examples/quickstart.lmp:32:1", run: quick },
  sample: { kind: "decode", where: "examples/quickstart.lmp:44:1", run: sample }
};
export {
  attention_doc_causal,
  curriculum_grow,
  data_corpus,
  decode_sample,
  model_tiny,
  quick,
  sample,
  source,
  targets,
  tokenizer_bytes,
  train_quick
};
