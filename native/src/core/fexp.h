// The samplers' float exp, shared by the CPU chain (sampling/chain.cc), its vectorized kernels
// (sampling/kernels.inc) and the CUDA backend (cuda/kernels.cu), so that the same logits give
// the same weights, and the same seed the same tokens, on every backend.
//
// Cephes-style expf: range reduction by ln 2 and a degree-5 polynomial; relative error about
// 2e-7. Branch-free so loops over it vectorize; inputs below -87 give 0 exactly (so -inf logits
// have p = 0, never a denormal crumb). CUDA code compiles it with -fmad=false, so the float
// operations round as written on both sides. Do not change the formula without the parity run
// (bench/cuda/device-check.sh).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#ifdef __CUDACC__
#define LMP_FEXP_INLINE __host__ __device__ __forceinline__
#else
#define LMP_FEXP_INLINE __attribute__((always_inline)) inline
#endif

namespace lmp {

LMP_FEXP_INLINE float fexp(float x) {
#ifdef __CUDA_ARCH__
  const float xc = fminf(fmaxf(x, -87.0f), 88.0f);
  float fx = floorf(xc * 1.44269504088896341f + 0.5f);
#else
  const float xc = std::min(std::max(x, -87.0f), 88.0f);
  float fx = std::floor(xc * 1.44269504088896341f + 0.5f);
#endif
  float r = xc - fx * 0.693359375f;
  r = r - fx * -2.12194440e-4f;
  const float z = r * r;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * z + r + 1.0f;
  const int32_t e = (static_cast<int32_t>(fx) + 127) << 23;
#ifdef __CUDA_ARCH__
  const float p = __int_as_float(e);
#else
  float p;
  std::memcpy(&p, &e, sizeof p);
#endif
  const float out = y * p;
  return x < -87.0f ? 0.0f : out;
}

}  // namespace lmp
