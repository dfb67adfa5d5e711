#include "model/gemm.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/status.h"
#include "core/threadpool.h"
#include "core/transpose.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// GCC 12 warns inside its own AVX-512 headers (_mm512_undefined_* in the reductions, GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"  // (the same bug, reported so in builds without -march=native)
#include <immintrin.h>
// AVX-512 kernels are compiled with target attributes whatever -march says and run only where
// cpu_simd_level() finds AVX-512 (core/config.cc).
#define LMP_GEMM_AVX512 1
#define LMP_TARGET_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))
#endif
#if defined(__AVX2__) && defined(__FMA__)
#define LMP_GEMM_AVX2 1
#endif

namespace lmp {
namespace {

// Register blocks (rows x columns of C per micro-kernel call), picked at run time (core/config.h
// simd_level()): AVX2/FMA 6 x 16 (12 ymm accumulators), AVX-512 12 x 32 (24 zmm accumulators).
// Every path sums each C element over k in the same order (k ascending within a KC panel, one FMA
// per k, panels added in order), so the paths and the thread counts agree bit for bit.
constexpr int64_t KC = 256;          // depth of a packed panel (A block in L2, B sliver in L1)
constexpr int64_t MC = 96;           // rows per task (a multiple of both MRs, 6 and 12)
constexpr int64_t NC = 3072;         // columns of B packed at once (L3)

inline float a_at(const float* A, int64_t lda, bool ta, int64_t i, int64_t k) {
  return ta ? A[k * lda + i] : A[i * lda + k];
}

// Pack rows [i0, i0+mr) x depth [k0, k0+kc) of op(A) as [k][MR], zero-padded.
template <int64_t MR>
void pack_a(const float* A, int64_t lda, bool ta, int64_t i0, int64_t mr, int64_t k0, int64_t kc, float* dst) {
  if (!ta) {
    for (int64_t k = 0; k < kc; ++k) {
      for (int64_t r = 0; r < mr; ++r) dst[k * MR + r] = A[(i0 + r) * lda + k0 + k];
      for (int64_t r = mr; r < MR; ++r) dst[k * MR + r] = 0.f;
    }
  } else {
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = A + (k0 + k) * lda + i0;
      for (int64_t r = 0; r < mr; ++r) dst[k * MR + r] = src[r];
      for (int64_t r = mr; r < MR; ++r) dst[k * MR + r] = 0.f;
    }
  }
}

// Pack columns [j0, j0+nr) x depth [k0, k0+kc) of op(B) as [k][NR], zero-padded.
template <int64_t NR>
void pack_b(const float* B, int64_t ldb, bool tb, int64_t j0, int64_t nr, int64_t k0, int64_t kc, float* dst) {
  if (!tb) {
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = B + (k0 + k) * ldb + j0;
      if (nr == NR) {
        std::memcpy(dst + k * NR, src, NR * sizeof(float));
      } else {
        for (int64_t c = 0; c < nr; ++c) dst[k * NR + c] = src[c];
        for (int64_t c = nr; c < NR; ++c) dst[k * NR + c] = 0.f;
      }
    }
  } else {
    // B^T: NR source rows read side by side (NR sequential streams), each packed row written
    // once and contiguously (the column-at-a-time order wrote every cache line NR times).
    const float* src[NR];
    for (int64_t c = 0; c < NR; ++c) src[c] = B + (j0 + std::min(c, nr - 1)) * ldb + k0;
    if (nr == NR) {
      for (int64_t k = 0; k < kc; ++k)
        for (int64_t c = 0; c < NR; ++c) dst[k * NR + c] = src[c][k];
    } else {
      for (int64_t k = 0; k < kc; ++k)
        for (int64_t c = 0; c < NR; ++c) dst[k * NR + c] = c < nr ? src[c][k] : 0.f;
    }
  }
}

#ifdef LMP_GEMM_AVX2
// pack_a<6> for a full panel on the AVX2 path: A as stored by 8 x 8 in-register transposes of 6
// rows (2 zero rows), A^T by one 6-lane masked copy per depth (pack_a12_avx512's AVX2 twin).
void pack_a6_avx2(const float* A, int64_t lda, bool ta, int64_t i0, int64_t k0, int64_t kc, float* dst) {
  const __m256i m6 = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, 0, 0);
  if (ta) {
    for (int64_t k = 0; k < kc; ++k) _mm256_maskstore_ps(dst + k * 6, m6, _mm256_maskload_ps(A + (k0 + k) * lda + i0, m6));
    return;
  }
  int64_t k = 0;
  for (; k + 8 <= kc; k += 8) {
    __m256 r[8];
    for (int c = 0; c < 6; ++c) r[c] = _mm256_loadu_ps(A + (i0 + c) * lda + k0 + k);
    r[6] = r[7] = _mm256_setzero_ps();
    transpose8(r);
    for (int i = 0; i < 8; ++i) _mm256_maskstore_ps(dst + (k + i) * 6, m6, r[i]);
  }
  for (; k < kc; ++k)
    for (int c = 0; c < 6; ++c) dst[k * 6 + c] = A[(i0 + c) * lda + k0 + k];
}
#endif

// acc[MR][NR] = sum_k a[k][r] * b[k][c]  (AVX2/FMA: 6 x 16)
void micro_kernel_avx2(int64_t kc, const float* a, const float* b, float* acc) {
  constexpr int64_t MR = 6, NR = 16;
#ifdef LMP_GEMM_AVX2
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_loadu_ps(b + k * NR), b1 = _mm256_loadu_ps(b + k * NR + 8);
    const float* ak = a + k * MR;
    __m256 x;
    x = _mm256_broadcast_ss(ak + 0); c00 = _mm256_fmadd_ps(x, b0, c00); c01 = _mm256_fmadd_ps(x, b1, c01);
    x = _mm256_broadcast_ss(ak + 1); c10 = _mm256_fmadd_ps(x, b0, c10); c11 = _mm256_fmadd_ps(x, b1, c11);
    x = _mm256_broadcast_ss(ak + 2); c20 = _mm256_fmadd_ps(x, b0, c20); c21 = _mm256_fmadd_ps(x, b1, c21);
    x = _mm256_broadcast_ss(ak + 3); c30 = _mm256_fmadd_ps(x, b0, c30); c31 = _mm256_fmadd_ps(x, b1, c31);
    x = _mm256_broadcast_ss(ak + 4); c40 = _mm256_fmadd_ps(x, b0, c40); c41 = _mm256_fmadd_ps(x, b1, c41);
    x = _mm256_broadcast_ss(ak + 5); c50 = _mm256_fmadd_ps(x, b0, c50); c51 = _mm256_fmadd_ps(x, b1, c51);
  }
  _mm256_storeu_ps(acc + 0 * NR, c00); _mm256_storeu_ps(acc + 0 * NR + 8, c01);
  _mm256_storeu_ps(acc + 1 * NR, c10); _mm256_storeu_ps(acc + 1 * NR + 8, c11);
  _mm256_storeu_ps(acc + 2 * NR, c20); _mm256_storeu_ps(acc + 2 * NR + 8, c21);
  _mm256_storeu_ps(acc + 3 * NR, c30); _mm256_storeu_ps(acc + 3 * NR + 8, c31);
  _mm256_storeu_ps(acc + 4 * NR, c40); _mm256_storeu_ps(acc + 4 * NR + 8, c41);
  _mm256_storeu_ps(acc + 5 * NR, c50); _mm256_storeu_ps(acc + 5 * NR + 8, c51);
#else
  for (int64_t i = 0; i < MR * NR; ++i) acc[i] = 0.f;
  for (int64_t k = 0; k < kc; ++k)
    for (int64_t r = 0; r < MR; ++r) {
      const float x = a[k * MR + r];
      for (int64_t c = 0; c < NR; ++c) acc[r * NR + c] += x * b[k * NR + c];
    }
#endif
}

void sgemm_scalar(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  parallel_for(
      static_cast<size_t>(M),
      [&](size_t b, size_t e, int) {
        std::vector<float> row(static_cast<size_t>(N));
        for (int64_t i = static_cast<int64_t>(b); i < static_cast<int64_t>(e); ++i) {
          std::fill(row.begin(), row.end(), 0.f);
          for (int64_t k = 0; k < K; ++k) {
            const float x = a_at(A, lda, ta, i, k);
            if (!tb) {
              const float* br = B + k * ldb;
              for (int64_t j = 0; j < N; ++j) row[j] += x * br[j];
            } else {
              for (int64_t j = 0; j < N; ++j) row[j] += x * B[j * ldb + k];
            }
          }
          float* cr = C + i * ldc;
          for (int64_t j = 0; j < N; ++j) cr[j] = alpha * row[j] + (beta == 0.f ? 0.f : beta * cr[j]);
        }
      },
      4);
}

// Small M with B transposed (decoding: x[M, K] times weights [N, K]): dot products over
// contiguous rows, no packing. Fixed summation order per element (16 lanes, sum8, dot_tail below).
// C = alpha * s + beta * C with the roundings spelled out (std::fma), so every path and every
// compilation context (target attributes, -ffp-contract) gives the same bits.
inline float out_value(float alpha, float s, float beta, float c) { return beta == 0.f ? alpha * s : std::fma(alpha, s, beta * c); }

// Every dot path ends the same way: 8 lane sums added pairwise in this fixed tree, then the
// k that did not fill a vector one std::fma each, in order.
inline float sum8(const float* l) { return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7])); }
inline float dot_tail(const float* a, const float* b, int64_t k, int64_t K, float s) {
  for (; k < K; ++k) s = std::fma(a[k], b[k], s);
  return s;
}

#ifdef LMP_GEMM_AVX512
// One zmm accumulator: lane l sums k = l (mod 16); its two halves added are exactly the AVX2
// path's two ymm accumulators added, so both paths give the same bits.
LMP_TARGET_AVX512 inline float reduce16(__m512 acc) {
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, _mm256_add_ps(_mm512_castps512_ps256(acc), _mm512_extractf32x8_ps(acc, 1)));
  return sum8(lanes);
}

// reduce16x8's steps (named functions, not lambdas inside it: a lambda does not take its enclosing
// function's target attribute, so without -march=native their intrinsics failed to compile).
// [lo(a) | lo(b)] + [hi(a) | hi(b)]: the eight half sums of a, then of b
LMP_TARGET_AVX512 __attribute__((always_inline)) inline __m512 halves(__m512 a, __m512 b) {
  return _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
}
// per 128-bit block, the adjacent pair sums of x's block, then of y's
LMP_TARGET_AVX512 __attribute__((always_inline)) inline __m512 pairs(__m512 x, __m512 y) {
  return _mm512_add_ps(_mm512_shuffle_ps(x, y, 0x88), _mm512_shuffle_ps(x, y, 0xDD));
}
// reduce16 of eight accumulators at once with reduce16's pairing (lane i + lane i + 8, then adjacent
// pairs, then pairs of those, then the two halves), so out[k] has exactly the bits of reduce16(v[k]):
// 16 shuffles and 8 adds for all eight, where eight reduce16 cost ~17 instructions each.
LMP_TARGET_AVX512 __attribute__((always_inline)) inline void reduce16x8(__m512 v0, __m512 v1, __m512 v2, __m512 v3, __m512 v4, __m512 v5,
                                                                        __m512 v6, __m512 v7, float* out) {
  const __m512 p0 = pairs(halves(v0, v1), halves(v2, v3)), p1 = pairs(halves(v4, v5), halves(v6, v7));
  // block 0: the first quarter sums of v0, v2, v4, v6; block 1 their second; blocks 2, 3 those of v1, v3, v5, v7
  const __m512 q = pairs(p0, p1);
  // blocks 0 + 1 and 2 + 3: lanes [v0, v2, v4, v6, v1, v3, v5, v7]
  const __m512 r = _mm512_add_ps(_mm512_shuffle_f32x4(q, q, 0x88), _mm512_shuffle_f32x4(q, q, 0xDD));
  alignas(32) float l[8];
  _mm256_store_ps(l, _mm512_castps512_ps256(r));
  out[0] = l[0], out[1] = l[4], out[2] = l[1], out[3] = l[5], out[4] = l[2], out[5] = l[6], out[6] = l[3], out[7] = l[7];
}

LMP_TARGET_AVX512 float dot_avx512(const float* a, const float* b, int64_t K) {
  __m512 acc = _mm512_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), _mm512_loadu_ps(b + k), acc);
  return dot_tail(a, b, k, K, reduce16(acc));
}

#endif

// a . b over K on the path in force: 16 lanes (one zmm, or two ymm), then sum8 and dot_tail.
inline float dot(const float* a, const float* b, int64_t K, bool avx512) {
  (void)avx512;
#ifdef LMP_GEMM_AVX512
  if (avx512) return dot_avx512(a, b, K);
#endif
#ifdef LMP_GEMM_AVX2
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 8), _mm256_loadu_ps(b + k + 8), acc1);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, _mm256_add_ps(acc0, acc1));
  return dot_tail(a, b, k, K, sum8(lanes));
#else
  return dot_tail(a, b, 0, K, 0.f);
#endif
}

#ifdef LMP_GEMM_AVX512
// Four rows of B (four weight streams in flight: decoding's GEMVs read the weights once per token,
// and one stream at a time left the core's memory parallelism unused) against up to six rows of A
// (batched decoding: each weight row is read from memory once for all the batch's rows, from L1
// after). b[q] is the q-th weight row; with PF, each step also prefetches a line of b[q] + pf_offset
// (the next group's rows in the adjacent layout). acc[r][c] is summed exactly as dot_avx512 sums
// row r with column c (lane l over k = l (mod 16), k ascending), so a row's result does not depend
// on the other rows of the call or on which columns are grouped: a batch of R sequences gives each
// the bits of R = 1, in either layout.
template <int R, bool PF>
LMP_TARGET_AVX512 void dot16x4xr_avx512(const float* const* a, const float* const* b, int64_t pf_offset, int64_t K, float* out,
                                        int64_t ldo) {
  // fully unrolled (#pragma GCC unroll), so that the accumulators live in registers: rolled, GCC kept
  // c[][] in memory and stored all 16 every step (a third of the FMA rate)
  __m512 c[R][4];
  const float* ar[R];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    ar[r] = a[r];
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) c[r][q] = _mm512_setzero_ps();
  }
  const float *b0 = b[0], *b1 = b[1], *b2 = b[2], *b3 = b[3];
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    if (PF) {
      _mm_prefetch(reinterpret_cast<const char*>(b0 + pf_offset + k), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(b1 + pf_offset + k), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(b2 + pf_offset + k), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(b3 + pf_offset + k), _MM_HINT_T0);
    }
    __m512 w0 = _mm512_loadu_ps(b0 + k), w1 = _mm512_loadu_ps(b1 + k), w2 = _mm512_loadu_ps(b2 + k), w3 = _mm512_loadu_ps(b3 + k);
    // the weights and (below) x in registers for R > 1 (batched rows): left to itself GCC folds a
    // load into every FMA that uses it (x four times: 28 loads a step at R = 6; pinning x alone,
    // the weights R times at R = 3, 4), and Zen 4's one 512-bit load a cycle then bounds the loop
    // below its FMA rate. R = 1 streams the weights from memory and is left as it was.
    if constexpr (R > 1) asm("" : "+v"(w0), "+v"(w1), "+v"(w2), "+v"(w3));
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      __m512 x = _mm512_loadu_ps(ar[r] + k);
      if constexpr (R > 1) asm("" : "+v"(x));
      c[r][0] = _mm512_fmadd_ps(x, w0, c[r][0]);
      c[r][1] = _mm512_fmadd_ps(x, w1, c[r][1]);
      c[r][2] = _mm512_fmadd_ps(x, w2, c[r][2]);
      c[r][3] = _mm512_fmadd_ps(x, w3, c[r][3]);
    }
  }
  // the sums of rows r, r + 1 (eight accumulators) at once; an odd last row alone
  float sum[4 * R];
#pragma GCC unroll 3
  for (int r = 0; r + 1 < R; r += 2)
    reduce16x8(c[r][0], c[r][1], c[r][2], c[r][3], c[r + 1][0], c[r + 1][1], c[r + 1][2], c[r + 1][3], sum + 4 * r);
  if (R % 2)
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) sum[4 * (R - 1) + q] = reduce16(c[R - 1][q]);
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) out[r * ldo + q] = dot_tail(ar[r], b[q], k, K, sum[4 * r + q]);
}

template <bool PF>
LMP_TARGET_AVX512 void dot16x4_rows_avx512(const float* const* a, int rows, const float* const* b, int64_t pf_offset, int64_t K,
                                           float* out, int64_t ldo) {
  switch (rows) {
    case 1: return dot16x4xr_avx512<1, PF>(a, b, pf_offset, K, out, ldo);
    case 2: return dot16x4xr_avx512<2, PF>(a, b, pf_offset, K, out, ldo);
    case 3: return dot16x4xr_avx512<3, PF>(a, b, pf_offset, K, out, ldo);
    case 4: return dot16x4xr_avx512<4, PF>(a, b, pf_offset, K, out, ldo);
    case 5: return dot16x4xr_avx512<5, PF>(a, b, pf_offset, K, out, ldo);
    default: return dot16x4xr_avx512<6, PF>(a, b, pf_offset, K, out, ldo);
  }
}
#endif

#ifdef LMP_GEMM_AVX2
// Two rows of B against two rows of A on the AVX2 path (batched decoding there): each element in two
// ymm accumulators (k = 0..7 and 8..15 mod 16) summed, reduced and finished exactly as dot's AVX2
// branch, so each row has the bits of M = 1; 8 accumulators, every weight load used twice.
inline void dot16x2x2_avx2(const float* a0, const float* a1, const float* b0, const float* b1, int64_t K, float out[4]) {
  // named accumulators, not an array: with c[4][2] and a rolled final loop GCC kept the array on
  // the stack, stored all eight every step and reloaded every operand (16 loads for 8 FMAs)
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  int64_t k = 0;
  for (; k + 16 <= K; k += 16) {
    __m256 w0 = _mm256_loadu_ps(b0 + k), w0h = _mm256_loadu_ps(b0 + k + 8), w1 = _mm256_loadu_ps(b1 + k), w1h = _mm256_loadu_ps(b1 + k + 8);
    __m256 x0 = _mm256_loadu_ps(a0 + k), x0h = _mm256_loadu_ps(a0 + k + 8);
    __m256 x1 = _mm256_loadu_ps(a1 + k), x1h = _mm256_loadu_ps(a1 + k + 8);
    // each in a register, loaded once (GCC folds a load into every FMA that uses it otherwise)
    asm("" : "+x"(w0), "+x"(w0h), "+x"(w1), "+x"(w1h));
    asm("" : "+x"(x0), "+x"(x0h), "+x"(x1), "+x"(x1h));
    c00 = _mm256_fmadd_ps(x0, w0, c00);
    c01 = _mm256_fmadd_ps(x0h, w0h, c01);
    c10 = _mm256_fmadd_ps(x0, w1, c10);
    c11 = _mm256_fmadd_ps(x0h, w1h, c11);
    c20 = _mm256_fmadd_ps(x1, w0, c20);
    c21 = _mm256_fmadd_ps(x1h, w0h, c21);
    c30 = _mm256_fmadd_ps(x1, w1, c30);
    c31 = _mm256_fmadd_ps(x1h, w1h, c31);
  }
  const __m256 sums[4] = {_mm256_add_ps(c00, c01), _mm256_add_ps(c10, c11), _mm256_add_ps(c20, c21), _mm256_add_ps(c30, c31)};
  const float* av[4] = {a0, a0, a1, a1};
  const float* bv[4] = {b0, b1, b0, b1};
  for (int e = 0; e < 4; ++e) {
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, sums[e]);
    out[e] = dot_tail(av[e], bv[e], k, K, sum8(lanes));
  }
}
#endif

// Small M with B transposed (decoding: sgemm for M <= 4, sgemm_rows_bt for batched decoding).
// Columns outer (AVX-512: four weight rows against six activation rows, 24 zmm accumulators; AVX2:
// two against two), rows inner, so the weights stream from memory once per call whatever M is;
// every element is summed as one `dot` of its row and column, the same bits for any M and either
// layout. Which weight rows go together is core/config.h's weight_streams(): adjacent rows with a
// software prefetch of the next group (Intel), or rows a quarter (AVX2: half) of the chunk apart
// without it (AMD Zen 4 streamed four adjacent rows at half the speed of one row alone, spread
// ones at the full speed; bench/RESULTS.md).
void sgemm_small_m_bt(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, bool ta,
                      const float* B, int64_t ldb, float beta, float* C, int64_t ldc, bool avx512) {
  const bool spread = weight_streams() == kStreamsSpread;
  parallel_for(
      static_cast<size_t>(N),
      [&](size_t jb, size_t je, int) {
        std::vector<float> at;
        std::vector<const float*> a(static_cast<size_t>(M));
        if (ta) {
          at.resize(static_cast<size_t>(M * K));
          for (int64_t k = 0; k < K; ++k)
            for (int64_t i = 0; i < M; ++i) at[i * K + k] = A[k * lda + i];
        }
        for (int64_t i = 0; i < M; ++i) a[i] = ta ? at.data() + i * K : A + i * lda;
        const auto put = [&](int64_t i, int64_t col, float v) {
          float* cij = C + i * ldc + col;
          *cij = out_value(alpha, v, beta, *cij);
        };
        // The chunk's columns in groups of G (<= 4): group g is jb + g * G + q (adjacent) or
        // jb + g + q * groups (spread); returns the first column left for the one-at-a-time tail.
        const auto grouped = [&](int64_t G, const auto& body) {
          const int64_t groups = static_cast<int64_t>(je - jb) / G;
          for (int64_t g = 0; g < groups; ++g) {
            int64_t cols[4];
            for (int64_t q = 0; q < G; ++q) cols[q] = static_cast<int64_t>(jb) + (spread ? g + q * groups : g * G + q);
            body(cols);
          }
          return jb + static_cast<size_t>(groups * G);
        };
        size_t j = jb;
#ifdef LMP_GEMM_AVX512
        if (avx512) {
          float s[6 * 4];
          j = grouped(4, [&](const int64_t* cols) {
            const float* b[4];
            for (int q = 0; q < 4; ++q) b[q] = B + cols[q] * ldb;
            for (int64_t i = 0; i < M; i += 6) {
              const int rows = static_cast<int>(std::min<int64_t>(6, M - i));
              if (spread)
                dot16x4_rows_avx512<false>(a.data() + i, rows, b, 0, K, s, 4);
              else
                dot16x4_rows_avx512<true>(a.data() + i, rows, b, 4 * ldb, K, s, 4);
              for (int r = 0; r < rows; ++r)
                for (int q = 0; q < 4; ++q) put(i + r, cols[q], s[r * 4 + q]);
            }
          });
        }
#endif
#ifdef LMP_GEMM_AVX2
        if (!avx512 && M >= 2) {
          float s[4];
          j = grouped(2, [&](const int64_t* cols) {
            const float *b0 = B + cols[0] * ldb, *b1 = B + cols[1] * ldb;
            int64_t i = 0;
            for (; i + 2 <= M; i += 2) {
              dot16x2x2_avx2(a[i], a[i + 1], b0, b1, K, s);
              for (int e = 0; e < 4; ++e) put(i + e / 2, cols[e % 2], s[e]);
            }
            for (; i < M; ++i)
              for (int q = 0; q < 2; ++q) put(i, cols[q], dot(a[i], B + cols[q] * ldb, K, false));
          });
        }
#endif
        for (; j < je; ++j)
          for (int64_t i = 0; i < M; ++i) put(i, static_cast<int64_t>(j), dot(a[i], B + static_cast<int64_t>(j) * ldb, K, avx512));
      },
      16);
}

struct AlignedBuf {
  float* p = nullptr;
  size_t n = 0;
  ~AlignedBuf() { std::free(p); }
  float* get(size_t need) {
    if (need > n) {
      std::free(p);
      p = static_cast<float*>(std::aligned_alloc(64, ((need * sizeof(float) + 63) / 64) * 64));
      if (!p) throw std::bad_alloc();
      n = need;
    }
    return p;
  }
};

// Writes a block of C from the accumulators (rows of NR): rows < mr, columns < nr. The formulas
// (alpha * acc; fma(alpha, acc, C); fma(alpha, acc, beta * C)) match the AVX-512 kernel's.
template <int64_t NR>
inline void store_tile(const float* acc, float* C, int64_t ldc, float alpha, float beta, int64_t mr, int64_t nr) {
  for (int64_t r = 0; r < mr; ++r) {
    float* cr = C + r * ldc;
    const float* ar = acc + r * NR;
    if (beta == 0.f) {
      for (int64_t c = 0; c < nr; ++c) cr[c] = alpha * ar[c];
    } else if (beta == 1.f) {
      for (int64_t c = 0; c < nr; ++c) cr[c] = std::fma(alpha, ar[c], cr[c]);
    } else {
      for (int64_t c = 0; c < nr; ++c) cr[c] = std::fma(alpha, ar[c], beta * cr[c]);
    }
  }
}

// C block (mr x nr at C) = alpha * A panel . B panel + beta * C. AVX2 path (or plain loops in builds without AVX2).
void tile_avx2(int64_t kc, const float* a, const float* b, float* C, int64_t ldc, float alpha, float beta, int64_t mr, int64_t nr) {
  alignas(64) float acc[6 * 16];
  micro_kernel_avx2(kc, a, b, acc);
  store_tile<16>(acc, C, ldc, alpha, beta, mr, nr);
}

#ifdef LMP_GEMM_AVX512
// AVX-512 12 x 32: 24 zmm accumulators, two B vectors and one broadcast per k. Full blocks update
// C with vector loads/stores; edge blocks use lane masks (same arithmetic).
LMP_TARGET_AVX512 void tile_avx512(int64_t kc, const float* a, const float* b, float* C, int64_t ldc, float alpha, float beta,
                                   int64_t mr, int64_t nr) {
  constexpr int MR = 12, NR = 32;
  __m512 c[MR][2];
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r) c[r][0] = c[r][1] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(b + k * NR), b1 = _mm512_load_ps(b + k * NR + 16);
    const float* ak = a + k * MR;
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
      const __m512 x = _mm512_set1_ps(ak[r]);
      c[r][0] = _mm512_fmadd_ps(x, b0, c[r][0]);
      c[r][1] = _mm512_fmadd_ps(x, b1, c[r][1]);
    }
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  const __mmask16 m0 = nr >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << nr) - 1);
  const __mmask16 m1 = nr >= 32 ? static_cast<__mmask16>(0xFFFF) : nr <= 16 ? static_cast<__mmask16>(0) : static_cast<__mmask16>((1u << (nr - 16)) - 1);
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r) {
    if (r >= mr) break;
    float* cr = C + r * ldc;
    __m512 o0, o1;
    if (beta == 0.f) {
      o0 = _mm512_mul_ps(va, c[r][0]);
      o1 = _mm512_mul_ps(va, c[r][1]);
    } else if (beta == 1.f) {
      o0 = _mm512_fmadd_ps(va, c[r][0], _mm512_maskz_loadu_ps(m0, cr));
      o1 = _mm512_fmadd_ps(va, c[r][1], _mm512_maskz_loadu_ps(m1, cr + 16));
    } else {
      o0 = _mm512_fmadd_ps(va, c[r][0], _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m0, cr)));
      o1 = _mm512_fmadd_ps(va, c[r][1], _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m1, cr + 16)));
    }
    _mm512_mask_storeu_ps(cr, m0, o0);
    _mm512_mask_storeu_ps(cr + 16, m1, o1);
  }
}
#endif

#ifdef LMP_GEMM_AVX512
// In-register 16 x 16 transpose: r[i] = row i in, column i out.
LMP_TARGET_AVX512 inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // x[4i + j], 128-bit lane L: column 4L + j of rows 4i .. 4i + 3
  __m512 x[16];
  for (int i = 0; i < 4; ++i) {
    const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
    const __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
    x[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    x[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    x[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    x[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  for (int j = 0; j < 4; ++j) {
    const __m512 y0 = _mm512_shuffle_f32x4(x[j], x[4 + j], 0x44), y1 = _mm512_shuffle_f32x4(x[j], x[4 + j], 0xEE);
    const __m512 z0 = _mm512_shuffle_f32x4(x[8 + j], x[12 + j], 0x44), z1 = _mm512_shuffle_f32x4(x[8 + j], x[12 + j], 0xEE);
    r[j] = _mm512_shuffle_f32x4(y0, z0, 0x88);
    r[4 + j] = _mm512_shuffle_f32x4(y0, z0, 0xDD);
    r[8 + j] = _mm512_shuffle_f32x4(y1, z1, 0x88);
    r[12 + j] = _mm512_shuffle_f32x4(y1, z1, 0xDD);
  }
}

// pack_b<32> for B^T with a full panel (32 source rows): 16 x 16 blocks transposed in registers
// (the element-wise gather was ~20% of an M = 128 NT GEMM: prefill and every forward projection).
LMP_TARGET_AVX512 void pack_bt32_avx512(const float* B, int64_t ldb, int64_t j0, int64_t k0, int64_t kc, float* dst, int64_t next_rows) {
  // The next panel's rows (next_rows of them, <= 32), prefetched into the outer caches a few lines per
  // 16 x 16 block, row after row: this panel reads 32 rows a line at a time, which AMD Zen 4's
  // prefetchers did not follow (1.02 ns an element from memory against 0.22 from cache; 0.42 with
  // this: bench/RESULTS.md)
  const int64_t row_lines = (kc + 15) / 16, blocks = 2 * (kc / 16);
  const int64_t per = next_rows > 0 && blocks > 0 ? (next_rows * row_lines + blocks - 1) / blocks : 0;
  int64_t pf_row = 0, pf_line = 0;  // the next line to prefetch: row of the next panel, line within it
  int64_t k = 0;
  for (; k + 16 <= kc; k += 16)
    for (int h = 0; h < 2; ++h) {
      for (int64_t x = 0; x < per && pf_row < next_rows; ++x) {
        _mm_prefetch(reinterpret_cast<const char*>(B + (j0 + 32 + pf_row) * ldb + k0 + pf_line * 16), _MM_HINT_T2);
        if (++pf_line == row_lines) pf_line = 0, ++pf_row;
      }
      __m512 r[16];
      for (int c = 0; c < 16; ++c) r[c] = _mm512_loadu_ps(B + (j0 + 16 * h + c) * ldb + k0 + k);
      transpose16(r);
      for (int i = 0; i < 16; ++i) _mm512_store_ps(dst + (k + i) * 32 + 16 * h, r[i]);
    }
  for (; k < kc; ++k)
    for (int c = 0; c < 32; ++c) dst[k * 32 + c] = B[(j0 + c) * ldb + k0 + k];
}

// pack_a<12> for a full panel (12 rows of op(A)): A as stored ([M][K], the activations of every
// forward projection and of dX = dY W) by 16 x 16 in-register transposes of 12 rows (4 zero rows),
// A^T ([K][M], dW = dY^T X) by one 12-lane masked copy per depth (the element-wise loops were ~20%
// of a training step's GEMM time, as the B^T gather was before pack_bt32_avx512).
LMP_TARGET_AVX512 void pack_a12_avx512(const float* A, int64_t lda, bool ta, int64_t i0, int64_t k0, int64_t kc, float* dst) {
  constexpr __mmask16 m12 = 0x0FFF;
  if (ta) {
    for (int64_t k = 0; k < kc; ++k) _mm512_mask_storeu_ps(dst + k * 12, m12, _mm512_maskz_loadu_ps(m12, A + (k0 + k) * lda + i0));
    return;
  }
  int64_t k = 0;
  for (; k + 16 <= kc; k += 16) {
    __m512 r[16];
    for (int c = 0; c < 12; ++c) r[c] = _mm512_loadu_ps(A + (i0 + c) * lda + k0 + k);
    for (int c = 12; c < 16; ++c) r[c] = _mm512_setzero_ps();
    transpose16(r);
    for (int i = 0; i < 16; ++i) _mm512_mask_storeu_ps(dst + (k + i) * 12, m12, r[i]);
  }
  for (; k < kc; ++k)
    for (int c = 0; c < 12; ++c) dst[k * 12 + c] = A[(i0 + c) * lda + k0 + k];
}
#endif

using TileFn = void (*)(int64_t, const float*, const float*, float*, int64_t, float, float, int64_t, int64_t);

// BLIS-style blocked GEMM over MR x NR register blocks. Per (NC, KC) panel: one job packs B's
// column panels and A's row panels (all of them, once, in parallel: small-M GEMMs of a training
// step spent most of their 2-thread time packing B serially and A once per task), then one job
// runs the (row block, column group) tasks over the packed panels.
template <int64_t MR, int64_t NR>
void sgemm_blocked(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                   const float* B, int64_t ldb, float beta, float* C, int64_t ldc, TileFn tile) {
  static_assert(MC % MR == 0, "MC must be a multiple of MR");
  static thread_local AlignedBuf bbuf, abuf;
  const int64_t m_panels = (M + MR - 1) / MR;
  // B^T panels prefetched one ahead (pack_bt32_avx512) where the weights do not fit a core's L2
  // (1 MiB on Zen 4) and so stream from L3 or memory: prefill of the 23M model 1.11x on Zen 4; for
  // smaller B (the training step's 4.85M model) the prefetches only cost (0.94-0.99x)
  const bool prefetch_next = weight_streams() == kStreamsSpread && tb && N * K * 4 >= (int64_t{1} << 20);
  for (int64_t jc = 0; jc < N; jc += NC) {
    const int64_t nc = std::min(NC, N - jc);
    const int64_t n_panels = (nc + NR - 1) / NR;
    for (int64_t pc = 0; pc < K; pc += KC) {
      const int64_t kc = std::min(KC, K - pc);
      const float beta_eff = pc == 0 ? beta : 1.f;
      float* Bp = bbuf.get(static_cast<size_t>(n_panels * NR * kc));
      float* Ap = abuf.get(static_cast<size_t>(m_panels * MR * kc));
      const int64_t a_units = m_panels;  // (repacked per NC column panel too: N > NC is rare)
      parallel_for(
          static_cast<size_t>(n_panels + a_units),
          [&](size_t b, size_t e, int) {
            for (size_t u = b; u < e; ++u) {
              const int64_t x = static_cast<int64_t>(u);
              if (x < n_panels) {
                const int64_t j0 = jc + x * NR, nr = std::min(NR, jc + nc - j0);
#ifdef LMP_GEMM_AVX512
                // (the 12 x 32 blocks run only where the CPU has AVX-512)
                if (NR == 32 && tb && nr == NR) {
                  pack_bt32_avx512(B, ldb, j0, pc, kc, Bp + x * NR * kc, prefetch_next ? std::min<int64_t>(NR, jc + nc - j0 - NR) : 0);
                  continue;
                }
#endif
                pack_b<NR>(B, ldb, tb, j0, nr, pc, kc, Bp + x * NR * kc);
              } else {
                const int64_t ip = x - n_panels;
#ifdef LMP_GEMM_AVX512
                if (MR == 12 && M - ip * MR >= MR) {
                  pack_a12_avx512(A, lda, ta, ip * MR, pc, kc, Ap + ip * MR * kc);
                  continue;
                }
#endif
#ifdef LMP_GEMM_AVX2
                if (MR == 6 && M - ip * MR >= MR) {
                  pack_a6_avx2(A, lda, ta, ip * MR, pc, kc, Ap + ip * MR * kc);
                  continue;
                }
#endif
                pack_a<MR>(A, lda, ta, ip * MR, std::min(MR, M - ip * MR), pc, kc, Ap + ip * MR * kc);
              }
            }
          },
          2);
      // Tasks: MC-row blocks x column groups of panels (more groups when M is small).
      const int64_t m_blocks = (m_panels * MR + MC - 1) / MC;
      int64_t n_groups = 1;
      const int64_t want = 4 * num_threads();
      while (m_blocks * n_groups < want && n_groups * 2 <= n_panels) n_groups *= 2;
      parallel_for(
          static_cast<size_t>(m_blocks * n_groups),
          [&](size_t tb_, size_t te_, int) {
            for (size_t t = tb_; t < te_; ++t) {
              const int64_t mb = static_cast<int64_t>(t) / n_groups, ng = static_cast<int64_t>(t) % n_groups;
              const int64_t i0 = mb * MC, mc = std::min(MC, M - i0);
              const int64_t mp = (mc + MR - 1) / MR;
              const float* Ablk = Ap + (i0 / MR) * MR * kc;
              const int64_t p_begin = n_panels * ng / n_groups, p_end = n_panels * (ng + 1) / n_groups;
              for (int64_t jp = p_begin; jp < p_end; ++jp) {
                const int64_t j0 = jc + jp * NR, nr = std::min(NR, jc + nc - j0);
                const float* bp = Bp + jp * NR * kc;
                for (int64_t ip = 0; ip < mp; ++ip) {
                  const int64_t r0 = i0 + ip * MR, mr = std::min(MR, mc - ip * MR);
                  tile(kc, Ablk + ip * MR * kc, bp, C + r0 * ldc + j0, ldc, alpha, beta_eff, mr, nr);
                }
              }
            }
          },
          1);
    }
  }
}

}  // namespace

void sgemm_check(bool ta, bool tb, int64_t M, int64_t N, int64_t K, size_t a_len, int64_t lda, size_t b_len,
                 int64_t ldb, size_t c_len, int64_t ldc) {
  check(M >= 0 && N >= 0 && K >= 0, "LMP_E_SHAPE", "gemm: M, N, K must be >= 0");
  const int64_t a_rows = ta ? K : M, a_cols = ta ? M : K;
  const int64_t b_rows = tb ? N : K, b_cols = tb ? K : N;
  check(lda >= std::max<int64_t>(a_cols, 1), "LMP_E_SHAPE", "gemm: lda " + std::to_string(lda) + " < columns of A " + std::to_string(a_cols));
  check(ldb >= std::max<int64_t>(b_cols, 1), "LMP_E_SHAPE", "gemm: ldb " + std::to_string(ldb) + " < columns of B " + std::to_string(b_cols));
  check(ldc >= std::max<int64_t>(N, 1), "LMP_E_SHAPE", "gemm: ldc " + std::to_string(ldc) + " < N " + std::to_string(N));
  auto need = [](int64_t rows, int64_t cols, int64_t ld) -> size_t {
    return rows == 0 || cols == 0 ? 0 : static_cast<size_t>((rows - 1) * ld + cols);
  };
  check(a_len >= need(a_rows, a_cols, lda), "LMP_E_SHAPE", "gemm: A is too small for its shape");
  check(b_len >= need(b_rows, b_cols, ldb), "LMP_E_SHAPE", "gemm: B is too small for its shape");
  check(c_len >= need(M, N, ldc), "LMP_E_SHAPE", "gemm: C is too small for its shape");
}

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == 0.f) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    return;
  }
  if (force_scalar()) {
    sgemm_scalar(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  if (tb && M <= 4) {
    sgemm_small_m_bt(M, N, K, alpha, A, lda, ta, B, ldb, beta, C, ldc, simd_level() >= kSimdAvx512);
    return;
  }
  if (simd_level() >= kSimdAvx512) {
#ifdef LMP_GEMM_AVX512
    sgemm_blocked<12, 32>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, tile_avx512);
    return;
#endif
  }
  sgemm_blocked<6, 16>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, tile_avx2);
}

void sgemm_rows_bt(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                   float* C, int64_t ldc) {
  check(M >= 0 && M <= kRowsMax, "LMP_E_ARG", "gemmRows: M must be in 0.." + std::to_string(kRowsMax) + ", got " + std::to_string(M));
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == 0.f || force_scalar()) {
    for (int64_t i = 0; i < M; ++i) sgemm(false, true, 1, N, K, alpha, A + i * lda, lda, B, ldb, beta, C + i * ldc, ldc);  // the M = 1 calls
    return;
  }
  sgemm_small_m_bt(M, N, K, alpha, A, lda, false, B, ldb, beta, C, ldc, simd_level() >= kSimdAvx512);
}

}  // namespace lmp
