// dataset_decomposition.ts
import { runTrain } from "lmp/runtime";
var source = {
  file: "examples/dataset_decomposition.lmp",
  sha256: "a368ebb3d6d099668deedcb638ab84edf0ae8d0110200d0e33294f941a0f699a",
  compiler: "0.1.0"
};
var tokenizer_bytes = {
  kind: "tokenizer",
  name: "bytes",
  where: "examples/dataset_decomposition.lmp:9:1",
  unsupported: [],
  config: { kind: "bytes", eot: 256, appendEot: true },
  vocabSize: 257
};
var data_speeches = {
  kind: "data",
  name: "speeches",
  where: "examples/dataset_decomposition.lmp:11:1",
  unsupported: [],
  config: {
    sources: [{ kind: "text", glob: "corpus/sotu/*.txt", weight: 1 }],
    tokenizer: { kind: "bytes", eot: 256, appendEot: true },
    holdout: { fraction: 0.02, seed: 7 },
    filter: { minLength: 0, maxLength: null },
    utf8: "replace",
    pack: { kind: "decompose", min: 256, max: 8192, deterministic: false },
    seed: 0,
    root: "."
  },
  buckets: [256, 512, 1024, 2048, 4096, 8192]
};
var curriculum_grow_p2 = {
  kind: "curriculum",
  name: "grow_p2",
  where: "examples/dataset_decomposition.lmp:18:1",
  unsupported: [],
  config: {
    schedule: {
      kind: "weights",
      weights: [
        { length: 256, weight: 32 },
        { length: 512, weight: 16 },
        { length: 1024, weight: 8 },
        { length: 2048, weight: 4 },
        { length: 4096, weight: 2 },
        { length: 8192, weight: 1 }
      ],
      cycles: 8
    },
    tokensPerStep: 65536,
    ranks: 1,
    seed: 0
  }
};
var attention_doc_causal = {
  kind: "attention",
  name: "doc_causal",
  where: "examples/dataset_decomposition.lmp:24:1",
  unsupported: [],
  mask: {
    default: { op: "and", args: [{ op: "causal" }, { op: "same_document" }] },
    groups: []
  },
  score: { kind: "softmax", temperature: 1 },
  position: { kind: "rope", theta: 1e5, scaling: { kind: "none" }, limit: null },
  cache: { kind: "full", reposition: false },
  tile: { cpu: { q: 64, kv: 64 }, cuda: { q: 128, kv: 64 } }
};
var model_tiny = {
  kind: "model",
  name: "tiny",
  where: "examples/dataset_decomposition.lmp:29:1",
  unsupported: [],
  config: {
    dim: 256,
    layers: 4,
    heads: 8,
    kvHeads: 4,
    ffn: 704,
    vocab: 257,
    normEps: 1e-5,
    ropeTheta: 1e5,
    tieEmbeddings: false
  },
  load: null,
  attention: attention_doc_causal,
  tokenizer: tokenizer_bytes,
  seed: 0
};
var train_dd_run = {
  kind: "train",
  name: "dd_run",
  where: "examples/dataset_decomposition.lmp:35:1",
  unsupported: [],
  model: model_tiny,
  data: data_speeches,
  curriculum: curriculum_grow_p2,
  optimizer: {
    kind: "adamw",
    lr: 3e-4,
    beta1: 0.9,
    beta2: 0.95,
    weightDecay: 0.1,
    eps: 1e-8
  },
  schedule: { warmup: 10, decay: "cosine", finalFraction: 0.1 },
  steps: 150,
  accumulate: 1,
  clip: null,
  evals: [
    {
      every: 50,
      task: {
        task: "perplexity",
        where: "examples/dataset_decomposition.lmp:42:18",
        params: { data: "speeches.holdout", by: "length" }
      },
      eval: null,
      perplexity: { data: data_speeches, split: "holdout", by: "length" },
      evalSpec: null
    }
  ],
  checkpoint: { dir: "runs/dd", every: 50 },
  log: null,
  ranks: 1,
  seed: 0,
  resume: null,
  backend: "cpu"
};
var data_speeches_cc = {
  kind: "data",
  name: "speeches_cc",
  where: "examples/dataset_decomposition.lmp:47:1",
  unsupported: [],
  config: {
    sources: [{ kind: "text", glob: "corpus/sotu/*.txt", weight: 1 }],
    tokenizer: { kind: "bytes", eot: 256, appendEot: true },
    holdout: { fraction: 0.02, seed: 7 },
    filter: { minLength: 0, maxLength: null },
    utf8: "replace",
    pack: { kind: "concat_chunk", length: 8192 },
    seed: 0,
    root: "."
  },
  buckets: [8192]
};
var train_cc_run = {
  kind: "train",
  name: "cc_run",
  where: "examples/dataset_decomposition.lmp:51:1",
  unsupported: [],
  model: model_tiny,
  data: data_speeches_cc,
  curriculum: {
    kind: "curriculum",
    name: null,
    where: "examples/dataset_decomposition.lmp:53:14",
    unsupported: [],
    config: {
      schedule: { kind: "fixed", length: 8192 },
      tokensPerStep: 65536,
      ranks: 1,
      seed: 0
    }
  },
  optimizer: {
    kind: "adamw",
    lr: 3e-4,
    beta1: 0.9,
    beta2: 0.95,
    weightDecay: 0.1,
    eps: 1e-8
  },
  schedule: { warmup: 10, decay: "cosine", finalFraction: 0.1 },
  steps: 150,
  accumulate: 1,
  clip: null,
  evals: [
    {
      every: 50,
      task: {
        task: "perplexity",
        where: "examples/dataset_decomposition.lmp:42:18",
        params: { data: "speeches.holdout", by: "length" }
      },
      eval: null,
      perplexity: { data: data_speeches, split: "holdout", by: "length" },
      evalSpec: null
    }
  ],
  checkpoint: { dir: "runs/cc", every: 50 },
  log: null,
  ranks: 1,
  seed: 0,
  resume: null,
  backend: "cpu"
};
async function dd_run(options = {}) {
  return runTrain(train_dd_run, options);
}
async function cc_run(options = {}) {
  return runTrain(train_cc_run, options);
}
var targets = {
  dd_run: { kind: "train", where: "examples/dataset_decomposition.lmp:35:1", run: dd_run },
  cc_run: { kind: "train", where: "examples/dataset_decomposition.lmp:51:1", run: cc_run }
};
export {
  attention_doc_causal,
  cc_run,
  curriculum_grow_p2,
  data_speeches,
  data_speeches_cc,
  dd_run,
  model_tiny,
  source,
  targets,
  tokenizer_bytes,
  train_cc_run,
  train_dd_run
};
