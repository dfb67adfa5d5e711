// The mask IR: what an `attention` block's `mask` (and each `heads a..b:` group) compiles to.
// It is plain JSON (it goes into pipeline.kernels.json unchanged), and it is the one input of
// both the dense reference (tests, `lmpc show-mask`) and the block classifier (kernels, and
// the compile-time checks, so what the checker proves is what the kernel runs).
//
// Coordinates: `q` and `kv` are token positions within one packed sequence (0-based). When a
// query block is appended to a cache (decoding), q is the absolute position (q_offset + i).
// A mask is a predicate mask(q, kv) -> visible?; primitives (FlexAttention's mask_mod form):
//   full                 true
//   causal               kv <= q
//   window(w)            q - kv < w              (alone it also admits every kv > q; use causal & window(w))
//   sink(g)              kv < g                  (global / attention-sink tokens)
//   prefix(p)            kv < p || kv <= q       (prefix-LM: bidirectional prefix, causal after it)
//   chunked(c)           floor(q / c) == floor(kv / c)
//   same_document        doc[q] == doc[kv]       (documents from cu_seqlens / document ids)
//   and / or / not       composition
// Sugar such as lambda(g, w) = causal & (sink(g) | window(w)) is expanded when lowering.

export type MaskIR =
  | { readonly op: 'full' }
  | { readonly op: 'causal' }
  | { readonly op: 'window'; readonly size: number }
  | { readonly op: 'sink'; readonly count: number }
  | { readonly op: 'prefix'; readonly length: number }
  | { readonly op: 'chunked'; readonly size: number }
  | { readonly op: 'same_document' }
  | { readonly op: 'and'; readonly args: readonly MaskIR[] }
  | { readonly op: 'or'; readonly args: readonly MaskIR[] }
  | { readonly op: 'not'; readonly arg: MaskIR };

/** One head group: heads `from..to` inclusive use `mask`. */
export interface HeadGroupIR {
  readonly from: number;
  readonly to: number;
  readonly mask: MaskIR;
}

/** An attention's masks: one for all heads, or one per head group (covering every head). */
export interface AttentionMaskIR {
  readonly default: MaskIR | undefined;
  readonly groups: readonly HeadGroupIR[];
}

/** Tile classes of the block classifier. */
export const enum BlockClass {
  Empty = 0, // no visible element: skipped
  Full = 1, // every element visible: computed without evaluating the mask
  Partial = 2, // evaluate the mask per element
}

/** The primitive ops (leaves) of the IR. */
export const MASK_PRIMITIVES = ['full', 'causal', 'window', 'sink', 'prefix', 'chunked', 'same_document'] as const;
