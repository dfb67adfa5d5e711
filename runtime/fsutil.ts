// Directory creation that always ends. Node 20's `mkdirSync(p, { recursive: true })` loops
// forever when a parent reports ENOENT after being created (pseudo file systems such as /proc
// and /sys: `mkdirSync('/proc/gen', { recursive: true })` never returns). ensureDir walks the
// path's components itself, one mkdir attempt per missing component, so it makes at most
// (depth) system calls plus one stat per component, and every failure is an Error with
// `code = 'LMP0906'` (the catalog's "cannot write") naming the path and the reason. writeError
// gives any other failed write the same code and the same words for the reason.
import { appendFileSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export class DirError extends Error {
  readonly code = 'LMP0906';
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`cannot create directory '${path}': ${reason}`);
    this.name = 'DirError';
  }
}

/** Words for a file-system error code; ENOENT's depend on the operation (`enoent`). */
const REASONS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  ENOTDIR: 'a parent is not a directory',
  EISDIR: 'it is a directory',
};
const reasonFor = (code: string, enoent: string): string => (code === 'ENOENT' ? enoent : (REASONS[code] ?? code));

function reasonOf(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err?.code ? reasonFor(err.code, 'the parent cannot hold new directories') : String(e);
}

function isDir(p: string): boolean | undefined {
  try {
    return statSync(p).isDirectory();
  } catch {
    return undefined;
  }
}

/** Create `dir` and its missing parents; returns the absolute path. Throws DirError (LMP0906). */
export function ensureDir(dir: string): string {
  const abs = resolve(dir);
  const missing: string[] = [];
  let p = abs;
  for (;;) {
    const d = isDir(p);
    if (d === true) break;
    if (d === false) throw new DirError(abs, p === abs ? 'a file with that name exists' : `'${p}' is not a directory`);
    missing.push(p);
    const parent = dirname(p);
    if (parent === p) break; // a root that does not exist (cannot happen on POSIX; be bounded anyway)
    p = parent;
  }
  for (let i = missing.length - 1; i >= 0; i--) {
    const m = missing[i]!;
    try {
      mkdirSync(m);
    } catch (e) {
      // Another process may have made it between the stat and the mkdir.
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && isDir(m)) continue;
      throw new DirError(abs, reasonOf(e));
    }
    // /proc and friends can "succeed" without a directory appearing; do not go on below it.
    if (isDir(m) !== true) throw new DirError(abs, 'the directory did not appear after mkdir');
  }
  return abs;
}

/** A write failure as the catalog's LMP0906 ("cannot write 'PATH': REASON"); coded errors pass through. */
export function writeError(path: string, e: unknown): Error {
  const err = e as { code?: unknown; message?: string };
  if (typeof err?.code === 'string' && err.code.startsWith('LMP')) return e as Error;
  const reason = typeof err?.code === 'string' ? reasonFor(err.code, 'the folder does not exist') : String(err?.message ?? e);
  return Object.assign(new Error(`cannot write '${path}': ${reason}`), { code: 'LMP0906', path });
}

/** Append one JSON line; a failure is LMP0906 naming the file. */
export function appendJsonl(path: string, record: object): void {
  try {
    appendFileSync(path, JSON.stringify(record) + '\n');
  } catch (e) {
    throw writeError(path, e);
  }
}
