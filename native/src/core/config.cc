#include "core/config.h"

#include <atomic>

namespace lmp {
namespace {
std::atomic<bool> g_force_scalar{false};
}

bool force_scalar() { return g_force_scalar.load(std::memory_order_relaxed); }
void set_force_scalar(bool on) { g_force_scalar.store(on, std::memory_order_relaxed); }

const char* simd_name() {
#if defined(__AVX512F__)
  return "avx512";
#elif defined(__AVX2__) && defined(__FMA__)
  return "avx2";
#elif defined(__ARM_NEON)
  return "neon";
#else
  return "scalar";
#endif
}

}  // namespace lmp
