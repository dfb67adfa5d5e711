// Everything that checks, runs. For every built-in of the registry (each with every parameter
// written) and every clause of the clause table, a small program is generated around it, checked,
// lowered, and each of its runnable blocks run through the runtime's entry functions as lmpc run
// runs them (a train for one step, a decode for a few tokens, an eval on one sample, an optimize
// block for one trial). A construct that checks clean and then fails at run time fails the test;
// one that check rejects must be on REJECTED (each with the code check gives), so coverage cannot
// shrink silently; a built-in or clause without a place in the generated program fails too.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DECL_SPECS } from '../grammar/clauses.js';
import { check } from './index.js';
import { lower } from './lower/index.js';
import { BUILTINS, type BuiltinDef, type ParamDef } from './registry/builtins.js';
import type { ValueType } from './registry/types.js';
import { runDecode, runEval, runTrain, Session, type AnySpec, type Frozen } from '../runtime/entry/index.js';
import type { DeclIR } from './ir/types.js';
import { runOptimizeBlock } from './commands/optimize.js';
import { ensureDir } from '../runtime/fsutil.js';
import { llama3Dir } from '../runtime/data/llama3.testutil.js';

const DIR = mkdtempSync(join(tmpdir(), 'lmp-coverage-'));
afterAll(() => rmSync(DIR, { recursive: true, force: true }));


/** Parameter values where the generic choice (below) does not fit. */
const VALUES: Record<string, string> = {
  'source.text.glob': '"corpus/*.txt"',
  'source.jsonl.path': '"corpus.jsonl"',
  'source.jsonl.field': '"text"',
  'source.parquet.path': '"docs.parquet"',
  'source.parquet.column': '"text"',
  'tokenizer.tiktoken.encoding': '"gpt2"',
  'tokenizer.hf.path': '"tokenizer.json"',
  'filter.length.max': '100000',
  'packer.concat_chunk.length': '32',
  'packer.pad.length': '32',
  'packer.pad.truncate': 'right',
  'packer.decompose.min': '16',
  'packer.decompose.max': '32',
  'packer.prepack.capacity': '512',
  'curriculum.fixed.length': '32',
  'curriculum.fixed.tokens_per_step': '64',
  'curriculum.uniform.tokens_per_step': '64',
  'curriculum.grow_p2.tokens_per_step': '64',
  'growth.linear.from': '32',
  'growth.linear.to': '32',
  'growth.linear.steps': '2',
  'mask.window.size': '8',
  'mask.chunked.size': '8',
  'mask.lambda.window': '8',
  'rope_scale.yarn.original': '64',
  'rope_scale.truncate.low': '0.01',
  'rope_scale.truncate.high': '0.5',
  'score.softcap.cap': '30',
  'cache.keep.mask': 'sink(2) | window(8)',
  'cache.sirllm.keep': '8',
  'cache.sirllm.recent': '4',
  'cache.infllm.block': '4',
  'cache.infllm.top': '2',
  'cache.infllm.local': '8',
  'cache.infllm.representatives': '1',
  'arch.llama.dim': '16',
  'arch.llama.layers': '1',
  'arch.llama.heads': '2',
  'arch.llama.kv_heads': '1',
  'arch.llama.ffn': '32',
  'checkpoint.load.path': '"ck"',
  'optimizer.adamw.lr': '1e-3',
  'sampler.top_k.k': '5',
  'sampler.mirostat.m': '10',
  'sampler.logit_bias.bias': '{1: 0.5}',
  'sampler.allow.tokens': '[97, 98, 99]',
  'sampler.ban.tokens': '[1]',
  'length_control.target.words': '2',
  'speculation.adaptive.max': '3',
  'speculation.adaptive.stop_when': 'rejection > 0.3',
  'task.perplexity.data': 'd.holdout',
  'task.passkey.lengths': '[256]',
  'task.needle.lengths': '[4096]',
  'task.tsort.lengths': '[4096]',
  'task.threading.lengths': '[4096]',
  'task.target_length.prompts': '"prompts.jsonl"',
  'task.target_length.targets': '[3]',
  'search.halving.trials': '1',
};

/** Optional parameters left out (exactlyOne groups: the first one only). */
const LEAVE_OUT = new Set(['length_control.target.tokens', 'length_control.target.chars']);

function value(t: ValueType, key: string): string {
  if (VALUES[key] !== undefined) return VALUES[key]!;
  switch (t.t) {
    case 'number': {
      if (t.unit === 'fraction') return '50%';
      if (t.unit === 'duration') return '1s';
      if (t.unit === 'bytes') return '1KiB';
      if (t.unit === 'count') return t.powerOfTwo ? '16' : String(Math.max(t.min ?? 0, 2));
      const lo = t.min ?? 0;
      const v = t.max !== undefined ? (lo + t.max) / 2 : lo > 0 ? lo + 1 : lo === 0 && t.minExclusive ? 0.5 : 1;
      return String(v);
    }
    case 'bool':
      return 'true';
    case 'enum':
      return t.values[0]!;
    case 'string':
      return '"x"';
    case 'list':
      return `[${value(t.of, key)}]`;
    case 'union':
      return value(t.of[0]!, key);
    case 'tuple':
      return `(${t.of.map((x) => value(x, key)).join(', ')})`;
    case 'call': {
      const def = BUILTINS.find((b) => b.category === t.category)!;
      return callText(def);
    }
    case 'compare':
      return `${value(t.left, key)} > ${value(t.right, key)}`;
    default:
      throw new Error(`no generated value for ${key} (${t.t}): add it to VALUES`);
  }
}

/** The built-in written with every parameter (named). */
function callText(def: BuiltinDef): string {
  const ps = def.params.filter((p: ParamDef) => !LEAVE_OUT.has(`${def.category}.${def.name}.${p.name}`));
  if (ps.length === 0) return def.category === 'mask' || def.category === 'metric' || def.category === 'weights' ? def.name : `${def.name}()`;
  return `${def.name}(${ps.map((p) => `${p.name}: ${value(p.type, `${def.category}.${def.name}.${p.name}`)}`).join(', ')})`;
}

interface Slots {
  tokenizer: string;
  data: string;
  curriculum: string;
  attention: string;
  model: string;
  train: string;
  decode: string;
  eval: string;
  extra: string;
  /** Without the eval block (e.g. when it cannot name what the case needs). */
  noEval?: boolean;
}

const BASE: Slots = {
  tokenizer: 'tokenizer tok = bytes()',
  data: 'source text("corpus/*.txt")\n  tokenizer tok\n  holdout 30%\n  pack concat_chunk(32)',
  curriculum: '',
  attention: 'mask causal & same_document',
  model: 'arch llama(dim: 16, layers: 1, heads: 2, ffn: 32)\n  vocab tok\n  attention a',
  train: 'model m\n  data d\n  steps 1',
  decode: 'model m\n  policy greedy\n  max_tokens 3',
  eval: 'task perplexity(d.holdout)\n  using g',
  extra: '',
};

function program(over: Partial<Slots>): string {
  const s = { ...BASE, ...over };
  return `${s.tokenizer}

data d {
  ${s.data}
}
${s.curriculum ? `\ncurriculum c {\n  ${s.curriculum}\n}\n` : ''}
attention a {
  ${s.attention}
}

model m {
  ${s.model}
}

model s {
  arch llama(dim: 16, layers: 1, heads: 2, ffn: 32)
  vocab tok
}

train t {
  ${s.train}
}

decode g {
  ${s.decode}
}
${s.noEval ? '' : `\neval e {\n  ${s.eval}\n}\n`}${s.extra}`;
}

/** Where a built-in of each category goes. */
function builtinCase(def: BuiltinDef): Partial<Slots> {
  const c = callText(def);
  switch (def.category) {
    case 'mask':
      // decode-time attention (a training mask must be causal: LMP0502)
      return { extra: `\nattention q {\n  mask causal & (${c} | causal)\n}\n`, decode: 'model m\n  attention q\n  policy greedy\n  max_tokens 3' };
    case 'packer':
      return { data: `source text("corpus/*.txt")\n  tokenizer tok\n  holdout 30%\n  pack ${c}` };
    case 'source':
      return { data: `source ${c}\n  tokenizer tok\n  holdout 30%\n  pack concat_chunk(32)` };
    case 'filter':
      return { data: `source text("corpus/*.txt")\n  tokenizer tok\n  holdout 30%\n  filter ${c}\n  pack concat_chunk(32)` };
    case 'tokenizer':
      return { tokenizer: `tokenizer tok = ${c}` };
    case 'curriculum':
      return { train: `model m\n  data d\n  curriculum ${c}\n  steps 1` };
    case 'weights':
      return { curriculum: `tokens_per_step 64\n  weights ${c}`, train: 'model m\n  data d\n  curriculum c\n  steps 1' };
    case 'growth':
      return { curriculum: `tokens_per_step 64\n  grow ${c}`, train: 'model m\n  data d\n  curriculum c\n  steps 1' };
    case 'position':
      return { attention: `mask causal & same_document\n  position ${c}` };
    case 'rope_scale':
      return { attention: `mask causal & same_document\n  position rope(scale: ${c})` };
    case 'score':
      return { attention: `mask causal & same_document\n  score ${c}` };
    case 'cache':
      return { attention: `mask causal & same_document\n  cache ${c}${def.evicts ? ' reposition' : ''}` };
    case 'arch':
      return { model: `arch ${c}\n  vocab tok\n  attention a` };
    case 'checkpoint':
      return { extra: `\nmodel k = ${c}\n\ndecode h {\n  model k\n  max_tokens 3\n}\n` };
    case 'optimizer':
      return { train: `model m\n  data d\n  steps 1\n  optimizer ${c}` };
    case 'schedule':
      return { train: `model m\n  data d\n  steps 2\n  schedule ${c}` };
    case 'sampler':
      return { decode: `model m\n  policy ${def.role === 'terminal' ? c : `${c} -> sample`}\n  max_tokens 3` };
    case 'length_control':
      return { decode: `model m\n  length ${c}\n  max_tokens 8` };
    case 'speculation':
      return { decode: `model m\n  speculate draft s candidates ${c}\n  max_tokens 3` };
    case 'statistic':
      return { decode: `cascade s -> m defer when ${c} < -1\n  max_tokens 3` };
    case 'task':
      return { eval: `task ${c}\n  using g${def.name === 'tsort' ? '\n  data d' : ''}` };
    case 'metric': {
      const task = BUILTINS.find((b) => b.category === 'task' && b.reports?.includes(def.name.replace(/\..*/, '')))!;
      return { eval: `task ${callText(task)}\n  using g\n  metric ${c}` };
    }
    case 'search':
      return { extra: `\noptimize o {\n  vary g.max_tokens in [2, 3]\n  maximize e.perplexity\n  search ${c}\n  budget {trials: 1}\n}\n` };
  }
}

/** Every clause of the clause table, written into the program. */
const CLAUSES: Record<string, Partial<Slots>> = {
  'tokenizer.use': { tokenizer: 'tokenizer tok {\n  use bytes()\n}' },
  'tokenizer.eot': { tokenizer: 'tokenizer tok {\n  use bytes()\n  eot 300\n}' },
  'tokenizer.bos': { tokenizer: 'tokenizer tok {\n  use bytes()\n  bos 257\n}' },
  'data.source': {},
  'data.tokenizer': {},
  'data.filter': { data: 'source text("corpus/*.txt")\n  tokenizer tok\n  holdout 30%\n  filter length(min: 1)\n  pack concat_chunk(32)' },
  'data.holdout': { data: 'source text("corpus/*.txt")\n  tokenizer tok\n  holdout 30% seed 3\n  pack concat_chunk(32)' },
  'data.pack': {},
  'data.seed': { data: 'source text("corpus/*.txt")\n  tokenizer tok\n  holdout 30%\n  pack concat_chunk(32)\n  seed 5' },
  'curriculum.tokens_per_step': { curriculum: 'tokens_per_step 64', train: 'model m\n  data d\n  curriculum c\n  steps 1' },
  'curriculum.weights': { curriculum: 'tokens_per_step 64\n  weights {32: 1}', train: 'model m\n  data d\n  curriculum c\n  steps 1' },
  'curriculum.cycles': { curriculum: 'tokens_per_step 64\n  weights {32: 1}\n  cycles 2', train: 'model m\n  data d\n  curriculum c\n  steps 1' },
  'curriculum.length': { curriculum: 'tokens_per_step 64\n  length 32', train: 'model m\n  data d\n  curriculum c\n  steps 1' },
  'curriculum.grow': { curriculum: 'tokens_per_step 64\n  grow linear(from: 32, to: 32, steps: 2)', train: 'model m\n  data d\n  curriculum c\n  steps 1' },
  'curriculum.ranks': { curriculum: 'tokens_per_step 64\n  ranks 2', train: 'model m\n  data d\n  curriculum c\n  steps 1' },
  'curriculum.seed': { curriculum: 'tokens_per_step 64\n  seed 4', train: 'model m\n  data d\n  curriculum c\n  steps 1' },
  'attention.mask': {},
  'attention.heads': { attention: 'heads 0..0: causal & same_document\n  heads 1..1: causal & same_document & window(8)' },
  'attention.score': { attention: 'mask causal & same_document\n  score softmax(temperature: 2)' },
  'attention.position': { attention: 'mask causal & same_document\n  position alibi() limit 16' },
  'attention.cache': { attention: 'mask causal & same_document\n  cache keep(sink(2) | window(8)) reposition' },
  'attention.tile': { attention: 'mask causal & same_document\n  tile 32' },
  'model.arch': {},
  'model.load': { extra: '\nmodel k {\n  load "ck"\n}\n\ndecode h {\n  model k\n  max_tokens 3\n}\n' },
  'model.vocab': {},
  'model.attention': {},
  'model.tie_embeddings': { model: 'arch llama(dim: 16, layers: 1, heads: 2, ffn: 32)\n  vocab tok\n  attention a\n  tie_embeddings true' },
  'model.seed': { model: 'arch llama(dim: 16, layers: 1, heads: 2, ffn: 32)\n  vocab tok\n  attention a\n  seed 9' },
  'train.model': {},
  'train.data': {},
  'train.curriculum': { train: 'model m\n  data d\n  curriculum fixed(32, tokens_per_step: 64)\n  steps 1' },
  'train.optimizer': { train: 'model m\n  data d\n  optimizer adamw(lr: 1e-3)\n  steps 1' },
  'train.schedule': { train: 'model m\n  data d\n  schedule warmup(1) then cosine(to: 10%)\n  steps 2' },
  'train.steps': {},
  'train.accumulate': { train: 'model m\n  data d\n  steps 1\n  accumulate 2' },
  'train.clip': { train: 'model m\n  data d\n  steps 1\n  clip 1.0' },
  'train.eval': { train: 'model m\n  data d\n  steps 2\n  eval every 1: perplexity(d.holdout)' },
  'train.checkpoint': { train: 'model m\n  data d\n  steps 2\n  checkpoint "out/ck" every 1' },
  'train.log': { train: 'model m\n  data d\n  steps 1\n  log "out/log.jsonl"' },
  'train.ranks': { train: 'model m\n  data d\n  steps 1\n  ranks 2' },
  'train.seed': { train: 'model m\n  data d\n  steps 1\n  seed 3' },
  'train.resume': { train: 'model m\n  data d\n  steps 1\n  checkpoint "out/ck2"\n  resume auto' },
  'train.backend': { train: 'model m\n  data d\n  steps 1\n  backend auto' },
  'decode.model': {},
  'decode.attention': { extra: '\nattention q {\n  mask causal & window(4)\n}\n', decode: 'model m\n  attention q\n  max_tokens 3' },
  'decode.policy': {},
  'decode.prompt': { extra: '\ndata p {\n  source jsonl("prompts.jsonl", field: "prompt", on_error: skip)\n  tokenizer tok\n  pack prepack()\n}\n', decode: 'model m\n  prompt p template chatml\n  max_tokens 3' },
  'decode.prompt template tokenizer': { tokenizer: 'tokenizer tok = hf("tokenizer.json")', decode: 'model m\n  prompt "hi" template tokenizer\n  max_tokens 2' },
  'decode.max_tokens': {},
  'decode.min_tokens': { decode: 'model m\n  min_tokens 2\n  max_tokens 3' },
  'decode.stop': { decode: 'model m\n  prompt "ab"\n  stop "a", "b"\n  max_tokens 3' },
  'decode.length': { decode: 'model m\n  length target(chars: 4)\n  max_tokens 8' },
  'decode.trace': { decode: 'model m\n  trace entropy, surprise, logprob, candidates\n  max_tokens 3' },
  'decode.speculate': { decode: 'model m\n  speculate draft s candidates 2 greedy\n  max_tokens 3' },
  'decode.cascade': { decode: 'cascade s -> m defer when quantile(logprob, 0.1) < -1\n  max_tokens 3' },
  'decode.seed': { decode: 'model m\n  seed 8\n  max_tokens 3' },
  'eval.task': {},
  'eval.using': {},
  'eval.data': { eval: 'task tsort(lengths: [4096], samples: 1)\n  using g\n  data d.holdout' },
  'eval.metric': { eval: 'task perplexity(d.holdout)\n  using g\n  metric loss' },
  'eval.seed': { eval: 'task passkey(lengths: [256], depths: 1, samples: 1)\n  using g\n  seed 2' },
  'optimize.vary': { extra: '\noptimize o {\n  vary g.max_tokens in 2..3\n  minimize e.loss\n  search grid()\n  budget {trials: 1}\n}\n' },
  'optimize.maximize': { extra: '\noptimize o {\n  vary g.max_tokens in [2, 3]\n  maximize e.perplexity\n  search random(trials: 1)\n}\n' },
  'optimize.minimize': { extra: '\noptimize o {\n  vary g.max_tokens in [2, 3]\n  minimize e.perplexity\n  search tpe(trials: 1)\n}\n' },
  'optimize.subject to': { extra: '\noptimize o {\n  vary g.max_tokens in [2, 3]\n  minimize e.loss\n  subject to e.perplexity < 1e9\n  search grid()\n  budget {trials: 1}\n}\n' },
  'optimize.search': {},
  'optimize.budget': {},
  'optimize.save': { extra: '\noptimize o {\n  vary g.max_tokens in [2]\n  minimize e.loss\n  search grid()\n  save "out/o.json"\n}\n' },
  'optimize.seed': { extra: '\noptimize o {\n  vary g.max_tokens in [2]\n  minimize e.loss\n  search grid()\n  seed 3\n}\n' },
};

/** Cases lmpc check rejects on purpose, with the code it gives (the runtime has no code for them). */
const REJECTED: Record<string, string> = {
  'optimizer.sgd': 'LMP0313',
};

/** Check, lower and run every runnable block of `text`; returns the check's error codes (empty when it ran). */
async function checkAndRun(name: string, text: string): Promise<string[]> {
  const file = join(DIR, `${name.replace(/[^\w.-]/g, '_')}.lmp`);
  writeFileSync(file, text);
  const r = check(text, file);
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) return errors.map((d) => d.code);
  const ir = lower(r.program);
  const session = new Session();
  const specs = new Map<string, Frozen<AnySpec>>(ir.decls.map((d) => [d.name, d.spec as Frozen<AnySpec>]));
  const options = { baseDir: DIR, session, specs, steps: undefined as number | undefined };
  for (const d of ir.decls) {
    try {
      if (d.kind === 'train') await runTrain((d as DeclIR<'train'>).spec, { ...options, steps: Math.min((d as DeclIR<'train'>).spec.steps, 2), checkpointDir: join(DIR, 'slots', name) });
      else if (d.kind === 'decode') await runDecode((d as DeclIR<'decode'>).spec, options);
      else if (d.kind === 'eval') await runEval((d as DeclIR<'eval'>).spec, options);
      else if (d.kind === 'optimize') {
        const o = await runOptimizeBlock(text, file, (d as DeclIR<'optimize'>).spec, { baseDir: DIR, session });
        const failed = o.result.trials.filter((t) => t.error);
        if (failed.length) throw new Error(`optimize trial failed: ${JSON.stringify(failed[0]!.error)}`);
      }
    } catch (e) {
      const x = e as { code?: string; message?: string };
      throw new Error(`${name}: ${d.kind} ${d.name} checked clean but failed at run time: ${x.code ?? ''} ${x.message ?? String(e)}\n--- program\n${text}`);
    }
  }
  return [];
}

beforeAll(async () => {
  const words = 'the cat sat on the mat and the dog ran to the park while the sun was warm'.split(' ');
  const docs = Array.from({ length: 60 }, (_, i) => Array.from({ length: 30 + (i % 7) * 5 }, (_, k) => words[(i * 7 + k * 3) % words.length]).join(' '));
  ensureDir(join(DIR, 'corpus'));
  docs.forEach((t, i) => writeFileSync(join(DIR, 'corpus', `${String(i).padStart(2, '0')}.txt`), t));
  writeFileSync(join(DIR, 'corpus.jsonl'), docs.map((t) => JSON.stringify({ text: t })).join('\n') + '\n');
  writeFileSync(join(DIR, 'prompts.jsonl'), ['Tell a story.', 'Name a color.'].map((p) => JSON.stringify({ prompt: p })).join('\n') + '\n');
  copyFileSync(join(import.meta.dirname, '..', 'runtime', 'data', 'fixtures', 'docs.parquet'), join(DIR, 'docs.parquet'));
  copyFileSync(join(llama3Dir(), 'tokenizer.json'), join(DIR, 'tokenizer.json'));
  copyFileSync(join(llama3Dir(), 'tokenizer_config.json'), join(DIR, 'tokenizer_config.json'));
  // a checkpoint for load(...): the base model trained one step
  await checkAndRun('setup', program({ train: 'model m\n  data d\n  steps 1\n  checkpoint "ck"', noEval: true }));
}, 120_000);

describe('everything that checks, runs', () => {
  it('every category of the registry has a place in the generated program', () => {
    for (const def of BUILTINS) expect(() => builtinCase(def), `${def.category}.${def.name}`).not.toThrow();
  });

  it('every clause of the clause table has a case', () => {
    const all = Object.values(DECL_SPECS).flatMap((d) => d.clauses.map((c) => `${d.kind}.${c.words.join(' ')}`));
    expect(all.filter((k) => !(k in CLAUSES))).toEqual([]);
  });

  for (const def of BUILTINS) {
    const key = `${def.category}.${def.name}`;
    it(`built-in ${key}: ${callText(def)}`, async () => {
      const codes = await checkAndRun(key, program(builtinCase(def)));
      expect(codes.length ? codes : undefined, `${key} was rejected by lmpc check`).toEqual(REJECTED[key] ? expect.arrayContaining([REJECTED[key]]) : undefined);
    }, 60_000);
  }

  for (const [key, over] of Object.entries(CLAUSES)) {
    it(`clause ${key}`, async () => {
      const codes = await checkAndRun(key, program(over));
      expect(codes, `${key} was rejected by lmpc check`).toEqual([]);
    }, 60_000);
  }
});
