// cuBLAS gemm (the emulator's loops; the real library on a GPU) against hand-written
// column-major references: every transpose combination, leading dimensions above the minimum,
// alpha and beta (beta = 0 with NaN in C: C must not be read), bf16 / f16 / f32, strided batches,
// a hand-computed 2x2 case and the row-major-by-swapping idiom.
#include <cmath>
#include <string>
#include <vector>

#include "common/device.cuh"
#include "parity/cuda_util.h"
#include "parity/parity.h"

#if defined(LMP_CUDA_EMU) || defined(LMP_HAVE_CUBLAS)
using namespace lmp;
using parity::DevVec;

namespace {

struct Blas {
  cublasHandle_t h = nullptr;
  Blas() { parity::expect(cublasCreate(&h) == CUBLAS_STATUS_SUCCESS, "cublasCreate"); }
  ~Blas() {
    if (h) cublasDestroy(h);
  }
};

const char* tname(cudaDataType_t t) { return t == CUDA_R_32F ? "f32" : t == CUDA_R_16F ? "f16" : "bf16"; }

uint16_t enc(cudaDataType_t t, float v) { return t == CUDA_R_16F ? cu::f32_to_f16(v) : cu::f32_to_bf16(v); }
double dec(cudaDataType_t t, uint16_t v) { return t == CUDA_R_16F ? cu::f16_to_f32(v) : cu::bf16_to_f32(v); }

// A column-major buffer (ld x cols) of type t holding the logical rows x cols matrix X, stored
// transposed when trans (then the buffer is ld x rows with X(i, p) at [p + i * ld]).
struct Operand {
  std::vector<double> X;  // logical, row-major rows x cols, values exactly representable in t
  std::vector<float> f;   // buffer as f32 (t == f32)
  std::vector<uint16_t> h;
  int rows, cols, ld;
  bool trans;
  Operand(parity::Rng& rng, cudaDataType_t t, int r, int c, bool tr, int pad) : rows(r), cols(c), trans(tr) {
    ld = (tr ? c : r) + pad;
    const size_t n = static_cast<size_t>(ld) * (tr ? r : c);
    X.assign(static_cast<size_t>(r) * c, 0);
    f.assign(n, NAN);
    h.assign(n, 0x7fff);
    for (int i = 0; i < r; ++i)
      for (int p = 0; p < c; ++p) {
        const float v = static_cast<float>(rng.uniform(-1, 1));
        const size_t at = tr ? static_cast<size_t>(p) + static_cast<size_t>(i) * ld : static_cast<size_t>(i) + static_cast<size_t>(p) * ld;
        if (t == CUDA_R_32F) {
          f[at] = v;
          X[i * c + p] = v;
        } else {
          h[at] = enc(t, v);
          X[i * c + p] = dec(t, h[at]);
        }
      }
  }
};

void gemm_case(parity::Rng& rng, cudaDataType_t ab, cudaDataType_t ct, bool tA, bool tB, int m, int n, int k, float alpha, float beta,
               int batch) {
  Blas blas;
  const int pad = 3;
  std::vector<Operand> As, Bs;
  for (int b = 0; b < batch; ++b) {
    As.emplace_back(rng, ab, m, k, tA, pad);
    Bs.emplace_back(rng, ab, k, n, tB, pad);
  }
  const int lda = As[0].ld, ldb = Bs[0].ld, ldc = m + 2;
  const size_t sa = As[0].f.size() + 5, sb = Bs[0].f.size() + 7, sc = static_cast<size_t>(ldc) * n + 1;  // strides > the matrices
  const size_t es = ab == CUDA_R_32F ? 4 : 2, esc = ct == CUDA_R_32F ? 4 : 2;
  std::vector<unsigned char> hA(sa * batch * es, 0xff), hB(sb * batch * es, 0xff), hC(sc * batch * esc);
  std::vector<double> C0(sc * batch);
  for (int b = 0; b < batch; ++b) {
    std::memcpy(&hA[b * sa * es], ab == CUDA_R_32F ? static_cast<const void*>(As[b].f.data()) : As[b].h.data(), As[b].f.size() * es);
    std::memcpy(&hB[b * sb * es], ab == CUDA_R_32F ? static_cast<const void*>(Bs[b].f.data()) : Bs[b].h.data(), Bs[b].f.size() * es);
  }
  for (size_t i = 0; i < sc * batch; ++i) {
    const float v = beta == 0 ? NAN : static_cast<float>(rng.uniform(-1, 1));
    if (ct == CUDA_R_32F) {
      std::memcpy(&hC[i * 4], &v, 4);
      C0[i] = v;
    } else {
      const uint16_t e = beta == 0 ? uint16_t(0x7fff) : enc(ct, v);
      std::memcpy(&hC[i * 2], &e, 2);
      C0[i] = dec(ct, e);
    }
  }
  DevVec<unsigned char> dA(hA), dB(hB), dC(hC);
  cublasStatus_t st;
  const cublasOperation_t oa = tA ? CUBLAS_OP_T : CUBLAS_OP_N, ob = tB ? CUBLAS_OP_T : CUBLAS_OP_N;
  if (batch > 1)
    st = cublasGemmStridedBatchedEx(blas.h, oa, ob, m, n, k, &alpha, dA.p, ab, lda, static_cast<long long>(sa), dB.p, ab, ldb,
                                    static_cast<long long>(sb), &beta, dC.p, ct, ldc, static_cast<long long>(sc), batch, CUBLAS_COMPUTE_32F,
                                    CUBLAS_GEMM_DEFAULT);
  else if (ab == CUDA_R_32F && ct == CUDA_R_32F && (m + n) % 2 == 0)
    st = cublasSgemm(blas.h, oa, ob, m, n, k, &alpha, reinterpret_cast<const float*>(dA.p), lda, reinterpret_cast<const float*>(dB.p), ldb,
                     &beta, reinterpret_cast<float*>(dC.p), ldc);
  else
    st = cublasGemmEx(blas.h, oa, ob, m, n, k, &alpha, dA.p, ab, lda, dB.p, ab, ldb, &beta, dC.p, ct, ldc, CUBLAS_COMPUTE_32F,
                      CUBLAS_GEMM_DEFAULT);
  parity::cuda_ok(cudaDeviceSynchronize(), "sync");
  const std::string what = std::string(tA ? "T" : "N") + (tB ? "T" : "N") + " " + tname(ab) + "->" + tname(ct) + " m=" + std::to_string(m) +
                           " n=" + std::to_string(n) + " k=" + std::to_string(k) + " alpha=" + std::to_string(alpha) +
                           " beta=" + std::to_string(beta) + " batch=" + std::to_string(batch);
  parity::expect(st == CUBLAS_STATUS_SUCCESS, what + ": status " + std::to_string(static_cast<int>(st)));
  std::vector<unsigned char> out = dC.download();
  std::vector<float> got;
  std::vector<double> ref;
  for (int b = 0; b < batch; ++b)
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < ldc; ++i) {
        const size_t at = b * sc + static_cast<size_t>(i) + static_cast<size_t>(j) * ldc;
        double r = C0[at];  // rows i >= m (the ldc padding) must be untouched
        if (i < m) {
          double s = 0;
          for (int p = 0; p < k; ++p) s += As[b].X[i * k + p] * Bs[b].X[p * n + j];
          r = alpha * s + (beta == 0 ? 0.0 : beta * C0[at]);
        }
        float g;
        if (ct == CUDA_R_32F)
          std::memcpy(&g, &out[at * 4], 4);
        else {
          uint16_t e;
          std::memcpy(&e, &out[at * 2], 2);
          g = static_cast<float>(dec(ct, e));
        }
        got.push_back(g);
        ref.push_back(r);
      }
  const double rtol = ct == CUDA_R_32F ? 1e-5 : ct == CUDA_R_16F ? 2e-3 : 1e-2;
  parity::expect_close(what, got.data(), ref.data(), got.size(), ct == CUDA_R_32F ? 1e-4 : 1e-3, rtol);
}

}  // namespace

LMP_PARITY_CHECK(cublas_gemm_transposes) {
  parity::Rng rng = parity::rng();
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      gemm_case(rng, CUDA_R_16BF, CUDA_R_32F, ta, tb, 37, 19, 45, 0.75f, -0.5f, 1);
      gemm_case(rng, CUDA_R_32F, CUDA_R_32F, ta, tb, 20, 14, 33, 1.0f, 0.25f, 1);  // cublasSgemm
      gemm_case(rng, CUDA_R_32F, CUDA_R_32F, ta, tb, 21, 14, 33, -1.5f, 0.0f, 1);
    }
}

LMP_PARITY_CHECK(cublas_gemm_types) {
  parity::Rng rng = parity::rng();
  gemm_case(rng, CUDA_R_16BF, CUDA_R_16BF, false, true, 33, 17, 64, 1.0f, 0.0f, 1);
  gemm_case(rng, CUDA_R_16BF, CUDA_R_16BF, true, false, 16, 40, 24, 0.5f, 1.0f, 1);
  gemm_case(rng, CUDA_R_16F, CUDA_R_16F, false, false, 29, 31, 40, 1.0f, -1.0f, 1);
  gemm_case(rng, CUDA_R_16F, CUDA_R_32F, true, true, 8, 9, 70, 2.0f, 0.0f, 1);
  gemm_case(rng, CUDA_R_16BF, CUDA_R_32F, false, true, 13, 11, 1, 1.0f, 0.5f, 1);  // k = 1
}

LMP_PARITY_CHECK(cublas_gemm_strided_batched) {
  parity::Rng rng = parity::rng();
  gemm_case(rng, CUDA_R_16BF, CUDA_R_32F, false, true, 17, 9, 32, 1.0f, 0.0f, 3);
  gemm_case(rng, CUDA_R_16F, CUDA_R_16F, true, false, 12, 10, 20, 0.5f, 0.5f, 2);
  gemm_case(rng, CUDA_R_32F, CUDA_R_32F, true, true, 5, 7, 9, 1.0f, 1.0f, 4);
}

LMP_PARITY_CHECK(cublas_gemm_hand_cases) {
  Blas blas;
  // Column-major A = [1 2; 3 4] (A(0,1) = 2), B = [5 6; 7 8]: A B = [19 22; 43 50], A^T B = [26 30; 38 44].
  const std::vector<float> A = {1, 3, 2, 4}, B = {5, 7, 6, 8};
  DevVec<float> dA(A), dB(B), dC(4);
  const float one = 1, zero = 0;
  cublasSgemm(blas.h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, dA.p, 2, dB.p, 2, &zero, dC.p, 2);
  std::vector<float> c = dC.download();
  const float nn[4] = {19, 43, 22, 50};
  parity::expect_equal("2x2 NN by hand", c.data(), nn, 4);
  cublasSgemm(blas.h, CUBLAS_OP_T, CUBLAS_OP_N, 2, 2, 2, &one, dA.p, 2, dB.p, 2, &zero, dC.p, 2);
  c = dC.download();
  const float tn[4] = {26, 38, 30, 44};
  parity::expect_equal("2x2 TN by hand", c.data(), tn, 4);
  // Row-major X (2x3) times row-major Y (3x2) = Z (2x2) through column-major gemm: Z^T = Y^T X^T,
  // i.e. gemm(N, N, m = 2 (cols of Z), n = 2 (rows of Z), k = 3, Y, ldb = 2, X, lda = 3).
  const std::vector<float> X = {1, 2, 3, 4, 5, 6}, Y = {7, 8, 9, 10, 11, 12};
  DevVec<float> dX(X), dY(Y), dZ(4);
  cublasSgemm(blas.h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &one, dY.p, 2, dX.p, 3, &zero, dZ.p, 2);
  c = dZ.download();
  const float z[4] = {58, 64, 139, 154};  // row-major Z
  parity::expect_equal("row-major product by swapping the operands", c.data(), z, 4);
  // Invalid leading dimensions are refused.
  parity::expect(cublasSgemm(blas.h, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 2, &one, dA.p, 1, dB.p, 2, &zero, dC.p, 2) == CUBLAS_STATUS_INVALID_VALUE,
                 "lda < m refused");
}
#else
LMP_PARITY_CHECK_GPU(cublas_available) { lmp::parity::expect(false, "cublas_v2.h was not found when this binary was built"); }
#endif
