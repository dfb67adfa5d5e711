// AVX-512 instantiation of the attention kernels (see kernel_impl.inc): 6 x 64 zmm register
// blocks for the tile products and 16-lane softmax passes. Compiled for AVX-512 with a target
// pragma whatever -march says, and run only where the CPU has it (attention.cc asks core/config.h
// simd_level()), so one build serves AVX2-only and AVX-512 machines. The standard headers are
// included before the pragma: only this file's own functions are compiled for AVX-512.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include "attention/attention.h"
#include "core/threadpool.h"
#include "core/transpose.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
// GCC 12 warns inside its own AVX-512 headers (_mm512_undefined_* in the reductions, GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")
#define LMP_ATTN_AVX512 1
namespace lmp {
namespace attn {
namespace avx512 {
#include "attention/kernel_impl.inc"
}  // namespace avx512
}  // namespace attn
}  // namespace lmp
#pragma GCC pop_options
#else
// No AVX-512 build here: cpu_simd_level() may still report it, so fall back to the AVX2 copy.
namespace lmp {
namespace attn {
namespace avx512 {
void forward(const Params& p, float* out, float* lse) { simd::forward(p, out, lse); }
void forward_many(const Params* ps, size_t n, float* const* outs, float* const* lses) { simd::forward_many(ps, n, outs, lses); }
void backward(const Params& p, const float* o, const float* dout, const float* lse, float* dq, float* dk, float* dv, float* dqFar, float* dkFar) {
  simd::backward(p, o, dout, lse, dq, dk, dv, dqFar, dkFar);
}
}  // namespace avx512
}  // namespace attn
}  // namespace lmp
#endif
