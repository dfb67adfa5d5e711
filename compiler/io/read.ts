// Reading .lmp sources safely: every failure is a diagnostic (LMP09xx), never an exception.
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import type { Span } from '../../grammar/ast.js';
import { diag, type Diagnostic } from '../../grammar/diagnostics.js';

/** Files larger than this are refused (LMP0904) before reading. */
export const MAX_SOURCE_BYTES = 64 * 1024 * 1024;

export type ReadResult = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly diagnostic: Diagnostic };

/** The span I/O diagnostics point at: the start of the file. */
export const fileSpan = (file: string): Span => ({ file, start: 0, end: 0, line: 1, col: 1 });

/**
 * Offset of the first byte that is not part of well-formed UTF-8 (overlong forms, surrogates
 * and code points above U+10FFFF included), or -1 when the whole buffer is valid.
 */
export function firstInvalidUtf8(buf: Uint8Array): number {
  const n = buf.length;
  let i = 0;
  while (i < n) {
    const b = buf[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      else if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      else if (b === 0xf4) hi = 0x8f;
    } else return i;
    if (i + need >= n) return i;
    const c1 = buf[i + 1];
    if (c1 === undefined || c1 < lo || c1 > hi) return i;
    for (let k = 2; k <= need; k++) {
      const c = buf[i + k];
      if (c === undefined || c < 0x80 || c > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

export function readSource(path: string): ReadResult {
  const span = fileSpan(path);
  const fail = (d: Diagnostic): ReadResult => ({ ok: false, diagnostic: d });
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return fail(diag('LMP0901', span, { path }));
    return fail(diag('LMP0907', span, { path, reason: describeError(e) }));
  }
  if (st.isDirectory()) return fail(diag('LMP0902', span, { path }));
  if (st.size > MAX_SOURCE_BYTES) return fail(diag('LMP0904', span, { path, size: st.size, max: MAX_SOURCE_BYTES }));
  let buf: Buffer;
  try {
    const fd = openSync(path, 'r');
    try {
      // Read what is there now (the size may have changed since stat), up to the limit + 1.
      const size = Math.min(fstatSync(fd).size, MAX_SOURCE_BYTES + 1);
      buf = Buffer.alloc(size);
      let off = 0;
      while (off < size) {
        const r = readSync(fd, buf, off, size - off, off);
        if (r === 0) break;
        off += r;
      }
      buf = buf.subarray(0, off);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    return fail(diag('LMP0907', span, { path, reason: describeError(e) }));
  }
  if (buf.length > MAX_SOURCE_BYTES) return fail(diag('LMP0904', span, { path, size: buf.length, max: MAX_SOURCE_BYTES }));
  let text: string;
  try {
    text = decoder.decode(buf);
  } catch {
    const offset = firstInvalidUtf8(buf);
    return fail(diag('LMP0903', span, { path, offset: offset < 0 ? 0 : offset }));
  }
  return { ok: true, text };
}

export function describeError(e: unknown): string {
  const err = e as NodeJS.ErrnoException & { reason?: unknown };
  // runtime/fsutil's DirError (code LMP0906) already says why in words.
  if (err && typeof err === 'object' && typeof err.reason === 'string') return err.reason;
  if (err && typeof err === 'object' && typeof err.code === 'string') {
    const words: Record<string, string> = { EACCES: 'permission denied', EPERM: 'operation not permitted', EISDIR: 'is a directory', ENOSPC: 'no space left on device', EROFS: 'read-only file system', ENOENT: 'no such file or directory' };
    return words[err.code] ?? err.code;
  }
  return e instanceof Error ? e.message : String(e);
}
