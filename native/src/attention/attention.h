// Fused CPU attention: types shared by the kernels and the bindings. No N-API here, so a CUDA
// port can share the structure.
//
// Layout (packed, variable length): q and out are [Tq, H, D]; k, v are [Tk, Hkv, D] (token-major,
// then head, then dimension; row-major float32). Sequence s owns query tokens cuQ[s]..cuQ[s+1]
// and key tokens cuK[s]..cuK[s+1]; its queries are the LAST lenQ positions of its keys
// (qOffset = lenK - lenQ; equal lengths for training / prefill). No compute touches padding.
// lse is [Tq, H]: log of the softmax normalizer (or of the Softplus normalizer, see below).
//
// Masks: each head group g has a mask program (the MaskIR encoded in prefix form, see MaskOp)
// and a grid of block classes per sequence (Empty/Full/Partial per 64x64 tile, computed by the
// TypeScript classifier runtime/mask/classify.ts). Empty tiles are skipped, Full tiles computed
// with no mask evaluation, Partial tiles evaluate the program row by row (vectorizable loops).
// The forward scans a q-tile's row of the class grid; the backward scans a kv-tile's column.
//
// Scores (in this order): s0 = scale * q.k (scale includes temperature and YaRN factors);
// softcap: s1 = c * tanh(s0 / c) (c > 0); ALiBi: s2 = s1 - slope[h] * min(|qpos - kvpos|, limit);
// then either softmax over s2, or Softplus attention: with lambda_i = max(1, ln(n_i) / ln(L)),
// n_i = qpos + 1, u_ij = softplus(lambda_i * s2_ij) ^ power, p_ij = u_ij / sum_j u_ij.
// (l1-normalizing softplus then taking the power and l1-normalizing again equals this.)
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lmp {
namespace attn {

constexpr int BQ = 64;  // query tile
constexpr int BK = 64;  // key tile
constexpr int MAX_D = 128;

enum MaskOp : int32_t {
  M_FULL = 0, M_CAUSAL = 1, M_WINDOW = 2, M_SINK = 3, M_PREFIX = 4, M_CHUNKED = 5, M_SAME_DOC = 6,
  M_AND = 7, M_OR = 8, M_NOT = 9,
};
// Each node is two ints (op, param) followed by its children; param is the primitive's
// parameter, or the child count for and/or.

struct Params {
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  int64_t H = 0, Hkv = 0, D = 0;
  int64_t S = 0;
  const int32_t* cuQ = nullptr;
  const int32_t* cuK = nullptr;
  const int32_t* docIds = nullptr;  // [Tk] or null (one document per sequence)
  int64_t G = 0;
  std::vector<const int32_t*> progs;  // G mask programs
  std::vector<int32_t> progLens;
  const int32_t* headGroup = nullptr;  // [H] -> group
  const uint8_t* classes = nullptr;
  const int64_t* classOff = nullptr;  // [S * G] offsets into classes, each grid nQ x nK
  float scale = 1.f;
  float softcap = 0.f;
  const float* alibi = nullptr;  // [H] slopes or null
  double alibiLimit = 0;          // distance clamp (LM-Infinite) for ALiBi; 0 = none
  float power = 0.f;              // > 0: Softplus attention with this power
  float logLenBase = 0.f;         // ln(L) for Softplus' length scale
  // LM-Infinite distance limit for RoPE: pairs with qpos - kvpos > distLimit score
  // scale * qFar.kFar instead of scale * q.k, where qFar is q rotated at position distLimit and
  // kFar the unrotated k (so their relative distance is exactly the limit). 0 = none.
  int64_t distLimit = 0;
  const float* qFar = nullptr;  // [Tq, H, D]
  const float* kFar = nullptr;  // [Tk, Hkv, D]
};

// Validates shapes and program encodings; throws lmp::Error.
void validate(const Params& p, size_t qLen, size_t kLen, size_t classesLen);

void forward(const Params& p, float* out, float* lse);
// n forward calls at once (batched decoding: one per sequence); outs[i] / lses[i] as forward's.
// Calls of <= 4 queries per sequence and one head dim share one parallel loop; others run in turn.
void forward_many(const Params* ps, size_t n, float* const* outs, float* const* lses);
// dq [Tq,H,D], dk/dv [Tk,Hkv,D]; o and lse from the forward; dout like out.
// With a distance limit, dqFar/dkFar receive the gradients of qFar/kFar (else they may be null).
void backward(const Params& p, const float* o, const float* dout, const float* lse, float* dq, float* dk, float* dv, float* dqFar = nullptr,
              float* dkFar = nullptr);

// RoPE (rotate-half convention): x [T, Hx, D]; pair (d, d + D/2) rotated by angle
// pos[t] * invFreq[d] (invFreq has D/2 entries; a 0 frequency leaves the pair unrotated),
// the result multiplied by mscale. inverse = rotate by the negative angle (the gradient).
void rope(const float* x, float* out, int64_t T, int64_t Hx, int64_t D, const float* pos, const float* invFreq, float mscale, bool inverse);

// SIMD, AVX-512 and scalar instantiations (attention_simd.cc, attention_avx512.cc, attention_scalar.cc).
namespace avx512 {
void forward(const Params& p, float* out, float* lse);
void forward_many(const Params* ps, size_t n, float* const* outs, float* const* lses);
void backward(const Params& p, const float* o, const float* dout, const float* lse, float* dq, float* dk, float* dv, float* dqFar, float* dkFar);
}
namespace simd {
void forward(const Params& p, float* out, float* lse);
void forward_many(const Params* ps, size_t n, float* const* outs, float* const* lses);
void backward(const Params& p, const float* o, const float* dout, const float* lse, float* dq, float* dk, float* dv, float* dqFar, float* dkFar);
}
namespace scalar {
void forward(const Params& p, float* out, float* lse);
void forward_many(const Params* ps, size_t n, float* const* outs, float* const* lses);
void backward(const Params& p, const float* o, const float* dout, const float* lse, float* dq, float* dk, float* dv, float* dqFar, float* dkFar);
}

}  // namespace attn
}  // namespace lmp
