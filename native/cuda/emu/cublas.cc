// The emulator's cuBLAS subset: gemm as plain loops, fp32 accumulation, column-major exactly as
// the cuBLAS documentation states it (docs.nvidia.com/cuda/cublas, "cublasGemmEx"):
//   C = alpha * op(A) * op(B) + beta * C, C is m x n with leading dimension ldc (element (i, j) at
//   C[i + j * ldc]); op(A) is m x k: A[i + p * lda] for CUBLAS_OP_N (A stored lda x k, lda >= m),
//   A[p + i * lda] for CUBLAS_OP_T / _C (A stored lda x m, lda >= k); op(B) is k x n likewise
//   (ldb >= k for N, >= n for T). beta == 0: C is not read (it may hold NaN).
// Type combinations (compute type CUBLAS_COMPUTE_32F and its _PEDANTIC / _FAST_* variants, float
// alpha and beta): A = B = bf16 with C bf16 or f32; A = B = f16 with C f16 or f32; all f32.
// Products and sums are fp32 (k ascending); the result is rounded once to C's type (RNE).
// CUBLAS_COMPUTE_32F_FAST_TF32 / _FAST_16BF run in full fp32 here (a GPU rounds the inputs).
#include <cstdio>
#include <string>
#include <vector>

#include "../common/device.cuh"
#include "emu.h"

struct cublasContext {
  cudaStream_t stream = nullptr;
};

namespace {

size_t elem_size(cudaDataType_t t) { return t == CUDA_R_32F ? 4 : 2; }

float load(const void* p, cudaDataType_t t, size_t i) {
  switch (t) {
    case CUDA_R_32F: return static_cast<const float*>(p)[i];
    case CUDA_R_16F: return lmp::cu::f16_to_f32(static_cast<const uint16_t*>(p)[i]);
    default: return lmp::cu::bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
  }
}

void store(void* p, cudaDataType_t t, size_t i, float v) {
  switch (t) {
    case CUDA_R_32F: static_cast<float*>(p)[i] = v; break;
    case CUDA_R_16F: static_cast<uint16_t*>(p)[i] = lmp::cu::f32_to_f16(v); break;
    default: static_cast<uint16_t*>(p)[i] = lmp::cu::f32_to_bf16(v); break;
  }
}

bool supported(cudaDataType_t a, cudaDataType_t b, cudaDataType_t c, cublasComputeType_t ct) {
  if (ct != CUBLAS_COMPUTE_32F && ct != CUBLAS_COMPUTE_32F_PEDANTIC && ct != CUBLAS_COMPUTE_32F_FAST_16F &&
      ct != CUBLAS_COMPUTE_32F_FAST_16BF && ct != CUBLAS_COMPUTE_32F_FAST_TF32)
    return false;
  if (a != b) return false;
  if (a == CUDA_R_32F) return c == CUDA_R_32F;
  if (a == CUDA_R_16BF) return c == CUDA_R_16BF || c == CUDA_R_32F;
  if (a == CUDA_R_16F) return c == CUDA_R_16F || c == CUDA_R_32F;
  return false;
}

cublasStatus_t complain(cublasStatus_t s, const std::string& why) {
  std::fprintf(stderr, "lmp CUDA emulator: %s\n", why.c_str());
  return s;
}

// Elements spanned by a column-major rows x cols operand with leading dimension ld.
size_t span(int rows, int cols, int ld) {
  return rows == 0 || cols == 0 ? 0 : static_cast<size_t>(cols - 1) * static_cast<size_t>(ld) + static_cast<size_t>(rows);
}

cublasStatus_t gemm(const char* fn, cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const void* alpha,
                    const void* A, cudaDataType_t at, int lda, long long sa, const void* B, cudaDataType_t bt, int ldb, long long sb,
                    const void* beta, void* C, cudaDataType_t ct, int ldc, long long sc, int batch, cublasComputeType_t comp) {
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  const bool tA = ta != CUBLAS_OP_N, tB = tb != CUBLAS_OP_N;
  if (m < 0 || n < 0 || k < 0 || batch < 0) return complain(CUBLAS_STATUS_INVALID_VALUE, std::string(fn) + ": negative size");
  if (lda < std::max(1, tA ? k : m) || ldb < std::max(1, tB ? n : k) || ldc < std::max(1, m))
    return complain(CUBLAS_STATUS_INVALID_VALUE, std::string(fn) + ": lda/ldb/ldc below the minimum (lda >= " +
                                                     std::to_string(tA ? k : m) + ", ldb >= " + std::to_string(tB ? n : k) + ", ldc >= " +
                                                     std::to_string(m) + ")");
  if (!supported(at, bt, ct, comp)) return complain(CUBLAS_STATUS_NOT_SUPPORTED, std::string(fn) + ": type combination not emulated");
  if (!alpha || !beta) return complain(CUBLAS_STATUS_INVALID_VALUE, std::string(fn) + ": null alpha/beta");
  if (m == 0 || n == 0 || batch == 0) return CUBLAS_STATUS_SUCCESS;
  const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  const size_t ea = elem_size(at), eb = elem_size(bt), ec = elem_size(ct);
  std::vector<float> Ap(static_cast<size_t>(m) * k), Bp(static_cast<size_t>(n) * k);
  for (int b = 0; b < batch; ++b) {
    const char* a = static_cast<const char*>(A) + static_cast<long long>(b) * sa * static_cast<long long>(ea);
    const char* bb = static_cast<const char*>(B) + static_cast<long long>(b) * sb * static_cast<long long>(eb);
    char* c = static_cast<char*>(C) + static_cast<long long>(b) * sc * static_cast<long long>(ec);
    const size_t na = tA ? span(k, m, lda) : span(m, k, lda), nb = tB ? span(n, k, ldb) : span(k, n, ldb), nc = span(m, n, ldc);
    if ((na && !lmp::emu::is_device_range(a, na * ea)) || (nb && !lmp::emu::is_device_range(bb, nb * eb)) ||
        !lmp::emu::is_device_range(c, nc * ec))
      return complain(CUBLAS_STATUS_EXECUTION_FAILED, std::string(fn) + ": batch " + std::to_string(b) +
                                                          ": A, B or C is not (entirely) inside a cudaMalloc allocation");
    // op(A) row-major m x k and op(B) column-major k x n, so the inner loop runs over contiguous p.
    for (int i = 0; i < m; ++i)
      for (int p = 0; p < k; ++p)
        Ap[static_cast<size_t>(i) * k + p] = load(a, at, tA ? static_cast<size_t>(p) + static_cast<size_t>(i) * lda
                                                            : static_cast<size_t>(i) + static_cast<size_t>(p) * lda);
    for (int j = 0; j < n; ++j)
      for (int p = 0; p < k; ++p)
        Bp[static_cast<size_t>(j) * k + p] = load(bb, bt, tB ? static_cast<size_t>(j) + static_cast<size_t>(p) * ldb
                                                              : static_cast<size_t>(p) + static_cast<size_t>(j) * ldb);
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < m; ++i) {
        const float* x = &Ap[static_cast<size_t>(i) * k];
        const float* y = &Bp[static_cast<size_t>(j) * k];
        float s = 0.0f;
        for (int p = 0; p < k; ++p) s += x[p] * y[p];
        const size_t ci = static_cast<size_t>(i) + static_cast<size_t>(j) * ldc;
        float v = al * s;
        if (be != 0.0f) v += be * load(c, ct, ci);
        store(c, ct, ci, v);
      }
  }
  return CUBLAS_STATUS_SUCCESS;
}

}  // namespace

cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
  *handle = new cublasContext();
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}
const char* cublasGetStatusString(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
                            const void* alpha, const void* A, cudaDataType_t Atype, int lda, const void* B, cudaDataType_t Btype,
                            int ldb, const void* beta, void* C, cudaDataType_t Ctype, int ldc, cublasComputeType_t computeType,
                            cublasGemmAlgo_t) {
  return gemm("cublasGemmEx", handle, transa, transb, m, n, k, alpha, A, Atype, lda, 0, B, Btype, ldb, 0, beta, C, Ctype, ldc, 0, 1,
              computeType);
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n,
                                          int k, const void* alpha, const void* A, cudaDataType_t Atype, int lda, long long strideA,
                                          const void* B, cudaDataType_t Btype, int ldb, long long strideB, const void* beta, void* C,
                                          cudaDataType_t Ctype, int ldc, long long strideC, int batchCount,
                                          cublasComputeType_t computeType, cublasGemmAlgo_t) {
  return gemm("cublasGemmStridedBatchedEx", handle, transa, transb, m, n, k, alpha, A, Atype, lda, strideA, B, Btype, ldb, strideB, beta,
              C, Ctype, ldc, strideC, batchCount, computeType);
}

cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
                           const float* alpha, const float* A, int lda, const float* B, int ldb, const float* beta, float* C, int ldc) {
  return gemm("cublasSgemm", handle, transa, transb, m, n, k, alpha, A, CUDA_R_32F, lda, 0, B, CUDA_R_32F, ldb, 0, beta, C, CUDA_R_32F,
              ldc, 0, 1, CUBLAS_COMPUTE_32F);
}
