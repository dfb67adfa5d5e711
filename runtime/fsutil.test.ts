import { mkdtempSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DirError, ensureDir } from './fsutil.js';

const root = mkdtempSync(join(tmpdir(), 'lmp-fsutil-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(DirError);
    return (e as DirError).code;
  }
  return undefined;
}

describe('ensureDir', () => {
  it('creates missing parents and is idempotent', () => {
    const p = join(root, 'a', 'b', 'c');
    expect(ensureDir(p)).toBe(p);
    expect(statSync(p).isDirectory()).toBe(true);
    expect(ensureDir(p)).toBe(p);
  });
  it('a file in the way is LMP0906, not ENOTDIR', () => {
    const f = join(root, 'file');
    writeFileSync(f, 'x');
    expect(codeOf(() => ensureDir(f))).toBe('LMP0906');
    expect(codeOf(() => ensureDir(join(f, 'below')))).toBe('LMP0906');
  });
  // Node 20's mkdirSync(..., { recursive: true }) never returns on these paths.
  it.runIf(process.platform === 'linux')('pseudo file systems fail fast with LMP0906 (/proc)', () => {
    expect(codeOf(() => ensureDir('/proc/lmp-gen'))).toBe('LMP0906');
    expect(codeOf(() => ensureDir('/proc/lmp-gen/deeper/still'))).toBe('LMP0906');
  });
});

// Every directory the toolchain creates goes through ensureDir: a recursive mkdirSync anywhere
// else in compiler/ or runtime/ brings the /proc hang back.
describe('no recursive mkdirSync outside fsutil', () => {
  it('compiler/ and runtime/ sources', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const { fileURLToPath } = await import('node:url');
    const repo = join(fileURLToPath(new URL('.', import.meta.url)), '..');
    const offenders: string[] = [];
    for (const top of ['compiler', 'runtime']) {
      for (const f of readdirSync(join(repo, top), { recursive: true }) as string[]) {
        if (!f.endsWith('.ts') || f.endsWith('.test.ts') || f === 'fsutil.ts') continue;
        const text = readFileSync(join(repo, top, f), 'utf8');
        if (/mkdirSync\([^)]*recursive/.test(text)) offenders.push(`${top}/${f}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
