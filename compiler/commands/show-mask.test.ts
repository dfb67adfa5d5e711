import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { attachContext, type CliContext } from './context.js';
import { register } from './show-mask.js';

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const program = new Command();
  const ctx: CliContext = { io: { stdout: (s) => (out += s), stderr: (s) => (err += s) }, exitCode: 0 };
  attachContext(program, ctx);
  program.exitOverride().configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  register(program);
  for (const c of program.commands) c.exitOverride();
  await program.parseAsync(['node', 'lmpc', ...args]);
  return { code: ctx.exitCode, out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'lmp-showmask-'));
const file = join(dir, 'a.lmp');
writeFileSync(
  file,
  `attention local {\n  mask causal & window(2)\n}\nattention docs {\n  mask causal & same_document\n}\nattention grouped {\n  mask causal\n  heads 1..1: causal & sink(1)\n}\n`,
);

describe('lmpc show-mask', () => {
  it('draws a causal window in the terminal with its tile classes', async () => {
    const r = await run(['show-mask', file, '--attention', 'local', '--length', '4', '--tile', '2']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const lines = r.out.split('\n');
    // q - kv < 2 and kv <= q over 4 tokens, one cell per token.
    expect(lines.slice(1, 5)).toEqual(['█···', '██··', '·██·', '··██']);
    // tiles of 2: [[p .], [p p]]
    expect(r.out).toContain('p.\npp\n');
  });

  it('uses --docs for same_document and --head for head groups', async () => {
    const r = await run(['show-mask', file, '--attention', 'docs', '--length', '4', '--docs', '1,3']);
    expect(r.out.split('\n').slice(1, 5)).toEqual(['█···', '·█··', '·██·', '·███']);
    const g = await run(['show-mask', file, '--attention', 'grouped', '--length', '3', '--head', '1']);
    expect(g.out.split('\n').slice(1, 4)).toEqual(['█··', '█··', '█··']);
  });

  it('reports an unwritable output path with exit 2 and leaves nothing behind', async () => {
    const target = join(dir, 'no-such-dir', 'm.svg');
    const r = await run(['show-mask', file, '--attention', 'local', '--length', '8', '-o', target]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`cannot write ${target}`);
    expect(r.out).toBe('');
  });

  it('writes a valid PNG and an SVG', async () => {
    const png = join(dir, 'm.png');
    const r = await run(['show-mask', file, '--attention', 'local', '--length', '8', '-o', png]);
    expect(r.code).toBe(0);
    const b = readFileSync(png);
    expect(Array.from(b.subarray(0, 8))).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
    const w = b.readUInt32BE(16), h = b.readUInt32BE(20);
    expect(w).toBe(h);
    const idatLen = b.readUInt32BE(33);
    expect(b.toString('ascii', 37, 41)).toBe('IDAT');
    const raw = inflateSync(b.subarray(41, 41 + idatLen));
    expect(raw.length).toBe(h * (1 + 3 * w));
    // pixel at (row 0, col 0) is visible (dark), (row 0, col w-1) masked (light).
    expect(raw[1]!).toBeLessThan(100);
    expect(raw[1 + 3 * (w - 1)]!).toBeGreaterThan(200);
    const svg = join(dir, 'm.svg');
    await run(['show-mask', file, '--attention', 'local', '--length', '300', '-o', svg]);
    const text = readFileSync(svg, 'utf8');
    expect(text).toMatch(/^<svg /);
    expect(text).toContain('data:image/png;base64,');
    expect(text).toContain('stroke="#e08a00"'); // partial tiles on the diagonal
  });

  it('reports usage errors with exit 2', async () => {
    expect((await run(['show-mask', file, '--attention', 'nope', '--length', '4'])).code).toBe(2);
    expect((await run(['show-mask', file, '--attention', 'local', '--length', '0'])).code).toBe(2);
  });
});
