// Emulator-only checks: the faults a GPU would hang on or silently get wrong must come out of the
// emulator as clear errors, quickly (deadlocks, divergent barriers, a lane missing from a warp
// collective), and its stricter memory model must show (cp.async data lands only at the wait;
// device memory is tracked). Not run on a GPU (these kernels would hang there).
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/device.cuh"
#include "parity/cuda_util.h"
#include "parity/parity.h"

#if defined(LMP_CUDA_EMU)
using namespace lmp;
using parity::DevVec;

namespace {

__global__ void half_block_sync_kernel(int* out) {
  if (threadIdx.x < 16) __syncthreads();  // the other 16 threads exit
  out[threadIdx.x] = 1;
}

__global__ void two_site_sync_kernel(int* out) {
  if (threadIdx.x < 16) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1;
}

__global__ void lane_exits_kernel(float* out) {
  if (cu::lane_id() == 5) return;
  out[threadIdx.x] = cu::shfl_xor(1.0f, 1);
}

__global__ void mixed_collectives_kernel(float* out) {
  if (cu::lane_id() < 8)
    out[threadIdx.x] = cu::shfl_xor(1.0f, 1);
  else
    cu::warp_sync();
}

__global__ void misaligned_ldmatrix_kernel(uint32_t* out) {
  __shared__ __align__(16) uint16_t s[8 * 8 + 8];
  for (int i = threadIdx.x; i < 72; i += 32) s[i] = static_cast<uint16_t>(i);
  __syncthreads();
  uint32_t r[1];
  cu::ldmatrix_x1(r, s + 1 + 8 * (threadIdx.x % 8));  // 2-byte offset: not 16-byte aligned
  out[threadIdx.x] = r[0];
}

__global__ void partial_warp_mma_kernel(float* out) {
  uint32_t a[4] = {0, 0, 0, 0}, b[2] = {0, 0};
  float c[4] = {0, 0, 0, 0}, d[4];
  cu::mma_16816_bf16(d, a, b, c);
  out[threadIdx.x] = d[0];
}

// Reads shared memory before cp_async_wait: under the emulator it sees the 0xFF fill.
__global__ void read_before_wait_kernel(const uint16_t* src, uint16_t* early, uint16_t* late) {
  LMP_DYNAMIC_SMEM(uint16_t, s);
  const int t = threadIdx.x;
  cu::cp_async_16(s + 8 * t, src + 8 * t);
  cu::cp_async_commit();
  cu::cp_async_16(s + 8 * (t + 32), src + 8 * (t + 32));
  cu::cp_async_commit();
  early[t] = s[8 * t];
  cu::cp_async_wait<1>();  // the first group has landed, the second not yet
  late[t] = s[8 * t];
  early[32 + t] = s[8 * (t + 32)];
  cu::cp_async_wait<0>();
  late[32 + t] = s[8 * (t + 32)];
}

// Expects the launch to throw an error whose text has every one of `needles`.
template <typename... A>
void expect_throw(const char* what, std::initializer_list<const char*> needles, void (*k)(A...), dim3 grid, dim3 block, A... args) {
  try {
    cu::launch(k, grid, block, 0, nullptr, args...);
    parity::expect(false, std::string(what) + ": launch returned instead of throwing");
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    bool all = true;
    for (const char* n : needles) all = all && m.find(n) != std::string::npos;
    parity::expect(all, std::string(what) + ": " + m);
  }
}

}  // namespace

LMP_PARITY_CHECK_EMU(emu_deadlock_detected) {
  DevVec<int> di(64);
  DevVec<float> df(64);
  DevVec<uint32_t> du(64);
  expect_throw("half the block at __syncthreads", {"deadlock", "__syncthreads", "kernel (anonymous namespace)::half_block_sync_kernel(int*)", "block (0,0,0)", "exited"},
               half_block_sync_kernel, dim3(2), dim3(32), di.p);
  expect_throw("two __syncthreads sites", {"divergent __syncthreads", "emu_faults_parity.cu"}, two_site_sync_kernel, dim3(1), dim3(32), di.p);
  expect_throw("a lane exits before shfl_xor", {"deadlock", "shfl_xor", "warp 0", "exited"}, lane_exits_kernel, dim3(1), dim3(32), df.p);
  expect_throw("shfl_xor and warp_sync mixed", {"divergent warp collectives", "warp_sync", "shfl_xor"}, mixed_collectives_kernel, dim3(1),
               dim3(32), df.p);
  expect_throw("misaligned ldmatrix row", {"ldmatrix_x1", "16-byte aligned"}, misaligned_ldmatrix_kernel, dim3(1), dim3(32), du.p);
  expect_throw("mma in a 16-thread block", {"mma_16816_bf16", "full warp"}, partial_warp_mma_kernel, dim3(1), dim3(16), df.p);
  // The emulator is usable after a fault.
  expect_throw("again", {"deadlock"}, half_block_sync_kernel, dim3(1), dim3(32), di.p);
}

LMP_PARITY_CHECK_EMU(emu_cp_async_lands_at_wait) {
  std::vector<uint16_t> src(64 * 8);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint16_t>(i + 1);
  DevVec<uint16_t> dsrc(src), early(64), late(64);
  parity::cuda_ok(cu::launch(read_before_wait_kernel, dim3(1), dim3(32), 64 * 16, nullptr, static_cast<const uint16_t*>(dsrc.p), early.p, late.p),
                  "launch");
  std::vector<uint16_t> e = early.download(), l = late.download(), fill(64, 0xffff), ref(64);
  for (int t = 0; t < 64; ++t) ref[t] = src[8 * t];
  parity::expect_equal("reads before the wait see the unwritten fill", e.data(), fill.data(), 64);
  parity::expect_equal("reads after the wait see the data", l.data(), ref.data(), 64);
}

// A cudaMemcpyAsync from page-locked memory is in flight until a synchronization: the host changing
// its source before then is reported (at the synchronization or at the next copy from that range);
// after an event recorded behind the copy has been waited for, it is not.
LMP_PARITY_CHECK_EMU(emu_pinned_copy_race) {
  DevVec<int> d(64);
  int* h = nullptr;
  parity::cuda_ok(cudaMallocHost(&h, 64 * sizeof(int)), "cudaMallocHost");
  cudaStream_t s = nullptr;
  cudaEvent_t ev = nullptr;
  parity::cuda_ok(cudaStreamCreate(&s), "cudaStreamCreate");
  parity::cuda_ok(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming), "cudaEventCreate");
  for (int i = 0; i < 64; ++i) h[i] = i;
  parity::cuda_ok(cudaMemcpyAsync(d.p, h, 64 * sizeof(int), cudaMemcpyHostToDevice, s), "copy 1");
  h[3] = -1;  // the race
  parity::expect(cudaStreamSynchronize(s) == cudaErrorInvalidValue, "a change before the stream synchronized is reported");
  (void)cudaGetLastError();
  parity::expect(cudaStreamSynchronize(s) == cudaSuccess, "reported once");
  parity::cuda_ok(cudaMemcpyAsync(d.p, h, 64 * sizeof(int), cudaMemcpyHostToDevice, s), "copy 2");
  h[4] = -1;
  parity::expect(cudaMemcpyAsync(d.p, h + 4, 4 * sizeof(int), cudaMemcpyHostToDevice, s) == cudaErrorInvalidValue,
                 "a new copy from a range in flight whose bytes changed is reported");
  (void)cudaGetLastError();
  parity::cuda_ok(cudaStreamSynchronize(s), "drain");
  // the right order: copy, record, wait, then write
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 64; ++i) h[i] = 100 * round + i;
    parity::cuda_ok(cudaMemcpyAsync(d.p, h, 64 * sizeof(int), cudaMemcpyHostToDevice, s), "copy");
    parity::cuda_ok(cudaEventRecord(ev, s), "record");
    parity::cuda_ok(cudaEventSynchronize(ev), "wait");
  }
  std::vector<int> got = d.download(), want(64);
  for (int i = 0; i < 64; ++i) want[i] = 200 + i;
  parity::expect_equal("data of the last round", got.data(), want.data(), 64);
  // an event recorded BEFORE the copy does not cover it
  parity::cuda_ok(cudaEventRecord(ev, s), "record before");
  parity::cuda_ok(cudaMemcpyAsync(d.p, h, 64 * sizeof(int), cudaMemcpyHostToDevice, s), "copy 3");
  parity::cuda_ok(cudaEventSynchronize(ev), "wait on the earlier event");
  h[0] = 7;
  parity::expect(cudaFreeHost(h) == cudaErrorInvalidValue, "cudaFreeHost waits for the copy and sees the change");
  (void)cudaGetLastError();
  parity::cuda_ok(cudaFreeHost(h), "cudaFreeHost");
  parity::cuda_ok(cudaEventDestroy(ev), "cudaEventDestroy");
  parity::cuda_ok(cudaStreamDestroy(s), "cudaStreamDestroy");
}

LMP_PARITY_CHECK_EMU(emu_device_memory_tracking) {
  const size_t live = emu::live_device_allocations();
  void* p = nullptr;
  parity::cuda_ok(cudaMalloc(&p, 100), "cudaMalloc");
  parity::expect(emu::live_device_allocations() == live + 1, "allocation counted");
  parity::expect(emu::is_device_range(p, 100) && !emu::is_device_range(p, 101), "range is the 100 bytes asked for");
  std::vector<char> host(200);
  parity::expect(cudaMemcpy(p, host.data(), 101, cudaMemcpyHostToDevice) == cudaErrorInvalidValue, "copy past the end refused");
  parity::expect(cudaGetLastError() == cudaErrorInvalidValue && cudaGetLastError() == cudaSuccess, "cudaGetLastError reports, then resets");
  parity::expect(cudaMemcpy(host.data(), host.data() + 100, 50, cudaMemcpyDeviceToHost) == cudaErrorInvalidValue,
                 "host pointer as a device source refused");
  parity::expect(cudaFree(host.data()) == cudaErrorInvalidValue, "cudaFree of a host pointer refused");
  parity::expect(cudaFree(p) == cudaSuccess && cudaFree(p) == cudaErrorInvalidValue, "double free refused");
  (void)cudaGetLastError();
  parity::expect(emu::live_device_allocations() == live, "allocation released");
  int count = 0;
  cudaDeviceProp prop;
  parity::expect(cudaGetDeviceCount(&count) == cudaSuccess && count == 1, "one device");
  parity::expect(cudaGetDeviceProperties(&prop, 0) == cudaSuccess && std::strcmp(prop.name, "lmp CUDA emulator") == 0 && prop.major == 9,
                 "named lmp CUDA emulator, sm_90");
}
#endif  // LMP_CUDA_EMU
