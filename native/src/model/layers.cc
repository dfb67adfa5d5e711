#include "model/layers.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/status.h"
#include "core/fexp.h"
#include "core/threadpool.h"
#include "model/gemm.h"

namespace lmp {
namespace model {
namespace {

void check_tokens(const int32_t* tokens, int64_t n, int64_t vocab) {
  for (int64_t t = 0; t < n; ++t)
    if (tokens[t] < 0 || tokens[t] >= vocab)
      fail("LMP_E_TOKEN", "token id " + std::to_string(tokens[t]) + " at " + std::to_string(t) + " is outside [0, " +
                              std::to_string(vocab) + ")");
}

constexpr int64_t kRowBlocks = 64;  // fixed partition for row reductions

}  // namespace

void embedding_forward(const float* table, int64_t vocab, int64_t dim, const int32_t* tokens, int64_t n, float* out) {
  check_tokens(tokens, n, vocab);
  parallel_for(static_cast<size_t>(n), [&](size_t b, size_t e, int) {
    for (size_t t = b; t < e; ++t)
      std::copy(table + static_cast<int64_t>(tokens[t]) * dim, table + (static_cast<int64_t>(tokens[t]) + 1) * dim,
                out + t * dim);
  }, 64);
}

void embedding_backward(const float* dout, const int32_t* tokens, int64_t n, int64_t vocab, int64_t dim, float* dtable) {
  check_tokens(tokens, n, vocab);
  // Column blocks of 16: each column sums tokens in order, so any thread split is deterministic.
  const int64_t cb = 16, blocks = (dim + cb - 1) / cb;
  parallel_for(static_cast<size_t>(blocks), [&](size_t b, size_t e, int) {
    for (size_t blk = b; blk < e; ++blk) {
      const int64_t c0 = static_cast<int64_t>(blk) * cb, c1 = std::min(dim, c0 + cb);
      for (int64_t t = 0; t < n; ++t) {
        float* dst = dtable + static_cast<int64_t>(tokens[t]) * dim;
        const float* src = dout + t * dim;
        for (int64_t c = c0; c < c1; ++c) dst[c] += src[c];
      }
    }
  });
}

void rmsnorm_forward(const float* x, const float* w, int64_t rows, int64_t dim, float eps, float* y, float* rstd) {
  const bool scalar = force_scalar();
  parallel_for(static_cast<size_t>(rows), [&](size_t b, size_t e, int) {
    for (size_t r = b; r < e; ++r) {
      const float* xr = x + r * dim;
      float* yr = y + r * dim;
      double ss = 0.0;
      if (scalar) {
        for (int64_t c = 0; c < dim; ++c) ss += static_cast<double>(xr[c]) * xr[c];
      } else {
        float s8[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int64_t c = 0;
        for (; c + 8 <= dim; c += 8)
          for (int j = 0; j < 8; ++j) s8[j] += xr[c + j] * xr[c + j];
        for (int j = 0; j < 8; ++j) ss += s8[j];
        for (; c < dim; ++c) ss += static_cast<double>(xr[c]) * xr[c];
      }
      const float rs = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(dim) + eps));
      rstd[r] = rs;
      for (int64_t c = 0; c < dim; ++c) yr[c] = xr[c] * rs * w[c];
    }
  }, 16);
}

void rmsnorm_backward(const float* dy, const float* x, const float* w, const float* rstd, int64_t rows, int64_t dim,
                      float* dx, bool accumulate_dx, float* dw) {
  const int64_t nb = std::min<int64_t>(kRowBlocks, std::max<int64_t>(rows, 1));
  std::vector<float> part(static_cast<size_t>(nb * dim), 0.f);
  parallel_for(static_cast<size_t>(nb), [&](size_t b, size_t e, int) {
    for (size_t blk = b; blk < e; ++blk) {
      float* pw = part.data() + blk * dim;
      const int64_t r0 = rows * static_cast<int64_t>(blk) / nb, r1 = rows * (static_cast<int64_t>(blk) + 1) / nb;
      for (int64_t r = r0; r < r1; ++r) {
        const float* xr = x + r * dim;
        const float* dyr = dy + r * dim;
        float* dxr = dx + r * dim;
        const float rs = rstd[r];
        double dot = 0.0;  // sum(dy * w * x)
        for (int64_t c = 0; c < dim; ++c) dot += static_cast<double>(dyr[c]) * w[c] * xr[c];
        const float k = static_cast<float>(dot * rs * rs * rs / static_cast<double>(dim));
        for (int64_t c = 0; c < dim; ++c) {
          const float g = dyr[c] * w[c] * rs - xr[c] * k;
          dxr[c] = accumulate_dx ? dxr[c] + g : g;
          pw[c] += dyr[c] * xr[c] * rs;
        }
      }
    }
  });
  for (int64_t blk = 0; blk < nb; ++blk)
    for (int64_t c = 0; c < dim; ++c) dw[c] += part[blk * dim + c];
}

// SwiGLU: the SIMD path takes core/fexp.h's branch-free polynomial exp (relative error ~2e-7),
// which GCC vectorizes; libm's scalar exp per element was most of the MLP's elementwise time (a
// training step calls it 2 x layers x T x ffn times). force_scalar() keeps std::exp.
template <bool FAST>
void swiglu_forward_t(const float* g, const float* u, size_t b, size_t e, float* h) {
  for (size_t i = b; i < e; ++i) {
    const float s = 1.f / (1.f + (FAST ? fexp(-g[i]) : std::exp(-g[i])));
    h[i] = g[i] * s * u[i];
  }
}
template <bool FAST>
void swiglu_backward_t(const float* g, const float* u, const float* dh, size_t b, size_t e, float* dg, float* du) {
  for (size_t i = b; i < e; ++i) {
    const float s = 1.f / (1.f + (FAST ? fexp(-g[i]) : std::exp(-g[i])));
    const float silu = g[i] * s;
    const float d = dh[i];
    dg[i] = d * u[i] * (s * (1.f + g[i] * (1.f - s)));
    du[i] = d * silu;
  }
}

void swiglu_forward(const float* g, const float* u, int64_t n, float* h) {
  const bool scalar = force_scalar();
  parallel_for(static_cast<size_t>(n), [&](size_t b, size_t e, int) {
    if (scalar) swiglu_forward_t<false>(g, u, b, e, h);
    else swiglu_forward_t<true>(g, u, b, e, h);
  }, 4096);
}

void swiglu_backward(const float* g, const float* u, const float* dh, int64_t n, float* dg, float* du) {
  const bool scalar = force_scalar();
  parallel_for(static_cast<size_t>(n), [&](size_t b, size_t e, int) {
    if (scalar) swiglu_backward_t<false>(g, u, dh, b, e, dg, du);
    else swiglu_backward_t<true>(g, u, dh, b, e, dg, du);
  }, 4096);
}

void add_inplace(float* y, const float* x, int64_t n) {
  parallel_for(static_cast<size_t>(n), [&](size_t b, size_t e, int) {
    for (size_t i = b; i < e; ++i) y[i] += x[i];
  }, 8192);
}

void cross_entropy(const float* logits, int64_t rows, int64_t vocab, const int32_t* targets, const float* weight,
                   float scale, float* loss, float* dlogits) {
  for (int64_t r = 0; r < rows; ++r)
    if (targets[r] >= vocab)
      fail("LMP_E_TOKEN", "target " + std::to_string(targets[r]) + " at row " + std::to_string(r) + " >= vocab " +
                              std::to_string(vocab));
  parallel_for(static_cast<size_t>(rows), [&](size_t b, size_t e, int) {
    for (size_t r = b; r < e; ++r) {
      const float* lr = logits + r * vocab;
      const int32_t t = targets[r];
      const float wgt = t < 0 ? 0.f : weight[r];
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < vocab; ++j) m = std::max(m, lr[j]);
      double s = 0.0;
      for (int64_t j = 0; j < vocab; ++j) s += std::exp(static_cast<double>(lr[j] - m));
      const double lse = m + std::log(s);
      loss[r] = wgt == 0.f ? 0.f : static_cast<float>(wgt * (lse - lr[t]));
      if (dlogits) {
        float* dr = dlogits + r * vocab;
        const float c = wgt * scale;
        const float tl = t >= 0 ? lr[t] : 0.f;
        (void)tl;
        if (c == 0.f) {
          for (int64_t j = 0; j < vocab; ++j) dr[j] = 0.f;
        } else {
          for (int64_t j = 0; j < vocab; ++j) dr[j] = c * static_cast<float>(std::exp(static_cast<double>(lr[j]) - lse));
          dr[t] -= c;
        }
      }
    }
  }, 4);
}

namespace {
// cos / sin of position p times inv_freq[i] (float, from the double angle), for p in [0, positions):
// a training step rotates q and k of every layer at the same positions, forward and backward, and
// computing them per call was ~1.5% of the step. Immutable once built; the few latest (theta,
// head_dim) pairs are kept, each rebuilt at least twice as large when a call needs more.
constexpr int64_t kRopeTableMax = 1 << 15;  // positions at or beyond it are computed per call (a table of 32k
                                            // positions at head dim 128 is 16 MiB)
struct RopeTable {
  double theta;
  int64_t head_dim, positions;
  std::vector<float> cs, sn;  // [positions][head_dim / 2]
};
std::shared_ptr<const RopeTable> rope_table(double theta, int64_t head_dim, int64_t need, const std::vector<double>& inv_freq) {
  static std::mutex mu;
  static std::vector<std::shared_ptr<const RopeTable>> tables;
  std::lock_guard<std::mutex> lock(mu);
  int64_t had = 0;
  for (size_t i = 0; i < tables.size(); ++i)
    if (tables[i]->theta == theta && tables[i]->head_dim == head_dim) {
      if (tables[i]->positions >= need) return tables[i];
      had = tables[i]->positions;
      tables.erase(tables.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
  auto t = std::make_shared<RopeTable>();
  t->theta = theta;
  t->head_dim = head_dim;
  // grown geometrically: a decode asks for one more position per token
  t->positions = std::min(std::max({need, 2 * had, int64_t{1024}}), kRopeTableMax);
  const int64_t half = head_dim / 2;
  t->cs.resize(static_cast<size_t>(t->positions * half));
  t->sn.resize(t->cs.size());
  for (int64_t p = 0; p < t->positions; ++p)
    for (int64_t i = 0; i < half; ++i) {
      const double a = static_cast<double>(p) * inv_freq[static_cast<size_t>(i)];
      t->cs[static_cast<size_t>(p * half + i)] = static_cast<float>(std::cos(a));
      t->sn[static_cast<size_t>(p * half + i)] = static_cast<float>(std::sin(a));
    }
  if (tables.size() >= 4) tables.erase(tables.begin());
  tables.push_back(t);
  return t;
}
}  // namespace

void rope(float* x, int64_t n, int64_t heads, int64_t head_dim, const int32_t* positions, double theta, bool inverse) {
  check(head_dim % 2 == 0, "LMP_E_SHAPE", "rope: head_dim must be even");
  const int64_t half = head_dim / 2;
  std::vector<double> inv_freq(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) inv_freq[i] = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
  int64_t lo = 0, hi = -1;
  for (int64_t t = 0; t < n; ++t) lo = std::min<int64_t>(lo, positions[t]), hi = std::max<int64_t>(hi, positions[t]);
  // the same floats either way: a table entry is the per-call value (negating a sine is exact)
  const std::shared_ptr<const RopeTable> table = lo >= 0 && hi < kRopeTableMax && n > 0 ? rope_table(theta, head_dim, hi + 1, inv_freq) : nullptr;
  parallel_for(static_cast<size_t>(n), [&](size_t b, size_t e, int) {
    std::vector<float> cbuf(static_cast<size_t>(half)), sbuf(static_cast<size_t>(half));
    for (size_t t = b; t < e; ++t) {
      const float* cs = cbuf.data();
      const float* sn = sbuf.data();
      if (table) {
        cs = table->cs.data() + positions[t] * half;
        sn = table->sn.data() + positions[t] * half;
      } else {
        for (int64_t i = 0; i < half; ++i) {
          const double a = static_cast<double>(positions[t]) * inv_freq[i];
          cbuf[i] = static_cast<float>(std::cos(a));
          sbuf[i] = static_cast<float>(std::sin(a));
        }
      }
      const float sg = inverse ? -1.f : 1.f;
      for (int64_t h = 0; h < heads; ++h) {
        float* xh = x + (t * heads + h) * head_dim;
        for (int64_t i = 0; i < half; ++i) {
          const float a = xh[i], bb = xh[i + half], s = sg * sn[i];
          xh[i] = a * cs[i] - bb * s;
          xh[i + half] = bb * cs[i] + a * s;
        }
      }
    }
  }, 16);
}

void adamw(float* p, const float* g, float* m, float* v, int64_t n, double lr, double beta1, double beta2, double eps,
           double weight_decay, int64_t step, double grad_scale) {
  check(step >= 1, "LMP_E_ARG", "adamw: step must be >= 1");
  const double bc1 = 1.0 - std::pow(beta1, static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(beta2, static_cast<double>(step));
  const float b1 = static_cast<float>(beta1), b2 = static_cast<float>(beta2);
  const float step_size = static_cast<float>(lr / bc1), inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  const float decay = static_cast<float>(1.0 - lr * weight_decay), fe = static_cast<float>(eps), gs = static_cast<float>(grad_scale);
  parallel_for(static_cast<size_t>(n), [&](size_t b, size_t e, int) {
    for (size_t i = b; i < e; ++i) {
      const float gi = g[i] * gs;
      m[i] = b1 * m[i] + (1.f - b1) * gi;
      v[i] = b2 * v[i] + (1.f - b2) * gi * gi;
      const float denom = std::sqrt(v[i]) * inv_sqrt_bc2 + fe;
      p[i] = p[i] * decay - step_size * m[i] / denom;
    }
  }, 8192);
}

double sum_squares(const float* x, int64_t n) {
  const bool scalar = force_scalar();
  const int64_t bs = 4096, nb = (n + bs - 1) / bs;
  std::vector<double> part(static_cast<size_t>(std::max<int64_t>(nb, 1)), 0.0);
  parallel_for(static_cast<size_t>(nb), [&](size_t b, size_t e, int) {
    for (size_t blk = b; blk < e; ++blk) {
      double s = 0.0;
      const int64_t i0 = static_cast<int64_t>(blk) * bs, i1 = std::min(n, i0 + bs);
      if (scalar) {
        for (int64_t i = i0; i < i1; ++i) s += static_cast<double>(x[i]) * x[i];
      } else {
        // 8 double lanes (lane l sums i = l mod 8 of the block), then the lanes in a fixed
        // tree: vectorizable and the same bits on every run and thread count. One sequential
        // double sum per block was latency-bound (~7 ms a step for the 4.85M-parameter model).
        double l8[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int64_t i = i0;
        for (; i + 8 <= i1; i += 8)
          for (int j = 0; j < 8; ++j) l8[j] += static_cast<double>(x[i + j]) * x[i + j];
        s = ((l8[0] + l8[1]) + (l8[2] + l8[3])) + ((l8[4] + l8[5]) + (l8[6] + l8[7]));
        for (; i < i1; ++i) s += static_cast<double>(x[i]) * x[i];
      }
      part[blk] = s;
    }
  }, 4);
  double s = 0.0;
  for (double p : part) s += p;
  return s;
}

// ---------------------------------------------------------------- reference attention

void attention_check(const AttnShape& s) {
  check(s.heads > 0 && s.kv_heads > 0 && s.head_dim > 0 && s.nseq >= 0, "LMP_E_SHAPE", "attention: bad head sizes");
  check(s.heads % s.kv_heads == 0, "LMP_E_SHAPE", "attention: heads must be a multiple of kv_heads");
  check(s.cu_q[0] == 0 && s.cu_k[0] == 0, "LMP_E_SHAPE", "attention: cu_seqlens must start at 0");
  size_t mask_need = 0;
  for (int64_t i = 0; i < s.nseq; ++i) {
    check(s.cu_q[i + 1] >= s.cu_q[i] && s.cu_k[i + 1] >= s.cu_k[i], "LMP_E_SHAPE", "attention: cu_seqlens must be non-decreasing");
    mask_need += static_cast<size_t>(s.cu_q[i + 1] - s.cu_q[i]) * static_cast<size_t>(s.cu_k[i + 1] - s.cu_k[i]);
  }
  check(s.cu_q[s.nseq] == s.tq && s.cu_k[s.nseq] == s.tk, "LMP_E_SHAPE", "attention: cu_seqlens must end at the token count");
  check(s.mask_len == mask_need, "LMP_E_SHAPE",
        "attention: mask has " + std::to_string(s.mask_len) + " entries, expected " + std::to_string(mask_need));
}

namespace {

std::vector<size_t> mask_offsets(const AttnShape& s) {
  std::vector<size_t> off(static_cast<size_t>(s.nseq) + 1, 0);
  for (int64_t i = 0; i < s.nseq; ++i)
    off[i + 1] = off[i] + static_cast<size_t>(s.cu_q[i + 1] - s.cu_q[i]) * static_cast<size_t>(s.cu_k[i + 1] - s.cu_k[i]);
  return off;
}

// Runs fn(seq, kv_head) for every pair: in parallel when there are enough pairs, else serially
// (the GEMMs inside are then threaded). Either way each pair is computed by one thread.
template <typename F>
void for_pairs(const AttnShape& s, F fn) {
  const int64_t pairs = s.nseq * s.kv_heads;
  if (pairs >= num_threads()) {
    parallel_for(static_cast<size_t>(pairs), [&](size_t b, size_t e, int) {
      for (size_t p = b; p < e; ++p) fn(static_cast<int64_t>(p) / s.kv_heads, static_cast<int64_t>(p) % s.kv_heads);
    });
  } else {
    for (int64_t p = 0; p < pairs; ++p) fn(p / s.kv_heads, p % s.kv_heads);
  }
}

// S (lq x lk) -> P in place with the mask; writes lse per row (stride lse_stride).
void masked_softmax(float* S, int64_t lq, int64_t lk, const uint8_t* mask, float* lse, int64_t lse_stride) {
  const float ninf = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < lq; ++i) {
    float* row = S + i * lk;
    const uint8_t* mr = mask + i * lk;
    float m = ninf;
    for (int64_t j = 0; j < lk; ++j)
      if (mr[j] && row[j] > m) m = row[j];
    if (m == ninf) {
      for (int64_t j = 0; j < lk; ++j) row[j] = 0.f;
      lse[i * lse_stride] = ninf;
      continue;
    }
    float sum = 0.f;
    for (int64_t j = 0; j < lk; ++j) {
      const float p = mr[j] ? std::exp(row[j] - m) : 0.f;
      row[j] = p;
      sum += p;
    }
    const float inv = 1.f / sum;
    for (int64_t j = 0; j < lk; ++j) row[j] *= inv;
    lse[i * lse_stride] = m + std::log(sum);
  }
}

}  // namespace

void attention_forward(const AttnShape& s, const float* q, const float* k, const float* v, float* out, float* lse) {
  attention_check(s);
  const auto off = mask_offsets(s);
  const int64_t H = s.heads, KH = s.kv_heads, D = s.head_dim, G = H / KH;
  for_pairs(s, [&](int64_t seq, int64_t g) {
    const int64_t q0 = s.cu_q[seq], lq = s.cu_q[seq + 1] - q0, k0 = s.cu_k[seq], lk = s.cu_k[seq + 1] - k0;
    if (lq == 0) return;
    std::vector<float> S(static_cast<size_t>(lq * std::max<int64_t>(lk, 1)));
    const uint8_t* mask = s.mask + off[seq];
    for (int64_t h = g * G; h < (g + 1) * G; ++h) {
      float* o = out + (q0 * H + h) * D;
      if (lk == 0) {
        for (int64_t i = 0; i < lq; ++i) {
          for (int64_t d = 0; d < D; ++d) o[i * H * D + d] = 0.f;
          lse[(q0 + i) * H + h] = -std::numeric_limits<float>::infinity();
        }
        continue;
      }
      sgemm(false, true, lq, lk, D, s.scale, q + (q0 * H + h) * D, H * D, k + (k0 * KH + g) * D, KH * D, 0.f, S.data(), lk);
      masked_softmax(S.data(), lq, lk, mask, lse + q0 * H + h, H);
      sgemm(false, false, lq, D, lk, 1.f, S.data(), lk, v + (k0 * KH + g) * D, KH * D, 0.f, o, H * D);
    }
  });
}

void attention_backward(const AttnShape& s, const float* q, const float* k, const float* v, const float* out,
                        const float* lse, const float* dout, float* dq, float* dk, float* dv) {
  attention_check(s);
  const auto off = mask_offsets(s);
  const int64_t H = s.heads, KH = s.kv_heads, D = s.head_dim, G = H / KH;
  for_pairs(s, [&](int64_t seq, int64_t g) {
    const int64_t q0 = s.cu_q[seq], lq = s.cu_q[seq + 1] - q0, k0 = s.cu_k[seq], lk = s.cu_k[seq + 1] - k0;
    float* dkg = dk + (k0 * KH + g) * D;
    float* dvg = dv + (k0 * KH + g) * D;
    for (int64_t j = 0; j < lk; ++j)
      for (int64_t d = 0; d < D; ++d) dkg[j * KH * D + d] = dvg[j * KH * D + d] = 0.f;
    if (lq == 0) return;
    for (int64_t h = g * G; h < (g + 1) * G; ++h) {
      float* dqh = dq + (q0 * H + h) * D;
      if (lk == 0) {
        for (int64_t i = 0; i < lq; ++i)
          for (int64_t d = 0; d < D; ++d) dqh[i * H * D + d] = 0.f;
      }
    }
    if (lk == 0) return;
    std::vector<float> P(static_cast<size_t>(lq * lk)), dP(static_cast<size_t>(lq * lk)), Dv(static_cast<size_t>(lq));
    const uint8_t* mask = s.mask + off[seq];
    const float* kg = k + (k0 * KH + g) * D;
    const float* vg = v + (k0 * KH + g) * D;
    for (int64_t h = g * G; h < (g + 1) * G; ++h) {
      const float* qh = q + (q0 * H + h) * D;
      const float* oh = out + (q0 * H + h) * D;
      const float* doh = dout + (q0 * H + h) * D;
      float* dqh = dq + (q0 * H + h) * D;
      sgemm(false, true, lq, lk, D, s.scale, qh, H * D, kg, KH * D, 0.f, P.data(), lk);
      for (int64_t i = 0; i < lq; ++i) {
        const float l = lse[(q0 + i) * H + h];
        float* pr = P.data() + i * lk;
        const uint8_t* mr = mask + i * lk;
        for (int64_t j = 0; j < lk; ++j) pr[j] = (mr[j] && l != -std::numeric_limits<float>::infinity()) ? std::exp(pr[j] - l) : 0.f;
        double dd = 0.0;
        for (int64_t d = 0; d < D; ++d) dd += static_cast<double>(doh[i * H * D + d]) * oh[i * H * D + d];
        Dv[i] = static_cast<float>(dd);
      }
      sgemm(false, true, lq, lk, D, 1.f, doh, H * D, vg, KH * D, 0.f, dP.data(), lk);
      for (int64_t i = 0; i < lq; ++i) {
        float* pr = P.data() + i * lk;
        float* dpr = dP.data() + i * lk;
        for (int64_t j = 0; j < lk; ++j) dpr[j] = pr[j] * (dpr[j] - Dv[i]);
      }
      const float beta = h == g * G ? 0.f : 1.f;
      sgemm(false, false, lq, D, lk, s.scale, dP.data(), lk, kg, KH * D, 0.f, dqh, H * D);
      sgemm(true, false, lk, D, lq, s.scale, dP.data(), lk, qh, H * D, beta, dkg, KH * D);
      sgemm(true, false, lk, D, lq, 1.f, P.data(), lk, doh, H * D, beta, dvg, KH * D);
    }
  });
}

}  // namespace model
}  // namespace lmp
