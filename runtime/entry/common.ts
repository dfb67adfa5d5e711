// What every entry function shares: the coded run-time error, the refusal of unsupported specs,
// and how a model spec becomes a LlamaModel with its tokenizer:
//   - the model trained earlier in the same Session (by name), else the checkpoint `load` names,
//     else fresh seeded weights from the spec's architecture;
//   - vocab 0 in the architecture (`vocab T` naming a Hugging Face or tiktoken tokenizer, whose
//     size is known only once it is loaded) is the tokenizer's size, read at run time;
//   - the tokenizer a model decodes with: the spec's `vocab TOKENIZER`, else the one the model
//     records (trained in this process, or saved beside the checkpoint: runtime/model/io.ts),
//     else UTF-8 bytes.
import { resolve } from 'node:path';
import type { TokenizerConfig } from '../data/config.js';
import { loadTokenizer, type LmpTokenizer } from '../data/tokenizers.js';
import type { ModelConfig } from '../model/config.js';
import { fusedAttention } from '../model/fused.js';
import { loadModel, recordedTokenizer } from '../model/io.js';
import { LlamaModel } from '../model/llama.js';
import type { AttentionSettings } from '../model/attention.js';
import { attentionOptions } from '../model/settings.js';
import type { AttentionSpec, Frozen, ModelSpec } from './spec.js';

/** A run-time error carrying a code and the declaration it happened in. */
export class RuntimeEntryError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RuntimeEntryError';
  }
}

/** "decode story (examples/x.lmp:31:3)" */
export function context(kind: string, name: string | null, where: string): string {
  return `${kind} ${name ?? '(inline)'} (${where})`;
}

/** Refuse a spec that asks for something the runtime cannot run. */
export function assertSupported(kind: string, name: string | null, where: string, unsupported: readonly string[]): void {
  if (unsupported.length === 0) return;
  throw new RuntimeEntryError('LMP_E_NO_RUNTIME', `error in ${context(kind, name, where)}: the runtime cannot run ${unsupported.join('; ')}`);
}

/**
 * The error handler of a declaration's run: rethrows `e` as "error in KIND NAME (where): ..." with
 * its code (LMP_E_RUNTIME without one); a RuntimeEntryError (already placed) passes through.
 */
export function failIn(kind: string, name: string | null, where: string): (e: unknown) => never {
  return (e) => {
    if (e instanceof RuntimeEntryError) throw e;
    const err = e as { code?: string; message?: string };
    throw new RuntimeEntryError(err.code ?? 'LMP_E_RUNTIME', `error in ${context(kind, name, where)}: ${err.message ?? String(e)}`);
  };
}

export const thaw = <T>(x: Frozen<T>): T => structuredClone(x) as T;

/** The tokenizer of a model that names none (and records none): UTF-8 bytes, EOT 256. */
export const BYTES: TokenizerConfig = { kind: 'bytes', eot: 256, appendEot: true };

function attentionOf(att: Frozen<AttentionSpec> | null): AttentionSettings {
  return att ? attentionOptions(thaw<AttentionSpec>(att)) : {};
}

/** A model built (or loaded), where from. */
export interface BuiltModel {
  readonly model: LlamaModel;
  /** The checkpoint directory it was loaded from, else null. */
  readonly loaded: string | null;
}

/**
 * The model of a spec: `load("dir")` reads config.json + model.safetensors from dir (relative to
 * baseDir, the .lmp file's folder under lmpc run) at run time, the architecture coming from
 * config.json; otherwise fresh weights from the spec's architecture and seed (vocab 0: the size
 * of the model's tokenizer, else `fallbackVocab`, else the byte tokenizer's 257). Errors name
 * the model declaration: "error in model m (x.lmp:3:1): ...".
 */
export async function buildModel(spec: Frozen<ModelSpec>, baseDir: string, fallbackVocab?: number): Promise<BuiltModel> {
  assertSupported('model', spec.name, spec.where, spec.unsupported);
  const config = spec.config ? thaw<ModelConfig>(spec.config) : null;
  const opts = { attention: fusedAttention(), ...attentionOf(spec.attention) };
  const err = (code: string, msg: string): RuntimeEntryError => new RuntimeEntryError(code, `error in ${context('model', spec.name, spec.where)}: ${msg}`);
  if (spec.load !== null) {
    const dir = resolve(baseDir, spec.load);
    let model: LlamaModel;
    try {
      model = loadModel(dir, opts);
    } catch (e) {
      const x = e as { code?: string; message?: string };
      throw err(x.code ?? 'LMP_E_MODEL_LOAD', `cannot load checkpoint "${spec.load}": ${x.message ?? String(e)}`);
    }
    if (config) {
      // `arch` written next to `load`: the checkpoint must have that architecture
      const c = model.config;
      const diff = (['dim', 'layers', 'heads', 'kvHeads', 'ffn', 'vocab'] as const).filter((k) => !(k === 'vocab' && config.vocab === 0) && config[k] !== c[k]);
      if (diff.length) throw err('LMP_E_MODEL_LOAD', `checkpoint "${spec.load}" does not match the declared architecture (${diff.map((k) => `${k} ${config[k]} vs ${c[k]} in config.json`).join(', ')})`);
    }
    return { model, loaded: dir };
  }
  if (!config) throw err('LMP_E_NO_RUNTIME', 'the model has neither an architecture nor a checkpoint to load');
  try {
    if (config.vocab === 0) config.vocab = spec.tokenizer ? (await loadTokenizer(thaw<TokenizerConfig>(spec.tokenizer.config), baseDir)).vocabSize : (fallbackVocab ?? 257);
    return { model: LlamaModel.init(config, spec.seed, opts), loaded: null };
  } catch (e) {
    const x = e as { code?: string; message?: string };
    throw err(x.code ?? 'LMP_E_RUNTIME', x.message ?? String(e));
  }
}

/** The model trained under this name in the session, else buildModel's. */
export async function resolveModel(spec: Frozen<ModelSpec>, baseDir: string, session: { readonly models: ReadonlyMap<string, LlamaModel> } | undefined): Promise<BuiltModel & { readonly trained: boolean }> {
  const trained = spec.name ? session?.models.get(spec.name) : undefined;
  if (trained) return { model: trained, loaded: null, trained: true };
  return { ...(await buildModel(spec, baseDir)), trained: false };
}

/**
 * The same weights under another attention block (a decode's own `attention` clause: its mask,
 * score and position apply at inference); the parameters are shared, not copied.
 */
export function withAttention(model: LlamaModel, att: Frozen<AttentionSpec>): LlamaModel {
  const view = new LlamaModel(model.config, { attention: fusedAttention(), ...attentionOf(att) });
  for (const [n, p] of model.params) view.params.set(n, p);
  return view;
}

/**
 * The tokenizer a model decodes with: the spec's `vocab TOKENIZER`, else the tokenizer the model
 * records (trained with, or saved beside its checkpoint), else UTF-8 bytes. Larger than the
 * model's vocabulary: an error.
 */
export async function modelTokenizer(spec: Frozen<ModelSpec>, model: LlamaModel, baseDir: string): Promise<LmpTokenizer> {
  const rec = recordedTokenizer(model);
  const tok = spec.tokenizer
    ? await loadTokenizer(thaw<TokenizerConfig>(spec.tokenizer.config), baseDir)
    : rec
      ? await loadTokenizer(structuredClone(rec.config), rec.root)
      : await loadTokenizer(BYTES);
  if (tok.vocabSize > model.config.vocab) throw Object.assign(new Error(`tokenizer vocabulary (${tok.vocabSize}) exceeds the model's (${model.config.vocab})`), { code: 'LMP_E_TOKENIZER' });
  return tok;
}
