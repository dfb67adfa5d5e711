// Single-precision GEMM with our own register-blocked, cache-tiled micro-kernel.
//
//   C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C
//
// op(A) = A (row-major M x K, leading dimension lda) or A^T (A stored K x M); the same for B.
// Leading dimensions allow strided views (e.g. one head of a [tokens, heads, headDim] tensor).
// beta == 0 ignores C's previous contents (NaNs included). Threaded with core parallel_for;
// each element of C is produced by one thread summing K in a fixed order, so results do not
// depend on the thread count. force_scalar() selects a plain loop path. No N-API here.
#pragma once
#include <cstddef>
#include <cstdint>

namespace lmp {

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// C[M,N] = alpha * A[M,K] * B^T + beta * C (B stored N x K: a weight) for M <= kRowsMax by the
// decoding path: each row of C gets exactly the bits of the same call with M = 1 (sgemm takes that
// path for M <= 4 only), so a batch of sequences decodes as each alone (runtime/model/batch.ts).
constexpr int64_t kRowsMax = 16;
void sgemm_rows_bt(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                   float* C, int64_t ldc);

// Validates sizes/leading dimensions against buffer lengths (elements); throws lmp::Error.
void sgemm_check(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, size_t a_len, int64_t lda,
                 size_t b_len, int64_t ldb, size_t c_len, int64_t ldc);

}  // namespace lmp
