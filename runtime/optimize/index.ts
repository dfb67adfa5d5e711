// runtime/optimize: search strategies (grid, random, tpe, halving) as seeded ask/tell objects, and
// the search loop that runs them against an injected trial runner within an optimize block's
// budget and constraints. See README.md.
export { OptimizeError, knobsOf, gridAxis, axisLength, axisValue, sampleUniform, formatValue, roundFloat, GRID_FLOAT_POINTS, type Knob, type Values } from './space.js';
export type { Proposal, Strategy } from './strategy.js';
export { GridSearch } from './grid.js';
export { RandomSearch, sampleValues } from './random.js';
export { SuccessiveHalving, halvingRungs } from './halving.js';
export { TpeSearch, ParzenEstimator, categoricalProbs, tpeGamma, tpeWeights, type TpeOptions } from './tpe.js';
export { runSearch, strategyOf, metricValue, type RunTrial, type TrialOutcome, type SearchOptions } from './search.js';
export { parseOptimizeResult, serializeOptimizeResult, type OptimizeResult, type TrialRecord, type StopReason } from './result.js';
