// SIMD instantiation of the attention kernels (see kernel_impl.inc).
#include <algorithm>
#if defined(__AVX2__)
#include <immintrin.h>
#endif
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#include "attention/attention.h"
#include "core/threadpool.h"
#include "core/transpose.h"

namespace lmp {
namespace attn {
namespace simd {
#include "attention/kernel_impl.inc"
}  // namespace simd
}  // namespace attn
}  // namespace lmp
