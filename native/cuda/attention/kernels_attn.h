// Launchers of the attention kernels, called by the host API (attention_cuda.cu): by head dim here
// (kernels_attn.cu), the per-head-dim templates (kernels_attn.cuh) instantiated in kernels_attn_d*.cu.
// Each returns the launch's CUDA error (cudaSuccess when queued); pointers are device pointers.
#pragma once
#include "attention/device_attn.cuh"

namespace lmp {
namespace cu {
namespace attn {

// Dynamic shared memory of each kernel, bytes.
size_t fwd_smem(int D);
size_t dkdv_smem(int D, bool atomicDq);
size_t dq_smem(int D);

// D in {32, 64, 128}; f16: fp16 inputs (else bf16). nQT / nKT: entries of p.qTiles / p.kTiles.
cudaError_t launch_forward(const DevPlan& p, int D, bool f16, int nQT, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                           uint16_t* out, float* lse, cudaStream_t st);
cudaError_t launch_delta(int D, bool f16, int64_t rows, const uint16_t* o, const uint16_t* dout, float* delta, cudaStream_t st);
// dq must be zeroed first when atomicDq.
cudaError_t launch_dkdv(const DevPlan& p, int D, bool f16, bool atomicDq, int nKT, const uint16_t* q, const uint16_t* k,
                        const uint16_t* v, const uint16_t* dout, const float* lse, const float* delta, float* dq, float* dk, float* dv,
                        cudaStream_t st);
cudaError_t launch_dq(const DevPlan& p, int D, bool f16, int nQT, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                      const uint16_t* dout, const float* lse, const float* delta, float* dq, cudaStream_t st);

template <int D>
cudaError_t forward_d(const DevPlan& p, bool f16, int nQT, const uint16_t* q, const uint16_t* k, const uint16_t* v, uint16_t* out,
                      float* lse, cudaStream_t st);
template <int D>
cudaError_t delta_d(bool f16, int64_t rows, const uint16_t* o, const uint16_t* dout, float* dl, cudaStream_t st);
template <int D>
cudaError_t dkdv_d(const DevPlan& p, bool f16, bool atomicDq, int nKT, const uint16_t* q, const uint16_t* k, const uint16_t* v,
                   const uint16_t* dout, const float* lse, const float* dl, float* dq, float* dk, float* dv, cudaStream_t st);
template <int D>
cudaError_t dq_d(const DevPlan& p, bool f16, int nQT, const uint16_t* q, const uint16_t* k, const uint16_t* v, const uint16_t* dout,
                 const float* lse, const float* dl, float* dq, cudaStream_t st);

}  // namespace attn
}  // namespace cu
}  // namespace lmp
