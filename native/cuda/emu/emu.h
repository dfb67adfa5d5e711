// lmp's CUDA emulator: CUDA kernels compiled by a host C++17 compiler (-x c++ -DLMP_CUDA_EMU) and
// run on the CPU, so that their indexing, fragment layouts, barriers and numerics are tested
// without a GPU. Included by common/device.cuh (never directly by kernel files).
//
// Model: a launch runs the grid's blocks (on up to LMP_CUDA_EMU_THREADS OS threads, default
// min(4, cores)); a block runs as blockDim.x*y*z fibers (user-space contexts, one stack each)
// on one OS thread, cooperatively. A fiber runs until it reaches a barrier:
//   - __syncthreads(): every thread of the block must arrive, at the same call site;
//   - the warp collectives (shfl, mma, ldmatrix, warp_sync): every lane of the warp must arrive
//     at the same kind of collective, which the last lane to arrive then carries out for all.
// When no fiber can run and some have not exited, the barrier can never complete (divergent
// __syncthreads, a thread that returned while others wait, mismatched collectives): launch
// throws std::runtime_error naming the kernel, the block, the barrier kind and the waiting
// threads, instead of hanging. Faults found by the emulator (misaligned ldmatrix / cp.async
// addresses, shfl from a lane that does not exist) throw the same way.
//
// __shared__ is `static thread_local`: per OS thread, and an OS thread runs one block at a time,
// so per block (contents are left over from the previous block, like real uninitialised shared
// memory). Dynamic shared memory (LMP_DYNAMIC_SMEM) is filled with 0xFF bytes (float/bf16 NaN)
// at each block start, so a read of unwritten data shows. cp.async copies read their source at
// issue and land in shared memory at cp_async_wait<N> (the copies of all but the N most recent
// committed groups), so a kernel that reads before it waits sees stale data, as it may on a GPU.
//
// Device memory is host memory (cudaMalloc: 256-byte aligned, tracked: cudaFree of an unknown
// pointer fails, cudaMemcpy ranges are checked against the allocations, leaks are reported at
// exit). Streams and events are synchronous, but a cudaMemcpyAsync from page-locked memory
// (cudaMallocHost) is in flight until a synchronization it must have finished by (its stream or
// the device synchronized, an event recorded after it synchronized, a device-to-host copy into
// pageable memory, cudaFreeHost): if the host changes its source bytes before that, the emulator
// reports the race (a GPU's DMA could read either), at that synchronization or at the next copy
// from the same range. cuBLAS (gemm) runs as plain loops with fp32
// accumulation, column-major exactly as cuBLAS documents.
//
// Tensor-core and ldmatrix layouts follow the PTX ISA (sections cited in emu.cc).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#define LMP_CUDA_EMU_VERSION 1

// ---------------------------------------------------------------------------------------------
// The CUDA C++ language surface.
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static thread_local
#define __constant__
#define __grid_constant__
#define __syncthreads() ::lmp::emu::syncthreads(__FILE__, __LINE__, __func__)
#define __syncwarp(...) ::lmp::emu::warp_collective_sync(__FILE__, __LINE__, __func__)

struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};
struct __attribute__((aligned(8))) float2 { float x, y; };
struct __attribute__((aligned(16))) float4 { float x, y, z, w; };
struct __attribute__((aligned(8))) int2 { int x, y; };
struct __attribute__((aligned(16))) int4 { int x, y, z, w; };
struct __attribute__((aligned(8))) uint2 { unsigned x, y; };
struct __attribute__((aligned(16))) uint4 { unsigned x, y, z, w; };
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
constexpr int warpSize = 32;

// ---------------------------------------------------------------------------------------------
// The CUDA runtime API subset (CUDA-EMU.md), with the runtime's enum values.
enum cudaError {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInitializationError = 3,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorNotReady = 600,
  cudaErrorLaunchOutOfResources = 701,
  cudaErrorLaunchFailure = 719,
};
typedef cudaError cudaError_t;
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};
enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
  cudaFuncAttributePreferredSharedMemoryCarveout = 9,
};
struct CUstream_st;
typedef CUstream_st* cudaStream_t;
struct CUevent_st;
typedef CUevent_st* cudaEvent_t;
#define cudaStreamNonBlocking 0x01
#define cudaEventDefault 0x00
#define cudaEventDisableTiming 0x02
#define cudaHostAllocDefault 0x00

struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  int regsPerBlock;
  int warpSize;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int clockRate;
  int multiProcessorCount;
  int major;
  int minor;
  size_t sharedMemPerBlockOptin;
  size_t sharedMemPerMultiprocessor;
  int l2CacheSize;
  int memoryBusWidth;
  int maxThreadsPerMultiProcessor;
};

cudaError_t cudaMalloc(void** p, size_t bytes);
template <typename T>
inline cudaError_t cudaMalloc(T** p, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(p), bytes);
}
cudaError_t cudaFree(void* p);
cudaError_t cudaMallocHost(void** p, size_t bytes);
template <typename T>
inline cudaError_t cudaMallocHost(T** p, size_t bytes) {
  return cudaMallocHost(reinterpret_cast<void**>(p), bytes);
}
cudaError_t cudaFreeHost(void* p);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream = nullptr);
cudaError_t cudaMemset(void* p, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t stream = nullptr);
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);
cudaError_t cudaStreamCreate(cudaStream_t* s);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaEventCreate(cudaEvent_t* e);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned flags);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
const char* cudaGetErrorString(cudaError_t e);
const char* cudaGetErrorName(cudaError_t e);
cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value);
template <typename R, typename... A>
inline cudaError_t cudaFuncSetAttribute(R (*func)(A...), cudaFuncAttribute attr, int value) {
  return cudaFuncSetAttribute(reinterpret_cast<const void*>(func), attr, value);
}

// ---------------------------------------------------------------------------------------------
// cuBLAS subset (cublas_v2.h names and values).
struct cublasContext;
typedef cublasContext* cublasHandle_t;
enum cublasStatus_t {
  CUBLAS_STATUS_SUCCESS = 0,
  CUBLAS_STATUS_NOT_INITIALIZED = 1,
  CUBLAS_STATUS_ALLOC_FAILED = 3,
  CUBLAS_STATUS_INVALID_VALUE = 7,
  CUBLAS_STATUS_ARCH_MISMATCH = 8,
  CUBLAS_STATUS_MAPPING_ERROR = 11,
  CUBLAS_STATUS_EXECUTION_FAILED = 13,
  CUBLAS_STATUS_INTERNAL_ERROR = 14,
  CUBLAS_STATUS_NOT_SUPPORTED = 15,
};
enum cublasOperation_t { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_OP_C = 2 };
enum cudaDataType_t { CUDA_R_32F = 0, CUDA_R_64F = 1, CUDA_R_16F = 2, CUDA_R_8I = 3, CUDA_R_32I = 10, CUDA_R_16BF = 14 };
typedef cudaDataType_t cudaDataType;
enum cublasComputeType_t {
  CUBLAS_COMPUTE_16F = 64,
  CUBLAS_COMPUTE_16F_PEDANTIC = 65,
  CUBLAS_COMPUTE_32F = 68,
  CUBLAS_COMPUTE_32F_PEDANTIC = 69,
  CUBLAS_COMPUTE_32F_FAST_16F = 74,
  CUBLAS_COMPUTE_32F_FAST_16BF = 75,
  CUBLAS_COMPUTE_32F_FAST_TF32 = 77,
  CUBLAS_COMPUTE_64F = 70,
  CUBLAS_COMPUTE_64F_PEDANTIC = 71,
  CUBLAS_COMPUTE_32I = 72,
  CUBLAS_COMPUTE_32I_PEDANTIC = 73,
};
enum cublasGemmAlgo_t { CUBLAS_GEMM_DEFAULT = -1, CUBLAS_GEMM_DEFAULT_TENSOR_OP = 99 };

cublasStatus_t cublasCreate(cublasHandle_t* handle);
cublasStatus_t cublasDestroy(cublasHandle_t handle);
cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream);
const char* cublasGetStatusString(cublasStatus_t status);
// C = alpha op(A) op(B) + beta C, column-major; alpha/beta are float (every compute type the
// emulator supports is a 32F one). beta == 0: C is not read.
cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
                            const void* alpha, const void* A, cudaDataType_t Atype, int lda, const void* B, cudaDataType_t Btype,
                            int ldb, const void* beta, void* C, cudaDataType_t Ctype, int ldc, cublasComputeType_t computeType,
                            cublasGemmAlgo_t algo);
cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                                          int k, const void* alpha, const void* A, cudaDataType_t Atype, int lda, long long strideA,
                                          const void* B, cudaDataType_t Btype, int ldb, long long strideB, const void* beta, void* C,
                                          cudaDataType_t Ctype, int ldc, long long strideC, int batchCount,
                                          cublasComputeType_t computeType, cublasGemmAlgo_t algo);
cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
                           const float* alpha, const float* A, int lda, const float* B, int ldb, const float* beta, float* C, int ldc);

// ---------------------------------------------------------------------------------------------
// Emulator internals used by the macros and wrappers.
namespace lmp {
namespace emu {

// What device code reads of the running thread and block (the rest lives in emu.cc).
struct BlockState {
  uint3 bid;
  dim3 bdim, gdim;
  unsigned char* dyn_smem;
};
struct ThreadState {
  uint3 tid;
  int linear;
  const BlockState* block;
  void* fiber;  // the emulator's own record of the thread
};
namespace detail {
extern thread_local ThreadState* tls_thread;
[[noreturn]] void not_in_kernel();
}  // namespace detail

inline const ThreadState& cur() {
  const ThreadState* t = detail::tls_thread;
  if (__builtin_expect(t == nullptr, 0)) detail::not_in_kernel();
  return *t;
}
inline const uint3& thread_idx() { return cur().tid; }
inline const uint3& block_idx() { return cur().block->bid; }
inline const dim3& block_dim() { return cur().block->bdim; }
inline const dim3& grid_dim() { return cur().block->gdim; }
inline unsigned char* dynamic_smem() { return cur().block->dyn_smem; }
inline int linear_thread_id() { return cur().linear; }

void syncthreads(const char* file, int line, const char* func);

// Warp collectives: every lane passes its inputs; the last lane to arrive computes all outputs.
enum class Coll : int { Sync, ShflIdx, ShflXor, ShflDown, ShflUp, MmaBf16, MmaF16, Ldm1, Ldm2, Ldm4, Ldm1T, Ldm2T, Ldm4T };
// file, line, func: the call site (named in error messages).
void warp_collective(Coll kind, const void* in, void* out, int arg, const char* file, int line, const char* func);
inline void warp_collective_sync(const char* file, int line, const char* func) {
  warp_collective(Coll::Sync, nullptr, nullptr, 0, file, line, func);
}
uint32_t shfl32(Coll kind, uint32_t v, int arg, int width, const char* file, int line, const char* func);

struct MmaIn {
  const uint32_t* a;
  const uint32_t* b;
  const float* c;
};

// cp.async (per thread queue, see the top of this file).
void cp_async(void* smem, const void* gmem, bool valid);
void cp_async_commit();
void cp_async_wait(int n);

// A kernel launch: body(ctx) runs the kernel with the launch's arguments for the current thread.
cudaError_t launch_kernel(const void* kernel, dim3 grid, dim3 block, size_t smem, cudaStream_t stream, void (*body)(void*), void* ctx);

// Introspection for tests and cuBLAS: whether [p, p + bytes) lies inside one cudaMalloc allocation.
bool is_device_range(const void* p, size_t bytes);
size_t live_device_allocations();
size_t live_device_bytes();
int os_threads();  // OS threads a launch may use (LMP_CUDA_EMU_THREADS)

template <typename T>
inline uint32_t to_bits(T v) {
  static_assert(sizeof(T) == 4, "32-bit shuffles only");
  uint32_t u;
  std::memcpy(&u, &v, 4);
  return u;
}
template <typename T>
inline T from_bits(uint32_t u) {
  T v;
  std::memcpy(&v, &u, 4);
  return v;
}

}  // namespace emu
}  // namespace lmp

#define threadIdx (::lmp::emu::thread_idx())
#define blockIdx (::lmp::emu::block_idx())
#define blockDim (::lmp::emu::block_dim())
#define gridDim (::lmp::emu::grid_dim())

// ---------------------------------------------------------------------------------------------
// Device functions of CUDA C++ that kernels may call (emulated = the host's libm, exact).
using std::isfinite;
using std::isinf;
using std::isnan;
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __sinf(float x) { return std::sin(x); }
inline float __cosf(float x) { return std::cos(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x != x ? 0.0f : std::min(std::max(x, 0.0f), 1.0f); }
inline unsigned __float_as_uint(float x) { return ::lmp::emu::to_bits(x); }
inline float __uint_as_float(unsigned x) { return ::lmp::emu::from_bits<float>(x); }
inline int __float_as_int(float x) { return static_cast<int>(::lmp::emu::to_bits(x)); }
inline float __int_as_float(int x) { return ::lmp::emu::from_bits<float>(static_cast<uint32_t>(x)); }
inline int min(int a, int b) { return a < b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline unsigned long long min(unsigned long long a, unsigned long long b) { return a < b ? a : b; }
inline float min(float a, float b) { return std::fmin(a, b); }
inline double min(double a, double b) { return std::fmin(a, b); }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline unsigned long long max(unsigned long long a, unsigned long long b) { return a > b ? a : b; }
inline float max(float a, float b) { return std::fmax(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

// Atomics: blocks may run on several OS threads, so these are real atomics.
inline int atomicAdd(int* p, int v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
template <typename F, typename U>
inline F lmp_emu_atomic_fadd(F* p, F v) {
  static_assert(sizeof(F) == sizeof(U), "same width");
  U* q = reinterpret_cast<U*>(p);
  U old = __atomic_load_n(q, __ATOMIC_RELAXED), want;
  F f;
  do {
    std::memcpy(&f, &old, sizeof f);
    f += v;
    std::memcpy(&want, &f, sizeof f);
  } while (!__atomic_compare_exchange_n(q, &old, want, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
  std::memcpy(&f, &old, sizeof f);
  return f;
}
inline float atomicAdd(float* p, float v) { return lmp_emu_atomic_fadd<float, uint32_t>(p, v); }
inline double atomicAdd(double* p, double v) { return lmp_emu_atomic_fadd<double, uint64_t>(p, v); }
inline int atomicSub(int* p, int v) { return __atomic_fetch_sub(p, v, __ATOMIC_RELAXED); }
inline unsigned atomicSub(unsigned* p, unsigned v) { return __atomic_fetch_sub(p, v, __ATOMIC_RELAXED); }
template <typename T>
inline T lmp_emu_atomic_minmax(T* p, T v, bool is_max) {
  T old = __atomic_load_n(p, __ATOMIC_RELAXED);
  while ((is_max ? v > old : v < old) && !__atomic_compare_exchange_n(p, &old, v, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
  return old;
}
inline int atomicMax(int* p, int v) { return lmp_emu_atomic_minmax(p, v, true); }
inline unsigned atomicMax(unsigned* p, unsigned v) { return lmp_emu_atomic_minmax(p, v, true); }
inline int atomicMin(int* p, int v) { return lmp_emu_atomic_minmax(p, v, false); }
inline unsigned atomicMin(unsigned* p, unsigned v) { return lmp_emu_atomic_minmax(p, v, false); }
inline int atomicOr(int* p, int v) { return __atomic_fetch_or(p, v, __ATOMIC_RELAXED); }
inline unsigned atomicOr(unsigned* p, unsigned v) { return __atomic_fetch_or(p, v, __ATOMIC_RELAXED); }
inline int atomicAnd(int* p, int v) { return __atomic_fetch_and(p, v, __ATOMIC_RELAXED); }
inline unsigned atomicAnd(unsigned* p, unsigned v) { return __atomic_fetch_and(p, v, __ATOMIC_RELAXED); }
inline int atomicXor(int* p, int v) { return __atomic_fetch_xor(p, v, __ATOMIC_RELAXED); }
inline unsigned atomicXor(unsigned* p, unsigned v) { return __atomic_fetch_xor(p, v, __ATOMIC_RELAXED); }
inline int atomicExch(int* p, int v) { return __atomic_exchange_n(p, v, __ATOMIC_RELAXED); }
inline unsigned atomicExch(unsigned* p, unsigned v) { return __atomic_exchange_n(p, v, __ATOMIC_RELAXED); }
inline float atomicExch(float* p, float v) {
  return ::lmp::emu::from_bits<float>(__atomic_exchange_n(reinterpret_cast<uint32_t*>(p), ::lmp::emu::to_bits(v), __ATOMIC_RELAXED));
}
template <typename T>
inline T lmp_emu_atomic_cas(T* p, T cmp, T v) {
  __atomic_compare_exchange_n(p, &cmp, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
  return cmp;
}
inline int atomicCAS(int* p, int cmp, int v) { return lmp_emu_atomic_cas(p, cmp, v); }
inline unsigned atomicCAS(unsigned* p, unsigned cmp, unsigned v) { return lmp_emu_atomic_cas(p, cmp, v); }
inline unsigned long long atomicCAS(unsigned long long* p, unsigned long long cmp, unsigned long long v) {
  return lmp_emu_atomic_cas(p, cmp, v);
}

// Raw warp intrinsics (full mask only; the lmp::cu wrappers are the documented way).
inline void lmp_emu_full_mask(unsigned mask) {
  if (mask != 0xffffffffu) throw std::runtime_error("lmp CUDA emulator: only the full warp mask 0xffffffff is supported");
}
#define LMP_EMU_SHFL(NAME, KIND)                                                                                      \
  template <typename T>                                                                                               \
  inline T NAME(unsigned mask, T v, int arg, int width = 32, const char* file = __builtin_FILE(), int line = __builtin_LINE(), const char* func = __builtin_FUNCTION()) { \
    lmp_emu_full_mask(mask);                                                                                          \
    return ::lmp::emu::from_bits<T>(::lmp::emu::shfl32(::lmp::emu::Coll::KIND, ::lmp::emu::to_bits(v), arg, width, file, line, func)); \
  }
LMP_EMU_SHFL(__shfl_sync, ShflIdx)
LMP_EMU_SHFL(__shfl_xor_sync, ShflXor)
LMP_EMU_SHFL(__shfl_down_sync, ShflDown)
LMP_EMU_SHFL(__shfl_up_sync, ShflUp)
#undef LMP_EMU_SHFL

// ---------------------------------------------------------------------------------------------
// The lmp::cu device wrappers (common/device.cuh declares the same names for nvcc).
namespace lmp {
namespace cu {

inline int linear_thread_id() { return ::lmp::emu::linear_thread_id(); }
inline int lane_id() { return linear_thread_id() & 31; }
inline int warp_id() { return linear_thread_id() >> 5; }

#define LMP_EMU_SHFL_WRAP(T)                                                                                       \
  inline T shfl_xor(T v, int laneMask, const char* file = __builtin_FILE(), int line = __builtin_LINE(), const char* func = __builtin_FUNCTION()) {         \
    return ::lmp::emu::from_bits<T>(::lmp::emu::shfl32(::lmp::emu::Coll::ShflXor, ::lmp::emu::to_bits(v), laneMask, 32, file, line, func)); \
  }                                                                                                                \
  inline T shfl(T v, int srcLane, const char* file = __builtin_FILE(), int line = __builtin_LINE(), const char* func = __builtin_FUNCTION()) {              \
    return ::lmp::emu::from_bits<T>(::lmp::emu::shfl32(::lmp::emu::Coll::ShflIdx, ::lmp::emu::to_bits(v), srcLane, 32, file, line, func)); \
  }
LMP_EMU_SHFL_WRAP(float)
LMP_EMU_SHFL_WRAP(int)
LMP_EMU_SHFL_WRAP(unsigned)
#undef LMP_EMU_SHFL_WRAP

inline void warp_sync(const char* file = __builtin_FILE(), int line = __builtin_LINE(), const char* func = __builtin_FUNCTION()) { ::lmp::emu::warp_collective_sync(file, line, func); }

inline void mma_16816_bf16(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4], const char* file = __builtin_FILE(),
                           int line = __builtin_LINE(), const char* func = __builtin_FUNCTION()) {
  const ::lmp::emu::MmaIn in{a, b, c};
  ::lmp::emu::warp_collective(::lmp::emu::Coll::MmaBf16, &in, d, 0, file, line, func);
}
inline void mma_16816_f16(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4], const char* file = __builtin_FILE(),
                          int line = __builtin_LINE(), const char* func = __builtin_FUNCTION()) {
  const ::lmp::emu::MmaIn in{a, b, c};
  ::lmp::emu::warp_collective(::lmp::emu::Coll::MmaF16, &in, d, 0, file, line, func);
}

#define LMP_EMU_LDM(NAME, KIND, N)                                                                                  \
  inline void NAME(uint32_t r[N], const void* p, const char* file = __builtin_FILE(), int line = __builtin_LINE(), const char* func = __builtin_FUNCTION()) { \
    ::lmp::emu::warp_collective(::lmp::emu::Coll::KIND, p, r, 0, file, line, func);                                        \
  }
LMP_EMU_LDM(ldmatrix_x1, Ldm1, 1)
LMP_EMU_LDM(ldmatrix_x2, Ldm2, 2)
LMP_EMU_LDM(ldmatrix_x4, Ldm4, 4)
LMP_EMU_LDM(ldmatrix_x1_trans, Ldm1T, 1)
LMP_EMU_LDM(ldmatrix_x2_trans, Ldm2T, 2)
LMP_EMU_LDM(ldmatrix_x4_trans, Ldm4T, 4)
#undef LMP_EMU_LDM

inline void cp_async_16(void* smem, const void* gmem) { ::lmp::emu::cp_async(smem, gmem, true); }
inline void cp_async_16_zfill(void* smem, const void* gmem, bool valid) { ::lmp::emu::cp_async(smem, gmem, valid); }
inline void cp_async_commit() { ::lmp::emu::cp_async_commit(); }
template <int N>
inline void cp_async_wait() {
  static_assert(N >= 0, "cp_async_wait<N>: N >= 0");
  ::lmp::emu::cp_async_wait(N);
}

namespace detail {
template <typename Tuple, typename K>
struct LaunchCtx {
  K kernel;
  const Tuple* params;
};
template <typename Tuple, typename K>
void run_body(void* p) {
  auto* ctx = static_cast<LaunchCtx<Tuple, K>*>(p);
  Tuple args = *ctx->params;  // each thread its own copy of the parameters
  std::apply(ctx->kernel, args);
}
}  // namespace detail

// As on the device: invalid configurations return an error (and set cudaGetLastError); a fault
// or deadlock inside the kernel throws std::runtime_error.
template <typename... KArgs, typename... Args>
inline cudaError_t launch(void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smemBytes, cudaStream_t stream, Args&&... args) {
  static_assert(sizeof...(KArgs) == sizeof...(Args), "lmp::cu::launch: argument count differs from the kernel's");
  using Tuple = std::tuple<std::decay_t<KArgs>...>;
  const Tuple params(static_cast<std::decay_t<KArgs>>(args)...);
  using K = void (*)(KArgs...);
  detail::LaunchCtx<Tuple, K> ctx{kernel, &params};
  return ::lmp::emu::launch_kernel(reinterpret_cast<const void*>(kernel), grid, block, smemBytes, stream, &detail::run_body<Tuple, K>,
                                   &ctx);
}

}  // namespace cu
}  // namespace lmp

#define LMP_DYNAMIC_SMEM(type, name) type* name = reinterpret_cast<type*>(::lmp::emu::dynamic_smem())
