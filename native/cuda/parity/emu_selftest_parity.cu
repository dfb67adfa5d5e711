// Self-tests of the device primitives (common/device.cuh) and of the emulator that stands in for
// them: run under the emulator in npm test and on a GPU by bench/gpu/check.sh, where the same
// checks validate the emulator's fragment layouts against the hardware. References are computed
// on the host from the documented layouts (PTX ISA; the table is at the top of emu/emu.cc), never
// from the code under test.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "common/device.cuh"
#include "parity/cuda_util.h"
#include "parity/parity.h"

using namespace lmp;
using parity::DevVec;

namespace lmp {
namespace cu {
namespace test {
cudaError_t run_device_wrappers(const uint16_t* g, float* out, cudaStream_t stream);  // common/device_test.cu
}
}  // namespace cu
}  // namespace lmp

namespace {

// --- mma.m16n8k16 ---------------------------------------------------------------------------------
// One warp per tile: A 16x16 row-major, B 16x8 stored column-major (Bc[n * 16 + k]), C and D
// 16x8 row-major. Each lane loads its fragments straight from global memory by the documented
// layout (groupID g = lane >> 2, tig t = lane & 3).
template <bool BF16>
__global__ void mma_tile_kernel(const uint16_t* A, const uint16_t* Bc, const float* C, float* D) {
  const int tile = blockIdx.x, lane = cu::lane_id(), g = lane >> 2, t = lane & 3;
  const uint16_t* a = A + tile * 256;
  const uint16_t* b = Bc + tile * 128;
  const float* c = C + tile * 128;
  float* d = D + tile * 128;
  uint32_t af[4], bf[2];
  af[0] = cu::pack_u16x2(a[g * 16 + 2 * t], a[g * 16 + 2 * t + 1]);
  af[1] = cu::pack_u16x2(a[(g + 8) * 16 + 2 * t], a[(g + 8) * 16 + 2 * t + 1]);
  af[2] = cu::pack_u16x2(a[g * 16 + 2 * t + 8], a[g * 16 + 2 * t + 9]);
  af[3] = cu::pack_u16x2(a[(g + 8) * 16 + 2 * t + 8], a[(g + 8) * 16 + 2 * t + 9]);
  bf[0] = cu::pack_u16x2(b[g * 16 + 2 * t], b[g * 16 + 2 * t + 1]);
  bf[1] = cu::pack_u16x2(b[g * 16 + 2 * t + 8], b[g * 16 + 2 * t + 9]);
  float cf[4] = {c[g * 8 + 2 * t], c[g * 8 + 2 * t + 1], c[(g + 8) * 8 + 2 * t], c[(g + 8) * 8 + 2 * t + 1]};
  float df[4];
  if (BF16)
    cu::mma_16816_bf16(df, af, bf, cf);
  else
    cu::mma_16816_f16(df, af, bf, cf);
  d[g * 8 + 2 * t] = df[0];
  d[g * 8 + 2 * t + 1] = df[1];
  d[(g + 8) * 8 + 2 * t] = df[2];
  d[(g + 8) * 8 + 2 * t + 1] = df[3];
}

template <bool BF16>
void mma_check() {
  parity::Rng rng = parity::rng();
  const int tiles = 3;
  std::vector<uint16_t> A(tiles * 256), Bc(tiles * 128);
  std::vector<float> C(tiles * 128);
  auto enc = [](float v) { return BF16 ? cu::f32_to_bf16(v) : cu::f32_to_f16(v); };
  auto dec = [](uint16_t h) { return static_cast<double>(BF16 ? cu::bf16_to_f32(h) : cu::f16_to_f32(h)); };
  for (auto& v : A) v = enc(static_cast<float>(rng.uniform(-2, 2)));
  for (auto& v : Bc) v = enc(static_cast<float>(rng.uniform(-2, 2)));
  for (auto& v : C) v = static_cast<float>(rng.uniform(-4, 4));
  DevVec<uint16_t> dA(A), dB(Bc);
  DevVec<float> dC(C), dD(tiles * 128);
  parity::cuda_ok(cu::launch(mma_tile_kernel<BF16>, dim3(tiles), dim3(32), 0, nullptr, static_cast<const uint16_t*>(dA.p),
                             static_cast<const uint16_t*>(dB.p), static_cast<const float*>(dC.p), dD.p),
                  "launch");
  std::vector<float> D = dD.download();
  std::vector<double> ref(tiles * 128);
  for (int tile = 0; tile < tiles; ++tile)
    for (int i = 0; i < 16; ++i)
      for (int j = 0; j < 8; ++j) {
        double s = C[tile * 128 + i * 8 + j];
        for (int k = 0; k < 16; ++k) s += dec(A[tile * 256 + i * 16 + k]) * dec(Bc[tile * 128 + j * 16 + k]);
        ref[tile * 128 + i * 8 + j] = s;
      }
  parity::expect_close(BF16 ? "3 tiles bf16 vs float64 matmul" : "3 tiles f16 vs float64 matmul", D.data(), ref.data(), D.size(), 1e-4,
                       1e-5);
}

// --- ldmatrix ----------------------------------------------------------------------------------
// Shared memory holds 4 matrices of 8 rows x 8 halves, rows 24 halves (48 bytes) apart and the
// matrices 200 halves apart (both 16-byte multiples), filled with distinct values. Lane L gives
// the row address of matrix (L/8) % num, row L % 8. out[(variant * 32 + lane) * 4 + i] = r[i].
constexpr int kRow = 24, kMat = 200;
__global__ void ldmatrix_kernel(const uint16_t* src, uint32_t* out) {
  __shared__ __align__(16) uint16_t s[4 * kMat];
  const int lane = cu::lane_id();
  for (int i = lane; i < 4 * kMat; i += 32) s[i] = src[i];
  __syncthreads();
  uint32_t r[4];
  auto row = [&](int num) { return s + ((lane / 8) % num) * kMat + (lane % 8) * kRow; };
  auto put = [&](int variant, int num) {
    for (int i = 0; i < 4; ++i) out[(variant * 32 + lane) * 4 + i] = i < num ? r[i] : 0u;
  };
  cu::ldmatrix_x1(r, row(1));
  put(0, 1);
  cu::ldmatrix_x2(r, row(2));
  put(1, 2);
  cu::ldmatrix_x4(r, row(4));
  put(2, 4);
  cu::ldmatrix_x1_trans(r, row(1));
  put(3, 1);
  cu::ldmatrix_x2_trans(r, row(2));
  put(4, 2);
  cu::ldmatrix_x4_trans(r, row(4));
  put(5, 4);
}

// --- shuffles --------------------------------------------------------------------------------
// Two warps. out[t * 9 + j]: j = 0..4 shfl_xor(float) with masks 1,2,4,8,16; 5 shfl(int, (7*lane+3)%32);
// 6 shfl(unsigned, 31 - lane); 7 butterfly sum (xor 16..1) of float; 8 shfl_xor(int, 0) (own value).
__global__ void shfl_kernel(const float* in, float* out) {
  const int t = threadIdx.x, lane = cu::lane_id();
  const float v = in[t];
  float* o = out + t * 9;
  for (int j = 0; j < 5; ++j) o[j] = cu::shfl_xor(v, 1 << j);
  o[5] = static_cast<float>(cu::shfl(t * 10, (7 * lane + 3) % 32));
  o[6] = static_cast<float>(cu::shfl(static_cast<unsigned>(t) * 3u, 31 - lane));
  float s = v;
  for (int m = 16; m > 0; m >>= 1) s += cu::shfl_xor(s, m);
  o[7] = s;
  o[8] = static_cast<float>(cu::shfl_xor(t, 0));
}

// --- block reduction ----------------------------------------------------------------------------
// One block per row: warp sums by shuffles, then the warps' sums through shared memory between
// __syncthreads; block totals also atomicAdd-ed into one int. Integers: every sum exact.
__global__ void block_sum_kernel(const float* x, int cols, float* row_sum, int* total) {
  __shared__ float warp_sums[32];
  const float* xr = x + blockIdx.x * static_cast<size_t>(cols);
  float s = 0;
  for (int j = threadIdx.x; j < cols; j += blockDim.x) s += xr[j];
  for (int m = 16; m > 0; m >>= 1) s += cu::shfl_xor(s, m);
  if (cu::lane_id() == 0) warp_sums[cu::warp_id()] = s;
  __syncthreads();
  if (cu::warp_id() == 0) {
    const int nw = static_cast<int>(blockDim.x) / 32;
    float w = cu::lane_id() < nw ? warp_sums[cu::lane_id()] : 0.0f;
    for (int m = 16; m > 0; m >>= 1) w += cu::shfl_xor(w, m);
    if (cu::lane_id() == 0) {
      row_sum[blockIdx.x] = w;
      atomicAdd(total, static_cast<int>(w));
    }
  }
  __syncthreads();
}

// --- cp.async ------------------------------------------------------------------------------------
// rows x 8 halves copied to dynamic shared memory in 16-byte pieces, odd rows zero-filled, two
// commit groups (even rows first); then written back out.
__global__ void cp_async_kernel(const uint16_t* src, uint16_t* dst, int rows) {
  LMP_DYNAMIC_SMEM(uint16_t, s);
  const int t = threadIdx.x;
  for (int r = t; r < rows; r += blockDim.x)
    if (r % 2 == 0) cu::cp_async_16(s + 8 * r, src + 8 * r);
  cu::cp_async_commit();
  for (int r = t; r < rows; r += blockDim.x)
    if (r % 2 == 1) cu::cp_async_16_zfill(s + 8 * r, src + 8 * r, false);
  cu::cp_async_commit();
  cu::cp_async_wait<0>();
  __syncthreads();
  for (int i = t; i < rows * 8; i += blockDim.x) dst[i] = s[i];
}

// --- launch configuration errors --------------------------------------------------------------------
__global__ void noop_kernel(int* p) {
  LMP_DYNAMIC_SMEM(int, s);
  if (threadIdx.x == 0 && p) {
    s[0] = 1;
    *p = s[0] + static_cast<int>(gridDim.x);
  }
}

}  // namespace

LMP_PARITY_CHECK(emu_mma_16816_bf16) { mma_check<true>(); }
LMP_PARITY_CHECK(emu_mma_16816_f16) { mma_check<false>(); }

LMP_PARITY_CHECK(emu_ldmatrix) {
  std::vector<uint16_t> src(4 * kMat);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint16_t>(1000 + i);
  DevVec<uint16_t> dsrc(src);
  DevVec<uint32_t> dout(6 * 32 * 4);
  parity::cuda_ok(cu::launch(ldmatrix_kernel, dim3(1), dim3(32), 0, nullptr, static_cast<const uint16_t*>(dsrc.p), dout.p), "launch");
  std::vector<uint32_t> got = dout.download(), ref(got.size(), 0);
  auto M = [&](int m, int r, int c) { return static_cast<uint32_t>(src[m * kMat + r * kRow + c]); };
  const int nums[6] = {1, 2, 4, 1, 2, 4};
  for (int v = 0; v < 6; ++v)
    for (int L = 0; L < 32; ++L)
      for (int i = 0; i < nums[v]; ++i) {
        const int r = L / 4, c = 2 * (L % 4);
        ref[(v * 32 + L) * 4 + i] = v < 3 ? (M(i, r, c) | (M(i, r, c + 1) << 16)) : (M(i, c, r) | (M(i, c + 1, r) << 16));
      }
  parity::expect_equal("x1, x2, x4, x1.trans, x2.trans, x4.trans registers vs direct indexing", got.data(), ref.data(), got.size());
}

LMP_PARITY_CHECK(emu_shfl) {
  parity::Rng rng = parity::rng();
  const int n = 64;
  std::vector<float> in(n);
  for (auto& v : in) v = static_cast<float>(static_cast<int>(rng.uniform(-100, 100)));
  DevVec<float> din(in), dout(n * 9);
  parity::cuda_ok(cu::launch(shfl_kernel, dim3(1), dim3(n), 0, nullptr, static_cast<const float*>(din.p), dout.p), "launch");
  std::vector<float> got = dout.download(), ref(n * 9);
  for (int t = 0; t < n; ++t) {
    const int w = t & ~31, lane = t & 31;
    for (int j = 0; j < 5; ++j) ref[t * 9 + j] = in[w + (lane ^ (1 << j))];
    ref[t * 9 + 5] = static_cast<float>((w + (7 * lane + 3) % 32) * 10);
    ref[t * 9 + 6] = static_cast<float>((w + 31 - lane) * 3);
    float s = 0;
    for (int l = 0; l < 32; ++l) s += in[w + l];
    ref[t * 9 + 7] = s;
    ref[t * 9 + 8] = static_cast<float>(t);
  }
  parity::expect_equal("shfl_xor / shfl / butterfly sum, 2 warps", got.data(), ref.data(), got.size());
}

LMP_PARITY_CHECK(emu_block_reduce) {
  parity::Rng rng = parity::rng();
  const int rows = 5, cols = 1003;
  std::vector<float> x(rows * cols);
  for (auto& v : x) v = static_cast<float>(static_cast<int>(rng.uniform(-1000, 1000)));
  for (int threads : {32, 96, 256}) {
    DevVec<float> dx(x), dsum(rows);
    DevVec<int> dtot(1);
    parity::cuda_ok(cudaMemset(dtot.p, 0, sizeof(int)), "memset");
    parity::cuda_ok(cu::launch(block_sum_kernel, dim3(rows), dim3(threads), 0, nullptr, static_cast<const float*>(dx.p), cols, dsum.p, dtot.p),
                    "launch");
    std::vector<float> got = dsum.download();
    std::vector<int> tot = dtot.download();
    std::vector<float> ref(rows);
    int all = 0;
    for (int r = 0; r < rows; ++r) {
      double s = 0;
      for (int j = 0; j < cols; ++j) s += x[r * cols + j];
      ref[r] = static_cast<float>(s);
      all += static_cast<int>(s);
    }
    parity::expect_equal("row sums, blockDim " + std::to_string(threads), got.data(), ref.data(), rows);
    parity::expect_equal("atomicAdd total, blockDim " + std::to_string(threads), tot.data(), &all, 1);
  }
}

LMP_PARITY_CHECK(emu_cp_async) {
  const int rows = 37;
  std::vector<uint16_t> src(rows * 8);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint16_t>(7 * i + 1);
  DevVec<uint16_t> dsrc(src), ddst(rows * 8);
  parity::cuda_ok(cu::launch(cp_async_kernel, dim3(1), dim3(64), rows * 16, nullptr, static_cast<const uint16_t*>(dsrc.p), ddst.p, rows),
                  "launch");
  std::vector<uint16_t> got = ddst.download(), ref(src);
  for (int r = 1; r < rows; r += 2)
    for (int c = 0; c < 8; ++c) ref[r * 8 + c] = 0;
  parity::expect_equal("copied rows and zero-filled rows", got.data(), ref.data(), got.size());
}

LMP_PARITY_CHECK(emu_device_wrappers) {
  std::vector<uint16_t> g(256);
  for (size_t i = 0; i < g.size(); ++i) g[i] = static_cast<uint16_t>(i + 1);
  DevVec<uint16_t> dg(g);
  DevVec<float> dout(32 * 30);
  parity::cuda_ok(cu::test::run_device_wrappers(dg.p, dout.p, nullptr), "launch");
  std::vector<float> o = dout.download();
  size_t bad = 0;
  for (int t = 0; t < 32; ++t) {
    const float* r = &o[t * 30];
    bad += r[0] != t;
    bad += r[1] != 0;
    bad += r[2] != static_cast<float>(t ^ 1);
    bad += r[3] != 3;
    bad += r[4] != 62;
    bad += r[27] != g[8 * t];                   // cp.async: first half of row t
    bad += r[28] != ((t & 1) ? g[8 * t] : 0);  // zfill for even t
    bad += r[21] != g[8 * (t / 4) + 2 * (t % 4) + 1];  // ldmatrix_x1 hi half: matrix 0 = rows 0..7
    bad += std::fabs(r[29] - (1.5f - 2.0f + 0.75f + 3.0f + 0.5f + 0.25f)) > 0;
  }
  parity::expect(bad == 0, "lane/warp ids, shfl, cp.async, zfill, ldmatrix and conversions of common/device_test.cu: " +
                               std::to_string(bad) + " wrong values");
}

LMP_PARITY_CHECK(emu_launch_errors) {
  // The emulator refuses what a GPU refuses, with the same codes.
  cudaError_t e = cu::launch(noop_kernel, dim3(1), dim3(2048), 0, nullptr, static_cast<int*>(nullptr));
  parity::expect(e == cudaErrorInvalidConfiguration, std::string("blockDim 2048: ") + cudaGetErrorName(e));
  (void)cudaGetLastError();
  e = cu::launch(noop_kernel, dim3(0), dim3(32), 0, nullptr, static_cast<int*>(nullptr));
  parity::expect(e == cudaErrorInvalidConfiguration, std::string("gridDim 0: ") + cudaGetErrorName(e));
  (void)cudaGetLastError();
  DevVec<int> dp(1);
  e = cu::launch(noop_kernel, dim3(3), dim3(32), 64 * 1024, nullptr, dp.p);
  parity::expect(e != cudaSuccess, std::string("64 KiB dynamic smem without the attribute: ") + cudaGetErrorName(e));
  (void)cudaGetLastError();
  e = cudaFuncSetAttribute(noop_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 100 * 1024);
  parity::expect(e == cudaSuccess, std::string("cudaFuncSetAttribute 100 KiB: ") + cudaGetErrorName(e));
  e = cu::launch(noop_kernel, dim3(3), dim3(32), 64 * 1024, nullptr, dp.p);
  parity::expect(e == cudaSuccess, std::string("64 KiB dynamic smem with the attribute: ") + cudaGetErrorName(e));
  parity::cuda_ok(cudaDeviceSynchronize(), "sync");
  std::vector<int> v = dp.download();
  parity::expect(v[0] == 4, "kernel wrote 1 + gridDim.x");
}
