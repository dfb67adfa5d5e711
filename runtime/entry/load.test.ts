// `model m = load("dir")` through runtime/entry: a checkpoint written by runtime/model/io.ts is
// loaded at run time (architecture from its config.json, path relative to the .lmp folder);
// greedy decoding from it equals greedy decoding with the in-memory model; BF16 weights load; a
// train block fine-tunes the loaded weights exactly as it trains the same weights built in memory;
// a missing directory or a corrupt config.json is a coded error naming the model declaration.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { check } from '../../compiler/index.js';
import { findDecl } from '../../compiler/ir/types.js';
import { lower } from '../../compiler/lower/index.js';
import type { SamplerSpec } from '../decode/chain.js';
import { Decoder } from '../decode/decoder.js';
import type { ModelConfig } from '../model/config.js';
import { fusedAttention } from '../model/fused.js';
import { saveModel } from '../model/io.js';
import { LlamaModel } from '../model/llama.js';
import { floatToBf16 } from '../model/safetensors.js';
import { ModelLogitsSource } from '../model/source.js';
import { runDecode, runTrain, Session, type DecodeSpec, type TrainSpec } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'lmp-entry-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CFG: ModelConfig = { dim: 16, layers: 2, heads: 2, kvHeads: 1, ffn: 32, vocab: 257, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: false };
const memModel = (seed = 11) => LlamaModel.init(CFG, seed, { attention: fusedAttention(), std: 0.3 });

function specs(src: string): Map<string, unknown> {
  const r = check(src, 't.lmp');
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const ir = lower(r.program);
  return new Map(['m', 'g', 't'].map((n) => [n, findDecl(ir, n)?.spec]));
}

const DECODE = (model: string) => `${model}
decode g {
  model m
  prompt "the whale"
  policy greedy()
  min_tokens 20
  max_tokens 20
  seed 1
}
`;

/** Greedy decoding with the in-memory model through the same Decoder (bytes tokenizer). */
async function greedy(model: LlamaModel, prompt: string, g: DecodeSpec): Promise<number[]> {
  const d = new Decoder(new ModelLogitsSource(model), { chain: structuredClone(g.chain.samplers) as SamplerSpec[], seed: 1, eos: 256, minTokens: 20, maxTokens: 20 });
  return [...(await d.generate(Array.from(new TextEncoder().encode(prompt)))).tokens];
}

describe('model m = load("dir") in lmpc run', () => {
  it('decodes greedily from the loaded F32 weights exactly as from the in-memory model (value and block forms)', async () => {
    const mem = memModel();
    saveModel(join(dir, 'ckpt'), mem);
    for (const form of ['model m = load("ckpt")', 'model m {\n  load "ckpt"\n}']) {
      const g = specs(DECODE(form)).get('g') as DecodeSpec;
      expect(g.chain.samplers.map((x) => x.name)).toEqual(['greedy']);
      const want = await greedy(mem, 'the whale', g);
      expect(new Set(want).size).toBeGreaterThan(1);
      expect(g.model!.config).toBeNull();
      expect(g.model!.load).toBe('ckpt');
      const r = await runDecode(g, { baseDir: dir });
      expect(r.loaded).toBe(join(dir, 'ckpt'));
      expect(r.trained).toBe(false);
      expect(r.tokens).toEqual(want);
    }
  }, 60_000);

  it('loads BF16 weights (rounded to bf16, then decoded like the rounded in-memory model)', async () => {
    const mem = memModel(12);
    saveModel(join(dir, 'bf16'), mem, { dtype: 'BF16' });
    const rounded = memModel(12);
    const f = new Float32Array(1), u = new Uint32Array(f.buffer);
    for (const p of rounded.params.values())
      for (let i = 0; i < p.length; i++) {
        u[0] = floatToBf16(p[i]!) << 16;
        p[i] = f[0]!;
      }
    const g = specs(DECODE('model m = load("bf16")')).get('g') as DecodeSpec;
    const r = await runDecode(g, { baseDir: dir });
    expect(r.tokens).toEqual(await greedy(rounded, 'the whale', g));
  }, 60_000);

  it('a train block fine-tunes the loaded weights: same losses as training the same weights built in memory', async () => {
    mkdirSync(join(dir, 'c'), { recursive: true });
    for (let d = 0; d < 6; d++) writeFileSync(join(dir, 'c', `d${d}.txt`), `Document ${d}: ` + 'the whale and the sea and the ship. '.repeat(3 + d));
    const seed = 21;
    saveModel(join(dir, 'ft'), LlamaModel.init(CFG, seed, { attention: fusedAttention() }));
    const src = (model: string) => `tokenizer b = bytes()
data d {
  source text("c/*.txt")
  tokenizer b
  pack decompose(min: 16, max: 64)
}
${model}
train t {
  model m
  data d
  optimizer adamw(lr: 3e-3)
  steps 3
  seed 1
}
${DECODE('').trim()}
`;
    const run = async (model: string) => {
      const s = specs(src(model));
      const session = new Session();
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      const at: number[] = [];
      const tr = await runTrain(s.get('t') as TrainSpec, { baseDir: dir, session, onProgress: (p) => p.phase === 'train' && at.push(ticks) });
      clearInterval(timer);
      // runTrain yields to the event loop between steps: the timer fires between step 1 and step 3
      // (without the yield the steps run back to back and no tick can land)
      expect(at.length).toBe(3);
      expect(at[2]!).toBeGreaterThan(at[0]!);
      const dec = await runDecode(s.get('g') as DecodeSpec, { baseDir: dir, session });
      return { tr, dec, model: session.models.get('m')! };
    };
    const loaded = await run('model m = load("ft")');
    const built = await run(`model m {\n  arch llama(dim: 16, layers: 2, heads: 2, kv_heads: 1, ffn: 32)\n  vocab b\n  seed ${seed}\n}`);
    expect(loaded.tr.losses).toEqual(built.tr.losses);
    expect(loaded.tr.losses.length).toBe(3);
    for (const [n, p] of loaded.model.params) expect(p).toEqual(built.model.params.get(n));
    // the decode after the train uses the fine-tuned weights
    expect(loaded.dec.trained).toBe(true);
    expect(loaded.dec.tokens).toEqual(built.dec.tokens);
  }, 60_000);

  it('refuses a checkpoint that does not match an arch written beside it', async () => {
    saveModel(join(dir, 'ckpt2'), memModel());
    const g = specs(DECODE('model m {\n  load "ckpt2"\n  arch llama(dim: 32, layers: 2, heads: 2, kv_heads: 1, ffn: 32)\n}')).get('g') as DecodeSpec;
    await expect(runDecode(g, { baseDir: dir })).rejects.toMatchObject({ code: 'LMP_E_MODEL_LOAD', message: expect.stringContaining('dim 32 vs 16 in config.json') });
  });

  it('a missing directory and a corrupt config.json are coded errors with the model declaration location', async () => {
    const missing = specs(DECODE('model m = load("nope")')).get('g') as DecodeSpec;
    await expect(runDecode(missing, { baseDir: dir })).rejects.toMatchObject({
      code: 'LMP_E_MODEL_DIR',
      message: expect.stringMatching(/^error in model m \(t\.lmp:1:1\): cannot load checkpoint "nope": checkpoint directory .*nope does not exist$/),
    });
    mkdirSync(join(dir, 'bad'));
    writeFileSync(join(dir, 'bad', 'config.json'), '{"hidden_size": 16, ');
    const bad = specs('\n\n' + DECODE('model m = load("bad")')).get('g') as DecodeSpec;
    await expect(runDecode(bad, { baseDir: dir })).rejects.toMatchObject({
      code: 'LMP_E_CONFIG',
      message: expect.stringMatching(/^error in model m \(t\.lmp:3:1\): cannot load checkpoint "bad": .*config\.json: /),
    });
    writeFileSync(join(dir, 'bad', 'config.json'), '{"hidden_size": 16}');
    await expect(runDecode(bad, { baseDir: dir })).rejects.toMatchObject({ code: 'LMP_E_CONFIG', message: expect.stringContaining('(t.lmp:3:1)') });
  });
});
