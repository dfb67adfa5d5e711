// CUDA parity and timing: every CUDA kernel against the CPU kernel it mirrors.
//   log-softmax:   |gpu - ref64| <= 1e-5 + 1e-5 |ref64|, and the CPU kernel on the same rows
//   RNG stream:    bit-identical draws (the documented SplitMix64 stream)
//   sampling:      `temperature(0.8) -> sample`, same seed and draw counters -> same tokens
// Exit code 0 when every check passes, 1 otherwise. Prints one line per check and timings.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/softmax.h"
#include "core/threadpool.h"
#include "kernels.h"
#include "sampling/sampling.h"

using namespace lmp;
using Clock = std::chrono::steady_clock;

static double secs(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

static uint64_t g_state = 0x1234567;
static double rnd() {  // xorshift64*, test data only
  g_state ^= g_state >> 12; g_state ^= g_state << 25; g_state ^= g_state >> 27;
  return static_cast<double>((g_state * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static int failures = 0;
static void report(bool ok, const char* what, const std::string& detail) {
  std::printf("%s %-44s %s\n", ok ? "PASS" : "FAIL", what, detail.c_str());
  if (!ok) ++failures;
}

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  try {
  cuda::DeviceInfo info = cuda::device_info();
  std::printf("device: %d x %s (sm_%d%d, %.1f GiB); CPU threads: %d\n", info.count, info.name.c_str(), info.major, info.minor,
              info.memory / 1073741824.0, num_threads());
  if (info.count == 0) {
    std::printf("no CUDA device: %s\n", info.error.c_str());
    return 1;
  }

  // --- log-softmax ------------------------------------------------------------------
  const size_t shapes[][2] = {{1, 1}, {3, 63}, {5, 65}, {17, 1000}, {64, 32768}, {8, 256000}};
  for (auto& sh : shapes) {
    const size_t rows = sh[0], cols = sh[1], n = rows * cols;
    std::vector<float> x(n), gpu(n), cpu(n);
    for (auto& v : x) v = static_cast<float>((rnd() - 0.5) * 40);
    bool nan = false;
    std::string e = cuda::log_softmax_rows(x.data(), gpu.data(), rows, cols, &nan);
    log_softmax_rows(x.data(), cpu.data(), rows, cols);
    double worst = 0, worst_cpu = 0;  // max of |a - ref| / (atol + rtol |ref|)
    for (size_t r = 0; r < rows; ++r) {
      double m = -INFINITY, s = 0;
      for (size_t j = 0; j < cols; ++j) m = std::max(m, static_cast<double>(x[r * cols + j]));
      for (size_t j = 0; j < cols; ++j) s += std::exp(x[r * cols + j] - m);
      for (size_t j = 0; j < cols; ++j) {
        const double ref = x[r * cols + j] - m - std::log(s);
        worst = std::max(worst, std::fabs(gpu[r * cols + j] - ref) / (1e-5 + 1e-5 * std::fabs(ref)));
        worst_cpu = std::max(worst_cpu, std::fabs(cpu[r * cols + j] - ref) / (1e-5 + 1e-5 * std::fabs(ref)));
      }
    }
    char buf[160];
    std::snprintf(buf, sizeof buf, "%zux%zu worst err/tol: gpu %.3f cpu %.3f %s", rows, cols, worst, worst_cpu, e.c_str());
    report(e.empty() && !nan && worst <= 1.0 && worst_cpu <= 1.0, "log_softmax vs float64 ref (gpu and cpu)", buf);
  }

  // --- RNG stream -------------------------------------------------------------------
  {
    const size_t count = 1 << 20;
    const uint64_t seed = 42, start = 1000;
    std::vector<double> gpu(count);
    std::string e = cuda::uniforms(seed, start, count, gpu.data());
    size_t diff = 0;
    for (size_t i = 0; i < count; ++i)
      if (gpu[i] != sampling::u01(sampling::splitmix64_at(seed, start + i))) ++diff;
    char buf[128];
    std::snprintf(buf, sizeof buf, "%zu draws, %zu differ %s", count, diff, e.c_str());
    report(e.empty() && diff == 0, "SplitMix64 stream bit-identical", buf);
  }

  // --- sampling: temperature(0.8) -> sample -----------------------------------------
  const size_t vocabs[] = {1, 5, 1000, 50257, 131072};
  for (size_t V : vocabs) {
    const size_t rows = V >= 50257 ? 512 : 4096;
    const uint64_t seed = 7;
    std::vector<float> logits(rows * V);
    for (auto& v : logits) v = static_cast<float>((rnd() - 0.5) * 12);
    if (V > 1)
      for (size_t r = 0; r < rows; r += 7) logits[r * V + (r % V)] = -INFINITY;  // some -inf entries
    std::vector<uint64_t> counters(rows);
    for (size_t r = 0; r < rows; ++r) counters[r] = r;
    std::vector<int32_t> gpu(rows), cpu(rows);
    auto t0 = Clock::now();
    std::string e = cuda::sample_rows(logits.data(), rows, V, 0.8f, seed, counters.data(), gpu.data());
    auto t1 = Clock::now();
    std::vector<sampling::Spec> specs(2);
    specs[0].kind = sampling::Kind::Temperature;
    specs[0].a = 0.8;
    specs[1].kind = sampling::Kind::Sample;
    sampling::Chain chain(specs, V, seed);  // draw n of the chain = row n: same counters
    for (size_t r = 0; r < rows; ++r) cpu[r] = chain.sample(&logits[r * V], V, nullptr);
    auto t2 = Clock::now();
    size_t diff = 0;
    for (size_t r = 0; r < rows; ++r) diff += gpu[r] != cpu[r];
    char buf[200];
    std::snprintf(buf, sizeof buf, "V=%zu rows=%zu: %zu differ; gpu %.2f ms (with copies), cpu %.2f ms (1 thread) %s", V, rows,
                  diff, secs(t0, t1) * 1e3, secs(t1, t2) * 1e3, e.c_str());
    report(e.empty() && diff == 0, "temperature->sample tokens identical", buf);
  }

  // --- timing: log-softmax 256 x 128k -------------------------------------------------
  {
    const size_t rows = 256, cols = 131072, n = rows * cols;
    std::vector<float> x(n), y(n);
    for (auto& v : x) v = static_cast<float>((rnd() - 0.5) * 20);
    bool nan = false;
    cuda::log_softmax_rows(x.data(), y.data(), rows, cols, &nan);  // warm-up
    auto t0 = Clock::now();
    for (int i = 0; i < 5; ++i) cuda::log_softmax_rows(x.data(), y.data(), rows, cols, &nan);
    auto t1 = Clock::now();
    for (int i = 0; i < 5; ++i) log_softmax_rows(x.data(), y.data(), rows, cols);
    auto t2 = Clock::now();
    std::printf("time  log_softmax 256x131072: gpu %.2f ms (incl. host<->device copies), cpu %.2f ms (%d threads), ratio cpu/gpu %.2f\n",
                secs(t0, t1) / 5 * 1e3, secs(t1, t2) / 5 * 1e3, num_threads(), secs(t1, t2) / secs(t0, t1));
  }
  std::printf("%d failed\n", failures);
  return failures == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::printf("FAIL uncaught: %s\n", e.what());
    return 1;
  }
}
