// eval_optimize.ts
import { runDecode, runEval, runOptimize } from "lmp/runtime";
var source = {
  file: "examples/eval_optimize.lmp",
  sha256: "c52c88d5bd026340f06b7e7cc2be428e6b54a69c048ed7d37284d5dee90716ee",
  compiler: "0.1.0"
};
var tokenizer_bytes = {
  kind: "tokenizer",
  name: "bytes",
  where: "examples/eval_optimize.lmp:3:1",
  unsupported: [],
  config: { kind: "bytes", eot: 256, appendEot: true },
  vocabSize: 257
};
var attention_streaming = {
  kind: "attention",
  name: "streaming",
  where: "examples/eval_optimize.lmp:5:1",
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
  where: "examples/eval_optimize.lmp:11:1",
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
  attention: attention_streaming,
  tokenizer: tokenizer_bytes,
  seed: 0
};
var decode_story = {
  kind: "decode",
  name: "story",
  where: "examples/eval_optimize.lmp:17:1",
  unsupported: [],
  model: model_tiny,
  attention: attention_streaming,
  chain: {
    samplers: [
      { name: "penalties", last: 64, repeat: 1.1, frequency: 0, presence: 0 },
      { name: "top_k", k: 100 },
      { name: "mirostat", tau: 3, eta: 0.1, m: 100, variant: "paper" }
    ],
    seed: 0
  },
  prompt: null,
  template: null,
  maxTokens: 2048,
  minTokens: null,
  stop: ["\n\n"],
  length: null,
  trace: [],
  speculate: null,
  cascade: null,
  seed: 0
};
var eval_passkey_sweep = {
  kind: "eval",
  name: "passkey_sweep",
  where: "examples/eval_optimize.lmp:24:1",
  unsupported: [],
  task: {
    task: "passkey",
    where: "examples/eval_optimize.lmp:25:8",
    params: { lengths: [1024, 2048, 4096, 8192], depths: 5, samples: 20 }
  },
  using: { kind: "decode", name: "story" },
  data: null,
  metrics: ["accuracy"],
  seed: 0,
  refs: { story: decode_story }
};
var eval_length_control = {
  kind: "eval",
  name: "length_control",
  where: "examples/eval_optimize.lmp:30:1",
  unsupported: [],
  task: {
    task: "target_length",
    where: "examples/eval_optimize.lmp:31:8",
    params: { prompts: "prompts.jsonl", targets: [50, 150, 300] }
  },
  using: { kind: "decode", name: "story" },
  data: null,
  metrics: ["precise_match", "flexible_match"],
  seed: 0,
  refs: { story: decode_story }
};
var optimize_window_size = {
  kind: "optimize",
  name: "window_size",
  where: "examples/eval_optimize.lmp:36:1",
  unsupported: [],
  vary: [
    { path: "streaming.mask.window", values: { list: [256, 512, 1024, 2048] } },
    { path: "streaming.mask.sink", values: { from: 0, to: 16, integer: true } },
    {
      path: "story.policy.mirostat.tau",
      values: { from: 2, to: 6, integer: false }
    }
  ],
  objective: { direction: "maximize", metric: "passkey_sweep.accuracy" },
  constraints: [{ metric: "latency.p50", op: "<", value: 0.05 }],
  search: { kind: "tpe", params: { trials: 40, seed: 1 } },
  budget: { trials: 40, time: 1800, cost: null },
  save: "runs/window_size.json",
  seed: 0
};
async function story(options = {}) {
  return runDecode(decode_story, options);
}
async function passkey_sweep(options = {}) {
  return runEval(eval_passkey_sweep, options);
}
async function length_control(options = {}) {
  return runEval(eval_length_control, options);
}
async function window_size(options = {}) {
  return runOptimize(optimize_window_size, options);
}
var targets = {
  story: { kind: "decode", where: "examples/eval_optimize.lmp:17:1", run: story },
  passkey_sweep: { kind: "eval", where: "examples/eval_optimize.lmp:24:1", run: passkey_sweep },
  length_control: { kind: "eval", where: "examples/eval_optimize.lmp:30:1", run: length_control },
  window_size: { kind: "optimize", where: "examples/eval_optimize.lmp:36:1", run: window_size }
};
export {
  attention_streaming,
  decode_story,
  eval_length_control,
  eval_passkey_sweep,
  length_control,
  model_tiny,
  optimize_window_size,
  passkey_sweep,
  source,
  story,
  targets,
  tokenizer_bytes,
  window_size
};
