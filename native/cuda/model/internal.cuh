// Shared by the model's .cu files (not a public header): the module's stream and cuBLAS handle,
// error mapping, argument checks, element load/store for f32 / bf16, and the fixed-order block
// reductions every kernel here uses (256 threads, a shared-memory tree: the same order every run).
#pragma once
#include "common/device.cuh"

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/status.h"
#include "model/model.h"

namespace lmp {
namespace cuda {
namespace model {

constexpr int kThreads = 256;  // every kernel of the module is launched with 256 threads a block

struct Context {
  cudaStream_t stream = nullptr;
#if defined(LMP_HAVE_CUBLAS) || defined(LMP_CUDA_EMU)
  cublasHandle_t blas = nullptr;
#endif
  int* flag = nullptr;   // device int: the first bad index of the last checked kernel, as n - index
  void* ws = nullptr;    // device workspace (grown on demand, after the stream drains)
  size_t ws_bytes = 0;
  // page-locked upload staging (memory.cu upload_parts): two buffers used in turn; `done` is
  // recorded after the copy that reads a buffer, and waited for before the host writes it again
  struct Staging {
    void* host = nullptr;
    size_t bytes = 0;
    cudaEvent_t done = nullptr;
    bool pending = false;
  } stage[2];
  int stage_next = 0;
  bool stage_off = false;  // cudaMallocHost failed once: the pageable path from then on
};
// The module's context, created on first use (throws LMP_E_NO_DEVICE / LMP_E_CUDA).
Context& ctx();
// Device scratch of at least `bytes` (valid until the next call; stream-ordered reuse).
void* workspace(size_t bytes);

// e != cudaSuccess -> LMP_E_CUDA_OOM (allocation) or LMP_E_CUDA naming `what`.
void check_cuda(cudaError_t e, const char* what);
// The bad-index flag: reset before a checked kernel, then read (waits for the stream). Returns
// the smallest flagged index, or -1.
void reset_flag();
int64_t read_flag(int64_t n);

// Argument checks (LMP_E_SHAPE / LMP_E_DTYPE).
void need(const Tensor& t, const char* name, int64_t numel);
void need_float(const Tensor& t, const char* name);  // f32 or bf16
void need_dtype(const Tensor& t, const char* name, DType d);
int grid_for(int64_t n, int64_t per_block = kThreads);  // blocks for a grid-stride loop (capped)

// f(float{}) or f(uint16_t{}) for an f32 / bf16 tensor: the element type of a kernel template.
template <typename F>
void with_float_type(DType d, F&& f) {
  if (d == DType::BF16) f(uint16_t{});
  else f(float{});
}

// ---------------------------------------------------------------- element access (device)
__device__ __forceinline__ float ld(const float* p, int64_t i) { return p[i]; }
__device__ __forceinline__ float ld(const uint16_t* p, int64_t i) { return lmp::cu::bf16_to_f32(p[i]); }
__device__ __forceinline__ void st(float* p, int64_t i, float v) { p[i] = v; }
__device__ __forceinline__ void st(uint16_t* p, int64_t i, float v) { p[i] = lmp::cu::f32_to_bf16(v); }

// Sum / max over the block (blockDim.x == kThreads), in a fixed tree; every thread gets the result.
template <typename T>
__device__ __forceinline__ T block_sum(T v, T* sh) {
  const int t = static_cast<int>(threadIdx.x);
  sh[t] = v;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (t < s) sh[t] = sh[t] + sh[t + s];
    __syncthreads();
  }
  const T r = sh[0];
  __syncthreads();
  return r;
}
__device__ __forceinline__ float block_max(float v, float* sh) {
  const int t = static_cast<int>(threadIdx.x);
  sh[t] = v;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (t < s) sh[t] = fmaxf(sh[t], sh[t + s]);
    __syncthreads();
  }
  const float r = sh[0];
  __syncthreads();
  return r;
}

}  // namespace model
}  // namespace cuda
}  // namespace lmp
