// What `lmpc export --pytorch` refuses, each with a code and the reason (spec/export.md lists
// them). A refusal names the declaration and its source position, like a run-time error.
import { context } from '../../runtime/entry/common.js';
import type { Frozen } from '../../runtime/entry/spec.js';

export const EXPORT_CODES = {
  LMP_E_EXPORT_USAGE: 'the command line is incomplete (no --pytorch backend named)',
  LMP_E_EXPORT_TARGET: 'the target is missing or is not a train or decode block',
  LMP_E_EXPORT_UNSUPPORTED: 'the target asks for something lmp itself cannot run (its spec lists it as unsupported)',
  LMP_E_EXPORT_EVAL: 'a periodic eval other than perplexity (eval declarations run through lmp only)',
  LMP_E_EXPORT_CACHE: 'a KV-cache policy PyTorch generation cannot express here (SirLLM, InfLLM, keep masks other than sinks + window)',
  LMP_E_EXPORT_DECODE: 'speculative decoding or a cascade (generate.py runs one model)',
  LMP_E_EXPORT_TOKENIZER: 'generate.py encodes prompts with the bytes tokenizer only',
  LMP_E_EXPORT_MODEL: 'the model has neither an architecture nor a readable checkpoint to load',
  LMP_E_EXPORT_DATA: 'the training data could not be read, packed or written as shards',
} as const;

export type ExportCode = keyof typeof EXPORT_CODES;

export class ExportRefusal extends Error {
  constructor(
    readonly code: ExportCode | 'LMP0906',
    message: string,
  ) {
    super(message);
    this.name = 'ExportRefusal';
  }
}

export function refuse(code: ExportCode, spec: Frozen<{ kind: string; name: string | null; where: string }> | null, why: string): never {
  // "cannot export train quick (examples/quickstart.lmp:32:1): ..."
  throw new ExportRefusal(code, spec ? `cannot export ${context(spec.kind, spec.name, spec.where)}: ${why}` : `cannot export: ${why}`);
}
