// Public entry of runtime/mask: the mask IR, its dense reference, the block classifier and
// layout, and the compile-time checks (findEmptyRow, isCausal) built on the classifier.
export * from './ir.js';
export { maskAt, denseMask, docIdsFromStarts, docIdsFromLengths, usesDocuments, type DenseOptions } from './eval.js';
export {
  classifyBlocks,
  classifyTile,
  classifyAttention,
  headGroups,
  maskForHead,
  blockLayout,
  flexView,
  tileCounts,
  type BlockLayout,
  type ClassifyOptions,
  type Tile,
} from './classify.js';
export { findEmptyRow, isCausal, tileStats, density, checkLayouts, type TileStats } from './checks.js';
