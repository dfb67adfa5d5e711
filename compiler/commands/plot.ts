// `lmpc plot LOG.jsonl -o loss.svg|loss.png [--run ID|all] [--json]`: a train's metrics log
// (the JSONL its `log` clause writes) as two panels over steps: the training loss, and the
// held-out perplexity per length bucket (or per position range, or overall) of its periodic
// evals, on a log axis. SVG is written by hand; PNG is the same picture rasterized here (lines,
// rectangles, a 3x5 pixel font) and encoded with runtime/mask's PNG encoder (node:zlib). Both are
// written atomically. Errors are diagnostics like `lmpc check`'s: a missing or unreadable log is
// LMP0901/LMP0902/LMP0903/LMP0904/LMP0907, a line that is not a JSON object or a log without a
// step LMP0910, an unwritable output LMP0906 (exit 1); a bad option exits 2.
//
// Reading is tolerant: fields it does not know are ignored, and lines it does not know (other
// records) are skipped. Runs: a line's `run` field names its run; lines without one belong to an
// unnamed run, which starts again when a step line's step does not grow (two runs appended to one
// log). One run is plotted: the run of the last line, or `--run ID`; `--run all` plots every run,
// each its own series. Within a series a repeated step keeps its last value.
import type { Command } from 'commander';
import { diag, type Diagnostic } from '../../grammar/diagnostics.js';
import { encodePng } from '../../runtime/mask/render.js';
import { describeError, fileSpan, readSource } from '../io/read.js';
import { writeFileAtomic } from '../io/write.js';
import { printReports } from './check.js';
import { contextOf, setExit, useColor } from './context.js';

// ---------------------------------------------------------------------------------------------
// Reading the log

export interface Series {
  readonly panel: 'loss' | 'ppl';
  /** The run id (or "(no run id)", "(no run id) #2", ...). */
  readonly run: string;
  /** What the series measures: "loss", "corpus.holdout length 256", "ev position <= 64", ... */
  readonly name: string;
  /** For perplexity: the evaluation ("corpus.holdout", an eval's name) and the bucket ("length 256", "overall"). */
  readonly source?: string;
  readonly bucket?: string;
  /** (step, value), ascending steps. */
  readonly points: readonly (readonly [number, number])[];
}

export interface TrainLog {
  /** Run ids in order of first appearance. */
  readonly runs: readonly string[];
  /** The run of the last line. */
  readonly lastRun: string | undefined;
  readonly series: readonly Series[];
  /** Lines that were objects but neither a step nor a known eval record. */
  readonly skipped: number;
  /** The last line had no newline and was not JSON (a run still writing): left out. */
  readonly partialLastLine: boolean;
}

type Json = { readonly [k: string]: unknown };
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const obj = (v: unknown): Json | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
const arr = (v: unknown): readonly unknown[] => (Array.isArray(v) ? v : []);

/** The held-out perplexity points of one eval record at its step: [series name, ppl]. */
function evalPoints(r: Json): [string, number][] {
  const ev = r['eval'];
  const out: [string, number][] = [];
  /** One point per bucket of `list` with a known key (field -> label) and a perplexity; whether any. */
  const buckets = (list: unknown, keys: Readonly<Record<string, string>>, ppl: (b: Json) => number | undefined, prefix: string): boolean => {
    let any = false;
    for (const b of arr(list)) {
      const o = obj(b);
      const key = o ? Object.keys(keys).find((k) => num(o[k]) !== undefined) : undefined;
      const p = o ? ppl(o) : undefined;
      if (!o || key === undefined || p === undefined) continue;
      out.push([`${prefix} ${keys[key]} ${num(o[key])}`, p]);
      any = true;
    }
    return any;
  };
  const LENGTH = { length: 'length' }, POSITION = { position: 'position <=' };
  if (typeof ev === 'string') {
    // runtime/entry: {eval: 'perplexity', data, by_length, by_position, overall} or an eval block
    // record {eval: NAME, task, metrics, cells}
    if (ev === 'perplexity' && obj(r['overall'])) {
      const label = typeof r['data'] === 'string' ? r['data'] : 'held-out';
      const byL = buckets(r['by_length'], LENGTH, (b) => num(b['ppl']), label);
      const byP = buckets(r['by_position'], POSITION, (b) => num(b['ppl']), label);
      const overall = num(obj(r['overall'])!['ppl']);
      if (!byL && !byP && overall !== undefined) out.push([`${label} overall`, overall]);
      return out;
    }
    const metrics = obj(r['metrics']);
    const overall = metrics ? num(metrics['perplexity']) : undefined;
    if (overall === undefined) return out;
    const cells = buckets(r['cells'], { ...LENGTH, ...POSITION }, (c) => num(obj(c['metrics'])?.['perplexity']), ev);
    if (!cells) out.push([`${ev} overall`, overall]);
    return out;
  }
  // runtime/model's Trainer: {eval: {loss, ppl, tokens, byLength: [{maxLength, ppl}], byPosition}}
  const e = obj(ev);
  if (!e) return out;
  const byL = buckets(e['byLength'], { maxLength: 'length' }, (b) => num(b['ppl']), 'held-out');
  const byP = !byL && buckets(e['byPosition'], { maxPosition: 'position <=' }, (b) => num(b['ppl']), 'held-out');
  if (!byL && !byP && num(e['ppl']) !== undefined) out.push(['held-out overall', num(e['ppl'])!]);
  return out;
}

/** Parse a metrics log; a line that is not a JSON object is a diagnostic at that line. */
export function readTrainLog(text: string, path: string): { ok: true; log: TrainLog } | { ok: false; diagnostic: Diagnostic } {
  const lines = text.split('\n');
  const fail = (i: number, reason: string) => {
    const start = lines.slice(0, i).reduce((a, l) => a + l.length + 1, 0);
    return { ok: false as const, diagnostic: diag('LMP0910', { file: path, start, end: start + lines[i]!.length, line: i + 1, col: 1 }, { path, reason }) };
  };
  const series = new Map<string, { panel: 'loss' | 'ppl'; run: string; name: string; points: Map<number, number> }>();
  const runs: string[] = [];
  let lastRun: string | undefined;
  let anon = 0;
  let anonStep = -Infinity;
  let skipped = 0;
  let steps = 0;
  let partialLastLine = false;
  const add = (panel: 'loss' | 'ppl', run: string, name: string, step: number, v: number) => {
    const key = `${panel}\0${run}\0${name}`;
    let s = series.get(key);
    if (!s) series.set(key, (s = { panel, run, name, points: new Map() }));
    s.points.set(step, v);
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '') continue;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch {
      if (i === lines.length - 1) {
        partialLastLine = true; // no newline after it: a line still being written
        continue;
      }
      return fail(i, `line ${i + 1} is not JSON`);
    }
    const o = obj(r);
    if (!o) return fail(i, `line ${i + 1} is not a JSON object`);
    const step = num(o['step']);
    if (step === undefined) {
      skipped++;
      continue;
    }
    const loss = num(o['loss']);
    const isStep = loss !== undefined && o['eval'] === undefined;
    let run: string;
    if (typeof o['run'] === 'string') run = o['run'];
    else {
      if (isStep && step <= anonStep) anon++;
      if (isStep) anonStep = step;
      run = anon === 0 ? '(no run id)' : `(no run id) #${anon + 1}`;
    }
    const points = isStep ? [] : evalPoints(o);
    if (!isStep && points.length === 0) {
      skipped++;
      continue;
    }
    if (!runs.includes(run)) runs.push(run);
    lastRun = run;
    if (isStep) {
      add('loss', run, 'loss', step, loss);
      steps++;
    } else for (const [name, v] of points) add('ppl', run, name, step, v);
  }
  if (steps === 0 && series.size === 0) return fail(0, 'no line has a step with a loss or a held-out evaluation');
  const out: Series[] = [...series.values()].map((s) => {
    const cut = s.name.indexOf(' ');
    const parts = s.panel === 'ppl' && cut > 0 ? { source: s.name.slice(0, cut), bucket: s.name.slice(cut + 1) } : {};
    return { panel: s.panel, run: s.run, name: s.name, ...parts, points: [...s.points.entries()].sort((a, b) => a[0] - b[0]) };
  });
  return { ok: true, log: { runs, lastRun, series: out, skipped, partialLastLine } };
}

// ---------------------------------------------------------------------------------------------
// The picture: primitives drawn by both backends

type Rgb = readonly [number, number, number];
type Prim =
  | { readonly t: 'rect'; readonly x: number; readonly y: number; readonly w: number; readonly h: number; readonly fill?: Rgb; readonly stroke?: Rgb; readonly attrs?: Readonly<Record<string, string>> }
  | { readonly t: 'line'; readonly x1: number; readonly y1: number; readonly x2: number; readonly y2: number; readonly color: Rgb; readonly dash?: boolean }
  | { readonly t: 'poly'; readonly pts: readonly (readonly [number, number])[]; readonly color: Rgb; readonly attrs: Readonly<Record<string, string>> }
  | { readonly t: 'text'; readonly x: number; readonly y: number; readonly text: string; readonly anchor: 'start' | 'middle' | 'end'; readonly color: Rgb; readonly bold?: boolean };

export const PLOT_W = 960;
export const PLOT_H = 720;
const M = { left: 84, right: 250, top: 62, bottom: 52, gap: 70 };
const INK: Rgb = [34, 34, 34];
const GRID: Rgb = [221, 221, 221];
const FRAME: Rgb = [136, 136, 136];
const COLORS: readonly Rgb[] = [[31, 111, 180], [209, 73, 91], [42, 157, 85], [138, 92, 194], [224, 138, 30], [23, 162, 184], [120, 120, 120], [188, 128, 64]];

interface Axis {
  readonly min: number;
  readonly max: number;
  readonly log: boolean;
  readonly ticks: readonly number[];
}

function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

function linearAxis(lo: number, hi: number, count: number): Axis {
  if (lo === hi) {
    const d = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= d;
    hi += d;
  }
  const step = niceStep(hi - lo, count);
  const min = Math.floor(lo / step) * step, max = Math.ceil(hi / step) * step;
  const ticks: number[] = [];
  for (let v = min; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return { min, max, log: false, ticks };
}

function logAxis(lo: number, hi: number): Axis {
  const a = Math.floor(Math.log10(lo) + 1e-12);
  let b = Math.ceil(Math.log10(hi) - 1e-12);
  if (a === b) b = a + 1;
  const ticks: number[] = [];
  for (let k = a; k <= b; k++) for (const m of b - a <= 2 ? [1, 2, 5] : [1]) if (k < b || m === 1) ticks.push(Number((m * 10 ** k).toPrecision(12)));
  return { min: 10 ** a, max: 10 ** b, log: true, ticks };
}

function tickText(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(0).replace('+', '');
  if (a >= 1000 && Number.isInteger(v / 1000)) return `${v / 1000}k`;
  return String(Number(v.toPrecision(4)));
}

/** At most two points per pixel column (its minimum and maximum), so a long run stays small. */
function decimate(pts: readonly (readonly [number, number])[], toX: (s: number) => number): (readonly [number, number])[] {
  if (pts.length <= 2000) return [...pts];
  const out: (readonly [number, number])[] = [];
  let col = NaN, lo: readonly [number, number] | null = null, hi: readonly [number, number] | null = null;
  const flush = () => {
    if (!lo || !hi) return;
    const pair = lo[0] <= hi[0] ? [lo, hi] : [hi, lo];
    out.push(pair[0]!);
    if (pair[1] !== pair[0]) out.push(pair[1]!);
  };
  for (const p of pts) {
    const c = Math.round(toX(p[0]));
    if (c !== col) {
      flush();
      col = c;
      lo = hi = p;
    } else {
      if (p[1] < lo![1]) lo = p;
      if (p[1] > hi![1]) hi = p;
    }
  }
  flush();
  return out;
}

const r2 = (x: number): number => Math.round(x * 100) / 100;

/** [min, max] of a list of any length (spreading a long run's points into Math.min overflows the stack). */
function extent(xs: readonly number[]): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (const x of xs) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  return [lo, hi];
}

/** The picture of a log's selected series. */
export function plotScene(series: readonly Series[], title: string): Prim[] {
  const out: Prim[] = [];
  const steps = series.flatMap((s) => s.points.map((p) => p[0]));
  const xAxis = linearAxis(...extent(steps), 8);
  const left = M.left, right = PLOT_W - M.right;
  const panelH = (PLOT_H - M.top - M.bottom - M.gap) / 2;
  const toX = (s: number) => left + ((s - xAxis.min) / (xAxis.max - xAxis.min)) * (right - left);
  out.push({ t: 'rect', x: 0, y: 0, w: PLOT_W, h: PLOT_H, fill: [255, 255, 255] });
  out.push({ t: 'text', x: left, y: 22, text: title, anchor: 'start', color: INK, bold: true });
  const runs = [...new Set(series.map((s) => s.run))];
  // one evaluation: named in the panel's title, its series by bucket alone
  const sources = [...new Set(series.filter((s) => s.panel === 'ppl').map((s) => s.source))];
  const one = sources.length === 1 && sources[0] !== undefined ? sources[0] : undefined;
  const panels = [
    { key: 'loss' as const, label: 'training loss', top: M.top },
    { key: 'ppl' as const, label: `held-out perplexity${one ? ` of ${one}` : ''} (log axis)`, top: M.top + panelH + M.gap },
  ];
  for (const panel of panels) {
    const top = panel.top, bottom = top + panelH;
    const ps = series.filter((s) => s.panel === panel.key && s.points.length > 0);
    out.push({ t: 'text', x: left, y: top - 8, text: panel.label, anchor: 'start', color: INK });
    if (ps.length === 0) {
      out.push({ t: 'rect', x: left, y: top, w: right - left, h: panelH, stroke: FRAME });
      out.push({ t: 'text', x: (left + right) / 2, y: (top + bottom) / 2, text: panel.key === 'ppl' ? 'no held-out evaluation in the log' : 'no training steps in the log', anchor: 'middle', color: FRAME });
      continue;
    }
    const vals = ps.flatMap((s) => s.points.map((p) => p[1]));
    const [lo, hi] = extent(vals);
    const y = panel.key === 'ppl' && lo > 0 ? logAxis(lo, hi) : linearAxis(lo, hi, 5);
    const f = (v: number) => (y.log ? Math.log10(v) : v);
    const toY = (v: number) => bottom - ((f(v) - f(y.min)) / (f(y.max) - f(y.min))) * panelH;
    for (const t of y.ticks) {
      out.push({ t: 'line', x1: left, y1: toY(t), x2: right, y2: toY(t), color: GRID, dash: true });
      out.push({ t: 'text', x: left - 6, y: toY(t) + 4, text: tickText(t), anchor: 'end', color: INK });
    }
    for (const t of xAxis.ticks) {
      out.push({ t: 'line', x1: toX(t), y1: top, x2: toX(t), y2: bottom, color: GRID, dash: true });
      out.push({ t: 'text', x: toX(t), y: bottom + 16, text: tickText(t), anchor: 'middle', color: INK });
    }
    out.push({ t: 'text', x: (left + right) / 2, y: bottom + 34, text: 'step', anchor: 'middle', color: INK });
    out.push({
      t: 'rect', x: left, y: top, w: right - left, h: panelH, stroke: FRAME,
      attrs: { class: 'plot-area', 'data-panel': panel.key, 'data-x-min': String(xAxis.min), 'data-x-max': String(xAxis.max), 'data-y-min': String(y.min), 'data-y-max': String(y.max), 'data-y-scale': y.log ? 'log' : 'linear' },
    });
    const shown = ps.slice(0, 16);
    shown.forEach((s, i) => {
      const color = COLORS[i % COLORS.length]!;
      const pts = decimate(s.points, toX).map(([st, v]) => [r2(toX(st)), r2(toY(v))] as const);
      const name = one && s.bucket ? s.bucket : s.name;
      const label = runs.length > 1 ? `${s.run}: ${name}` : name;
      out.push({ t: 'poly', pts, color, attrs: { 'data-panel': panel.key, 'data-run': s.run, 'data-series': s.name } });
      const ly = top + 8 + i * 18;
      out.push({ t: 'line', x1: right + 16, y1: ly, x2: right + 36, y2: ly, color });
      out.push({ t: 'text', x: right + 42, y: ly + 4, text: label.length > 25 ? label.slice(0, 24) + '~' : label, anchor: 'start', color: INK });
    });
    if (ps.length > shown.length) out.push({ t: 'text', x: right + 42, y: top + 8 + shown.length * 18 + 4, text: `+${ps.length - shown.length} more`, anchor: 'start', color: FRAME });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// SVG

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const rgb = (c: Rgb): string => `rgb(${c[0]},${c[1]},${c[2]})`;
const attrText = (a: Readonly<Record<string, string>> | undefined): string => (a ? Object.entries(a).map(([k, v]) => ` ${k}="${esc(v)}"`).join('') : '');

export function renderPlotSvg(scene: readonly Prim[]): string {
  const o: string[] = [`<?xml version="1.0" encoding="UTF-8"?>`, `<svg xmlns="http://www.w3.org/2000/svg" width="${PLOT_W}" height="${PLOT_H}" viewBox="0 0 ${PLOT_W} ${PLOT_H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`];
  for (const p of scene) {
    switch (p.t) {
      case 'rect':
        o.push(`<rect x="${r2(p.x)}" y="${r2(p.y)}" width="${r2(p.w)}" height="${r2(p.h)}" fill="${p.fill ? rgb(p.fill) : 'none'}"${p.stroke ? ` stroke="${rgb(p.stroke)}"` : ''}${attrText(p.attrs)}/>`);
        break;
      case 'line':
        o.push(`<line x1="${r2(p.x1)}" y1="${r2(p.y1)}" x2="${r2(p.x2)}" y2="${r2(p.y2)}" stroke="${rgb(p.color)}"${p.dash ? ' stroke-dasharray="3,3"' : ' stroke-width="2"'}/>`);
        break;
      case 'poly':
        o.push(`<polyline fill="none" stroke="${rgb(p.color)}" stroke-width="1.5" points="${p.pts.map(([x, y]) => `${x},${y}`).join(' ')}"${attrText(p.attrs)}/>`);
        break;
      case 'text':
        o.push(`<text x="${r2(p.x)}" y="${r2(p.y)}" text-anchor="${p.anchor}" fill="${rgb(p.color)}"${p.bold ? ' font-weight="bold" font-size="14"' : ''}>${esc(p.text)}</text>`);
        break;
    }
  }
  o.push('</svg>');
  return o.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// PNG: the same primitives rasterized (1-2 px lines, a 3x5 font drawn at 2x)

// 3 columns x 5 rows per glyph, rows top to bottom as 3-bit masks (4 = left column).
const FONT: Readonly<Record<string, readonly number[]>> = {
  '0': [7, 5, 5, 5, 7], '1': [2, 6, 2, 2, 7], '2': [7, 1, 7, 4, 7], '3': [7, 1, 7, 1, 7], '4': [5, 5, 7, 1, 1],
  '5': [7, 4, 7, 1, 7], '6': [7, 4, 7, 5, 7], '7': [7, 1, 1, 1, 1], '8': [7, 5, 7, 5, 7], '9': [7, 5, 7, 1, 7],
  a: [2, 5, 7, 5, 5], b: [6, 5, 6, 5, 6], c: [3, 4, 4, 4, 3], d: [6, 5, 5, 5, 6], e: [7, 4, 6, 4, 7], f: [7, 4, 6, 4, 4],
  g: [3, 4, 5, 5, 3], h: [5, 5, 7, 5, 5], i: [7, 2, 2, 2, 7], j: [1, 1, 1, 5, 2], k: [5, 5, 6, 5, 5], l: [4, 4, 4, 4, 7],
  m: [5, 7, 7, 5, 5], n: [6, 5, 5, 5, 5], o: [2, 5, 5, 5, 2], p: [6, 5, 6, 4, 4], q: [2, 5, 5, 6, 3], r: [6, 5, 6, 5, 5],
  s: [3, 4, 2, 1, 6], t: [7, 2, 2, 2, 2], u: [5, 5, 5, 5, 7], v: [5, 5, 5, 5, 2], w: [5, 5, 7, 7, 5], x: [5, 5, 2, 5, 5],
  y: [5, 5, 2, 2, 2], z: [7, 1, 2, 4, 7], '.': [0, 0, 0, 0, 2], ',': [0, 0, 0, 2, 4], '-': [0, 0, 7, 0, 0], _: [0, 0, 0, 0, 7],
  ':': [0, 2, 0, 2, 0], '(': [1, 2, 2, 2, 1], ')': [4, 2, 2, 2, 4], '/': [1, 1, 2, 4, 4], '%': [5, 1, 2, 4, 5], '+': [0, 2, 7, 2, 0],
  '=': [0, 7, 0, 7, 0], '<': [1, 2, 4, 2, 1], '>': [4, 2, 1, 2, 4], '#': [5, 7, 5, 7, 5], '~': [0, 3, 6, 0, 0], ' ': [0, 0, 0, 0, 0],
  '?': [7, 1, 2, 0, 2],
};
const GLYPH_W = 8; // 3 columns at 2x plus 2 px of spacing

export function renderPlotRgb(scene: readonly Prim[]): Uint8Array {
  const W = PLOT_W, H = PLOT_H;
  const px = new Uint8Array(W * H * 3);
  const set = (x: number, y: number, c: Rgb) => {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= W || y >= H) return;
    const i = (y * W + x) * 3;
    px[i] = c[0];
    px[i + 1] = c[1];
    px[i + 2] = c[2];
  };
  const line = (x1: number, y1: number, x2: number, y2: number, c: Rgb, width: number, dash = false) => {
    const n = Math.max(1, Math.ceil(Math.max(Math.abs(x2 - x1), Math.abs(y2 - y1))));
    for (let k = 0; k <= n; k++) {
      if (dash && k % 6 >= 3) continue;
      const x = x1 + ((x2 - x1) * k) / n, y = y1 + ((y2 - y1) * k) / n;
      set(x, y, c);
      if (width > 1) {
        set(x + 1, y, c);
        set(x, y + 1, c);
      }
    }
  };
  for (const p of scene) {
    switch (p.t) {
      case 'rect':
        if (p.fill) for (let y = Math.round(p.y); y < Math.round(p.y + p.h); y++) for (let x = Math.round(p.x); x < Math.round(p.x + p.w); x++) set(x, y, p.fill);
        if (p.stroke) {
          line(p.x, p.y, p.x + p.w, p.y, p.stroke, 1);
          line(p.x, p.y + p.h, p.x + p.w, p.y + p.h, p.stroke, 1);
          line(p.x, p.y, p.x, p.y + p.h, p.stroke, 1);
          line(p.x + p.w, p.y, p.x + p.w, p.y + p.h, p.stroke, 1);
        }
        break;
      case 'line':
        line(p.x1, p.y1, p.x2, p.y2, p.color, p.dash ? 1 : 2, p.dash);
        break;
      case 'poly':
        if (p.pts.length === 1) line(p.pts[0]![0] - 1, p.pts[0]![1], p.pts[0]![0] + 1, p.pts[0]![1], p.color, 2);
        for (let i = 1; i < p.pts.length; i++) line(p.pts[i - 1]![0], p.pts[i - 1]![1], p.pts[i]![0], p.pts[i]![1], p.color, 2);
        break;
      case 'text': {
        const text = p.text.toLowerCase();
        const w = text.length * GLYPH_W;
        let x0 = Math.round(p.anchor === 'start' ? p.x : p.anchor === 'middle' ? p.x - w / 2 : p.x - w);
        const y0 = Math.round(p.y) - 10;
        for (const ch of text) {
          const g = FONT[ch] ?? FONT['?']!;
          for (let r = 0; r < 5; r++) for (let c = 0; c < 3; c++) if (g[r]! & (4 >> c)) for (let d = 0; d < 4; d++) set(x0 + c * 2 + (d & 1), y0 + r * 2 + (d >> 1), p.color);
          x0 += GLYPH_W;
        }
        break;
      }
    }
  }
  return px;
}

export function renderPlotPng(scene: readonly Prim[]): Buffer {
  return encodePng(PLOT_W, PLOT_H, renderPlotRgb(scene));
}

// ---------------------------------------------------------------------------------------------
// The command

export function register(program: Command): void {
  program
    .command('plot')
    .description("plot a train's metrics log (JSONL): training loss and held-out perplexity by length over steps, as SVG or PNG")
    .argument('<log>', 'the metrics log a train\'s `log` clause writes')
    .requiredOption('-o, --output <file>', 'loss.svg or loss.png')
    .option('--run <id>', "which run of the log: a run id, or 'all' (default: the run of the last line)")
    .option('--json', 'print only JSON on stdout')
    .action(function (this: Command, log: string, opts: { output: string; run?: string; json?: boolean }) {
      const ctx = contextOf(this);
      const json = opts.json === true;
      const usage = (msg: string) => {
        ctx.io.stderr(`lmpc plot: ${msg}\n`);
        setExit(ctx, 2);
      };
      const report = (d: Diagnostic, file: string, source?: string) => setExit(ctx, printReports([{ file, source, diagnostics: [d] }], ctx.io, json, useColor(ctx.io)));
      const ext = opts.output.toLowerCase().match(/\.(svg|png)$/)?.[1];
      if (!ext) return usage('-o must end in .svg or .png');
      const src = readSource(log);
      if (!src.ok) return report(src.diagnostic, log);
      const parsed = readTrainLog(src.text, log);
      if (!parsed.ok) return report(parsed.diagnostic, log, src.text);
      const tl = parsed.log;
      let runs: string[];
      if (opts.run === undefined) runs = tl.lastRun !== undefined ? [tl.lastRun] : [];
      else if (opts.run === 'all') runs = [...tl.runs];
      else if (tl.runs.includes(opts.run)) runs = [opts.run];
      else return usage(`no run '${opts.run}' in ${log} (runs: ${tl.runs.join(', ')})`);
      const series = tl.series.filter((s) => runs.includes(s.run));
      const title = `${log}${runs.length === 1 ? ` (run ${runs[0]})` : ` (${runs.length} runs)`}`;
      const scene = plotScene(series, title);
      try {
        writeFileAtomic(opts.output, ext === 'png' ? renderPlotPng(scene) : renderPlotSvg(scene));
      } catch (e) {
        // writing, ENOENT is the folder (plot does not create it)
        const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'the folder does not exist' : describeError(e);
        return report(diag('LMP0906', fileSpan(opts.output), { path: opts.output, reason }), opts.output);
      }
      const summary = series.map((s) => ({ panel: s.panel, run: s.run, name: s.name, points: s.points.length }));
      if (json) ctx.io.stdout(JSON.stringify({ output: opts.output, runs, allRuns: tl.runs, series: summary, skippedLines: tl.skipped, partialLastLine: tl.partialLastLine }, null, 2) + '\n');
      else {
        if (tl.partialLastLine) ctx.io.stderr(`lmpc plot: the last line of ${log} is incomplete (a run still writing?); left out\n`);
        const other = tl.runs.length - runs.length;
        ctx.io.stdout(`wrote ${opts.output}: ${summary.filter((s) => s.panel === 'loss').reduce((a, s) => a + s.points, 0)} steps, ${summary.filter((s) => s.panel === 'ppl').length} perplexity series${other > 0 ? ` (${other} other run${other > 1 ? 's' : ''} in the log: --run ID or --run all)` : ''}\n`);
      }
    });
}
