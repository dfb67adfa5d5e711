// Compile test of common/device.cuh: one kernel using every wrapper, so `nvcc -arch=sm_90 -c`
// (.ci/run, where nvcc exists) and the emulated build both see each of them instantiated. It is
// also linked into the parity binary, where the check `device_wrappers` runs it (parity/emu_selftest_parity.cu).
#include "common/device.cuh"

namespace lmp {
namespace cu {
namespace test {

// out gets, per thread: 0 lane, 1 warp, 2 shfl_xor float, 3 shfl int, 4 shfl unsigned,
// 5..8 mma bf16 d, 9..12 mma f16 d, 13..16 ldmatrix x4, 17..20 x4 trans, 21 x1, 22 x1 trans,
// 23..24 x2, 25..26 x2 trans, 27 cp.async word, 28 zfill word, 29 conversions.
__global__ void device_wrappers_kernel(const uint16_t* g, float* out) {
  __shared__ __align__(16) uint16_t tile[32 * 8];
  LMP_DYNAMIC_SMEM(uint32_t, dyn);
  const int t = threadIdx.x;
  for (int i = t; i < 32 * 8; i += blockDim.x) tile[i] = g[i];
  cp_async_16(dyn + 4 * t, g + 8 * t);
  cp_async_16_zfill(dyn + 128 + 4 * t, g + 8 * t, (t & 1) != 0);
  cp_async_commit();
  cp_async_wait<0>();
  __syncthreads();
  float* o = out + t * 30;
  o[0] = static_cast<float>(lane_id());
  o[1] = static_cast<float>(warp_id());
  o[2] = shfl_xor(static_cast<float>(t), 1);
  o[3] = static_cast<float>(shfl(t, 3));
  o[4] = static_cast<float>(shfl(static_cast<unsigned>(t) * 2u, 31));
  warp_sync();
  uint32_t a[4], b[2];
  for (int i = 0; i < 4; ++i) a[i] = pack_bf16x2(0.5f * i, 1.0f);
  for (int i = 0; i < 2; ++i) b[i] = pack_bf16x2(1.0f, 0.25f * i);
  const float c[4] = {1, 2, 3, 4};
  float d[4];
  mma_16816_bf16(d, a, b, c);
  for (int i = 0; i < 4; ++i) o[5 + i] = d[i];
  for (int i = 0; i < 4; ++i) a[i] = pack_f16x2(0.5f * i, 1.0f);
  for (int i = 0; i < 2; ++i) b[i] = pack_f16x2(1.0f, 0.25f * i);
  mma_16816_f16(d, a, b, c);
  for (int i = 0; i < 4; ++i) o[9 + i] = d[i];
  uint32_t r[4];
  const uint16_t* row = tile + 8 * t;
  ldmatrix_x4(r, row);
  for (int i = 0; i < 4; ++i) o[13 + i] = static_cast<float>(r[i] & 0xffffu);
  ldmatrix_x4_trans(r, row);
  for (int i = 0; i < 4; ++i) o[17 + i] = static_cast<float>(r[i] & 0xffffu);
  ldmatrix_x1(r, row);
  o[21] = static_cast<float>(r[0] >> 16);
  ldmatrix_x1_trans(r, row);
  o[22] = static_cast<float>(r[0] >> 16);
  ldmatrix_x2(r, row);
  o[23] = static_cast<float>(r[0] & 0xffffu);
  o[24] = static_cast<float>(r[1] & 0xffffu);
  ldmatrix_x2_trans(r, row);
  o[25] = static_cast<float>(r[0] & 0xffffu);
  o[26] = static_cast<float>(r[1] & 0xffffu);
  o[27] = static_cast<float>(dyn[4 * t] & 0xffffu);
  o[28] = static_cast<float>(dyn[128 + 4 * t] & 0xffffu);
  float lo, hi;
  unpack_bf16x2(pack_bf16x2(1.5f, -2.0f), lo, hi);
  float lo2, hi2;
  unpack_f16x2(pack_f16x2(0.75f, 3.0f), lo2, hi2);
  o[29] = lo + hi + lo2 + hi2 + bf16_to_f32(f32_to_bf16(0.5f)) + f16_to_f32(f32_to_f16(0.25f));
}

// One warp of 32 threads; g holds 256 uint16 (32 rows of 8), out 32 * 30 floats (device pointers).
cudaError_t run_device_wrappers(const uint16_t* g, float* out, cudaStream_t stream) {
  return launch(device_wrappers_kernel, dim3(1), dim3(32), 2 * 128 * sizeof(uint32_t), stream, g, out);
}

}  // namespace test
}  // namespace cu
}  // namespace lmp
