// A small GGUF (v3) writer for the llama.cpp peer: lmp's Llama weights (HF tensor names, F32) as
// a llama-architecture GGUF file with F32 tensors and a SentencePiece-style vocabulary of
// placeholder pieces (the bench feeds token ids, never text).
//
// Conventions (the same as llama.cpp's convert_hf_to_gguf.py for LlamaForCausalLM):
// - tensor names: token_embd, blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output, ffn_norm,
//   ffn_gate, ffn_up, ffn_down}, output_norm, output (".weight");
// - dimensions are listed innermost first: an HF [out, in] matrix is ne = [in, out], same bytes;
// - q_proj and k_proj rows are permuted from HF's rotate-half RoPE layout to llama.cpp's
//   interleaved pairs: per head, row (i, half) of [2, hd/2] moves to (half, i).
import { closeSync, openSync, renameSync, writeSync } from 'node:fs';

const T = { U32: 4, I32: 5, F32: 6, BOOL: 7, STRING: 8, ARRAY: 9, U64: 10 };
const ALIGN = 32;

class Buf {
  constructor() {
    this.parts = [];
    this.len = 0;
  }
  push(b) {
    this.parts.push(b);
    this.len += b.length;
  }
  u32(x) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(x);
    this.push(b);
  }
  i32(x) {
    const b = Buffer.alloc(4);
    b.writeInt32LE(x);
    this.push(b);
  }
  u64(x) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(x));
    this.push(b);
  }
  f32(x) {
    const b = Buffer.alloc(4);
    b.writeFloatLE(x);
    this.push(b);
  }
  str(s) {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  }
  bytes() {
    return Buffer.concat(this.parts);
  }
}

function writeKV(b, key, type, value) {
  b.str(key);
  b.u32(type);
  if (type === T.ARRAY) {
    const [et, items] = value;
    b.u32(et);
    b.u64(items.length);
    for (const it of items) writeValue(b, et, it);
  } else writeValue(b, type, value);
}
function writeValue(b, type, v) {
  if (type === T.U32) b.u32(v);
  else if (type === T.I32) b.i32(v);
  else if (type === T.F32) b.f32(v);
  else if (type === T.U64) b.u64(v);
  else if (type === T.BOOL) b.push(Buffer.of(v ? 1 : 0));
  else if (type === T.STRING) b.str(v);
  else throw new Error('gguf: unsupported type ' + type);
}

/** HF rotate-half rows -> llama.cpp interleaved rows, for a [heads * hd, in] matrix. */
export function permuteRope(w, heads, rows, cols) {
  const hd = rows / heads, half = hd / 2, out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < half; j++) {
        const src = h * hd + i * half + j, dst = h * hd + j * 2 + i;
        out.set(w.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
  return out;
}

/** Writes `model` (an lmp LlamaModel: config, params, shapes) to path as a GGUF F32 file. */
export function writeGguf(path, model, { contextLength = 4096 } = {}) {
  const c = model.config, hd = c.dim / c.heads;
  const P = (n) => model.params.get(n);
  const tensors = [['token_embd.weight', P('model.embed_tokens.weight'), [c.dim, c.vocab]]];
  for (let l = 0; l < c.layers; l++) {
    const p = `model.layers.${l}.`, g = `blk.${l}.`;
    tensors.push(
      [g + 'attn_norm.weight', P(p + 'input_layernorm.weight'), [c.dim]],
      [g + 'attn_q.weight', permuteRope(P(p + 'self_attn.q_proj.weight'), c.heads, c.heads * hd, c.dim), [c.dim, c.heads * hd]],
      [g + 'attn_k.weight', permuteRope(P(p + 'self_attn.k_proj.weight'), c.kvHeads, c.kvHeads * hd, c.dim), [c.dim, c.kvHeads * hd]],
      [g + 'attn_v.weight', P(p + 'self_attn.v_proj.weight'), [c.dim, c.kvHeads * hd]],
      [g + 'attn_output.weight', P(p + 'self_attn.o_proj.weight'), [c.heads * hd, c.dim]],
      [g + 'ffn_norm.weight', P(p + 'post_attention_layernorm.weight'), [c.dim]],
      [g + 'ffn_gate.weight', P(p + 'mlp.gate_proj.weight'), [c.dim, c.ffn]],
      [g + 'ffn_up.weight', P(p + 'mlp.up_proj.weight'), [c.dim, c.ffn]],
      [g + 'ffn_down.weight', P(p + 'mlp.down_proj.weight'), [c.ffn, c.dim]],
    );
  }
  tensors.push(['output_norm.weight', P('model.norm.weight'), [c.dim]]);
  tensors.push(['output.weight', c.tieEmbeddings ? P('model.embed_tokens.weight') : P('lm_head.weight'), [c.dim, c.vocab]]);

  // Vocabulary: <unk> <s> </s>, the 256 byte pieces, then placeholder pieces (SentencePiece types:
  // 1 normal, 2 unknown, 3 control, 6 byte).
  const tokens = [], types = [];
  for (let i = 0; i < c.vocab; i++) {
    if (i < 3) tokens.push(['<unk>', '<s>', '</s>'][i]), types.push(i === 0 ? 2 : 3);
    else if (i < 259) tokens.push(`<0x${(i - 3).toString(16).toUpperCase().padStart(2, '0')}>`), types.push(6);
    else tokens.push(`\u2581t${i}`), types.push(1);
  }
  if (c.vocab < 259) throw new Error('gguf: the placeholder vocabulary needs vocab >= 259');

  const kv = [
    ['general.architecture', T.STRING, 'llama'],
    ['general.name', T.STRING, 'lmp-bench'],
    ['general.alignment', T.U32, ALIGN],
    ['general.file_type', T.U32, 0], // ALL_F32
    ['llama.context_length', T.U32, contextLength],
    ['llama.embedding_length', T.U32, c.dim],
    ['llama.block_count', T.U32, c.layers],
    ['llama.feed_forward_length', T.U32, c.ffn],
    ['llama.attention.head_count', T.U32, c.heads],
    ['llama.attention.head_count_kv', T.U32, c.kvHeads],
    ['llama.rope.dimension_count', T.U32, hd],
    ['llama.rope.freq_base', T.F32, c.ropeTheta],
    ['llama.attention.layer_norm_rms_epsilon', T.F32, c.normEps],
    ['llama.vocab_size', T.U32, c.vocab],
    ['tokenizer.ggml.model', T.STRING, 'llama'],
    ['tokenizer.ggml.tokens', T.ARRAY, [T.STRING, tokens]],
    ['tokenizer.ggml.scores', T.ARRAY, [T.F32, tokens.map(() => 0)]],
    ['tokenizer.ggml.token_type', T.ARRAY, [T.I32, types]],
    ['tokenizer.ggml.unknown_token_id', T.U32, 0],
    ['tokenizer.ggml.bos_token_id', T.U32, 1],
    ['tokenizer.ggml.eos_token_id', T.U32, 2],
    ['tokenizer.ggml.add_bos_token', T.BOOL, false],
  ];
  const head = new Buf();
  head.push(Buffer.from('GGUF'));
  head.u32(3);
  head.u64(tensors.length);
  head.u64(kv.length);
  for (const [k, t, v] of kv) writeKV(head, k, t, v);
  let off = 0;
  const offsets = [];
  for (const [name, data, dims] of tensors) {
    const n = dims.reduce((a, b) => a * b, 1);
    if (n !== data.length) throw new Error(`gguf: ${name} has ${data.length} values, dims ${dims}`);
    head.str(name);
    head.u32(dims.length);
    for (const d of dims) head.u64(d);
    head.u32(0); // GGML_TYPE_F32
    head.u64(off);
    offsets.push(off);
    off += Math.ceil((n * 4) / ALIGN) * ALIGN;
  }
  const hb = head.bytes();
  const pad = (n) => Buffer.alloc((ALIGN - (n % ALIGN)) % ALIGN);
  const tmpPath = path + '.tmp';
  const fd = openSync(tmpPath, 'w');
  try {
    writeSync(fd, hb);
    writeSync(fd, pad(hb.length));
    for (const [, data] of tensors) {
      const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      writeSync(fd, b);
      writeSync(fd, pad(b.length));
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmpPath, path);
  return path;
}
