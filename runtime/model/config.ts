// Model configuration and its mapping to/from a Hugging Face LlamaConfig (config.json).

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
  /** max_position_embeddings in config.json (informational for RoPE; default 2048) */
  maxPositions?: number;
}

export class ModelConfigError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'ModelConfigError';
  }
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
  return c;
}

/** config.json content (LlamaConfig) for a model config. */
export function toHfConfig(c: ModelConfig): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: c.dim,
    intermediate_size: c.ffn,
    num_attention_heads: c.heads,
    num_key_value_heads: c.kvHeads,
    num_hidden_layers: c.layers,
    vocab_size: c.vocab,
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta,
    tie_word_embeddings: c.tieEmbeddings,
    max_position_embeddings: c.maxPositions ?? 2048,
    hidden_act: 'silu',
    torch_dtype: 'float32',
  };
}

/** A model config from a parsed config.json (LlamaConfig); throws ModelConfigError. */
export function fromHfConfig(j: unknown): ModelConfig {
  if (typeof j !== 'object' || j === null) throw new ModelConfigError('LMP_E_CONFIG', 'config.json: not an object');
  const o = j as Record<string, unknown>;
  const arch = o['architectures'];
  if (Array.isArray(arch) && !arch.includes('LlamaForCausalLM'))
    throw new ModelConfigError('LMP_E_CONFIG', `config.json: architectures ${JSON.stringify(arch)} is not LlamaForCausalLM`);
  const num = (k: string, dflt?: number): number => {
    const v = o[k] ?? dflt;
    if (typeof v !== 'number') throw new ModelConfigError('LMP_E_CONFIG', `config.json: ${k} must be a number`);
    return v;
  };
  const heads = num('num_attention_heads');
  const unsupported = (m: string): never => {
    throw new ModelConfigError('LMP_E_CONFIG_UNSUPPORTED', `config.json: ${m} is not supported by this engine`);
  };
  if (o['rope_scaling'] !== undefined && o['rope_scaling'] !== null) unsupported(`rope_scaling ${JSON.stringify(o['rope_scaling'])}`);
  if (o['attention_bias'] === true) unsupported('attention_bias: true');
  if (o['mlp_bias'] === true) unsupported('mlp_bias: true');
  if (o['hidden_act'] !== undefined && o['hidden_act'] !== 'silu') unsupported(`hidden_act ${JSON.stringify(o['hidden_act'])}`);
  if (typeof o['head_dim'] === 'number' && o['head_dim'] * heads !== o['hidden_size']) unsupported(`head_dim ${o['head_dim']} != hidden_size / num_attention_heads`);
  return validateConfig({
    dim: num('hidden_size'),
    ffn: num('intermediate_size'),
    heads,
    kvHeads: num('num_key_value_heads', heads),
    layers: num('num_hidden_layers'),
    vocab: num('vocab_size'),
    normEps: num('rms_norm_eps', 1e-6),
    ropeTheta: num('rope_theta', 10000),
    tieEmbeddings: o['tie_word_embeddings'] === undefined ? false : Boolean(o['tie_word_embeddings']),
    maxPositions: num('max_position_embeddings', 2048),
  });
}
