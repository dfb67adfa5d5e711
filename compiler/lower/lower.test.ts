import { describe, expect, it } from 'vitest';
import { check } from '../index.js';
import { declsOf, findDecl, type ProgramIR } from '../ir/types.js';
import { lower, parseDefaultValue } from './index.js';

function ir(src: string): ProgramIR {
  const r = check(src, 't.lmp');
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  expect(errors.map((d) => `${d.code} ${d.message}`)).toEqual([]);
  return lower(r.program);
}

const spec = (p: ProgramIR, name: string) => findDecl(p, name)!.spec as never as Record<string, unknown>;

describe('lowering', () => {
  it('fills registry defaults (llama kv_heads = heads, norm_eps, rope theta) and maps onto ModelConfig', () => {
    const p = ir(`tokenizer b = bytes()\nmodel m {\n  arch llama(dim: 64, layers: 2, heads: 4, ffn: 128)\n  vocab b\n}\n`);
    const m = declsOf(p, 'model')[0]!.spec;
    expect(m.config).toEqual({ dim: 64, layers: 2, heads: 4, kvHeads: 4, ffn: 128, vocab: 257, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: false });
    expect(m.where).toBe('t.lmp:2:1');
  });

  it('flattens from, normalizes units (k = 1024, % -> fraction) and keeps inherited clauses', () => {
    const p = ir(
      `tokenizer b = bytes()\ndata a {\n  source text("x/*.txt")\n  tokenizer b\n  holdout 2% seed 7\n  pack decompose(min: 256, max: 2k)\n}\ndata c from a {\n  pack concat_chunk(8k)\n}\n`,
    );
    const a = declsOf(p, 'data')[0]!.spec;
    const c = declsOf(p, 'data')[1]!.spec;
    expect(a.config.pack).toEqual({ kind: 'decompose', min: 256, max: 2048, deterministic: false });
    expect(a.buckets).toEqual([256, 512, 1024, 2048]);
    expect(c.config.holdout).toEqual({ fraction: 0.02, seed: 7 });
    expect(c.config.sources).toEqual([{ kind: 'text', glob: 'x/*.txt', weight: 1 }]);
    expect(c.config.pack).toEqual({ kind: 'concat_chunk', length: 8192 });
    expect(c.buckets).toEqual([8192]);
  });

  it('resolves references to the declaration\'s own IR object and lowers curricula against the data\'s buckets', () => {
    const p = ir(`tokenizer b = bytes()
data d {
  source text("x.txt")
  tokenizer b
  pack decompose(min: 256, max: 2k)
}
curriculum g {
  tokens_per_step 8k
  weights grow_p2()
}
model m {
  arch llama(dim: 64, layers: 2, heads: 4, kv_heads: 2, ffn: 128)
  vocab b
}
train t {
  model m
  data d
  curriculum g
  optimizer adamw(lr: 1e-3)
  schedule warmup(10) then cosine(to: 10%)
  steps 100
}
`);
    const t = declsOf(p, 'train')[0]!.spec;
    expect(t.model).toBe(declsOf(p, 'model')[0]!.spec);
    expect(t.data).toBe(declsOf(p, 'data')[0]!.spec);
    expect(t.model.tokenizer).toBe(declsOf(p, 'tokenizer')[0]!.spec);
    expect(t.curriculum.config).toEqual({
      schedule: { kind: 'weights', weights: [{ length: 256, weight: 8 }, { length: 512, weight: 4 }, { length: 1024, weight: 2 }, { length: 2048, weight: 1 }], cycles: 1 },
      tokensPerStep: 8192,
      ranks: 1,
      seed: 0,
    });
    expect(t.optimizer).toEqual({ kind: 'adamw', lr: 1e-3, beta1: 0.9, beta2: 0.999, weightDecay: 0, eps: 1e-8 });
    expect(t.schedule).toEqual({ warmup: 10, decay: 'cosine', finalFraction: 0.1 });
    expect(t.unsupported).toEqual([]);
  });

  it('lowers a sampler chain with every parameter explicit and the implicit terminal appended', () => {
    const p = ir(`tokenizer b = bytes()
model m {
  arch llama(dim: 64, layers: 2, heads: 4, ffn: 128)
  vocab b
}
decode s {
  model m
  policy repetition(1.1, last: 64) -> top_k(100) -> mirostat(tau: 3.0, eta: 0.1)
  max_tokens 2k
  length target(words: 300, within: 10%)
  seed 42
}
decode u {
  model m
  policy temperature(0.8) -> typical(0.95)
}
decode v {
  model m
  policy typical(0.9, variant: llama_cpp) -> typical(0.8, variant: llama_cpp, ties: keep) -> typical(0.7, ties: by_id) -> mirostat(tau: 3, m: 50, variant: llama_cpp)
}
decode w {
  model m
  policy mirostat(tau: 3)
}
decode x {
  model m
  policy mirostat_v2(tau: 4)
}
`);
    const [s, u, v, w, x] = declsOf(p, 'decode').map((d) => d.spec);
    expect(s!.chain).toEqual({
      samplers: [
        { name: 'penalties', last: 64, repeat: 1.1, frequency: 0, presence: 0 },
        { name: 'top_k', k: 100 },
        { name: 'mirostat', tau: 3, eta: 0.1, m: 100, variant: 'paper' },
      ],
      seed: 42,
    });
    expect(s!.maxTokens).toBe(2048);
    expect(s!.length).toEqual({ unit: 'words', value: 300, within: 0.1, strength: 8 });
    expect(u!.chain.samplers).toEqual([{ name: 'temperature', t: 0.8 }, { name: 'typical', p: 0.95, crossing: 'hf', ties: 'keep' }, { name: 'sample' }]);
    // typical's tie rule follows its variant unless written: hf keeps the tie group, llama_cpp cuts it by id
    expect(v!.chain.samplers).toEqual([
      { name: 'typical', p: 0.9, crossing: 'llama_cpp', ties: 'by_id' },
      { name: 'typical', p: 0.8, crossing: 'llama_cpp', ties: 'keep' },
      { name: 'typical', p: 0.7, crossing: 'hf', ties: 'by_id' },
      { name: 'mirostat', tau: 3, eta: 0.1, m: 50, variant: 'llama_cpp' },
    ]);
    expect(u!.seed).toBe(0);
    // mirostat's eta defaults to its variant's reference: 1 for the paper's code (basusourya/mirostat,
    // mirostat.py: learning_rate = 1), 0.1 for llama.cpp (common's mirostat_eta, also mirostat_v2's)
    expect(w!.chain.samplers).toEqual([{ name: 'mirostat', tau: 3, eta: 1, m: 100, variant: 'paper' }]);
    expect(x!.chain.samplers).toEqual([{ name: 'mirostat_v2', tau: 4, eta: 0.1, variant: 'paper' }]);
  });

  it('lowers attention: mask IR, Λ mask, position limit, cache, tiles and score defaults', () => {
    const p = ir(`attention a {
  mask causal & (sink(4) | window(1k))
  position rope(theta: 500000, scale: yarn(8)) limit 2k
  cache keep(sink(4) | window(1k)) reposition
  tile {cpu: 32, cuda: 128}
}
`);
    const a = declsOf(p, 'attention')[0]!.spec;
    expect(a.mask).toEqual({ default: { op: 'and', args: [{ op: 'causal' }, { op: 'or', args: [{ op: 'sink', count: 4 }, { op: 'window', size: 1024 }] }] }, groups: [] });
    expect(a.position).toEqual({ kind: 'rope', theta: 500000, scaling: { kind: 'yarn', factor: 8, originalLength: 4096, alpha: 1, beta: 32 }, limit: 2048 });
    expect(a.cache).toEqual({ kind: 'keep', mask: { op: 'or', args: [{ op: 'sink', count: 4 }, { op: 'window', size: 1024 }] }, reposition: true });
    expect(a.tile).toEqual({ cpu: { q: 32, kv: 32 }, cuda: { q: 128, kv: 128 } });
    expect(a.score).toEqual({ kind: 'softmax', temperature: 1 });
  });

  it('normalizes durations to seconds in optimize budgets; eval and optimize specs are runnable', () => {
    const p = ir(`tokenizer b = bytes()
attention s {
  mask causal & (sink(4) | window(1k))
}
model m {
  arch llama(dim: 64, layers: 2, heads: 4, ffn: 128)
  vocab b
  attention s
}
decode d {
  model m
  policy top_k(10)
}
eval e {
  task passkey(lengths: [1k, 2k])
  using d
  metric accuracy
}
optimize o {
  vary s.mask.window in [256, 512]
  maximize e.accuracy
  search random(trials: 4)
  budget {trials: 4, time: 30min}
}
`);
    const o = declsOf(p, 'optimize')[0]!.spec;
    expect(o.budget).toEqual({ trials: 4, time: 1800, cost: null });
    expect(o.vary).toEqual([{ path: 's.mask.window', values: { list: [256, 512] } }]);
    expect(o.search).toEqual({ kind: 'random', params: { trials: 4, seed: 0 } });
    const e = declsOf(p, 'eval')[0]!.spec;
    expect(e.task.params).toEqual({ lengths: [1024, 2048], depths: 5, samples: 20 });
    expect(e.unsupported).toEqual([]);
    expect(spec(p, 'o')['unsupported']).toEqual([]);
  });

  it('lowers a train\'s periodic perplexity eval to an explicit spec (data, split side, grouping)', () => {
    const src = (clause: string) => `tokenizer b = bytes()
data d {
  source text("x.txt")
  tokenizer b
  holdout 5% seed 3
  pack decompose(min: 64, max: 256)
}
data e from d {
  pack concat_chunk(128)
}
model m {
  arch llama(dim: 64, layers: 2, heads: 4, ffn: 128)
  vocab b
}
train t {
  model m
  data e
  optimizer adamw(lr: 1e-3)
  steps 10
  ${clause}
}
`;
    const p = ir(src('eval every 4: perplexity(d.holdout, by: length)'));
    const t = declsOf(p, 'train')[0]!.spec;
    expect(t.unsupported).toEqual([]);
    expect(t.evals).toHaveLength(1);
    const ev = t.evals[0]!;
    expect(ev.every).toBe(4);
    expect(ev.eval).toBeNull();
    expect(ev.task).toEqual({ task: 'perplexity', where: 't.lmp:20:17', params: { data: 'd.holdout', by: 'length' } });
    expect(ev.perplexity!.split).toBe('holdout');
    expect(ev.perplexity!.by).toBe('length');
    // the eval's data is d's own spec (its packer), not the train's data e
    expect(ev.perplexity!.data).toBe(declsOf(p, 'data')[0]!.spec);
    expect(ev.perplexity!.data.config.holdout).toEqual({ fraction: 0.05, seed: 3 });
    expect(ev.perplexity!.data.buckets).toEqual([64, 128, 256]);

    const none = declsOf(ir(src('eval every 2: perplexity(e.train, by: none)')), 'train')[0]!.spec.evals[0]!;
    expect({ split: none.perplexity!.split, by: none.perplexity!.by, buckets: none.perplexity!.data.buckets }).toEqual({ split: 'train', by: 'none', buckets: [128] });

    const pos = declsOf(ir(src('eval every 2: perplexity(d.holdout, by: position)')), 'train')[0]!.spec;
    expect(pos.evals[0]!.perplexity!.by).toBe('position');
    expect(pos.unsupported).toEqual([]);
    // without a split side lmpc check rejects it (LMP0313); lowered anyway, the spec names it
    expect(check(src('eval every 2: perplexity(d)'), 't.lmp').diagnostics.map((d) => d.code)).toContain('LMP0313');
    const bare = declsOf(lower(check(src('eval every 2: perplexity(d)'), 't.lmp').program), 'train')[0]!.spec;
    expect(bare.unsupported).toEqual(['perplexity on data d without a split side (write d.holdout or d.train)']);
  });

  it('parses registry default strings', () => {
    expect(parseDefaultValue('8k')).toBe(8192);
    expect(parseDefaultValue('10%')).toBeCloseTo(0.1, 12);
    expect(parseDefaultValue('(0.9, 0.999)')).toEqual([0.9, 0.999]);
    expect(parseDefaultValue('"text"')).toBe('text');
    expect(parseDefaultValue('false')).toBe(false);
    expect(parseDefaultValue('paper')).toBe('paper');
  });
});
