// Eval blocks end to end through `lmpc run` (the CLI's own code path), and the scorers fed by an
// oracle decoder so that a perfect model provably scores 1.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../../compiler/cli.testutil.js';
import { check } from '../../compiler/index.js';
import { lower } from '../../compiler/lower/index.js';
import { bytesTokenizer } from '../data/tokenizers.js';
import type { LogitsSource } from '../decode/decoder.js';
import { needleSamples, passkeySamples, PASSKEY_QUESTION, runSamples, threadingSamples, tsortSamples, type EvalSample } from '../eval/index.js';
import { decoderGenerate, generationSettings } from './eval.js';
import { runEval, Session, type EvalRunResult, type EvalSpec } from './index.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'lmp-entry-eval-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MODEL = `tokenizer bytes = bytes()

model tiny {
  arch llama(dim: 32, layers: 1, heads: 2, kv_heads: 1, ffn: 64)
  vocab bytes
  seed 1
}

decode answer {
  model tiny
  policy top_k(20) -> temperature(0.8)
  max_tokens 8
  seed 3
}
`;

const bytes = bytesTokenizer();

describe('lmpc run of an eval block', () => {
  it('passkey through a decode: result shape, cells, and accuracy equal to a recount of the returned outputs', async () => {
    const file = join(dir, 'pk.lmp');
    writeFileSync(file, `${MODEL}
eval pk {
  task passkey(lengths: [128, 256], depths: 2, samples: 2)
  using answer
  metric accuracy, latency
  seed 5
}
`);
    const r = await cli(['run', file, '--target', 'pk', '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out).results[0] as EvalRunResult;
    expect([res.kind, res.target, res.task, res.using, res.model, res.trained]).toEqual(['eval', 'pk', 'passkey', { kind: 'decode', name: 'answer' }, 'tiny', false]);
    expect(Object.keys(res.metrics)).toEqual(['accuracy', 'latency']);
    expect(res.cells.map((c) => [c.length, c.depth, c.samples])).toEqual([
      [128, 0, 2],
      [128, 1, 2],
      [256, 0, 2],
      [256, 1, 2],
    ]);
    expect(res.samples).toHaveLength(8);
    const acc = res.metrics.accuracy!;
    expect(acc).toBeGreaterThanOrEqual(0);
    expect(acc).toBeLessThanOrEqual(1);
    // independent recount: the first run of digits of each output against its key
    const recount = res.samples.filter((s) => (s.output.match(/[0-9]+/) ?? [''])[0] === s.references[0]).length / res.samples.length;
    expect(acc).toBe(recount);
    for (const c of res.cells) {
      const mine = res.samples.filter((s) => s.cell.length === c.length && s.cell.depth === c.depth);
      expect(c.metrics.accuracy).toBe(mine.filter((s) => s.correct).length / mine.length);
    }
    for (const s of res.samples) {
      expect(s.outputTokens).toBeLessThanOrEqual(8);
      expect(s.promptTokens).toBeLessThanOrEqual(s.cell.length!);
      expect(s.seconds).toBeGreaterThan(0);
    }
    const lat = res.metrics.latency!;
    expect(lat.p50).toBeLessThanOrEqual(lat.p90);
    expect(lat.p90).toBeLessThanOrEqual(lat.p99);
    // the same seeds give the same outputs; the text form prints the head and one line per cell
    const again = await cli(['run', file, '--target', 'pk', '--json']);
    expect((JSON.parse(again.out).results[0] as EvalRunResult).samples.map((s) => s.output)).toEqual(res.samples.map((s) => s.output));
    const text = await cli(['run', file, '--target', 'pk']);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/^eval pk: passkey using decode answer \(untrained weights\): accuracy \d\.\d{4}, latency p50 [\d.]+ s p90 [\d.]+ s p99 [\d.]+ s mean [\d.]+ s \(8 requests, [\d.]+ s\)\n/);
    expect(text.out).toMatch(/\n {2}length 256 depth 100%: accuracy \d\.\d{4}, latency .*\(2 samples\)\n$/);
  }, 60_000);

  it('target_length through a model (greedy) with a prompts file beside the .lmp; a missing file is a located error', async () => {
    writeFileSync(join(dir, 'prompts.jsonl'), '{"prompt": "Describe the sea."}\n{"instruction": "Explain rain."}\n');
    const file = join(dir, 'tl.lmp');
    writeFileSync(file, `${MODEL}
eval tl {
  task target_length(prompts: "prompts.jsonl", targets: [10, 30])
  using tiny
}
`);
    const r = await cli(['run', file, '--target', 'tl', '--json']);
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out).results[0] as EvalRunResult;
    expect(Object.keys(res.metrics)).toEqual(['precise_match', 'flexible_match', 'latency']);
    expect(res.cells.map((c) => [c.target, c.samples])).toEqual([
      [10, 2],
      [30, 2],
    ]);
    for (const s of res.samples) expect(s.outputTokens).toBeLessThanOrEqual(16 * s.cell.target!);
    const pm = res.samples.filter((s) => s.words! > (s.cell.target === 10 ? 0 : 20) && s.words! <= (s.cell.target === 10 ? 20 : 40)).length / 4;
    expect(res.metrics.precise_match).toBe(pm);

    const missing = join(dir, 'tl2.lmp');
    writeFileSync(missing, `${MODEL}
eval tl {
  task target_length(prompts: "nowhere.jsonl", targets: [10])
  using tiny
}
`);
    const m = await cli(['run', missing, '--target', 'tl', '--json']);
    expect(m.code).toBe(2);
    const e = JSON.parse(m.out).error;
    expect(e.code).toBe('LMP_E_EVAL_PROMPTS');
    expect(e.message).toMatch(/^error in eval tl \(.*tl2\.lmp:\d+:1\): cannot read prompts file "nowhere\.jsonl" \(no such file\)$/);
  }, 60_000);

  it('perplexity after a train in the same run: the trained model, the same figures as the train\'s last periodic eval', async () => {
    const file = join(dir, 'ppl.lmp');
    const corpus = join(ROOT, 'examples', 'corpus');
    writeFileSync(file, `tokenizer bytes = bytes()

data corpus {
  source text("${corpus}/moby-dick-*.txt")
  source jsonl("${corpus}/sotu-excerpts.jsonl", field: "text")
  tokenizer bytes
  holdout 25% seed 1
  pack decompose(min: 64, max: 256)
}

model tiny {
  arch llama(dim: 32, layers: 1, heads: 2, kv_heads: 1, ffn: 64)
  vocab bytes
  seed 1
}

train t {
  model tiny
  data corpus
  curriculum fixed(256, tokens_per_step: 512)
  optimizer adamw(lr: 3e-3)
  steps 2
  eval every 2: perplexity(corpus.holdout, by: length)
}

eval ppl {
  task perplexity(data: corpus.holdout, by: length)
  using tiny
  metric perplexity, loss
}
`);
    const r = await cli(['run', file, '--all', '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const [train, ev] = JSON.parse(r.out).results;
    expect(ev.kind).toBe('eval');
    expect(ev.trained).toBe(true);
    const last = train.evals[train.evals.length - 1];
    expect(ev.metrics).toEqual({ perplexity: last.overall.ppl, loss: last.overall.loss });
    expect(ev.cells.map((c: { length: number; tokens: number }) => [c.length, c.tokens])).toEqual(last.by_length.map((b: { length: number; tokens: number }) => [b.length, b.tokens]));
  }, 60_000);

  it('tsort reads the text of the eval\'s data clause; the accuracy recounts', async () => {
    const file = join(dir, 'ts.lmp');
    writeFileSync(file, `${MODEL}
data book {
  source text("${join(ROOT, 'examples', 'corpus')}/moby-dick-*.txt")
  tokenizer bytes
}

eval ts {
  task tsort(lengths: [512], segments: 3, samples: 2)
  data book
  using answer
  metric accuracy
}
`);
    const r = await cli(['run', file, '--target', 'ts', '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out).results[0] as EvalRunResult;
    expect(res.samples).toHaveLength(2);
    for (const s of res.samples) expect(s.references[0]!.split(', ').map(Number).sort()).toEqual([1, 2, 3]);
    const recount = res.samples.filter((s) => (s.output.match(/\d+/g) ?? []).slice(0, 3).join(', ') === s.references[0]).length / 2;
    expect(res.metrics.accuracy).toBe(recount);
  }, 60_000);

  it('eval every N: NAME in a train runs the eval declaration with the model being trained', async () => {
    const file = join(dir, 'periodic.lmp');
    const src = (using: string) => `${MODEL}
model other {
  arch llama(dim: 32, layers: 1, heads: 2, kv_heads: 1, ffn: 64)
  vocab bytes
}

decode elsewhere {
  model other
  max_tokens 8
}

data book {
  source text("${join(ROOT, 'examples', 'corpus')}/moby-dick-*.txt")
  tokenizer bytes
  pack concat_chunk(128)
}

train t {
  model tiny
  data book
  curriculum fixed(128, tokens_per_step: 512)
  optimizer adamw(lr: 1e-3)
  steps 3
  eval every 2: pk
  eval every 2: pp
}

eval pp {
  task perplexity(data: book.train, by: none)
  using tiny
  metric loss
}

eval pk {
  task passkey(lengths: [128], depths: 1, samples: 2)
  using ${using}
  metric accuracy
  seed 4
}
`;
    writeFileSync(file, src('answer'));
    const r = await cli(['run', file, '--all', '--json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const results = JSON.parse(r.out).results as { kind: string }[];
    const train = results.find((x) => x.kind === 'train') as unknown as { evalBlocks: { step: number; eval: string; task: string; metrics: Record<string, number> }[] };
    const ev = results.find((x) => x.kind === 'eval') as unknown as EvalRunResult;
    expect(results.findIndex((x) => x.kind === 'train')).toBeLessThan(results.findIndex((x) => x.kind === 'eval'));
    expect(train.evalBlocks.map((b) => [b.step, b.eval, b.task])).toEqual([[2, 'pk', 'passkey'], [2, 'pp', 'perplexity'], [3, 'pk', 'passkey'], [3, 'pp', 'perplexity']]);
    // the eval blocks run after the train in the same session see the trained model: the same
    // figures as the last periodic run; the held-out loss moved between steps 2 and 3, so the
    // periodic runs saw the weights as they were trained, not fresh ones
    const evs = results.filter((x) => x.kind === 'eval') as unknown as EvalRunResult[];
    const pk = evs.find((x) => x.target === 'pk')!;
    const pp = evs.find((x) => x.target === 'pp')!;
    expect([ev.trained, pk.trained, pp.trained]).toEqual([true, true, true]);
    expect(pk.metrics).toEqual(train.evalBlocks[2]!.metrics);
    expect(pp.metrics.loss).toBe(train.evalBlocks[3]!.metrics['loss']);
    expect(train.evalBlocks[1]!.metrics['loss']).not.toBe(train.evalBlocks[3]!.metrics['loss']);
    // and running them does not change the training: the same losses without the eval clauses
    writeFileSync(file, src('answer').replace('  eval every 2: pk\n  eval every 2: pp\n', ''));
    const plain = await cli(['run', file, '--target', 't', '--json']);
    expect(JSON.parse(plain.out).results[0].losses).toEqual((train as unknown as { losses: number[] }).losses);
    // an eval that runs another model cannot follow this train's weights: lmpc check says so
    // (LMP0313 at the clause; the runtime's own LMP_E_EVAL_USING stays for built modules)
    writeFileSync(file, src('elsewhere'));
    const bad = await cli(['run', file, '--target', 't', '--json']);
    expect(bad.code).toBe(1);
    expect(bad.out + bad.err).toMatch(/LMP0313/);
    expect(bad.out + bad.err).toMatch(/periodic eval pk cannot run yet: it runs model other \(through decode elsewhere\)/);
  }, 60_000);

  it('a perplexity eval run again in the same session reuses its packed data (read once)', async () => {
    const sub = join(dir, 'once');
    mkdirSync(join(sub, 'c'), { recursive: true });
    cpSync(join(ROOT, 'examples', 'corpus', 'moby-dick-1.txt'), join(sub, 'c', 'a.txt'));
    const src = `${MODEL}
data book {
  source text("c/*.txt")
  tokenizer bytes
  pack concat_chunk(128)
}

eval pp {
  task perplexity(data: book.train, by: none)
  using tiny
  metric loss
}
`;
    const spec = lower(check(src, join(sub, 'pp.lmp')).program).decls.find((d) => d.name === 'pp')!.spec as EvalSpec;
    const session = new Session();
    const first = await runEval(spec, { baseDir: sub, session });
    rmSync(join(sub, 'c'), { recursive: true });
    const again = await runEval(spec, { baseDir: sub, session });
    expect(again.metrics).toEqual(first.metrics);
    // a new session reads the data again: it is gone now
    await expect(runEval(spec, { baseDir: sub, session: new Session() })).rejects.toMatchObject({ message: expect.stringMatching(/c\/\*\.txt/) });
  }, 60_000);

  it('a `using` that resolves to nothing runnable is a coded error naming the eval', async () => {
    const spec: EvalSpec = {
      kind: 'eval',
      name: 'e',
      where: 'x.lmp:3:1',
      unsupported: [],
      task: { task: 'passkey', where: 'x.lmp:4:8', params: { lengths: [128], depths: 1, samples: 1 } },
      using: { kind: 'decode', name: 'gone' },
      data: null,
      metrics: [],
      seed: 0,
      refs: {},
    };
    await expect(runEval(spec, { specs: new Map() })).rejects.toMatchObject({ code: 'LMP_E_EVAL_USING', message: 'error in eval e (x.lmp:3:1): using gone names no declaration; an eval runs a decode or a model' });
    await expect(runEval(spec)).rejects.toMatchObject({ code: 'LMP_E_EVAL_USING', message: 'error in eval e (x.lmp:3:1): using gone names no declaration; an eval runs a decode or a model' });
  });

  it('a lowered eval spec runs on its own (refs), as a generated module calls it: the same result as lmpc run', async () => {
    const src = `${MODEL}
eval pk {
  task passkey(lengths: [128], depths: 1, samples: 2)
  using answer
  metric accuracy
  seed 9
}
`;
    const file = join(dir, 'own.lmp');
    writeFileSync(file, src);
    const ir = lower(check(src, file).program);
    const spec = ir.decls.find((d) => d.name === 'pk')!.spec as EvalSpec;
    expect(Object.keys(spec.refs)).toEqual(['answer']);
    const alone = await runEval(spec, { baseDir: dir });
    const r = await cli(['run', file, '--target', 'pk', '--json']);
    const viaCli = JSON.parse(r.out).results[0] as EvalRunResult;
    expect(alone.samples.map((x) => [x.references, x.output])).toEqual(viaCli.samples.map((x) => [x.references, x.output]));
    expect(alone.metrics).toEqual(viaCli.metrics);
  }, 60_000);
});

/**
 * A logits source that knows the answer: it reads the prompt (bytes), finds what follows the
 * question, and puts all mass on the next byte of `answer(prompt)`, then on EOT.
 */
function oracle(answer: (prompt: string) => string, question: string): LogitsSource {
  return {
    vocabSize: 257,
    next(tokens) {
      const text = Buffer.from(tokens.filter((t) => t < 256)).toString('latin1');
      const end = text.lastIndexOf(question) + question.length;
      const want = answer(text.slice(0, end));
      const done = text.length - end;
      const logits = new Float32Array(257).fill(-10);
      logits[done < want.length ? want.charCodeAt(done) : 256] = 10;
      return logits;
    },
  };
}

describe('a model that answers perfectly scores 1 (the scorers are not vacuous)', () => {
  const settings = (task: string) => generationSettings(task, null, 0);
  it('passkey: the oracle scores 1, an oracle off by one scores 0', async () => {
    const samples = passkeySamples({ lengths: [128, 256], depths: 3, samples: 2 }, 9, (t) => Buffer.byteLength(t));
    const key = (p: string): string => /The pass key is (\d+)\./.exec(p)![1]!;
    const right = await runSamples('passkey', samples, decoderGenerate(() => oracle((p) => ` ${key(p)}.`, PASSKEY_QUESTION), bytes, settings('passkey')), ['accuracy']);
    expect(right.metrics.accuracy).toBe(1);
    expect(right.samples.every((s) => s.output === ` ${s.references[0]}.`)).toBe(true);
    const wrong = await runSamples('passkey', samples, decoderGenerate(() => oracle((p) => ` ${Number(key(p)) + 1}.`, PASSKEY_QUESTION), bytes, settings('passkey')), ['accuracy']);
    expect(wrong.metrics.accuracy).toBe(0);
  });

  it('needle: reciting every value of the asked keys scores 1; half of them scores 0.5 and accuracy 0', async () => {
    const samples: EvalSample[] = needleSamples({ lengths: [1024], depths: 2, samples: 2, keys: 2, values: 2, queries: 1 }, 2, (t) => Buffer.byteLength(t));
    const q = 'mentioned in the provided text are';
    const values = (p: string): string[] => {
      const key = /for (\S+) mentioned in the provided text\?/.exec(p)![1]!;
      return [...p.matchAll(new RegExp(`for ${key} is: (\\d+)\\.`, 'g'))].map((m) => m[1]!);
    };
    const all = await runSamples('needle', samples, decoderGenerate(() => oracle((p) => ` ${values(p).join(', ')}.`, q), bytes, settings('needle')), ['string_match_all', 'accuracy']);
    expect(all.metrics).toEqual({ string_match_all: 1, accuracy: 1 });
    const half = await runSamples('needle', samples, decoderGenerate(() => oracle((p) => ` ${values(p)[0]}.`, q), bytes, settings('needle')), ['string_match_all', 'accuracy']);
    expect(half.metrics).toEqual({ string_match_all: 0.5, accuracy: 0 });
  });

  it('tsort: a reader who knows the text scores 1; swapping two segments scores 0', async () => {
    const text = Array.from({ length: 600 }, (_, i) => `w${i}`).join(' ');
    const samples = tsortSamples({ lengths: [512], segments: 4, samples: 3 }, [text], 8, (t) => Buffer.byteLength(t));
    const order = (p: string): number[] => {
      const segs = [...p.matchAll(/^Segment (\d+): (.*)$/gm)].map((m) => ({ j: Number(m[1]), at: text.indexOf(m[2]!) }));
      return segs.sort((a, b) => a.at - b.at).map((x) => x.j);
    };
    const q = 'Answer:';
    const right = await runSamples('tsort', samples, decoderGenerate(() => oracle((p) => ` [${order(p).join(', ')}]`, q), bytes, settings('tsort')), ['accuracy']);
    expect(right.metrics.accuracy).toBe(1);
    const swap = (o: number[]): number[] => [o[1]!, o[0]!, ...o.slice(2)];
    const wrong = await runSamples('tsort', samples, decoderGenerate(() => oracle((p) => ` [${swap(order(p)).join(', ')}]`, q), bytes, settings('tsort')), ['accuracy']);
    expect(wrong.metrics.accuracy).toBe(0);
  });

  it('threading: following the thread scores 1, stopping one link short scores 0', async () => {
    const samples = threadingSamples({ lengths: [1024], steps: 2, samples: 3 }, 4, (t) => Buffer.byteLength(t));
    const q = 'The value at the end of the thread is';
    const follow = (p: string, links: number): string => {
      const map = new Map([...p.matchAll(/"([0-9a-f-]{36})": "([0-9a-f-]{36})"/g)].map((m) => [m[1]!, m[2]!]));
      let k = /Start at the key ([0-9a-f-]{36})\./.exec(p)![1]!;
      for (let i = 0; i < links; i++) k = map.get(k)!;
      return ` ${k}.`;
    };
    const right = await runSamples('threading', samples, decoderGenerate(() => oracle((p) => follow(p, 2), q), bytes, settings('threading')), ['accuracy']);
    expect(right.metrics.accuracy).toBe(1);
    const short = await runSamples('threading', samples, decoderGenerate(() => oracle((p) => follow(p, 1), q), bytes, settings('threading')), ['accuracy']);
    expect(short.metrics.accuracy).toBe(0);
  });
});
