// Row-wise log-softmax over float32, accumulated in float32 with a max shift
// (the numerically stable form: out[j] = x[j] - max - log(sum(exp(x - max)))).
// Rows whose entries are all -inf produce all -inf; NaN input is rejected.
#pragma once
#include <cstddef>

namespace lmp {

// x and out are rows*cols, row-major; out may alias x. Returns false if x holds a NaN.
bool log_softmax_rows(const float* x, float* out, size_t rows, size_t cols);

}  // namespace lmp
