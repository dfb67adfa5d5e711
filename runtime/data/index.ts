// Public surface of the data runtime (what generated code and the `lmpc data` command import).
export * from './config.js';
export * from './hash.js';
export * from './rng.js';
export * from './sources.js';
export * from './tokenizers.js';
export * from './corpus.js';
export * from './decompose.js';
export * from './binpack.js';
export * from './pack.js';
export * from './balance.js';
export * from './shards.js';
