// Model directories in the Hugging Face layout: config.json (LlamaConfig) + model.safetensors
// (HF Llama tensor names, Linear weights [out, in]). Writes are atomic per file.
//
// A model records the tokenizer it was trained with (recordTokenizer; runtime/entry does it for
// every train): saveModel writes it into config.json (`lmp_tokenizer`, the TokenizerConfig, plus
// HF's bos_token_id / eos_token_id) and, for a Hugging Face tokenizer, copies tokenizer.json and
// tokenizer_config.json beside the weights as Hugging Face does. loadModel records it again on
// the loaded model; a directory with a tokenizer.json and no `lmp_tokenizer` (a Hugging Face
// checkpoint) records that tokenizer.json (EOT from eos_token_id, else tokenizer_config.json).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { ensureDir } from '../fsutil.js';
import { dirname, join, resolve } from 'node:path';
import type { TokenizerConfig } from '../data/config.js';
import { fromHfConfig, hfPosition, ModelConfigError, toHfConfigForPosition } from './config.js';
import { LlamaModel, type ModelOptions } from './llama.js';
import { readSafetensors, writeFileAtomic, writeSafetensors, type SafetensorsDtype } from './safetensors.js';

const TORCH_DTYPE: Record<SafetensorsDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

/** The tokenizer a model was trained with: its config (a huggingface path resolves against `root`) and its resolved special ids. */
export interface TokenizerRecord {
  readonly config: TokenizerConfig;
  readonly root: string;
  readonly eos?: number;
  readonly bos?: number | null;
}

const records = new WeakMap<LlamaModel, TokenizerRecord>();

/** Remember the tokenizer of a model (saveModel writes it beside the weights). */
export function recordTokenizer(model: LlamaModel, rec: TokenizerRecord): void {
  records.set(model, rec);
}

/** The tokenizer recorded for a model (trained in this process, or loaded with one), if any. */
export function recordedTokenizer(model: LlamaModel): TokenizerRecord | undefined {
  return records.get(model);
}

/** config.json fields and files for a model's recorded tokenizer (Hugging Face: copies beside the weights). */
function writeTokenizer(dir: string, rec: TokenizerRecord | undefined): Record<string, unknown> {
  if (!rec) return {};
  let config: TokenizerConfig = rec.config;
  if (config.kind === 'huggingface') {
    const src = resolve(rec.root, config.path);
    writeFileAtomic(join(dir, 'tokenizer.json'), readFileSync(src));
    const tc = join(dirname(src), 'tokenizer_config.json');
    if (existsSync(tc)) writeFileAtomic(join(dir, 'tokenizer_config.json'), readFileSync(tc));
    config = { ...config, path: 'tokenizer.json' };
  }
  return {
    lmp_tokenizer: config,
    ...(rec.eos !== undefined ? { eos_token_id: rec.eos } : {}),
    ...(rec.bos !== undefined && rec.bos !== null ? { bos_token_id: rec.bos } : {}),
  };
}

/** The tokenizer a checkpoint directory records (see the header), if any. */
function readTokenizer(dir: string, raw: Record<string, unknown>): TokenizerRecord | undefined {
  const t = raw['lmp_tokenizer'];
  const eos = typeof raw['eos_token_id'] === 'number' ? raw['eos_token_id'] : undefined;
  const bos = typeof raw['bos_token_id'] === 'number' ? raw['bos_token_id'] : undefined;
  const ids = { ...(eos !== undefined ? { eos } : {}), ...(bos !== undefined ? { bos } : {}) };
  if (t && typeof t === 'object' && ['bytes', 'huggingface', 'tiktoken'].includes((t as { kind?: string }).kind ?? '')) return { config: t as TokenizerConfig, root: dir, ...ids };
  if (existsSync(join(dir, 'tokenizer.json'))) return { config: { kind: 'huggingface', path: 'tokenizer.json', eot: eos ?? null, appendEot: true, bos: bos ?? 'auto' }, root: dir, ...ids };
  return undefined;
}

/** Write config.json + model.safetensors (and the recorded tokenizer); tensors stored as `dtype` (default F32; F16/BF16 round to nearest even). */
export function saveModel(dir: string, model: LlamaModel, opts: { dtype?: SafetensorsDtype } = {}): void {
  const dtype = opts.dtype ?? 'F32';
  ensureDir(dir);
  const list: [string, { shape: number[]; data: Float32Array }][] = [];
  for (const [n, p] of model.params) list.push([n, { shape: model.shapes.get(n)!, data: p }]);
  writeSafetensors(join(dir, 'model.safetensors'), list, { format: 'pt' }, dtype);
  const tok = writeTokenizer(dir, records.get(model));
  // The position encoding the model runs: the RoPE scaling in force (a .lmp attention block's
  // replaces the checkpoint's), so a checkpoint of a model trained with one loads with it; ALiBi
  // and NoPE recorded as lmp_position (and in the forms transformers honours or refuses, config.ts).
  const hf = toHfConfigForPosition(model.config, model.position, model.ropeScaling);
  writeFileAtomic(join(dir, 'config.json'), JSON.stringify({ ...hf, torch_dtype: TORCH_DTYPE[dtype], ...tok }, null, 2) + '\n');
}

/**
 * The checkpoint folder a trainer's checkpoint root names in its `latest` file
 * (runtime/model/train.ts writes it), or null when there is no readable `latest`. A name that is
 * not a folder of `dir` (empty, a path, a dot name) throws `bad(latest file, name)`.
 */
export function latestCheckpoint(dir: string, bad: (file: string, name: string) => Error): string | null {
  const file = join(dir, 'latest');
  let name: string;
  try {
    name = readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
  if (!name || name.includes('/') || name.includes('\\') || name.startsWith('.')) throw bad(file, name);
  return join(dir, name);
}

/**
 * Load a Llama-architecture model directory (tensors may be F32, F16 or BF16). A trainer's
 * checkpoint root (a folder with `latest` and no config.json, runtime/model/train.ts) loads the
 * checkpoint `latest` names.
 */
export function loadModel(dir: string, opts: ModelOptions = {}): LlamaModel {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new ModelConfigError('LMP_E_MODEL_DIR', `checkpoint directory ${dir} does not exist`);
  }
  if (!isDir) throw new ModelConfigError('LMP_E_MODEL_DIR', `${dir} is not a directory (a checkpoint is a directory with config.json and model.safetensors)`);
  if (!existsSync(join(dir, 'config.json'))) {
    const ck = latestCheckpoint(dir, (file, name) => new ModelConfigError('LMP_E_MODEL_DIR', `${file} does not name a checkpoint ('${name}')`));
    if (ck) return loadModel(ck, opts);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  } catch (e) {
    throw new ModelConfigError('LMP_E_CONFIG', `${join(dir, 'config.json')}: ${(e as Error).message}`);
  }
  const cfg = fromHfConfig(raw);
  // the position encoding the checkpoint was trained with (lmp_position, a SmolLM3 NoPE config):
  // the model runs it unless `opts` gives one; a different encoding is refused (its weights were
  // trained for the recorded one: RoPE over an ALiBi model, say, gives other logits)
  const recorded = hfPosition(raw);
  if (recorded && opts.position && opts.position.kind !== recorded.kind)
    throw new ModelConfigError('LMP_E_MODEL_POSITION', `${join(dir, 'config.json')} records position ${recorded.kind} (lmp_position), which the model was trained with; the attention block asks for ${opts.position.kind} (write \`position ${recorded.kind}()\` in the model's attention block)`, 'lmp_position');
  const file = readSafetensors(join(dir, 'model.safetensors'));
  const model = new LlamaModel(cfg, recorded && !opts.position ? { ...opts, position: recorded } : opts);
  for (const [n, p] of model.params) {
    const t = file.tensors.get(n);
    if (!t) throw new ModelConfigError('LMP_E_WEIGHTS', `${dir}: model.safetensors has no tensor '${n}'`);
    const want = model.shapes.get(n)!;
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i]))
      throw new ModelConfigError('LMP_E_WEIGHTS', `${dir}: tensor '${n}' has shape ${JSON.stringify(t.shape)}, config expects ${JSON.stringify(want)}`);
    p.set(t.data);
  }
  const tok = readTokenizer(dir, raw as Record<string, unknown>);
  if (tok) records.set(model, tok);
  return model;
}
