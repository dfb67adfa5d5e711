// The parity binary's driver: runs the registered checks (parity.h) and reports.
//   lmp_cuda_parity [--filter A,B] [--list] [--quiet]
// Exit 0 when every selected check passes, 1 otherwise (2: bad usage or no check selected).
#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "common/device.cuh"
#include "parity/parity.h"

namespace lmp {
namespace parity {
namespace {

struct Check {
  const char* name;
  CheckFn fn;
  Where where;
  const char* file;
  int line;
};

std::vector<Check>& registry() {
  static std::vector<Check> r;
  return r;
}

struct Current {
  const Check* check = nullptr;
  int failures = 0;
  std::vector<std::string> lines;  // PASS/FAIL detail lines of expect_* and notes
};
Current g_cur;
bool g_quiet = false;

uint64_t fnv1a(const char* s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; ++s) h = (h ^ static_cast<unsigned char>(*s)) * 1099511628211ULL;
  return h;
}

template <typename G, typename R>
bool close_impl(const std::string& what, const G* got, const R* ref, size_t n, double atol, double rtol) {
  double max_abs = 0, max_ratio = 0;
  size_t bad = 0, first = n;
  for (size_t i = 0; i < n; ++i) {
    const double g = static_cast<double>(got[i]), r = static_cast<double>(ref[i]);
    bool ok;
    double err;
    if (std::isnan(r) || std::isnan(g)) {
      ok = std::isnan(r) && std::isnan(g);
      err = ok ? 0 : INFINITY;
    } else if (std::isinf(r) || std::isinf(g)) {
      ok = g == r;
      err = ok ? 0 : INFINITY;
    } else {
      err = std::fabs(g - r);
      ok = err <= atol + rtol * std::fabs(r);
    }
    const double tol = atol + rtol * (std::isfinite(r) ? std::fabs(r) : 0.0);
    max_abs = std::max(max_abs, err);
    max_ratio = std::max(max_ratio, tol > 0 ? err / tol : (err > 0 ? INFINITY : 0));
    if (!ok) {
      if (first == n) first = i;
      ++bad;
    }
  }
  char buf[320];
  if (bad)
    std::snprintf(buf, sizeof buf, "%s: n=%zu max|err| %.3g, max err/tol %.3g, %zu over atol %.1g + rtol %.1g (first at %zu: %.9g vs %.9g)",
                  what.c_str(), n, max_abs, max_ratio, bad, atol, rtol, first, static_cast<double>(got[first]),
                  static_cast<double>(ref[first]));
  else
    std::snprintf(buf, sizeof buf, "%s: n=%zu max|err| %.3g, max err/tol %.3g (atol %.1g, rtol %.1g)", what.c_str(), n, max_abs,
                  max_ratio, atol, rtol);
  expect(bad == 0, buf);
  return bad == 0;
}

bool selected(const Check& c, const std::vector<std::string>& filters) {
  if (filters.empty()) return true;
  for (const auto& f : filters)
    if (std::strstr(c.name, f.c_str())) return true;
  return false;
}

bool runs_here(const Check& c) {
  if (c.where == Where::EmuOnly) return emulated();
  if (c.where == Where::GpuOnly) return !emulated();
  return true;
}

}  // namespace

int register_check(const char* name, CheckFn fn, Where where, const char* file, int line) {
  registry().push_back({name, fn, where, file, line});
  return static_cast<int>(registry().size());
}

bool emulated() {
#if defined(LMP_CUDA_EMU)
  return true;
#else
  return false;
#endif
}

void expect(bool ok, const std::string& what) {
  if (!ok) ++g_cur.failures;
  g_cur.lines.push_back(std::string(ok ? "    ok   " : "    FAIL ") + what);
}

bool expect_close(const std::string& what, const float* got, const double* ref, size_t n, double atol, double rtol) {
  return close_impl(what, got, ref, n, atol, rtol);
}
bool expect_close(const std::string& what, const float* got, const float* ref, size_t n, double atol, double rtol) {
  return close_impl(what, got, ref, n, atol, rtol);
}
bool expect_close(const std::string& what, const double* got, const double* ref, size_t n, double atol, double rtol) {
  return close_impl(what, got, ref, n, atol, rtol);
}

void note(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  g_cur.lines.push_back(std::string("    note ") + buf);
}

bool cuda_ok(int e, const char* what) {
  if (e == 0) return true;
  expect(false, std::string(what) + ": CUDA error " + std::to_string(e) + " " + cudaGetErrorString(static_cast<cudaError_t>(e)));
  return false;
}

Rng rng() { return Rng(fnv1a(g_cur.check ? g_cur.check->name : "")); }

}  // namespace parity
}  // namespace lmp

int main(int argc, char** argv) {
  using namespace lmp::parity;
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::vector<std::string> filters;
  bool list = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--filter" || a == "-f") && i + 1 < argc) {
      std::string s = argv[++i];
      size_t p = 0;
      while (p <= s.size()) {
        const size_t q = std::min(s.find(',', p), s.size());
        if (q > p) filters.push_back(s.substr(p, q - p));
        p = q + 1;
      }
    } else if (a.rfind("--filter=", 0) == 0) {
      filters.push_back(a.substr(9));
    } else if (a == "--list") {
      list = true;
    } else if (a == "--quiet" || a == "-q") {
      g_quiet = true;
    } else {
      std::fprintf(stderr, "usage: %s [--filter A,B] [--list] [--quiet]\n", argv[0]);
      return 2;
    }
  }
  auto& checks = registry();
  std::sort(checks.begin(), checks.end(), [](const Check& a, const Check& b) { return std::strcmp(a.name, b.name) < 0; });
  if (list) {
    for (const auto& c : checks)
      std::printf("%s%s\n", c.name, c.where == Where::EmuOnly ? " (emulator only)" : c.where == Where::GpuOnly ? " (GPU only)" : "");
    return 0;
  }
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    std::printf("FAIL no CUDA device: %s\n", e != cudaSuccess ? cudaGetErrorString(e) : "none found");
    return 1;
  }
  cudaDeviceProp prop;
  if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess)
    std::printf("device: %s (sm_%d%d, %d SMs, %.1f GiB)%s\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount,
                prop.totalGlobalMem / 1073741824.0, emulated() ? " [emulated]" : "");
  int ran = 0, failed = 0;
  std::vector<std::string> failed_names;
  const auto t_all = std::chrono::steady_clock::now();
  for (const auto& c : checks) {
    if (!selected(c, filters) || !runs_here(c)) continue;
    g_cur = Current{};
    g_cur.check = &c;
    const auto t0 = std::chrono::steady_clock::now();
    try {
      c.fn();
    } catch (const std::exception& ex) {
      expect(false, std::string("threw: ") + ex.what());
    } catch (...) {
      expect(false, "threw a non-std exception");
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    ++ran;
    const bool ok = g_cur.failures == 0;
    if (!ok) {
      ++failed;
      failed_names.push_back(c.name);
    }
    if (!ok || !g_quiet) {
      std::printf("%s %-40s %8.1f ms\n", ok ? "PASS" : "FAIL", c.name, ms);
      for (const auto& l : g_cur.lines)
        if (!g_quiet || l.rfind("    FAIL", 0) == 0) std::printf("%s\n", l.c_str());
    }
  }
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_all).count();
  if (ran == 0) {
    std::printf("FAIL no check selected (see --list)\n");
    return 2;
  }
  std::printf("%d checks, %d failed (%.2f s)", ran, failed, total);
  for (const auto& n : failed_names) std::printf(" %s", n.c_str());
  std::printf("\n");
  return failed == 0 ? 0 : 1;
}
