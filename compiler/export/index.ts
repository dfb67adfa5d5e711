// `lmpc export FILE --target NAME --pytorch -o DIR`: a .lmp pipeline compiled to a self-contained
// PyTorch package (torch >= 2.6 and safetensors at run time, no lmp), a second backend of the
// compiler beside `lmpc build`:
//   check -> lower -> the target's specs (refusals: refusals.ts) -> spec.json (the resolved IR
//   and the `run` section, run-spec.ts) + the Python package (python/, copied as is) + the
//   shards `lmpc data` writes (runtime/data buildShards) + the initial weights lmpc run starts
//   from (runtime/entry buildModel, saveModel) -> DIR.
// Like `lmpc build`: deterministic (same source and compiler, same bytes), every file written
// atomically (temp + rename, shards as a renamed folder), the stamp (.lmpc-export-stamp: hash of
// source, target, compiler, templates and data keys + every output's hash) last; an export whose
// stamp matches and whose outputs are intact is skipped.
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { Diagnostic } from '../../grammar/diagnostics.js';
import { check } from '../index.js';
import { compilerFingerprint, compilerVersion, hashFile, packageRoot, sha256, upToDate, type Stamp } from '../emit/index.js';
import { describeError, readSource } from '../io/read.js';
import { writeFileAtomic } from '../io/write.js';
import { findDecl, type ProgramIR } from '../ir/types.js';
import { lower } from '../lower/index.js';
import { ensureDir } from '../../runtime/fsutil.js';
import { BYTES } from '../../runtime/entry/common.js';
import type { DataConfig, TokenizerConfig } from '../../runtime/data/config.js';
import type { DataSpec, DecodeSpec, Frozen, ModelSpec, TrainSpec } from '../../runtime/entry/spec.js';
import { ExportRefusal, refuse } from './refusals.js';
import { blockTables, runAttention, tabulatable, trainRun, type BlockTables } from './run-spec.js';
import { decodeRun, type DecodeRun } from './decode-spec.js';

export { EXPORT_CODES, ExportRefusal } from './refusals.js';

export const EXPORT_FORMAT = 'lmp-export';
export const EXPORT_VERSION = 1;
export const STAMP = '.lmpc-export-stamp';

export interface ExportOptions {
  readonly target: string;
  readonly outDir: string;
  readonly force?: boolean;
}

export type ExportResult =
  | { readonly ok: false; readonly diagnostics: readonly Diagnostic[]; readonly source: string | undefined }
  | { readonly ok: false; readonly refusal: ExportRefusal }
  | { readonly ok: true; readonly outDir: string; readonly skipped: boolean; readonly files: readonly string[]; readonly diagnostics: readonly Diagnostic[] };

/** The Python sources of the package: compiler/export/python/** (relative path -> text), sorted. */
export function pythonTemplates(): [string, string][] {
  const root = join(packageRoot(), 'compiler', 'export', 'python');
  const out: [string, string][] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) {
        if (n !== '__pycache__') walk(p);
      } else if (n.endsWith('.py')) out.push([relative(root, p).split(sep).join('/'), readFileSync(p, 'utf8')]);
    }
  };
  walk(root);
  return out;
}

/** An error's code (where it has one) and message, as a refusal's reason. */
function reasonOf(e: unknown): string {
  const c = (e as { code?: unknown } | null)?.code;
  const msg = e instanceof Error ? e.message : String(e);
  return typeof c === 'string' && !msg.startsWith(c) ? `${c}: ${msg}` : msg;
}

const writeFailed = (path: string, e: unknown): never => {
  throw new ExportRefusal('LMP0906', `cannot write '${path}': ${describeError(e)}`);
};

/** Export one target of a file. Check errors are diagnostics; everything the export refuses is an ExportRefusal with a code. */
export async function exportFile(file: string, opts: ExportOptions): Promise<ExportResult> {
  const src = readSource(file);
  if (!src.ok) return { ok: false, diagnostics: [src.diagnostic], source: undefined };
  const res = check(src.text, file);
  if (res.diagnostics.some((d) => d.severity === 'error')) return { ok: false, diagnostics: res.diagnostics, source: src.text };
  try {
    const out = await exportProgram(lower(res.program), src.text, file, opts);
    return { ...out, diagnostics: res.diagnostics };
  } catch (e) {
    if (e instanceof ExportRefusal) return { ok: false, refusal: e };
    throw e;
  }
}

interface Plan {
  readonly kind: 'train' | 'decode';
  readonly model: Frozen<ModelSpec>;
  readonly train: Frozen<TrainSpec> | null;
  readonly decodes: readonly Frozen<DecodeSpec>[];
}

function planOf(ir: ProgramIR, target: string): Plan {
  const d = findDecl(ir, target);
  const runnable = ir.decls.filter((x) => x.kind === 'train' || x.kind === 'decode').map((x) => `${x.kind} ${x.name}`);
  const list = runnable.join(', ') || 'none';
  if (!d) return refuse('LMP_E_EXPORT_TARGET', null, `no declaration '${target}' (exportable: ${list})`);
  if (d.kind === 'train') {
    const train = d.spec as Frozen<TrainSpec>;
    // generate.py gets the file's decode blocks that run this model (those it can run: exportDecodes)
    const decodes = ir.decls.filter((x) => x.kind === 'decode' && (x.spec as DecodeSpec).model?.name === train.model.name).map((x) => x.spec as Frozen<DecodeSpec>);
    return { kind: 'train', model: train.model, train, decodes };
  }
  if (d.kind === 'decode') {
    const dec = d.spec as Frozen<DecodeSpec>;
    decodeRun(dec); // refused here, before anything is built, when the spec alone says why
    return { kind: 'decode', model: dec.model!, train: null, decodes: [dec] };
  }
  return refuse('LMP_E_EXPORT_TARGET', d.spec, `a ${d.kind} declaration is not exportable; export a train or decode block (exportable: ${list})`);
}

/** Why a decode cannot be exported (code and message), or null. */
export function exportableDecode(d: Frozen<DecodeSpec>): [ExportRefusal['code'], string] | null {
  try {
    decodeRun(d);
    return null;
  } catch (e) {
    if (e instanceof ExportRefusal) return [e.code, e.message];
    throw e;
  }
}

/** The decodes generate.py runs, each with its run section: a train's that it can run; a decode target's, else its refusal (thrown). */
function exportedDecodes(plan: Plan, runOf: (d: Frozen<DecodeSpec>) => DecodeRun): { spec: Frozen<DecodeSpec>; run: DecodeRun }[] {
  const out: { spec: Frozen<DecodeSpec>; run: DecodeRun }[] = [];
  for (const d of plan.decodes) {
    try {
      out.push({ spec: d, run: runOf(d) });
    } catch (e) {
      if (!(e instanceof ExportRefusal) || plan.kind === 'decode') throw e;
    }
  }
  return out;
}

function assertRunnable(specs: readonly (Frozen<{ kind: string; name: string | null; where: string; unsupported: readonly string[] }> | null)[]): void {
  for (const s of specs) if (s && s.unsupported.length) refuse('LMP_E_EXPORT_UNSUPPORTED', s, `lmp itself cannot run ${s.unsupported.join('; ')}, so neither can the export`);
}

async function exportProgram(ir: ProgramIR, text: string, file: string, opts: ExportOptions): Promise<{ ok: true; outDir: string; skipped: boolean; files: string[] }> {
  const plan = planOf(ir, opts.target);
  const root = dirname(resolve(file));
  const outDir = resolve(opts.outDir);
  assertRunnable([plan.model, plan.model.attention, plan.train, plan.train?.data ?? null, plan.train?.curriculum ?? null]);
  const { cacheKey, buildShards } = await import('../../runtime/data/shards.js');
  const model = plan.model;
  // data shards: the train's data (split train) and each perplexity eval's side
  const data: { cfg: DataConfig; split: 'train' | 'holdout'; spec: Frozen<DataSpec> }[] = [];
  if (plan.train) {
    const t = plan.train;
    data.push({ cfg: { ...structuredClone(t.data.config as DataConfig), root }, split: 'train', spec: t.data });
    for (const ev of t.evals) if (ev.perplexity) data.push({ cfg: { ...structuredClone(ev.perplexity.data.config as DataConfig), root: root }, split: ev.perplexity.split, spec: ev.perplexity.data });
  }
  const keys: string[] = [];
  for (const x of data) {
    try {
      keys.push(cacheKey(x.cfg, x.split));
    } catch (e) {
      return refuse('LMP_E_EXPORT_DATA', x.spec, reasonOf(e));
    }
  }
  const templates = pythonTemplates();
  const key = sha256(JSON.stringify({ source: sha256(text), file, target: opts.target, compiler: compilerFingerprint(), templates: templates.map(([n, t]) => [n, sha256(t)]), keys }));
  const files = ['spec.json', 'README.md', 'weights/init/config.json', 'weights/init/model.safetensors', ...templates.map(([n]) => n)];
  if (!opts.force && upToDate(join(outDir, STAMP), key, outDir)) return { ok: true, outDir, skipped: true, files };

  // the model lmpc run starts from (runtime/entry buildModel: the checkpoint `load` names, else
  // lmp's seeded init; vocab 0 is the model's tokenizer's size, else the train data's)
  const { buildModel, withAttention } = await import('../../runtime/entry/common.js');
  const { loadTokenizer } = await import('../../runtime/data/tokenizers.js');
  const { recordedTokenizer, recordTokenizer, saveModel } = await import('../../runtime/model/io.js');
  let fallbackVocab: number | undefined;
  let trainTok: Awaited<ReturnType<typeof loadTokenizer>> | undefined;
  if (data.length) {
    try {
      trainTok = await loadTokenizer(data[0]!.cfg.tokenizer, root);
      fallbackVocab = trainTok.vocabSize;
    } catch (e) {
      return refuse('LMP_E_EXPORT_DATA', data[0]!.spec, reasonOf(e));
    }
  }
  let m;
  try {
    m = (await buildModel(model, root, fallbackVocab)).model;
  } catch (e) {
    return refuse('LMP_E_EXPORT_MODEL', model, reasonOf(e));
  }
  // a train's model records its data's tokenizer as runTrain's does, so weights/init and every
  // checkpoint train.py writes carry it (config.json lmp_tokenizer, tokenizer.json beside the weights)
  if (plan.train && trainTok) recordTokenizer(m, { config: structuredClone(data[0]!.cfg.tokenizer), root, eos: trainTok.eot, bos: trainTok.bos });
  const config = m.config;
  // the tokenizer a decode's model decodes with (runtime/entry modelTokenizer): its `vocab`, else
  // the one it records (a trained model its train data's, a checkpoint the one saved beside it), else bytes
  const recorded = plan.train ? plan.train.data.config.tokenizer : recordedTokenizer(m)?.config;
  // a decode's own attention clause replaces the model's mask, score and position (runDecode's withAttention)
  const decodes = exportedDecodes(plan, (d) => ({
    ...decodeRun(d, d.model?.tokenizer?.config ?? recorded ?? BYTES),
    attention: d.attention && d.attention !== d.model!.attention ? runAttention(withAttention(m, d.attention), d) : null,
  }));

  try {
    ensureDir(outDir);
  } catch (e) {
    writeFailed(outDir, e);
  }
  // shards first (the slow part; each cache entry is built in a temp folder and renamed)
  const dirs: string[] = [];
  const built: { index: { buckets: { length: number; sequences: number; shards: { tokens: number; sequences: number }[] }[] } }[] = [];
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    const at = join('data', x.split);
    try {
      const r = await buildShards(x.cfg, { outDir: join(outDir, at), split: x.split });
      dirs.push(`${at}/${r.key}`);
      built.push(r);
    } catch (e) {
      return refuse('LMP_E_EXPORT_DATA', x.spec, reasonOf(e));
    }
  }
  for (const split of ['train', 'holdout']) pruneStale(join(outDir, 'data', split), new Set(dirs.filter((d) => d.startsWith(`data/${split}/`)).map((d) => d.split('/')[2]!)));

  try {
    saveModel(join(outDir, 'weights', 'init'), m);
  } catch (e) {
    writeFailed(join(outDir, 'weights', 'init'), e);
  }

  const attention = runAttention(m, model);
  const run: Record<string, unknown> = { model: { config, init: 'weights/init', attention } };
  if (plan.train) {
    const tr = trainRun(plan.train, dirs[0]!, dirs.slice(1), built[0]!.index.buckets.map((b) => b.length));
    run['train'] = tr;
    const tables: Record<string, BlockTables> = {};
    if (tabulatable(attention.mask, plan.train.data.config.pack.kind)) {
      const lengths = new Set<number>();
      for (const b of built[0]!.index.buckets) for (const sh of b.shards) if (sh.sequences > 0) lengths.add(sh.tokens / sh.sequences);
      for (const T of [...lengths].sort((a, b) => a - b)) tables[String(T)] = blockTables(attention.mask, config.heads, T);
    }
    run['blockTables'] = tables;
  }
  run['decodes'] = decodes.map((d) => d.run);
  const spec = {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    generator: `lmpc ${compilerVersion()}`,
    source: { file, sha256: sha256(text) },
    target: { kind: plan.kind, name: opts.target },
    ir: { target: plan.train ?? plan.decodes[0]!, decodes: decodes.map((d) => d.spec) },
    run,
  };
  const contents: [string, string][] = [
    ['spec.json', JSON.stringify(spec, null, 1) + '\n'],
    ['README.md', packageReadme(file, plan, opts.target)],
    ...templates,
  ];
  for (const [rel, body] of contents) {
    const p = join(outDir, rel);
    try {
      ensureDir(dirname(p));
      writeFileAtomic(p, body);
    } catch (e) {
      writeFailed(p, e);
    }
  }
  const outputs: Record<string, string> = {};
  for (const rel of files) outputs[rel] = hashFile(join(outDir, rel));
  for (const d of dirs) outputs[`${d}/index.json`] = hashFile(join(outDir, d, 'index.json'));
  try {
    writeFileAtomic(join(outDir, STAMP), JSON.stringify({ key, outputs } satisfies Stamp) + '\n');
  } catch (e) {
    writeFailed(join(outDir, STAMP), e);
  }
  return { ok: true, outDir, skipped: false, files };
}

/** Remove shard cache entries of an earlier export that this one no longer uses. */
function pruneStale(dir: string, keep: ReadonlySet<string>): void {
  if (!existsSync(dir)) return;
  for (const n of readdirSync(dir)) if (/^[0-9a-f]{16}$/.test(n) && !keep.has(n)) rmSync(join(dir, n), { recursive: true, force: true });
}

function packageReadme(file: string, plan: Plan, target: string): string {
  const lines = [
    `# ${target}: exported by lmpc from ${file}`,
    '',
    'Generated by `lmpc export --pytorch` — do not edit; re-export instead. Needs torch >= 2.6 and safetensors.',
    '',
    '| file | what |',
    '| --- | --- |',
    '| `spec.json` | the resolved IR of the target (`ir`) and what this package runs (`run`) |',
    '| `lmpx/` | the model (Hugging Face names), masks, attention paths, data sampler, trainer, sampler chain |',
    '| `weights/init/` | lmp\'s seeded initial weights (config.json + model.safetensors) |',
    ...(plan.train ? ['| `data/` | the shards `lmpc data` writes (training split and held-out evals) |', '| `train.py` | training, also under torchrun (FSDP2) |'] : []),
    '| `generate.py` | the decode blocks\' sampler chains |',
    '',
    ...(plan.train
      ? [
          '```sh',
          'python train.py [--steps N] [--device cpu|cuda] [--log PATH] [--resume] [--attention auto|sdpa|flex|flex-compiled]',
          'torchrun --nproc-per-node 8 train.py --device cuda',
          '```',
          '',
        ]
      : []),
    '```sh',
    'python generate.py [--decode NAME] [--weights DIR] [--prompt TEXT] [--device cpu|cuda]',
    '```',
    '',
  ];
  return lines.join('\n');
}
