// decoding.ts
import { runDecode } from "lmp/runtime";
var source = {
  file: "examples/decoding.lmp",
  sha256: "3a9e3bc5e4fd7f3f0418d7c52b7ae3483ec7b987fe30459af06a86ca0863edc6",
  compiler: "0.1.0"
};
var tokenizer_bytes = {
  kind: "tokenizer",
  name: "bytes",
  where: "examples/decoding.lmp:7:1",
  unsupported: [],
  config: { kind: "bytes", eot: 256, appendEot: true },
  vocabSize: 257
};
var attention_streaming = {
  kind: "attention",
  name: "streaming",
  where: "examples/decoding.lmp:9:1",
  unsupported: [],
  mask: {
    default: {
      op: "and",
      args: [
        { op: "causal" },
        { op: "or", args: [{ op: "sink", count: 4 }, { op: "window", size: 1024 }] }
      ]
    },
    groups: []
  },
  score: { kind: "softmax", temperature: 1 },
  position: { kind: "rope", theta: 1e4, scaling: { kind: "none" }, limit: 1024 },
  cache: {
    kind: "keep",
    mask: { op: "or", args: [{ op: "sink", count: 4 }, { op: "window", size: 1024 }] },
    reposition: true
  },
  tile: { cpu: { q: 64, kv: 64 }, cuda: { q: 128, kv: 64 } }
};
var model_tiny = {
  kind: "model",
  name: "tiny",
  where: "examples/decoding.lmp:15:1",
  unsupported: [],
  config: {
    dim: 256,
    layers: 4,
    heads: 8,
    kvHeads: 4,
    ffn: 704,
    vocab: 257,
    normEps: 1e-5,
    ropeTheta: 1e4,
    tieEmbeddings: false
  },
  load: null,
  attention: null,
  tokenizer: tokenizer_bytes,
  seed: 0
};
var model_small = {
  kind: "model",
  name: "small",
  where: "examples/decoding.lmp:20:1",
  unsupported: [],
  config: {
    dim: 128,
    layers: 2,
    heads: 4,
    kvHeads: 2,
    ffn: 352,
    vocab: 257,
    normEps: 1e-5,
    ropeTheta: 1e4,
    tieEmbeddings: false
  },
  load: null,
  attention: null,
  tokenizer: tokenizer_bytes,
  seed: 0
};
var model_big = {
  kind: "model",
  name: "big",
  where: "examples/decoding.lmp:25:1",
  unsupported: [],
  config: {
    dim: 512,
    layers: 8,
    heads: 8,
    kvHeads: 4,
    ffn: 1408,
    vocab: 257,
    normEps: 1e-5,
    ropeTheta: 1e4,
    tieEmbeddings: false
  },
  load: null,
  attention: null,
  tokenizer: tokenizer_bytes,
  seed: 0
};
var decode_story = {
  kind: "decode",
  name: "story",
  where: "examples/decoding.lmp:30:1",
  unsupported: [],
  model: model_tiny,
  attention: attention_streaming,
  chain: {
    samplers: [
      { name: "penalties", last: 64, repeat: 1.1, frequency: 0, presence: 0 },
      { name: "top_k", k: 100 },
      { name: "mirostat", tau: 3, eta: 0.1, m: 100, variant: "paper" }
    ],
    seed: 42
  },
  prompt: null,
  template: null,
  maxTokens: 2048,
  minTokens: null,
  stop: ["\n\n"],
  length: { unit: "words", value: 300, within: 0.1, strength: 8 },
  trace: ["entropy", "surprise"],
  speculate: null,
  cascade: null,
  seed: 42
};
var decode_typical = {
  kind: "decode",
  name: "typical",
  where: "examples/decoding.lmp:41:1",
  unsupported: [],
  model: model_tiny,
  attention: null,
  chain: {
    samplers: [
      { name: "temperature", t: 0.8 },
      { name: "typical", p: 0.95, crossing: "hf", ties: "keep" },
      { name: "sample" }
    ],
    seed: 0
  },
  prompt: null,
  template: null,
  maxTokens: 256,
  minTokens: null,
  stop: [],
  length: null,
  trace: [],
  speculate: null,
  cascade: null,
  seed: 0
};
var decode_fast = {
  kind: "decode",
  name: "fast",
  where: "examples/decoding.lmp:47:1",
  unsupported: [],
  model: model_big,
  attention: null,
  chain: {
    samplers: [
      { name: "temperature", t: 0.8 },
      { name: "top_p", p: 0.95 },
      { name: "sample" }
    ],
    seed: 0
  },
  prompt: null,
  template: null,
  maxTokens: 64,
  minTokens: null,
  stop: [],
  length: null,
  trace: [],
  speculate: {
    draft: model_small,
    candidates: { max: 16, min: 1, stopWhen: 0.3 },
    greedy: false
  },
  cascade: null,
  seed: 0
};
var decode_cheap = {
  kind: "decode",
  name: "cheap",
  where: "examples/decoding.lmp:54:1",
  unsupported: [],
  model: null,
  attention: null,
  chain: { samplers: [{ name: "sample" }], seed: 0 },
  prompt: null,
  template: null,
  maxTokens: 64,
  minTokens: null,
  stop: [],
  length: null,
  trace: [],
  speculate: null,
  cascade: {
    models: [model_small, model_big],
    statistic: { kind: "quantile", of: "logprob", q: 0.1 },
    op: "<",
    threshold: -2.5
  },
  seed: 0
};
var data_prompts = {
  kind: "data",
  name: "prompts",
  where: "examples/decoding.lmp:59:1",
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
    tokenizer: { kind: "bytes", eot: 256, appendEot: true },
    holdout: { fraction: 0, seed: 0 },
    filter: { minLength: 0, maxLength: null },
    utf8: "replace",
    pack: { kind: "prepack", capacity: "longest", algorithm: "bfd", group: 0 },
    seed: 0,
    root: "."
  },
  buckets: []
};
var decode_batch = {
  kind: "decode",
  name: "batch",
  where: "examples/decoding.lmp:65:1",
  unsupported: [],
  model: model_small,
  attention: null,
  chain: { samplers: [{ name: "top_k", k: 40 }, { name: "sample" }], seed: 0 },
  prompt: { data: data_prompts },
  template: null,
  maxTokens: 32,
  minTokens: null,
  stop: ["\n"],
  length: null,
  trace: [],
  speculate: null,
  cascade: null,
  seed: 0
};
async function story(options = {}) {
  return runDecode(decode_story, options);
}
async function typical(options = {}) {
  return runDecode(decode_typical, options);
}
async function fast(options = {}) {
  return runDecode(decode_fast, options);
}
async function cheap(options = {}) {
  return runDecode(decode_cheap, options);
}
async function batch(options = {}) {
  return runDecode(decode_batch, options);
}
var targets = {
  story: { kind: "decode", where: "examples/decoding.lmp:30:1", run: story },
  typical: { kind: "decode", where: "examples/decoding.lmp:41:1", run: typical },
  fast: { kind: "decode", where: "examples/decoding.lmp:47:1", run: fast },
  cheap: { kind: "decode", where: "examples/decoding.lmp:54:1", run: cheap },
  batch: { kind: "decode", where: "examples/decoding.lmp:65:1", run: batch }
};
export {
  attention_streaming,
  batch,
  cheap,
  data_prompts,
  decode_batch,
  decode_cheap,
  decode_fast,
  decode_story,
  decode_typical,
  fast,
  model_big,
  model_small,
  model_tiny,
  source,
  story,
  targets,
  tokenizer_bytes,
  typical
};
