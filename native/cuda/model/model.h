// The CUDA model layers: host entry points over device memory (defined in memory.cu, layers.cu,
// gemm.cu; called by bindings.cc and the parity binary). Pure C++: no CUDA header here, so .cc
// files of any build include it.
//
// Each kernel mirrors a CPU kernel of native/src/model (layers.h) or native/src/attention (rope):
// same formulas, eps and conventions, float64 where the CPU sums in float64. Reductions run in a
// fixed order that does not depend on timing (no float atomics), so repeated runs on one GPU give
// the same bits; where the CPU's order is cheap to follow (embedding scatter-add, RMSNorm's dw) it is
// followed exactly.
//
// Buffers are Tensor views (device pointer, element count, dtype); every function checks the sizes
// and dtypes it is given and throws lmp::Error (core/status.h): LMP_E_NO_DEVICE (no CUDA device),
// LMP_E_CUDA_OOM ("out of device memory: N bytes requested, M free"), LMP_E_CUDA (any other CUDA
// or cuBLAS failure, with its message), LMP_E_SHAPE / LMP_E_DTYPE / LMP_E_ARG (bad arguments),
// LMP_E_TOKEN (an id outside the vocabulary, the same message as the CPU). Nothing aborts.
// All work is queued on one stream owned by this module; downloads and the calls that report a bad
// token wait for it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lmp {
namespace cuda {
namespace model {

enum class DType : int { F32 = 0, BF16 = 1, I32 = 2, F64 = 3 };  // BF16 is stored as uint16_t
size_t dtype_size(DType t);
const char* dtype_name(DType t);
// "f32" | "bf16" | "i32" | "f64" -> DType; anything else LMP_E_DTYPE.
DType parse_dtype(const std::string& name);

struct Tensor {
  void* data = nullptr;
  int64_t numel = 0;
  DType dtype = DType::F32;
  size_t bytes() const { return static_cast<size_t>(numel) * dtype_size(dtype); }
};

// ------------------------------------------------------------------------------ device memory
// Throws LMP_E_NO_DEVICE when no CUDA device can be used (the reason in the message).
void require_device();
Tensor alloc(DType dtype, int64_t numel);  // zero-filled; LMP_E_CUDA_OOM when it does not fit
void free(Tensor& t);                      // idempotent (data = nullptr after)
// Host bytes into dst at dst_offset_bytes, without waiting for the stream: up to kStagedMax bytes go
// through page-locked staging memory (copied there at once, so src is free on return; two buffers,
// each reused after the copy that read it has finished), larger ones by the driver's pageable path.
void upload(const Tensor& dst, const void* src, size_t bytes, size_t dst_offset_bytes = 0);
// Several host arrays back to back into dst from dst_offset_bytes on: one staging copy and one
// transfer (a training step's batch: tokens, positions, targets, weights, embedding index).
struct HostPart {
  const void* data;
  size_t bytes;
};
void upload_parts(const Tensor& dst, const HostPart* parts, size_t count, size_t dst_offset_bytes = 0);
constexpr size_t kStagedMax = size_t{16} << 20;
void download(void* dst, const Tensor& src, size_t bytes, size_t src_offset_bytes = 0);  // waits
void zero(const Tensor& t);
void synchronize();  // waits for the module's stream; reports an earlier asynchronous fault
// The module's stream (a cudaStream_t) for other modules' kernels on the same data (attention).
void* stream_handle();
struct MemInfo {
  size_t free = 0, total = 0;
};
MemInfo mem_info();

// ------------------------------------------------------------------------------ conversions
// dst = src converted (f32 <-> bf16, round to nearest even; same dtype: a copy). Same numel.
void convert(const Tensor& src, const Tensor& dst);
// y += x (y f32; x f32 or bf16)
void add_inplace(const Tensor& y, const Tensor& x);

// ------------------------------------------------------------------------------ decoding
// The Decoder's terminal draw on row `row` of device logits [rows, vocab] (f32), sample.cu: mode 0
// greedy (the largest x * scale, the lowest id on ties), 1 sample (weights fexp(x * scale - max), the
// first id, ascending, whose running sum exceeds u * total; u drawn by the host chain). eos >= 0:
// logit[eos] becomes float(x + eos_bias) first (-inf for a -inf bias). Waits for the stream and
// returns the token; LMP_E_NAN (NaN or +inf), LMP_E_NO_CANDIDATES (every logit -inf), as the CPU chain.
// top_k > 0 (sample): only the top_k largest x * scale (value desc, id asc; finite) are drawn from,
// each weighed by fexp(x * scale * post - max): `post` is a temperature after the cut (1: none).
// min_p > 0 (sample): only x * scale >= float(max + ln min_p) too (the CPU's min_p).
int32_t draw_row(const Tensor& logits, int64_t row, int64_t vocab, int mode, float scale, double u, int32_t eos, double eos_bias, int64_t top_k = 0,
                 float post = 1.f, double min_p = 0);

// ------------------------------------------------------------------------------ layers
// out[t, :] = table[tokens[t], :]; table [vocab, dim] f32|bf16, tokens i32 [n], out [n, dim] f32|bf16.
// A token outside [0, vocab) is LMP_E_TOKEN (the first one, as the CPU reports it; out is then undefined).
void embedding_forward(const Tensor& table, int64_t vocab, int64_t dim, const Tensor& tokens, const Tensor& out);

// The order in which embedding_backward sums: for each distinct id (ascending), the positions that
// hold it, ascending. Built on the host from the batch's ids (which the host has before uploading
// them), uploaded with the batch as one i32 tensor: [ids (U) | offsets (U + 1) | positions (n)].
// Validates the ids (LMP_E_TOKEN, the CPU's message).
std::vector<int32_t> embedding_index(const int32_t* tokens, int64_t n, int64_t vocab);
// dtable[tokens[t], :] += dout[t, :], each element summed in ascending t from its previous value:
// the CPU's order, so the result is the CPU's bit for bit. dout [n, dim] f32|bf16, dtable f32.
void embedding_backward(const Tensor& dout, const Tensor& index, int64_t n, int64_t vocab, int64_t dim,
                        const Tensor& dtable);

// y = x * rstd * w, rstd = 1/sqrt(mean(x^2) + eps) (the sum of squares in float64); rstd [rows] f32.
// x, y [rows, dim] f32|bf16; w [dim] f32.
void rmsnorm_forward(const Tensor& x, const Tensor& w, int64_t rows, int64_t dim, float eps, const Tensor& y,
                     const Tensor& rstd);
// dx (= or += when accumulate_dx; f32) and dw += (f32): dw summed over min(64, rows) fixed row blocks,
// each in row order, then the blocks in order (the CPU's partition). dy, x f32|bf16.
void rmsnorm_backward(const Tensor& dy, const Tensor& x, const Tensor& w, const Tensor& rstd, int64_t rows, int64_t dim,
                      const Tensor& dx, bool accumulate_dx, const Tensor& dw);

// LM-Infinite's two attention calls combined (runtime/attention limitMasks): per row r of `rows`
// (token x head), out = (e^(la - m) oa + e^(lb - m) ob) / z and lse = m + ln z, m = max(la, lb),
// z = e^(la - m) + e^(lb - m); a row with la = lb = -inf gets out 0 and lse -inf. oa, ob, out
// [rows, head_dim] f32|bf16 (one dtype); la, lb, lse [rows] f32. out may alias oa; lse aliases
// neither la nor lb.
void attn_combine(const Tensor& oa, const Tensor& la, const Tensor& ob, const Tensor& lb, int64_t rows, int64_t head_dim,
                  const Tensor& out, const Tensor& lse);

// h = silu(g) * u; all the same dtype (f32|bf16), same numel.
void swiglu_forward(const Tensor& g, const Tensor& u, const Tensor& h);
void swiglu_backward(const Tensor& g, const Tensor& u, const Tensor& dh, const Tensor& dg, const Tensor& du);

// Fused softmax cross-entropy over logits [rows, vocab] (f32|bf16): targets i32 [rows] (< 0: ignored;
// >= vocab: LMP_E_TOKEN), weight f32 [rows] (0 = ignored), loss f32 [rows] = weight * (lse - logit[target]);
// dlogits (nullable; same dtype as logits; may be the logits tensor itself) = weight * scale *
// (softmax - onehot). scale is 1 / (counted tokens) for the mean loss, as the trainer passes it.
void cross_entropy(const Tensor& logits, int64_t rows, int64_t vocab, const Tensor& targets, const Tensor& weight,
                   float scale, const Tensor& loss, const Tensor* dlogits);

// RoPE in place over x [n, heads, head_dim] (f32|bf16), Hugging Face rotate-half: pairs (i, i + D/2)
// rotated by angle positions[t] * inv_freq[i] (computed in float64), cos/sin rounded to float and
// multiplied by mscale; inverse rotates back (the backward). positions i32 [n]; inv_freq f64 [D/2]
// (from the host: plain RoPE theta^(-2i/D), or any scaled variant's frequencies). An odd D leaves
// the last element scaled by mscale (runtime/attention's rope).
void rope(const Tensor& x, int64_t n, int64_t heads, int64_t head_dim, const Tensor& positions, const Tensor& inv_freq,
          float mscale, bool inverse);
// theta^(-2i/D) for i < D/2, in float64: the CPU model kernel's plain RoPE frequencies.
std::vector<double> rope_inv_freq(int64_t head_dim, double theta);

// ------------------------------------------------------------------------------ optimizer
// AdamW as native/src/model adamw (float math, bias correction, decoupled decay); grad multiplied by
// the clip scale first: scale_dev (nullable; f64 tensor, element scale_index) when given, else
// grad_scale. p, g, m, v f32 [n]; p_bf16 (nullable) receives bf16(p) in the same pass.
void adamw(const Tensor& p, const Tensor& g, const Tensor& m, const Tensor& v, double lr, double beta1, double beta2,
           double eps, double weight_decay, int64_t step, double grad_scale, const Tensor* scale_dev,
           int64_t scale_index, const Tensor* p_bf16);

// out[slot] (f64 tensor) = sum(x^2) (squares = true) or sum(x) over x (f32|bf16), in float64: blocks of
// 4096 elements, each a fixed tree, then the blocks in a fixed tree. Deterministic; no host wait.
void reduce_sum(const Tensor& x, bool squares, const Tensor& out, int64_t slot);
// Global-norm clipping from per-tensor sums of squares ss[0..count) (f64): ss summed in order (the
// trainer's parameter order), norm = sqrt(ss); out[0] = norm, out[1] = clip > 0 && norm > clip ?
// clip / (norm + 1e-6) : 1 (runtime/model/train.ts). out f64 [2], on the device (adamw reads it).
void clip_scale(const Tensor& ss, int64_t count, double clip, const Tensor& out);

// ------------------------------------------------------------------------------ GEMM (cuBLAS)
// Row-major C[M,N] = alpha op(A)[M,K] op(B)[K,N] + beta C, as lmp::sgemm (native/src/model/gemm.h):
// op(A) = A (M x K, leading dimension lda) or A^T (A stored K x M). Offsets (elements) select a strided
// view inside each tensor. A and B both f32 or both bf16, C f32 or bf16; fp32 accumulation
// (cublasGemmEx, CUBLAS_COMPUTE_32F; tf32 = true allows TF32 tensor cores for f32 inputs).
// beta == 0 ignores C's previous contents. Sizes are checked against the tensors (LMP_E_SHAPE).
struct GemmArgs {
  bool trans_a = false, trans_b = false;
  int64_t M = 0, N = 0, K = 0;
  float alpha = 1.f, beta = 0.f;
  int64_t lda = 0, ldb = 0, ldc = 0;
  int64_t a_offset = 0, b_offset = 0, c_offset = 0;
  bool tf32 = false;
};
void gemm(const GemmArgs& g, const Tensor& A, const Tensor& B, const Tensor& C);

}  // namespace model
}  // namespace cuda
}  // namespace lmp
