// lmpc run on decode blocks, end to end through the CLI, on a tiny trained pair (both trained in
// the same file, checkpoints in a temp folder): speculative decoding gives the target's
// distribution (chi-square against the target's own softmax, computed from its checkpoint) and
// greedy speculation the target's greedy tokens; a cascade defers exactly when its rule holds
// and answers with the deferred-to model's own output; a file of prompts prefilled prepacked gives
// each prompt's output of decoding it alone.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from '../cli.testutil.js';
import { loadModel } from '../../runtime/model/io.js';

const DIR = mkdtempSync(join(tmpdir(), 'lmp-run-decode-'));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

/** A corpus the models learn quickly: a few words in a seeded random order. */
function corpus(): string {
  const words = 'the cat sat on the mat and the dog ran to the park while the sun was warm'.split(' ');
  let x = 12345;
  const out: string[] = [];
  for (let i = 0; i < 3000; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out.push(words[x % words.length]!);
  }
  return out.join(' ');
}

const MODELS = `tokenizer bytes = bytes()

data text {
  source text("corpus.txt")
  tokenizer bytes
  pack concat_chunk(64)
}

model small {
  load "ck/small"
}

model big {
  load "ck/big"
}
`;

const TRAIN = `tokenizer bytes = bytes()

data text {
  source text("corpus.txt")
  tokenizer bytes
  pack concat_chunk(64)
}

model small {
  arch llama(dim: 32, layers: 1, heads: 2, ffn: 64)
  vocab bytes
  seed 1
}

model big {
  arch llama(dim: 64, layers: 2, heads: 4, ffn: 128)
  vocab bytes
  seed 2
}

train ts {
  model small
  data text
  curriculum fixed(64, tokens_per_step: 512)
  optimizer adamw(lr: 3e-3)
  steps 25
  checkpoint "ck/small"
}

train tb {
  model big
  data text
  curriculum fixed(64, tokens_per_step: 512)
  optimizer adamw(lr: 3e-3)
  steps 40
  checkpoint "ck/big"
}
`;

/** Write FILE (with the corpus beside it) and run it. */
async function runFile(name: string, text: string, args: string[] = []): Promise<Record<string, any>[]> {
  writeFileSync(join(DIR, name), text);
  const r = await cli(['run', join(DIR, name), '--all', '--json', ...args]);
  if (r.code !== 0) throw new Error(`lmpc run ${name}: exit ${r.code}\n${r.err}\n${r.out}`);
  return JSON.parse(r.out).results;
}

const PROMPT = 'the cat sat on the ';

beforeAll(async () => {
  writeFileSync(join(DIR, 'corpus.txt'), corpus());
  const res = await runFile('train.lmp', TRAIN);
  expect(res.map((r) => r.kind)).toEqual(['train', 'train']);
  expect(res[1]!.finalLoss).toBeLessThan(res[1]!.firstLoss - 1);
}, 120_000);

// chi-square critical value, df = 5, alpha = 0.001
const CHI2_5_0001 = 20.515;

describe('speculative decoding through lmpc run', () => {
  it("the first token's distribution is the target's (chi-square over 3000 prompts of one file); acceptance counts reported", async () => {
    const n = 3000;
    writeFileSync(join(DIR, 'same.jsonl'), Array.from({ length: n }, () => JSON.stringify({ text: PROMPT })).join('\n') + '\n');
    const res = await runFile(
      'spec.lmp',
      `${MODELS}
data same {
  source jsonl("same.jsonl")
  tokenizer bytes
}

decode fast {
  model big
  speculate draft small candidates 4
  prompt same
  max_tokens 1
  seed 7
}
`,
    );
    const d = res[0]!;
    expect(d.models.map((m: any) => `${m.role} ${m.name} ${m.loaded !== null}`)).toEqual(['model big true', 'draft small true']);
    expect(d.prompts).toHaveLength(n);
    // the target's distribution after the prompt, from its checkpoint (float64 softmax)
    const big = loadModel(join(DIR, 'ck', 'big'));
    const logits = big.session().next(Int32Array.from(Buffer.from(PROMPT, 'utf8')));
    const mx = Math.max(...logits);
    const e = Array.from(logits, (x) => Math.exp(x - mx));
    const z = e.reduce((a, b) => a + b, 0);
    const p = e.map((x) => x / z);
    // categories: the 5 most probable tokens and the rest
    const top = p.map((x, i) => [x, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 5).map(([, i]) => i);
    const probs = [...top.map((i) => p[i]!), 1 - top.reduce((a, i) => a + p[i]!, 0)];
    expect(probs[5]! * n).toBeGreaterThan(5); // enough expected mass in every cell for the test
    const counts = new Array(6).fill(0);
    for (const r of d.prompts) {
      const t = r.tokens[0] ?? 256;
      const k = top.indexOf(t);
      counts[k >= 0 ? k : 5]++;
    }
    const chi = counts.reduce((a, c, i) => a + (c - n * probs[i]!) ** 2 / (n * probs[i]!), 0);
    expect(chi).toBeLessThan(CHI2_5_0001);
    // the counts over all prompts: one round each, one drafted candidate (max_tokens 1)
    const s = d.speculation;
    expect(s.draft).toBe('small');
    expect(s.rounds).toBe(n);
    expect(s.drafted).toBe(n);
    expect(s.acceptanceRate).toBeCloseTo(s.accepted / s.drafted, 12);
    expect(s.meanAccepted).toBeCloseTo(s.accepted / s.rounds, 12);
    // the draft and target disagree on some tokens but not all
    expect(s.accepted).toBeGreaterThan(0.2 * n);
    expect(s.accepted).toBeLessThan(n);
  }, 120_000);

  it("greedy speculation gives the target's greedy tokens, with the acceptance rate and mean accepted length in the output", async () => {
    const text = `${MODELS}
decode plain {
  model big
  policy greedy
  prompt "${PROMPT}"
  max_tokens 48
}

decode fast {
  model big
  speculate draft small candidates adaptive(max: 6, stop_when: rejection > 0.5) greedy
  policy greedy
  prompt "${PROMPT}"
  max_tokens 48
}
`;
    writeFileSync(join(DIR, 'greedy.lmp'), text);
    const r = await cli(['run', join(DIR, 'greedy.lmp'), '--all']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/speculative decoding \(draft small\): \d+ rounds, acceptance rate \d\.\d{3} \(\d+\/\d+ drafted\), mean accepted length \d+\.\d{2}/);
    const [plain, fast] = await runFile('greedy.lmp', text);
    expect(fast!.tokens).toEqual(plain!.tokens);
    expect(fast!.text).toBe(plain!.text);
    expect(fast!.speculation.emitted).toBe(48);
    expect(fast!.speculation.rounds).toBeLessThan(48); // some rounds accepted drafted tokens
  }, 120_000);
});

describe('cascades through lmpc run', () => {
  const cascadeFile = (threshold: string) => `${MODELS}
decode small_alone {
  model small
  prompt "${PROMPT}"
  max_tokens 24
  seed 3
}

decode big_alone {
  model big
  prompt "${PROMPT}"
  max_tokens 24
  seed 3
}

decode cheap {
  cascade small -> big defer when quantile(logprob, 0.25) < ${threshold}
  prompt "${PROMPT}"
  max_tokens 24
  seed 3
}
`;
  it('defers when the quantile of the small model\'s logprobs is below the threshold, not otherwise; the answer is that model\'s own', async () => {
    // the small model's statistic, from a cascade that always reports it
    const [small, big, probe] = await runFile('cascade0.lmp', cascadeFile('-1000'));
    const stage = probe!.prompts[0].cascade[0];
    expect(stage.model).toBe('small');
    // an independent computation: the type-7 quantile of its answer's per-token ln p
    const q = stage.statistic as number;
    expect(Number.isFinite(q)).toBe(true);
    // must not defer: threshold below the statistic
    expect(stage.deferred).toBe(false);
    expect(probe!.tokens).toEqual(small!.tokens);
    expect(probe!.prompts[0].producers).toEqual(small!.tokens.map(() => 'small'));
    expect(probe!.cascade).toMatchObject({ models: ['small', 'big'], prompts: 1, deferred: 0, rate: 0, answeredBy: { small: 1 } });
    // must defer: threshold just above it
    const [, , deferred] = await runFile('cascade1.lmp', cascadeFile(String(q + 1e-6)));
    expect(deferred!.prompts[0].cascade.map((s: any) => [s.model, s.deferred])).toEqual([['small', true], ['big', false]]);
    expect(deferred!.tokens).toEqual(big!.tokens);
    expect(deferred!.prompts[0].producers).toEqual(big!.tokens.map(() => 'big'));
    expect(deferred!.cascade).toMatchObject({ deferred: 1, rate: 1, answeredBy: { big: 1 } });
    // and just below it: no deferral
    const [, , kept] = await runFile('cascade2.lmp', cascadeFile(String(q - 1e-6)));
    expect(kept!.prompts[0].model).toBe('small');
  }, 120_000);
});

describe('prompt files through lmpc run', () => {
  const prompts = ['the cat', 'a dog ran to the park and', 'the sun', 'while the mat was warm the cat sat on', 'to the', 'and the dog'];
  it('prompts prefilled prepacked give each prompt its output of decoding it alone (seed + i), in input order', async () => {
    writeFileSync(join(DIR, 'prompts.jsonl'), prompts.map((p) => JSON.stringify({ prompt: p })).join('\n') + '\n');
    const alone = prompts.map((p, i) => `decode alone${i} {\n  model big\n  prompt "${p}"\n  max_tokens 20\n  trace logprob\n  seed ${11 + i}\n}\n`).join('\n');
    const res = await runFile(
      'prompts.lmp',
      `${MODELS}
data asked {
  source jsonl("prompts.jsonl", field: "prompt")
  tokenizer bytes
  pack prepack(capacity: 48)
}

data padded {
  source jsonl("prompts.jsonl", field: "prompt")
  tokenizer bytes
  pack pad(64)
}

decode packed {
  model big
  prompt asked
  max_tokens 20
  trace logprob
  seed 11
}

decode batch {
  model big
  prompt padded
  max_tokens 20
  trace logprob
  seed 11
}

${alone}`,
    );
    const [packed, batch, ...singles] = res;
    expect(packed!.prefill).toMatchObject({ method: 'prepack', prompts: 6, promptTokens: prompts.reduce((a, p) => a + p.length, 0) });
    expect(packed!.prefill.sequences).toBeLessThan(prompts.length); // prompts share packed sequences
    expect(packed!.prefill.tokensRun).toBe(packed!.prefill.promptTokens); // no padding
    expect(batch!.prefill).toMatchObject({ method: 'padded', sequences: 6, tokensRun: 6 * Math.max(...prompts.map((p) => p.length)) });
    for (const r of [packed!, batch!]) {
      // the six prompts decoded together (batched decoding, the default), still each as alone
      expect(r.batched.size).toBe(16);
      expect(r.batched.forwards).toBeLessThan(r.batched.steps / 2);
      expect(r.prompts.map((p: any) => p.prompt)).toEqual(prompts);
      r.prompts.forEach((p: any, i: number) => {
        const s = singles[i]!;
        expect(p.tokens, `prompt ${i}`).toEqual(s.tokens);
        expect(p.text).toBe(s.text);
        // the chosen tokens' ln p: bit-identical for the prepacked prefill (each prompt its own
        // varlen sequence; runtime/model/prefill.ts); the padded batch within 1e-5 (its padded
        // rows change the GEMV/blocked choice for short prompts)
        if (r === packed) p.trace.forEach((t: any, k: number) => expect(t.logprob, `prompt ${i} token ${k}`).toBe(s.trace[k].logprob));
        else p.trace.forEach((t: any, k: number) => expect(Math.abs(t.logprob - s.trace[k].logprob)).toBeLessThan(1e-5));
      });
    }
  }, 120_000);

  it('prompts decoded together (the default) give each prompt the tokens and ln p of decoding them one after another (--decode-batch 1); bad values are usage errors', async () => {
    const many = Array.from({ length: 11 }, (_, i) => prompts[i % prompts.length]! + ' ' + 'the cat sat'.slice(0, i));
    writeFileSync(join(DIR, 'many.jsonl'), many.map((p) => JSON.stringify({ prompt: p })).join('\n') + '\n');
    const file = `${MODELS}
data many {
  source jsonl("many.jsonl", field: "prompt")
  tokenizer bytes
}

attention win {
  mask causal & (sink(2) | window(12))
  cache keep(sink(2) | window(12)) reposition
}

decode lots {
  model big
  prompt many
  max_tokens 16
  policy temperature(0.8) -> top_k(20) -> sample
  trace logprob
  seed 5
}

decode window {
  model big
  attention win
  prompt many
  max_tokens 16
  trace logprob
  seed 6
}
`;
    const together = await runFile('many.lmp', file, ['--decode-batch', '4']);
    const apart = await runFile('many1.lmp', file, ['--decode-batch', '1']);
    for (let d = 0; d < 2; d++) {
      const a = together[d]!, b = apart[d]!;
      expect(a.batched).toMatchObject({ size: 4 });
      expect(a.batched.forwards).toBeLessThan(a.batched.steps / 2);
      expect(b.batched).toBeNull();
      expect(a.prompts.map((p: any) => p.prompt)).toEqual(many);
      a.prompts.forEach((p: any, i: number) => {
        expect(p.tokens, `decode ${d} prompt ${i}`).toEqual(b.prompts[i].tokens);
        expect(p.trace.map((t: any) => t.logprob)).toEqual(b.prompts[i].trace.map((t: any) => t.logprob));
      });
    }
    const text = await cli(['run', join(DIR, 'many.lmp'), '--target', 'lots', '--decode-batch', '4']);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/batched decoding: up to 4 prompts at once, \d+ steps in \d+ forwards \(mean batch [\d.]+\)/);
    for (const bad of ['0', '65', '2.5', 'x']) {
      const r = await cli(['run', join(DIR, 'many.lmp'), '--target', 'lots', '--decode-batch', bad]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/LMP_E_USAGE: --decode-batch must be an integer in 1..64/);
    }
  }, 120_000);
});
