// `lmpc build`: checked source -> IR -> {NAME.ts, NAME.kernels.json, NAME.mjs} in an output folder.
//
// Everything is generated in memory first; only when all three outputs exist (and kernels.json
// validates against spec/kernels.schema.json) is anything written, each file atomically
// (temp + rename), and the stamp last. The stamp (`.NAME.lmpc-stamp`) records the hash of the
// source, of the compiler, and of each output; a build whose stamp matches and whose outputs are
// intact is skipped.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { ensureDir } from '../../runtime/fsutil.js';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Diagnostic } from '../../grammar/diagnostics.js';
import { diag } from '../../grammar/diagnostics.js';
import { check } from '../index.js';
import { describeError, fileSpan, readSource } from '../io/read.js';
import { writeFileAtomic } from '../io/write.js';
import type { ProgramIR } from '../ir/types.js';
import { lower } from '../lower/index.js';
import { emitBundle } from './bundle.js';
import { emitKernels } from './kernels.js';
import { validateSchema, type Schema } from './schema.js';
import { emitTypeScript } from './ts.js';

export { emitTypeScript, GENERATED_HEADER, RUNTIME_MODULE } from './ts.js';
export { emitKernels, kernelsJson, KERNELS_VERSION } from './kernels.js';
export { emitBundle } from './bundle.js';
export { validateSchema } from './schema.js';

/** The package root (the folder holding lmp's package.json), from this module's location. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'lmp') return dir;
      } catch {
        // not ours; keep looking
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('lmpc: cannot find the lmp package root');
    dir = up;
  }
}

export function compilerVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

let fingerprint: string | undefined;
/**
 * Hash of the code the outputs depend on: every source of compiler/ and runtime/ (the generated
 * module runs against the runtime, so a runtime change rebuilds too), the kernels schema, and
 * the package version. Tests, declaration files and source maps are left out.
 */
export function compilerFingerprint(): string {
  if (fingerprint) return fingerprint;
  const here = dirname(fileURLToPath(import.meta.url)); // <root>/compiler/emit or <root>/dist/compiler/emit
  const top = dirname(dirname(here)); // <root> or <root>/dist
  const h = createHash('sha256');
  h.update(`lmp ${compilerVersion()}\0`).update(sourcesFingerprint(top));
  const schema = join(packageRoot(), 'spec', 'kernels.schema.json');
  if (existsSync(schema)) h.update(readFileSync(schema));
  fingerprint = h.digest('hex');
  return fingerprint;
}

/** Hash of every source file (.ts/.js/.mjs/.json, not tests, .d.ts or maps) under TOP/compiler and TOP/runtime. */
export function sourcesFingerprint(top: string): string {
  const h = createHash('sha256');
  const add = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) add(p);
      else if (/\.(ts|js|mjs|json)$/.test(name) && !/\.test\.[jt]s$|\.d\.ts$|\.map$/.test(name)) h.update(p.slice(top.length)).update('\0').update(readFileSync(p)).update('\0');
    }
  };
  add(join(top, 'compiler'));
  add(join(top, 'runtime'));
  return h.digest('hex');
}

export const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

let schemaCache: Schema | undefined;
export function kernelsSchema(): Schema {
  schemaCache ??= JSON.parse(readFileSync(join(packageRoot(), 'spec', 'kernels.schema.json'), 'utf8')) as Schema;
  return schemaCache;
}

export interface Outputs {
  readonly ts: string;
  readonly kernels: string;
  readonly bundle: string;
}

/** The three outputs of a lowered program, in memory. Throws when kernels.json breaks its schema (a compiler bug). */
export async function emitAll(ir: ProgramIR, sourceText: string, baseName: string): Promise<Outputs> {
  const ts = emitTypeScript(ir, { sourceHash: sha256(sourceText), compilerVersion: compilerVersion() });
  const kernels = emitKernels(ir);
  const errors = validateSchema(kernelsSchema(), JSON.parse(kernels));
  if (errors.length) throw new Error(`lmpc: ${baseName}.kernels.json does not match spec/kernels.schema.json: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
  const bundle = await emitBundle(ts, baseName);
  return { ts, kernels, bundle };
}

export type BuildResult =
  | { readonly ok: false; readonly source: string | undefined; readonly diagnostics: readonly Diagnostic[] }
  | {
      readonly ok: true;
      readonly source: string;
      readonly diagnostics: readonly Diagnostic[];
      readonly skipped: boolean;
      readonly outDir: string;
      readonly files: readonly string[];
      readonly ir: ProgramIR;
    };

/** What a stamp records: the key of the inputs and each output's sha256 (of its bytes). */
export interface Stamp {
  readonly key: string;
  readonly outputs: Readonly<Record<string, string>>;
}

export const outputNames = (base: string) => ({ ts: `${base}.ts`, kernels: `${base}.kernels.json`, bundle: `${base}.mjs`, stamp: `.${base}.lmpc-stamp` });

/** Build `file` (path as it appears in spans) into `outDir` (default: the file's folder). */
export async function buildFile(file: string, opts: { outDir?: string; force?: boolean } = {}): Promise<BuildResult> {
  const r = readSource(file);
  if (!r.ok) return { ok: false, source: undefined, diagnostics: [r.diagnostic] };
  return buildText(r.text, file, { outDir: opts.outDir ?? dirname(file), force: opts.force ?? false });
}

/** Build source text (already read, possibly patched by `--set`) labelled `file` into `outDir`. */
export async function buildText(text: string, file: string, opts: { outDir: string; force: boolean; baseName?: string }): Promise<BuildResult> {
  const res = check(text, file);
  const diagnostics = res.diagnostics;
  if (diagnostics.some((d) => d.severity === 'error')) return { ok: false, source: text, diagnostics };
  const ir = lower(res.program);
  const base = opts.baseName ?? basename(file, extname(file));
  const names = outputNames(base);
  const outDir = resolve(opts.outDir);
  const key = sha256(JSON.stringify({ source: sha256(text), file, base, compiler: compilerFingerprint(), version: compilerVersion() }));
  const files = [names.ts, names.kernels, names.bundle].map((n) => join(outDir, n));
  if (!opts.force && upToDate(join(outDir, names.stamp), key, outDir)) return { ok: true, source: text, diagnostics, skipped: true, outDir, files, ir };

  const out = await emitAll(ir, text, base);
  const contents: [string, string][] = [
    [names.ts, out.ts],
    [names.kernels, out.kernels],
    [names.bundle, out.bundle],
  ];
  const fail = (path: string, e: unknown): BuildResult => ({ ok: false, source: text, diagnostics: [...diagnostics, diag('LMP0906', fileSpan(file), { path, reason: describeError(e) })] });
  try {
    ensureDir(outDir);
  } catch (e) {
    return fail(outDir, e);
  }
  for (const [name, content] of contents) {
    try {
      writeFileAtomic(join(outDir, name), content);
    } catch (e) {
      return fail(join(outDir, name), e);
    }
  }
  const stamp: Stamp = { key, outputs: Object.fromEntries(contents.map(([n, c]) => [n, sha256(c)])) };
  try {
    writeFileAtomic(join(outDir, names.stamp), JSON.stringify(stamp) + '\n');
  } catch (e) {
    return fail(join(outDir, names.stamp), e);
  }
  return { ok: true, source: text, diagnostics, skipped: false, outDir, files, ir };
}

/** sha256 of a file's bytes (for a UTF-8 text file, sha256 of its text). */
export const hashFile = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Whether the stamp at stampPath has this key and every output it lists (relative to outDir) still has its hash (also lmpc export's stamp). */
export function upToDate(stampPath: string, key: string, outDir: string): boolean {
  let stamp: Stamp;
  try {
    stamp = JSON.parse(readFileSync(stampPath, 'utf8')) as Stamp;
  } catch {
    return false;
  }
  if (stamp.key !== key) return false;
  for (const [name, hash] of Object.entries(stamp.outputs)) {
    try {
      if (hashFile(join(outDir, name)) !== hash) return false;
    } catch {
      return false;
    }
  }
  return true;
}
