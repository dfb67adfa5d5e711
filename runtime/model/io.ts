// Model directories in the Hugging Face layout: config.json (LlamaConfig) + model.safetensors
// (HF Llama tensor names, Linear weights [out, in]). Writes are atomic per file.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { ensureDir } from '../fsutil.js';
import { join } from 'node:path';
import { fromHfConfig, ModelConfigError, toHfConfig } from './config.js';
import { LlamaModel, type ModelOptions } from './llama.js';
import { readSafetensors, writeFileAtomic, writeSafetensors, type SafetensorsDtype } from './safetensors.js';

const TORCH_DTYPE: Record<SafetensorsDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

/** Write config.json + model.safetensors; tensors stored as `dtype` (default F32; F16/BF16 round to nearest even). */
export function saveModel(dir: string, model: LlamaModel, opts: { dtype?: SafetensorsDtype } = {}): void {
  const dtype = opts.dtype ?? 'F32';
  ensureDir(dir);
  const list: [string, { shape: number[]; data: Float32Array }][] = [];
  for (const [n, p] of model.params) list.push([n, { shape: model.shapes.get(n)!, data: p }]);
  writeSafetensors(join(dir, 'model.safetensors'), list, { format: 'pt' }, dtype);
  writeFileAtomic(join(dir, 'config.json'), JSON.stringify({ ...toHfConfig(model.config), torch_dtype: TORCH_DTYPE[dtype] }, null, 2) + '\n');
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
  if (!existsSync(join(dir, 'config.json')) && existsSync(join(dir, 'latest'))) {
    const name = readFileSync(join(dir, 'latest'), 'utf8').trim();
    if (!name || /[\\/]/.test(name) || name.startsWith('.')) throw new ModelConfigError('LMP_E_MODEL_DIR', `${join(dir, 'latest')} does not name a checkpoint ('${name}')`);
    return loadModel(join(dir, name), opts);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  } catch (e) {
    throw new ModelConfigError('LMP_E_CONFIG', `${join(dir, 'config.json')}: ${(e as Error).message}`);
  }
  const cfg = fromHfConfig(raw);
  const file = readSafetensors(join(dir, 'model.safetensors'));
  const model = new LlamaModel(cfg, opts);
  for (const [n, p] of model.params) {
    const t = file.tensors.get(n);
    if (!t) throw new ModelConfigError('LMP_E_WEIGHTS', `${dir}: model.safetensors has no tensor '${n}'`);
    const want = model.shapes.get(n)!;
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i]))
      throw new ModelConfigError('LMP_E_WEIGHTS', `${dir}: tensor '${n}' has shape ${JSON.stringify(t.shape)}, config expects ${JSON.stringify(want)}`);
    p.set(t.data);
  }
  return model;
}
