// What the checker may learn from the files a data declaration reads, and the tokenizer facts
// the size bounds need. Used by SourceMatchRule (LMP0407) and EmptyPackRule (LMP0406).
//
// File checks run only when the checked file is on disk: its folder is where relative paths
// resolve, as at run time (`lmpc run` resolves against the .lmp file's folder). A source string
// in a test (file 't.lmp' that does not exist) is never looked up.
//
// Bounded work per check: a glob walks at most GLOB_ENTRIES directory entries (beyond, nothing
// is judged); a file is read whole only when it has at most READ_FILE_MAX bytes and the check has
// read less than READ_TOTAL_MAX so far; every other file counts by its size. What a file said
// is kept for later checks while its stat is unchanged (readOnce), and so is each document's
// hold-out side (docHeldOut).
import { readFileSync, statSync, type BigIntStats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Decl, Expr, Program } from '../../grammar/ast.js';
import { isHeldOut } from '../../runtime/data/corpus.js';
import { globMatches, readJsonl } from '../../runtime/data/sources.js';
import { firstInvalidUtf8 } from '../io/read.js';
import type { RuleContext } from './context.js';
import { argOf, asBuiltin } from './facts.js';
import { clauseArg } from './inherit.js';
import { unwrap } from './values.js';

export const GLOB_ENTRIES = 20_000;
export const READ_FILE_MAX = 1 << 20;
export const READ_TOTAL_MAX = 16 << 20;

/** The folder relative source paths resolve against, when `file` is a file on disk. */
export function sourceRoot(file: string): string | undefined {
  try {
    return statSync(file).isFile() ? resolve(dirname(file)) : undefined;
  } catch {
    return undefined;
  }
}

/** A source call's path (text glob, jsonl or parquet path), when written as a string. */
export function sourcePath(e: Expr | undefined): { kind: 'text' | 'jsonl' | 'parquet'; path: string; call: NonNullable<ReturnType<typeof asBuiltin>> } | undefined {
  const c = asBuiltin(e, 'source');
  if (!c) return undefined;
  const kind = c.def.name as 'text' | 'jsonl' | 'parquet';
  const p = argOf(c, kind === 'text' ? 'glob' : 'path');
  return p?.kind === 'String' ? { kind, path: p.value, call: c } : undefined;
}

interface CheckFiles {
  readonly globs: Map<string, string[] | null>;
  readonly docs: Map<string, SourceDocs | undefined>;
  read: number;
}
const perCheck = new WeakMap<Program, CheckFiles>();
const filesOf = (program: Program): CheckFiles => {
  let f = perCheck.get(program);
  if (!f) perCheck.set(program, (f = { globs: new Map(), docs: new Map(), read: 0 }));
  return f;
};

/** The files a source reads (possibly none); null when the glob walk is over budget. */
export function sourceFiles(program: Program, root: string, kind: 'text' | 'jsonl' | 'parquet', path: string): string[] | null {
  const cache = filesOf(program).globs;
  const key = `${kind}\0${root}\0${path}`;
  if (!cache.has(key)) {
    let files: string[] | null;
    if (kind === 'text') files = globMatches(path, root, GLOB_ENTRIES);
    else {
      const abs = resolve(root, path);
      files = isFile(abs) ? [abs] : [];
    }
    cache.set(key, files);
  }
  return cache.get(key)!;
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** One document: an upper bound on its decoded text in UTF-8 bytes, and its bytes when read (what the hold-out hash reads). */
export interface Doc {
  readonly size: number;
  readonly bytes: Uint8Array | null;
}

/**
 * A source's documents (empty ones, which the runtime drops, left out). `docs` lists them one by
 * one when known; otherwise only `count`, `total` and `max` bound them. `exact`: every size is
 * the decoded text's exact byte length (the byte tokenizer's token count) and every document's
 * bytes are known.
 */
export interface SourceDocs {
  readonly docs: readonly Doc[] | null;
  readonly count: number;
  readonly total: number;
  readonly max: number;
  readonly exact: boolean;
}

const lossy = new TextDecoder('utf-8');
/** A name or string argument's text (`on_error: skip`, `eot none`). */
const word = (e: Expr | undefined): string | undefined => (e?.kind === 'Ident' ? e.name : e?.kind === 'String' ? e.value : undefined);

/**
 * What earlier checks read, by file (and jsonl field): kept while the file's size, times and inode
 * are unchanged, so that checking again (the language server checks on every edit) neither reads
 * nor measures nor hashes the same files again. At most CACHE_MAX bytes of files, oldest out first.
 * The per-check budget still counts a cached file as read.
 */
const CACHE_MAX = 2 * READ_TOTAL_MAX;
/** A file changed this recently is read again each time: file times are coarse, a rewrite within a clock tick keeps them (git's racy entries). */
const RACY_MS = 1000;
const readCache = new Map<string, { readonly stamp: string; readonly size: number; readonly value: unknown }>();
let cachedBytes = 0;
function readOnce<T>(key: string, st: BigIntStats, read: () => T): T {
  const stamp = `${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}`;
  const hit = readCache.get(key);
  if (hit?.stamp === stamp) return hit.value as T;
  if (hit) {
    readCache.delete(key);
    cachedBytes -= hit.size;
  }
  const value = read();
  // every write sets ctime to the current time (utimes too)
  if (Date.now() - Number(st.ctimeMs) < RACY_MS) return value;
  const size = Number(st.size);
  for (const [k, e] of readCache) {
    if (cachedBytes + size <= CACHE_MAX) break;
    readCache.delete(k);
    cachedBytes -= e.size;
  }
  readCache.set(key, { stamp, size, value });
  cachedBytes += size;
  return value;
}

const heldOutMemo = new WeakMap<Uint8Array, Map<string, boolean>>();
/** runtime/data isHeldOut of a document's bytes, memoized per document (every use of a data declaration, and every check, asks again). */
export function docHeldOut(bytes: Uint8Array, fraction: number, seed: number): boolean {
  let memo = heldOutMemo.get(bytes);
  if (!memo) heldOutMemo.set(bytes, (memo = new Map()));
  const key = `${fraction}:${Object.is(seed, -0) ? '-0' : seed}`;
  let v = memo.get(key);
  if (v === undefined) memo.set(key, (v = isHeldOut(bytes, fraction, seed)));
  return v;
}

/** Bounds over a list of documents. */
export function docsBounds(docs: readonly Doc[], exact: boolean): SourceDocs {
  return { docs, count: docs.length, total: docs.reduce((a, d) => a + d.size, 0), max: docs.reduce((a, d) => Math.max(a, d.size), 0), exact };
}

/** The documents of one text or jsonl source; undefined when not bounded (parquet, unreadable, malformed). */
export function sourceDocs(program: Program, root: string, src: NonNullable<ReturnType<typeof sourcePath>>): SourceDocs | undefined {
  if (src.kind === 'parquet') return undefined;
  const files = sourceFiles(program, root, src.kind, src.path);
  if (!files || files.length === 0) return undefined;
  const state = filesOf(program);
  const field = argOf(src.call, 'field');
  const onError = argOf(src.call, 'on_error');
  const opts = { field: word(field) ?? 'text', onError: word(onError) === 'skip' ? ('skip' as const) : ('fail' as const) };
  const key = `${src.kind}\0${root}\0${src.path}\0${opts.field}\0${opts.onError}`;
  if (state.docs.has(key)) return state.docs.get(key);
  let out: SourceDocs | undefined;
  try {
    const docs: Doc[] = [];
    let exact = true;
    let aggregate = null as { count: number; total: number; max: number } | null;
    for (const f of files) {
      const st = statSync(f, { bigint: true });
      const size = Number(st.size);
      const readable = size <= READ_FILE_MAX && state.read + size <= READ_TOTAL_MAX;
      if (readable) state.read += size;
      if (src.kind === 'text') {
        if (size === 0) continue;
        if (!readable) {
          // an invalid byte decodes to U+FFFD (3 bytes): the decoded text has at most 3x the bytes
          docs.push({ size: 3 * size, bytes: null });
          exact = false;
          continue;
        }
        docs.push(
          readOnce(f, st, (): Doc => {
            const buf = readFileSync(f);
            return { size: firstInvalidUtf8(buf) < 0 ? buf.length : Buffer.byteLength(lossy.decode(buf), 'utf8'), bytes: buf };
          }),
        );
      } else if (readable) {
        const fileDocs = readOnce(`${f}\0${opts.field}\0${opts.onError}`, st, () => {
          const out: Doc[] = [];
          for (const d of readJsonl(f, { ...opts }, { malformedLines: 0, missingField: 0 })) {
            const bytes = Buffer.from(d.text ?? '', 'utf8');
            if (bytes.length > 0) out.push({ size: bytes.length, bytes });
          }
          return out;
        });
        docs.push(...fileDocs);
      } else {
        // at most one document per byte; JSON escapes only shrink, invalid bytes grow 3x
        exact = false;
        aggregate = { count: (aggregate?.count ?? 0) + size, total: (aggregate?.total ?? 0) + 3 * size, max: Math.max(aggregate?.max ?? 0, 3 * size) };
      }
    }
    const known = docsBounds(docs, exact);
    out = aggregate ? { docs: null, count: known.count + aggregate.count, total: known.total + aggregate.total, max: Math.max(known.max, aggregate.max), exact: false } : known;
  } catch {
    out = undefined; // unreadable or malformed: the run reports it
  }
  state.docs.set(key, out);
  return out;
}

/** How a tokenizer counts, for bounds: bytes (exactly the UTF-8 bytes), tiktoken (at most that), hf (unbounded here). */
export interface TokenizerFacts {
  readonly kind: 'bytes' | 'tiktoken' | 'hf';
  /** Whether an EOT token follows each document (`eot none`: no). */
  readonly appendEot: boolean;
}

/** A tokenizer as written in a data `tokenizer` clause or a model's `vocab` (a declaration or a call). */
export function tokenizerFacts(ctx: RuleContext, e: Expr | undefined): TokenizerFacts | undefined {
  if (e === undefined) return undefined;
  let call = e;
  let appendEot = true;
  if (e.kind === 'Ident') {
    const d = ctx.lookup(e.name);
    if (d?.declKind !== 'tokenizer') return undefined;
    const eff = ctx.effective(d);
    const v = eff.value ?? clauseArg(eff, 'use');
    if (v === undefined) return undefined;
    call = v;
    const eot = clauseArg(eff, 'eot');
    appendEot = word(eot) !== 'none';
  }
  const c = asBuiltin(call, 'tokenizer');
  return c ? { kind: c.def.name as TokenizerFacts['kind'], appendEot } : undefined;
}

/**
 * The tokenizer a model's prompts are encoded with (runtime/entry/common.ts modelTokenizer): its
 * `vocab` tokenizer; without one, the tokenizer recorded beside the checkpoint it loads (undefined:
 * not known here); for a model a train of the file trains, the train's data tokenizer (runTrain
 * records it on the model, which the file's decodes and evals then use; undefined when its trains
 * read different tokenizers or one not known here); else the byte tokenizer (the runtime's default).
 */
export function modelTokenizer(ctx: RuleContext, model: Decl): TokenizerFacts | undefined {
  const eff = ctx.effective(model);
  const v = clauseArg(eff, 'vocab');
  if (v !== undefined && v.kind !== 'Number') return tokenizerFacts(ctx, unwrap(v));
  const loads = clauseArg(eff, 'load') !== undefined || asBuiltin(eff.value, 'checkpoint') !== undefined;
  if (loads) return undefined;
  const trained = trainTokenizers(ctx, model.name.name);
  if (trained.length === 0) return { kind: 'bytes', appendEot: true };
  const first = trained[0];
  return first && trained.every((t) => t && t.kind === first.kind && t.appendEot === first.appendEot) ? first : undefined;
}

/** The data tokenizers of the trains of the file that train model `name` (undefined: one not known here). */
function trainTokenizers(ctx: RuleContext, name: string): (TokenizerFacts | undefined)[] {
  const out: (TokenizerFacts | undefined)[] = [];
  for (const d of ctx.program.decls) {
    if (d.declKind !== 'train') continue;
    const eff = ctx.effective(d);
    const m = clauseArg(eff, 'model');
    const mu = m ? unwrap(m) : undefined;
    if (mu?.kind !== 'Ident' || mu.name !== name) continue;
    const dataE = clauseArg(eff, 'data');
    const du = dataE ? unwrap(dataE) : undefined;
    const data = du?.kind === 'Ident' ? ctx.lookup(du.name) : undefined;
    out.push(data?.declKind === 'data' ? tokenizerFacts(ctx, clauseArg(ctx.effective(data), 'tokenizer')) : undefined);
  }
  return out;
}
