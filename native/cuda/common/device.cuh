// lmp's CUDA device primitives: the ONE header every kernel file (native/cuda/**/*.cu, *.cuh)
// includes first, instead of <cuda_runtime.h>, <cuda_bf16.h>, <cuda_fp16.h>, <mma.h>, cub, thrust.
// The contract is /tmp/lmp-helpers/CUDA-EMU.md, summarised in native/cuda/README.md.
//
// Three ways this header is compiled:
//   - nvcc (__CUDACC__): the CUDA runtime + cuBLAS headers and the device wrappers below as
//     inline PTX (sm_80+; lmp builds for sm_90).
//   - a host C++ compiler with -DLMP_CUDA_EMU (`-x c++` for .cu files): the CPU emulator
//     (native/cuda/emu/emu.h) supplies the runtime API, cuBLAS, __global__/threadIdx/__shared__ and
//     the same wrappers, with warp collectives and __syncthreads as checked barriers.
//   - a host C++ compiler without LMP_CUDA_EMU (a backend .cc file that only calls the runtime):
//     the runtime headers and the host-usable conversions only.
//
// Wrappers (namespace lmp::cu), device side:
//   lane_id(), warp_id()                      lane / warp of the linear thread index in the block
//   shfl_xor(v, laneMask), shfl(v, srcLane)   float|int|unsigned; full warp (mask 0xffffffff)
//   warp_sync()                               __syncwarp()
//   mma_16816_bf16 / mma_16816_f16            mma.sync.aligned.m16n8k16.row.col.f32.{bf16,f16}.f32
//   ldmatrix_x1/x2/x4[_trans]                 ldmatrix.sync.aligned.m8n8.x{1,2,4}[.trans].shared.b16
//   cp_async_16[_zfill], cp_async_commit(), cp_async_wait<N>()   cp.async.cg 16-byte copies
// host and device: bf16_to_f32, f32_to_bf16 (RNE, NaN -> 0x7FFF), f16_to_f32, f32_to_f16 (RNE,
//   NaN -> 0x7FFF), pack_bf16x2 / pack_f16x2 (lo = lower 16 bits = lower index), unpack_*, pack_u16x2.
// host: launch(kernel, grid, block, smemBytes, stream, args...) -> cudaError_t (cudaGetLastError
//   after the launch; the emulator throws std::runtime_error on a kernel fault or deadlock).
// LMP_DYNAMIC_SMEM(type, name): `type* name` = the block's dynamic shared memory (128-byte aligned).
#pragma once

#include <cstdint>
#include <cstring>

#if defined(LMP_CUDA_EMU)
#include "../emu/emu.h"
#define LMP_HD inline
#define LMP_DEV inline
#else
#include <cuda_runtime.h>
#if __has_include(<cublas_v2.h>)
#include <cublas_v2.h>
#define LMP_HAVE_CUBLAS 1
#endif
#if defined(__CUDACC__)
#define LMP_HD __host__ __device__ __forceinline__
#define LMP_DEV __device__ __forceinline__
#else
#define LMP_HD inline
#endif
#endif

namespace lmp {
namespace cu {

// ---------------------------------------------------------------------------------------------
// bf16 / fp16 storage is uint16_t. The host (and emulator) versions are bit manipulations; on the
// device the cvt instructions (same results: RNE, canonical NaN 0x7FFF; checked by the parity
// check `conversions` on a GPU).
LMP_HD uint32_t f32_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}
LMP_HD float bits_f32(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

LMP_HD float bf16_to_f32(uint16_t h) { return bits_f32(static_cast<uint32_t>(h) << 16); }

LMP_HD uint16_t f32_to_bf16(float f) {
#if defined(__CUDA_ARCH__)
  unsigned short r;
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(f));
  return r;
#else
  const uint32_t x = f32_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return 0x7fff;  // NaN: canonical
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
#endif
}

LMP_HD float f16_to_f32(uint16_t h) {
#if defined(__CUDA_ARCH__)
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
#else
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1f) return bits_f32(sign | 0x7f800000u | (m << 13));
  if (e == 0) {
    const float v = static_cast<float>(m) * 5.9604644775390625e-8f;  // m * 2^-24, exact
    return sign ? -v : v;
  }
  return bits_f32(sign | ((e + 112u) << 23) | (m << 13));
#endif
}

LMP_HD uint16_t f32_to_f16(float f) {
#if defined(__CUDA_ARCH__)
  unsigned short r;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(r) : "f"(f));
  return r;
#else
  uint32_t x = f32_bits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x > 0x7f800000u) return 0x7fff;                                   // NaN: canonical
  if (x >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);   // >= 65520 (and inf): inf
  if (x < 0x38800000u) {                                                // below 2^-14: subnormal or 0
    if (x <= 0x33000000u) return sign;                                  // <= 2^-25: ties to even 0
    const uint32_t e = x >> 23, mant = (x & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - e;                                    // 14..24
    uint32_t h = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    h += (rem > half || (rem == half && (h & 1u))) ? 1u : 0u;
    return static_cast<uint16_t>(sign | h);
  }
  const uint32_t t = x - 0x38000000u;                                   // rebias 127 -> 15
  uint32_t h = t >> 13;
  const uint32_t rem = t & 0x1fffu;
  h += (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ? 1u : 0u;
  return static_cast<uint16_t>(sign | h);
#endif
}

LMP_HD uint32_t pack_u16x2(uint16_t lo, uint16_t hi) { return static_cast<uint32_t>(lo) | (static_cast<uint32_t>(hi) << 16); }

LMP_HD uint32_t pack_bf16x2(float lo, float hi) {
#if defined(__CUDA_ARCH__)
  uint32_t r;  // cvt.rn.bf16x2.f32 d, a, b: a -> upper half, b -> lower half
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
#else
  return pack_u16x2(f32_to_bf16(lo), f32_to_bf16(hi));
#endif
}
LMP_HD uint32_t pack_f16x2(float lo, float hi) {
#if defined(__CUDA_ARCH__)
  uint32_t r;
  asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
#else
  return pack_u16x2(f32_to_f16(lo), f32_to_f16(hi));
#endif
}
LMP_HD void unpack_bf16x2(uint32_t v, float& lo, float& hi) {
  lo = bf16_to_f32(static_cast<uint16_t>(v & 0xffffu));
  hi = bf16_to_f32(static_cast<uint16_t>(v >> 16));
}
LMP_HD void unpack_f16x2(uint32_t v, float& lo, float& hi) {
  lo = f16_to_f32(static_cast<uint16_t>(v & 0xffffu));
  hi = f16_to_f32(static_cast<uint16_t>(v >> 16));
}

#if defined(__CUDACC__) && !defined(LMP_CUDA_EMU)
// ---------------------------------------------------------------------------------------------
// Device wrappers (nvcc). The emulator defines the same names in emu/emu.h.

LMP_DEV int linear_thread_id() { return static_cast<int>(threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)); }
LMP_DEV int lane_id() { return linear_thread_id() & 31; }
LMP_DEV int warp_id() { return linear_thread_id() >> 5; }

LMP_DEV float shfl_xor(float v, int laneMask) { return __shfl_xor_sync(0xffffffffu, v, laneMask); }
LMP_DEV int shfl_xor(int v, int laneMask) { return __shfl_xor_sync(0xffffffffu, v, laneMask); }
LMP_DEV unsigned shfl_xor(unsigned v, int laneMask) { return __shfl_xor_sync(0xffffffffu, v, laneMask); }
LMP_DEV float shfl(float v, int srcLane) { return __shfl_sync(0xffffffffu, v, srcLane); }
LMP_DEV int shfl(int v, int srcLane) { return __shfl_sync(0xffffffffu, v, srcLane); }
LMP_DEV unsigned shfl(unsigned v, int srcLane) { return __shfl_sync(0xffffffffu, v, srcLane); }
LMP_DEV void warp_sync() { __syncwarp(); }

// D = A (16x16, row) * B (16x8, col) + C, fp32 accumulate. Fragment layouts: PTX ISA, "Matrix
// Fragments for mma.m16n8k16 with floating point type" (see native/cuda/emu/emu.h for the table).
LMP_DEV void mma_16816_bf16(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
}
LMP_DEV void mma_16816_f16(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%11,%12,%13};\n"
      : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "f"(c[0]), "f"(c[1]), "f"(c[2]), "f"(c[3]));
}

LMP_DEV uint32_t smem_addr(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }

// Each lane passes the address of the 16-byte row it supplies (lanes 8i..8i+7: the rows of matrix i).
LMP_DEV void ldmatrix_x1(uint32_t r[1], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(smem_addr(p)) : "memory");
}
LMP_DEV void ldmatrix_x2(uint32_t r[2], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(smem_addr(p)) : "memory");
}
LMP_DEV void ldmatrix_x4(uint32_t r[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_addr(p)) : "memory");
}
LMP_DEV void ldmatrix_x1_trans(uint32_t r[1], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {%0}, [%1];\n" : "=r"(r[0]) : "r"(smem_addr(p)) : "memory");
}
LMP_DEV void ldmatrix_x2_trans(uint32_t r[2], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n" : "=r"(r[0]), "=r"(r[1]) : "r"(smem_addr(p)) : "memory");
}
LMP_DEV void ldmatrix_x4_trans(uint32_t r[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_addr(p)) : "memory");
}

// 16-byte global -> shared copies (both addresses 16-byte aligned). zfill: valid == false writes
// 16 zero bytes and reads nothing (src-size 0).
LMP_DEV void cp_async_16(void* smem, const void* gmem) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(smem_addr(smem)), "l"(gmem) : "memory");
}
LMP_DEV void cp_async_16_zfill(void* smem, const void* gmem, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(smem)), "l"(gmem), "r"(valid ? 16 : 0) : "memory");
}
LMP_DEV void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N>
LMP_DEV void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory"); }

// kernel<<<grid, block, smem, stream>>>(args...), then the launch error (cudaGetLastError).
template <typename... KArgs, typename... Args>
inline cudaError_t launch(void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smemBytes, cudaStream_t stream, Args&&... args) {
  static_assert(sizeof...(KArgs) == sizeof...(Args), "lmp::cu::launch: argument count differs from the kernel's");
  kernel<<<grid, block, smemBytes, stream>>>(static_cast<KArgs>(args)...);
  return cudaGetLastError();
}
#endif  // __CUDACC__ && !LMP_CUDA_EMU

}  // namespace cu
}  // namespace lmp

#if !defined(LMP_CUDA_EMU)
#define LMP_DYNAMIC_SMEM(type, name)                              \
  extern __shared__ __align__(128) unsigned char lmp_dsmem_##name[]; \
  type* name = reinterpret_cast<type*>(lmp_dsmem_##name)
#endif
