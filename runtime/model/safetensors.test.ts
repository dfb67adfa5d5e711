import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { floatToBf16, floatToHalf, parseSafetensors, readSafetensors, serializeSafetensors, writeSafetensors } from './safetensors.js';

const dir = mkdtempSync(join(tmpdir(), 'lmp-st-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A file from a header object and raw data bytes, built by hand. */
function handMade(header: unknown, data: number[] | Uint8Array, rawHeader?: string): Uint8Array {
  const h = new TextEncoder().encode(rawHeader ?? JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

describe('safetensors', () => {
  it('round-trips float32 tensors bit-identically (incl. NaN payloads, -0, subnormals) with metadata', () => {
    const a = new Float32Array([1.5, -0, 3.4028234663852886e38, 1e-45, NaN, -Infinity]);
    const bits = new Uint32Array(a.buffer);
    bits[4] = 0x7fc01234; // a NaN with a payload
    const b = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i) * 1e-3);
    const path = join(dir, 'rt.safetensors');
    writeSafetensors(path, [['a', { shape: [2, 3], data: a }], ['model.layers.0.mlp.up_proj.weight', { shape: [3, 4], data: b }]], { format: 'pt' });
    const f = readSafetensors(path);
    expect(f.metadata).toEqual({ format: 'pt' });
    const ra = f.tensors.get('a')!;
    expect(ra.shape).toEqual([2, 3]);
    expect(ra.dtype).toBe('F32');
    expect(Array.from(new Uint32Array(ra.data.buffer))).toEqual(Array.from(bits));
    expect(Array.from(new Uint32Array(f.tensors.get('model.layers.0.mlp.up_proj.weight')!.data.buffer))).toEqual(Array.from(new Uint32Array(b.buffer)));
    expect(readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
    // header is padded to a multiple of 8 and the layout is the documented one
    const bytes = serializeSafetensors([['x', { shape: [1], data: Float32Array.of(2) }]]);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    expect(JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)))).toEqual({ x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } });
    expect(Array.from(bytes.subarray(8 + n))).toEqual([0, 0, 0, 64]);
  });

  it('converts F16 and BF16 to float32 (hand-computed values)', () => {
    // F16: 0x3c00 = 1, 0xc000 = -2, 0x3555 = 0.333251953125, 0x0001 = 2^-24, 0x7c00 = inf, 0x7bff = 65504
    const f16 = [0x3c00, 0xc000, 0x3555, 0x0001, 0x7c00, 0x7bff];
    // BF16: 0x3f80 = 1, 0xc0a0 = -5, 0x3e20 = 0.15625, 0x4049 = 3.140625
    const bf16 = [0x3f80, 0xc0a0, 0x3e20, 0x4049];
    const data: number[] = [];
    for (const v of [...f16, ...bf16]) data.push(v & 0xff, v >> 8);
    const file = handMade({ h: { dtype: 'F16', shape: [6], data_offsets: [0, 12] }, b: { dtype: 'BF16', shape: [2, 2], data_offsets: [12, 20] } }, data);
    const f = parseSafetensors(file);
    expect(Array.from(f.tensors.get('h')!.data)).toEqual([1, -2, 0.333251953125, 2 ** -24, Infinity, 65504]);
    expect(Array.from(f.tensors.get('b')!.data)).toEqual([1, -5, 0.15625, 3.140625]);
    expect(f.tensors.get('h')!.dtype).toBe('F16');
  });

  it('writes F16/BF16 with round-to-nearest-even (hand-computed bit patterns) and reads them back', () => {
    const cases16: [number, number][] = [[1, 0x3c00], [-2, 0xc000], [1 / 3, 0x3555], [65504, 0x7bff], [65520, 0x7c00], [1e6, 0x7c00],
      [2 ** -24, 0x0001], [2 ** -25, 0x0000], [3 * 2 ** -25, 0x0002], [2 ** -14, 0x0400], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02],
      [-0, 0x8000], [Infinity, 0x7c00], [0.1, 0x2e66]];
    for (const [x, h] of cases16) expect(floatToHalf(x), String(x)).toBe(h);
    expect(floatToHalf(NaN) & 0x7c00).toBe(0x7c00);
    expect(floatToHalf(NaN) & 0x3ff).not.toBe(0);
    const casesBf: [number, number][] = [[1, 0x3f80], [-5, 0xc0a0], [1 / 3, 0x3eab], [3.140625, 0x4049], [1 + 2 ** -8, 0x3f80], [1 + 3 * 2 ** -8, 0x3f82], [Infinity, 0x7f80]];
    for (const [x, h] of casesBf) expect(floatToBf16(x), String(x)).toBe(h);
    const data = Float32Array.of(1, 1 / 3, -5, 0.1);
    const h = parseSafetensors(serializeSafetensors([['t', { shape: [4], data }]], undefined, 'F16')).tensors.get('t')!;
    expect(h.dtype).toBe('F16');
    expect(Array.from(h.data)).toEqual([1, 0.333251953125, -5, 0.0999755859375]);
    const b = parseSafetensors(serializeSafetensors([['t', { shape: [2, 2], data }]], undefined, 'BF16')).tensors.get('t')!;
    expect(Array.from(b.data)).toEqual([1, 0.333984375, -5, 0.10009765625]);
  });

  it('rejects corrupt files with clear coded errors', () => {
    const ok = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
    const eight = new Array(8).fill(0);
    const cases: [Uint8Array, string, RegExp][] = [
      [new Uint8Array(5), 'LMP_E_ST_TRUNCATED', /fewer than the 8-byte/],
      [handMade(ok, eight).subarray(0, 20), 'LMP_E_ST_TRUNCATED', /runs past the end/],
      [handMade(null, eight, '{"a": {"dtype": "F32", '), 'LMP_E_ST_HEADER', /not valid UTF-8 JSON/],
      [handMade(null, eight, '[1,2]'), 'LMP_E_ST_HEADER', /not a JSON object/],
      [handMade({ a: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, eight), 'LMP_E_ST_DTYPE', /dtype I64/],
      [handMade({ a: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 8] } }, eight), 'LMP_E_ST_HEADER', /invalid shape/],
      [handMade({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, eight), 'LMP_E_ST_SIZE', /expected 12/],
      [handMade({ a: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, eight), 'LMP_E_ST_OFFSETS', /past the data section/],
      [handMade({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, eight), 'LMP_E_ST_OFFSETS', /overlaps/],
      [handMade({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, eight), 'LMP_E_ST_OFFSETS', /belong to no tensor/],
      [handMade({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, eight), 'LMP_E_ST_OFFSETS', /tensors cover 4/],
      [handMade({ __metadata__: { k: 1 } }, []), 'LMP_E_ST_HEADER', /must be a string/],
    ];
    for (const [bytes, code, msg] of cases) {
      let err: unknown;
      try {
        parseSafetensors(bytes, 'bad.safetensors');
      } catch (e) {
        err = e;
      }
      expect(err, code + ' ' + msg).toMatchObject({ code, name: 'SafetensorsError' });
      expect((err as Error).message).toMatch(msg);
      expect((err as Error).message).toMatch(/^bad\.safetensors: /);
    }
    // an empty file with a valid header is fine
    expect(parseSafetensors(handMade({}, [])).tensors.size).toBe(0);
    writeFileSync(join(dir, 'bad.safetensors'), handMade(ok, [1, 2, 3]));
    expect(() => readSafetensors(join(dir, 'bad.safetensors'))).toThrow(/bad\.safetensors: .*expected 8|past the data/);
  });
});
