// The runtime's public API: what generated code (`lmpc build`'s pipeline.ts) imports, as
// `lmp/runtime`. The entry functions and the resolved spec types are exported flat; each runtime
// area is also exported as a namespace (their names overlap: data and model both have an Rng
// and a PackedBatch), and the config types the specs embed are exported flat for typing.
export * from './entry/index.js';

export type { DataConfig, SourceConfig, TokenizerConfig, PackConfig } from './data/config.js';
export type { CurriculumConfig, ScheduleConfig } from './curriculum/config.js';
export type { ModelConfig } from './model/config.js';
export type { ChainConfig, SamplerSpec } from './decode/chain.js';
export type { LengthTarget } from './decode/decoder.js';
export type { MaskIR, AttentionMaskIR, HeadGroupIR } from './mask/ir.js';
export type { RopeScaling, RopeSpec } from './attention/positions.js';

export * as mask from './mask/index.js';
export * as attention from './attention/index.js';
export * as decode from './decode/index.js';
export * as curriculum from './curriculum/index.js';
export { LlamaModel, KVCacheSession, type PackedBatch as ModelBatch } from './model/llama.js';
export { Trainer, type StepMetrics, type TrainerOptions } from './model/train.js';
export { fusedAttention } from './model/fused.js';
export { saveModel, loadModel } from './model/io.js';
export * as data from './data/index.js';
export * as evals from './eval/index.js';
export * as optimize from './optimize/index.js';
