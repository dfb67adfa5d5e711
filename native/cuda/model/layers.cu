// The model's layer kernels on CUDA, each the mirror of its CPU kernel in native/src/model/layers.cc
// (embedding, RMSNorm, SwiGLU, fused cross-entropy) or native/src/attention/attention.cc (rope with
// given frequencies and mscale): same formulas and constants; float64 where the CPU sums in float64.
// One block of 256 threads per row for the row kernels; grid-stride loops for the elementwise ones.
#include "common/device.cuh"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "model/internal.cuh"

namespace lmp {
namespace cuda {
namespace model {
namespace {

constexpr int64_t kMaxGrid = 0x7fffffff;
constexpr int64_t kRowBlocks = 64;  // RMSNorm dw: the CPU's fixed partition (layers.cc kRowBlocks)

void need_rows(int64_t rows, const char* what) {
  if (rows < 0 || rows > kMaxGrid) fail("LMP_E_SHAPE", std::string(what) + ": row count outside [0, 2^31)");
}

std::string token_message(int32_t id, int64_t t, int64_t vocab) {
  return "token id " + std::to_string(id) + " at " + std::to_string(t) + " is outside [0, " + std::to_string(vocab) + ")";
}

// ---------------------------------------------------------------- embedding

template <typename TT, typename TO>
__global__ void embedding_fwd_k(const TT* __restrict__ table, int64_t vocab, int64_t dim, const int32_t* __restrict__ tokens,
                                int64_t n, TO* __restrict__ out, int* __restrict__ bad) {
  const int64_t t = blockIdx.x;
  const int32_t id = tokens[t];
  TO* o = out + t * dim;
  if (id < 0 || id >= vocab) {
    if (threadIdx.x == 0) atomicMax(bad, static_cast<int>(n - t));  // the largest n - t: the first bad t
    for (int64_t c = threadIdx.x; c < dim; c += kThreads) st(o, c, 0.f);
    return;
  }
  const TT* row = table + static_cast<int64_t>(id) * dim;
  for (int64_t c = threadIdx.x; c < dim; c += kThreads) st(o, c, ld(row, c));
}

// Block (u, column chunk): dtable[ids[u], c] += dout[positions[i], c] for i in [off[u], off[u+1]), in order.
template <typename TD>
__global__ void embedding_bwd_k(const TD* __restrict__ dout, const int32_t* __restrict__ ids, const int32_t* __restrict__ off,
                                const int32_t* __restrict__ pos, int64_t n, int64_t vocab, int64_t dim, float* __restrict__ dtable,
                                int* __restrict__ bad) {
  const int64_t u = blockIdx.x;
  const int64_t c = blockIdx.y * static_cast<int64_t>(kThreads) + threadIdx.x;
  const int32_t id = ids[u];
  const int32_t b = off[u], e = off[u + 1];
  if (id < 0 || id >= vocab || b < 0 || e < b || e > n) {  // a malformed index: never write outside
    if (threadIdx.x == 0) atomicMax(bad, 1);
    return;
  }
  if (c >= dim) return;
  float* dst = dtable + static_cast<int64_t>(id) * dim + c;
  float acc = *dst;
  for (int32_t i = b; i < e; ++i) {
    const int32_t t = pos[i];
    if (t < 0 || t >= n) {
      atomicMax(bad, 1);
      return;
    }
    acc += ld(dout, static_cast<int64_t>(t) * dim + c);
  }
  *dst = acc;
}

// ---------------------------------------------------------------- RMSNorm

template <typename TX, typename TY>
__global__ void rmsnorm_fwd_k(const TX* __restrict__ x, const float* __restrict__ w, int64_t dim, float eps, TY* __restrict__ y,
                              float* __restrict__ rstd) {
  __shared__ double sh[kThreads];
  const int64_t r = blockIdx.x;
  const TX* xr = x + r * dim;
  double ss = 0.0;
  for (int64_t c = threadIdx.x; c < dim; c += kThreads) {
    const double v = ld(xr, c);
    ss += v * v;
  }
  ss = block_sum(ss, sh);
  const float rs = static_cast<float>(1.0 / sqrt(ss / static_cast<double>(dim) + static_cast<double>(eps)));
  if (threadIdx.x == 0) rstd[r] = rs;
  TY* yr = y + r * dim;
  for (int64_t c = threadIdx.x; c < dim; c += kThreads) st(yr, c, ld(xr, c) * rs * w[c]);
}

// dx per row: k = sum(dy w x) rs^3 / dim (float64 sum), dx = dy w rs - x k.
template <typename TD, typename TX>
__global__ void rmsnorm_bwd_dx_k(const TD* __restrict__ dy, const TX* __restrict__ x, const float* __restrict__ w,
                                 const float* __restrict__ rstd, int64_t dim, float* __restrict__ dx, bool accumulate) {
  __shared__ double sh[kThreads];
  const int64_t r = blockIdx.x;
  const TD* dyr = dy + r * dim;
  const TX* xr = x + r * dim;
  float* dxr = dx + r * dim;
  const float rs = rstd[r];
  double dot = 0.0;
  for (int64_t c = threadIdx.x; c < dim; c += kThreads)
    dot += static_cast<double>(ld(dyr, c)) * static_cast<double>(w[c]) * static_cast<double>(ld(xr, c));
  dot = block_sum(dot, sh);
  const float k = static_cast<float>(dot * rs * rs * rs / static_cast<double>(dim));
  for (int64_t c = threadIdx.x; c < dim; c += kThreads) {
    const float g = ld(dyr, c) * w[c] * rs - ld(xr, c) * k;
    dxr[c] = accumulate ? dxr[c] + g : g;
  }
}

// part[blk, c] = sum over the rows of block blk, in order, of dy x rs (the CPU's partition and order).
template <typename TD, typename TX>
__global__ void rmsnorm_bwd_dw_part_k(const TD* __restrict__ dy, const TX* __restrict__ x, const float* __restrict__ rstd,
                                      int64_t rows, int64_t dim, int64_t nb, float* __restrict__ part) {
  const int64_t blk = blockIdx.x;
  const int64_t c = blockIdx.y * static_cast<int64_t>(kThreads) + threadIdx.x;
  if (c >= dim) return;
  const int64_t r0 = rows * blk / nb, r1 = rows * (blk + 1) / nb;
  float acc = 0.f;
  for (int64_t r = r0; r < r1; ++r) acc += ld(dy, r * dim + c) * ld(x, r * dim + c) * rstd[r];
  part[blk * dim + c] = acc;
}

__global__ void rmsnorm_bwd_dw_sum_k(const float* __restrict__ part, int64_t nb, int64_t dim, float* __restrict__ dw) {
  for (int64_t c = blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x; c < dim; c += static_cast<int64_t>(gridDim.x) * kThreads) {
    float acc = dw[c];
    for (int64_t blk = 0; blk < nb; ++blk) acc += part[blk * dim + c];
    dw[c] = acc;
  }
}

// ---------------------------------------------------------------- LM-Infinite: two attention calls combined

template <typename T>
__global__ void attn_combine_k(const T* __restrict__ oa, const float* __restrict__ la, const T* __restrict__ ob,
                               const float* __restrict__ lb, int64_t rows, int64_t hd, T* out, float* lse) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < rows * hd; i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / hd;
    const float a = la[r], b = lb[r], m = fmaxf(a, b);
    float v = 0.f, z = 0.f;
    if (m != -INFINITY) {
      const float wa = expf(a - m), wb = expf(b - m);
      z = wa + wb;
      v = (wa * ld(oa, i) + wb * ld(ob, i)) / z;
    }
    st(out, i, v);
    // (other threads of the row read la[r], lb[r]: lse must not alias them)
    if (i % hd == hd - 1) lse[r] = m == -INFINITY ? -INFINITY : m + logf(z);
  }
}

// ---------------------------------------------------------------- SwiGLU (layers.cc, std::exp path)

template <typename T>
__global__ void swiglu_fwd_k(const T* __restrict__ g, const T* __restrict__ u, T* __restrict__ h, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float gi = ld(g, i);
    const float s = 1.f / (1.f + expf(-gi));
    st(h, i, gi * s * ld(u, i));
  }
}

template <typename T>
__global__ void swiglu_bwd_k(const T* __restrict__ g, const T* __restrict__ u, const T* __restrict__ dh, T* __restrict__ dg,
                             T* __restrict__ du, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float gi = ld(g, i), ui = ld(u, i), d = ld(dh, i);
    const float s = 1.f / (1.f + expf(-gi));
    const float silu = gi * s;
    st(dg, i, d * ui * (s * (1.f + gi * (1.f - s))));
    st(du, i, d * silu);
  }
}

// ---------------------------------------------------------------- cross-entropy

// One block per row. lse = m + log(sum exp(l - m)) with the sum in float64; loss = w (lse - l[t]);
// dlogits = w scale softmax, minus w scale at the target. dl may alias logits: every read of the
// row (the target logit, both passes) happens before the first write (block_sum's barriers).
template <typename TL, typename TD>
__global__ void cross_entropy_k(const TL* logits, int64_t vocab, const int32_t* __restrict__ targets, const float* __restrict__ weight,
                                float scale, float* __restrict__ loss, TD* dl, int64_t rows, int* __restrict__ bad) {
  __shared__ double shd[kThreads];
  __shared__ float shf[kThreads];
  const int64_t r = blockIdx.x;
  const TL* lr = logits + r * vocab;
  const int32_t t = targets[r];
  if (t >= vocab) {
    if (threadIdx.x == 0) {
      atomicMax(bad, static_cast<int>(rows - r));
      loss[r] = 0.f;
    }
    return;
  }
  const float wgt = t < 0 ? 0.f : weight[r];
  const float lt = t >= 0 ? ld(lr, t) : 0.f;
  float m = -INFINITY;
  for (int64_t j = threadIdx.x; j < vocab; j += kThreads) m = fmaxf(m, ld(lr, j));
  m = block_max(m, shf);
  double s = 0.0;
  for (int64_t j = threadIdx.x; j < vocab; j += kThreads) s += static_cast<double>(expf(ld(lr, j) - m));
  s = block_sum(s, shd);
  const double lse = static_cast<double>(m) + log(s);
  if (threadIdx.x == 0) loss[r] = wgt == 0.f ? 0.f : static_cast<float>(static_cast<double>(wgt) * (lse - static_cast<double>(lt)));
  if (!dl) return;
  TD* dr = dl + r * vocab;
  const float c = wgt * scale;
  if (c == 0.f) {
    for (int64_t j = threadIdx.x; j < vocab; j += kThreads) st(dr, j, 0.f);
    return;
  }
  const float inv_s = static_cast<float>(1.0 / s);
  for (int64_t j = threadIdx.x; j < vocab; j += kThreads) {
    float d = c * (expf(ld(lr, j) - m) * inv_s);
    if (j == t) d -= c;
    st(dr, j, d);
  }
}

// ---------------------------------------------------------------- RoPE

// One block per token: cos/sin of the token's angles into shared memory (float64 angle, rounded to
// float, times mscale), then every (head, pair) of the token.
template <typename T>
__global__ void rope_k(T* __restrict__ x, int64_t heads, int64_t head_dim, const int32_t* __restrict__ positions,
                       const double* __restrict__ inv_freq, float mscale, bool inverse) {
  LMP_DYNAMIC_SMEM(float, cs);
  const int64_t t = blockIdx.x, half = head_dim / 2;
  float* sn = cs + half;
  const double p = static_cast<double>(positions[t]);
  for (int64_t i = threadIdx.x; i < half; i += kThreads) {
    const double a = p * inv_freq[i];
    cs[i] = static_cast<float>(cos(a)) * mscale;
    const double sa = sin(a);
    sn[i] = static_cast<float>(inverse ? -sa : sa) * mscale;
  }
  __syncthreads();
  T* xt = x + t * heads * head_dim;
  for (int64_t k = threadIdx.x; k < heads * half; k += kThreads) {
    const int64_t h = k / half, i = k - h * half;
    T* xh = xt + h * head_dim;
    const float a = ld(xh, i), b = ld(xh, i + half);
    st(xh, i, a * cs[i] - b * sn[i]);
    st(xh, i + half, b * cs[i] + a * sn[i]);
  }
  if (head_dim % 2)
    for (int64_t h = threadIdx.x; h < heads; h += kThreads) st(xt + h * head_dim, head_dim - 1, ld(xt + h * head_dim, head_dim - 1) * mscale);
}

}  // namespace

// ------------------------------------------------------------------------------ host entry points

void embedding_forward(const Tensor& table, int64_t vocab, int64_t dim, const Tensor& tokens, const Tensor& out) {
  if (vocab < 1 || dim < 1) fail("LMP_E_SHAPE", "embedding: vocab and dim must be >= 1");
  need_float(table, "table");
  need_float(out, "out");
  need_dtype(tokens, "tokens", DType::I32);
  const int64_t n = tokens.numel;
  need_rows(n, "embedding");
  need(table, "table", vocab * dim);
  need(tokens, "tokens", n);
  need(out, "out", n * dim);
  if (n == 0) return;
  Context& c = ctx();
  reset_flag();
  with_float_type(table.dtype, [&](auto a) {
    with_float_type(out.dtype, [&](auto b) {
      using TT = decltype(a);
      using TO = decltype(b);
      check_cuda(cu::launch(embedding_fwd_k<TT, TO>, dim3(static_cast<unsigned>(n)), dim3(kThreads), 0, c.stream,
                            static_cast<const TT*>(table.data), vocab, dim, static_cast<const int32_t*>(tokens.data), n,
                            static_cast<TO*>(out.data), c.flag),
                 "embedding_forward");
    });
  });
  const int64_t bad = read_flag(n);
  if (bad >= 0) {
    int32_t id = 0;
    download(&id, tokens, sizeof(id), static_cast<size_t>(bad) * sizeof(int32_t));
    fail("LMP_E_TOKEN", token_message(id, bad, vocab));
  }
}

std::vector<int32_t> embedding_index(const int32_t* tokens, int64_t n, int64_t vocab) {
  if (n < 0 || n > kMaxGrid) fail("LMP_E_SHAPE", "embedding index: token count outside [0, 2^31)");
  for (int64_t t = 0; t < n; ++t)
    if (tokens[t] < 0 || tokens[t] >= vocab) fail("LMP_E_TOKEN", token_message(tokens[t], t, vocab));
  std::vector<int32_t> order(static_cast<size_t>(n));
  for (int64_t t = 0; t < n; ++t) order[t] = static_cast<int32_t>(t);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return tokens[a] < tokens[b]; });
  std::vector<int32_t> ids, off;
  for (int64_t i = 0; i < n; ++i)
    if (i == 0 || tokens[order[i]] != tokens[order[i - 1]]) {
      ids.push_back(tokens[order[i]]);
      off.push_back(static_cast<int32_t>(i));
    }
  off.push_back(static_cast<int32_t>(n));
  std::vector<int32_t> out;
  out.reserve(ids.size() + off.size() + order.size());
  out.insert(out.end(), ids.begin(), ids.end());
  out.insert(out.end(), off.begin(), off.end());
  out.insert(out.end(), order.begin(), order.end());
  return out;
}

void embedding_backward(const Tensor& dout, const Tensor& index, int64_t n, int64_t vocab, int64_t dim, const Tensor& dtable) {
  if (vocab < 1 || dim < 1) fail("LMP_E_SHAPE", "embedding: vocab and dim must be >= 1");
  need_rows(n, "embedding backward");
  need_float(dout, "dout");
  need_dtype(index, "index", DType::I32);
  need_dtype(dtable, "dtable", DType::F32);
  need(dout, "dout", n * dim);
  need(dtable, "dtable", vocab * dim);
  const int64_t rest = index.numel - 1 - n;  // 2U
  if (rest < 0 || rest % 2)
    fail("LMP_E_SHAPE", "embedding index has " + std::to_string(index.numel) + " entries, not 2U + 1 + n (n = " + std::to_string(n) + ")");
  const int64_t U = rest / 2;
  if (U == 0) return;
  Context& c = ctx();
  reset_flag();
  const int32_t* ix = static_cast<const int32_t*>(index.data);
  const int64_t chunks = (dim + kThreads - 1) / kThreads;
  if (chunks > 65535) fail("LMP_E_SHAPE", "embedding backward: dim too large");
  with_float_type(dout.dtype, [&](auto a) {
    using TD = decltype(a);
    check_cuda(cu::launch(embedding_bwd_k<TD>, dim3(static_cast<unsigned>(U), static_cast<unsigned>(chunks)), dim3(kThreads), 0, c.stream,
                          static_cast<const TD*>(dout.data), ix, ix + U, ix + 2 * U + 1, n, vocab, dim, static_cast<float*>(dtable.data),
                          c.flag),
               "embedding_backward");
  });
  if (read_flag(1) >= 0) fail("LMP_E_SHAPE", "embedding backward: the index is not embedding_index() of these tokens");
}

void rmsnorm_forward(const Tensor& x, const Tensor& w, int64_t rows, int64_t dim, float eps, const Tensor& y, const Tensor& rstd) {
  if (dim < 1) fail("LMP_E_SHAPE", "rmsnorm: dim must be >= 1");
  need_rows(rows, "rmsnorm");
  need_float(x, "x");
  need_float(y, "y");
  need_dtype(w, "w", DType::F32);
  need_dtype(rstd, "rstd", DType::F32);
  need(x, "x", rows * dim);
  need(y, "y", rows * dim);
  need(w, "w", dim);
  need(rstd, "rstd", rows);
  if (rows == 0) return;
  Context& c = ctx();
  with_float_type(x.dtype, [&](auto a) {
    with_float_type(y.dtype, [&](auto b) {
      using TX = decltype(a);
      using TY = decltype(b);
      check_cuda(cu::launch(rmsnorm_fwd_k<TX, TY>, dim3(static_cast<unsigned>(rows)), dim3(kThreads), 0, c.stream,
                            static_cast<const TX*>(x.data), static_cast<const float*>(w.data), dim, eps, static_cast<TY*>(y.data),
                            static_cast<float*>(rstd.data)),
                 "rmsnorm_forward");
    });
  });
}

void rmsnorm_backward(const Tensor& dy, const Tensor& x, const Tensor& w, const Tensor& rstd, int64_t rows, int64_t dim,
                      const Tensor& dx, bool accumulate_dx, const Tensor& dw) {
  if (dim < 1) fail("LMP_E_SHAPE", "rmsnorm: dim must be >= 1");
  need_rows(rows, "rmsnorm");
  need_float(dy, "dy");
  need_float(x, "x");
  need_dtype(w, "w", DType::F32);
  need_dtype(rstd, "rstd", DType::F32);
  need_dtype(dx, "dx", DType::F32);
  need_dtype(dw, "dw", DType::F32);
  need(dy, "dy", rows * dim);
  need(x, "x", rows * dim);
  need(dx, "dx", rows * dim);
  need(w, "w", dim);
  need(dw, "dw", dim);
  need(rstd, "rstd", rows);
  if (rows == 0) return;
  const int64_t chunks = (dim + kThreads - 1) / kThreads;
  if (chunks > 65535) fail("LMP_E_SHAPE", "rmsnorm: dim too large");
  Context& c = ctx();
  const int64_t nb = std::min<int64_t>(kRowBlocks, rows);
  float* part = static_cast<float*>(workspace(static_cast<size_t>(nb * dim) * sizeof(float)));
  with_float_type(dy.dtype, [&](auto a) {
    with_float_type(x.dtype, [&](auto b) {
      using TD = decltype(a);
      using TX = decltype(b);
      const TD* dyp = static_cast<const TD*>(dy.data);
      const TX* xp = static_cast<const TX*>(x.data);
      const float* rp = static_cast<const float*>(rstd.data);
      check_cuda(cu::launch(rmsnorm_bwd_dx_k<TD, TX>, dim3(static_cast<unsigned>(rows)), dim3(kThreads), 0, c.stream, dyp, xp,
                            static_cast<const float*>(w.data), rp, dim, static_cast<float*>(dx.data), accumulate_dx),
                 "rmsnorm_backward (dx)");
      check_cuda(cu::launch(rmsnorm_bwd_dw_part_k<TD, TX>, dim3(static_cast<unsigned>(nb), static_cast<unsigned>(chunks)), dim3(kThreads), 0,
                            c.stream, dyp, xp, rp, rows, dim, nb, part),
                 "rmsnorm_backward (dw)");
    });
  });
  check_cuda(cu::launch(rmsnorm_bwd_dw_sum_k, dim3(grid_for(dim)), dim3(kThreads), 0, c.stream, static_cast<const float*>(part), nb, dim,
                        static_cast<float*>(dw.data)),
             "rmsnorm_backward (dw sum)");
}

void attn_combine(const Tensor& oa, const Tensor& la, const Tensor& ob, const Tensor& lb, int64_t rows, int64_t head_dim,
                  const Tensor& out, const Tensor& lse) {
  need_float(oa, "oa");
  need_dtype(ob, "ob", oa.dtype);
  need_dtype(out, "out", oa.dtype);
  for (const Tensor* t : {&la, &lb, &lse}) need_dtype(*t, "lse", DType::F32);
  for (const Tensor* t : {&oa, &ob, &out}) need(*t, "attention output", rows * head_dim);
  for (const Tensor* t : {&la, &lb, &lse}) need(*t, "lse", rows);
  if (rows * head_dim == 0) return;
  Context& c = ctx();
  with_float_type(oa.dtype, [&](auto a) {
    using T = decltype(a);
    check_cuda(cu::launch(attn_combine_k<T>, dim3(grid_for(rows * head_dim)), dim3(kThreads), 0, c.stream, static_cast<const T*>(oa.data),
                          static_cast<const float*>(la.data), static_cast<const T*>(ob.data), static_cast<const float*>(lb.data), rows,
                          head_dim, static_cast<T*>(out.data), static_cast<float*>(lse.data)),
               "attn_combine");
  });
}

void swiglu_forward(const Tensor& g, const Tensor& u, const Tensor& h) {
  need_float(g, "g");
  need_dtype(u, "u", g.dtype);
  need_dtype(h, "h", g.dtype);
  need(u, "u", g.numel);
  need(h, "h", g.numel);
  need(g, "g", g.numel);
  if (g.numel == 0) return;
  Context& c = ctx();
  with_float_type(g.dtype, [&](auto a) {
    using T = decltype(a);
    check_cuda(cu::launch(swiglu_fwd_k<T>, dim3(grid_for(g.numel)), dim3(kThreads), 0, c.stream, static_cast<const T*>(g.data),
                          static_cast<const T*>(u.data), static_cast<T*>(h.data), g.numel),
               "swiglu_forward");
  });
}

void swiglu_backward(const Tensor& g, const Tensor& u, const Tensor& dh, const Tensor& dg, const Tensor& du) {
  need_float(g, "g");
  for (const Tensor* t : {&u, &dh, &dg, &du}) {
    need_dtype(*t, "swiglu tensor", g.dtype);
    need(*t, "swiglu tensor", g.numel);
  }
  need(g, "g", g.numel);
  if (g.numel == 0) return;
  Context& c = ctx();
  with_float_type(g.dtype, [&](auto a) {
    using T = decltype(a);
    check_cuda(cu::launch(swiglu_bwd_k<T>, dim3(grid_for(g.numel)), dim3(kThreads), 0, c.stream, static_cast<const T*>(g.data),
                          static_cast<const T*>(u.data), static_cast<const T*>(dh.data), static_cast<T*>(dg.data), static_cast<T*>(du.data),
                          g.numel),
               "swiglu_backward");
  });
}

void cross_entropy(const Tensor& logits, int64_t rows, int64_t vocab, const Tensor& targets, const Tensor& weight, float scale,
                   const Tensor& loss, const Tensor* dlogits) {
  if (vocab < 1) fail("LMP_E_SHAPE", "cross_entropy: vocab must be >= 1");
  need_rows(rows, "cross_entropy");
  need_float(logits, "logits");
  need_dtype(targets, "targets", DType::I32);
  need_dtype(weight, "weight", DType::F32);
  need_dtype(loss, "loss", DType::F32);
  need(logits, "logits", rows * vocab);
  need(targets, "targets", rows);
  need(weight, "weight", rows);
  need(loss, "loss", rows);
  if (dlogits) {
    need_dtype(*dlogits, "dlogits", logits.dtype);
    need(*dlogits, "dlogits", rows * vocab);
  }
  if (rows == 0) return;
  Context& c = ctx();
  reset_flag();
  with_float_type(logits.dtype, [&](auto a) {
    using T = decltype(a);
    check_cuda(cu::launch(cross_entropy_k<T, T>, dim3(static_cast<unsigned>(rows)), dim3(kThreads), 0, c.stream, static_cast<const T*>(logits.data),
                          vocab, static_cast<const int32_t*>(targets.data), static_cast<const float*>(weight.data), scale,
                          static_cast<float*>(loss.data), dlogits ? static_cast<T*>(dlogits->data) : static_cast<T*>(nullptr), rows, c.flag),
               "cross_entropy");
  });
  const int64_t bad = read_flag(rows);
  if (bad >= 0) {
    int32_t t = 0;
    download(&t, targets, sizeof(t), static_cast<size_t>(bad) * sizeof(int32_t));
    fail("LMP_E_TOKEN", "target " + std::to_string(t) + " at row " + std::to_string(bad) + " >= vocab " + std::to_string(vocab));
  }
}

std::vector<double> rope_inv_freq(int64_t head_dim, double theta) {
  std::vector<double> f(static_cast<size_t>(std::max<int64_t>(head_dim / 2, 0)));
  for (size_t i = 0; i < f.size(); ++i) f[i] = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
  return f;
}

void rope(const Tensor& x, int64_t n, int64_t heads, int64_t head_dim, const Tensor& positions, const Tensor& inv_freq, float mscale,
          bool inverse) {
  if (heads < 1 || head_dim < 2) fail("LMP_E_SHAPE", "rope: heads must be >= 1 and head_dim >= 2");
  need_rows(n, "rope");
  need_float(x, "x");
  need_dtype(positions, "positions", DType::I32);
  need_dtype(inv_freq, "inv_freq", DType::F64);
  need(x, "x", n * heads * head_dim);
  need(positions, "positions", n);
  need(inv_freq, "inv_freq", head_dim / 2);
  if (n == 0) return;
  Context& c = ctx();
  const size_t smem = static_cast<size_t>(head_dim / 2) * 2 * sizeof(float);
  if (smem > 48 * 1024) fail("LMP_E_SHAPE", "rope: head_dim too large");
  with_float_type(x.dtype, [&](auto a) {
    using T = decltype(a);
    check_cuda(cu::launch(rope_k<T>, dim3(static_cast<unsigned>(n)), dim3(kThreads), smem, c.stream, static_cast<T*>(x.data), heads, head_dim,
                          static_cast<const int32_t*>(positions.data), static_cast<const double*>(inv_freq.data), mscale, inverse),
               "rope");
  });
}

}  // namespace model
}  // namespace cuda
}  // namespace lmp
