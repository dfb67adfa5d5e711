// prepacking.ts
var source = {
  file: "examples/prepacking.lmp",
  sha256: "56db8117410bba94d6e1ce873c8f716fc5846dabc0332fba29419066277f9740",
  compiler: "0.1.0"
};
var data_prompts = {
  kind: "data",
  name: "prompts",
  where: "examples/prepacking.lmp:3:1",
  unsupported: [],
  config: {
    sources: [
      {
        kind: "jsonl",
        path: "prompts.jsonl",
        field: "prompt",
        weight: 1,
        onError: "fail"
      }
    ],
    tokenizer: {
      kind: "huggingface",
      path: "tokenizer.json",
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
var targets = {};
export {
  data_prompts,
  source,
  targets
};
