// The GEMM wrapper: row-major lmp::sgemm semantics over cuBLAS (cublasGemmEx, fp32 accumulation).
// No GEMM is written by hand for the GPU; under the emulator its cuBLAS subset stands in.
//
// cuBLAS is column-major. A row-major M x N matrix with leading dimension ldc is, read column-major,
// its N x M transpose with the same leading dimension, so C = op(A) op(B) (row-major) is
// C^T = op(B)^T op(A)^T (column-major): cublasGemmEx(opB, opA, N, M, K, B, ldb, A, lda, C, ldc), where
// a row-major operand that is not transposed is passed as CUBLAS_OP_N (its column-major reading is
// already the transpose the formula needs) and a transposed one as CUBLAS_OP_T.
#include "common/device.cuh"

#include <string>

#include "model/internal.cuh"

namespace lmp {
namespace cuda {
namespace model {
namespace {

// C = beta C for K == 0 (cuBLAS' handling of k = 0 is not relied on); beta == 0 writes zeros.
template <typename T>
__global__ void scale_k(T* c, int64_t rows, int64_t cols, int64_t ldc, float beta) {
  const int64_t n = rows * cols;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / cols, col = i - r * cols;
    st(c, r * ldc + col, beta == 0.f ? 0.f : beta * ld(c, r * ldc + col));
  }
}

// The extent a row-major rows x cols view with leading dimension ld needs: (rows - 1) ld + cols.
void need_view(const Tensor& t, const char* name, int64_t rows, int64_t cols, int64_t ld, int64_t offset) {
  if (ld < cols || ld < 1)
    fail("LMP_E_SHAPE", std::string("gemm: ") + name + "'s leading dimension " + std::to_string(ld) + " is below its " +
                            std::to_string(cols) + " columns");
  if (!t.data && t.numel > 0) fail("LMP_E_ARG", std::string("gemm: ") + name + ": the device tensor was freed");
  if (rows == 0 || cols == 0) return;
  const int64_t need_len = offset + (rows - 1) * ld + cols;
  if (offset < 0 || need_len > t.numel)
    fail("LMP_E_SHAPE", std::string("gemm: ") + name + " needs " + std::to_string(need_len) + " elements (offset " + std::to_string(offset) +
                            ", " + std::to_string(rows) + " x " + std::to_string(cols) + ", ld " + std::to_string(ld) + "), has " +
                            std::to_string(t.numel));
}

#if defined(LMP_HAVE_CUBLAS) || defined(LMP_CUDA_EMU)
cudaDataType_t blas_type(DType d) { return d == DType::BF16 ? CUDA_R_16BF : CUDA_R_32F; }

const char* blas_status(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "invalid value";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "architecture mismatch";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "execution failed";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "not supported";
    default: return "error";
  }
}
#endif

}  // namespace

void gemm(const GemmArgs& g, const Tensor& A, const Tensor& B, const Tensor& C) {
  need_float(A, "A");
  need_float(B, "B");
  need_float(C, "C");
  if (A.dtype != B.dtype) fail("LMP_E_DTYPE", "gemm: A and B must have the same dtype (both f32 or both bf16)");
  if (g.M < 0 || g.N < 0 || g.K < 0) fail("LMP_E_SHAPE", "gemm: M, N, K must be >= 0");
  const int64_t kMax = 0x7fffffff;
  if (g.M > kMax || g.N > kMax || g.K > kMax || g.lda > kMax || g.ldb > kMax || g.ldc > kMax)
    fail("LMP_E_SHAPE", "gemm: sizes and leading dimensions must be below 2^31");
  // op(A) is M x K: A stored M x K, or K x M when transposed; likewise B.
  need_view(A, "A", g.trans_a ? g.K : g.M, g.trans_a ? g.M : g.K, g.lda, g.a_offset);
  need_view(B, "B", g.trans_b ? g.N : g.K, g.trans_b ? g.K : g.N, g.ldb, g.b_offset);
  need_view(C, "C", g.M, g.N, g.ldc, g.c_offset);
  if (g.M == 0 || g.N == 0) return;
  Context& c = ctx();
  const size_t cs = dtype_size(C.dtype);
  char* cp = static_cast<char*>(C.data) + g.c_offset * static_cast<int64_t>(cs);
  if (g.K == 0) {
    with_float_type(C.dtype, [&](auto t) {
      using T = decltype(t);
      check_cuda(cu::launch(scale_k<T>, dim3(grid_for(g.M * g.N)), dim3(kThreads), 0, c.stream, reinterpret_cast<T*>(cp), g.M, g.N, g.ldc, g.beta),
                 "gemm (k = 0)");
    });
    return;
  }
#if defined(LMP_HAVE_CUBLAS) || defined(LMP_CUDA_EMU)
  const size_t es = dtype_size(A.dtype);
  const char* a = static_cast<const char*>(A.data) + g.a_offset * static_cast<int64_t>(es);
  const char* b = static_cast<const char*>(B.data) + g.b_offset * static_cast<int64_t>(es);
  const cublasComputeType_t compute = g.tf32 && A.dtype == DType::F32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  const float alpha = g.alpha, beta = g.beta;
  const cublasStatus_t s = cublasGemmEx(c.blas, g.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, g.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
                                        static_cast<int>(g.N), static_cast<int>(g.M), static_cast<int>(g.K), &alpha, b, blas_type(B.dtype),
                                        static_cast<int>(g.ldb), a, blas_type(A.dtype), static_cast<int>(g.lda), &beta, cp, blas_type(C.dtype),
                                        static_cast<int>(g.ldc), compute, CUBLAS_GEMM_DEFAULT);
  if (s != CUBLAS_STATUS_SUCCESS) {
    if (s == CUBLAS_STATUS_ALLOC_FAILED) fail("LMP_E_CUDA_OOM", "out of device memory (cuBLAS workspace)");
    fail("LMP_E_CUDA", std::string("cublasGemmEx: ") + blas_status(s) + " (M " + std::to_string(g.M) + ", N " + std::to_string(g.N) + ", K " +
                           std::to_string(g.K) + ", " + dtype_name(A.dtype) + " -> " + dtype_name(C.dtype) + ")");
  }
  check_cuda(cudaGetLastError(), "cublasGemmEx");
#else
  fail("LMP_E_CUDA", "gemm: this build has no cuBLAS (cublas_v2.h was not found when it was compiled)");
#endif
}

}  // namespace model
}  // namespace cuda
}  // namespace lmp
