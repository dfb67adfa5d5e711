#include "core/softmax.h"

#include <atomic>
#include <cmath>
#include <limits>

#include "core/threadpool.h"

namespace lmp {

bool log_softmax_rows(const float* x, float* out, size_t rows, size_t cols) {
  std::atomic<bool> ok{true};
  parallel_for(
      rows,
      [&](size_t b, size_t e, int) {
        for (size_t r = b; r < e; ++r) {
          const float* xr = x + r * cols;
          float* yr = out + r * cols;
          float m = -std::numeric_limits<float>::infinity();
          for (size_t j = 0; j < cols; ++j) {
            if (std::isnan(xr[j])) ok.store(false, std::memory_order_relaxed);
            m = xr[j] > m ? xr[j] : m;
          }
          if (m == -std::numeric_limits<float>::infinity()) {
            for (size_t j = 0; j < cols; ++j) yr[j] = m;
            continue;
          }
          // exp in float, the sum in double: a float sum over 100k+ terms loses ~1e-5.
          double s = 0.0;
          for (size_t j = 0; j < cols; ++j) s += std::exp(xr[j] - m);
          const float lse = m + static_cast<float>(std::log(s));
          for (size_t j = 0; j < cols; ++j) yr[j] = xr[j] - lse;
        }
      },
      16);
  return ok.load();
}

}  // namespace lmp
