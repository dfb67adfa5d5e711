// `lmpc explain --plot FILE.svg`: attention FLOPs per optimizer step by sequence length, for every
// train of the file (one point per bucket, sized by its share of steps, and the mix's mean), against
// the concat-and-chunk baseline curve (causal, same tokens per step). Log-log axes; below, the share
// of steps per length. Plain SVG 1.1, no scripts, no external fonts.
import type { ExplainReport, TrainReport } from './report.js';
import { lenText, si } from './render.js';

const W = 960;
const H = 640;
const M = { left: 92, right: 220, top: 70, bottom: 70 };
const MIX_H = 120; // height of the step-share panel
const GAP = 46;
const COLORS = ['#1f6fb4', '#d1495b', '#2a9d55', '#8a5cc2', '#e08a1e'];

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const f = (x: number): string => (Math.round(x * 10) / 10).toString();

/** Per-step causal concat-and-chunk attention FLOPs at length C (training): 6 L d tps (C + 1). */
function ccAt(t: TrainReport, C: number): number {
  // the train's baseline is at one length; the curve scales as (C + 1) / (C0 + 1)
  return (t.baseline.attentionFlops * (C + 1)) / (t.baseline.length + 1);
}

export function renderSvg(r: ExplainReport): string {
  const trains = r.trains;
  const plotW = W - M.left - M.right;
  const mainH = H - M.top - M.bottom - MIX_H - GAP;
  const o: string[] = [];
  o.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  o.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  o.push(`<text x="${M.left}" y="28" font-size="17" font-weight="bold" fill="#222">Attention FLOPs per training step by sequence length</text>`);
  if (!trains.length) {
    o.push(`<text x="${M.left}" y="${M.top + 40}" fill="#555">${esc(r.file)}: no train block could be costed${r.skipped.length ? ` (${esc(r.skipped.join('; '))})` : ''}</text>`);
    o.push('</svg>');
    return o.join('\n') + '\n';
  }
  const t0 = trains[0]!;
  o.push(
    `<text x="${M.left}" y="48" font-size="12" fill="#555">${esc(r.file)} · forward + backward · ${esc(si(t0.tokensPerStep))} tokens per step · model ${esc(t0.model)} · baseline: concat-and-chunk, causal</text>`,
  );

  // x: log2 of length
  const lens = trains.flatMap((t) => [...t.buckets.map((b) => b.length), ...t.baselines.map((b) => b.length)]);
  const lo = Math.floor(Math.log2(Math.min(...lens))) - 0.5;
  const hi = Math.ceil(Math.log2(Math.max(...lens))) + 0.5;
  const X = (len: number): number => M.left + ((Math.log2(len) - lo) / (hi - lo)) * plotW;
  // y: log10 of FLOPs
  const ys = trains.flatMap((t) => [...t.buckets.map((b) => b.attentionFlops), t.mean.attentionFlops, ccAt(t, 2 ** lo), ccAt(t, 2 ** hi)]);
  const ylo = Math.floor(Math.log10(Math.min(...ys)));
  const yhi = Math.ceil(Math.log10(Math.max(...ys)));
  const Y = (v: number): number => M.top + mainH - ((Math.log10(v) - ylo) / (yhi - ylo)) * mainH;

  // grid and axes
  o.push(`<g stroke="#e4e4e4" stroke-width="1">`);
  for (let e = ylo; e <= yhi; e++) {
    o.push(`<line x1="${M.left}" y1="${f(Y(10 ** e))}" x2="${M.left + plotW}" y2="${f(Y(10 ** e))}"/>`);
    for (let k = 2; k < 10 && e < yhi; k++) o.push(`<line x1="${M.left}" y1="${f(Y(k * 10 ** e))}" x2="${M.left + plotW}" y2="${f(Y(k * 10 ** e))}" stroke="#f3f3f3"/>`);
  }
  for (let k = Math.ceil(lo); k <= Math.floor(hi); k++) o.push(`<line x1="${f(X(2 ** k))}" y1="${M.top}" x2="${f(X(2 ** k))}" y2="${M.top + mainH}"/>`);
  o.push(`</g>`);
  o.push(`<rect x="${M.left}" y="${M.top}" width="${plotW}" height="${mainH}" fill="none" stroke="#888"/>`);
  o.push(`<g fill="#444" font-size="11">`);
  for (let e = ylo; e <= yhi; e++) o.push(`<text x="${M.left - 8}" y="${f(Y(10 ** e) + 4)}" text-anchor="end">${esc(si(10 ** e))}</text>`);
  for (let k = Math.ceil(lo); k <= Math.floor(hi); k++) o.push(`<text x="${f(X(2 ** k))}" y="${M.top + mainH + 16}" text-anchor="middle">${lenText(2 ** k)}</text>`);
  o.push(`</g>`);
  o.push(`<text transform="translate(24 ${f(M.top + mainH / 2)}) rotate(-90)" text-anchor="middle" fill="#333">attention FLOPs per step (log)</text>`);
  o.push(`<text x="${f(M.left + plotW / 2)}" y="${M.top + mainH + 34}" text-anchor="middle" fill="#333">sequence length in tokens (log2)</text>`);

  // baseline curve(s), one per distinct (model, tokens per step)
  const seen = new Set<string>();
  const legend: { color: string; dash?: string; label: string; marker?: boolean }[] = [];
  for (const t of trains) {
    const key = `${t.model}:${t.tokensPerStep}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const pts: string[] = [];
    for (let i = 0; i <= 60; i++) {
      const l = 2 ** (lo + ((hi - lo) * i) / 60);
      pts.push(`${f(X(l))},${f(Y(ccAt(t, l)))}`);
    }
    o.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="#555" stroke-width="2" stroke-dasharray="7 5"/>`);
    for (const b of t.baselines) {
      o.push(`<circle cx="${f(X(b.length))}" cy="${f(Y(b.attentionFlops))}" r="5" fill="#fff" stroke="#555" stroke-width="2"/>`);
      o.push(`<text x="${f(X(b.length) + 8)}" y="${f(Y(b.attentionFlops) + 16)}" fill="#444" font-size="11">CC ${lenText(b.length)}: ${esc(si(b.attentionFlops))}</text>`);
    }
    if (seen.size === 1) legend.push({ color: '#555', dash: '7 5', label: 'concat-and-chunk at length L' });
  }

  // trains: buckets (area ~ share of steps) joined by a line, and the mix's mean as a level
  trains.forEach((t, i) => {
    const c = COLORS[i % COLORS.length]!;
    const pts = t.buckets.map((b) => `${f(X(b.length))},${f(Y(b.attentionFlops))}`);
    if (t.buckets.length > 1) o.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${c}" stroke-width="1.5" opacity="0.6"/>`);
    for (const b of t.buckets) o.push(`<circle cx="${f(X(b.length))}" cy="${f(Y(b.attentionFlops))}" r="${f(3 + 9 * Math.sqrt(b.stepFraction))}" fill="${c}" fill-opacity="0.35" stroke="${c}" stroke-width="1.5"/>`);
    if (t.buckets.length > 1) {
      const y = Y(t.mean.attentionFlops);
      o.push(`<line x1="${M.left}" y1="${f(y)}" x2="${M.left + plotW}" y2="${f(y)}" stroke="${c}" stroke-width="2"/>`);
      const eqX = X(Math.max(2 ** lo, t.equivalentContext));
      o.push(`<line x1="${f(eqX)}" y1="${f(y)}" x2="${f(eqX)}" y2="${M.top + mainH}" stroke="${c}" stroke-width="1" stroke-dasharray="2 3"/>`);
      o.push(`<text x="${f(M.left + plotW + 6)}" y="${f(y + 4)}" fill="${c}" font-size="11" font-weight="bold">${esc(t.name)} mean</text>`);
      o.push(`<text x="${f(M.left + plotW + 6)}" y="${f(y + 18)}" fill="${c}" font-size="11">${esc(si(t.mean.attentionFlops))} = CC at ${lenText(Math.round(t.equivalentContext))}</text>`);
      const r2k = t.baselines.find((b) => b.length === 2048);
      if (r2k) o.push(`<text x="${f(M.left + plotW + 6)}" y="${f(y + 32)}" fill="${c}" font-size="11">${r2k.ratio.attention.toFixed(2)}x CC 2k, ${t.ratio.attention.toFixed(2)}x CC ${lenText(t.baseline.length)}</text>`);
    }
    legend.push({ color: c, label: `${t.name}: ${t.packer}${t.buckets.length > 1 ? ' (area ~ share of steps)' : ''}`, marker: true });
    if (t.buckets.length > 1) legend.push({ color: c, label: `${t.name}: mean over the curriculum's mix` });
  });

  // legend (top left, inside the plot)
  const lx = M.left + 12;
  let ly = M.top + 14;
  const lw = Math.max(...legend.map((l) => l.label.length)) * 6.3 + 44;
  o.push(`<rect x="${lx - 6}" y="${ly - 12}" width="${f(lw)}" height="${legend.length * 18 + 6}" fill="#fff" fill-opacity="0.92" stroke="#ccc"/>`);
  for (const l of legend) {
    if (l.marker) o.push(`<circle cx="${lx + 12}" cy="${ly - 4}" r="5" fill="${l.color}" fill-opacity="0.35" stroke="${l.color}" stroke-width="1.5"/>`);
    else o.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 24}" y2="${ly - 4}" stroke="${l.color}" stroke-width="2"${l.dash ? ` stroke-dasharray="${l.dash}"` : ''}/>`);
    o.push(`<text x="${lx + 32}" y="${ly}" fill="#222">${esc(l.label)}</text>`);
    ly += 18;
  }

  // share of steps per length
  const top = M.top + mainH + GAP;
  o.push(`<text x="${M.left}" y="${top - 6}" fill="#333" font-size="12" font-weight="bold">share of steps per length</text>`);
  o.push(`<line x1="${M.left}" y1="${top + MIX_H}" x2="${M.left + plotW}" y2="${top + MIX_H}" stroke="#888"/>`);
  const maxShare = Math.max(...trains.flatMap((t) => t.buckets.map((b) => b.stepFraction)));
  const bw = Math.min(18, (plotW / (hi - lo) / (trains.length + 1)) * 0.9);
  trains.forEach((t, i) => {
    const c = COLORS[i % COLORS.length]!;
    for (const b of t.buckets) {
      const h = (b.stepFraction / maxShare) * (MIX_H - 16);
      const x = X(b.length) + (i - (trains.length - 1) / 2) * (bw + 2) - bw / 2;
      o.push(`<rect x="${f(x)}" y="${f(top + MIX_H - h)}" width="${f(bw)}" height="${f(h)}" fill="${c}" fill-opacity="0.75"/>`);
      o.push(`<text x="${f(x + bw / 2)}" y="${f(top + MIX_H - h - 3)}" text-anchor="middle" fill="#444" font-size="10">${Math.round(100 * b.stepFraction)}%</text>`);
    }
  });
  for (let k = Math.ceil(lo); k <= Math.floor(hi); k++) o.push(`<text x="${f(X(2 ** k))}" y="${top + MIX_H + 14}" text-anchor="middle" fill="#444" font-size="11">${lenText(2 ** k)}</text>`);

  o.push('</svg>');
  return o.join('\n') + '\n';
}
