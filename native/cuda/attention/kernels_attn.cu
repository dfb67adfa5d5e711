// Dispatch of the attention launchers by head dim (the kernels: kernels_attn.cuh, instantiated
// per head dim in kernels_attn_d{32,64,128}.cu).
#include "common/device.cuh"

#include "attention/kernels_attn.h"

namespace lmp {
namespace cu {
namespace attn {

size_t fwd_smem(int D) { return static_cast<size_t>(BQ + 4 * BK) * (D + PAD) * 2; }  // Q + 2 x (K, V)
size_t dkdv_smem(int D, bool atomicDq) {  // K, V + 2 x (Q, dO) [+ dS^T] + 2 x (lse, delta, lambda)
  return static_cast<size_t>(2 * BK + 4 * BQ) * (D + PAD) * 2 + (atomicDq ? static_cast<size_t>(BK) * (BQ + PAD) * 2 : 0) + 2 * 3 * BQ * 4;
}
size_t dq_smem(int D) { return static_cast<size_t>(2 * BQ + 4 * BK) * (D + PAD) * 2; }  // Q, dO + 2 x (K, V)

#define LMP_ATTN_BY_D(F, ...)                      \
  switch (D) {                                     \
    case 32: return F<32>(__VA_ARGS__);            \
    case 64: return F<64>(__VA_ARGS__);            \
    case 128: return F<128>(__VA_ARGS__);          \
    default: return cudaErrorInvalidValue;         \
  }

cudaError_t launch_forward(const DevPlan& p, int D, bool f16, int nQT, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                           uint16_t* out, float* lse, cudaStream_t st) {
  LMP_ATTN_BY_D(forward_d, p, f16, nQT, q, k, v, out, lse, st)
}
cudaError_t launch_delta(int D, bool f16, int64_t rows, const uint16_t* o, const uint16_t* dout, float* delta, cudaStream_t st) {
  LMP_ATTN_BY_D(delta_d, f16, rows, o, dout, delta, st)
}
cudaError_t launch_dkdv(const DevPlan& p, int D, bool f16, bool atomicDq, int nKT, const uint16_t* q, const uint16_t* k,
                        const uint16_t* v, const uint16_t* dout, const float* lse, const float* delta, float* dq, float* dk, float* dv,
                        cudaStream_t st) {
  LMP_ATTN_BY_D(dkdv_d, p, f16, atomicDq, nKT, q, k, v, dout, lse, delta, dq, dk, dv, st)
}
cudaError_t launch_dq(const DevPlan& p, int D, bool f16, int nQT, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                      const uint16_t* dout, const float* lse, const float* delta, float* dq, cudaStream_t st) {
  LMP_ATTN_BY_D(dq_d, p, f16, nQT, q, k, v, dout, lse, delta, dq, st)
}
#undef LMP_ATTN_BY_D

}  // namespace attn
}  // namespace cu
}  // namespace lmp
