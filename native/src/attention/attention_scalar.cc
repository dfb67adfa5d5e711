// Scalar instantiation of the attention kernels (see kernel_impl.inc): the same source with the
// loop and SLP vectorizers turned off, selected by force_scalar() so tests exercise both paths.
// (GCC honours the pragma; with other compilers this TU is simply a second copy of the SIMD path.)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-vectorize", "no-tree-slp-vectorize")
#endif
#define LMP_ATTN_SCALAR 1
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include "attention/attention.h"
#include "core/threadpool.h"

namespace lmp {
namespace attn {
namespace scalar {
#include "attention/kernel_impl.inc"
}  // namespace scalar
}  // namespace attn
}  // namespace lmp
