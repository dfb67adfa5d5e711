// Document sources: text(glob) — one document per file; jsonl(path, field) — streamed line by
// line; parquet(path, column) — via hyparquet. Each yields RawDoc records; decoding, hold-out,
// filters and tokenization happen in corpus.ts.
import { closeSync, openSync, readFileSync, readSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import type { SourceConfig } from './config.js';

export class SourceError extends Error {
  readonly code = 'LMP_E_DATA_SOURCE';
  constructor(message: string) {
    super(message);
    this.name = 'SourceError';
  }
}

/** A raw document: bytes (text, jsonl) or an already-decoded string (jsonl, parquet). */
export interface RawDoc {
  bytes?: Uint8Array;
  text?: string;
  /** file or file:line, for error messages. */
  where: string;
}

export interface SourceCounters {
  /** Malformed JSONL lines skipped (onError: 'skip'). */
  malformedLines: number;
  /** JSONL lines / parquet rows whose field is missing or not a string, skipped (onError: 'skip'). */
  missingField: number;
}

// ---------------------------------------------------------------------------------------------
// Glob: `*` (within a path segment), `**` (any number of segments), `?`, `[...]`, `{a,b}`.

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*') {
      if (glob[i + 1] === '*') {
        i++;
        if (glob[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        let cls = glob.slice(i + 1, end);
        if (cls.startsWith('!')) cls = '^' + cls.slice(1);
        re += '[' + cls.replace(/\\/g, '\\\\') + ']';
        i = end;
      }
    } else if (ch === '{') {
      const end = glob.indexOf('}', i + 1);
      if (end < 0) re += '\\{';
      else {
        re += '(?:' + glob.slice(i + 1, end).split(',').map((s) => s.replace(/[.+^$()|\\]/g, '\\$&').replace(/\*/g, '[^/]*')).join('|') + ')';
        i = end;
      }
    } else re += ch.replace(/[.+^$()|\\]/g, '\\$&');
  }
  return new RegExp('^' + re + '$');
}

/** Files matching `pattern` (relative to `root`, or absolute), sorted. No match is an error naming the pattern. */
export function globFiles(pattern: string, root = '.'): string[] {
  const out = globMatches(pattern, root);
  if (!out || out.length === 0) throw new SourceError(`text source: glob '${pattern}' matched no files (resolved against ${resolve(root)})`);
  return out;
}

/**
 * The files `globFiles` would return (possibly none), visiting at most `maxEntries` directory
 * entries; null when the walk would need more (`lmpc check` asks with a small budget).
 */
export function globMatches(pattern: string, root = '.', maxEntries = Infinity): string[] | null {
  const abs = resolve(root, pattern).split(sep).join('/');
  const parts = abs.split('/');
  const firstMagic = parts.findIndex((p) => /[*?[{]/.test(p));
  if (firstMagic < 0) return existsSync(abs) && statSync(abs).isFile() ? [abs] : [];
  const base = parts.slice(0, firstMagic).join('/') || '/';
  const re = globToRegExp(parts.slice(firstMagic).join('/'));
  const out: string[] = [];
  let budget = maxEntries;
  const walk = (dir: string): boolean => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return true;
    }
    if ((budget -= entries.length) < 0) return false;
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (!walk(p)) return false;
      } else if (e.isFile() && re.test(relative(base, p).split(sep).join('/'))) out.push(p.split(sep).join('/'));
    }
    return true;
  };
  return walk(base) ? out.sort() : null;
}

// ---------------------------------------------------------------------------------------------
// JSONL, streamed with a fixed read buffer; lines are only assembled whole.

export interface JsonlOptions {
  field: string;
  onError: 'fail' | 'skip';
  /** Longest accepted line in bytes (default 256 MiB); a longer line is an error naming file:line. */
  maxLineBytes?: number;
  /** Read chunk size (default 1 MiB). */
  chunkBytes?: number;
}

function getField(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** Lines of a file as byte slices (without the newline; a trailing \r is removed), with 1-based line numbers. */
export function* readLines(file: string, maxLineBytes = 256 * 1024 * 1024, chunkBytes = 1 << 20): Generator<[Uint8Array, number]> {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(chunkBytes);
    let parts: Buffer[] = [];
    let partBytes = 0;
    let line = 1;
    for (;;) {
      const n = readSync(fd, buf, 0, chunkBytes, null);
      if (n === 0) break;
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(10, start);
        if (nl < 0 || nl >= n) break;
        let piece: Uint8Array;
        if (partBytes > 0) {
          if (partBytes + (nl - start) > maxLineBytes) throw new SourceError(`${file}:${line}: line longer than ${maxLineBytes} bytes (maxLineBytes)`);
          parts.push(Buffer.from(buf.subarray(start, nl)));
          piece = Buffer.concat(parts, partBytes + nl - start);
          parts = [];
          partBytes = 0;
        } else {
          if (nl - start > maxLineBytes) throw new SourceError(`${file}:${line}: line longer than ${maxLineBytes} bytes (maxLineBytes)`);
          piece = buf.subarray(start, nl);
        }
        if (piece.length > 0 && piece[piece.length - 1] === 13) piece = piece.subarray(0, piece.length - 1);
        yield [piece, line];
        line++;
        start = nl + 1;
      }
      if (start < n) {
        partBytes += n - start;
        if (partBytes > maxLineBytes) throw new SourceError(`${file}:${line}: line longer than ${maxLineBytes} bytes (maxLineBytes)`);
        parts.push(Buffer.from(buf.subarray(start, n)));
      }
    }
    if (partBytes > 0) {
      let piece: Uint8Array = Buffer.concat(parts, partBytes);
      if (piece[piece.length - 1] === 13) piece = piece.subarray(0, piece.length - 1);
      yield [piece, line];
    }
  } finally {
    closeSync(fd);
  }
}

const fatalDecoder = new TextDecoder('utf-8', { fatal: true });

/** Documents of a JSONL file. Empty / whitespace-only lines are ignored (not documents). */
export function* readJsonl(file: string, opts: JsonlOptions, counters: SourceCounters): Generator<RawDoc> {
  if (!existsSync(file)) throw new SourceError(`jsonl source: no file ${file}`);
  for (const [bytes, line] of readLines(file, opts.maxLineBytes, opts.chunkBytes)) {
    let blank = true;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (b !== 32 && b !== 9 && b !== 13) {
        blank = false;
        break;
      }
    }
    if (blank) continue;
    let obj: unknown;
    let text: string;
    try {
      text = fatalDecoder.decode(bytes);
    } catch {
      text = new TextDecoder('utf-8').decode(bytes);
    }
    try {
      obj = JSON.parse(text);
    } catch (e) {
      if (opts.onError === 'skip') {
        counters.malformedLines++;
        continue;
      }
      throw new SourceError(`${file}:${line}: malformed JSON line (${(e as Error).message})`);
    }
    const v = getField(obj, opts.field);
    if (typeof v !== 'string') {
      if (opts.onError === 'skip') {
        counters.missingField++;
        continue;
      }
      throw new SourceError(`${file}:${line}: field '${opts.field}' is ${v === undefined ? 'missing' : 'not a string'}`);
    }
    yield { text: v, where: `${file}:${line}` };
  }
}

/** Documents of a text glob: one per file, as bytes. */
export function* readTextGlob(pattern: string, root: string): Generator<RawDoc> {
  for (const f of globFiles(pattern, root)) yield { bytes: readFileSync(f), where: f };
}

/** Documents of a parquet column (strings; null rows count as missing). */
export async function readParquet(file: string, column: string, counters: SourceCounters, onError: 'fail' | 'skip' = 'fail'): Promise<RawDoc[]> {
  if (!existsSync(file)) throw new SourceError(`parquet source: no file ${file}`);
  const { asyncBufferFromFile, parquetReadObjects, parquetMetadataAsync, parquetSchema } = await import('hyparquet');
  const buf = await asyncBufferFromFile(file);
  const meta = await parquetMetadataAsync(buf);
  const names = parquetSchema(meta).children.map((c) => c.element.name);
  if (!names.includes(column)) throw new SourceError(`parquet source ${file}: no column '${column}' (columns: ${names.join(', ')})`);
  const rows = (await parquetReadObjects({ file: buf, columns: [column], metadata: meta })) as Record<string, unknown>[];
  const out: RawDoc[] = [];
  rows.forEach((r, i) => {
    const v = r[column];
    if (typeof v === 'string') out.push({ text: v, where: `${file}#row${i}` });
    else if (v instanceof Uint8Array) out.push({ bytes: v, where: `${file}#row${i}` });
    else if (onError === 'skip') counters.missingField++;
    else throw new SourceError(`${file}#row${i}: column '${column}' is ${v === null || v === undefined ? 'null' : 'not a string'}`);
  });
  return out;
}

/** All documents of one source config, in file order. */
export async function* readSource(src: SourceConfig, root: string, counters: SourceCounters): AsyncGenerator<RawDoc> {
  switch (src.kind) {
    case 'text':
      yield* readTextGlob(src.glob, root);
      return;
    case 'jsonl':
      yield* readJsonl(resolve(root, src.path), { field: src.field, onError: src.onError }, counters);
      return;
    case 'parquet':
      yield* await readParquet(resolve(root, src.path), src.column, counters);
      return;
  }
}

/** The files a source reads (for content hashes in cache keys). */
export function sourceFiles(src: SourceConfig, root: string): string[] {
  return src.kind === 'text' ? globFiles(src.glob, root) : [resolve(root, src.path)];
}
