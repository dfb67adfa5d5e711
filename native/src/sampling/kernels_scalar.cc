// Scalar instantiation of the sampling kernels (see kernels.inc): the loop and SLP vectorizers
// are off, so force_scalar() runs plain loops with the same lane order as the SIMD copy.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-vectorize", "no-tree-slp-vectorize")
#endif
#define LMP_SAMPLING_SCALAR 1
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/fexp.h"
#include "sampling/kernels.h"

namespace lmp {
namespace sampling {
namespace scalar {
#include "sampling/kernels.inc"
}  // namespace scalar
const Kernels& kernels_scalar() { return scalar::table(); }
}  // namespace sampling
}  // namespace lmp
