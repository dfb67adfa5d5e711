// Host entry points of the CUDA backend (defined in kernels.cu, called by bindings.cc).
// Each returns an empty string on success or a CUDA error message; device memory is
// managed inside (inputs are host pointers), which keeps the binding layer thin.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace lmp {
namespace cuda {

struct DeviceInfo {
  int count = 0;
  std::string name;
  int major = 0, minor = 0;
  size_t memory = 0;
  std::string error;  // why count is 0, when it is
};

DeviceInfo device_info();

// Row-wise log-softmax (same contract as core/softmax.h). Sets *had_nan.
std::string log_softmax_rows(const float* x, float* out, size_t rows, size_t cols, bool* had_nan);

// Draws start..start+count-1 of the SplitMix64 stream of `seed` (runtime/decode/README.md).
std::string uniforms(uint64_t seed, uint64_t start, size_t count, double* out);

// For each row r: token = the sampler chain `temperature(t) -> sample` applied to row r with
// the uniform of draw counters[r] of `seed`: weights w_i = exp(x_i / t - max) (the CPU's
// polynomial expf), and the first id, ascending, whose running weight sum exceeds u * total.
std::string sample_rows(const float* logits, size_t rows, size_t cols, float temperature, uint64_t seed,
                        const uint64_t* counters, int32_t* out_tokens);

}  // namespace cuda
}  // namespace lmp
