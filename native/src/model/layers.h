// Layer kernels of the Llama-style model (fp32, threaded, deterministic reductions).
// Pure C++: no N-API, so a CUDA port can mirror these signatures. Every function validates
// what a caller can get wrong (token ids, sizes) and throws lmp::Error with a code.
// Reductions across rows (dW of RMSNorm, the embedding scatter-add, sums of squares) use a
// fixed partition that does not depend on the thread count, so results are bit-identical
// across runs and across thread counts.
#pragma once
#include <cstddef>
#include <cstdint>

namespace lmp {
namespace model {

// out[t, :] = table[tokens[t], :]
void embedding_forward(const float* table, int64_t vocab, int64_t dim, const int32_t* tokens, int64_t n, float* out);
// dtable[tokens[t], :] += dout[t, :]  (tokens in order per column: deterministic)
void embedding_backward(const float* dout, const int32_t* tokens, int64_t n, int64_t vocab, int64_t dim, float* dtable);

// y = x * rstd * w, rstd = 1/sqrt(mean(x^2) + eps); rstd saved per row.
void rmsnorm_forward(const float* x, const float* w, int64_t rows, int64_t dim, float eps, float* y, float* rstd);
// dx (= or += when accumulate) and dw += .
void rmsnorm_backward(const float* dy, const float* x, const float* w, const float* rstd, int64_t rows, int64_t dim,
                      float* dx, bool accumulate_dx, float* dw);

// h = silu(g) * u
void swiglu_forward(const float* g, const float* u, int64_t n, float* h);
void swiglu_backward(const float* g, const float* u, const float* dh, int64_t n, float* dg, float* du);

// y += x
void add_inplace(float* y, const float* x, int64_t n);

// Fused softmax cross-entropy over rows of logits [rows, vocab]. weight[r] (0 = ignored;
// targets < 0 are ignored too). loss[r] = weight[r] * (lse - logit[target]). If dlogits is
// non-null it receives weight[r] * scale * (softmax - onehot) (may alias logits).
void cross_entropy(const float* logits, int64_t rows, int64_t vocab, const int32_t* targets, const float* weight,
                   float scale, float* loss, float* dlogits);

// RoPE (Hugging Face Llama "rotate_half" convention) in place over x [n, heads, head_dim]:
// pairs (i, i + head_dim/2) rotated by positions[t] * theta^(-2i/head_dim); inverse rotates back
// (the backward of the forward rotation).
void rope(float* x, int64_t n, int64_t heads, int64_t head_dim, const int32_t* positions, double theta, bool inverse);

// AdamW with decoupled weight decay and bias correction; grad is multiplied by grad_scale first
// (global-norm clipping). step is 1-based.
void adamw(float* p, const float* g, float* m, float* v, int64_t n, double lr, double beta1, double beta2, double eps,
           double weight_decay, int64_t step, double grad_scale);

// sum(x^2) in double, fixed block order.
double sum_squares(const float* x, int64_t n);

// Reference attention over packed sequences (causal / any dense mask), q [Tq, H, D],
// k/v [Tk, KH, D] (GQA: head h reads kv head h / (H / KH)). seq s has query rows
// [cu_q[s], cu_q[s+1]) and key rows [cu_k[s], cu_k[s+1]); mask holds, per sequence in order,
// a dense Lq x Lk row-major block (1 = visible). out [Tq, H, D], lse [Tq, H] (natural log;
// -inf and out = 0 for a row with nothing visible).
struct AttnShape {
  int64_t tq, tk, heads, kv_heads, head_dim, nseq;
  const int32_t* cu_q;
  const int32_t* cu_k;
  const uint8_t* mask;
  size_t mask_len;
  float scale;
};
void attention_check(const AttnShape& s);
void attention_forward(const AttnShape& s, const float* q, const float* k, const float* v, float* out, float* lse);
void attention_backward(const AttnShape& s, const float* q, const float* k, const float* v, const float* out,
                        const float* lse, const float* dout, float* dq, float* dk, float* dv);

}  // namespace model
}  // namespace lmp
