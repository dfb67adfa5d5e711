// Sampler chain kernels. See sampling.h for the representation and the rules.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/fexp.h"
#include "core/status.h"
#include "sampling/kernels.h"
#include "sampling/sampling.h"

namespace lmp {
namespace sampling {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr double kLn2 = 0.69314718055994530942;

// fexp: core/fexp.h (shared with the vectorized kernels and the CUDA backend).

// Candidate order: value desc, then token id asc (the documented tie rule).
inline bool better(const Cand& a, const Cand& b) { return a.v > b.v || (a.v == b.v && a.id < b.id); }

// Finds the cut element of the shortest prefix (in `before` order) whose mass reaches
// `need` (mass >= need, or > need when strict). Expected O(n): nth_element halves the
// range and only the side holding the crossing is kept. Returns the position in idx of
// the cut after idx is partitioned so that idx[0..pos] are exactly the kept ones;
// returns n - 1 when rounding leaves the total just short of need (keep all).
template <class Before>
size_t mass_cut(uint32_t* idx, size_t n, const double* mass, double need, bool strict, Before before) {
  size_t lo = 0, hi = n;
  double acc = 0;
  while (hi - lo > 48) {
    const size_t mid = lo + (hi - lo) / 2;
    std::nth_element(idx + lo, idx + mid, idx + hi, before);
    double left = 0;
    for (size_t i = lo; i < mid; ++i) left += mass[idx[i]];
    const double t = acc + left;
    if (strict ? t > need : t >= need) {
      hi = mid;
    } else {
      acc = t;
      lo = mid;
    }
  }
  std::sort(idx + lo, idx + hi, before);
  for (size_t i = lo; i < hi; ++i) {
    acc += mass[idx[i]];
    if (strict ? acc > need : acc >= need) return i;
  }
  return hi - 1;
}

}  // namespace

float fast_exp(float x) { return fexp(x); }

// The baselines use the same (vectorized) kernels as the chain, so ratios compare like with like.
float bench_max(const float* x, size_t n) {
  bool bad = false;
  return kernels().max(x, n, nullptr, &bad);
}

double bench_softmax2(const float* x, size_t n, float* out) {
  const float m = bench_max(x, n);
  return kernels().sumexp(x, n, 1.f, m, out, nullptr, nullptr);
}

Chain::Chain(std::vector<Spec> specs, size_t vocab, uint64_t seed) : specs_(std::move(specs)), vocab_(vocab), seed_(seed) {
  check(vocab >= 1 && vocab <= (size_t(1) << 31), "LMP_E_ARG", "vocab size must be in [1, 2^31]");
  for (size_t i = 0; i < specs_.size(); ++i) {
    Spec& s = specs_[i];
    const bool term = s.kind == Kind::Greedy || s.kind == Kind::Sample || s.kind == Kind::Mirostat || s.kind == Kind::MirostatV2;
    if (term) {
      check(i + 1 == specs_.size(), "LMP_E_CHAIN", "a terminal sampler (greedy, sample, mirostat) must be the last one");
      terminal_ = static_cast<int>(i);
    }
    for (int32_t t : s.ids) check(t >= 0 && static_cast<size_t>(t) < vocab, "LMP_E_ARG", "token id " + std::to_string(t) + " outside the vocabulary");
    switch (s.kind) {
      case Kind::Temperature: check(s.a > 0 && std::isfinite(s.a), "LMP_E_ARG", "temperature must be > 0 (use greedy for 0)"); break;
      case Kind::TopK: check(s.n >= 1, "LMP_E_ARG", "top_k: k must be >= 1"); break;
      case Kind::TopP: check(s.a > 0 && s.a <= 1, "LMP_E_ARG", "top_p: p must be in (0, 1]"); break;
      case Kind::MinP: check(s.a >= 0 && s.a <= 1, "LMP_E_ARG", "min_p: p must be in [0, 1]"); break;
      case Kind::Typical: check(s.a > 0 && s.a <= 1, "LMP_E_ARG", "typical: p must be in (0, 1]"); break;
      case Kind::Epsilon: check(s.a >= 0 && s.a < 1, "LMP_E_ARG", "epsilon must be in [0, 1)"); break;
      case Kind::Eta: check(s.a >= 0 && s.a < 1, "LMP_E_ARG", "eta must be in [0, 1)"); break;
      case Kind::Mirostat:
      case Kind::MirostatV2:
        check(s.a > 0 && std::isfinite(s.a), "LMP_E_ARG", "mirostat: tau must be > 0");
        check(s.b > 0 && std::isfinite(s.b), "LMP_E_ARG", "mirostat: eta must be > 0");
        if (s.kind == Kind::Mirostat) check(s.n >= 2, "LMP_E_ARG", "mirostat: m must be >= 2");
        mu0_ = 2 * s.a;
        break;
      case Kind::Penalties:
        check(s.a > 0 && std::isfinite(s.a), "LMP_E_ARG", "repetition penalty must be > 0");
        check(std::isfinite(s.b) && std::isfinite(s.c), "LMP_E_ARG", "frequency/presence penalties must be finite");
        break;
      case Kind::Dry:
        check(s.a >= 0 && std::isfinite(s.a) && s.b > 0 && std::isfinite(s.b) && s.n >= 1, "LMP_E_ARG",
              "dry: multiplier >= 0, base > 0, allowed_length >= 1");
        std::sort(s.ids.begin(), s.ids.end());
        break;
      case Kind::LogitBias:
        check(s.ids.size() == s.vals.size(), "LMP_E_ARG", "logit_bias: ids and values differ in length");
        for (float v : s.vals) check(!std::isnan(v) && v != kInf, "LMP_E_ARG", "logit_bias values must be finite or -inf");
        break;
      case Kind::Allowed:
      case Kind::Banned:
        std::sort(s.ids.begin(), s.ids.end());
        s.ids.erase(std::unique(s.ids.begin(), s.ids.end()), s.ids.end());
        break;
      default: break;
    }
  }
  if (terminal_ < 0) {
    specs_.push_back(Spec{});  // the implicit final `sample`
    terminal_ = static_cast<int>(specs_.size()) - 1;
  }
  mu_ = mu0_;
  idA_.resize(vocab);
  idB_.resize(vocab);
  xA_.resize(vocab);
  xB_.resize(vocab);
  w_.resize(vocab);
  bsum_.resize(vocab / kSumBlk + 1);
  bmax_.resize(vocab / kBlk + 1);
}

void Chain::restore(const Snapshot& s) {
  check(s.history <= history_.size(), "LMP_E_ARG", "snapshot is newer than the current state");
  history_.resize(s.history);
  mu_ = s.mu;
  last_valid_ = false;
}

void Chain::reset(const int32_t* tokens, size_t n) {
  history_.assign(tokens, tokens + n);
  mu_ = mu0_;
  last_valid_ = false;
}

void Chain::accept(int32_t token) {
  check(token >= 0 && static_cast<size_t>(token) < vocab_, "LMP_E_ARG", "accepted token outside the vocabulary");
  history_.push_back(token);
  const Spec& t = specs_[terminal_];
  if ((t.kind == Kind::Mirostat || t.kind == Kind::MirostatV2) && last_valid_) {
    // A token outside the last candidate set (forced by a stop/length rule) moves the
    // history but not mu: its surprise under the sampled distribution is unbounded.
    auto it = std::lower_bound(last_ids_.begin(), last_ids_.end(), token);
    if (it != last_ids_.end() && *it == token) {
      const double S = last_surprise_[it - last_ids_.begin()];
      mu_ -= t.b * (S - t.a);
    }
  }
  last_valid_ = false;
}

// ---- the candidate view ----------------------------------------------------------------

void Chain::set_sparse(size_t n) {
  // The output buffers (the pair that is not current) become current.
  if (dense_ || !cur_is_a_) {
    id_ = idA_.data();
    x_ = xA_.data();
    cur_is_a_ = true;
  } else {
    id_ = idB_.data();
    x_ = xB_.data();
    cur_is_a_ = false;
  }
  dense_ = false;
  n_ = n;
}

// The buffers a filter writes its output to (never the current ones).
#define OUT_IDS ((dense_ || !cur_is_a_) ? idA_.data() : idB_.data())
#define OUT_XS ((dense_ || !cur_is_a_) ? xA_.data() : xB_.data())

float Chain::view_max(bool check_nan) {
  if (dense_ && rawmax_valid_ && !check_nan) return rawmax_ * scale_;
  if (dense_) {
    const float* x = src_;
    bool bad = false;
    const float m = kernels().max(x, vocab_, bmax_.data(), &bad);
    if (check_nan && bad) {
      for (size_t i = 0; i < vocab_; ++i)
        if (std::isnan(x[i])) fail("LMP_E_NAN", "logits contain NaN (token " + std::to_string(i) + ")");
      fail("LMP_E_NAN", "logits contain +inf");
    }
    rawmax_ = m;
    rawmax_valid_ = true;
    return m * scale_;
  }
  float m = -kInf;
  for (size_t i = 0; i < n_; ++i) m = x_[i] > m ? x_[i] : m;
  return m;
}

// Sum of exp(y - m) over the view (float lanes per block, blocks summed in double);
// s1 (optional) gets sum exp(y - m) * (y - m), for the entropy.
double Chain::view_sumexp(float m, double* s1) {
  // w_ (the terminal's weights) is free scratch until the terminal runs.
  return dense_ ? kernels().sumexp(src_, vocab_, scale_, m, w_.data(), s1, nullptr) : kernels().sumexp(x_, n_, 1.f, m, w_.data(), s1, nullptr);
}

// Writes the finite candidates with value >= t to the output buffers (ascending id) and
// returns their number; the view is unchanged until set_sparse commits. Dense input is
// scanned in blocks whose maximum is checked first, so a high threshold costs about one
// max pass.
static size_t gather_into(bool dense, const float* src, float scale, size_t vocab, const int32_t* id, const float* x,
                          size_t n, float t, int32_t* oi, float* ox) {
  size_t k = 0;
  if (dense) {
    constexpr size_t B = 64;
    size_t i = 0;
    for (; i + B <= vocab; i += B) {
      float bm = -kInf;
      for (size_t j = 0; j < B; ++j) bm = src[i + j] > bm ? src[i + j] : bm;
      if (!(bm * scale >= t) || bm == -kInf) continue;
      for (size_t j = 0; j < B; ++j) {
        const float y = src[i + j] * scale;
        if (y >= t && y > -kInf) {
          oi[k] = static_cast<int32_t>(i + j);
          ox[k] = y;
          ++k;
        }
      }
    }
    for (; i < vocab; ++i) {
      const float y = src[i] * scale;
      if (y >= t && y > -kInf) {
        oi[k] = static_cast<int32_t>(i);
        ox[k] = y;
        ++k;
      }
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      if (x[i] >= t && x[i] > -kInf) {
        oi[k] = id[i];
        ox[k] = x[i];
        ++k;
      }
    }
  }
  return k;
}

void Chain::gather_ge(float t) {
  size_t k = gather_into(dense_, src_, scale_, vocab_, id_, x_, n_, t, OUT_IDS, OUT_XS);
  set_sparse(k);
}

void Chain::edit(int32_t tok, float y) {
  if (dense_) {
    rawmax_valid_ = false;
    edits_.push_back(Edit{static_cast<size_t>(tok), src_[tok]});
    src_[tok] = y == -kInf ? -kInf : y / scale_;
    return;
  }
  int32_t* e = id_ + n_;
  int32_t* it = std::lower_bound(id_, e, tok);
  if (it != e && *it == tok) x_[it - id_] = y;
}

void Chain::undo_edits() {
  for (size_t i = edits_.size(); i-- > 0;) src_[edits_[i].index] = edits_[i].old;
  edits_.clear();
}

// Value of token `tok` in the view, or NaN when it is not a candidate.
static inline float lookup(bool dense, const float* src, float scale, const int32_t* id, const float* x, size_t n,
                           int32_t tok) {
  if (dense) return src[tok] * scale;
  const int32_t* it = std::lower_bound(id, id + n, tok);
  if (it != id + n && *it == tok) return x[it - id];
  return std::numeric_limits<float>::quiet_NaN();
}

// ---- filters ---------------------------------------------------------------------------

// The top k (by value desc, id asc) of the view's finite candidates, best first, as
// positions in the view. Dense input: one pass with a k-heap whose worst element is the
// bar a whole block of 64 must clear before any of it is looked at.
void Chain::select_top(size_t k, std::vector<uint32_t>& order) {
  order.clear();
  if (k == 0) return;
  std::vector<Cand> heap;
  heap.reserve(std::min(k, count()) + 1);
  auto push = [&](float v, int32_t id) {
    if (heap.size() < k) {
      heap.push_back(Cand{v, id});
      std::push_heap(heap.begin(), heap.end(), better);
    } else if (better(Cand{v, id}, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), better);
      heap.back() = Cand{v, id};
      std::push_heap(heap.begin(), heap.end(), better);
    }
  };
  if (dense_ && k <= 4096 && vocab_ >= 8 * kBlk) {
    // Two levels: the block maxima of the checked max pass; the k-th largest of them (in
    // scaled values) is a bar every top-k element clears, so only blocks reaching it are read.
    if (!rawmax_valid_) view_max(false);
    const float s = scale_;
    const size_t nb = (vocab_ + kBlk - 1) / kBlk;
    tmpf_.resize(nb);
    size_t fin = 0;
    for (size_t b = 0; b < nb; ++b)
      if (bmax_[b] > -kInf) tmpf_[fin++] = bmax_[b] * s;
    if (fin == 0) return;
    // Fewer finite blocks than k: no bar (every finite element is a candidate).
    float bar = -kInf;
    if (k <= fin) {
      std::nth_element(tmpf_.begin(), tmpf_.begin() + (k - 1), tmpf_.begin() + fin, std::greater<float>());
      bar = tmpf_[k - 1];
    }
    std::vector<Cand>& all = cand_;
    all.clear();
    const float* x = src_;
    for (size_t b = 0; b < nb; ++b) {
      if (!(bmax_[b] * s >= bar) || bmax_[b] == -kInf) continue;
      const size_t e = std::min(vocab_, (b + 1) * kBlk);
      for (size_t i = b * kBlk; i < e; ++i) {
        const float y = x[i] * s;
        if (y >= bar && y > -kInf) all.push_back(Cand{y, static_cast<int32_t>(i)});
      }
    }
    const size_t kt = std::min(k, all.size());
    if (kt < all.size()) std::nth_element(all.begin(), all.begin() + kt, all.end(), better);
    all.resize(kt);
    std::sort(all.begin(), all.end(), better);
    for (const Cand& c : all) order.push_back(static_cast<uint32_t>(c.id));
    return;
  }
  if (dense_ && k <= 4096) {
    constexpr size_t B = 64;
    const float* x = src_;
    const float s = scale_;
    size_t i = 0;
    for (; i + B <= vocab_; i += B) {
      float bm = -kInf;
      for (size_t j = 0; j < B; ++j) bm = x[i + j] > bm ? x[i + j] : bm;
      if (bm == -kInf) continue;
      if (heap.size() == k && !(bm * s > heap.front().v)) continue;  // equal values here have larger ids: worse
      for (size_t j = 0; j < B; ++j) {
        const float y = x[i + j] * s;
        if (y > -kInf) push(y, static_cast<int32_t>(i + j));
      }
    }
    for (; i < vocab_; ++i) {
      const float y = x[i] * s;
      if (y > -kInf) push(y, static_cast<int32_t>(i));
    }
    std::sort(heap.begin(), heap.end(), better);
    for (const Cand& c : heap) order.push_back(static_cast<uint32_t>(c.id));
    return;
  }
  // Large k or sparse input: partial selection with nth_element over the finite ones.
  const size_t n = count();
  std::vector<Cand> all;
  all.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const float y = value_of(i);
    if (y > -kInf) all.push_back(Cand{y, static_cast<int32_t>(i)});
  }
  auto pos_better = [&](const Cand& a, const Cand& b) {
    return a.v > b.v || (a.v == b.v && id_of(a.id) < id_of(b.id));
  };
  const size_t kk = std::min(k, all.size());
  if (kk < all.size()) std::nth_element(all.begin(), all.begin() + kk, all.end(), pos_better);
  all.resize(kk);
  std::sort(all.begin(), all.end(), pos_better);
  for (const Cand& c : all) order.push_back(static_cast<uint32_t>(c.id));
}

void Chain::f_top_k(int64_t k) {
  select_top(static_cast<size_t>(k), order_);
  std::sort(order_.begin(), order_.end());  // positions ascend with ids in both views
  int32_t* oi = OUT_IDS;
  float* ox = OUT_XS;
  for (size_t j = 0; j < order_.size(); ++j) {
    oi[j] = id_of(order_[j]);
    ox[j] = value_of(order_[j]);
  }
  set_sparse(order_.size());
}

// Keeps the smallest set, in `before` order, whose probability mass reaches p*Z. The
// candidate set first shrinks to those above a bar low enough that what lies below it
// holds less than (1 - p) of the mass: count * e^-delta <= Z (1 - p).
void Chain::f_top_p(double p) {
  if (p >= 1.0) return;
  if (bracket_cut(p, false, 0, true) || hist_cut(p, false, 0, true)) return;
  const float m = view_max(false);
  const double Z = view_sumexp(m, nullptr);
  const double delta = std::log(static_cast<double>(count()) / (Z * (1.0 - p))) + 1.0;
  gather_ge(static_cast<float>(m - delta));
  const size_t n = n_;
  tmpf_.resize(n);
  std::vector<double> mass(n);
  order_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    mass[i] = fexp(x_[i] - m);
    order_[i] = static_cast<uint32_t>(i);
  }
  const int32_t* id = id_;
  const float* x = x_;
  auto before = [id, x](uint32_t a, uint32_t b) { return x[a] > x[b] || (x[a] == x[b] && id[a] < id[b]); };
  const size_t cut = mass_cut(order_.data(), n, mass.data(), p * Z, false, before);
  const uint32_t c = order_[cut];
  int32_t* oi = OUT_IDS;
  float* ox = OUT_XS;
  size_t k = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!before(c, static_cast<uint32_t>(i))) {
      oi[k] = id[i];
      ox[k] = x[i];
      ++k;
    }
  }
  set_sparse(k);
}

// top-p / typical over a dense view without ordering the vocabulary. One pass computes the
// exp terms, Z (and sum e*d for H) and a histogram of mass over NB bins of the value y
// (bin = floor(clamp((y - lo) * inv, 0, NB - 1)), monotone in y). Both scores are functions of
// y that are monotone on each side of a center (top-p: -y; typical: |((m - y) + lnZ) - H|), so
// each bin's members have scores within [a_b, c_b], computed from the bin's edges (widened by
// a rounding margin). Walking bins by a (resp. c) gives the lowest (highest) score at which the
// mass can reach p*Z: s_lo <= the exact cut score <= s_hi. Bins entirely below s_lo are kept;
// bins whose interval meets [s_lo, s_hi] are collected in one more pass (usually a few hundred
// tokens) and cut exactly by mass_cut in (score asc, id asc) order; the rest is dropped.
bool Chain::hist_cut(double p, bool typical, int variant, bool by_id) {
  if (!dense_ || vocab_ < 16384) return false;
  // about 64 tokens per bin, 256 to 4096 bins
  const size_t NB = std::min<size_t>(4096, std::max<size_t>(256, vocab_ / 64));
  const float m = view_max(false);
  const float* y = src_;
  if (scale_ != 1.f) {
    ys_.resize(vocab_);
    for (size_t i = 0; i < vocab_; ++i) ys_[i] = src_[i] * scale_;
    y = ys_.data();
  }
  const double V = static_cast<double>(vocab_);
  // The range [m - D, m]: below it lies less than (1 - p) of the mass (Z >= 1), and for
  // typical the center m - (H - lnZ) >= m - ln V lies inside.
  double D = std::log(V / (1.0 - std::min(p, 1.0 - 1e-12))) + 1.0;
  if (typical) D = std::max(D, std::log(V) + 1.0);
  D = std::min(D, 80.0);
  const float lo = static_cast<float>(m - D);
  const float inv = static_cast<float>(NB / (m - static_cast<double>(lo)));
  if (!(inv > 0) || !std::isfinite(inv)) return false;
  const float top = static_cast<float>(NB - 1);
  hist_.assign(NB + 8, 0.0);
  double s1 = 0;
  const double Z = kernels().exphist(y, vocab_, m, lo, inv, top, hist_.data(), &s1);
  for (size_t j = 0; j < 8; ++j) hist_[0] += hist_[NB + j];
  const double lnZ = std::log(Z), H = lnZ - s1 / Z;
  const double need = p * Z;
  const bool strict = typical && variant == 1;
  auto reached = [&](double cum) { return strict ? cum > need : cum >= need; };
  // score bounds per bin
  const double margin = 1e-6 * (D + std::fabs(static_cast<double>(m)) + 1.0);
  std::vector<double>& A = bounds_a_;
  std::vector<double>& C = bounds_c_;
  A.resize(NB);
  C.resize(NB);
  auto spre = [&](double yy) { return ((static_cast<double>(m) - yy) + lnZ) - H; };
  size_t cb = NB - 1;
  const double bw = 1.0 / static_cast<double>(inv);
  for (size_t b = 0; b < NB; ++b) {
    const double ylo = b == 0 ? -std::numeric_limits<double>::infinity() : lo + b * bw - margin;
    const double yhi = b == NB - 1 ? m + margin : lo + (b + 1) * bw + margin;
    if (!typical) {
      A[b] = -yhi;
      C[b] = -ylo;
    } else {
      const double sh = spre(yhi), sl = b == 0 ? std::numeric_limits<double>::infinity() : spre(ylo);
      A[b] = sh >= 0 ? sh : (sl <= 0 ? -sl : 0.0);
      C[b] = std::max(std::fabs(sh), std::fabs(sl));
    }
  }
  if (typical) {
    cb = 0;
    for (size_t b = 1; b < NB; ++b)
      if (A[b] < A[cb]) cb = b;
  }
  // Walks: the center, then the two sides merged (each side's bounds grow away from it).
  auto walk = [&](const std::vector<double>& S, double* level) {
    double cum = 0;
    long i = static_cast<long>(cb) - 1, j = static_cast<long>(cb) + 1;
    bool center = false;
    for (;;) {
      const bool hi = i < 0 || (j < static_cast<long>(NB) && S[j] < S[i]);
      if (i < 0 && j >= static_cast<long>(NB) && center) return false;
      const double next = (i < 0 && j >= static_cast<long>(NB)) ? std::numeric_limits<double>::infinity() : (hi ? S[j] : S[i]);
      if (!center && S[cb] <= next) {
        center = true;
        cum += hist_[cb];
        if (reached(cum)) return *level = S[cb], true;
        continue;
      }
      const size_t b = hi ? static_cast<size_t>(j++) : static_cast<size_t>(i--);
      cum += hist_[b];
      if (reached(cum)) return *level = S[b], true;
    }
  };
  double slo = 0, shi = std::numeric_limits<double>::infinity();
  int32_t* oi = OUT_IDS;
  float* ox = OUT_XS;
  if (!walk(A, &slo)) {  // rounding left the total short of p*Z: keep every finite token
    set_sparse(kernels().gather_bins(y, vocab_, lo, inv, top, 0.f, static_cast<float>(NB), nullptr, 0, oi, ox));
    return true;
  }
  if (!walk(C, &shi)) shi = std::numeric_limits<double>::infinity();
  // definite bins (C < slo) and collected bins (A <= shi && C >= slo): contiguous runs
  long dlo = -1, dhi = -2;
  long r[4] = {-1, -2, -1, -2};
  int runs = 0, druns = 0;
  bool inrun = false, indrun = false;
  double defmass = 0;
  for (size_t b = 0; b < NB; ++b) {
    const bool def = C[b] < slo;
    const bool col = !def && A[b] <= shi;
    if (def) {
      defmass += hist_[b];
      if (!indrun) ++druns, dlo = static_cast<long>(b);
      dhi = static_cast<long>(b);
    }
    if (col) {
      if (!inrun) {
        if (++runs > 2) return false;
        r[2 * (runs - 1)] = static_cast<long>(b);
      }
      r[2 * (runs - 1) + 1] = static_cast<long>(b);
    }
    indrun = def;
    inrun = col;
  }
  if (druns > 1) return false;
  cidx_.resize(vocab_);
  const size_t nc = kernels().collect(y, vocab_, lo, inv, top, static_cast<float>(r[0]), static_cast<float>(r[1] + 1),
                                      static_cast<float>(r[2]), static_cast<float>(r[3] + 1), cidx_.data());
  std::vector<double>& mass = cmass_;
  std::vector<double>& score = cscore_;
  mass.resize(nc);
  score.resize(nc);
  order_.resize(nc);
  for (size_t q = 0; q < nc; ++q) {
    const float v = y[cidx_[q]];
    mass[q] = fexp(v - m);
    score[q] = typical ? std::fabs(static_cast<double>(m) - v + lnZ - H) : -static_cast<double>(v);
    order_[q] = static_cast<uint32_t>(q);
  }
  size_t nk = 0;
  if (nc > 0) {
    const double* sc = score.data();
    const int32_t* id = cidx_.data();
    auto before = [sc, id](uint32_t a, uint32_t b) { return sc[a] < sc[b] || (sc[a] == sc[b] && id[a] < id[b]); };
    const size_t cut = mass_cut(order_.data(), nc, mass.data(), need - defmass, strict, before);
    const uint32_t c = order_[cut];
    const double cs = sc[c];
    const int32_t cid = id[c];
    for (size_t q = 0; q < nc; ++q)
      if (sc[q] < cs || (sc[q] == cs && (!by_id || id[q] <= cid))) cidx_[nk++] = cidx_[q];
  }
  const size_t k = kernels().gather_bins(y, vocab_, lo, inv, top, static_cast<float>(dlo), static_cast<float>(dhi + 1),
                                         cidx_.data(), nk, oi, ox);
  set_sparse(k);
  return true;
}

// top-p / typical over a dense view without a histogram. Both kept sets are an interval of the
// value y (top-p: y above the cut; typical: y around the center m + lnZ - H), cut at its edges
// in (score asc, id asc) order. A sample (every 64th token, plus exactly every token at or above
// the 32nd largest block maximum, so a few huge logits are never missed) estimates where the
// cut falls; one vectorized pass then computes Z (and H), the mass strictly inside a bracket
// (aL, aH) and collects the ids in the two edge ranges [c1l, c1h], [c2l, c2h]. The exact cut is
// taken among the collected ids (mass_cut); it is accepted only when it provably is the cut of
// the whole view: the inside mass is short of p*Z, the collected ones reach it, every inside
// token scores below the cut and every token outside both scores above it (scores are weakly
// monotone on each side of the center, so the bracket's edges bound them). Otherwise nothing
// changed and the histogram path runs: correctness never depends on the estimate.
bool Chain::bracket_cut(double p, bool typical, int variant, bool by_id) {
  if (!dense_ || vocab_ < 16384) return false;
  if (!rawmax_valid_) view_max(false);
  const float s = scale_;
  const float m = rawmax_ * s;
  if (!(m > -kInf)) return false;
  const float* x = src_;
  const size_t V = vocab_;
  const size_t nb = (V + kBlk - 1) / kBlk;
  // the exact part of the sample: tokens at or above the 32nd largest block maximum
  tmpf_.resize(nb);
  for (size_t b = 0; b < nb; ++b) tmpf_[b] = bmax_[b] * s;
  constexpr size_t KB = 32;
  float big = -kInf;
  if (nb > KB) {
    std::nth_element(tmpf_.begin(), tmpf_.begin() + (KB - 1), tmpf_.end(), std::greater<float>());
    big = tmpf_[KB - 1];
  }
  samp_.clear();
  sw_.clear();
  for (size_t b = 0; b < nb; ++b) {
    if (!(bmax_[b] * s >= big) || bmax_[b] == -kInf) continue;
    const size_t e = std::min(V, (b + 1) * kBlk);
    for (size_t i = b * kBlk; i < e; ++i) {
      const float y = x[i] * s;
      if (y >= big && y > -kInf) samp_.push_back(Cand{y, 1}), sw_.push_back(1.0);
    }
  }
  constexpr size_t S = 64;
  for (size_t i = S / 2; i < V; i += S) {
    const float y = x[i] * s;
    if (y > -kInf && !(y >= big)) samp_.push_back(Cand{y, 0}), sw_.push_back(static_cast<double>(S));
  }
  const size_t ns = samp_.size();
  double ze = 0, s1e = 0;
  for (size_t j = 0; j < ns; ++j) {
    const double d = static_cast<double>(samp_[j].v) - m;
    const double e = sw_[j] * fexp(static_cast<float>(d));
    sw_[j] = e;  // now the sample's mass
    ze += e;
    s1e += e * d;
  }
  if (!(ze > 0)) return false;
  const double lnZe = std::log(ze), He = lnZe - s1e / ze;
  const double delta = std::max(0.005, std::min(0.02, 0.2 * std::min(p, 1.0 - p)));
  const double plo = std::max(0.0, p - delta) * ze, phi = std::min(p + delta, 1.0 - 0.25 * (1.0 - p)) * ze;
  // score of each sample element (top-p: -y; typical: distance to the estimated center)
  const double ce = static_cast<double>(m) + lnZe - He;
  // the scores where the sample's running mass (score asc) reaches plo and phi: two expected-O(n)
  // selections instead of a sort
  order_.resize(ns);
  cscore_.resize(ns);
  for (size_t j = 0; j < ns; ++j) {
    order_[j] = static_cast<uint32_t>(j);
    cscore_[j] = typical ? std::fabs(samp_[j].v - ce) : -static_cast<double>(samp_[j].v);
  }
  const double* sc0 = cscore_.data();
  auto by_score = [sc0](uint32_t a, uint32_t b) { return sc0[a] < sc0[b] || (sc0[a] == sc0[b] && a < b); };
  const double rlo = sc0[order_[mass_cut(order_.data(), ns, sw_.data(), plo, false, by_score)]];
  const double rhi = sc0[order_[mass_cut(order_.data(), ns, sw_.data(), phi, false, by_score)]];
  if (std::isnan(rlo) || std::isnan(rhi)) return false;
  const float inf = kInf;
  float aL, aH, c1l, c1h, c2l = inf, c2h = -inf;
  if (!typical) {
    const double w = 0.1 * (rhi - rlo) + 0.01;
    c1l = static_cast<float>(-rhi - w);
    c1h = static_cast<float>(-rlo + w);
    aL = c1h;
    aH = inf;
  } else {
    const double w = 0.1 * (rhi - rlo) + 0.05;
    c1l = static_cast<float>(ce - rhi - w);
    c1h = static_cast<float>(ce - rlo + w);
    c2l = static_cast<float>(ce + rlo - w);
    c2h = static_cast<float>(ce + rhi + w);
    aL = c1h;
    aH = c2l;
  }
  double s1 = 0;
  size_t nc = 0;
  cidx_.resize(V);
  const double Z = kernels().bracket(x, V, s, m, aL, aH, c1l, c1h, c2l, c2h, &s1, bsum_.data(), cidx_.data(), &nc);
  const size_t nblk = (V + kSumBlk - 1) / kSumBlk;
  double massI = 0;
  for (size_t b = 0; b < nblk; ++b) massI += bsum_[b];
  const double need = p * Z;
  if (!(massI < need) || nc == 0) return false;
  const double lnZ = std::log(Z), H = lnZ - s1 / Z;
  const bool strict = typical && variant == 1;
  auto g = [&](float yy) { return ((static_cast<double>(m) - yy) + lnZ) - H; };
  cmass_.resize(nc);
  cscore_.resize(nc);
  order_.resize(nc);
  for (size_t q = 0; q < nc; ++q) {
    const float v = x[cidx_[q]] * s;
    cmass_[q] = fexp(v - m);
    cscore_[q] = typical ? std::fabs(g(v)) : -static_cast<double>(v);
    order_[q] = static_cast<uint32_t>(q);
  }
  const double* sc = cscore_.data();
  const int32_t* id = cidx_.data();
  auto before = [sc, id](uint32_t a, uint32_t b) { return sc[a] < sc[b] || (sc[a] == sc[b] && id[a] < id[b]); };
  const size_t cut = mass_cut(order_.data(), nc, cmass_.data(), need - massI, strict, before);
  double got = massI;
  for (size_t q = 0; q <= cut; ++q) got += cmass_[order_[q]];
  if (!(strict ? got > need : got >= need)) return false;
  const double cs = sc[order_[cut]];
  const int32_t cid = id[order_[cut]];
  if (typical) {
    if (aL < aH && !(std::max(std::fabs(g(aL)), std::fabs(g(aH))) < cs)) return false;
    if (!(g(c1l) > cs) || !(-g(c2h) > cs)) return false;
  }
  // accepted: the kept ones among the collected, ascending id; their mass joins the blocks'
  size_t nk = 0;
  for (size_t q = 0; q < nc; ++q)
    if (sc[q] < cs || (sc[q] == cs && (!by_id || id[q] <= cid))) {
      bsum_[cidx_[q] / kSumBlk] += cmass_[q];
      cidx_[nk++] = cidx_[q];
    }
  lz_extra_.assign(cidx_.begin(), cidx_.begin() + nk);
  lz_lo_ = aL;
  lz_hi_ = aH;
  lz_m_ = m;
  lz_nk_ = nk;
  lazy_ = true;
  if (!lazy_ok_) materialize();
  return true;
}

void Chain::materialize() {
  if (!lazy_) return;
  lazy_ = false;
  const size_t k = kernels().gather_range(src_, vocab_, scale_, lz_lo_, lz_hi_, lz_extra_.data(), lz_extra_.size(), OUT_IDS, OUT_XS);
  set_sparse(k);
}

void Chain::f_min_p(double p) {
  if (p <= 0) return;
  const float m = view_max(false);
  gather_ge(static_cast<float>(m + std::log(p)));
}

// Locally typical: score |-ln p - H|; the crossing token is the first, in (score asc, id asc)
// order, at which the running mass reaches p (variant 0, HF: cum >= p; variant 1, llama.cpp:
// cum > p). Kept: every token scoring below the crossing token, and of those scoring exactly
// the same, all of them (by_id false: Hugging Face's TypicalLogitsWarper keeps score <=
// the crossing score) or those with an id up to the crossing token's (by_id true).
void Chain::f_typical(double p, int variant, bool by_id) {
  if (p >= 1.0) return;
  if (bracket_cut(p, true, variant, by_id) || hist_cut(p, true, variant, by_id)) return;
  const float m = view_max(false);
  double s1 = 0;
  const double Z = view_sumexp(m, &s1);
  const double lnZ = std::log(Z);
  const double H = lnZ - s1 / Z;
  const double dstar = H - lnZ;  // the d = m - y at which -ln p == H
  const size_t total = count();
  double D = std::max(std::log(static_cast<double>(total) / (Z * (1.0 - p))) + 1.0, dstar + 1.0);
  int32_t* oi = OUT_IDS;
  float* ox = OUT_XS;
  std::vector<double> mass, score;
  for (;;) {
    const float t = dense_ ? static_cast<float>(m - D) : -kInf;
    const size_t n = gather_into(dense_, src_, scale_, vocab_, id_, x_, n_, t, oi, ox);
    mass.resize(n);
    score.resize(n);
    order_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      mass[i] = fexp(ox[i] - m);
      score[i] = std::fabs(static_cast<double>(m) - ox[i] + lnZ - H);
      order_[i] = static_cast<uint32_t>(i);
    }
    const double* sc = score.data();
    const int32_t* id = oi;
    auto before = [sc, id](uint32_t a, uint32_t b) { return sc[a] < sc[b] || (sc[a] == sc[b] && id[a] < id[b]); };
    const size_t cut = mass_cut(order_.data(), n, mass.data(), p * Z, variant == 1, before);
    const uint32_t c = order_[cut];
    // Everything not gathered has d > D, so score > D - dstar: exact if the cut is below.
    const bool exact = t == -kInf || sc[c] <= D - dstar;
    if (!exact) {
      D = 2 * D + 1;
      if (!std::isfinite(D)) D = std::numeric_limits<double>::infinity();
      continue;
    }
    const double cs = sc[c];
    const int32_t cid = oi[c];
    size_t k = 0;
    for (size_t i = 0; i < n; ++i) {
      if (sc[i] < cs || (sc[i] == cs && (!by_id || oi[i] <= cid))) {
        oi[k] = oi[i];
        ox[k] = ox[i];
        ++k;
      }
    }
    set_sparse(k);
    return;
  }
}

// Keeps only the argmax (lowest id among equal maxima): the "keep at least one" rule.
static void keep_argmax_into(bool dense, const float* src, float scale, size_t vocab, const int32_t* id, const float* x,
                             size_t n, int32_t* oi, float* ox) {
  const size_t cnt = dense ? vocab : n;
  float best = -kInf;
  size_t bi = 0;
  for (size_t i = 0; i < cnt; ++i) {
    const float y = dense ? src[i] * scale : x[i];
    if (y > best) {
      best = y;
      bi = i;
    }
  }
  oi[0] = dense ? static_cast<int32_t>(bi) : id[bi];
  ox[0] = best;
}

void Chain::f_epsilon(double eps) {
  if (eps <= 0) return;
  const float m = view_max(false);
  const double Z = view_sumexp(m, nullptr);
  const float t = static_cast<float>(m + std::log(eps * Z));
  size_t k = gather_into(dense_, src_, scale_, vocab_, id_, x_, n_, t, OUT_IDS, OUT_XS);
  if (k == 0) {
    keep_argmax_into(dense_, src_, scale_, vocab_, id_, x_, n_, OUT_IDS, OUT_XS);
    k = 1;
  }
  set_sparse(k);
}

void Chain::f_eta(double eta) {
  if (eta <= 0) return;
  const float m = view_max(false);
  double s1 = 0;
  const double Z = view_sumexp(m, &s1);
  const double H = std::log(Z) - s1 / Z;
  const double thr = std::min(eta, std::sqrt(eta) * std::exp(-H));
  const float t = static_cast<float>(m + std::log(thr * Z));
  size_t k = gather_into(dense_, src_, scale_, vocab_, id_, x_, n_, t, OUT_IDS, OUT_XS);
  if (k == 0) {
    keep_argmax_into(dense_, src_, scale_, vocab_, id_, x_, n_, OUT_IDS, OUT_XS);
    k = 1;
  }
  set_sparse(k);
}

// Repetition (CTRL form), then frequency and presence (OpenAI form), over the last n
// tokens of the history (n = -1: all of it; 0: off).
void Chain::f_penalties(const Spec& s) {
  const int64_t last = s.n;
  if (last == 0 || history_.empty()) return;
  const size_t w = last < 0 ? history_.size() : std::min(history_.size(), static_cast<size_t>(last));
  tmpi_.assign(history_.end() - w, history_.end());
  std::sort(tmpi_.begin(), tmpi_.end());
  for (size_t i = 0; i < tmpi_.size();) {
    size_t j = i;
    while (j < tmpi_.size() && tmpi_[j] == tmpi_[i]) ++j;
    const int32_t tok = tmpi_[i];
    const double cnt = static_cast<double>(j - i);
    i = j;
    float y = lookup(dense_, src_, scale_, id_, x_, n_, tok);
    if (std::isnan(y) || y == -kInf) continue;
    y = y > 0 ? static_cast<float>(y / s.a) : static_cast<float>(y * s.a);
    y = static_cast<float>(y - (cnt * s.b + s.c));
    edit(tok, y);
  }
}

// DRY (p-e-w): for each earlier occurrence of the last token, the length L of the
// history suffix that repeats there (not crossing a sequence breaker) penalizes the token
// that followed it by multiplier * base^(L - allowed_length) when L >= allowed_length.
void Chain::f_dry(const Spec& s) {
  if (s.a <= 0 || s.d == 0) return;
  const int64_t last = static_cast<int64_t>(s.d);  // window: -1 = all
  const size_t w = last < 0 ? history_.size() : std::min(history_.size(), static_cast<size_t>(last));
  if (w < 2) return;
  const int32_t* h = history_.data() + (history_.size() - w);
  const size_t L = w;
  auto brk = [&](int32_t t) { return std::binary_search(s.ids.begin(), s.ids.end(), t); };
  const int32_t lastTok = h[L - 1];
  if (brk(lastTok)) return;
  std::vector<std::pair<int32_t, int64_t>> best;  // (next token, longest match)
  for (size_t i = 0; i + 1 < L; ++i) {
    if (h[i] != lastTok) continue;
    const int32_t next = h[i + 1];
    if (brk(next)) continue;
    int64_t len = 1;
    for (;;) {
      if (static_cast<int64_t>(i) - len < 0) break;
      const int32_t prev = h[L - 1 - len];
      if (h[i - len] != prev) break;
      if (brk(prev)) break;
      ++len;
    }
    bool found = false;
    for (auto& b : best)
      if (b.first == next) {
        b.second = std::max(b.second, len);
        found = true;
      }
    if (!found) best.emplace_back(next, len);
  }
  for (const auto& b : best) {
    if (b.second < s.n) continue;
    float y = lookup(dense_, src_, scale_, id_, x_, n_, b.first);
    if (std::isnan(y) || y == -kInf) continue;
    const double pen = s.a * std::pow(s.b, static_cast<double>(b.second - s.n));
    edit(b.first, static_cast<float>(y - pen));
  }
}

void Chain::f_bias(const Spec& s) {
  for (size_t i = 0; i < s.ids.size(); ++i) {
    const float y = lookup(dense_, src_, scale_, id_, x_, n_, s.ids[i]);
    if (std::isnan(y)) continue;
    edit(s.ids[i], s.vals[i] == -kInf ? -kInf : y + s.vals[i]);
  }
}

void Chain::f_banned(const Spec& s) {
  for (int32_t t : s.ids) {
    const float y = lookup(dense_, src_, scale_, id_, x_, n_, t);
    if (!std::isnan(y)) edit(t, -kInf);
  }
}

void Chain::to_sparse_ids(const std::vector<int32_t>& ids) {
  int32_t* oi = OUT_IDS;
  float* ox = OUT_XS;
  size_t k = 0;
  for (int32_t t : ids) {
    const float y = lookup(dense_, src_, scale_, id_, x_, n_, t);
    if (std::isnan(y) || y == -kInf) continue;
    oi[k] = t;
    ox[k] = y;
    ++k;
  }
  set_sparse(k);
}

// ---- mirostat ------------------------------------------------------------------------

// v1 (Basu et al.): s from the ratios of the top probabilities, k from the Zipf formula,
// sample from the top k. Paper form (variant 0, basusourya/mirostat estimate_s: `for i in
// range(m)`): m ratios p_i / p_{i+1}, i = 0..m-1, over the top m + 1 tokens; k = round(k) + 1
// and S under the ORIGINAL p. llama.cpp form (variant 1, llama_sampler_mirostat: i < m - 1):
// m - 1 ratios over the top m tokens; k = floor(k) (at least 1) and S under the renormalized p.
// With fewer finite tokens, every ratio among them is used.
void Chain::mirostat_v1_select(const Spec& s) {
  const float m = view_max(false);
  const double Z = view_sumexp(m, nullptr);
  const double lnZ = std::log(Z);
  const size_t want = static_cast<size_t>(s.n) + (s.variant == 1 ? 0 : 1);  // tokens the ratios need
  select_top(want, order_);
  const size_t mm = order_.size();
  double num = 0, den = 0;
  for (size_t i = 0; i + 1 < mm; ++i) {
    const double t = std::log((i + 2.0) / (i + 1.0));
    const double b = static_cast<double>(value_of(order_[i])) - value_of(order_[i + 1]);
    num += t * b;
    den += t * t;
  }
  size_t finite = 0;
  if (mm < want) {
    finite = mm;
  } else {
    const size_t n = count();
    for (size_t i = 0; i < n; ++i) finite += value_of(i) > -kInf;
  }
  double kf = 1;
  if (mm >= 2 && den > 0) {
    const double sh = num / den;
    const double eps = sh - 1;
    const double N = static_cast<double>(vocab_);
    const double ratio = std::fabs(eps) < 1e-9 ? 1.0 / std::log(N) : eps / (1 - std::pow(N, -eps));
    kf = std::pow(ratio * std::pow(2.0, mu_), 1.0 / sh);
  }
  double kd = s.variant == 1 ? std::floor(kf) : std::round(kf) + 1;
  if (!(kd >= 1)) kd = std::isnan(kd) ? static_cast<double>(finite) : 1;
  const size_t k = static_cast<size_t>(std::min(kd, static_cast<double>(std::max<size_t>(finite, 1))));
  if (k > mm) select_top(k, order_);
  order_.resize(std::min(k, order_.size()));
  std::sort(order_.begin(), order_.end());
  int32_t* oi = OUT_IDS;
  float* ox = OUT_XS;
  for (size_t j = 0; j < order_.size(); ++j) {
    oi[j] = id_of(order_[j]);
    ox[j] = value_of(order_[j]);
  }
  set_sparse(order_.size());
  // surprise (bits) per kept candidate
  last_ids_.assign(id_, id_ + n_);
  last_surprise_.resize(n_);
  double zk = 0;
  for (size_t i = 0; i < n_; ++i) zk += fexp(x_[i] - m);
  const double lnZk = std::log(zk);
  for (size_t i = 0; i < n_; ++i)
    last_surprise_[i] = -((x_[i] - static_cast<double>(m)) - (s.variant == 1 ? lnZk : lnZ)) / kLn2;
  last_valid_ = n_ > 0;
}

// v2: drop tokens with -log2 p > mu (keep at least the argmax), sample from the rest.
// S under the original p (variant 0) or the renormalized p (variant 1, llama.cpp).
void Chain::mirostat_v2_select(const Spec& s) {
  const float m = view_max(false);
  const double Z = view_sumexp(m, nullptr);
  const double lnZ = std::log(Z);
  const float t = static_cast<float>(m + lnZ - mu_ * kLn2);
  size_t k = gather_into(dense_, src_, scale_, vocab_, id_, x_, n_, t, OUT_IDS, OUT_XS);
  if (k == 0) {
    keep_argmax_into(dense_, src_, scale_, vocab_, id_, x_, n_, OUT_IDS, OUT_XS);
    k = 1;
  }
  set_sparse(k);
  last_ids_.assign(id_, id_ + n_);
  last_surprise_.resize(n_);
  double zk = 0;
  for (size_t i = 0; i < n_; ++i) zk += fexp(x_[i] - m);
  const double lnZk = std::log(zk);
  for (size_t i = 0; i < n_; ++i)
    last_surprise_[i] = -((x_[i] - static_cast<double>(m)) - (s.variant == 1 ? lnZk : lnZ)) / kLn2;
  last_valid_ = n_ > 0;
}

// ---- running ---------------------------------------------------------------------------

void Chain::run_filters(float* logits, size_t n) {
  check(n == vocab_, "LMP_E_SHAPE", "logits have " + std::to_string(n) + " entries, the chain's vocabulary is " + std::to_string(vocab_));
  dense_ = true;
  src_ = logits;
  scale_ = 1.f;
  edits_.clear();
  rawmax_valid_ = false;
  last_valid_ = false;
  lazy_ = false;
  // One checked pass: NaN / +inf anywhere is an error, whatever the chain reads later.
  const float m0 = view_max(true);
  if (m0 == -kInf) fail("LMP_E_NO_CANDIDATES", "every logit is -inf");
  for (size_t i = 0; i + 1 < specs_.size(); ++i) {
    const Spec& s = specs_[i];
    materialize();
    lazy_ok_ = i + 2 == specs_.size() && specs_[terminal_].kind == Kind::Sample;
    switch (s.kind) {
      case Kind::Temperature:
        if (dense_) {
          scale_ = static_cast<float>(scale_ / s.a);
        } else {
          const float f = static_cast<float>(1.0 / s.a);
          for (size_t j = 0; j < n_; ++j) x_[j] *= f;
        }
        break;
      case Kind::TopK: f_top_k(s.n); break;
      case Kind::TopP: f_top_p(s.a); break;
      case Kind::MinP: f_min_p(s.a); break;
      case Kind::Typical: f_typical(s.a, s.variant, s.ties == 1); break;
      case Kind::Epsilon: f_epsilon(s.a); break;
      case Kind::Eta: f_eta(s.a); break;
      case Kind::Penalties: f_penalties(s); break;
      case Kind::Dry: f_dry(s); break;
      case Kind::LogitBias: f_bias(s); break;
      case Kind::Allowed: to_sparse_ids(s.ids); break;
      case Kind::Banned: f_banned(s); break;
      default: break;
    }
    if (!dense_ && n_ == 0) fail("LMP_E_NO_CANDIDATES", "no candidate with a finite logit is left after sampler " + std::to_string(i));
  }
  lazy_ok_ = false;
  const Spec& t = specs_[terminal_];
  if (t.kind == Kind::Mirostat) mirostat_v1_select(t);
  if (t.kind == Kind::MirostatV2) mirostat_v2_select(t);
}

void Chain::terminal_weights() {
  const float m = view_max(false);
  if (m == -kInf) fail("LMP_E_NO_CANDIDATES", "every candidate has a -inf logit");
  wsum_ = dense_ ? kernels().sumexp(src_, vocab_, scale_, m, w_.data(), nullptr, bsum_.data())
                 : kernels().sumexp(x_, n_, 1.f, m, w_.data(), nullptr, bsum_.data());
}

int32_t Chain::sample(float* logits, size_t n, Trace* trace) {
  struct Guard {
    Chain* c;
    ~Guard() { c->undo_edits(); }
  } guard{this};
  run_filters(logits, n);
  const Spec& t = specs_[terminal_];
  int32_t tok = 0;
  size_t pos = 0;
  double final_lp = 0;
  if (t.kind == Kind::Greedy) {
    const size_t cnt = count();
    float best = -kInf;
    for (size_t i = 0; i < cnt; ++i) {
      const float y = value_of(i);
      if (y > best) {
        best = y;
        pos = i;
      }
    }
    if (best == -kInf) fail("LMP_E_NO_CANDIDATES", "every candidate has a -inf logit");
    tok = id_of(pos);
  } else if (lazy_) {
    // The lazy view of bracket_cut: the same draw over the kept tokens in ascending id, their
    // weights fexp(y - m) recomputed on the walk, whole blocks skipped by their kept mass.
    const size_t nb = (vocab_ + kSumBlk - 1) / kSumBlk;
    double wsum = 0;
    for (size_t b = 0; b < nb; ++b) wsum += bsum_[b];
    const double u = uniform();
    const double target = u * wsum;
    double acc = 0;
    size_t b = 0;
    while (b + 1 < nb && !(acc + bsum_[b] > target)) acc += bsum_[b++];
    const int32_t* ex = lz_extra_.data();
    const size_t nex = lz_extra_.size();
    size_t q = std::lower_bound(ex, ex + nex, static_cast<int32_t>(b * kSumBlk)) - ex;
    const float lo = lz_lo_, hi = lz_hi_, m = lz_m_, sc = scale_;
    bool found = false;
    size_t lastpos = vocab_;
    float lastw = 0;
    for (size_t i = b * kSumBlk; i < vocab_; ++i) {
      const float y = src_[i] * sc;
      const bool e = q < nex && static_cast<size_t>(ex[q]) == i;
      q += e;
      if (!(((y > lo) & (y < hi)) | e) || !(y > -kInf)) continue;
      const float w = fexp(y - m);
      if (w <= 0) continue;
      acc += w;
      lastpos = i;
      lastw = w;
      if (acc > target) {
        found = true;
        break;
      }
    }
    if (!found && lastpos == vocab_) {
      // rounding left the walk short from this block on: the last kept token with weight
      for (size_t i = vocab_; i-- > 0;) {
        const float y = src_[i] * sc;
        const bool e = std::binary_search(ex, ex + nex, static_cast<int32_t>(i));
        if ((((y > lo) & (y < hi)) | e) && y > -kInf && fexp(y - m) > 0) {
          lastpos = i;
          lastw = fexp(y - m);
          break;
        }
      }
    }
    pos = lastpos;
    tok = static_cast<int32_t>(pos);
    final_lp = std::log(static_cast<double>(lastw) / wsum);
  } else {
    terminal_weights();
    const double u = uniform();
    const double target = u * wsum_;
    const size_t cnt = count();
    // Walk in ascending id: whole 1024-blocks are skipped by their sums, then the running
    // sum goes element by element (continuing past the block if rounding requires it).
    double acc = 0;
    size_t b = 0;
    const size_t nb = (cnt + kSumBlk - 1) / kSumBlk;
    while (b + 1 < nb && !(acc + bsum_[b] > target)) acc += bsum_[b++];
    bool found = false;
    size_t lastpos = cnt;
    for (size_t i = b * kSumBlk; i < cnt; ++i) {
      if (w_[i] <= 0) continue;
      acc += w_[i];
      lastpos = i;
      if (acc > target) {
        pos = i;
        found = true;
        break;
      }
    }
    if (!found) {
      if (lastpos == cnt)
        for (size_t i = cnt; i-- > 0;)
          if (w_[i] > 0) {
            lastpos = i;
            break;
          }
      pos = lastpos;
    }
    tok = id_of(pos);
    final_lp = std::log(static_cast<double>(w_[pos]) / wsum_);
  }
  if (trace) {
    size_t kept = count();
    if (lazy_) {  // the lazy view's size, counted only when a trace asks for it
      kept = lz_nk_;
      for (size_t i = 0; i < vocab_; ++i) {
        const float y = src_[i] * scale_;
        kept += (y > lz_lo_) & (y < lz_hi_);
      }
    }
    lazy_ = false;
    undo_edits();
    dense_ = true;
    scale_ = 1.f;
    rawmax_valid_ = false;
    const float m = view_max(false);
    double s1 = 0;
    const double Z = view_sumexp(m, &s1);
    trace->entropy = std::log(Z) - s1 / Z;
    trace->logprob = static_cast<double>(logits[tok]) - m - std::log(Z);
    trace->kept = static_cast<double>(t.kind == Kind::Greedy ? 1 : kept);
    trace->final_logprob = final_lp;
  }
  return tok;
}

size_t Chain::distribution(float* logits, size_t n, float* out) {
  struct Guard {
    Chain* c;
    ~Guard() { c->undo_edits(); }
  } guard{this};
  run_filters(logits, n);
  materialize();
  std::fill(out, out + vocab_, 0.f);
  const Spec& t = specs_[terminal_];
  if (t.kind == Kind::Greedy) {
    const size_t cnt = count();
    float best = -kInf;
    size_t pos = 0;
    for (size_t i = 0; i < cnt; ++i) {
      const float y = value_of(i);
      if (y > best) {
        best = y;
        pos = i;
      }
    }
    out[id_of(pos)] = 1.f;
    return 1;
  }
  terminal_weights();
  const size_t cnt = count();
  size_t k = 0;
  for (size_t i = 0; i < cnt; ++i) {
    out[id_of(i)] = static_cast<float>(static_cast<double>(w_[i]) / wsum_);
    k += w_[i] > 0;
  }
  return k;
}

}  // namespace sampling
}  // namespace lmp
