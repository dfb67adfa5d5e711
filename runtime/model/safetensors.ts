// A reader and writer of the safetensors format (our own; it is small):
//   [8 bytes: header length N, little-endian u64][N bytes: JSON header][data]
// The header maps tensor names to {dtype, shape, data_offsets: [begin, end]} (offsets relative
// to the start of the data) plus an optional "__metadata__" of string -> string.
// We read F32, F16 and BF16 (converted to Float32Array) and write any of them (F32 default). Corrupt files are
// rejected with a SafetensorsError whose `code` says what is wrong. Writes are atomic
// (temp file in the same folder + fsync + rename).
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';
const ITEMSIZE: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

export interface Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface LoadedTensor extends Tensor {
  /** dtype on disk (data is always converted to float32) */
  readonly dtype: SafetensorsDtype;
}

export interface SafetensorsFile {
  readonly tensors: Map<string, LoadedTensor>;
  readonly metadata: Record<string, string>;
}

export type SafetensorsErrorCode =
  | 'LMP_E_ST_TRUNCATED' // file shorter than its header says
  | 'LMP_E_ST_HEADER' // header length or JSON invalid, or an entry malformed
  | 'LMP_E_ST_DTYPE' // unsupported dtype
  | 'LMP_E_ST_OFFSETS' // offsets out of range, overlapping, or leaving holes
  | 'LMP_E_ST_SIZE'; // byte size != product(shape) * itemsize

export class SafetensorsError extends Error {
  constructor(readonly code: SafetensorsErrorCode, message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

const MAX_HEADER = 100 * 1024 * 1024;

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Parse a safetensors image from bytes. `where` names the source in error messages. */
export function parseSafetensors(buf: Uint8Array, where = 'safetensors'): SafetensorsFile {
  const fail = (code: SafetensorsErrorCode, msg: string): never => {
    throw new SafetensorsError(code, `${where}: ${msg}`);
  };
  if (buf.length < 8) fail('LMP_E_ST_TRUNCATED', `file has ${buf.length} bytes, fewer than the 8-byte header length`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = dv.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER)) fail('LMP_E_ST_HEADER', `header length ${n} is implausibly large`);
  const hlen = Number(n);
  if (8 + hlen > buf.length) fail('LMP_E_ST_TRUNCATED', `header length ${hlen} runs past the end of the file (${buf.length} bytes)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + hlen)));
  } catch (e) {
    fail('LMP_E_ST_HEADER', `header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('LMP_E_ST_HEADER', 'header is not a JSON object');
  const dataStart = 8 + hlen, dataLen = buf.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('LMP_E_ST_HEADER', '__metadata__ must be an object');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail('LMP_E_ST_HEADER', `__metadata__.${k} must be a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    if (typeof raw !== 'object' || raw === null) fail('LMP_E_ST_HEADER', `entry '${name}' is not an object`);
    const o = raw as Record<string, unknown>;
    const dtype = o['dtype'], shape = o['shape'], offs = o['data_offsets'];
    if (typeof dtype !== 'string') fail('LMP_E_ST_HEADER', `entry '${name}' has no dtype`);
    if (!(dtype as string in ITEMSIZE)) fail('LMP_E_ST_DTYPE', `entry '${name}' has dtype ${String(dtype)}; supported: F32, F16, BF16`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      fail('LMP_E_ST_HEADER', `entry '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0))
      fail('LMP_E_ST_HEADER', `entry '${name}' has invalid data_offsets ${JSON.stringify(offs)}`);
    const [begin, end] = offs as [number, number];
    if (end < begin) fail('LMP_E_ST_OFFSETS', `entry '${name}' has data_offsets [${begin}, ${end}] with end < begin`);
    if (end > dataLen) fail('LMP_E_ST_OFFSETS', `entry '${name}' ends at ${end}, past the data section (${dataLen} bytes)`);
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    const want = numel * ITEMSIZE[dtype as SafetensorsDtype];
    if (end - begin !== want)
      fail('LMP_E_ST_SIZE', `entry '${name}' has ${end - begin} bytes, expected ${want} (shape ${JSON.stringify(shape)} x ${dtype})`);
    entries.push({ name, dtype: dtype as SafetensorsDtype, shape: shape as number[], begin, end });
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of sorted) {
    if (e.begin < pos) fail('LMP_E_ST_OFFSETS', `entry '${e.name}' at [${e.begin}, ${e.end}] overlaps the previous tensor (ends at ${pos})`);
    if (e.begin > pos) fail('LMP_E_ST_OFFSETS', `bytes [${pos}, ${e.begin}) of the data section belong to no tensor`);
    pos = e.end;
  }
  if (pos !== dataLen) fail('LMP_E_ST_OFFSETS', `data section has ${dataLen} bytes but tensors cover ${pos}`);
  const tensors = new Map<string, LoadedTensor>();
  for (const e of entries) {
    const numel = (e.end - e.begin) / ITEMSIZE[e.dtype];
    const data = new Float32Array(numel);
    const at = dataStart + e.begin;
    if (e.dtype === 'F32') for (let i = 0; i < numel; i++) data[i] = dv.getFloat32(at + 4 * i, true);
    else if (e.dtype === 'F16') for (let i = 0; i < numel; i++) data[i] = halfToFloat(dv.getUint16(at + 2 * i, true));
    else {
      const tmp = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < numel; i++) {
        tmp.setUint32(0, dv.getUint16(at + 2 * i, true) << 16, true);
        data[i] = tmp.getFloat32(0, true);
      }
    }
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}

export function readSafetensors(path: string): SafetensorsFile {
  return parseSafetensors(readFileSync(path), path);
}

const f32buf = new DataView(new ArrayBuffer(4));

/** float32 -> bfloat16 bits, round to nearest even (NaN stays a quiet NaN). */
export function floatToBf16(x: number): number {
  f32buf.setFloat32(0, x, true);
  const b = f32buf.getUint32(0, true);
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) return ((b >>> 16) | 0x40) & 0xffff;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** float32 -> IEEE half bits, round to nearest even, overflow to inf, gradual underflow. */
export function floatToHalf(x: number): number {
  f32buf.setFloat32(0, x, true);
  const b = f32buf.getUint32(0, true);
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let man = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    man |= 0x800000;
    const shift = 14 - e; // 24-bit mantissa -> (10 + e)-bit subnormal
    const half = 1 << (shift - 1);
    let h = man >>> shift;
    const rest = man & ((1 << shift) - 1);
    if (rest > half || (rest === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (man >>> 13);
  const rest = man & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++; // may carry into the exponent (correct)
  return sign | h;
}

/**
 * Serialize tensors in the given order (stored as `dtype`, default F32; F16/BF16 round to
 * nearest even), header padded with spaces to 8 bytes.
 */
export function serializeSafetensors(tensors: Iterable<[string, Tensor]>, metadata?: Record<string, string>, dtype: SafetensorsDtype = 'F32'): Uint8Array {
  const isz = ITEMSIZE[dtype];
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header['__metadata__'] = metadata;
  const list: [string, Tensor][] = [];
  let off = 0;
  for (const [name, t] of tensors) {
    if (name === '__metadata__') throw new SafetensorsError('LMP_E_ST_HEADER', 'a tensor cannot be named __metadata__');
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length)
      throw new SafetensorsError('LMP_E_ST_SIZE', `tensor '${name}' has ${t.data.length} values but shape ${JSON.stringify(t.shape)}`);
    header[name] = { dtype, shape: [...t.shape], data_offsets: [off, off + isz * numel] };
    list.push([name, t]);
    off += isz * numel;
  }
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  let hbytes = enc.encode(json);
  const pad = (8 - (hbytes.length % 8)) % 8;
  if (pad) {
    json += ' '.repeat(pad);
    hbytes = enc.encode(json);
  }
  const out = new Uint8Array(8 + hbytes.length + off);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(hbytes.length), true);
  out.set(hbytes, 8);
  let p = 8 + hbytes.length;
  for (const [, t] of list) {
    if (dtype === 'F32') for (let i = 0; i < t.data.length; i++) dv.setFloat32(p + 4 * i, t.data[i]!, true);
    else if (dtype === 'BF16') for (let i = 0; i < t.data.length; i++) dv.setUint16(p + 2 * i, floatToBf16(t.data[i]!), true);
    else for (let i = 0; i < t.data.length; i++) dv.setUint16(p + 2 * i, floatToHalf(t.data[i]!), true);
    p += isz * t.data.length;
  }
  return out;
}

/** Write bytes to `path` atomically: temp file beside it, fsync, rename. */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Math.floor(Math.random() * 1e9)}`);
  const fd = openSync(tmp, 'w');
  try {
    const b = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
    let w = 0;
    while (w < b.length) w += writeSync(fd, b, w, b.length - w);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

export function writeSafetensors(path: string, tensors: Iterable<[string, Tensor]>, metadata?: Record<string, string>, dtype: SafetensorsDtype = 'F32'): void {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata, dtype));
}
