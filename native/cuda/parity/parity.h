// The parity harness: a registry of checks, each comparing a CUDA kernel (on a GPU, or under the
// CPU emulator) with the CPU kernel / float64 reference it mirrors. One binary, lmp_cuda_parity,
// built both ways (native/cuda/parity/CMakeLists.txt); every native/cuda/parity/*_parity.{cc,cu}
// file is picked up, so a new check is a new file:
//
//   #include "parity/parity.h"
//   LMP_PARITY_CHECK(my_kernel_small) {
//     parity::Rng rng = parity::rng();                 // seeded by the check's name
//     auto x = rng.floats(n, -1, 1);
//     ... run the kernel, compute ref (double) ...
//     parity::expect_close("rows=3 cols=65", got.data(), ref.data(), n, 1e-5, 1e-5);
//   }
//   LMP_PARITY_CHECK_EMU(only_under_the_emulator) { ... }   // e.g. the deadlock test
//   LMP_PARITY_CHECK_GPU(only_on_a_gpu) { ... }            // big cases, timings
//
// A check fails when any expect_* fails or it throws (CUDA errors: parity::cuda_ok(e, what)).
// Lines: "PASS name  detail" / "FAIL name  detail"; exit 1 when any check failed.
// Flags: --filter A,B (run checks whose name contains A or B), --list, --quiet (only FAIL lines
// and the summary).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace lmp {
namespace parity {

enum class Where { Both, EmuOnly, GpuOnly };

using CheckFn = void (*)();
int register_check(const char* name, CheckFn fn, Where where, const char* file, int line);

// True in the emulated build (-DLMP_CUDA_EMU).
bool emulated();
// `small` under the emulator, `big` on a GPU: sizes that keep the emulated run short.
inline size_t pick(size_t small, size_t big) { return emulated() ? small : big; }

// Results of the running check.
void expect(bool ok, const std::string& what);
// |got - ref| <= atol + rtol * |ref| for every element; reports the max abs error, the max of
// err / tol and the first failing index. NaN in got where ref is not NaN fails (and vice versa).
bool expect_close(const std::string& what, const float* got, const double* ref, size_t n, double atol, double rtol);
bool expect_close(const std::string& what, const float* got, const float* ref, size_t n, double atol, double rtol);
bool expect_close(const std::string& what, const double* got, const double* ref, size_t n, double atol, double rtol);
inline bool expect_close(const std::string& what, const std::vector<float>& got, const std::vector<double>& ref, double atol,
                         double rtol) {
  expect(got.size() == ref.size(), what + ": sizes differ");
  return expect_close(what, got.data(), ref.data(), got.size() < ref.size() ? got.size() : ref.size(), atol, rtol);
}
// Exact equality of integer outputs (tokens, bits); reports how many differ and the first.
template <typename T>
bool expect_equal(const std::string& what, const T* got, const T* ref, size_t n) {
  size_t diff = 0, first = n;
  for (size_t i = 0; i < n; ++i)
    if (!(got[i] == ref[i])) {
      if (first == n) first = i;
      ++diff;
    }
  std::string d = what + ": " + std::to_string(n) + " values, " + std::to_string(diff) + " differ";
  if (diff) d += " (first at " + std::to_string(first) + ": " + std::to_string(static_cast<double>(got[first])) + " vs " +
                 std::to_string(static_cast<double>(ref[first])) + ")";
  expect(diff == 0, d);
  return diff == 0;
}
// An informational line under the check (timings, sizes).
void note(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// Fails the check with what + the error string when e is not cudaSuccess (cudaError_t as int).
bool cuda_ok(int e, const char* what);

// Deterministic test data (xorshift64*), seeded per check by its name unless given a seed.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed ? seed : 0x9E3779B97F4A7C15ULL) {}
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ULL;
  }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  double normal() {
    const double u1 = uniform() + 1e-300, u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }
  std::vector<float> floats(size_t n, double lo, double hi) {
    std::vector<float> v(n);
    for (auto& x : v) x = static_cast<float>(uniform(lo, hi));
    return v;
  }
  std::vector<float> normals(size_t n, double scale = 1.0) {
    std::vector<float> v(n);
    for (auto& x : v) x = static_cast<float>(normal() * scale);
    return v;
  }
};
Rng rng();  // seeded by the running check's name

}  // namespace parity
}  // namespace lmp

#define LMP_PARITY_CONCAT2(a, b) a##b
#define LMP_PARITY_CONCAT(a, b) LMP_PARITY_CONCAT2(a, b)
#define LMP_PARITY_CHECK_WHERE(name, where)                                                                      \
  static void lmp_parity_check_##name();                                                                         \
  static const int lmp_parity_reg_##name =                                                                       \
      ::lmp::parity::register_check(#name, &lmp_parity_check_##name, where, __FILE__, __LINE__);                  \
  static void lmp_parity_check_##name()
#define LMP_PARITY_CHECK(name) LMP_PARITY_CHECK_WHERE(name, ::lmp::parity::Where::Both)
#define LMP_PARITY_CHECK_EMU(name) LMP_PARITY_CHECK_WHERE(name, ::lmp::parity::Where::EmuOnly)
#define LMP_PARITY_CHECK_GPU(name) LMP_PARITY_CHECK_WHERE(name, ::lmp::parity::Where::GpuOnly)
