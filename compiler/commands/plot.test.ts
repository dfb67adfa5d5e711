// lmpc plot: the SVG's polylines are the logged values under the plot area's declared axes (linear
// loss, log perplexity), recomputed here from the log; the PNG decodes (signature, IHDR, CRCs
// with node:zlib's crc32, IDAT) and is drawn in the curve's colour where the SVG's curve passes.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, inflateSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../cli.js';
import { plotScene, PLOT_W, renderPlotSvg } from './plot.js';

const dir = mkdtempSync(join(tmpdir(), 'lmp-plot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function lmpc(args: string[]) {
  let out = '', err = '';
  const code = await main(args, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

// Two runs, as runtime/model/train.ts and runtime/entry write them: step lines (run first), the
// periodic perplexity per bucket length, a field and a record the reader does not know.
const loss = (run: number, step: number) => 5.5 - 0.1 * step - run * 0.3 + 0.05 * Math.sin(step);
const ppl = (run: number, step: number, len: number) => Math.exp(loss(run, step)) * (1 + len / 1024);
const lines: string[] = [];
for (const [r, id] of [[0, 'aaaa1111'], [1, 'bbbb2222']] as const) {
  for (let step = 1; step <= 12; step++) {
    lines.push(JSON.stringify({ run: id, step, loss: loss(r, step), lr: 0.003, gradNorm: 1, tokens: 1024, tokensPerSec: 5e4, ms: 20, future_field: 'x' }));
    if (step % 4 === 0)
      lines.push(JSON.stringify({ run: id, step, eval: 'perplexity', data: 'corpus.holdout', by_length: [64, 256].map((length) => ({ length, tokens: 100, loss: Math.log(ppl(r, step, length)), ppl: ppl(r, step, length) })), by_position: [], overall: { tokens: 200, loss: 1, ppl: 1 } }));
  }
  lines.push(JSON.stringify({ run: id, note: 'something else' }));
}
const LOG = join(dir, 'train.jsonl');
writeFileSync(LOG, lines.join('\n') + '\n');

interface Area {
  x: number;
  y: number;
  w: number;
  h: number;
  xMin: number;
  xMax: number;
  yMin: number;
  yMax: number;
  log: boolean;
}
const attr = (tag: string, name: string): string => new RegExp(`\\s${name}="([^"]*)"`).exec(tag)![1]!;
function areas(svg: string): Map<string, Area> {
  const out = new Map<string, Area>();
  for (const [tag] of svg.matchAll(/<rect [^>]*class="plot-area"[^>]*>/g)) {
    out.set(attr(tag, 'data-panel'), {
      x: Number(attr(tag, 'x')), y: Number(attr(tag, 'y')), w: Number(attr(tag, 'width')), h: Number(attr(tag, 'height')),
      xMin: Number(attr(tag, 'data-x-min')), xMax: Number(attr(tag, 'data-x-max')), yMin: Number(attr(tag, 'data-y-min')), yMax: Number(attr(tag, 'data-y-max')),
      log: attr(tag, 'data-y-scale') === 'log',
    });
  }
  return out;
}
function polylines(svg: string): { panel: string; run: string; series: string; stroke: string; pts: [number, number][] }[] {
  return [...svg.matchAll(/<polyline [^>]*>/g)].map(([tag]) => ({
    panel: attr(tag, 'data-panel'), run: attr(tag, 'data-run'), series: attr(tag, 'data-series'), stroke: attr(tag, 'stroke'),
    pts: attr(tag, 'points').split(' ').map((p) => p.split(',').map(Number) as [number, number]),
  }));
}
/** Where a logged (step, value) must be drawn, from the plot area's declared axes. */
function pixel(a: Area, step: number, v: number): [number, number] {
  const f = (x: number) => (a.log ? Math.log10(x) : x);
  return [a.x + ((step - a.xMin) / (a.xMax - a.xMin)) * a.w, a.y + a.h - ((f(v) - f(a.yMin)) / (f(a.yMax) - f(a.yMin))) * a.h];
}

describe('lmpc plot', () => {
  it('SVG: the last run by default; every polyline point is a logged value under the declared axes', async () => {
    const out = join(dir, 'loss.svg');
    const r = await lmpc(['plot', LOG, '-o', out]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('1 other run in the log');
    const svg = readFileSync(out, 'utf8');
    const a = areas(svg);
    expect([...a.keys()]).toEqual(['loss', 'ppl']);
    expect(a.get('ppl')!.log).toBe(true);
    const ps = polylines(svg);
    expect(ps.map((p) => `${p.panel} ${p.run} ${p.series}`)).toEqual(['loss bbbb2222 loss', 'ppl bbbb2222 corpus.holdout length 64', 'ppl bbbb2222 corpus.holdout length 256']);
    const want = {
      loss: Array.from({ length: 12 }, (_, i) => [i + 1, loss(1, i + 1)] as const),
      64: [4, 8, 12].map((s) => [s, ppl(1, s, 64)] as const),
      256: [4, 8, 12].map((s) => [s, ppl(1, s, 256)] as const),
    };
    for (const [p, w] of [[ps[0]!, want.loss], [ps[1]!, want[64]], [ps[2]!, want[256]]] as const) {
      const area = a.get(p.panel)!;
      expect(p.pts).toHaveLength(w.length);
      w.forEach(([step, v], i) => {
        const [x, y] = pixel(area, step, v);
        expect(p.pts[i]![0]).toBeCloseTo(x, 1);
        expect(p.pts[i]![1]).toBeCloseTo(y, 1);
        // inside the area
        expect(x).toBeGreaterThanOrEqual(area.x);
        expect(y).toBeLessThanOrEqual(area.y + area.h);
      });
    }
    // the perplexity panel names the evaluation once; the legend lists the buckets
    expect(svg).toContain('held-out perplexity of corpus.holdout (log axis)');
    expect(svg).toContain('>length 256</text>');
  });

  it('--run all plots each run as its own series; --run ID picks one; an unknown id is a usage error', async () => {
    const out = join(dir, 'all.svg');
    expect((await lmpc(['plot', LOG, '-o', out, '--run', 'all'])).code).toBe(0);
    const ps = polylines(readFileSync(out, 'utf8'));
    expect(ps.filter((p) => p.panel === 'loss').map((p) => p.run)).toEqual(['aaaa1111', 'bbbb2222']);
    expect(ps.filter((p) => p.panel === 'ppl')).toHaveLength(4);
    expect((await lmpc(['plot', LOG, '-o', out, '--run', 'aaaa1111'])).code).toBe(0);
    expect(polylines(readFileSync(out, 'utf8')).map((p) => p.run)).toEqual(['aaaa1111', 'aaaa1111', 'aaaa1111']);
    const bad = await lmpc(['plot', LOG, '-o', out, '--run', 'cccc']);
    expect(bad.code).toBe(2);
    expect(bad.err).toBe(`lmpc plot: no run 'cccc' in ${LOG} (runs: aaaa1111, bbbb2222)\n`);
  });

  it('PNG: valid chunks and CRCs, and the curve drawn where the SVG puts it', async () => {
    const svgPath = join(dir, 'p.svg'), pngPath = join(dir, 'p.png');
    expect((await lmpc(['plot', LOG, '-o', svgPath])).code).toBe(0);
    expect((await lmpc(['plot', LOG, '-o', pngPath])).code).toBe(0);
    const png = readFileSync(pngPath);
    expect([...png.subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
    const chunks: { type: string; data: Buffer }[] = [];
    for (let off = 8; off < png.length; ) {
      const len = png.readUInt32BE(off);
      const type = png.subarray(off + 4, off + 8).toString('ascii');
      const data = png.subarray(off + 8, off + 8 + len);
      expect(png.readUInt32BE(off + 8 + len)).toBe(crc32(png.subarray(off + 4, off + 8 + len)));
      chunks.push({ type, data });
      off += 12 + len;
    }
    expect(chunks.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
    const ihdr = chunks[0]!.data;
    const W = ihdr.readUInt32BE(0), H = ihdr.readUInt32BE(4);
    expect([ihdr[8], ihdr[9], ihdr[12]]).toEqual([8, 2, 0]); // 8-bit RGB, no interlace
    const raw = inflateSync(chunks[1]!.data);
    expect(raw.length).toBe(H * (1 + 3 * W));
    const rgbAt = (x: number, y: number) => {
      const i = y * (1 + 3 * W) + 1 + 3 * x;
      return [raw[i]!, raw[i + 1]!, raw[i + 2]!];
    };
    for (let y = 0; y < H; y++) expect(raw[y * (1 + 3 * W)]).toBe(0);
    expect(rgbAt(2, H - 2)).toEqual([255, 255, 255]);
    // at each logged step of the loss curve (SVG coordinates), some pixel within 1 px has the curve's colour
    const svg = readFileSync(svgPath, 'utf8');
    const lossLine = polylines(svg).find((p) => p.panel === 'loss')!;
    const colour = lossLine.stroke.match(/\d+/g)!.map(Number);
    for (const [x, y] of lossLine.pts.slice(1, -1)) {
      const near = [-1, 0, 1].flatMap((dx) => [-1, 0, 1].map((dy) => rgbAt(Math.round(x) + dx, Math.round(y) + dy)));
      expect(near.some((c) => c.every((v, k) => v === colour[k]))).toBe(true);
    }
    // and the picture is not blank: many pixels differ from the white background
    let ink = 0;
    for (let i = 0; i < W * H; i++) if (raw[Math.floor(i / W) * (1 + 3 * W) + 1 + 3 * (i % W)] !== 255) ink++;
    expect(ink).toBeGreaterThan(2000);
  });

  it('reads tolerantly: lines without a run id start a new run when the step does not grow; a partial last line is left out', async () => {
    const f = join(dir, 'anon.jsonl');
    const step = (s: number, l: number) => JSON.stringify({ step: s, loss: l });
    writeFileSync(f, [step(1, 3), step(2, 2.5), JSON.stringify({ step: 2, eval: { loss: 2, ppl: 7.4, tokens: 10, byLength: [{ maxLength: 128, ppl: 7.4, loss: 2, tokens: 10, sequences: 1 }], byPosition: [] } }), step(1, 4), step(2, 3.5), '{"step": 3, "lo'].join('\n'));
    const out = join(dir, 'anon.svg');
    const r = await lmpc(['plot', f, '-o', out, '--run', 'all', '--json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as { allRuns: string[]; series: { panel: string; run: string; name: string; points: number }[]; partialLastLine: boolean };
    expect(doc.allRuns).toEqual(['(no run id)', '(no run id) #2']);
    expect(doc.series).toEqual([
      { panel: 'loss', run: '(no run id)', name: 'loss', points: 2 },
      { panel: 'ppl', run: '(no run id)', name: 'held-out length 128', points: 1 },
      { panel: 'loss', run: '(no run id) #2', name: 'loss', points: 2 },
    ]);
    expect(doc.partialLastLine).toBe(true);
  });

  it('a long run (300k steps) is drawn, decimated, not a stack overflow', () => {
    const points = Array.from({ length: 300_000 }, (_, i) => [i + 1, 5 - i / 1e5] as const);
    const svg = renderPlotSvg(plotScene([{ panel: 'loss', run: 'r', name: 'loss', points }], 'long'));
    const poly = /<polyline [^>]*points="([^"]*)"/.exec(svg)![1]!.split(' ');
    expect(poly.length).toBeGreaterThan(100);
    expect(poly.length).toBeLessThanOrEqual(2 * PLOT_W);
  });
  it('coded errors: a missing log, a line that is not JSON, a log without steps, an unwritable output; -o must be .svg or .png', async () => {
    const missing = await lmpc(['plot', join(dir, 'nope.jsonl'), '-o', join(dir, 'x.svg')]);
    expect(missing.code).toBe(1);
    expect(missing.out).toContain('error LMP0901');
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, `${JSON.stringify({ step: 1, loss: 2 })}\nnot json\n${JSON.stringify({ step: 2, loss: 1 })}\n`);
    const b = await lmpc(['plot', bad, '-o', join(dir, 'x.svg'), '--json']);
    expect(b.code).toBe(1);
    expect(JSON.parse(b.out).files[0].diagnostics[0]).toMatchObject({ code: 'LMP0910', line: 2, col: 1, message: `'${bad}' is not a train metrics log: line 2 is not JSON` });
    const empty = join(dir, 'empty.jsonl');
    writeFileSync(empty, '{"hello": 1}\n');
    expect((await lmpc(['plot', empty, '-o', join(dir, 'x.svg')])).out).toContain('no line has a step with a loss or a held-out evaluation');
    const target = join(dir, 'no-such-dir', 'x.svg');
    const w = await lmpc(['plot', LOG, '-o', target]);
    expect(w.code).toBe(1);
    expect(w.out).toContain(`error LMP0906: cannot write '${target}': the folder does not exist`);
    expect(existsSync(join(dir, 'no-such-dir'))).toBe(false);
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    const ext = await lmpc(['plot', LOG, '-o', join(dir, 'x.pdf')]);
    expect(ext.code).toBe(2);
    expect(ext.err).toBe('lmpc plot: -o must end in .svg or .png\n');
  });
});
