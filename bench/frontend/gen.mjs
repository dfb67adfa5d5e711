// The generated check input for the front-end bench: `blocks` clean pipelines (31 lines each:
// tokenizer, data, curriculum, attention, model, train, decode).
//   node bench/frontend/gen.mjs BLOCKS > big.lmp
export function generate(blocks) {
  let s = '';
  for (let i = 0; i < blocks; i++) {
    s += `tokenizer t${i} = bytes()
data d${i} {
  source text("corpus/${i}/*.txt")
  source jsonl("c${i}.jsonl", field: "content") weight 0.25
  tokenizer t${i}
  holdout 2% seed 7
  pack decompose(min: 256, max: 8k)
}
curriculum c${i} {
  tokens_per_step 64k
  weights { 256: 32, 512: 16, 1k: 8, 2k: 4, 4k: 2, 8k: 1 }
  cycles 8
}
attention a${i} {
  mask causal & (sink(${4 + (i % 8)}) | window(${256 << (i % 3)}))
  position rope(theta: 100000)
}
model m${i} {
  arch llama(dim: 256, layers: 4, heads: 8, kv_heads: 4, ffn: 704)
  attention a${i}
}
train r${i} {
  model m${i}
  data d${i}
  curriculum c${i}
  optimizer adamw(lr: 3e-4, betas: (0.9, 0.95), weight_decay: 0.1)
  schedule warmup(100) then cosine(to: 10%)
  steps 2000
  eval every 200: perplexity(d${i}.holdout, by: length)
}
decode s${i} { model m${i}  policy repetition(1.1, last: 64) -> top_k(100) -> mirostat(tau: 3.0, eta: 0.1)  max_tokens 2k }
`;
  }
  return s;
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(generate(Number(process.argv[2] ?? 323)));
