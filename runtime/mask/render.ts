// Pictures of a mask for `lmpc show-mask`: terminal blocks, SVG and PNG, with the tile grid and
// each tile's class (empty / full / partial) from the block classifier. Only Partial tiles are
// evaluated per element, so large lengths stay cheap. No dependencies beyond node:zlib.
import { deflateSync } from 'node:zlib';
import { BlockClass, type MaskIR } from './ir.js';
import { classifyBlocks, tileCounts } from './classify.js';
import { maskAt } from './eval.js';
import { tileStats } from './checks.js';

export interface RenderOptions {
  readonly length: number;
  readonly tile?: number; // default 64
  readonly docIds?: Int32Array;
}

export interface Raster {
  readonly size: number; // pixels per side
  /** Visible fraction per pixel, row-major size x size. */
  readonly visible: Float32Array;
  /** Tile class under each pixel (of its top-left element). */
  readonly cls: Uint8Array;
}

/** Downsample the mask to `size` x `size` cells; each cell holds the fraction of visible elements. */
export function raster(mask: MaskIR, opts: RenderOptions, size: number): Raster {
  const N = opts.length, tile = opts.tile ?? 64;
  const px = Math.max(1, Math.min(size, N));
  const cls = classifyBlocks(mask, { qLen: N, kvLen: N, tileQ: tile, tileKV: tile, docIds: opts.docIds });
  const { nK } = tileCounts(N, N, tile, tile);
  const ids = opts.docIds;
  const doc = ids ? (p: number) => ids[p]! : undefined;
  const visible = new Float32Array(px * px), pc = new Uint8Array(px * px);
  const edge = (i: number) => Math.floor((i * N) / px);
  for (let y = 0; y < px; y++) {
    const q0 = edge(y), q1 = Math.max(q0 + 1, edge(y + 1));
    for (let x = 0; x < px; x++) {
      const k0 = edge(x), k1 = Math.max(k0 + 1, edge(x + 1));
      let vis = 0;
      for (let q = q0; q < q1; q++)
        for (let k = k0; k < k1; k++) {
          const c = cls[Math.floor(q / tile) * nK + Math.floor(k / tile)];
          if (c === BlockClass.Full) vis++;
          else if (c === BlockClass.Partial && maskAt(mask, q, k, doc)) vis++;
        }
      visible[y * px + x] = vis / ((q1 - q0) * (k1 - k0));
      pc[y * px + x] = cls[Math.floor(q0 / tile) * nK + Math.floor(k0 / tile)]!;
    }
  }
  return { size: px, visible, cls: pc };
}

function summary(mask: MaskIR, opts: RenderOptions): string {
  const s = tileStats(mask, opts.length, opts.tile ?? 64, opts.docIds);
  const pct = (x: number) => (100 * x).toFixed(1) + '%';
  return `tiles ${s.tile}x${s.tile}: ${s.tiles} total, empty ${pct(s.emptyFraction)}, full ${pct(s.fullFraction)}, partial ${pct(s.partialFraction)} (computed ${pct(s.computedFraction)})`;
}

/** Terminal picture: the mask (query rows down, keys across) and the tile class map. */
export function renderTerminal(mask: MaskIR, opts: RenderOptions, width = 64): string {
  const N = opts.length, tile = opts.tile ?? 64;
  const r = raster(mask, opts, width);
  const shade = (f: number) => (f >= 1 ? '█' : f >= 0.75 ? '▓' : f >= 0.4 ? '▒' : f > 0 ? '░' : '·');
  const lines: string[] = [`mask over ${N} tokens (${r.size}x${r.size} cells, ${(N / r.size).toFixed(N % r.size ? 1 : 0)} tokens per cell); █ visible · masked`];
  for (let y = 0; y < r.size; y++) {
    let row = '';
    for (let x = 0; x < r.size; x++) row += shade(r.visible[y * r.size + x]!);
    lines.push(row);
  }
  const { nQ, nK } = tileCounts(N, N, tile, tile);
  const cls = classifyBlocks(mask, { qLen: N, kvLen: N, tileQ: tile, tileKV: tile, docIds: opts.docIds });
  const cols = Math.min(nK, width), rows = Math.min(nQ, width);
  lines.push('', `tile classes (${nQ}x${nK} tiles${nK > width ? `, shown ${rows}x${cols}` : ''}): F full  p partial  . empty`);
  for (let y = 0; y < rows; y++) {
    let row = '';
    for (let x = 0; x < cols; x++) {
      // A cell covering several tiles shows the "most computed" class among them.
      let best = 0;
      for (let a = Math.floor((y * nQ) / rows); a < Math.max(Math.floor((y * nQ) / rows) + 1, Math.floor(((y + 1) * nQ) / rows)); a++)
        for (let b = Math.floor((x * nK) / cols); b < Math.max(Math.floor((x * nK) / cols) + 1, Math.floor(((x + 1) * nK) / cols)); b++) {
          const c = cls[a * nK + b]!;
          const rank = c === BlockClass.Partial ? 2 : c === BlockClass.Full ? 1 : 0;
          if (rank > best) best = rank;
        }
      row += best === 2 ? 'p' : best === 1 ? 'F' : '.';
    }
    lines.push(row);
  }
  lines.push(summary(mask, opts));
  return lines.join('\n') + '\n';
}

// Colors: visible elements dark, masked light; the tile class tints the background.
function pixelColor(vis: number, cls: number): [number, number, number] {
  const bg: [number, number, number] = cls === BlockClass.Full ? [214, 230, 255] : cls === BlockClass.Partial ? [255, 236, 200] : [245, 245, 245];
  const fg: [number, number, number] = [30, 70, 160];
  return [0, 1, 2].map((i) => Math.round(bg[i]! + (fg[i]! - bg[i]!) * vis)) as [number, number, number];
}

/** RGB pixels (size x size x 3) of the mask with tile grid lines. */
export function renderRgb(mask: MaskIR, opts: RenderOptions, size = 512): { width: number; height: number; rgb: Uint8Array } {
  const N = opts.length, tile = opts.tile ?? 64;
  const r = raster(mask, opts, size);
  const scale = Math.max(1, Math.floor(size / r.size));
  const W = r.size * scale;
  const rgb = new Uint8Array(W * W * 3);
  const gridPx = (W * tile) / N;
  const onGrid = (p: number) => gridPx >= 4 && Math.floor(((p + 1) * N) / W / tile) !== Math.floor((p * N) / W / tile);
  for (let y = 0; y < W; y++)
    for (let x = 0; x < W; x++) {
      const i = Math.floor(y / scale) * r.size + Math.floor(x / scale);
      let c = pixelColor(r.visible[i]!, r.cls[i]!);
      if (onGrid(x) || onGrid(y)) c = [150, 150, 150];
      rgb.set(c, (y * W + x) * 3);
    }
  return { width: W, height: W, rgb };
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A minimal PNG encoder: 8-bit RGB, no interlace, one IDAT (zlib via node:zlib). */
export function encodePng(width: number, height: number, rgb: Uint8Array): Buffer {
  const chunk = (type: string, data: Uint8Array) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, 'ascii');
    Buffer.from(data).copy(out, 8);
    out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // color type RGB
  const raw = Buffer.alloc(height * (1 + width * 3));
  for (let y = 0; y < height; y++) {
    raw[y * (1 + width * 3)] = 0; // filter: none
    Buffer.from(rgb.buffer, rgb.byteOffset + y * width * 3, width * 3).copy(raw, y * (1 + width * 3) + 1);
  }
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0))]);
}

export function renderPng(mask: MaskIR, opts: RenderOptions, size = 512): Buffer {
  const { width, height, rgb } = renderRgb(mask, opts, size);
  return encodePng(width, height, rgb);
}

/** SVG: the raster as an embedded PNG, the tile grid as lines, and a legend with tile statistics. */
export function renderSvg(mask: MaskIR, opts: RenderOptions, size = 512): string {
  const { width, rgb } = renderRgb(mask, { ...opts, tile: opts.length + 1 }, size); // grid drawn as vector lines below
  const png = encodePng(width, width, rgb).toString('base64');
  const N = opts.length, tile = opts.tile ?? 64;
  const { nQ } = tileCounts(N, N, tile, tile);
  const cls = classifyBlocks(mask, { qLen: N, kvLen: N, tileQ: tile, tileKV: tile, docIds: opts.docIds });
  const s = width / N;
  const parts: string[] = [];
  // Tile class overlay: full tiles outlined blue, partial orange (only when tiles are visible).
  if (nQ <= 128) {
    for (let a = 0; a < nQ; a++)
      for (let b = 0; b < nQ; b++) {
        const c = cls[a * nQ + b];
        if (c === BlockClass.Empty) continue;
        const x = b * tile * s, y = a * tile * s, w = Math.min(tile, N - b * tile) * s, h = Math.min(tile, N - a * tile) * s;
        parts.push(`<rect x="${x.toFixed(2)}" y="${y.toFixed(2)}" width="${w.toFixed(2)}" height="${h.toFixed(2)}" fill="none" stroke="${c === BlockClass.Full ? '#2a5bd7' : '#e08a00'}" stroke-width="0.8"/>`);
      }
  }
  const legend = summary(mask, opts).replace(/&/g, '&amp;').replace(/</g, '&lt;');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${width + 40}" viewBox="0 0 ${width} ${width + 40}">`,
    `<image x="0" y="0" width="${width}" height="${width}" image-rendering="pixelated" href="data:image/png;base64,${png}"/>`,
    ...parts,
    `<text x="4" y="${width + 16}" font-family="monospace" font-size="11">mask over ${N} tokens; tiles: blue = full, orange = partial, none = empty</text>`,
    `<text x="4" y="${width + 32}" font-family="monospace" font-size="11">${legend}</text>`,
    `</svg>`,
  ].join('\n') + '\n';
}
