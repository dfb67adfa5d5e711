// Decoding policies: the checked sampler chain, the native sampler, the Decoder.
export * from './chain.js';
export * from './sampler.js';
export * from './decoder.js';
export { splitmix64, samplingNoop } from './native.js';
