// Model configuration and its mapping to/from a Hugging Face LlamaConfig (config.json).
//
// RoPE in config.json comes in two layouts, both read as current transformers (5.x,
// RotaryEmbeddingConfigMixin) reads them:
//   new (transformers 5): rope_parameters: {rope_type, rope_theta, factor, ...}
//   old (transformers 4): top-level rope_theta, rope_scaling: {rope_type | type, factor, ...}
// A non-empty rope_scaling replaces rope_parameters; rope_theta is the dict's, else the top-level
// one, else 10000; rope_type is the dict's rope_type, else its type, else "default". The types lmp
// runs: default, linear, dynamic, yarn, llama3 (formulas of transformers' modeling_rope_utils,
// implemented by runtime/attention's ropeFrequencies); any other is LMP_E_CONFIG_UNSUPPORTED naming
// the key. toHfConfig writes rope_parameters (what transformers 5 reads) and repeats it as
// rope_theta + rope_scaling for readers of the old layout.
// ALiBi and NoPE (a .lmp attention block's `position alibi()` / `position none()`) have no Llama
// form: saveModel records them in `lmp_position` (lmp reads it back) and writes what transformers
// can honour (toHfConfigForPosition): NoPE as a SmolLM3 config with RoPE off in every layer
// (transformers runs it as lmp does), ALiBi under a model_type and rope_type transformers does
// not know, so that neither AutoModelForCausalLM nor LlamaForCausalLM loads it as a RoPE Llama.
import type { RopeScaling } from '../attention/positions.js';
import type { PositionSettings } from './attention.js';

export interface ModelConfig {
  /** hidden size */
  dim: number;
  layers: number;
  heads: number;
  /** key/value heads (GQA); heads % kvHeads == 0 */
  kvHeads: number;
  /** SwiGLU intermediate size */
  ffn: number;
  vocab: number;
  normEps: number;
  ropeTheta: number;
  tieEmbeddings: boolean;
  /** max_position_embeddings in config.json (informational for RoPE except dynamic NTK; default 2048) */
  maxPositions?: number;
  /**
   * The checkpoint's RoPE frequency scaling (config.json rope_parameters / rope_scaling); absent
   * or none: plain RoPE. The model applies it unless its position options give a scaling.
   */
  ropeScaling?: RopeScaling;
}

export class ModelConfigError extends Error {
  /** the config.json key at fault, when one is (e.g. `rope_parameters.rope_type`) */
  readonly key: string | undefined;
  constructor(readonly code: string, message: string, key?: string) {
    super(message);
    this.name = 'ModelConfigError';
    this.key = key;
  }
}

const bad = (m: string, key?: string): never => {
  throw new ModelConfigError('LMP_E_CONFIG', m, key);
};

/** the fields each kind requires */
const REQUIRED: Record<string, string[]> = {
  none: [], linear: ['factor'], ntk: ['factor'], dynamic: ['factor', 'originalLength'], yarn: ['factor', 'originalLength'],
  llama3: ['factor', 'lowFreqFactor', 'highFreqFactor', 'originalLength'], truncated: ['a', 'b', 'rho'],
};
/** the fields of a RopeScaling that must be finite and > 0 where present */
const POSITIVE = ['factor', 'originalLength', 'alpha', 'beta', 'attentionFactor', 'lowFreqFactor', 'highFreqFactor'];

/** Checks the fields of a RoPE scaling (LMP_E_CONFIG): factors > 0, lengths > 0, ordered bounds. */
export function validateRopeScaling(s: RopeScaling, where = 'model config: ropeScaling'): RopeScaling {
  const fields = s as unknown as Record<string, unknown>;
  const required = REQUIRED[s.kind];
  if (!required) return bad(`${where}: unknown kind ${JSON.stringify(s.kind)}`);
  for (const k of required) if (typeof fields[k] !== 'number') bad(`${where}.${k} is required for ${s.kind} (a number)`);
  for (const k of POSITIVE) {
    const v = fields[k];
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v > 0)) bad(`${where}.${k} must be a finite number > 0 (got ${String(v)})`);
  }
  if (s.kind === 'llama3' && !(s.highFreqFactor > s.lowFreqFactor)) bad(`${where}: highFreqFactor ${s.highFreqFactor} must be > lowFreqFactor ${s.lowFreqFactor}`);
  if (s.kind === 'truncated' && !(s.a < s.b)) bad(`${where}: truncated needs a < b (got a ${s.a}, b ${s.b})`);
  return s;
}

export function validateConfig(c: ModelConfig): ModelConfig {
  const ints: (keyof ModelConfig)[] = ['dim', 'layers', 'heads', 'kvHeads', 'ffn', 'vocab'];
  for (const k of ints) {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
      throw new ModelConfigError('LMP_E_CONFIG', `model config: ${k} must be a positive integer (got ${String(v)})`);
  }
  if (c.dim % c.heads !== 0) throw new ModelConfigError('LMP_E_CONFIG', `model config: dim ${c.dim} is not divisible by heads ${c.heads}`);
  if ((c.dim / c.heads) % 2 !== 0) throw new ModelConfigError('LMP_E_CONFIG', 'model config: head dim must be even (RoPE)');
  if (c.heads % c.kvHeads !== 0)
    throw new ModelConfigError('LMP_E_CONFIG', `model config: heads ${c.heads} is not a multiple of kvHeads ${c.kvHeads}`);
  if (!(c.normEps > 0)) throw new ModelConfigError('LMP_E_CONFIG', 'model config: normEps must be > 0');
  if (!(c.ropeTheta > 0)) throw new ModelConfigError('LMP_E_CONFIG', 'model config: ropeTheta must be > 0');
  if (c.ropeScaling) {
    validateRopeScaling(c.ropeScaling);
    if (c.ropeScaling.kind === 'dynamic' && c.maxPositions !== undefined && c.maxPositions !== c.ropeScaling.originalLength)
      bad(`model config: dynamic RoPE scaling's originalLength ${c.ropeScaling.originalLength} must equal maxPositions ${c.maxPositions} (both are max_position_embeddings in config.json)`);
  }
  return c;
}

/** transformers' yarn get_mscale: 1 for s <= 1, else 0.1 m ln s + 1. */
const yarnMscale = (s: number, m = 1): number => (s <= 1 ? 1 : 0.1 * m * Math.log(s) + 1);

/**
 * The rope_parameters dict (transformers 5) of a config; throws LMP_E_CONFIG_UNSUPPORTED for a
 * scaling Hugging Face has no form for (YaRN with the paper's ratio ramp, truncated). Static NTK
 * is written as the plain RoPE of its scaled base.
 */
export function hfRopeParameters(c: ModelConfig): Record<string, unknown> {
  const s = c.ropeScaling ?? { kind: 'none' as const };
  const theta = c.ropeTheta, d = c.dim / c.heads;
  switch (s.kind) {
    case 'none':
      return { rope_type: 'default', rope_theta: theta };
    case 'ntk':
      return { rope_type: 'default', rope_theta: theta * Math.pow(s.factor, d / (d - 2)) };
    case 'linear':
    case 'dynamic':
      return { rope_type: s.kind, rope_theta: theta, factor: s.factor };
    case 'llama3':
      return {
        rope_type: 'llama3', rope_theta: theta, factor: s.factor, low_freq_factor: s.lowFreqFactor, high_freq_factor: s.highFreqFactor,
        original_max_position_embeddings: s.originalLength,
      };
    case 'yarn': {
      if (s.ramp !== 'index')
        throw new ModelConfigError('LMP_E_CONFIG_UNSUPPORTED', 'config.json: YaRN with the ratio ramp (the paper\'s gamma(r)) has no Hugging Face form (its yarn ramps over the frequency index: ramp \'index\')', 'rope_parameters');
      const af = s.attentionFactor ?? 0.1 * Math.log(s.factor) + 1;
      return {
        rope_type: 'yarn', rope_theta: theta, factor: s.factor, original_max_position_embeddings: s.originalLength,
        beta_fast: s.beta ?? 32, beta_slow: s.alpha ?? 1, truncate: s.truncate ?? true,
        // only when it is not what transformers derives from factor (an integral value reads as an int there and warns)
        ...(af !== yarnMscale(s.factor) ? { attention_factor: af } : {}),
      };
    }
    default:
      throw new ModelConfigError('LMP_E_CONFIG_UNSUPPORTED', `config.json: RoPE scaling ${JSON.stringify(s)} has no Hugging Face form`, 'rope_parameters');
  }
}

/**
 * config.json content for a model that runs RoPE with `scaling` (a .lmp attention block's, which
 * replaces the checkpoint's): the scaling goes into rope_parameters where Hugging Face has a form
 * for it; otherwise rope_parameters holds the plain base and `lmp_rope_scaling` records it (lmp
 * reads it back; transformers cannot apply it and loads plain RoPE at the base).
 */
export function toHfConfigWithScaling(c: ModelConfig, scaling: RopeScaling | undefined): Record<string, unknown> {
  const { ropeScaling: _drop, ...base } = c;
  const withIt: ModelConfig = scaling && scaling.kind !== 'none' ? { ...base, ropeScaling: scaling } : base;
  try {
    return toHfConfig(withIt);
  } catch (e) {
    if (!(e instanceof ModelConfigError) || e.code !== 'LMP_E_CONFIG_UNSUPPORTED') throw e;
    return { ...toHfConfig(base), lmp_rope_scaling: scaling };
  }
}

/** lmp's architectures entry and model_type for an ALiBi Llama (transformers knows neither: it refuses to load it). */
export const ALIBI_ARCHITECTURE = 'LmpAlibiLlamaForCausalLM';
export const ALIBI_MODEL_TYPE = 'lmp_alibi_llama';
/** rope_parameters.rope_type (and rope_scaling's) of an ALiBi checkpoint: LlamaForCausalLM.from_pretrained fails on it (no RoPE init function) */
export const ALIBI_ROPE_TYPE = 'lmp_alibi';

/** The `lmp_position` record of a position encoding other than plain RoPE, else undefined. */
function positionRecord(p: PositionSettings): Record<string, unknown> | undefined {
  const limit = p.kind !== 'none' && p.limit ? { limit: p.limit } : {};
  if (p.kind === 'rope') return p.limit ? { kind: 'rope', ...limit } : undefined;
  return { kind: p.kind, ...limit };
}

/**
 * config.json content for a model whose attention runs `position` (with `scaling`, the RoPE
 * scaling in force): RoPE as toHfConfigWithScaling (a distance limit recorded in lmp_position;
 * transformers runs plain RoPE, the same within the limit); NoPE as SmolLM3ForCausalLM with
 * no_rope_layers all 0 (Llama's tensors and blocks, RoPE skipped in every layer); ALiBi as
 * ALIBI_ARCHITECTURE / ALIBI_MODEL_TYPE with rope_type ALIBI_ROPE_TYPE. Each but plain RoPE
 * carries `lmp_position` ({kind, limit?}), which fromHfConfig / hfPosition read back.
 */
export function toHfConfigForPosition(c: ModelConfig, position: PositionSettings, scaling: RopeScaling | undefined): Record<string, unknown> {
  const record = positionRecord(position);
  if (position.kind === 'rope') return { ...toHfConfigWithScaling(c, scaling), ...(record ? { lmp_position: record } : {}) };
  const { ropeScaling: _drop, ...base } = c;
  const { rope_theta: _t, rope_scaling: _s, rope_parameters: _p, ...hf } = toHfConfig(base);
  if (position.kind === 'none') {
    return {
      ...hf, architectures: ['SmolLM3ForCausalLM'], model_type: 'smollm3', rope_parameters: { rope_type: 'default', rope_theta: c.ropeTheta },
      rope_theta: c.ropeTheta, no_rope_layers: Array.from({ length: c.layers }, () => 0), use_sliding_window: false,
      // SmolLM3Config defaults its special ids to its own tokenizer's (128000...): none unless a recorded tokenizer gives them (saveModel)
      pad_token_id: null, bos_token_id: null, eos_token_id: null, lmp_position: record,
    };
  }
  const marker = { rope_type: ALIBI_ROPE_TYPE };
  return { ...hf, architectures: [ALIBI_ARCHITECTURE], model_type: ALIBI_MODEL_TYPE, rope_parameters: marker, rope_scaling: marker, lmp_position: record };
}

/**
 * The position encoding a config.json records, when it is not plain RoPE: lmp's `lmp_position`
 * (saveModel), else a SmolLM3 config whose layers all skip RoPE (no_rope_layers, else
 * transformers' default from no_rope_layer_interval) as NoPE; a SmolLM3 mixing RoPE and NoPE
 * layers, or with a sliding window, is LMP_E_CONFIG_UNSUPPORTED. Undefined: RoPE (the model's default).
 */
export function hfPosition(j: unknown): PositionSettings | undefined {
  if (!isObj(j)) return undefined;
  const own = j['lmp_position'];
  if (own !== undefined && own !== null) {
    if (!isObj(own) || !['rope', 'alibi', 'none'].includes(own['kind'] as string)) bad(`config.json: lmp_position must be {kind: rope | alibi | none, limit?} (got ${JSON.stringify(own)})`, 'lmp_position');
    const o = own as Json;
    const limit = o['limit'];
    if (limit !== undefined && limit !== null && !(typeof limit === 'number' && Number.isInteger(limit) && limit > 0)) bad(`config.json: lmp_position.limit must be a positive integer (got ${JSON.stringify(limit)})`, 'lmp_position.limit');
    if (o['kind'] === 'none') {
      if (limit !== undefined && limit !== null) bad('config.json: lmp_position none takes no limit', 'lmp_position.limit');
      return { kind: 'none' };
    }
    return { kind: o['kind'] as 'rope' | 'alibi', ...(typeof limit === 'number' ? { limit } : {}) };
  }
  if (j['model_type'] !== 'smollm3' && !(Array.isArray(j['architectures']) && j['architectures'].includes('SmolLM3ForCausalLM'))) return undefined;
  const unsupported = (k: string, m: string): never => {
    throw new ModelConfigError('LMP_E_CONFIG_UNSUPPORTED', `config.json: ${m} is not supported by this engine`, k);
  };
  if (j['use_sliding_window'] === true) unsupported('use_sliding_window', 'a SmolLM3 sliding window');
  const layers = typeof j['num_hidden_layers'] === 'number' ? j['num_hidden_layers'] : 0;
  const interval = typeof j['no_rope_layer_interval'] === 'number' ? j['no_rope_layer_interval'] : 4;
  const flags = Array.isArray(j['no_rope_layers']) ? (j['no_rope_layers'] as unknown[]) : Array.from({ length: layers }, (_, i) => ((i + 1) % interval !== 0 ? 1 : 0));
  if (flags.every((f) => f === 0 || f === false)) return { kind: 'none' };
  if (flags.every((f) => f === 1 || f === true)) return undefined;
  return unsupported('no_rope_layers', `SmolLM3 no_rope_layers ${JSON.stringify(flags)} (RoPE in some layers and not in others)`);
}

/** config.json content (LlamaConfig) for a model config. */
export function toHfConfig(c: ModelConfig): Record<string, unknown> {
  const rope = hfRopeParameters(validateConfig(c));
  const scaled = rope['rope_type'] !== 'default';
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: c.dim,
    intermediate_size: c.ffn,
    num_attention_heads: c.heads,
    num_key_value_heads: c.kvHeads,
    num_hidden_layers: c.layers,
    head_dim: c.dim / c.heads,
    vocab_size: c.vocab,
    rms_norm_eps: c.normEps,
    rope_parameters: rope,
    // the old layout, for readers of transformers 4 configs (transformers 5 reads the same values from it)
    rope_theta: rope['rope_theta'],
    ...(scaled ? { rope_scaling: rope } : {}),
    tie_word_embeddings: c.tieEmbeddings,
    max_position_embeddings: c.ropeScaling?.kind === 'dynamic' ? c.ropeScaling.originalLength : (c.maxPositions ?? 2048),
    hidden_act: 'silu',
    attention_bias: false,
    mlp_bias: false,
    torch_dtype: 'float32',
  };
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const ROPE_TYPES = ['default', 'linear', 'dynamic', 'yarn', 'llama3'];

/**
 * The RoPE base and scaling of a parsed config.json, as transformers 5 derives them
 * (convert_rope_params_to_dict, standardize_rope_params, the _compute_*_parameters functions).
 */
export function hfRope(o: Json, maxPositions: number): { theta: number; scaling: RopeScaling } {
  for (const k of ['rope_scaling', 'rope_parameters'])
    if (o[k] !== undefined && o[k] !== null && !isObj(o[k])) bad(`config.json: ${k} must be an object or null (got ${JSON.stringify(o[k])})`, k);
  const old = o['rope_scaling'];
  const useOld = isObj(old) && Object.keys(old).length > 0;
  const key = useOld ? 'rope_scaling' : 'rope_parameters';
  const r: Json = useOld ? old : isObj(o['rope_parameters']) ? o['rope_parameters'] : {};
  const unsupported = (k: string, m: string): never => {
    throw new ModelConfigError('LMP_E_CONFIG_UNSUPPORTED', `config.json: ${k} ${m}`, k);
  };
  for (const [k, v] of Object.entries(r)) if (isObj(v)) unsupported(`${key}.${k}`, 'is a per-layer-type RoPE dict, which a Llama checkpoint does not have (not supported)');
  /** a number of the dict (`${key}.${k}`), else of the top level (`top`), else dflt */
  const num = (k: string, dflt?: number, top?: string): number => {
    const own = r[k] !== undefined && r[k] !== null;
    const where = own ? `${key}.${k}` : top !== undefined && o[top] !== undefined && o[top] !== null ? top : undefined;
    const v = where === undefined ? dflt : own ? r[k] : o[top!];
    if (v === undefined) return bad(`config.json: ${key}.${k} is required for rope_type ${JSON.stringify(r['rope_type'] ?? r['type'])}`, `${key}.${k}`);
    if (typeof v !== 'number' || !Number.isFinite(v)) return bad(`config.json: ${where ?? `${key}.${k}`} must be a number (got ${JSON.stringify(v)})`, where);
    return v;
  };
  const theta = num('rope_theta', 10000, 'rope_theta');
  if (!(theta > 0)) bad(`config.json: rope_theta must be > 0 (got ${theta})`, r['rope_theta'] !== undefined ? `${key}.rope_theta` : 'rope_theta');
  const partial = num('partial_rotary_factor', 1, 'partial_rotary_factor');
  if (partial !== 1) unsupported(r['partial_rotary_factor'] !== undefined ? `${key}.partial_rotary_factor` : 'partial_rotary_factor', `${partial} is not supported (lmp rotates the whole head)`);
  const typeKey = r['rope_type'] !== undefined ? `${key}.rope_type` : `${key}.type`;
  const type = r['rope_type'] ?? r['type'] ?? 'default';
  if (typeof type !== 'string') return bad(`config.json: ${typeKey} must be a string (got ${JSON.stringify(type)})`, typeKey);
  if (!ROPE_TYPES.includes(type)) unsupported(typeKey, `${JSON.stringify(type)} is not supported (lmp runs ${ROPE_TYPES.join(', ')})`);
  const where = `config.json: ${key}`;
  // llama3 and yarn: a top-level original_max_position_embeddings wins (standardize_rope_params), else the dict's, else max_position_embeddings
  const original = (): number => {
    const top = o['original_max_position_embeddings'];
    if (top !== undefined && top !== null) {
      if (typeof top !== 'number') bad(`config.json: original_max_position_embeddings must be a number (got ${JSON.stringify(top)})`, 'original_max_position_embeddings');
      return top as number;
    }
    return num('original_max_position_embeddings', maxPositions);
  };
  let scaling: RopeScaling;
  if (type === 'default') scaling = { kind: 'none' };
  else if (type === 'linear') scaling = { kind: 'linear', factor: num('factor') };
  else if (type === 'dynamic') scaling = { kind: 'dynamic', factor: num('factor'), originalLength: maxPositions };
  else if (type === 'llama3') {
    scaling = {
      kind: 'llama3', factor: num('factor'), lowFreqFactor: num('low_freq_factor'), highFreqFactor: num('high_freq_factor'), originalLength: original(),
    };
  } else {
    const originalLength = original();
    // factor: required; null: max_position_embeddings / original_max_position_embeddings
    const factor = r['factor'] === null ? maxPositions / originalLength : num('factor');
    // beta_fast / beta_slow: `or 32` / `or 1` (0 and null take the default)
    const orDefault = (k: string, d: number): number => (r[k] === undefined || r[k] === null || r[k] === 0 ? d : num(k));
    const truncate = r['truncate'] ?? true;
    if (typeof truncate !== 'boolean') bad(`${where}.truncate must be true or false (got ${JSON.stringify(truncate)})`, `${key}.truncate`);
    const given = r['attention_factor'] === undefined || r['attention_factor'] === null ? undefined : num('attention_factor');
    const ms = r['mscale'] ? num('mscale') : 0, msAll = r['mscale_all_dim'] ? num('mscale_all_dim') : 0;
    const attentionFactor = given ?? (ms && msAll ? yarnMscale(factor, ms) / yarnMscale(factor, msAll) : yarnMscale(factor));
    scaling = {
      kind: 'yarn', ramp: 'index', factor, originalLength, alpha: orDefault('beta_slow', 1), beta: orDefault('beta_fast', 32),
      truncate: truncate as boolean, attentionFactor,
    };
  }
  return { theta, scaling: validateRopeScaling(scaling, where) };
}

/** A model config from a parsed config.json (LlamaConfig); throws ModelConfigError. */
export function fromHfConfig(j: unknown): ModelConfig {
  if (typeof j !== 'object' || j === null) throw new ModelConfigError('LMP_E_CONFIG', 'config.json: not an object');
  const o = j as Record<string, unknown>;
  const arch = o['architectures'];
  // lmp's own records of ALiBi and NoPE models (toHfConfigForPosition), and SmolLM3 (Llama's blocks; hfPosition decides its RoPE)
  const position = hfPosition(o);
  const own = (a: unknown): boolean => a === 'LlamaForCausalLM' || a === 'SmolLM3ForCausalLM' || (a === ALIBI_ARCHITECTURE && position?.kind === 'alibi');
  if (Array.isArray(arch) && !arch.some(own))
    throw new ModelConfigError('LMP_E_CONFIG', `config.json: architectures ${JSON.stringify(arch)} is not LlamaForCausalLM`);
  const num = (k: string, dflt?: number): number => {
    const v = o[k] ?? dflt;
    if (typeof v !== 'number') throw new ModelConfigError('LMP_E_CONFIG', `config.json: ${k} must be a number`, k);
    return v;
  };
  const heads = num('num_attention_heads');
  const unsupported = (k: string, m: string): never => {
    throw new ModelConfigError('LMP_E_CONFIG_UNSUPPORTED', `config.json: ${m} is not supported by this engine`, k);
  };
  if (o['attention_bias'] === true) unsupported('attention_bias', 'attention_bias: true');
  if (o['mlp_bias'] === true) unsupported('mlp_bias', 'mlp_bias: true');
  if (o['hidden_act'] !== undefined && o['hidden_act'] !== 'silu') unsupported('hidden_act', `hidden_act ${JSON.stringify(o['hidden_act'])}`);
  if (typeof o['head_dim'] === 'number' && o['head_dim'] * heads !== o['hidden_size']) unsupported('head_dim', `head_dim ${o['head_dim']} != hidden_size / num_attention_heads`);
  const dim = num('hidden_size');
  const maxPositions = num('max_position_embeddings', 2048);
  // an ALiBi checkpoint's rope_parameters only carry the marker that stops transformers: no RoPE to read
  const { theta, scaling: hfScaling } = position?.kind === 'alibi' ? { theta: 10000, scaling: { kind: 'none' } as RopeScaling } : hfRope(o, maxPositions);
  // lmp's own record of a scaling Hugging Face has no form for (saveModel: YaRN with the ratio
  // ramp, truncated): rope_parameters then holds the plain base, and this wins for lmp.
  const ownScaling = o['lmp_rope_scaling'];
  if (ownScaling !== undefined && !isObj(ownScaling)) bad(`config.json: lmp_rope_scaling must be an object (got ${JSON.stringify(ownScaling)})`, 'lmp_rope_scaling');
  const scaling = ownScaling ? validateRopeScaling(ownScaling as unknown as RopeScaling, 'config.json: lmp_rope_scaling') : hfScaling;
  return validateConfig({
    dim,
    ffn: num('intermediate_size'),
    heads,
    kvHeads: num('num_key_value_heads', heads),
    layers: num('num_hidden_layers'),
    vocab: num('vocab_size'),
    normEps: num('rms_norm_eps', 1e-6),
    ropeTheta: theta,
    tieEmbeddings: o['tie_word_embeddings'] === undefined ? false : Boolean(o['tie_word_embeddings']),
    maxPositions,
    ...(scaling.kind !== 'none' ? { ropeScaling: scaling } : {}),
  });
}
