#include "core/config.h"

#include <atomic>

namespace lmp {
namespace {
std::atomic<bool> g_force_scalar{false};
std::atomic<int> g_simd_cap{kSimdAvx512};
std::atomic<int> g_weight_streams{-1};

int detect_simd() {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  // libgcc's cpu model also checks XCR0 (the OS saves the ymm/zmm state) before setting these.
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
#if defined(__AVX2__) && defined(__FMA__)
  return avx512 ? kSimdAvx512 : avx2 ? kSimdAvx2 : kSimdScalar;
#else
  // The AVX2 kernels are compiled only for AVX2 builds (-march); the AVX-512 ones always (target attributes).
  return avx512 ? kSimdAvx512 : kSimdScalar;
#endif
#else
  return kSimdScalar;
#endif
}
int detect_weight_streams() {
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  return __builtin_cpu_is("intel") ? kStreamsAdjacent : kStreamsSpread;
#else
  return kStreamsSpread;
#endif
}
}  // namespace

int detected_weight_streams() {
  static const int layout = detect_weight_streams();
  return layout;
}
int weight_streams() {
  const int set = g_weight_streams.load(std::memory_order_relaxed);
  return set < 0 ? detected_weight_streams() : set;
}
void set_weight_streams(int layout) { g_weight_streams.store(layout == kStreamsAdjacent || layout == kStreamsSpread ? layout : -1, std::memory_order_relaxed); }
const char* weight_streams_name(int layout) { return layout == kStreamsAdjacent ? "adjacent" : "spread"; }

int cpu_simd_level() {
  static const int level = detect_simd();
  return level;
}
int simd_level() {
  if (force_scalar()) return kSimdScalar;
  const int cap = g_simd_cap.load(std::memory_order_relaxed);
  const int cpu = cpu_simd_level();
  const int level = cap < cpu ? cap : cpu;
#if !(defined(__AVX2__) && defined(__FMA__))
  // no AVX2 kernels in this build (as in detect_simd): capped at avx2, the kernels take the plain path
  if (level == kSimdAvx2) return kSimdScalar;
#endif
  return level;
}
void set_simd_cap(int cap) { g_simd_cap.store(cap < 0 || cap > kSimdAvx512 ? kSimdAvx512 : cap, std::memory_order_relaxed); }
const char* simd_level_name(int level) { return level >= kSimdAvx512 ? "avx512" : level == kSimdAvx2 ? "avx2" : "scalar"; }

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
