// long_context.ts
var source = {
  file: "examples/long_context.lmp",
  sha256: "a810c80f222b1d880706c24a25f01097532725f9e5857ada540245ea21e1eece",
  compiler: "0.1.0"
};
var attention_streaming = {
  kind: "attention",
  name: "streaming",
  where: "examples/long_context.lmp:3:1",
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
var attention_hybrid = {
  kind: "attention",
  name: "hybrid",
  where: "examples/long_context.lmp:10:1",
  unsupported: [],
  mask: {
    default: void 0,
    groups: [
      {
        from: 0,
        to: 3,
        mask: {
          op: "and",
          args: [
            { op: "causal" },
            { op: "or", args: [{ op: "sink", count: 64 }, { op: "window", size: 256 }] }
          ]
        }
      },
      { from: 4, to: 7, mask: { op: "causal" } }
    ]
  },
  score: { kind: "softmax", temperature: 1 },
  position: { kind: "rope", theta: 1e4, scaling: { kind: "none" }, limit: null },
  cache: { kind: "full", reposition: false },
  tile: { cpu: { q: 64, kv: 64 }, cuda: { q: 128, kv: 64 } }
};
var attention_tempered = {
  kind: "attention",
  name: "tempered",
  where: "examples/long_context.lmp:16:1",
  unsupported: [],
  mask: { default: { op: "causal" }, groups: [] },
  score: { kind: "softmax", temperature: 0.9 },
  position: { kind: "alibi", limit: null },
  cache: { kind: "full", reposition: false },
  tile: { cpu: { q: 64, kv: 64 }, cuda: { q: 128, kv: 64 } }
};
var attention_nope = {
  kind: "attention",
  name: "nope",
  where: "examples/long_context.lmp:23:1",
  unsupported: [],
  mask: { default: { op: "prefix", length: 64 }, groups: [] },
  score: { kind: "softmax", temperature: 1 },
  position: { kind: "none", limit: null },
  cache: { kind: "full", reposition: false },
  tile: { cpu: { q: 64, kv: 64 }, cuda: { q: 128, kv: 64 } }
};
var attention_scaled = {
  kind: "attention",
  name: "scaled",
  where: "examples/long_context.lmp:29:1",
  unsupported: [],
  mask: { default: { op: "causal" }, groups: [] },
  score: { kind: "softmax", temperature: 1 },
  position: {
    kind: "rope",
    theta: 1e4,
    scaling: { kind: "linear", factor: 4 },
    limit: null
  },
  cache: { kind: "full", reposition: false },
  tile: { cpu: { q: 64, kv: 64 }, cuda: { q: 128, kv: 64 } }
};
var attention_recall = {
  kind: "attention",
  name: "recall",
  where: "examples/long_context.lmp:35:1",
  unsupported: [],
  mask: { default: { op: "causal" }, groups: [] },
  score: { kind: "softmax", temperature: 1 },
  position: { kind: "rope", theta: 1e4, scaling: { kind: "none" }, limit: null },
  cache: { kind: "sirllm", keep: 512, decay: 0.9, recent: 64, reposition: false },
  tile: { cpu: { q: 64, kv: 64 }, cuda: { q: 128, kv: 64 } }
};
var targets = {};
export {
  attention_hybrid,
  attention_nope,
  attention_recall,
  attention_scaled,
  attention_streaming,
  attention_tempered,
  source,
  targets
};
