// SIMD instantiation of the sampling kernels (see kernels.inc): auto-vectorized for -march=native.
#if defined(__AVX2__)
#include <immintrin.h>
#endif
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/config.h"
#include "core/fexp.h"
#include "sampling/kernels.h"

namespace lmp {
namespace sampling {
namespace simd {
#include "sampling/kernels.inc"
}  // namespace simd
const Kernels& kernels_simd() { return simd::table(); }
const Kernels& kernels() { return force_scalar() ? kernels_scalar() : kernels_simd(); }
}  // namespace sampling
}  // namespace lmp
