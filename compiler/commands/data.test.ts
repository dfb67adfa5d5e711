import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runData } from './data.js';
import type { CliIo } from './context.js';

const CORPUS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'corpus');
const work = mkdtempSync(join(tmpdir(), 'lmp-cmd-data-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function capture(env: Record<string, string | undefined> = {}): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (s) => out.push(s), stderr: (s) => err.push(s), env };
}

const LMP = `tokenizer bytes = bytes()

data small {
  source text("corpus/moby-dick-*.txt")
  source jsonl("corpus/sotu-excerpts.jsonl", field: "text")
  tokenizer bytes
  pack concat_chunk(256)
}

data nothing from small {
  source text("corpus/no-such-*.txt")
}
`;

function project(name: string, text = LMP): string {
  const dir = join(work, name);
  cpSync(CORPUS, join(dir, 'corpus'), { recursive: true, filter: (p) => !p.includes('/sotu/') && !p.includes('/moby/') });
  const file = join(dir, 'main.lmp');
  writeFileSync(file, text);
  return file;
}

describe('lmpc data', () => {
  it('--json prints only the stats; a second run reuses the cache entry', async () => {
    const file = project('p1');
    const out = join(work, 'cache1');
    const io = capture();
    const a = await runData(file, { target: 'small', json: true, out }, io);
    expect(a.code).toBe(0);
    expect(a.reused).toBe(false);
    const stats = JSON.parse(io.out.join(''));
    // 3 chapters + 5 speeches read; bytes tokenizer: tokens = bytes + one EOT per document
    expect(stats.documentsRead).toBe(8);
    expect(stats.tokensRead).toBe(stats.bytesRead + 8);
    expect(stats.tokensPacked + stats.tokensDropped).toBe(stats.tokensMixed);
    expect(stats.tokensDropped).toBe(stats.tokensMixed % 256);
    expect(stats.perBucket).toEqual({ '256': Math.floor(stats.tokensMixed / 256) });
    expect(stats.paddingFraction).toBe(0);
    expect(stats.histogramAfter.reduce((x: number, y: number) => x + y, 0)).toBe(stats.sequences);
    expect(stats.histogramBefore.reduce((x: number, y: number) => x + y, 0)).toBe(stats.documentsMixed);
    expect(io.err.join('')).toBe(''); // no progress bar without a terminal
    const entries = readdirSync(out);
    expect(entries).toEqual([a.key]);

    const io2 = capture();
    const b = await runData(file, { target: 'small', json: true, out }, io2);
    expect(b.code).toBe(0);
    expect(b.reused).toBe(true);
    expect(b.key).toBe(a.key);
    expect(JSON.parse(io2.out.join(''))).toEqual(stats);
  });

  it('a progress bar only on a terminal without --json and CI', async () => {
    const file = project('p2');
    const tty = capture();
    expect((await runData(file, { target: 'small', out: join(work, 'c2a'), stderrTTY: true }, tty)).code).toBe(0);
    expect(tty.err.join('')).toMatch(/write|read/);
    expect(tty.out.join('')).toMatch(/^wrote /);
    const ci = capture({ CI: 'true' });
    expect((await runData(file, { target: 'small', out: join(work, 'c2b'), stderrTTY: true }, ci)).code).toBe(0);
    expect(ci.err.join('')).toBe('');
    const json = capture();
    expect((await runData(file, { target: 'small', out: join(work, 'c2c'), stderrTTY: true, json: true }, json)).code).toBe(0);
    expect(json.err.join('')).toBe('');
  });

  it('exit codes: 1 for check errors, 2 for an unknown target, a glob matching nothing, an unreadable file', async () => {
    const bad = project('p3', LMP + '\ndata broken {\n  source text(\n}\n');
    let io = capture();
    expect((await runData(bad, { target: 'small', out: join(work, 'c3') }, io)).code).toBe(1);
    expect(io.err.join('')).toMatch(/error/);
    expect(io.out.join('')).toBe('');

    const file = project('p4');
    io = capture();
    expect((await runData(file, { target: 'missing', out: join(work, 'c4') }, io)).code).toBe(2);
    expect(io.err.join('')).toMatch(/no data declaration named 'missing'.*small, nothing/);

    io = capture();
    expect((await runData(file, { target: 'nothing', json: true, out: join(work, 'c4') }, io)).code).toBe(2);
    expect(io.err.join('')).toContain('corpus/no-such-*.txt');
    expect(io.out.join('')).toBe('');

    io = capture();
    expect((await runData(join(work, 'no-such.lmp'), { target: 'small' }, io)).code).toBe(2);
    expect(io.err.join('')).toMatch(/cannot read/);
  });

  it.runIf(process.platform === 'linux')('an output folder that cannot be created (/proc) is LMP0906 with exit 2, not a hang', async () => {
    const io = capture();
    expect((await runData(project('p5'), { target: 'small', out: '/proc/lmp-x' }, io)).code).toBe(2);
    expect(io.err.join('')).toMatch(/error LMP0906: cannot create directory '\/proc\/lmp-x/);
  });
});
