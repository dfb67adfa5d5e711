// runTrain with a periodic held-out perplexity eval: it fires at the expected steps, its loss is
// the held-out loss computed independently (each sequence alone, float64 log-softmax of the
// model's logits), and each eval is a line of the metrics log and a progress message.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { check } from '../../compiler/index.js';
import { findDecl } from '../../compiler/ir/types.js';
import { lower } from '../../compiler/lower/index.js';
import { planBuckets } from '../curriculum/index.js';
import { loadCorpus, mixOrder } from '../data/corpus.js';
import { materialize, planPack } from '../data/pack.js';
import { loadTokenizer } from '../data/tokenizers.js';
import { defaultTargets, type LlamaModel } from '../model/llama.js';
import { formatEval, runTrain, Session, type Progress, type TrainEvalRecord, type TrainSpec } from './index.js';

const words = ['whale', 'sea', 'ship', 'captain', 'harpoon', 'deck', 'storm', 'oil', 'sail', 'crew', 'union', 'state', 'nation', 'people', 'law'];

function corpusDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lmp-entry-eval-'));
  mkdirSync(join(dir, 'c'));
  // 24 documents of 150..400 bytes, deterministic
  let x = 12345;
  const rnd = () => ((x = (x * 1103515245 + 12345) >>> 0), x / 2 ** 32);
  for (let d = 0; d < 24; d++) {
    const n = 150 + Math.floor(rnd() * 250);
    let t = `Doc ${d}.`;
    while (t.length < n) t += ' ' + words[Math.floor(rnd() * words.length)]!;
    writeFileSync(join(dir, 'c', `d${String(d).padStart(2, '0')}.txt`), t + '\n');
  }
  return dir;
}

const SOURCE = (clause: string) => `tokenizer b = bytes()
data d {
  source text("c/*.txt")
  tokenizer b
  holdout 30% seed 5
  pack decompose(min: 32, max: 128)
}
model m {
  arch llama(dim: 32, layers: 1, heads: 2, ffn: 64)
  vocab b
  seed 3
}
train t {
  model m
  data d
  optimizer adamw(lr: 3e-3)
  steps 5
  ${clause}
  log "metrics.jsonl"
  seed 1
}
`;

function trainSpec(src: string): TrainSpec {
  const r = check(src, 't.lmp');
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return findDecl(lower(r.program), 't')!.spec as TrainSpec;
}

/** Held-out loss per decompose bucket: every sequence alone, float64 log-softmax. */
async function independentLoss(
  dir: string,
  spec: TrainSpec,
  model: LlamaModel,
): Promise<{ overall: number; tokens: number; byLength: Map<number, { loss: number; tokens: number }>; byPosition: Map<number, { sum: number; tokens: number }> }> {
  const cfg = structuredClone(spec.data.config);
  cfg.root = dir;
  const tok = await loadTokenizer(cfg.tokenizer, dir);
  const corpus = await loadCorpus(cfg, tok, 'holdout');
  const plan = planPack(corpus, mixOrder(corpus.source, cfg.sources.map((s) => s.weight), cfg.seed), cfg.pack, tok.eot, cfg.seed);
  const { members } = planBuckets(plan);
  const V = model.config.vocab;
  const byLength = new Map<number, { loss: number; tokens: number }>();
  // by context length at the prediction: position + 1 in (2^(k-1), 2^k]
  const byPosition = new Map<number, { sum: number; tokens: number }>();
  let sum = 0, n = 0;
  for (const [length, ids] of members) {
    let bs = 0, bn = 0;
    for (const id of ids) {
      const b = materialize(plan, corpus.tokens, [id]);
      const logits = model.logits(b);
      const targets = defaultTargets(b);
      for (let t = 0; t < b.tokens.length; t++) {
        if (targets[t]! < 0 || !b.lossMask[t]) continue;
        let mx = -Infinity;
        for (let v = 0; v < V; v++) mx = Math.max(mx, logits[t * V + v]!);
        let z = 0;
        for (let v = 0; v < V; v++) z += Math.exp(logits[t * V + v]! - mx);
        const l = mx + Math.log(z) - logits[t * V + targets[t]!]!;
        bs += l;
        bn++;
        let key = 1;
        while (key < b.positionIds[t]! + 1) key *= 2;
        const p = byPosition.get(key) ?? { sum: 0, tokens: 0 };
        p.sum += l;
        p.tokens++;
        byPosition.set(key, p);
      }
    }
    byLength.set(length, { loss: bs / bn, tokens: bn });
    sum += bs;
    n += bn;
  }
  return { overall: sum / n, tokens: n, byLength, byPosition };
}

describe('runTrain periodic evals', () => {
  it('evaluates held-out perplexity every N steps and at the end, equal to an independent computation', async () => {
    const dir = corpusDir();
    const spec = trainSpec(SOURCE('eval every 2: perplexity(d.holdout, by: length)'));
    expect(spec.unsupported).toEqual([]);
    const session = new Session();
    const progress: Progress[] = [];
    const res = await runTrain(spec, { baseDir: dir, session, onProgress: (p) => progress.push(p) });
    expect(res.evals.map((e) => e.step)).toEqual([2, 4, 5]);
    const last = res.evals[2]!;
    expect(last.eval).toBe('perplexity');
    expect(last.data).toBe('d.holdout');

    const model = session.models.get('m')!;
    const ref = await independentLoss(dir, spec, model);
    expect(ref.tokens).toBeGreaterThan(0);
    expect(last.overall.tokens).toBe(ref.tokens);
    expect(last.overall.loss).toBeCloseTo(ref.overall, 4);
    expect(last.overall.ppl).toBeCloseTo(Math.exp(ref.overall), 3);
    expect(last.by_length.map((b) => b.length)).toEqual([...ref.byLength.keys()].sort((a, b) => a - b));
    for (const b of last.by_length) {
      expect(b.tokens).toBe(ref.byLength.get(b.length)!.tokens);
      expect(b.loss).toBeCloseTo(ref.byLength.get(b.length)!.loss, 4);
      expect(b.ppl).toBeCloseTo(Math.exp(b.loss), 6);
    }
    // the weights changed between evals, so did the held-out loss
    expect(res.evals[0]!.overall.loss).not.toBe(last.overall.loss);

    // metrics log: 5 step lines, an eval line after steps 2, 4 and 5, in order
    const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; eval?: string });
    expect(lines.map((l) => (l.eval ? `e${l.step}` : `s${l.step}`))).toEqual(['s1', 's2', 'e2', 's3', 's4', 'e4', 's5', 'e5']);
    expect(lines[7]).toEqual({ run: res.run, ...(JSON.parse(JSON.stringify(last)) as TrainEvalRecord) });

    // one progress message per eval, the formatted summary
    const ev = progress.filter((p) => p.phase === 'eval');
    expect(ev.map((p) => p.step)).toEqual([2, 4, 5]);
    expect(ev[2]!.message).toBe(formatEval(last));
    expect(ev[2]!.message).toMatch(/^eval perplexity d\.holdout step 5: loss \d+\.\d{4} ppl \d+\.\d{2} over \d+ tokens \(by length 32: /);
  }, 60_000);

  it('by: position reports the loss per context length at the prediction, equal to an independent computation', async () => {
    const dir = corpusDir();
    const spec = trainSpec(SOURCE('eval perplexity(d.holdout, by: position)'));
    expect(spec.unsupported).toEqual([]);
    const session = new Session();
    const res = await runTrain(spec, { baseDir: dir, session, steps: 2 });
    const last = res.evals[res.evals.length - 1]!;
    expect(last.by_length).toEqual([]);
    const ref = await independentLoss(dir, spec, session.models.get('m')!);
    const keys = [...ref.byPosition.keys()].sort((a, b) => a - b);
    expect(keys.length).toBeGreaterThan(3);
    expect(last.by_position.map((b) => b.position)).toEqual(keys);
    for (const b of last.by_position) {
      const r = ref.byPosition.get(b.position)!;
      expect(b.tokens).toBe(r.tokens);
      expect(b.loss).toBeCloseTo(r.sum / r.tokens, 4);
    }
    expect(last.by_position.reduce((a, b) => a + b.tokens, 0)).toBe(last.overall.tokens);
    expect(formatEval(last)).toMatch(/ \(by position <=1: \d+\.\d{2}, <=2: /);
  }, 60_000);

  it('by: none reports the overall loss only; without every it runs once, after the last step', async () => {
    const dir = corpusDir();
    const spec = trainSpec(SOURCE('eval perplexity(d.holdout, by: none)'));
    expect(spec.evals[0]!.every).toBe(0);
    const res = await runTrain(spec, { baseDir: dir, steps: 3 });
    expect(res.evals.map((e) => [e.step, e.by_length.length])).toEqual([[3, 0]]);
    expect(res.evals[0]!.overall.tokens).toBeGreaterThan(0);
    expect(formatEval(res.evals[0]!)).not.toContain('by length');
  }, 60_000);
});
