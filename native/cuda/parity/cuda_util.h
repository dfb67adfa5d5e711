// Helpers for parity checks that drive kernels directly: device buffers that free themselves and
// report CUDA errors into the running check (parity.h). Include after common/device.cuh.
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

#include "common/device.cuh"
#include "parity/parity.h"

namespace lmp {
namespace parity {

// A device copy of n Ts (uploaded from a host vector, or uninitialised).
template <typename T>
struct DevVec {
  T* p = nullptr;
  size_t n = 0;
  explicit DevVec(size_t count) : n(count) {
    if (!cuda_ok(cudaMalloc(reinterpret_cast<void**>(&p), n * sizeof(T) + 16), "cudaMalloc")) throw std::runtime_error("cudaMalloc failed");
  }
  explicit DevVec(const std::vector<T>& h) : DevVec(h.size()) { upload(h); }
  DevVec(const DevVec&) = delete;
  DevVec& operator=(const DevVec&) = delete;
  ~DevVec() {
    if (p) cudaFree(p);
  }
  void upload(const std::vector<T>& h) { cuda_ok(cudaMemcpy(p, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice), "upload"); }
  std::vector<T> download() const {
    std::vector<T> h(n);
    cuda_ok(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost), "download");
    return h;
  }
};

}  // namespace parity
}  // namespace lmp
