// The decode section of spec.json (generate.py): the chain, stops, limits and the KV-cache policy
// exactly as runDecode runs them (runtime/entry). Refuses (ExportRefusal) what generate.py cannot
// express. Pure.
import type { TokenizerConfig } from '../../runtime/data/config.js';
import { resolveTokenStrings, type SamplerSpec } from '../../runtime/decode/chain.js';
import { bytesTokenizer } from '../../runtime/data/tokenizers.js';
import { BYTES } from '../../runtime/entry/common.js';
import type { DecodeSpec, Frozen } from '../../runtime/entry/spec.js';
import { cacheKeepPolicy } from '../../runtime/model/settings.js';
import { refuse } from './refusals.js';
import type { RunAttention } from './run-spec.js';

/** Samplers generate.py implements (lmpx/sampling.py), in lmp's forms. */
export const EXPORTED_SAMPLERS: ReadonlySet<string> = new Set([
  'temperature', 'top_k', 'top_p', 'min_p', 'typical', 'epsilon', 'eta', 'penalties', 'logit_bias', 'allowed', 'banned', 'greedy', 'sample',
  'mirostat', 'mirostat_v2',
]);

export interface DecodeRun {
  readonly name: string;
  readonly where: string;
  readonly chain: unknown;
  readonly seed: number;
  readonly prompt: string | null;
  readonly maxTokens: number | null;
  readonly minTokens: number | null;
  readonly stop: readonly string[];
  readonly length: unknown;
  readonly cache: { readonly kind: 'full' } | { readonly kind: 'sinks_window'; readonly sinks: number; readonly window: number };
  readonly eot: number;
  /** The decode's own attention clause as the model then attends (mask, score, position), or null: the model's (run.model.attention). */
  readonly attention?: RunAttention | null;
}

/**
 * What generate.py runs of decode `d`, or the refusal (thrown) that says why it cannot.
 * `tokenizer`: the one the decode's model decodes with (runtime/entry modelTokenizer: the model's
 * `vocab`, else the one it records, else bytes); by default the model's `vocab`, else bytes.
 */
export function decodeRun(d: Frozen<DecodeSpec>, tokenizer: Frozen<TokenizerConfig> = d.model?.tokenizer?.config ?? BYTES): DecodeRun {
  if (d.speculate) refuse('LMP_E_EXPORT_DECODE', d, 'speculative decoding (a draft and a target model) is not exported; generate.py runs one model');
  if (d.cascade) refuse('LMP_E_EXPORT_DECODE', d, 'a cascade of models is not exported; generate.py runs one model');
  if (!d.model) refuse('LMP_E_EXPORT_MODEL', d, 'the decode names no model');
  if (d.unsupported.length) refuse('LMP_E_EXPORT_UNSUPPORTED', d, `lmp cannot run ${d.unsupported.join('; ')}`);
  const tok = tokenizer;
  if (tok.kind !== 'bytes') refuse('LMP_E_EXPORT_TOKENIZER', d, `tokenizer ${tok.kind}: generate.py encodes and decodes text with the bytes tokenizer only`);
  if (d.prompt && 'data' in d.prompt) refuse('LMP_E_EXPORT_DECODE', d, `prompt ${d.prompt.data.name ?? '(inline data)'} (a prompt file, prefilled in packed batches) is not exported; generate.py takes one prompt (--prompt)`);
  if (d.template) refuse('LMP_E_EXPORT_DECODE', d, 'a chat template is applied by lmpc run only; generate.py sends the prompt text as it is');
  for (const s of d.chain.samplers) if (!EXPORTED_SAMPLERS.has(s.name)) refuse('LMP_E_EXPORT_DECODE', d, `sampler ${s.name} is not exported (generate.py has ${[...EXPORTED_SAMPLERS].join(', ')})`);
  let cache: DecodeRun['cache'] = { kind: 'full' };
  const c = d.attention?.cache;
  if (c && c.kind === 'keep') {
    const p = cacheKeepPolicy(structuredClone(c) as Parameters<typeof cacheKeepPolicy>[0]);
    if ('error' in p) refuse('LMP_E_EXPORT_CACHE', d, p.error);
    cache = { kind: 'sinks_window', sinks: p.sinks, window: p.window };
  } else if (c && c.kind !== 'full') {
    refuse('LMP_E_EXPORT_CACHE', d, `cache ${c.kind}: ${c.kind === 'sirllm' ? 'SirLLM scores tokens by their entropy under a decaying memory' : 'InfLLM selects memory units by representative keys'}, which generate.py's KV cache does not express; run it with lmpc run`);
  }
  // allow / ban token strings: ids of the byte tokenizer (generate.py's only one, checked above)
  let chain: SamplerSpec[] = [];
  try {
    chain = resolveTokenStrings(structuredClone(d.chain.samplers) as SamplerSpec[], bytesTokenizer(256, true), 'bytes()');
  } catch (e) {
    refuse('LMP_E_EXPORT_DECODE', d, (e as Error).message);
  }
  return {
    name: d.name ?? 'decode',
    where: d.where,
    chain,
    seed: d.seed,
    prompt: d.prompt && 'text' in d.prompt ? d.prompt.text : null,
    maxTokens: d.maxTokens,
    minTokens: d.minTokens,
    stop: [...d.stop],
    length: d.length ? structuredClone(d.length) : null,
    cache,
    eot: tok.eot,
  };
}
