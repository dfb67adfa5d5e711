// What every task generator produces and every scorer reads.

/** The cell a sample belongs to: context length and needle depth, or target word count. */
export interface EvalCell {
  /** Context length in tokens (passkey, needle, tsort, threading). */
  readonly length?: number;
  /** Depth of the (first) needle in [0, 1] (passkey, needle). */
  readonly depth?: number;
  /** Target length in words (target_length). */
  readonly target?: number;
  /** perplexity by: position: predictions whose context holds (position/2, position] tokens. */
  readonly position?: number;
}

export interface EvalSample {
  /** Position in the generated list. */
  readonly index: number;
  readonly cell: EvalCell;
  /** The exact text the model reads. */
  readonly prompt: string;
  /** Tokens of `prompt` with the model's tokenizer (0 when the task did not count them). */
  readonly promptTokens: number;
  /** What a correct answer contains: the pass key; the needle values asked for; the order; the final value. */
  readonly references: readonly string[];
  /** Filler sentences in the haystack (passkey, needle). */
  readonly fillerSentences?: number;
}
