// runDecode: a decode block end to end.
//   models     the decode's model (or each model of a cascade, or the target and the draft of
//              speculative decoding): trained earlier in the same Session, else loaded, else fresh
//              seeded weights (common.ts); each with its own cache policy (the decode's
//              `attention` clause for the model it names, else each model's own attention);
//   tokenizer  the model's (common.ts modelTokenizer): prompts are BOS (when the tokenizer has one)
//              + the encoded text, wrapped first in the chat template the prompt clause names;
//   prompts    a string, a data declaration of prompts (every document of its sources, in input
//              order), or none (BOS, else EOT, alone);
//   prefill    prompts from data packed with `prepack(...)`: prepacked prefill (runtime/model/
//              prefill.ts: bin-packed, positions restarted, mask causal & same_document, the cache
//              split per prompt) of the first model; with `pad(...)`: a padded batch; otherwise each
//              prompt is prefilled alone;
//   decoding   plain (runtime/decode Decoder), speculative (Decoder's speculate: Leviathan/Chen,
//              SpecDec++'s adaptive draft length), or a cascade (Gupta et al.: the first model
//              answers; when the deferral rule holds for its per-token statistic, the next one
//              answers instead).
// Results per prompt in input order, plus speculation statistics (acceptance rate, mean accepted
// length), the cascade's deferral rate and which model produced each token, and the prefill's
// tokens and time.
import { CudaLlama, type DevicePolicy } from '../model/cuda-llama.js';
import { cudaDevices } from '../model/cuda-attention.js';
import { resolve } from 'node:path';
import type { DataConfig, TokenizerConfig } from '../data/config.js';
import { readSource, type SourceCounters } from '../data/sources.js';
import { isHeldOut } from '../data/corpus.js';
import { loadTokenizer, type LmpTokenizer } from '../data/tokenizers.js';
import { resolveTokenStrings, type SamplerSpec } from '../decode/chain.js';
import { Decoder, quantile, type DecodeResult, type LogitsSource, type SpecStats, type StopReason } from '../decode/decoder.js';
import type { StepTrace } from '../decode/sampler.js';
import type { LlamaModel } from '../model/llama.js';
import { cacheKeepPolicy } from '../model/settings.js';
import { paddedPrefill, prefillPacked, type PrefillResult } from '../model/prefill.js';
import { DecodeBatcher } from '../model/batch.js';
import { ModelLogitsSource } from '../model/source.js';
import { prefillMaskOk } from '../mask/checks.js';
import { assertSupported, failIn, modelTokenizer, resolveModel, thaw, withAttention } from './common.js';
import type { AttentionSpec, CacheSpec, DataSpec, DecodeSpec, Frozen, ModelSpec } from './spec.js';

/** One trace step as reported: the statistics of the chosen token (candidates: how many the terminal chose from). */
export interface TraceStep {
  readonly entropy: number;
  readonly surprise: number;
  readonly logprob: number;
  readonly candidates?: number;
}

/** Speculative decoding's counts (runtime/decode SpecStats) with the derived rates. */
export interface SpeculationStats {
  /** The draft model's name. */
  readonly draft: string | null;
  readonly rounds: number;
  readonly drafted: number;
  readonly accepted: number;
  readonly emitted: number;
  readonly draftCalls: number;
  readonly targetCalls: number;
  /** accepted / drafted */
  readonly acceptanceRate: number;
  /** Mean accepted draft tokens per round: accepted / rounds. */
  readonly meanAccepted: number;
  /** Tokens emitted per round (accepted + the target's own token): emitted / rounds. */
  readonly tokensPerRound: number;
}

/** One stage of a cascade for one prompt: the model, its statistic and whether the rule deferred. */
export interface CascadeStage {
  readonly model: string;
  readonly statistic: number;
  readonly deferred: boolean;
  readonly tokens: number;
}

export interface DecodePromptResult {
  /** Input order (0-based, among the prompts kept; prompt i of a data declaration samples with seed + i). */
  readonly index: number;
  readonly prompt: string;
  /** Tokens of the prompt as the model read it (chat template and BOS included). */
  readonly promptTokens: number;
  readonly text: string;
  readonly tokens: readonly number[];
  readonly stopReason: StopReason;
  /** The model that produced the answer (a cascade's last stage; else the decode's model). */
  readonly model: string | null;
  /** Cascades: which model produced each token (the whole answer comes from one stage). */
  readonly producers?: readonly string[];
  readonly cascade?: readonly CascadeStage[];
  readonly speculation?: SpeculationStats;
  readonly trace?: readonly TraceStep[];
}

export interface DecodeModelInfo {
  readonly role: 'model' | 'draft' | 'cascade';
  readonly name: string | null;
  readonly trained: boolean;
  readonly loaded: string | null;
  /** The cache policy it decodes with ('full', 'keep', 'sirllm', 'infllm'). */
  readonly cache: string;
}

export interface DecodeRunResult {
  readonly kind: 'decode';
  readonly target: string;
  /** Where the models ran (cuda when any of them ran on the device). */
  readonly backend: 'cpu' | 'cuda';
  /** The first prompt's prompt, text, tokens and stop reason (the only one unless the prompt is a data declaration). */
  readonly prompt: string;
  readonly text: string;
  readonly tokens: readonly number[];
  readonly stopReason: StopReason;
  /** Whether the (first) model was trained in this process (false: loaded or freshly initialized weights). */
  readonly trained: boolean;
  /** The checkpoint directory the (first) model's weights were loaded from, else null. */
  readonly loaded: string | null;
  readonly trace?: readonly TraceStep[];
  /** Every prompt's result, in input order. */
  readonly prompts: readonly DecodePromptResult[];
  readonly models: readonly DecodeModelInfo[];
  /** Speculative decoding over all prompts, else null. */
  readonly speculation: SpeculationStats | null;
  /** A cascade over all prompts: how many answers each model gave and the deferral rate, else null. */
  readonly cascade: {
    readonly models: readonly string[];
    readonly rule: string;
    readonly prompts: number;
    /** Prompts answered by a later model than the first. */
    readonly deferred: number;
    readonly rate: number;
    readonly answeredBy: Readonly<Record<string, number>>;
  } | null;
  /** Prompts from data: how they were prefilled. */
  readonly prefill: {
    readonly method: 'prepack' | 'padded' | 'alone';
    readonly prompts: number;
    readonly promptTokens: number;
    /** Tokens run through the model (padding included) and packed sequences. */
    readonly tokensRun: number;
    readonly sequences: number;
    readonly seconds: number;
    /** Documents of the data skipped as prompts (empty, missing field, outside its length filter). */
    readonly skipped: number;
  } | null;
  /** Prompts from data decoded together (DecodeOptions.batch): sequences per forward, steps and forwards; else null. */
  readonly batched: { readonly size: number; readonly steps: number; readonly forwards: number } | null;
  readonly seconds: number;
}

export interface DecodeOptions {
  readonly baseDir?: string;
  readonly session?: { readonly models: ReadonlyMap<string, LlamaModel> };
  readonly onProgress?: (p: { target: string; phase: 'decode'; step: number; total: number }) => void;
  /**
   * Where the models run (lmpc run --backend): cpu (default); cuda: every model of the decode on
   * the device with any of the KV caches (full, SirLLM, InfLLM, keep(sink(g) | window(w))
   * reposition), prompt data prefilled there too (cuda-llama.ts); auto: cuda where
   * there is a device and the model runs there.
   */
  readonly backend?: 'cpu' | 'cuda' | 'auto';
  readonly onNote?: (message: string) => void;
  /**
   * Prompts from data decoded together (lmpc run --decode-batch, 1..64): up to this many at once,
   * their single-token steps in one forward (16 rows at most on the CPU; runtime/model/batch.ts; each prompt's tokens are
   * those it gets alone; on a GPU within its GEMMs' rounding). Default 16; 1 decodes them one
   * after another. Not with speculative decoding or a cascade (those decode one prompt at a time).
   */
  readonly batch?: number;
}

/** Prompts from data decoded together by default (DecodeOptions.batch). */
export const DECODE_BATCH = 16;

/** Tokens of one prefill forward at most: longer prompt lists are prefilled in consecutive batches (input order). */
export const PREFILL_BATCH_TOKENS = 65536;

/** A chat template by name: the prompt text wrapped in the model family's turn markers. */
export const NAMED_TEMPLATES: Readonly<Record<'chatml' | 'llama3' | 'llama2' | 'alpaca', (prompt: string) => string>> = {
  chatml: (p) => `<|im_start|>user\n${p}<|im_end|>\n<|im_start|>assistant\n`,
  llama3: (p) => `<|start_header_id|>user<|end_header_id|>\n\n${p.trim()}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n`,
  llama2: (p) => `[INST] ${p.trim()} [/INST]`,
  alpaca: (p) => `### Instruction:\n${p}\n\n### Response:\n`,
};

/** A decoding model: its weights (under the decode's attention where it names one), its source policy and how it was obtained. */
interface Stage {
  readonly spec: Frozen<ModelSpec>;
  readonly model: LlamaModel;
  readonly cache: { readonly kind: string; readonly [k: string]: unknown } | undefined;
  readonly info: DecodeModelInfo;
}

async function stageOf(role: DecodeModelInfo['role'], spec: Frozen<ModelSpec>, att: Frozen<AttentionSpec> | null, baseDir: string, session: DecodeOptions['session']): Promise<Stage> {
  const r = await resolveModel(spec, baseDir, session);
  if (att) assertSupported('attention', att.name, att.where, att.unsupported);
  // the decode's own attention block (not the model's) changes mask/score/position at inference
  const model = att && att !== spec.attention ? withAttention(r.model, att) : r.model;
  const cache = att ? thaw<{ kind: string }>(att.cache) : undefined;
  return { spec, model, cache: cache && cache.kind !== 'full' ? cache : undefined, info: { role, name: spec.name, trained: r.trained, loaded: r.loaded, cache: cache?.kind ?? 'full' } };
}

/** The documents of a data declaration as prompt texts, in input order (a hold-out split keeps its held-out side). */
export async function readDocuments(ds: Frozen<DataSpec>, baseDir: string, side?: 'holdout' | 'train'): Promise<{ texts: string[]; skipped: number }> {
  const cfg = thaw<DataConfig>(ds.config);
  const root = resolve(baseDir, cfg.root);
  const counters: SourceCounters = { malformedLines: 0, missingField: 0 };
  const texts: string[] = [];
  let skipped = 0;
  for (const src of cfg.sources) {
    for await (const raw of readSource(src, root, counters)) {
      const bytes = raw.bytes ?? Buffer.from(raw.text ?? '', 'utf8');
      if (bytes.length === 0) {
        skipped++;
        continue;
      }
      if (side !== undefined && isHeldOut(bytes, cfg.holdout.fraction, cfg.holdout.seed) !== (side === 'holdout')) continue;
      texts.push(raw.text ?? Buffer.from(bytes).toString('utf8'));
    }
  }
  return { texts, skipped: skipped + counters.missingField + counters.malformedLines };
}

/** The prompt's text as the model reads it (wrapped in the chat template), as token ids. */
function promptIds(text: string, tok: LmpTokenizer, template: Frozen<DecodeSpec>['template']): number[] {
  let t = text;
  if (template?.kind === 'named') t = NAMED_TEMPLATES[template.name](text);
  else if (template?.kind === 'tokenizer') t = renderChatTemplate(tok, text);
  const ids = Array.from(tok.encodePrompt(t));
  return ids.length ? ids : [tok.eot];
}

/**
 * The tokenizer's chat template (tokenizer_config.json's chat_template, Jinja) for one user turn
 * with the generation prompt, as Hugging Face's apply_chat_template(add_generation_prompt=True).
 * The BOS the template writes is dropped when the tokenizer prepends one itself.
 */
function renderChatTemplate(tok: LmpTokenizer, text: string): string {
  if (!tok.chatTemplate) throw Object.assign(new Error('the prompt asks for the tokenizer\'s chat template, but its tokenizer_config.json has no chat_template'), { code: 'LMP_E_TEMPLATE' });
  const out = renderJinjaChat(tok.chatTemplate, text, tok.bosToken ?? '', tok.eosToken ?? '');
  return tok.bos !== null && tok.bosToken && out.startsWith(tok.bosToken) ? out.slice(tok.bosToken.length) : out;
}

let jinja: ((tpl: string, text: string, bos: string, eos: string) => string) | null = null;

/** Set by loadJinja() before decoding: @huggingface/jinja's Template (Hugging Face's own JS Jinja for chat templates) over one user message. */
function renderJinjaChat(tpl: string, text: string, bos: string, eos: string): string {
  if (!jinja) throw Object.assign(new Error('the chat template engine is not loaded'), { code: 'LMP_E_TEMPLATE' });
  return jinja(tpl, text, bos, eos);
}

async function loadJinja(): Promise<void> {
  if (jinja) return;
  const { Template } = await import('@huggingface/jinja');
  jinja = (tpl, text, bos, eos) => new Template(tpl).render({ messages: [{ role: 'user', content: text }], add_generation_prompt: true, bos_token: bos, eos_token: eos });
}

/** "quantile(logprob, 0.1) < -2.5" */
function ruleText(c: NonNullable<Frozen<DecodeSpec>['cascade']>): string {
  const s = c.statistic;
  return `${s.kind === 'quantile' ? `quantile(${s.of}, ${s.q})` : `mean(${s.of})`} ${c.op} ${c.threshold}`;
}

function statistic(c: NonNullable<Frozen<DecodeSpec>['cascade']>, trace: readonly StepTrace[]): number {
  const of = c.statistic.of as 'logprob' | 'entropy' | 'surprise';
  const xs = trace.map((t) => t[of]);
  if (xs.length === 0) return NaN;
  return c.statistic.kind === 'quantile' ? quantile(xs, c.statistic.q) : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Whether the rule defers (no token to judge: defer). */
function defers(c: NonNullable<Frozen<DecodeSpec>['cascade']>, x: number): boolean {
  if (Number.isNaN(x)) return true;
  const t = c.threshold;
  switch (c.op) {
    case '<':
      return x < t;
    case '<=':
      return x <= t;
    case '>':
      return x > t;
    case '>=':
      return x >= t;
    case '==':
      return x === t;
    case '!=':
      return x !== t;
    default:
      throw Object.assign(new Error(`cascade: comparison ${c.op} has no runtime`), { code: 'LMP_E_NO_RUNTIME' });
  }
}

const traceOut = (t: readonly StepTrace[], candidates: boolean): TraceStep[] =>
  t.map((s) => ({ entropy: s.entropy, surprise: s.surprise, logprob: s.logprob, ...(candidates ? { candidates: s.candidates } : {}) }));

function specStats(draft: string | null, s: SpecStats): SpeculationStats {
  return { draft, rounds: s.rounds, drafted: s.drafted, accepted: s.accepted, emitted: s.emitted, draftCalls: s.draftCalls, targetCalls: s.targetCalls, acceptanceRate: s.drafted ? s.accepted / s.drafted : 0, meanAccepted: s.rounds ? s.accepted / s.rounds : 0, tokensPerRound: s.rounds ? s.emitted / s.rounds : 0 };
}

/** Per-request settings an eval overrides (its seed per request, its answer cap, its length target). */
export interface GenerateOverrides {
  readonly seed?: number;
  readonly maxTokens?: number;
  readonly length?: Frozen<DecodeSpec>['length'];
  /** The first model's source (a prefilled session), instead of the shared one. */
  readonly source?: LogitsSource;
}

/** A decode block's models and tokenizer, ready to answer prompts (runDecode and evals through a decode). */
export interface PreparedDecode {
  readonly spec: Frozen<DecodeSpec>;
  readonly tok: LmpTokenizer;
  readonly stages: readonly Stage[];
  readonly draft: Stage | null;
  /** Token ids of a prompt text (chat template, BOS). */
  promptIds(text: string): number[];
  /** One prompt through the decode (plain, speculative or the cascade). */
  generate(prompt: readonly number[], index: number, text: string, over?: GenerateOverrides): Promise<DecodePromptResult>;
  /** The backend the decode's models run on (auto resolved per model: cuda if any runs there). */
  readonly backend: 'cpu' | 'cuda';
  /** Frees device memory (backend cuda); the CPU models stay. */
  close(): void;
  /** The device copy a stage decodes on, or null (the CPU). */
  deviceOf(s: Stage): CudaLlama | null;
  /** A new source of the stage's model with a cache of its own (on its device when it has one), not the shared one. */
  newSource(s: Stage): ModelLogitsSource;
}

/** The device cache policy of a stage (CudaKVSession): full, keep(sink(g) | window(w)) reposition as sinks + window, SirLLM or InfLLM. */
function devicePolicy(s: Stage): DevicePolicy | { error: string } {
  const c = s.cache;
  if (!c) return { kind: 'full' };
  if (c.kind === 'keep') {
    const p = cacheKeepPolicy(c as unknown as Extract<CacheSpec, { kind: 'keep' }>);
    return 'error' in p ? { error: p.error } : p;
  }
  // the clause's fields are the policies' own, as createSession takes them on the CPU
  if (c.kind === 'sirllm' || c.kind === 'infllm') return c as unknown as DevicePolicy;
  return { error: `model ${s.spec.name ?? ''} decodes with cache ${s.info.cache}, which is not on CUDA yet (full, sirllm, infllm and keep(sink(g) | window(w)) reposition are)` };
}

export async function prepareDecode(spec: Frozen<DecodeSpec>, options: DecodeOptions = {}): Promise<PreparedDecode> {
  assertSupported('decode', spec.name, spec.where, spec.unsupported);
  const backend = options.backend ?? 'cpu';
  // the device copy of each model (backend cuda / auto); null: the model stays on the CPU
  const devices = new Map<LlamaModel, CudaLlama | null>();
  const onDevice = (s: Stage): CudaLlama | null => {
    if (backend === 'cpu') return null;
    if (devices.has(s.model)) return devices.get(s.model)!;
    let dev: CudaLlama | null = null;
    const refuse = (why: string): null => {
      if (backend === 'cuda') throw Object.assign(new Error(`backend cuda: ${why}; use --backend cpu or auto`), { code: 'LMP_E_CONFIG_UNSUPPORTED' });
      options.onNote?.(`backend auto: model ${s.spec.name ?? ''} decodes on the CPU (${why})`);
      return null;
    };
    const pol = devicePolicy(s);
    if ('error' in pol) dev = refuse(pol.error);
    else if (backend === 'auto' && cudaDevices().count === 0) dev = null;
    else {
      try {
        dev = new CudaLlama(s.model, { train: false });
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (backend === 'cuda' || (code !== 'LMP_E_CONFIG_UNSUPPORTED' && code !== 'LMP_E_CUDA_OOM')) throw e;
        dev = refuse((e as Error).message);
      }
    }
    devices.set(s.model, dev);
    return dev;
  };
  const baseDir = options.baseDir ?? process.cwd();
  try {
    // ---- models: the decode's model (+ draft), or the cascade's models in order
    const stages: Stage[] = [];
    if (spec.cascade) {
      // the decode's own attention clause applies to every model of the cascade; else each its own
      const own = spec.attention && spec.attention !== spec.model?.attention ? spec.attention : null;
      for (const m of spec.cascade.models) stages.push(await stageOf('cascade', m, own ?? m.attention, baseDir, options.session));
    } else {
      if (!spec.model) throw Object.assign(new Error('the decode has no model'), { code: 'LMP_E_NO_RUNTIME' });
      stages.push(await stageOf('model', spec.model, spec.attention, baseDir, options.session));
    }
    const draft = spec.speculate ? await stageOf('draft', spec.speculate.draft, spec.speculate.draft.attention, baseDir, options.session) : null;
    const first = stages[0]!;
    const tok = await modelTokenizer(first.spec, first.model, baseDir);
    for (const s of [...stages.slice(1), ...(draft ? [draft] : [])]) {
      const t = await modelTokenizer(s.spec, s.model, baseDir);
      if (t.id !== tok.id) throw Object.assign(new Error(`model ${s.spec.name} uses another tokenizer (${t.id}) than model ${first.spec.name} (${tok.id}); the models of a decode must share one`), { code: 'LMP_E_TOKENIZER' });
    }
    if (spec.template?.kind === 'tokenizer') await loadJinja();
    // allow / ban token strings: the ids of the decode's tokenizer
    const chain = resolveTokenStrings(thaw<SamplerSpec[]>(spec.chain.samplers), tok, `model ${first.spec.name}'s tokenizer (${tok.id})`);
    const wantTrace = spec.trace.length > 0;
    const candidatesTrace = spec.trace.includes('candidates');
    const cascade = spec.cascade;
    const decoderFor = (source: LogitsSource, m: LlamaModel, prompt: readonly number[], over: GenerateOverrides, extra: { trace?: boolean; speculate?: Decoder['opts']['speculate'] } = {}): Decoder => {
      const length = over.length !== undefined ? over.length : spec.length;
      return new Decoder(source, {
        chain,
        seed: over.seed ?? spec.seed,
        eos: tok.eot,
        // no max_tokens: up to the model's context (max_position_embeddings)
        maxTokens: over.maxTokens ?? spec.maxTokens ?? Math.max(1, (m.config.maxPositions ?? 2048) - prompt.length),
        ...(spec.minTokens !== null ? { minTokens: spec.minTokens } : {}),
        ...(spec.stop.length ? { stop: [...spec.stop] } : {}),
        decode: (x) => tok.decode(x),
        ...(length ? { length: { ...length } } : {}),
        ...(extra.trace ? { trace: true } : {}),
        ...(extra.speculate ? { speculate: extra.speculate } : {}),
      });
    };
    // one source per model, reused across prompts (a full cache rewinds to the common prefix)
    const sources = new Map<Stage, ModelLogitsSource>();
    const newSource = (s: Stage): ModelLogitsSource => {
      const dev = onDevice(s);
      const pol = devicePolicy(s);
      return dev && !('error' in pol) ? new ModelLogitsSource(s.model, undefined, undefined, dev.session(pol)) : new ModelLogitsSource(s.model, s.cache);
    };
    const shared = (s: Stage): LogitsSource => {
      let src = sources.get(s);
      if (!src) sources.set(s, (src = newSource(s)));
      return src;
    };
    const generate = async (prompt: readonly number[], index: number, text: string, over: GenerateOverrides = {}): Promise<DecodePromptResult> => {
      const base = { index, prompt: text, promptTokens: prompt.length };
      const sourceOf = (s: Stage): LogitsSource => (s === first && over.source ? over.source : shared(s));
      if (cascade) {
        const done: CascadeStage[] = [];
        let r: DecodeResult | undefined;
        let by: Stage = first;
        for (let k = 0; k < stages.length; k++) {
          const s = stages[k]!;
          r = await decoderFor(sourceOf(s), s.model, prompt, over, { trace: true }).generate(prompt);
          by = s;
          const x = statistic(cascade, r.trace ?? []);
          const d = k < stages.length - 1 && defers(cascade, x);
          done.push({ model: s.spec.name ?? '?', statistic: x, deferred: d, tokens: r.tokens.length });
          if (!d) break;
        }
        const who = by.spec.name ?? '?';
        return { ...base, text: r!.text ?? tok.decode(r!.tokens), tokens: r!.tokens, stopReason: r!.stopReason, model: by.spec.name, producers: r!.tokens.map(() => who), cascade: done, ...(wantTrace ? { trace: traceOut(r!.trace ?? [], candidatesTrace) } : {}) };
      }
      if (draft) {
        const sp = spec.speculate!;
        const r = await decoderFor(sourceOf(first), first.model, prompt, over, {
          speculate: { draft: shared(draft), candidates: thaw<number | { max: number; min: number; stopWhen: number }>(sp.candidates), greedy: sp.greedy },
        }).generate(prompt);
        return { ...base, text: r.text ?? tok.decode(r.tokens), tokens: r.tokens, stopReason: r.stopReason, model: first.spec.name, speculation: specStats(draft.spec.name, r.stats!) };
      }
      const r = await decoderFor(sourceOf(first), first.model, prompt, over, { trace: wantTrace }).generate(prompt);
      return { ...base, text: r.text ?? tok.decode(r.tokens), tokens: r.tokens, stopReason: r.stopReason, model: first.spec.name, ...(r.trace ? { trace: traceOut(r.trace, candidatesTrace) } : {}) };
    };
    const ids = (t: string): number[] => (t === '' && !spec.template ? (tok.bos !== null ? [tok.bos] : [tok.eot]) : promptIds(t, tok, spec.template));
    for (const s of [...stages, ...(draft ? [draft] : [])]) onDevice(s); // refusals before any token
    return {
      spec, tok, stages, draft, promptIds: ids, generate, newSource,
      get backend() {
        return [...devices.values()].some((d) => d !== null) ? 'cuda' : 'cpu';
      },
      close: () => {
        for (const d of devices.values()) d?.free();
        devices.clear();
      },
      deviceOf: (s) => onDevice(s),
    };
  } catch (e) {
    return failIn('decode', spec.name, spec.where)(e);
  }
}

/** Prompts of a data declaration (input order), filtered and cut as its filter and packer say, then prefilled. */
async function dataPrompts(
  prep: PreparedDecode,
  data: Frozen<DataSpec>,
  baseDir: string,
): Promise<{ texts: string[]; ids: number[][]; sources: (LogitsSource | undefined)[]; prefill: NonNullable<DecodeRunResult['prefill']> }> {
  const { tok } = prep;
  const first = prep.stages[0]!;
  assertSupported('data', data.name, data.where, data.unsupported);
  const dtok = await loadTokenizer(thaw<TokenizerConfig>(data.config.tokenizer), resolve(baseDir, data.config.root));
  if (dtok.id !== tok.id) throw Object.assign(new Error(`the prompts of data ${data.name} are tokenized with ${dtok.id}, but model ${first.spec.name} reads ${tok.id}`), { code: 'LMP_E_TOKENIZER' });
  const docs = await readDocuments(data, baseDir);
  let skipped = docs.skipped;
  if (docs.texts.length === 0) throw Object.assign(new Error(`data ${data.name} holds no prompt`), { code: 'LMP_E_PROMPTS' });
  // the data's length filter applies to the prompts (tokens before BOS); outside it: skipped
  const f = data.config.filter;
  const bos = tok.bos !== null ? 1 : 0;
  let texts: string[] = [];
  let ids: number[][] = [];
  for (const t of docs.texts) {
    const p = prep.promptIds(t);
    const n = p.length - bos;
    if (n < f.minLength || (f.maxLength !== null && n > f.maxLength)) skipped++;
    else {
      texts.push(t);
      ids.push(p);
    }
  }
  if (texts.length === 0) throw Object.assign(new Error(`data ${data.name}: its length filter keeps no prompt`), { code: 'LMP_E_PROMPTS' });
  const pack = data.config.pack;
  const sources: (LogitsSource | undefined)[] = [];
  const count = (method: 'prepack' | 'padded' | 'alone', tokensRun: number, sequences: number, seconds: number) => ({ method, prompts: ids.length, promptTokens: ids.reduce((a, p) => a + p.length, 0), tokensRun, sequences, seconds, skipped });
  if (pack.kind !== 'prepack' && pack.kind !== 'pad') return { texts, ids, sources, prefill: count('alone', 0, 0, 0) };
  if (first.cache) throw Object.assign(new Error(`prefilled prompts (pack ${pack.kind}) continue in a full cache; model ${first.spec.name} decodes with cache ${first.info.cache}`), { code: 'LMP_E_PREFILL' });
  const mask = first.model.mask;
  if ('groups' in mask ? mask.groups.length > 0 || !prefillMaskOk(mask.default) : !prefillMaskOk(mask))
    throw Object.assign(new Error(`prepacked prefill runs under causal & same_document; model ${first.spec.name}'s mask is ${JSON.stringify(mask)}`), { code: 'LMP_E_PREFILL' });
  if (pack.kind === 'pad') {
    // pad(L): longer prompts keep their first L tokens (truncate) or are skipped (drop)
    const L = pack.length;
    const keep = ids.map((p) => p.length <= L || pack.truncate !== 'drop');
    skipped += keep.filter((k) => !k).length;
    texts = texts.filter((_, i) => keep[i]);
    ids = ids.filter((_, i) => keep[i]).map((p) => (p.length > L ? p.slice(0, L) : p));
    if (ids.length === 0) throw Object.assign(new Error(`data ${data.name}: pad(${L}, truncate: drop) keeps no prompt`), { code: 'LMP_E_PROMPTS' });
  }
  const cap = pack.kind === 'prepack' && pack.capacity !== 'longest' ? pack.capacity : null;
  const tp = performance.now();
  let tokensRun = 0, sequences = 0;
  for (let i = 0; i < ids.length; ) {
    let j = i, n = 0;
    while (j < ids.length && (j === i || n + ids[j]!.length <= PREFILL_BATCH_TOKENS)) n += ids[j++]!.length;
    const batch = ids.slice(i, j);
    if (cap !== null) {
      const long = batch.findIndex((p) => p.length > cap);
      if (long >= 0) throw Object.assign(new Error(`prompt ${i + long} has ${batch[long]!.length} tokens, more than the prepack capacity ${cap}`), { code: 'LMP_E_PROMPTS' });
    }
    const dev = prep.deviceOf(first) ?? undefined; // the packed forward on the GPU (backend cuda), sessions there too
    const r: PrefillResult = pack.kind === 'prepack' ? prefillPacked(first.model, batch, { ...(cap !== null ? { capacity: cap } : {}), algorithm: pack.algorithm, ...(dev ? { device: dev } : {}) }) : paddedPrefill(first.model, batch, tok.eot, dev);
    tokensRun += r.tokensRun;
    sequences += r.sequences;
    batch.forEach((_, k) => sources.push(new ModelLogitsSource(first.model, undefined, { session: r.sessions[k]!, logits: r.logits[k]! })));
    i = j;
  }
  return { texts, ids, sources, prefill: count(pack.kind === 'prepack' ? 'prepack' : 'padded', tokensRun, sequences, (performance.now() - tp) / 1000) };
}

export async function runDecodeSpec(spec: Frozen<DecodeSpec>, options: DecodeOptions = {}): Promise<DecodeRunResult> {
  const t0 = performance.now();
  const name = spec.name ?? 'decode';
  const baseDir = options.baseDir ?? process.cwd();
  const prep = await prepareDecode(spec, options);
  try {
    return await decodeAll(spec, options, prep, t0, name, baseDir);
  } finally {
    prep.close();
  }
}

async function decodeAll(spec: Frozen<DecodeSpec>, options: DecodeOptions, prep: PreparedDecode, t0: number, name: string, baseDir: string): Promise<DecodeRunResult> {
  try {
    let texts: string[], ids: number[][];
    let sources: (LogitsSource | undefined)[] = [];
    let prefill: DecodeRunResult['prefill'] = null;
    if (spec.prompt && 'data' in spec.prompt) ({ texts, ids, sources, prefill } = await dataPrompts(prep, spec.prompt.data, baseDir));
    else {
      texts = [spec.prompt && 'text' in spec.prompt ? spec.prompt.text : ''];
      ids = [prep.promptIds(texts[0]!)];
    }
    const results: DecodePromptResult[] = [];
    const first = prep.stages[0]!;
    const size = options.batch ?? DECODE_BATCH;
    if (!Number.isInteger(size) || size < 1 || size > 64) throw Object.assign(new Error(`decode batch must be an integer in 1..64, got ${size}`), { code: 'LMP_E_USAGE' });
    // prompts from data: prompt i samples with seed + i (as an eval's requests), so that each
    // equals decoding that prompt alone with `seed S + i`
    const one = (p: number, source?: LogitsSource): Promise<DecodePromptResult> => {
      options.onProgress?.({ target: name, phase: 'decode', step: p, total: ids.length });
      const seed = spec.prompt && 'data' in spec.prompt ? { seed: spec.seed + p } : {};
      return prep.generate(ids[p]!, p, texts[p]!, { ...seed, ...(source ? { source } : {}) });
    };
    let batched: DecodeRunResult['batched'] = null;
    if (size > 1 && ids.length > 1 && !spec.cascade && !prep.draft) {
      // up to `size` prompts in flight, each on its own cache; their steps share forwards (caches
      // that cannot join a batched step, SirLLM and InfLLM, step alone)
      const batcher = new DecodeBatcher(size);
      let next = 0;
      let failed = false;
      const worker = async (): Promise<void> => {
        for (let p = next++; p < ids.length && !failed; p = next++) {
          const given = sources[p];
          const src = given instanceof ModelLogitsSource ? given : prep.newSource(first);
          try {
            results[p] = await one(p, src.via(batcher));
          } catch (e) {
            failed = true; // the first failure is the decode's; the other prompts stop at their next step
            batcher.abort(e);
            throw e;
          } finally {
            src.free(); // its cache is this prompt's alone (device memory back at once, not at GC)
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(size, ids.length) }, worker));
      batched = { size, ...batcher.stats };
    } else for (let p = 0; p < ids.length; p++) results.push(await one(p, sources[p]));
    const head = results[0]!;
    let speculation: SpeculationStats | null = null;
    if (prep.draft) {
      const t: SpecStats = { rounds: 0, drafted: 0, accepted: 0, emitted: 0, draftCalls: 0, targetCalls: 0, acceptanceRate: 0, tokensPerRound: 0 };
      for (const r of results) for (const k of ['rounds', 'drafted', 'accepted', 'emitted', 'draftCalls', 'targetCalls'] as const) t[k] += r.speculation![k];
      speculation = specStats(prep.draft.spec.name, t);
    }
    let cascade: DecodeRunResult['cascade'] = null;
    if (spec.cascade) {
      const answeredBy: Record<string, number> = {};
      for (const r of results) answeredBy[r.model ?? '?'] = (answeredBy[r.model ?? '?'] ?? 0) + 1;
      const deferred = results.filter((r) => r.model !== first.spec.name).length;
      cascade = { models: prep.stages.map((s) => s.spec.name ?? '?'), rule: ruleText(spec.cascade), prompts: results.length, deferred, rate: deferred / results.length, answeredBy };
    }
    return {
      kind: 'decode',
      target: name,
      backend: prep.backend,
      prompt: head.prompt,
      text: head.text,
      tokens: head.tokens,
      stopReason: head.stopReason,
      trained: first.info.trained,
      loaded: first.info.loaded,
      ...(head.trace ? { trace: head.trace } : {}),
      prompts: results,
      models: [...prep.stages.map((s) => s.info), ...(prep.draft ? [prep.draft.info] : [])],
      speculation,
      cascade,
      prefill,
      batched,
      seconds: (performance.now() - t0) / 1000,
    };
  } catch (e) {
    return failIn('decode', spec.name, spec.where)(e);
  }
}
