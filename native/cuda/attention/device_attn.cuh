// Device helpers of the fused CUDA attention (native/cuda/attention): tile geometry, the
// per-kernel metadata (DevPlan), mma.m16n8k16 fragment loads from shared memory, the mask
// program evaluated per element for Partial tiles, and the score transforms of attention.h.
// Uses only the wrappers of common/device.cuh (CUDA-EMU.md), so it also runs emulated.
#pragma once
#include "common/device.cuh"

#include <cstdint>

namespace lmp {
namespace cu {
namespace attn {

constexpr int BQ = 64;        // query tile = the CPU's (native/src/attention/attention.h), so the host
constexpr int BK = 64;        // classifier's 64x64 classes are used as they are
constexpr int WARPS = 4;      // each warp owns 16 rows of the tile
constexpr int THREADS = WARPS * 32;
constexpr int PAD = 8;        // row padding of shared tiles (bf16 elements): fragment loads hit 32 banks
constexpr int MAX_STACK = 16; // mask program evaluation stack (host checks the depth)

// Mask opcodes: attention.h MaskOp (prefix form there; the host converts to postfix, see plan).
enum : int32_t { OP_FULL = 0, OP_CAUSAL = 1, OP_WINDOW = 2, OP_SINK = 3, OP_PREFIX = 4, OP_CHUNKED = 5, OP_SAME_DOC = 6,
                 OP_AND = 7, OP_OR = 8, OP_NOT = 9 };

// Everything a kernel needs besides the tensors; device pointers, passed by value.
struct DevPlan {
  const int32_t* cuQ;
  const int32_t* cuK;
  const int32_t* docIds;     // [Tk] or null
  const int32_t* headGroup;  // [H]
  const int32_t* prog;       // postfix programs of all groups, (op, param) pairs
  const int32_t* progOff;    // [G + 1] offsets (in int32) into prog
  const uint8_t* classes;    // 0 Empty, 1 Full, 2 Partial per 64x64 tile
  const int64_t* classOff;   // [S * G]
  const int32_t* qTiles;     // [nQT * 2]: (sequence, q tile), longest rows first
  const int32_t* kTiles;     // [nKT * 2]: (sequence, kv tile)
  const float* alibi;        // [H] or null
  int H, Hkv, G;
  float scale, softcap, invSoftcap, alibiLimit, power, logLenBase;
};

template <int D>
struct Geom {
  static_assert(D % 16 == 0 && D <= 128, "head dim must be a multiple of 16, at most 128");
  static constexpr int LD = D + PAD;  // shared row stride, elements
  static constexpr int KC = D / 16;   // k-chunks of 16 over D
  static constexpr int NC = D / 8;    // n-chunks of 8 over D
};

// Element type: bf16 or fp16 storage (uint16_t), fp32 accumulation.
template <bool F16>
struct Ty;
template <>
struct Ty<false> {
  static __device__ __forceinline__ float to_f(uint16_t x) { return bf16_to_f32(x); }
  static __device__ __forceinline__ uint16_t from_f(float x) { return f32_to_bf16(x); }
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) { return pack_bf16x2(lo, hi); }
  static __device__ __forceinline__ void mma(float d[4], const uint32_t a[4], const uint32_t b[2]) { mma_16816_bf16(d, a, b, d); }
};
template <>
struct Ty<true> {
  static __device__ __forceinline__ float to_f(uint16_t x) { return f16_to_f32(x); }
  static __device__ __forceinline__ uint16_t from_f(float x) { return f32_to_f16(x); }
  static __device__ __forceinline__ uint32_t pack(float lo, float hi) { return pack_f16x2(lo, hi); }
  static __device__ __forceinline__ void mma(float d[4], const uint32_t a[4], const uint32_t b[2]) { mma_16816_f16(d, a, b, d); }
};


// A fragment (16 x 16, row-major in shared memory, stride ld) at rows r0.., cols c0..: ldmatrix x4,
// matrices (rows r0, cols c0), (r0 + 8, c0), (r0, c0 + 8), (r0 + 8, c0 + 8) = a[0..3].
__device__ __forceinline__ void frag_a(uint32_t a[4], const uint16_t* s, int ld, int r0, int c0) {
  const int L = lane_id(), i = L >> 3, r = L & 7;
  ldmatrix_x4(a, s + (r0 + (i & 1) * 8 + r) * ld + c0 + (i >> 1) * 8);
}
// A fragment of the TRANSPOSE of a shared matrix M (element (i, k) of A = M[k][i]), rows i0.., cols k0..
__device__ __forceinline__ void frag_a_t(uint32_t a[4], const uint16_t* s, int ld, int i0, int k0) {
  const int g = lane_id() >> 2, t = lane_id() & 3;
  const uint16_t* p = s + (k0 + 2 * t) * ld + i0 + g;
  a[0] = pack_u16x2(p[0], p[ld]);
  a[1] = pack_u16x2(p[8], p[ld + 8]);
  a[2] = pack_u16x2(p[8 * ld], p[9 * ld]);
  a[3] = pack_u16x2(p[8 * ld + 8], p[9 * ld + 8]);
}
// B fragments of two n-chunks (k 16 x n 8 each) where B(k, n) = M[n][k] ("col" layout: rows of M
// are the n index; K in S = Q K^T): b[0..1] for rows n0.., b[2..3] for rows n0 + 8.., columns k0..
// (ldmatrix x4: matrices (n0, k0), (n0, k0 + 8), (n0 + 8, k0), (n0 + 8, k0 + 8)).
__device__ __forceinline__ void frag_b2(uint32_t b[4], const uint16_t* s, int ld, int n0, int k0) {
  const int L = lane_id(), i = L >> 3, r = L & 7;
  ldmatrix_x4(b, s + (n0 + (i >> 1) * 8 + r) * ld + k0 + (i & 1) * 8);
}

// acc[n] += A (16 x 16, fragment a) . B for every n-chunk n of acc, where B(k, n) = M[k0 + k][n]
// (M row-major in shared memory with the k index as rows: V in O = P.V, Q and dO in dK, dV, K in
// dQ). ldmatrix .trans gives two n-chunks' B fragments at once: lanes 8i..8i+7 address rows
// k0 + 8 (i & 1) .. of matrix i, columns 8 (i >> 1) of the chunk pair.
template <typename T, int NC>
__device__ __forceinline__ void mma_rows(float (&acc)[NC][4], const uint32_t a[4], const uint16_t* s, int ld, int k0) {
  const int L = lane_id(), i = L >> 3, r = L & 7;
  const uint16_t* p = s + (k0 + (i & 1) * 8 + r) * ld + (i >> 1) * 8;
#pragma unroll
  for (int n = 0; n < NC; n += 2) {
    uint32_t b[4];
    ldmatrix_x4_trans(b, p + n * 8);
    T::mma(acc[n], a, b);
    T::mma(acc[n + 1], a, b + 2);
  }
}

// The A fragment of k-chunk kc (16 columns) from a 16 x 64 fp32 accumulator block (8 n-chunks of
// mma outputs): C and A layouts share rows, so no data moves between lanes (FlashAttention-2).
template <typename T>
__device__ __forceinline__ void acc_to_a(uint32_t a[4], const float (&c)[8][4], int kc) {
  a[0] = T::pack(c[2 * kc][0], c[2 * kc][1]);
  a[1] = T::pack(c[2 * kc][2], c[2 * kc][3]);
  a[2] = T::pack(c[2 * kc + 1][0], c[2 * kc + 1][1]);
  a[3] = T::pack(c[2 * kc + 1][2], c[2 * kc + 1][3]);
}

// rows x D tile (row stride `stride` elements in global memory) into shared memory (stride LD),
// rows >= valid zero-filled. 16-byte cp.async chunks, all threads of the block.
template <int D>
__device__ __forceinline__ void load_tile(uint16_t* s, const uint16_t* gsrc, int64_t stride, int valid) {
  constexpr int CH = D / 8;  // 16-byte chunks per row
  for (int x = threadIdx.x; x < 64 * CH; x += THREADS) {
    const int r = x / CH, c = x % CH;
    const bool ok = r < valid;
    const uint16_t* src = ok ? gsrc + r * stride + c * 8 : gsrc;
    cp_async_16_zfill(s + r * Geom<D>::LD + c * 8, src, ok);
  }
}

// Per-lane element coordinates of a 16 x 64 accumulator block (8 n-chunks x 4 values): bit
// j * 4 + e is n-chunk j, value e; its row is row0 + (e >> 1) * 8 and column col0 + 8 j + (e & 1)
// (row0 = warp's first row + g, col0 = 2 * tig). ROWQ: rows are queries (forward, dQ), else keys.
// Returns the visibility bits of the mask program (postfix) at those (q, kv) positions.
template <bool ROWQ>
__device__ uint32_t eval_mask(const int32_t* prog, int len, int row0, int col0, const int32_t* docs) {
  uint32_t st[MAX_STACK];
  int sp = 0;
  for (int pc = 0; pc < len; pc += 2) {
    const int32_t op = prog[pc], prm = prog[pc + 1];
    if (op >= OP_AND) {
      if (op == OP_NOT) {
        st[sp - 1] = ~st[sp - 1];
      } else {
        uint32_t m = st[--sp];
        for (int c = 1; c < prm; ++c) {
          const uint32_t x = st[--sp];
          m = op == OP_AND ? (m & x) : (m | x);
        }
        st[sp++] = m;
      }
      continue;
    }
    uint32_t m = 0;
#pragma unroll
    for (int bit = 0; bit < 32; ++bit) {
      const int r = row0 + ((bit & 3) >> 1) * 8, c = col0 + 8 * (bit >> 2) + (bit & 1);
      const int q = ROWQ ? r : c, k = ROWQ ? c : r;
      bool v;
      switch (op) {
        case OP_CAUSAL: v = k <= q; break;
        case OP_WINDOW: v = q - k < prm; break;
        case OP_SINK: v = k < prm; break;
        case OP_PREFIX: v = k < prm || k <= q; break;
        case OP_CHUNKED: v = q / prm == k / prm; break;  // positions are >= 0
        case OP_SAME_DOC: v = docs == nullptr || docs[q] == docs[k]; break;
        default: v = true; break;  // OP_FULL
      }
      m |= static_cast<uint32_t>(v) << bit;
    }
    st[sp++] = m;
  }
  return st[0];
}

// Bits of the same layout that lie inside the sequence (row < rowLimit, column < colLimit).
__device__ __forceinline__ uint32_t inside_bits(int row0, int col0, int rowLimit, int colLimit) {
  uint32_t m = 0;
#pragma unroll
  for (int bit = 0; bit < 32; ++bit) {
    const int r = row0 + ((bit & 3) >> 1) * 8, c = col0 + 8 * (bit >> 2) + (bit & 1);
    m |= static_cast<uint32_t>(r < rowLimit && c < colLimit) << bit;
  }
  return m;
}

// Softplus attention's length scale lambda_i = max(1, ln(qpos + 1) / ln(L)) (attention.h).
__device__ __forceinline__ float length_scale(const DevPlan& p, int qpos) {
  if (!(p.power > 0)) return 1.f;
  const float v = logf(static_cast<float>(qpos + 1)) / p.logLenBase;
  return v > 1.f ? v : 1.f;
}

// The score chain of attention.h: s0 = scale * q.k; softcap s1 = c tanh(s0 / c) (tanh kept in *t);
// ALiBi s2 = s1 - slope * min(|qpos - kvpos|, limit); Softplus: x = lambda * s2. Returns x.
__device__ __forceinline__ float score(const DevPlan& p, float qk, float slope, int qpos, int kpos, float lam, float* t) {
  float s = qk * p.scale;
  if (p.softcap > 0) {
    const float th = tanhf(s * p.invSoftcap);
    *t = th;
    s = p.softcap * th;
  }
  if (p.alibi) {
    float d = fabsf(static_cast<float>(qpos) - static_cast<float>(kpos));
    d = d < p.alibiLimit ? d : p.alibiLimit;
    s -= slope * d;
  }
  return p.power > 0 ? s * lam : s;
}

// softplus(x) = max(x, 0) + log(1 + exp(-|x|)); below -15, exp(x) (relative error < 2e-7).
__device__ __forceinline__ float softplus(float x) {
  if (x < -15.f) return expf(x);
  return fmaxf(x, 0.f) + logf(1.f + expf(-fabsf(x)));
}

}  // namespace attn
}  // namespace cu
}  // namespace lmp
