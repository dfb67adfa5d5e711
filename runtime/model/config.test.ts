// config.json <-> ModelConfig: both RoPE layouts (transformers 5 rope_parameters, transformers 4
// rope_theta + rope_scaling) with transformers 5's precedence, every rope type lmp runs, refusals
// naming the key, llama3 / YaRN frequencies against values computed by hand, and the scaling of a
// config reaching the model's positions. The end-to-end check against transformers itself is
// peers/hf (npm run test:peers).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ropeFrequencies } from '../attention/index.js';
import type { PositionSettings } from './attention.js';
import { ALIBI_ARCHITECTURE, ALIBI_MODEL_TYPE, ALIBI_ROPE_TYPE, fromHfConfig, hfPosition, type ModelConfig, toHfConfig } from './config.js';
import { loadModel, saveModel } from './io.js';
import { LlamaModel, type PackedBatch } from './llama.js';
import { expectClose } from './testutil.js';

const tmp = mkdtempSync(join(tmpdir(), 'lmp-config-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// hidden 32, 4 heads: head dim 8
const base = {
  architectures: ['LlamaForCausalLM'], hidden_size: 32, intermediate_size: 48, num_attention_heads: 4, num_key_value_heads: 2,
  num_hidden_layers: 1, vocab_size: 19, rms_norm_eps: 1e-5, max_position_embeddings: 64,
};
const parse = (extra: Record<string, unknown>): ModelConfig => fromHfConfig({ ...base, ...extra });
const refusal = (extra: Record<string, unknown>): { code?: string; key?: string; message?: string } => {
  try {
    parse(extra);
  } catch (e) {
    return e as { code?: string; key?: string; message?: string };
  }
  throw new Error(`accepted ${JSON.stringify(extra)}`);
};

describe('config.json RoPE layouts', () => {
  it('transformers 5 rope_parameters: theta and llama3 scaling', () => {
    const c = parse({
      rope_parameters: { rope_type: 'llama3', rope_theta: 500000, factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 },
    });
    expect(c.ropeTheta).toBe(500000);
    expect(c.ropeScaling).toEqual({ kind: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalLength: 16 });
  });

  it('transformers 4 rope_theta + rope_scaling (type or rope_type)', () => {
    expect(parse({ rope_theta: 500000 })).toMatchObject({ ropeTheta: 500000 });
    expect(parse({ rope_theta: 500000 }).ropeScaling).toBeUndefined();
    expect(parse({ rope_theta: 1000, rope_scaling: { type: 'linear', factor: 4 } })).toMatchObject({ ropeTheta: 1000, ropeScaling: { kind: 'linear', factor: 4 } });
    expect(parse({ rope_scaling: { rope_type: 'dynamic', factor: 2 } }).ropeScaling).toEqual({ kind: 'dynamic', factor: 2, originalLength: 64 });
    // rope_type wins over type; null rope_scaling is none
    expect(parse({ rope_scaling: { rope_type: 'linear', type: 'dynamic', factor: 3 } }).ropeScaling).toEqual({ kind: 'linear', factor: 3 });
    expect(parse({ rope_scaling: null, rope_theta: 7 })).toMatchObject({ ropeTheta: 7 });
  });

  it('precedence as transformers 5: rope_scaling replaces rope_parameters; the dict theta, else top-level, else 10000', () => {
    const both = parse({ rope_theta: 77, rope_scaling: { rope_type: 'linear', factor: 3 }, rope_parameters: { rope_type: 'dynamic', factor: 5, rope_theta: 99 } });
    expect(both).toMatchObject({ ropeTheta: 77, ropeScaling: { kind: 'linear', factor: 3 } });
    expect(parse({ rope_theta: 77, rope_parameters: { rope_type: 'linear', factor: 3, rope_theta: 99 } }).ropeTheta).toBe(99);
    expect(parse({ rope_theta: 77, rope_parameters: { rope_type: 'linear', factor: 3 } }).ropeTheta).toBe(77);
    expect(parse({}).ropeTheta).toBe(10000);
    expect(parse({ rope_scaling: {}, rope_parameters: { rope_type: 'default', rope_theta: 5 } }).ropeTheta).toBe(5);
  });

  it('yarn: index ramp, attention factor (explicit, mscale ratio, 0.1 ln s + 1), factor null, beta defaults, top-level original', () => {
    const y = (p: Record<string, unknown>, top: Record<string, unknown> = {}) => parse({ ...top, rope_parameters: { rope_type: 'yarn', rope_theta: 10000, ...p } }).ropeScaling;
    expect(y({ factor: 4, original_max_position_embeddings: 16 })).toEqual({
      kind: 'yarn', ramp: 'index', factor: 4, originalLength: 16, alpha: 1, beta: 32, truncate: true, attentionFactor: 0.1 * Math.log(4) + 1,
    });
    expect(y({ factor: 4, original_max_position_embeddings: 16, attention_factor: 1.5, beta_fast: 16, beta_slow: 2, truncate: false }))
      .toMatchObject({ attentionFactor: 1.5, alpha: 2, beta: 16, truncate: false });
    // DeepSeek form: (0.1 * 1 * ln 4 + 1) / (0.1 * 0.5 * ln 4 + 1)
    expect((y({ factor: 4, original_max_position_embeddings: 16, mscale: 1, mscale_all_dim: 0.5 }) as { attentionFactor: number }).attentionFactor).toBeCloseTo(1.0648216, 6);
    // factor null: max_position_embeddings / original; beta 0 or null: the defaults (`or 32`, `or 1`)
    expect(y({ factor: null, original_max_position_embeddings: 16, beta_fast: 0, beta_slow: null })).toMatchObject({ factor: 4, alpha: 1, beta: 32 });
    // a factor <= 1 leaves the attention factor at 1 (get_mscale)
    expect(y({ factor: 1, original_max_position_embeddings: 16 })).toMatchObject({ attentionFactor: 1 });
    // original: a top-level original_max_position_embeddings wins, else the dict's, else max_position_embeddings
    expect(y({ factor: 4, original_max_position_embeddings: 16 }, { original_max_position_embeddings: 32 })).toMatchObject({ originalLength: 32 });
    expect(y({ factor: 4 })).toMatchObject({ originalLength: 64 });
  });

  it('refuses other rope types with a coded error naming the key', () => {
    for (const [extra, key] of [
      [{ rope_parameters: { rope_type: 'longrope', rope_theta: 1, short_factor: [1], long_factor: [1] } }, 'rope_parameters.rope_type'],
      [{ rope_scaling: { type: 'su', factor: 2 } }, 'rope_scaling.type'],
      [{ rope_parameters: { rope_type: 'proportional', rope_theta: 1 } }, 'rope_parameters.rope_type'],
      [{ rope_parameters: { rope_type: 'default', partial_rotary_factor: 0.5 } }, 'rope_parameters.partial_rotary_factor'],
      [{ rope_parameters: { full_attention: { rope_type: 'default' } } }, 'rope_parameters.full_attention'],
    ] as const) {
      const e = refusal(extra);
      expect(e.code).toBe('LMP_E_CONFIG_UNSUPPORTED');
      expect(e.key).toBe(key);
      expect(e.message).toContain(key);
    }
    for (const [extra, key] of [
      [{ rope_parameters: { rope_type: 'linear' } }, 'rope_parameters.factor'],
      [{ rope_parameters: { rope_type: 'llama3', factor: 8, low_freq_factor: 1 } }, 'rope_parameters.high_freq_factor'],
      [{ rope_parameters: { rope_type: 'yarn', original_max_position_embeddings: 16 } }, 'rope_parameters.factor'],
      [{ rope_parameters: { rope_type: 'linear', factor: '2' } }, 'rope_parameters.factor'],
      [{ rope_theta: 'big' }, 'rope_theta'],
      [{ rope_parameters: { rope_type: 7 } }, 'rope_parameters.rope_type'],
      [{ rope_parameters: 'yarn' }, 'rope_parameters'],
    ] as const) {
      const e = refusal(extra);
      expect(e.code).toBe('LMP_E_CONFIG');
      expect(e.key).toBe(key);
    }
    // a factor of 0 and llama3 with high <= low are invalid, not silently NaN frequencies
    expect(refusal({ rope_parameters: { rope_type: 'linear', factor: 0 } }).code).toBe('LMP_E_CONFIG');
    expect(refusal({ rope_parameters: { rope_type: 'llama3', factor: 8, low_freq_factor: 4, high_freq_factor: 4 } }).code).toBe('LMP_E_CONFIG');
  });
});

describe('RoPE frequencies by hand (head dim 8, base 10000: theta_i = 1, 0.1, 0.01, 0.001)', () => {
  it('llama3 (factor 8, low 1, high 4, original 1000)', () => {
    // wavelengths 2 pi / theta_i = 6.28, 62.8, 628.3, 6283; kept below 1000 / 4 = 250, divided by 8 above 1000 / 1 = 1000.
    // i = 2 is between: m = (1000 / 628.3185 - 1) / (4 - 1) = (1.5915494 - 1) / 3 = 0.19718314,
    // theta = 0.01 * ((1 - m) / 8 + m) = 0.01 * (0.125 + 0.875 * 0.19718314) = 0.0029753525
    const c = parse({ rope_parameters: { rope_type: 'llama3', rope_theta: 10000, factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 1000 } });
    const { invFreq, mscale } = ropeFrequencies(8, { base: c.ropeTheta, scaling: c.ropeScaling! });
    expectClose(invFreq, [1, 0.1, 0.0029753525, 0.000125], 0, 1e-6, 'llama3');
    expect(mscale).toBe(1);
  });

  it('yarn, index ramp (factor 4, original 1000, beta 32 / 1)', () => {
    // index where r = L theta_i / (2 pi) equals r: c(r) = 8 ln(1000 / (2 pi r)) / (2 ln 10000): c(32) = 0.6967, c(1) = 2.2018;
    // truncated: lo = 0, hi = 3, ramp i / 3; theta'_i = ramp theta_i / 4 + (1 - ramp) theta_i:
    // 1, 0.1 (1/12 + 2/3) = 0.075, 0.01 (1/6 + 1/3) = 0.005, 0.001 / 4 = 0.00025
    const c = parse({ rope_parameters: { rope_type: 'yarn', rope_theta: 10000, factor: 4, original_max_position_embeddings: 1000 } });
    const f = ropeFrequencies(8, { base: c.ropeTheta, scaling: c.ropeScaling! });
    expectClose(f.invFreq, [1, 0.075, 0.005, 0.00025], 0, 1e-6, 'yarn truncated');
    expect(f.mscale).toBeCloseTo(1.1386294361, 9); // 0.1 ln 4 + 1
    // truncate false: lo = 0.6967, hi = 2.2018, ramp_1 = 0.3033 / 1.5051 = 0.20153, ramp_2 = 1.3033 / 1.5051 = 0.86592
    const u = parse({ rope_parameters: { rope_type: 'yarn', rope_theta: 10000, factor: 4, original_max_position_embeddings: 1000, truncate: false } });
    const g = ropeFrequencies(8, { base: u.ropeTheta, scaling: u.ropeScaling! });
    expectClose(g.invFreq, [1, 0.1 * (0.20153 / 4 + 0.79847), 0.01 * (0.86592 / 4 + 0.13408), 0.00025], 0, 2e-5, 'yarn untruncated');
  });

  it('dynamic: plain up to max_position_embeddings, then base * (s n / L - (s - 1))^(d / (d - 2))', () => {
    const c = parse({ rope_parameters: { rope_type: 'dynamic', rope_theta: 10000, factor: 2 } });
    const plain = ropeFrequencies(8, { base: 10000 }).invFreq;
    expectClose(ropeFrequencies(8, { base: 10000, scaling: c.ropeScaling!, length: 64 }).invFreq, plain, 0, 0, 'n = L');
    // n = 128 = 2L: base * 3^(4/3) = 43267.487
    expectClose(ropeFrequencies(8, { base: 10000, scaling: c.ropeScaling!, length: 128 }).invFreq, ropeFrequencies(8, { base: 43267.487 }).invFreq, 0, 1e-6, 'n = 2L');
  });
});

describe('the scaling of a config reaches the model', () => {
  const arch: ModelConfig = { dim: 16, layers: 1, heads: 2, kvHeads: 1, ffn: 24, vocab: 13, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: false, maxPositions: 8 };
  const seq = (positions: number[]): PackedBatch => {
    const T = positions.length;
    return {
      tokens: Int32Array.from(positions, (_, i) => (i * 5 + 3) % 13), cuSeqlens: Int32Array.of(0, T), positionIds: Int32Array.from(positions),
      docIds: new Int32Array(T), lossMask: new Uint8Array(T).fill(1),
    };
  };
  const withWeights = (cfg: ModelConfig): LlamaModel => {
    const m = new LlamaModel(cfg);
    const src = LlamaModel.init(arch, 4, { std: 0.3 });
    for (const [n, p] of src.params) m.params.get(n)!.set(p);
    return m;
  };
  const range = (n: number, step = 1): number[] => Array.from({ length: n }, (_, i) => i * step);

  it('linear s = 2 at positions 2p is the plain model at p (and differs from plain at 2p)', () => {
    const lin = withWeights({ ...arch, ropeScaling: { kind: 'linear', factor: 2 } }), plain = withWeights(arch);
    expectClose(lin.logits(seq(range(12, 2))), plain.logits(seq(range(12))), 1e-5, 1e-5, 'linear');
    const d = lin.logits(seq(range(12, 2))), p = plain.logits(seq(range(12, 2)));
    expect(d.some((v, i) => Math.abs(v - p[i]!) > 1e-3)).toBe(true);
  });

  it('dynamic factor 2, L = 8: plain for 8 tokens, a plain model of base 10000 * 3^(4/3) for 16', () => {
    const dyn = withWeights({ ...arch, ropeScaling: { kind: 'dynamic', factor: 2, originalLength: 8 } });
    expectClose(dyn.logits(seq(range(8))), withWeights(arch).logits(seq(range(8))), 0, 0, 'n = L');
    const big = withWeights({ ...arch, ropeTheta: 10000 * Math.pow(3, 4 / 3) });
    expectClose(dyn.logits(seq(range(16))), big.logits(seq(range(16))), 1e-5, 1e-5, 'n = 2L');
  });

  it('saveModel writes what loadModel (and transformers) read back: every HF rope type round-trips', () => {
    const kinds: ModelConfig['ropeScaling'][] = [
      undefined,
      { kind: 'linear', factor: 4 },
      { kind: 'dynamic', factor: 2, originalLength: 8 },
      { kind: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalLength: 4 },
      { kind: 'yarn', ramp: 'index', factor: 4, originalLength: 4, alpha: 1, beta: 32, truncate: true, attentionFactor: 0.1 * Math.log(4) + 1 },
      { kind: 'yarn', ramp: 'index', factor: 2, originalLength: 4, alpha: 2, beta: 16, truncate: false, attentionFactor: 1.25 },
    ];
    for (const [i, ropeScaling] of kinds.entries()) {
      const cfg: ModelConfig = { ...arch, ropeTheta: 500000, ...(ropeScaling ? { ropeScaling } : {}) };
      const dir = join(tmp, `rt${i}`);
      saveModel(dir, withWeights(cfg));
      expect(loadModel(dir).config).toEqual(cfg);
      const j = toHfConfig(cfg);
      expect(j['rope_theta']).toBe(500000);
      expect((j['rope_parameters'] as { rope_type: string }).rope_type).toBe(ropeScaling ? ropeScaling.kind : 'default');
      expect(j['rope_scaling']).toEqual(ropeScaling ? j['rope_parameters'] : undefined);
    }
    // static NTK is the plain RoPE of its scaled base; the paper's YaRN ramp and truncated have no HF form
    expect(toHfConfig({ ...arch, ropeScaling: { kind: 'ntk', factor: 2 } })['rope_parameters']).toEqual({ rope_type: 'default', rope_theta: 10000 * Math.pow(2, 8 / 6) });
    expect(() => toHfConfig({ ...arch, ropeScaling: { kind: 'yarn', factor: 2, originalLength: 4 } })).toThrow(expect.objectContaining({ code: 'LMP_E_CONFIG_UNSUPPORTED' }));
    expect(() => toHfConfig({ ...arch, ropeScaling: { kind: 'truncated', a: 0.01, b: 0.5, rho: 0.1 } })).toThrow(expect.objectContaining({ code: 'LMP_E_CONFIG_UNSUPPORTED' }));
  });

  // A model trained with a .lmp attention block's scaling (model options, not its config) used to
  // save a config.json without it, so the checkpoint loaded unscaled and gave other logits.
  it('saveModel writes the scaling the model runs (its options\' replace the config\'s): the checkpoint loads with the same logits', () => {
    const scalings: NonNullable<ModelConfig['ropeScaling']>[] = [
      { kind: 'linear', factor: 4 },
      { kind: 'ntk', factor: 3 },
      { kind: 'yarn', factor: 4, originalLength: 4 }, // the paper's ratio ramp: no HF form, kept as lmp_rope_scaling
      { kind: 'truncated', a: 0.01, b: 0.5, rho: 0.1 },
    ];
    const positions = range(20);
    for (const [i, scaling] of scalings.entries()) {
      const m = new LlamaModel(arch, { position: { kind: 'rope', scaling } });
      const src = LlamaModel.init(arch, 4, { std: 0.3 });
      for (const [n, p] of src.params) m.params.get(n)!.set(p);
      const dir = join(tmp, `opt${i}`);
      saveModel(dir, m);
      const back = loadModel(dir);
      const want = m.logits(seq(positions));
      expectClose(back.logits(seq(positions)), want, 1e-5, 1e-5, scaling.kind);
      // and it is not what the unscaled model gives
      const plain = withWeights(arch).logits(seq(positions));
      expect(plain.some((v, j) => Math.abs(v - want[j]!) > 1e-3)).toBe(true);
    }
  });

  // A model trained with ALiBi or NoPE used to checkpoint a plain RoPE config.json: loaded without
  // the .lmp file (lmp or transformers), it ran RoPE over weights trained without it.
  it('saveModel records ALiBi and NoPE (lmp_position): the checkpoint alone loads with them, in forms transformers cannot take for RoPE', () => {
    const positions = range(20);
    const cases: { position: PositionSettings; arch: string; type: string }[] = [
      { position: { kind: 'alibi' }, arch: ALIBI_ARCHITECTURE, type: ALIBI_MODEL_TYPE },
      { position: { kind: 'alibi', limit: 4 }, arch: ALIBI_ARCHITECTURE, type: ALIBI_MODEL_TYPE },
      { position: { kind: 'none' }, arch: 'SmolLM3ForCausalLM', type: 'smollm3' },
      { position: { kind: 'rope', limit: 4 }, arch: 'LlamaForCausalLM', type: 'llama' },
    ];
    const rope = withWeights(arch).logits(seq(positions));
    for (const [i, { position, arch: architecture, type }] of cases.entries()) {
      const m = new LlamaModel(arch, { position });
      const src = LlamaModel.init(arch, 4, { std: 0.3 });
      for (const [n, p] of src.params) m.params.get(n)!.set(p);
      const dir = join(tmp, `pos${i}`);
      saveModel(dir, m);
      const j = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
      expect(j['architectures']).toEqual([architecture]);
      expect(j['model_type']).toBe(type);
      expect(j['lmp_position']).toEqual(position);
      // transformers: NoPE is SmolLM3 with RoPE off in every layer; ALiBi's rope_type has no RoPE init function
      if (position.kind === 'none') expect(j['no_rope_layers']).toEqual([0]);
      if (position.kind === 'alibi') expect(j['rope_parameters']).toEqual({ rope_type: ALIBI_ROPE_TYPE });
      const back = loadModel(dir);
      expect(back.position).toEqual(position);
      const want = m.logits(seq(positions));
      expectClose(back.logits(seq(positions)), want, 1e-6, 1e-6, JSON.stringify(position));
      // and not what RoPE gives (what loading it did before)
      expect(rope.some((v, k) => Math.abs(v - want[k]!) > 1e-3)).toBe(true);
      // a .lmp attention block's position of the same kind replaces the record; another kind is refused
      expect(loadModel(dir, { position: { kind: position.kind } as PositionSettings }).position).toEqual({ kind: position.kind });
      const other: PositionSettings = position.kind === 'rope' ? { kind: 'alibi' } : { kind: 'rope' };
      expect(() => loadModel(dir, { position: other })).toThrow(expect.objectContaining({ code: 'LMP_E_MODEL_POSITION', key: 'lmp_position' }));
    }
    // plain RoPE writes no record (and loads as RoPE)
    const dir = join(tmp, 'pos-rope');
    saveModel(dir, withWeights(arch));
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))['lmp_position']).toBeUndefined();
    expect(loadModel(dir).position).toEqual({ kind: 'rope' });
  });

  it('a SmolLM3 config.json: NoPE when every layer skips RoPE, a Llama when none does, refused when mixed', () => {
    const smol = { ...base, architectures: ['SmolLM3ForCausalLM'], model_type: 'smollm3' };
    expect(hfPosition({ ...smol, num_hidden_layers: 3, no_rope_layers: [0, 0, 0] })).toEqual({ kind: 'none' });
    expect(hfPosition({ ...smol, num_hidden_layers: 2, no_rope_layers: [1, 1] })).toBeUndefined();
    // transformers' default: no_rope_layers[i] = int((i + 1) % no_rope_layer_interval != 0), interval 4
    expect(hfPosition({ ...smol, num_hidden_layers: 3 })).toBeUndefined();
    expect(() => hfPosition({ ...smol, num_hidden_layers: 4 })).toThrow(expect.objectContaining({ code: 'LMP_E_CONFIG_UNSUPPORTED', key: 'no_rope_layers' }));
    expect(hfPosition({ ...smol, num_hidden_layers: 2, no_rope_layer_interval: 1 })).toEqual({ kind: 'none' });
    expect(() => hfPosition({ ...smol, no_rope_layers: [0], use_sliding_window: true })).toThrow(expect.objectContaining({ code: 'LMP_E_CONFIG_UNSUPPORTED', key: 'use_sliding_window' }));
    expect(() => hfPosition({ ...base, lmp_position: { kind: 'alibi', limit: 0 } })).toThrow(expect.objectContaining({ code: 'LMP_E_CONFIG', key: 'lmp_position.limit' }));
    expect(() => hfPosition({ ...base, lmp_position: { kind: 'xpos' } })).toThrow(expect.objectContaining({ code: 'LMP_E_CONFIG', key: 'lmp_position' }));
    // another architecture is still refused
    expect(() => parse({ architectures: ['LmpAlibiLlamaForCausalLM'] })).toThrow(/is not LlamaForCausalLM/);
  });

  it('a position scaling of the model options replaces the config\'s', () => {
    const cfg: ModelConfig = { ...arch, ropeScaling: { kind: 'linear', factor: 2 } };
    expect(new LlamaModel(cfg).ropeScaling).toEqual({ kind: 'linear', factor: 2 });
    expect(new LlamaModel(cfg, { position: { kind: 'rope', scaling: { kind: 'none' } } }).ropeScaling).toEqual({ kind: 'linear', factor: 2 });
    expect(new LlamaModel(cfg, { position: { kind: 'rope', scaling: { kind: 'ntk', factor: 3 } } }).ropeScaling).toEqual({ kind: 'ntk', factor: 3 });
    expect(new LlamaModel(cfg, { position: { kind: 'alibi' } }).ropeScaling).toBeUndefined();
    // a programmatic config is checked too: a missing factor, and dynamic's L against maxPositions
    expect(() => new LlamaModel({ ...arch, ropeScaling: { kind: 'linear' } as unknown as ModelConfig['ropeScaling'] })).toThrow(expect.objectContaining({ code: 'LMP_E_CONFIG' }));
    expect(() => new LlamaModel({ ...arch, ropeScaling: { kind: 'dynamic', factor: 2, originalLength: 16 } })).toThrow(/maxPositions 8/);
  });

  // A checkpoint's dynamic NTK under a .lmp `position rope() limit N` (in-op RoPE) was refused
  // with LMP_E_NO_RUNTIME, which lmpc check cannot see (the scaling is in config.json).
  it('dynamic NTK with a position limit: the in-op RoPE follows the call\'s length as the model does', () => {
    const cfg: ModelConfig = { ...arch, ropeScaling: { kind: 'dynamic', factor: 2, originalLength: 8 } };
    const withOpts = (limit?: number): LlamaModel => {
      const m = new LlamaModel(cfg, limit ? { position: { kind: 'rope', limit } } : {});
      const src = LlamaModel.init(arch, 4, { std: 0.3 });
      for (const [n, p] of src.params) m.params.get(n)!.set(p);
      return m;
    };
    const b = seq(range(20));
    const inModel = withOpts().logits(b);
    // a limit beyond every distance clamps nothing: the same attention as the model rotating
    expectClose(withOpts(64).logits(b), inModel, 1e-5, 1e-4, 'limit 64, n = 20');
    // and n = 20 > L = 8 scaled: not the plain model
    const plain = withWeights(arch).logits(b);
    expect(inModel.some((v, j) => Math.abs(v - plain[j]!) > 1e-3)).toBe(true);
    // a limit that clamps runs too, and differs
    const clamped = withOpts(4).logits(b);
    expect(clamped.some((v, j) => Math.abs(v - inModel[j]!) > 1e-4)).toBe(true);
  });
});
