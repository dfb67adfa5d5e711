// CUDA backend, first kernels: log-softmax, the documented SplitMix64 stream, and the
// `temperature -> sample` terminal sampler. Each mirrors a CPU kernel and is parity-tested
// against it by the parity binary (native/cuda/parity/kernels_parity.cc), on a GPU and under the
// CPU emulator. Compiled with -fmad=false so the float arithmetic of the shared expf polynomial
// rounds as written.
#include "common/device.cuh"

#include <cmath>
#include <vector>

#include "core/fexp.h"
#include "kernels.h"

namespace lmp {
namespace cuda {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ uint64_t splitmix64_at(uint64_t seed, uint64_t n) {
  uint64_t z = seed + (n + 1) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
__device__ __forceinline__ double u01(uint64_t bits) { return static_cast<double>(bits >> 11) * (1.0 / 9007199254740992.0); }


template <typename T, typename Op>
__device__ T block_reduce(T v, Op op, T* shared) {
  const int t = threadIdx.x;
  shared[t] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (t < s) shared[t] = op(shared[t], shared[t + s]);
    __syncthreads();
  }
  T r = shared[0];
  __syncthreads();
  return r;
}

struct MaxOp { __device__ float operator()(float a, float b) const { return a > b ? a : b; } };
struct AddD { __device__ double operator()(double a, double b) const { return a + b; } };
struct OrI { __device__ int operator()(int a, int b) const { return a | b; } };

__global__ void log_softmax_kernel(const float* x, float* out, size_t cols, int* nan_flag) {
  __shared__ float sf[kThreads];
  __shared__ int si[kThreads];
  const float* xr = x + blockIdx.x * cols;
  float* yr = out + blockIdx.x * cols;
  float m = -INFINITY;
  int nan = 0;
  for (size_t j = threadIdx.x; j < cols; j += blockDim.x) {
    const float v = xr[j];
    nan |= isnan(v) ? 1 : 0;
    m = v > m ? v : m;
  }
  m = block_reduce(m, MaxOp{}, sf);
  nan = block_reduce(nan, OrI{}, si);
  if (threadIdx.x == 0 && nan) atomicOr(nan_flag, 1);
  if (m == -INFINITY) {
    for (size_t j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = -INFINITY;
    return;
  }
  __shared__ double sd[kThreads];
  double s = 0.0;
  for (size_t j = threadIdx.x; j < cols; j += blockDim.x) s += expf(xr[j] - m);
  s = block_reduce(s, AddD{}, sd);
  const float lse = m + static_cast<float>(log(s));
  for (size_t j = threadIdx.x; j < cols; j += blockDim.x) yr[j] = xr[j] - lse;
}

__global__ void uniforms_kernel(uint64_t seed, uint64_t start, size_t count, double* out) {
  const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (i < count) out[i] = u01(splitmix64_at(seed, start + i));
}

// One block per row. Thread t owns the contiguous id range [t*chunk, (t+1)*chunk), so the
// scan over chunk sums visits ids in ascending order, as the CPU's walk does.
__global__ void sample_kernel(const float* logits, size_t cols, float scale, uint64_t seed, const uint64_t* counters, int32_t* out) {
  __shared__ float sf[kThreads];
  __shared__ double sd[kThreads];
  __shared__ double chunk_sum[kThreads];
  __shared__ int found;
  const float* xr = logits + blockIdx.x * cols;
  const size_t chunk = (cols + blockDim.x - 1) / blockDim.x;
  const size_t b = threadIdx.x * chunk, e = b + chunk < cols ? b + chunk : cols;
  float m = -INFINITY;
  for (size_t j = b; j < e; ++j) {
    const float v = xr[j] * scale;
    m = v > m ? v : m;
  }
  m = block_reduce(m, MaxOp{}, sf);
  double local = 0;
  for (size_t j = b; j < e; ++j) local += static_cast<double>(fexp(xr[j] * scale - m));
  chunk_sum[threadIdx.x] = local;
  const double total = block_reduce(local, AddD{}, sd);
  const double target = u01(splitmix64_at(seed, counters[blockIdx.x])) * total;
  if (threadIdx.x == 0) {
    // Sequential scan over chunk sums (256 values) to find the owning chunk.
    double run = 0;
    int owner = blockDim.x - 1;
    for (int t = 0; t < static_cast<int>(blockDim.x); ++t) {
      if (run + chunk_sum[t] > target) { owner = t; break; }
      run += chunk_sum[t];
    }
    sd[0] = run;
    found = owner;
  }
  __syncthreads();
  if (static_cast<int>(threadIdx.x) == found) {
    double run = sd[0];
    int32_t tok = -1, last = -1;
    for (size_t j = b; j < e; ++j) {
      const double w = static_cast<double>(fexp(xr[j] * scale - m));
      if (w > 0) last = static_cast<int32_t>(j);
      run += w;
      if (run > target) { tok = static_cast<int32_t>(j); break; }
    }
    // Rounding can leave target >= the running sum at the end: take the last positive weight.
    out[blockIdx.x] = tok >= 0 ? tok : last;
  }
}

std::string err(cudaError_t e) { return e == cudaSuccess ? std::string() : std::string(cudaGetErrorString(e)); }

template <typename T>
struct DevBuf {
  T* p = nullptr;
  cudaError_t status = cudaSuccess;
  explicit DevBuf(size_t n) { status = cudaMalloc(&p, n * sizeof(T) + 1); }
  ~DevBuf() { if (p) cudaFree(p); }
};

}  // namespace

DeviceInfo device_info() {
  DeviceInfo info;
  cudaError_t e = cudaGetDeviceCount(&info.count);
  if (e != cudaSuccess) {
    info.count = 0;
    info.error = cudaGetErrorString(e);
    return info;
  }
  if (info.count > 0) {
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, 0) == cudaSuccess) {
      info.name = p.name;
      info.major = p.major;
      info.minor = p.minor;
      info.memory = p.totalGlobalMem;
    }
  }
  return info;
}

std::string log_softmax_rows(const float* x, float* out, size_t rows, size_t cols, bool* had_nan) {
  *had_nan = false;
  if (rows == 0 || cols == 0) return {};
  const size_t n = rows * cols;
  DevBuf<float> dx(n), dy(n);
  DevBuf<int> dflag(1);
  if (dx.status || dy.status || dflag.status) return err(cudaGetLastError());
  cudaError_t e = cudaMemcpy(dx.p, x, n * sizeof(float), cudaMemcpyHostToDevice);
  if (!e) e = cudaMemset(dflag.p, 0, sizeof(int));
  if (e) return err(e);
  e = cu::launch(log_softmax_kernel, dim3(static_cast<unsigned>(rows)), dim3(kThreads), 0, nullptr, dx.p, dy.p, cols, dflag.p);
  if (!e) e = cudaMemcpy(out, dy.p, n * sizeof(float), cudaMemcpyDeviceToHost);
  int flag = 0;
  if (!e) e = cudaMemcpy(&flag, dflag.p, sizeof(int), cudaMemcpyDeviceToHost);
  *had_nan = flag != 0;
  return err(e);
}

std::string uniforms(uint64_t seed, uint64_t start, size_t count, double* out) {
  if (count == 0) return {};
  DevBuf<double> d(count);
  if (d.status) return err(d.status);
  cudaError_t e = cu::launch(uniforms_kernel, dim3(static_cast<unsigned>((count + kThreads - 1) / kThreads)), dim3(kThreads), 0,
                             nullptr, seed, start, count, d.p);
  if (!e) e = cudaMemcpy(out, d.p, count * sizeof(double), cudaMemcpyDeviceToHost);
  return err(e);
}

std::string sample_rows(const float* logits, size_t rows, size_t cols, float temperature, uint64_t seed,
                        const uint64_t* counters, int32_t* out_tokens) {
  if (rows == 0) return {};
  const size_t n = rows * cols;
  DevBuf<float> dx(n);
  DevBuf<uint64_t> dc(rows);
  DevBuf<int32_t> dt(rows);
  if (dx.status || dc.status || dt.status) return err(cudaGetLastError());
  cudaError_t e = cudaMemcpy(dx.p, logits, n * sizeof(float), cudaMemcpyHostToDevice);
  if (!e) e = cudaMemcpy(dc.p, counters, rows * sizeof(uint64_t), cudaMemcpyHostToDevice);
  if (e) return err(e);
  // The CPU chain applies temperature as a float scale 1/t (computed in double, then rounded).
  const float scale = static_cast<float>(1.0 / static_cast<double>(temperature));
  e = cu::launch(sample_kernel, dim3(static_cast<unsigned>(rows)), dim3(kThreads), 0, nullptr, dx.p, cols, scale, seed,
                 static_cast<const uint64_t*>(dc.p), dt.p);
  if (!e) e = cudaMemcpy(out_tokens, dt.p, rows * sizeof(int32_t), cudaMemcpyDeviceToHost);
  return err(e);
}

}  // namespace cuda
}  // namespace lmp
