// Directory creation that always ends. Node 20's `mkdirSync(p, { recursive: true })` loops
// forever when a parent reports ENOENT after being created (pseudo file systems such as /proc
// and /sys: `mkdirSync('/proc/gen', { recursive: true })` never returns). ensureDir walks the
// path's components itself, one mkdir attempt per missing component, so it makes at most
// (depth) system calls plus one stat per component, and every failure is an Error with
// `code = 'LMP0906'` (the catalog's "cannot write") naming the path and the reason.
import { mkdirSync, statSync } from 'node:fs';
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

function reasonOf(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err?.code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOSPC':
      return 'no space left on device';
    case 'ENOTDIR':
      return 'a parent is not a directory';
    case 'ENOENT':
      return 'the parent cannot hold new directories';
    default:
      return err?.code ? `${err.code}` : String(e);
  }
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
