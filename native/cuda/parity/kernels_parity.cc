// Parity of native/cuda/kernels.cu (log-softmax, the SplitMix64 stream, temperature -> sample)
// against the CPU kernels it mirrors (core/softmax, sampling/chain) and float64 references.
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "core/softmax.h"
#include "core/threadpool.h"
#include "kernels.h"
#include "parity/parity.h"
#include "sampling/sampling.h"

using namespace lmp;

namespace {
using Clock = std::chrono::steady_clock;
double secs(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// |x - ref64| <= 1e-5 + 1e-5 |ref64| for the CUDA kernel and the CPU kernel on the same rows.
void log_softmax_case(parity::Rng& rng, size_t rows, size_t cols) {
  const size_t n = rows * cols;
  std::vector<float> x = rng.floats(n, -20, 20), gpu(n), cpu(n);
  bool nan = false;
  std::string e = cuda::log_softmax_rows(x.data(), gpu.data(), rows, cols, &nan);
  parity::expect(e.empty() && !nan, "cuda::log_softmax_rows ran " + e);
  log_softmax_rows(x.data(), cpu.data(), rows, cols);
  std::vector<double> ref(n);
  for (size_t r = 0; r < rows; ++r) {
    double m = -INFINITY, s = 0;
    for (size_t j = 0; j < cols; ++j) m = std::max(m, static_cast<double>(x[r * cols + j]));
    for (size_t j = 0; j < cols; ++j) s += std::exp(x[r * cols + j] - m);
    for (size_t j = 0; j < cols; ++j) ref[r * cols + j] = x[r * cols + j] - m - std::log(s);
  }
  const std::string shape = std::to_string(rows) + "x" + std::to_string(cols);
  parity::expect_close("cuda " + shape, gpu.data(), ref.data(), n, 1e-5, 1e-5);
  parity::expect_close("cpu  " + shape, cpu.data(), ref.data(), n, 1e-5, 1e-5);
}

// `temperature(0.8) -> sample`: same seed and draw counters -> the same tokens as the CPU chain.
void sample_case(parity::Rng& rng, size_t V, size_t rows) {
  const uint64_t seed = 7;
  std::vector<float> logits = rng.floats(rows * V, -6, 6);
  if (V > 1)
    for (size_t r = 0; r < rows; r += 7) logits[r * V + (r % V)] = -INFINITY;  // some -inf entries
  std::vector<uint64_t> counters(rows);
  for (size_t r = 0; r < rows; ++r) counters[r] = r;
  std::vector<int32_t> gpu(rows), cpu(rows);
  auto t0 = Clock::now();
  std::string e = cuda::sample_rows(logits.data(), rows, V, 0.8f, seed, counters.data(), gpu.data());
  auto t1 = Clock::now();
  parity::expect(e.empty(), "cuda::sample_rows ran " + e);
  std::vector<sampling::Spec> specs(2);
  specs[0].kind = sampling::Kind::Temperature;
  specs[0].a = 0.8;
  specs[1].kind = sampling::Kind::Sample;
  sampling::Chain chain(specs, V, seed);  // draw n of the chain = row n: same counters
  for (size_t r = 0; r < rows; ++r) cpu[r] = chain.sample(&logits[r * V], V, nullptr);
  auto t2 = Clock::now();
  parity::expect_equal("V=" + std::to_string(V) + " rows=" + std::to_string(rows) + " tokens", gpu.data(), cpu.data(), rows);
  parity::note("V=%zu rows=%zu: cuda %.2f ms (with copies), cpu %.2f ms (1 thread)", V, rows, secs(t0, t1) * 1e3, secs(t1, t2) * 1e3);
}

}  // namespace

LMP_PARITY_CHECK(log_softmax) {
  parity::Rng rng = parity::rng();
  const size_t small[][2] = {{1, 1}, {3, 63}, {5, 65}, {4, 1000}, {2, 4099}};
  for (auto& sh : small) log_softmax_case(rng, sh[0], sh[1]);
}

LMP_PARITY_CHECK_GPU(log_softmax_large) {
  parity::Rng rng = parity::rng();
  const size_t big[][2] = {{17, 1000}, {64, 32768}, {8, 256000}};
  for (auto& sh : big) log_softmax_case(rng, sh[0], sh[1]);
}

LMP_PARITY_CHECK(log_softmax_edge_rows) {
  // All -inf rows give -inf; a NaN anywhere is reported.
  std::vector<float> x = {-INFINITY, -INFINITY, -INFINITY, 1.0f, 2.0f, 3.0f}, y(6);
  bool nan = false;
  std::string e = cuda::log_softmax_rows(x.data(), y.data(), 2, 3, &nan);
  parity::expect(e.empty() && !nan, "ran " + e);
  parity::expect(std::isinf(y[0]) && y[0] < 0 && std::isinf(y[2]), "all -inf row -> -inf");
  const double lse = 3.0 + std::log(std::exp(-2.0) + std::exp(-1.0) + 1.0);
  const double ref[3] = {1 - lse, 2 - lse, 3 - lse};
  parity::expect_close("finite row", y.data() + 3, ref, 3, 1e-6, 1e-6);
  x[4] = NAN;
  e = cuda::log_softmax_rows(x.data(), y.data(), 2, 3, &nan);
  parity::expect(e.empty() && nan, "NaN input flagged");
}

LMP_PARITY_CHECK(splitmix64_stream) {
  const size_t count = parity::pick(4099, 1 << 20);
  const uint64_t seed = 42, start = 1000;
  std::vector<double> gpu(count), cpu(count);
  std::string e = cuda::uniforms(seed, start, count, gpu.data());
  parity::expect(e.empty(), "cuda::uniforms ran " + e);
  for (size_t i = 0; i < count; ++i) cpu[i] = sampling::u01(sampling::splitmix64_at(seed, start + i));
  parity::expect_equal("draws bit-identical", gpu.data(), cpu.data(), count);
}

LMP_PARITY_CHECK(temperature_sample) {
  parity::Rng rng = parity::rng();
  const size_t vocabs[] = {1, 5, 1000, 4099};
  for (size_t V : vocabs) sample_case(rng, V, V >= 1000 ? 24 : 64);
}

LMP_PARITY_CHECK_GPU(temperature_sample_large) {
  parity::Rng rng = parity::rng();
  const size_t vocabs[] = {1000, 50257, 131072};
  for (size_t V : vocabs) sample_case(rng, V, V >= 50257 ? 512 : 4096);
}

LMP_PARITY_CHECK_GPU(log_softmax_timing) {
  parity::Rng rng = parity::rng();
  const size_t rows = 256, cols = 131072, n = rows * cols;
  std::vector<float> x = rng.floats(n, -10, 10), y(n);
  bool nan = false;
  cuda::log_softmax_rows(x.data(), y.data(), rows, cols, &nan);  // warm-up
  auto t0 = Clock::now();
  for (int i = 0; i < 5; ++i) cuda::log_softmax_rows(x.data(), y.data(), rows, cols, &nan);
  auto t1 = Clock::now();
  for (int i = 0; i < 5; ++i) log_softmax_rows(x.data(), y.data(), rows, cols);
  auto t2 = Clock::now();
  parity::note("log_softmax 256x131072: cuda %.2f ms (incl. host<->device copies), cpu %.2f ms (%d threads), ratio cpu/cuda %.2f",
               secs(t0, t1) / 5 * 1e3, secs(t1, t2) / 5 * 1e3, num_threads(), secs(t1, t2) / secs(t0, t1));
}
