// Parity of native/cuda/model (the model layers, their backwards, AdamW, reductions, the cuBLAS GEMM
// wrapper, device memory and its errors) against the CPU kernels they mirror (native/src/model,
// native/src/attention rope) and float64 references, on awkward sizes (1, 7, 65; 64, 96, 257).
//
// Tolerances (|got - ref| <= atol + rtol |ref|, ref in float64 from the values the kernel sees, i.e.
// bf16 inputs rounded first):
//   exact         embedding gather (any dtype pair), embedding scatter-add vs the CPU kernel (same
//                 order), bf16 conversion and AdamW's bf16 copy vs an independent RNE, the clip scale
//                 vs the trainer's formula on the same sums, determinism (two runs, same bits)
//   f32 out       rtol 2e-6 (RMSNorm, RoPE, SwiGLU: a few roundings), 1e-5 for sums over a row
//                 (RMSNorm dx, cross-entropy), AdamW 1e-6 vs the CPU kernel (same float formula)
//   bf16 out      + 2^-8 relative (one rounding of the result: half an ulp is at most 2^-8 of it)
//   float64 sums  rtol 1e-12 (sum of squares)
//   GEMM          |err| <= gamma * sum_k |a_ik b_kj| per element, gamma = 2 K 2^-24 (fp32 accumulation),
//                 + 2^-10 for TF32 inputs, + 2^-8 |ref| for a bf16 C
// Emulated sizes stay small (npm test); model_layers_large and model_timings run on a GPU only,
// with LMP_MODEL_LARGE=1 (bench/gpu/model.sh).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "attention/attention.h"
#include "core/status.h"
#include "model/layers.h"
#include "model/model.h"
#include "parity/parity.h"
#include "sampling/sampling.h"

namespace {

namespace cm = lmp::cuda::model;
namespace cpu = lmp::model;
using cm::DType;
using cm::Tensor;
using lmp::parity::expect;
using lmp::parity::expect_close;
using lmp::parity::expect_equal;
using lmp::parity::note;

// ------------------------------------------------------------------------------ host references

// bf16 round-to-nearest-even, written independently of the kernels' conversion: pick the nearer
// of the two bf16 neighbours in double (exact), ties to the even one; NaN -> 0x7FFF.
uint16_t ref_bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if (std::isnan(x)) return 0x7fff;
  if (std::isinf(x)) return static_cast<uint16_t>(u >> 16);
  const uint32_t lo = u & 0xffff0000u, hi = lo + 0x10000u;  // same sign: |lo| <= |x| < |hi|
  float flo, fhi;
  std::memcpy(&flo, &lo, 4);
  std::memcpy(&fhi, &hi, 4);
  // hi may be infinity: it then stands for 2^128 (the next power past the largest finite value)
  const double dhi = std::isinf(fhi) ? std::copysign(std::ldexp(1.0, 128), fhi) : static_cast<double>(fhi);
  const double dl = std::fabs(static_cast<double>(x) - flo), dh = std::fabs(dhi - x);
  if (dl < dh) return static_cast<uint16_t>(lo >> 16);
  if (dh < dl) return static_cast<uint16_t>(hi >> 16);
  return static_cast<uint16_t>(((lo >> 16) & 1u) ? hi >> 16 : lo >> 16);
}
float from_bf16(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
// The values a kernel sees in a tensor of dtype d.
std::vector<float> as_seen(const std::vector<float>& v, DType d) {
  if (d != DType::BF16) return v;
  std::vector<float> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = from_bf16(ref_bf16(v[i]));
  return r;
}
double out_rtol(DType d, double f32_rtol) { return d == DType::BF16 ? f32_rtol + std::ldexp(1.0, -8) : f32_rtol; }
const char* dn(DType d) { return cm::dtype_name(d); }

// ------------------------------------------------------------------------------ device helpers

struct Dev {
  Tensor t;
  Dev(DType d, int64_t n) : t(cm::alloc(d, n)) {}
  ~Dev() {
    try {
      cm::free(t);
    } catch (...) {
    }
  }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  operator const Tensor&() const { return t; }
};

void put(const Tensor& t, const std::vector<float>& v) {
  if (t.dtype == DType::BF16) {
    std::vector<uint16_t> h(v.size());
    for (size_t i = 0; i < v.size(); ++i) h[i] = ref_bf16(v[i]);
    cm::upload(t, h.data(), h.size() * 2);
  } else {
    cm::upload(t, v.data(), v.size() * 4);
  }
}
template <typename T>
void put_raw(const Tensor& t, const std::vector<T>& v) {
  cm::upload(t, v.data(), v.size() * sizeof(T));
}
std::vector<float> get(const Tensor& t) {
  std::vector<float> r(static_cast<size_t>(t.numel));
  if (t.dtype == DType::BF16) {
    std::vector<uint16_t> h(r.size());
    cm::download(h.data(), t, h.size() * 2);
    for (size_t i = 0; i < h.size(); ++i) r[i] = from_bf16(h[i]);
  } else {
    cm::download(r.data(), t, r.size() * 4);
  }
  return r;
}
template <typename T>
std::vector<T> get_raw(const Tensor& t) {
  std::vector<T> r(static_cast<size_t>(t.numel));
  cm::download(r.data(), t, r.size() * sizeof(T));
  return r;
}
std::unique_ptr<Dev> dev(DType d, const std::vector<float>& v) {
  auto p = std::make_unique<Dev>(d, static_cast<int64_t>(v.size()));
  put(p->t, v);
  return p;
}
std::unique_ptr<Dev> dev_i32(const std::vector<int32_t>& v) {
  auto p = std::make_unique<Dev>(DType::I32, static_cast<int64_t>(v.size()));
  put_raw(p->t, v);
  return p;
}
std::unique_ptr<Dev> dev_f64(const std::vector<double>& v) {
  auto p = std::make_unique<Dev>(DType::F64, static_cast<int64_t>(v.size()));
  put_raw(p->t, v);
  return p;
}

// f throws lmp::Error with this code (and, when given, exactly this message).
void expect_error(const std::string& what, const char* code, const std::function<void()>& f, const std::string& message = "") {
  try {
    f();
    expect(false, what + ": no error (expected " + code + ")");
  } catch (const lmp::Error& e) {
    const bool ok = e.code() == code && (message.empty() || message == e.what());
    expect(ok, what + ": " + e.code() + " '" + e.what() + "'" + (ok ? "" : std::string(" (expected ") + code + " '" + message + "')"));
  }
}
std::string cpu_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const lmp::Error& e) {
    return e.what();
  }
  return "(no error)";
}

bool bits_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}
std::string sz(std::initializer_list<int64_t> v) {
  std::string s;
  for (int64_t x : v) s += (s.empty() ? "" : "x") + std::to_string(x);
  return s;
}
std::vector<int32_t> random_ids(lmp::parity::Rng& rng, size_t n, int64_t vocab) {
  std::vector<int32_t> t(n);
  // A small pool so ids repeat (the scatter-add's interesting case), plus the ends of the range.
  const int64_t pool = std::max<int64_t>(1, std::min<int64_t>(vocab, static_cast<int64_t>(n / 2 + 1)));
  for (size_t i = 0; i < n; ++i) t[i] = static_cast<int32_t>(rng.below(static_cast<size_t>(pool)) * (vocab / pool));
  if (n > 1) t[n - 1] = static_cast<int32_t>(vocab - 1);
  return t;
}
const DType kFloat[] = {DType::F32, DType::BF16};

// ------------------------------------------------------------------------------ conversions

void conversions_case(lmp::parity::Rng& rng, size_t n) {
  std::vector<float> x = rng.normals(n, 100.0);
  const float specials[] = {0.f, -0.f, 1.f, INFINITY, -INFINITY, NAN, 1e-40f, -3e38f, 3.4e38f,
                            from_bf16(0x3f80) + std::ldexp(1.f, -8),                     // a tie, to even (down)
                            from_bf16(0x3f81) + std::ldexp(1.f, -8), 65504.f, 1.00390625f};  // a tie, up
  for (size_t i = 0; i < std::size(specials) && i < n; ++i) x[i] = specials[i];
  auto s = dev(DType::F32, x);
  Dev b(DType::BF16, static_cast<int64_t>(n)), f(DType::F32, static_cast<int64_t>(n));
  cm::convert(*s, b);
  cm::convert(b, f);
  std::vector<uint16_t> got = get_raw<uint16_t>(b.t), ref(n);
  for (size_t i = 0; i < n; ++i) ref[i] = ref_bf16(x[i]);
  expect_equal("f32 -> bf16 n=" + std::to_string(n), got.data(), ref.data(), n);
  std::vector<float> back = get(f.t), want(n);
  for (size_t i = 0; i < n; ++i) want[i] = from_bf16(ref[i]);
  expect(bits_equal(back, want), "bf16 -> f32 n=" + std::to_string(n) + ": exact");
}

// ------------------------------------------------------------------------------ embedding

void embedding_case(lmp::parity::Rng& rng, int64_t V, int64_t D, int64_t n) {
  const std::vector<float> table = rng.normals(static_cast<size_t>(V * D));
  const std::vector<int32_t> ids = random_ids(rng, static_cast<size_t>(n), V);
  auto tok = dev_i32(ids);
  for (DType tt : kFloat)
    for (DType to : kFloat) {
      auto tab = dev(tt, table);
      Dev out(to, n * D);
      cm::embedding_forward(*tab, V, D, *tok, out);
      const std::vector<float> seen = as_seen(table, tt);
      std::vector<float> ref(static_cast<size_t>(n * D));
      for (int64_t t = 0; t < n; ++t)
        for (int64_t c = 0; c < D; ++c) ref[t * D + c] = seen[ids[t] * D + c];
      expect(bits_equal(get(out.t), as_seen(ref, to)),
             std::string("forward ") + dn(tt) + " -> " + dn(to) + " " + sz({V, D, n}) + ": exact gather");
      if (tt == DType::F32 && to == DType::F32) {
        std::vector<float> c(static_cast<size_t>(n * D));
        cpu::embedding_forward(table.data(), V, D, ids.data(), n, c.data());
        expect(bits_equal(get(out.t), c), "forward f32 " + sz({V, D, n}) + ": the CPU kernel's bits");
      }
    }
  // backward: into a non-zero table, the CPU's order -> the CPU's bits; and the float64 sum
  const std::vector<float> dtable0 = rng.normals(static_cast<size_t>(V * D));
  const std::vector<int32_t> index = cm::embedding_index(ids.data(), n, V);
  auto idx = dev_i32(index);
  for (DType td : kFloat) {
    const std::vector<float> dout = as_seen(rng.normals(static_cast<size_t>(n * D)), td);
    auto dd = dev(td, dout);
    auto dt = dev(DType::F32, dtable0);
    cm::embedding_backward(*dd, *idx, n, V, D, *dt);
    const std::vector<float> got = get(dt->t);
    std::vector<float> c = dtable0;
    cpu::embedding_backward(dout.data(), ids.data(), n, V, D, c.data());
    expect(bits_equal(got, c), std::string("backward ") + dn(td) + " " + sz({V, D, n}) + ": the CPU kernel's bits");
    std::vector<double> ref(dtable0.begin(), dtable0.end());
    for (int64_t t = 0; t < n; ++t)
      for (int64_t k = 0; k < D; ++k) ref[ids[t] * D + k] += dout[t * D + k];
    expect_close(std::string("backward ") + dn(td) + " " + sz({V, D, n}) + " vs float64", got.data(), ref.data(), ref.size(),
                 1e-6 * static_cast<double>(n), 1e-6);
    // determinism: a second run from the same table gives the same bits
    put(dt->t, dtable0);
    cm::embedding_backward(*dd, *idx, n, V, D, *dt);
    expect(bits_equal(get(dt->t), got), std::string("backward ") + dn(td) + ": same bits on a second run");
  }
}

// ------------------------------------------------------------------------------ RMSNorm

// x_scale: 2 for O(1) rows; 3e-3 makes mean(x^2) comparable to eps (so eps is checked too).
void rmsnorm_case(lmp::parity::Rng& rng, int64_t rows, int64_t dim, double x_scale = 2.0) {
  const float eps = 1e-5f;
  const size_t n = static_cast<size_t>(rows * dim);
  const std::vector<float> x0 = rng.normals(n, x_scale), dy0 = rng.normals(n), dx0 = rng.normals(n), dw0 = rng.normals(static_cast<size_t>(dim));
  std::vector<float> w = rng.normals(static_cast<size_t>(dim), 0.2);
  for (auto& v : w) v += 1.f;
  auto wd = dev(DType::F32, w);
  for (DType tx : kFloat)
    for (DType ty : kFloat) {
      const std::string tag = std::string(dn(tx)) + "->" + dn(ty) + " " + sz({rows, dim});
      const std::vector<float> x = as_seen(x0, tx);
      auto xd = dev(tx, x0);
      Dev y(ty, rows * dim), rstd(DType::F32, rows);
      cm::rmsnorm_forward(*xd, *wd, rows, dim, eps, y, rstd);
      const std::vector<float> rs = get(rstd.t);
      std::vector<double> yref(n), rref(static_cast<size_t>(rows));
      for (int64_t r = 0; r < rows; ++r) {
        double ss = 0;
        for (int64_t c = 0; c < dim; ++c) ss += static_cast<double>(x[r * dim + c]) * x[r * dim + c];
        rref[r] = 1.0 / std::sqrt(ss / dim + eps);
        for (int64_t c = 0; c < dim; ++c) yref[r * dim + c] = x[r * dim + c] * rref[r] * w[c];
      }
      expect_close("forward rstd " + tag, rs.data(), rref.data(), rref.size(), 0, 1e-6);
      expect_close("forward y " + tag, get(y.t).data(), yref.data(), n, 1e-6, out_rtol(ty, 2e-6));
      if (tx == DType::F32 && ty == DType::F32) {
        std::vector<float> cy(n), cr(static_cast<size_t>(rows));
        cpu::rmsnorm_forward(x.data(), w.data(), rows, dim, eps, cy.data(), cr.data());
        expect_close("forward y vs CPU " + tag, get(y.t).data(), cy.data(), n, 1e-6, 2e-6);
      }
      // backward with dy of y's dtype, into dx (= and +=) and a non-zero dw
      const std::vector<float> dy = as_seen(dy0, ty);
      auto dyd = dev(ty, dy0);
      for (bool acc : {false, true}) {
        auto dxd = dev(DType::F32, dx0);
        auto dwd = dev(DType::F32, dw0);
        cm::rmsnorm_backward(*dyd, *xd, *wd, rstd, rows, dim, *dxd, acc, *dwd);
        std::vector<double> dxr(n), dwr(dw0.begin(), dw0.end());
        for (int64_t r = 0; r < rows; ++r) {
          const double s = rs[r];
          double dot = 0;
          for (int64_t c = 0; c < dim; ++c) dot += static_cast<double>(dy[r * dim + c]) * w[c] * x[r * dim + c];
          const double k = dot * s * s * s / dim;
          for (int64_t c = 0; c < dim; ++c) {
            const size_t i = static_cast<size_t>(r * dim + c);
            dxr[i] = (acc ? dx0[i] : 0.0) + dy[i] * w[c] * s - x[i] * k;
            dwr[c] += static_cast<double>(dy[i]) * x[i] * s;
          }
        }
        const std::string bt = std::string("backward") + (acc ? " +=" : "") + " " + tag;
        const std::vector<float> gdx = get(dxd->t), gdw = get(dwd->t);
        expect_close(bt + " dx", gdx.data(), dxr.data(), n, 1e-5, 1e-5);
        expect_close(bt + " dw", gdw.data(), dwr.data(), dwr.size(), 1e-6 * rows, 1e-5);
        if (tx == DType::F32 && ty == DType::F32) {
          std::vector<float> cdx = dx0, cdw = dw0;
          cpu::rmsnorm_backward(dy.data(), x.data(), w.data(), rs.data(), rows, dim, cdx.data(), acc, cdw.data());
          expect_close(bt + " dx vs CPU", gdx.data(), cdx.data(), n, 1e-5, 1e-5);
          expect_close(bt + " dw vs CPU", gdw.data(), cdw.data(), cdw.size(), 1e-6 * rows, 1e-5);
        }
        put(dwd->t, dw0);
        put(dxd->t, dx0);
        cm::rmsnorm_backward(*dyd, *xd, *wd, rstd, rows, dim, *dxd, acc, *dwd);
        expect(bits_equal(get(dwd->t), gdw) && bits_equal(get(dxd->t), gdx), bt + ": same bits on a second run");
      }
    }
}

// ------------------------------------------------------------------------------ SwiGLU

void swiglu_case(lmp::parity::Rng& rng, size_t n) {
  std::vector<float> g0 = rng.normals(n, 3.0);
  const float edges[] = {0.f, -30.f, 30.f, -88.f, 88.f, -100.f};  // exp(-g) large, overflowing
  for (size_t i = 0; i < std::size(edges) && i < n; ++i) g0[i] = edges[i];
  const std::vector<float> u0 = rng.normals(n), dh0 = rng.normals(n);
  for (DType t : kFloat) {
    const std::vector<float> g = as_seen(g0, t), u = as_seen(u0, t), dh = as_seen(dh0, t);
    auto gd = dev(t, g0), ud = dev(t, u0), dhd = dev(t, dh0);
    Dev h(t, static_cast<int64_t>(n)), dg(t, static_cast<int64_t>(n)), du(t, static_cast<int64_t>(n));
    cm::swiglu_forward(*gd, *ud, h);
    cm::swiglu_backward(*gd, *ud, *dhd, dg, du);
    std::vector<double> hr(n), dgr(n), dur(n);
    for (size_t i = 0; i < n; ++i) {
      const double s = 1.0 / (1.0 + std::exp(-static_cast<double>(g[i])));
      hr[i] = g[i] * s * u[i];
      dgr[i] = dh[i] * u[i] * (s * (1 + g[i] * (1 - s)));
      dur[i] = dh[i] * g[i] * s;
    }
    const std::string tag = std::string(dn(t)) + " n=" + std::to_string(n);
    const std::vector<float> gh = get(h.t), gdg = get(dg.t), gdu = get(du.t);
    expect_close("forward " + tag, gh.data(), hr.data(), n, 1e-7, out_rtol(t, 2e-6));
    expect_close("backward dg " + tag, gdg.data(), dgr.data(), n, 1e-7, out_rtol(t, 2e-6));
    expect_close("backward du " + tag, gdu.data(), dur.data(), n, 1e-7, out_rtol(t, 2e-6));
    if (t == DType::F32) {
      std::vector<float> ch(n), cdg(n), cdu(n);
      cpu::swiglu_forward(g.data(), u.data(), static_cast<int64_t>(n), ch.data());
      cpu::swiglu_backward(g.data(), u.data(), dh.data(), static_cast<int64_t>(n), cdg.data(), cdu.data());
      expect_close("forward vs CPU " + tag, gh.data(), ch.data(), n, 1e-7, 2e-6);
      expect_close("backward dg vs CPU " + tag, gdg.data(), cdg.data(), n, 1e-7, 2e-6);
      expect_close("backward du vs CPU " + tag, gdu.data(), cdu.data(), n, 1e-7, 2e-6);
    }
  }
}

// ------------------------------------------------------------------------------ LM-Infinite: two attention calls combined

// Against the formula in float64: rows where one side sees nothing (lse -inf), both, lse gaps that
// underflow one weight (-120), equal lse; awkward row counts and head dims.
void attn_combine_case(lmp::parity::Rng& rng, int64_t rows, int64_t hd) {
  const size_t n = static_cast<size_t>(rows * hd);
  const std::vector<float> oa0 = rng.normals(n), ob0 = rng.normals(n);
  std::vector<float> la = rng.normals(static_cast<size_t>(rows), 3.0), lb = rng.normals(static_cast<size_t>(rows), 3.0);
  const float inf = std::numeric_limits<float>::infinity();
  for (int64_t r = 0; r < rows; ++r) {
    if (r % 7 == 1) la[r] = -inf;
    if (r % 7 == 2) lb[r] = -inf;
    if (r % 7 == 3) la[r] = lb[r] = -inf;
    if (r % 7 == 4) la[r] = lb[r] - 120.f;
    if (r % 7 == 5) la[r] = lb[r];
  }
  for (DType t : kFloat) {
    const std::vector<float> oa = as_seen(oa0, t), ob = as_seen(ob0, t);
    auto oad = dev(t, oa0), obd = dev(t, ob0), lad = dev(DType::F32, la), lbd = dev(DType::F32, lb);
    Dev out(t, static_cast<int64_t>(n)), lse(DType::F32, rows);
    cm::attn_combine(*oad, *lad, *obd, *lbd, rows, hd, out, lse);
    std::vector<double> oref(n), lref(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
      const double a = la[r], b = lb[r], m = std::max(a, b);
      if (m == -static_cast<double>(inf)) {
        lref[r] = -static_cast<double>(inf);
        for (int64_t d = 0; d < hd; ++d) oref[r * hd + d] = 0;
        continue;
      }
      const double wa = std::exp(a - m), wb = std::exp(b - m), z = wa + wb;
      lref[r] = m + std::log(z);
      for (int64_t d = 0; d < hd; ++d) oref[r * hd + d] = (wa * oa[r * hd + d] + wb * ob[r * hd + d]) / z;
    }
    const std::string tag = std::string(dn(t)) + " rows=" + std::to_string(rows) + " hd=" + std::to_string(hd);
    expect_close("out " + tag, get(out.t).data(), oref.data(), n, 1e-6, out_rtol(t, 2e-6));
    const std::vector<float> gl = get(lse.t);
    std::vector<double> lfin(lref);
    std::vector<float> gfin(gl);
    int64_t wrongInf = 0;
    for (int64_t r = 0; r < rows; ++r)
      if (std::isinf(lref[r])) wrongInf += !(std::isinf(gl[r]) && gl[r] < 0), lfin[r] = 0, gfin[r] = 0;
    expect(wrongInf == 0, "lse -inf where neither side sees a key " + tag + ": " + std::to_string(wrongInf) + " rows differ");
    expect_close("lse " + tag, gfin.data(), lfin.data(), static_cast<size_t>(rows), 1e-6, 1e-6);
  }
}

// ------------------------------------------------------------------------------ cross-entropy

void cross_entropy_case(lmp::parity::Rng& rng, int64_t rows, int64_t vocab) {
  const size_t n = static_cast<size_t>(rows * vocab);
  const std::vector<float> l0 = rng.normals(n, 4.0);
  std::vector<int32_t> tg(static_cast<size_t>(rows));
  std::vector<float> wt(static_cast<size_t>(rows), 1.f);
  for (int64_t r = 0; r < rows; ++r) tg[r] = static_cast<int32_t>(rng.below(static_cast<size_t>(vocab)));
  if (rows > 2) {
    tg[1] = -1;     // ignored by target
    wt[2] = 0.f;    // ignored by weight
  }
  if (rows > 3) wt[3] = 2.5f;
  double count = 0;
  for (int64_t r = 0; r < rows; ++r) count += tg[r] >= 0 ? wt[r] : 0;
  const float scale = count > 0 ? static_cast<float>(1.0 / count) : 0.f;
  auto td = dev_i32(tg);
  auto wd = dev(DType::F32, wt);
  for (DType t : kFloat) {
    const std::vector<float> l = as_seen(l0, t);
    std::vector<double> lref(static_cast<size_t>(rows)), dref(n);
    for (int64_t r = 0; r < rows; ++r) {
      const float* lr = &l[r * vocab];
      double m = -INFINITY, s = 0;
      for (int64_t j = 0; j < vocab; ++j) m = std::max(m, static_cast<double>(lr[j]));
      for (int64_t j = 0; j < vocab; ++j) s += std::exp(lr[j] - m);
      const double lse = m + std::log(s), w = tg[r] < 0 ? 0.0 : wt[r], c = w * scale;
      lref[r] = w == 0 ? 0.0 : w * (lse - lr[tg[r]]);
      for (int64_t j = 0; j < vocab; ++j) dref[r * vocab + j] = c * std::exp(lr[j] - lse) - (j == tg[r] ? c : 0.0);
    }
    const std::string tag = std::string(dn(t)) + " " + sz({rows, vocab});
    auto ld = dev(t, l0);
    Dev loss(DType::F32, rows), dl(t, static_cast<int64_t>(n));
    cm::cross_entropy(*ld, rows, vocab, *td, *wd, scale, loss, &dl.t);
    const std::vector<float> gl = get(loss.t), gd = get(dl.t);
    expect_close("loss " + tag, gl.data(), lref.data(), lref.size(), 1e-5, 1e-6);
    expect_close("dlogits " + tag, gd.data(), dref.data(), n, 1e-6 * scale, out_rtol(t, 1e-5));
    // in place (dlogits = the logits tensor): the same values
    cm::cross_entropy(*ld, rows, vocab, *td, *wd, scale, loss, &ld->t);
    expect(bits_equal(get(ld->t), gd) && bits_equal(get(loss.t), gl), "in place " + tag + ": same bits as out of place");
    // loss only
    Dev loss2(DType::F32, rows);
    auto ld2 = dev(t, l0);
    cm::cross_entropy(*ld2, rows, vocab, *td, *wd, scale, loss2, nullptr);
    expect(bits_equal(get(loss2.t), gl), "loss only " + tag + ": same loss");
    if (t == DType::F32) {
      std::vector<float> cl(static_cast<size_t>(rows)), cd(n);
      cpu::cross_entropy(l.data(), rows, vocab, tg.data(), wt.data(), scale, cl.data(), cd.data());
      expect_close("loss vs CPU " + tag, gl.data(), cl.data(), cl.size(), 1e-5, 1e-6);
      expect_close("dlogits vs CPU " + tag, gd.data(), cd.data(), n, 1e-6 * scale, 1e-5);
    }
  }
}

// ------------------------------------------------------------------------------ RoPE

void rope_ref(const std::vector<float>& x, int64_t n, int64_t H, int64_t D, const std::vector<int32_t>& pos, const std::vector<double>& inv,
              double mscale, bool inverse, std::vector<double>& out) {
  const int64_t half = D / 2;
  out.assign(x.begin(), x.end());
  for (int64_t t = 0; t < n; ++t)
    for (int64_t h = 0; h < H; ++h) {
      const float* xh = &x[(t * H + h) * D];
      double* o = &out[(t * H + h) * D];
      for (int64_t i = 0; i < half; ++i) {
        const double a = pos[t] * inv[i], c = std::cos(a) * mscale, s = (inverse ? -std::sin(a) : std::sin(a)) * mscale;
        o[i] = xh[i] * c - xh[i + half] * s;
        o[i + half] = xh[i + half] * c + xh[i] * s;
      }
      if (D % 2) o[D - 1] = xh[D - 1] * mscale;
    }
}

void rope_case(lmp::parity::Rng& rng, int64_t n, int64_t H, int64_t D, double theta) {
  const size_t len = static_cast<size_t>(n * H * D);
  const std::vector<float> x0 = rng.normals(len);
  std::vector<int32_t> pos(static_cast<size_t>(n));
  for (int64_t t = 0; t < n; ++t) pos[t] = static_cast<int32_t>(rng.below(8192));
  if (n > 1) pos[0] = 0;
  auto pd = dev_i32(pos);
  const std::string shape = sz({n, H, D});
  // plain RoPE: the model's CPU kernel (even D)
  if (D % 2 == 0) {
    const std::vector<double> inv = cm::rope_inv_freq(D, theta);
    auto fd = dev_f64(inv);
    for (DType t : kFloat) {
      const std::vector<float> x = as_seen(x0, t);
      for (bool inverse : {false, true}) {
        auto xd = dev(t, x0);
        cm::rope(*xd, n, H, D, *pd, *fd, 1.f, inverse);
        std::vector<double> ref;
        rope_ref(x, n, H, D, pos, inv, 1.0, inverse, ref);
        const std::vector<float> got = get(xd->t);
        const std::string tag = std::string(inverse ? "inverse " : "forward ") + dn(t) + " " + shape + " theta " + std::to_string(static_cast<long>(theta));
        expect_close(tag, got.data(), ref.data(), len, 1e-6, out_rtol(t, 2e-6));
        if (t == DType::F32) {
          std::vector<float> c = x;
          cpu::rope(c.data(), n, H, D, pos.data(), theta, inverse);
          expect_close(tag + " vs CPU", got.data(), c.data(), len, 1e-6, 2e-6);
        }
      }
      // the inverse undoes the forward
      if (t == DType::F32) {
        auto xd = dev(t, x0);
        cm::rope(*xd, n, H, D, *pd, *fd, 1.f, false);
        cm::rope(*xd, n, H, D, *pd, *fd, 1.f, true);
        expect_close("inverse(forward) = x " + shape, get(xd->t).data(), x0.data(), len, 1e-6, 1e-5);
      }
    }
  }
  // scaled frequencies from the host, with mscale (runtime/attention's rope; any D)
  std::vector<float> invf(static_cast<size_t>(D / 2));
  for (size_t i = 0; i < invf.size(); ++i)
    invf[i] = static_cast<float>(std::pow(theta, -2.0 * i / D) / (1.0 + 3.0 * static_cast<double>(i) / invf.size()));
  const std::vector<double> inv(invf.begin(), invf.end());
  auto fd = dev_f64(inv);
  const float mscale = 1.1f;
  for (bool inverse : {false, true}) {
    auto xd = dev(DType::F32, x0);
    cm::rope(*xd, n, H, D, *pd, *fd, mscale, inverse);
    const std::vector<float> got = get(xd->t);
    std::vector<float> posf(pos.begin(), pos.end()), c(len);
    lmp::attn::rope(x0.data(), c.data(), n, H, D, posf.data(), invf.data(), mscale, inverse);
    std::vector<double> ref;
    rope_ref(x0, n, H, D, pos, inv, mscale, inverse, ref);
    const std::string tag = std::string("scaled ") + (inverse ? "inverse " : "forward ") + shape;
    expect_close(tag, got.data(), ref.data(), len, 1e-6, 2e-6);
    expect_close(tag + " vs CPU (attention rope)", got.data(), c.data(), len, 1e-6, 2e-6);
  }
}

// ------------------------------------------------------------------------------ AdamW, sums, clip

void adamw_case(lmp::parity::Rng& rng, int64_t n) {
  const size_t N = static_cast<size_t>(n);
  std::vector<float> p = rng.normals(N), m(N, 0.f), v(N, 0.f);
  auto pd = dev(DType::F32, p), md = dev(DType::F32, m), vd = dev(DType::F32, v);
  Dev p16(DType::BF16, n), ss(DType::F64, 1), sc(DType::F64, 2);
  const double lr = 1e-3, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1;
  for (int step = 1; step <= 3; ++step) {
    const std::vector<float> g = rng.normals(N, 0.1);
    auto gd = dev(DType::F32, g);
    double gs = 1.0;
    const std::string tag = "n=" + std::to_string(n) + " step " + std::to_string(step);
    if (step == 3) {  // the clip scale from the device: clip at half the norm
      cm::reduce_sum(*gd, true, ss, 0);
      double s = 0;
      for (float x : g) s += static_cast<double>(x) * x;
      cm::clip_scale(ss, 1, 0.5 * std::sqrt(s), sc);
      const std::vector<double> nsc = get_raw<double>(sc.t);
      gs = nsc[1];
      expect(gs < 1 && gs > 0.4, tag + ": clip scale " + std::to_string(gs));
      cm::adamw(*pd, *gd, *md, *vd, lr, b1, b2, eps, wd, step, 1.0, &sc.t, 1, &p16.t);
    } else {
      gs = step == 2 ? 0.5 : 1.0;
      cm::adamw(*pd, *gd, *md, *vd, lr, b1, b2, eps, wd, step, gs, nullptr, 0, &p16.t);
    }
    // float64 reference of the same update from the previous state, with the kernel's float
    // constants (betas, step size, 1/sqrt(bc2), decay, eps and the scale are floats by its definition)
    std::vector<double> pr(N), mr(N), vr(N);
    const double bc1 = 1 - std::pow(b1, step), bc2 = 1 - std::pow(b2, step);
    const double fb1 = static_cast<float>(b1), fb2 = static_cast<float>(b2), fstep = static_cast<float>(lr / bc1),
                 fisb = static_cast<float>(1 / std::sqrt(bc2)), fdecay = static_cast<float>(1 - lr * wd), feps = static_cast<float>(eps);
    for (size_t i = 0; i < N; ++i) {
      const double gi = static_cast<double>(g[i]) * static_cast<float>(gs);
      mr[i] = fb1 * m[i] + (1 - fb1) * gi;
      vr[i] = fb2 * v[i] + (1 - fb2) * gi * gi;
      pr[i] = p[i] * fdecay - fstep * mr[i] / (std::sqrt(vr[i]) * fisb + feps);
    }
    cpu::adamw(p.data(), g.data(), m.data(), v.data(), n, lr, b1, b2, eps, wd, step, gs);
    const std::vector<float> gp = get(pd->t), gm = get(md->t), gv = get(vd->t);
    expect_close("p vs float64 " + tag, gp.data(), pr.data(), N, 1e-7, 1e-5);
    expect_close("m vs float64 " + tag, gm.data(), mr.data(), N, 1e-9, 1e-5);
    expect_close("v vs float64 " + tag, gv.data(), vr.data(), N, 1e-12, 1e-5);
    expect_close("p vs CPU " + tag, gp.data(), p.data(), N, 1e-7, 1e-6);
    expect_close("m vs CPU " + tag, gm.data(), m.data(), N, 1e-9, 1e-6);
    expect_close("v vs CPU " + tag, gv.data(), v.data(), N, 1e-12, 1e-6);
    std::vector<uint16_t> h = get_raw<uint16_t>(p16.t), want(N);
    for (size_t i = 0; i < N; ++i) want[i] = ref_bf16(gp[i]);
    expect_equal("bf16 copy " + tag, h.data(), want.data(), N);
    // continue from the GPU's state so the steps stay comparable
    p = gp;
    m = gm;
    v = gv;
  }
}

void reduce_case(lmp::parity::Rng& rng, size_t n) {
  std::vector<float> x0 = rng.normals(n, 3.0);
  for (DType t : kFloat) {
    const std::vector<float> x = as_seen(x0, t);
    auto xd = dev(t, x0);
    Dev out(DType::F64, 4);
    cm::reduce_sum(*xd, true, out, 1);
    cm::reduce_sum(*xd, false, out, 3);
    const std::vector<double> got = get_raw<double>(out.t);
    long double s2 = 0, s1 = 0, a1 = 0;
    for (float v : x) {
      s2 += static_cast<long double>(v) * v;
      s1 += v;
      a1 += std::fabs(v);
    }
    const std::string tag = std::string(dn(t)) + " n=" + std::to_string(n);
    const double r2 = static_cast<double>(s2), r1 = static_cast<double>(s1);
    expect_close("sum of squares " + tag, &got[1], &r2, 1, 0, 1e-12);
    expect_close("sum " + tag, &got[3], &r1, 1, 1e-14 * static_cast<double>(a1), 0);
    expect(got[0] == 0 && got[2] == 0, "other slots untouched " + tag);
    if (t == DType::F32) {
      const double c = cpu::sum_squares(x.data(), static_cast<int64_t>(n));
      expect_close("sum of squares vs CPU " + tag, &got[1], &c, 1, 0, 1e-12);
    }
    cm::reduce_sum(*xd, true, out, 2);
    const std::vector<double> again = get_raw<double>(out.t);
    expect(std::memcmp(&again[2], &got[1], 8) == 0, "sum of squares " + tag + ": same bits on a second run");
  }
}

void clip_case() {
  const std::vector<double> ss = {0.25, 4.0, 1e-3, 12.5, 0.0};
  auto sd = dev_f64(ss);
  Dev out(DType::F64, 2);
  double s = 0;
  for (double v : ss) s += v;  // the trainer's order
  const double norm = std::sqrt(s);
  for (double clip : {0.0, norm * 2, norm, norm * 0.5, 1e-3}) {
    cm::clip_scale(*sd, static_cast<int64_t>(ss.size()), clip, out);
    const std::vector<double> got = get_raw<double>(out.t);
    const double want = clip > 0 && norm > clip ? clip / (norm + 1e-6) : 1;
    expect(got[0] == norm && got[1] == want,
           "clip " + std::to_string(clip) + ": norm " + std::to_string(got[0]) + " scale " + std::to_string(got[1]) + " (exact: " +
               std::to_string(want) + ")");
  }
}

// ------------------------------------------------------------------------------ GEMM

cm::GemmArgs plain_args(int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb, int64_t ldc) {
  cm::GemmArgs g;
  g.M = M;
  g.N = N;
  g.K = K;
  g.lda = lda;
  g.ldb = ldb;
  g.ldc = ldc;
  return g;
}

struct GemmShape {
  int64_t M, N, K;
};

void gemm_case(lmp::parity::Rng& rng, GemmShape s, bool ta, bool tb, DType tin, DType tc, float beta, bool tf32 = false) {
  const int64_t M = s.M, N = s.N, K = s.K;
  const int64_t ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
  cm::GemmArgs g = plain_args(M, N, K, ac + 3, bc + 1, N + 2);  // strided views inside bigger tensors, at an offset
  g.trans_a = ta;
  g.trans_b = tb;
  g.alpha = 0.75f;
  g.beta = beta;
  g.a_offset = 5;
  g.b_offset = 2;
  g.c_offset = 1;
  g.tf32 = tf32;
  const std::vector<float> A0 = rng.floats(static_cast<size_t>(g.a_offset + ar * g.lda), -1, 1);
  const std::vector<float> B0 = rng.floats(static_cast<size_t>(g.b_offset + br * g.ldb), -1, 1);
  std::vector<float> C0 = rng.floats(static_cast<size_t>(g.c_offset + M * g.ldc), -1, 1);
  if (beta == 0)
    for (auto& v : C0) v = NAN;  // beta = 0 ignores C
  const std::vector<float> A = as_seen(A0, tin), B = as_seen(B0, tin), C = as_seen(C0, tc);
  auto Ad = dev(tin, A0), Bd = dev(tin, B0), Cd = dev(tc, C0);
  cm::gemm(g, *Ad, *Bd, *Cd);
  const std::vector<float> got = get(Cd->t);
  double worst = 0;
  size_t bad = 0, first = 0;
  const double gamma = 2.0 * static_cast<double>(K) * std::ldexp(1.0, -24) + (tf32 ? std::ldexp(1.0, -10) : 0.0);
  const double rout = tc == DType::BF16 ? std::ldexp(1.0, -8) : 0.0;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0, abs = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double a = A[g.a_offset + (ta ? k * g.lda + i : i * g.lda + k)], b = B[g.b_offset + (tb ? j * g.ldb + k : k * g.ldb + j)];
        acc += a * b;
        abs += std::fabs(a * b);
      }
      const size_t ci = static_cast<size_t>(g.c_offset + i * g.ldc + j);
      const double cold = beta == 0 ? 0.0 : C[ci];
      const double ref = 0.75 * acc + beta * cold;
      const double tol = gamma * (0.75 * abs + std::fabs(beta * cold)) + rout * std::fabs(ref) + 1e-30;
      const double err = std::fabs(got[ci] - ref);
      if (!(err <= tol)) {
        if (!bad) first = ci;
        ++bad;
      }
      worst = std::max(worst, err / tol);
    }
  // the padding between rows and before the offset is untouched
  size_t touched = 0;
  for (size_t ci = 0; ci < got.size(); ++ci) {
    const int64_t r = (static_cast<int64_t>(ci) - g.c_offset) / g.ldc, c = (static_cast<int64_t>(ci) - g.c_offset) % g.ldc;
    const bool inside = static_cast<int64_t>(ci) >= g.c_offset && r < M && c < N;
    if (!inside && !(std::memcmp(&got[ci], &C[ci], 4) == 0)) ++touched;
  }
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s%s %s %s->%s%s beta %g: max err/tol %.3g (gamma %.2g), %zu over%s, padding changed %zu", ta ? "T" : "N",
                tb ? "T" : "N", sz({M, N, K}).c_str(), dn(tin), dn(tc), tf32 ? " tf32" : "", beta, worst, gamma, bad,
                bad ? (" (first at " + std::to_string(first) + ")").c_str() : "", touched);
  expect(bad == 0 && touched == 0, buf);
}

void gemm_k0_case() {
  cm::GemmArgs g = plain_args(3, 4, 0, 1, 4, 4);
  g.beta = 0.5f;
  Dev A(DType::F32, 1), B(DType::F32, 4);
  std::vector<float> c0 = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, want(12);
  auto C = dev(DType::F32, c0);
  cm::gemm(g, A, B, *C);
  for (size_t i = 0; i < 12; ++i) want[i] = c0[i] * 0.5f;
  expect(bits_equal(get(C->t), want), "K = 0: C = beta C");
}

// ------------------------------------------------------------------------------ timings (GPU)

double time_ms(const std::function<void()>& f, int reps) {
  f();
  f();
  cm::synchronize();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) f();
  cm::synchronize();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / reps;
}

}  // namespace

// The decoder's terminal draw on device logits (sample.cu) against the CPU chain on the same row:
// greedy / temperature -> greedy / sample / temperature -> sample, continuous and quantized (tied)
// logits, -inf entries, an EOS bias; the uniform of a sample draw is the CPU chain's next one.
// chainKind 0 greedy, 1 temperature(0.7) -> greedy, 2 sample, 3 temperature(0.8) -> sample,
// 4 top_k(5) -> sample, 5 temperature(0.7) -> top_k(20) -> temperature(0.9) -> sample,
// 6 top_k(20) -> min_p(0.1) -> sample.
void draw_case(lmp::parity::Rng& rng, size_t V, int chainKind) {
  namespace ls = lmp::sampling;
  std::vector<ls::Spec> specs;
  const auto add = [&](ls::Kind k, double a, int64_t n) {
    specs.emplace_back();
    specs.back().kind = k;
    specs.back().a = a;
    specs.back().n = n;
  };
  const double temp = chainKind == 1 || chainKind == 5 ? 0.7 : 0.8;
  if (chainKind == 1 || chainKind == 3 || chainKind == 5) add(ls::Kind::Temperature, temp, 0);
  const int64_t topk = chainKind == 4 ? 5 : chainKind >= 5 ? 20 : 0;
  if (topk) add(ls::Kind::TopK, 0, topk);
  const double minp = chainKind == 6 ? 0.1 : 0.0;
  if (minp > 0) add(ls::Kind::MinP, minp, 0);
  if (chainKind == 5) add(ls::Kind::Temperature, 0.9, 0);
  add(chainKind <= 1 ? ls::Kind::Greedy : ls::Kind::Sample, 0, 0);
  ls::Chain cpu(specs, V, 99), twin(specs, V, 99);
  const int mode = chainKind <= 1 ? 0 : 1;
  const float scale = chainKind == 1 || chainKind == 3 || chainKind == 5 ? static_cast<float>(1.0 / temp) : 1.f;
  const float post = chainKind == 5 ? static_cast<float>(1.0 / 0.9) : 1.f;
  Dev d(DType::F32, static_cast<int64_t>(2 * V));
  for (int row = 0; row < 12; ++row) {
    std::vector<float> x = rng.floats(V, -4, 4);
    if (row >= 4 && row < 8)
      for (float& v : x) v = std::round(v * 4) / 4;  // ties
    if (row >= 8)
      for (size_t i = 0; i + 1 < V; i += 3) x[i] = -INFINITY;
    const int32_t eos = row % 3 == 0 ? -1 : static_cast<int32_t>((row * 7919) % V);
    const double bias = row % 3 == 1 ? 2.5 : row % 3 == 2 && V > 1 ? -INFINITY : 0.0;
    std::vector<float> host = x;
    if (eos >= 0 && bias != 0) host[eos] = std::isinf(bias) ? -INFINITY : static_cast<float>(static_cast<double>(host[eos]) + bias);
    const int32_t want = cpu.sample(host.data(), V, nullptr);
    std::vector<float> both(2 * V, -1.f);
    std::copy(x.begin(), x.end(), both.begin() + V);
    put(d.t, both);
    const double u = mode == 1 ? twin.uniform() : 0.0;
    const int32_t got = cm::draw_row(d, 1, static_cast<int64_t>(V), mode, scale, u, eos, eos >= 0 ? bias : 0.0, topk, post, minp);
    expect(got == want, "draw V=" + std::to_string(V) + " chain " + std::to_string(chainKind) + " row " + std::to_string(row) + ": cuda " +
                            std::to_string(got) + ", cpu " + std::to_string(want));
  }
}

// ================================================================================ checks

LMP_PARITY_CHECK(model_draw) {
  lmp::parity::Rng rng = lmp::parity::rng();
  for (size_t V : {size_t(1), size_t(37), size_t(257), size_t(4099), lmp::parity::pick(5000, 128256)})
    for (int k = 0; k < 7; ++k) draw_case(rng, V, k);
  Dev d(DType::F32, 300);
  std::vector<float> x(300, 0.5f);
  x[299] = NAN;
  put(d.t, x);
  expect_error("draw NaN", "LMP_E_NAN", [&] { cm::draw_row(d, 0, 300, 0, 1.f, 0.0, -1, 0.0); });
  std::fill(x.begin(), x.end(), -INFINITY);
  put(d.t, x);
  expect_error("draw all -inf", "LMP_E_NO_CANDIDATES", [&] { cm::draw_row(d, 0, 300, 1, 1.f, 0.5, -1, 0.0); });
  expect_error("draw past the logits", "LMP_E_SHAPE", [&] { cm::draw_row(d, 1, 300, 0, 1.f, 0.0, -1, 0.0); });
}

LMP_PARITY_CHECK(model_conversions) {
  lmp::parity::Rng rng = lmp::parity::rng();
  for (size_t n : {size_t(13), size_t(1000), lmp::parity::pick(4099, 1 << 22)}) conversions_case(rng, n);
}

LMP_PARITY_CHECK(model_embedding) {
  lmp::parity::Rng rng = lmp::parity::rng();
  const int64_t cases[][3] = {{1, 1, 1}, {7, 64, 7}, {65, 96, 65}, {257, 257, 33}, {3, 5, 200}};
  for (auto& c : cases) embedding_case(rng, c[0], c[1], c[2]);
}

LMP_PARITY_CHECK(model_embedding_errors) {
  const int64_t V = 11, D = 4;
  std::vector<int32_t> ids = {0, 3, 10, 11, -1, 2};
  auto tok = dev_i32(ids);
  Dev table(DType::F32, V * D), out(DType::F32, static_cast<int64_t>(ids.size()) * D);
  std::vector<float> t(static_cast<size_t>(V * D)), o(ids.size() * D);
  const std::string want = cpu_error([&] { cpu::embedding_forward(t.data(), V, D, ids.data(), static_cast<int64_t>(ids.size()), o.data()); });
  expect_error("forward, id 11 at 3", "LMP_E_TOKEN", [&] { cm::embedding_forward(table, V, D, *tok, out); }, want);
  expect_error("index, id 11 at 3", "LMP_E_TOKEN", [&] { cm::embedding_index(ids.data(), static_cast<int64_t>(ids.size()), V); }, want);
  // a tensor of the wrong size or dtype
  Dev small(DType::F32, 3);
  expect_error("forward, out too small", "LMP_E_SHAPE", [&] { cm::embedding_forward(table, V, D, *tok, small); });
  Dev i32(DType::I32, 3);
  expect_error("backward, bad index length", "LMP_E_SHAPE", [&] { cm::embedding_backward(out, i32, 6, V, D, table); });
  expect_error("backward, i32 dout", "LMP_E_DTYPE", [&] { cm::embedding_backward(i32, i32, 0, V, D, table); });
}

LMP_PARITY_CHECK(model_rmsnorm) {
  lmp::parity::Rng rng = lmp::parity::rng();
  const int64_t cases[][2] = {{1, 64}, {7, 96}, {65, 257}, {3, 1}, {70, 33}};
  for (auto& c : cases) rmsnorm_case(rng, c[0], c[1]);
  rmsnorm_case(rng, 5, 64, 3e-3);
}

LMP_PARITY_CHECK(model_attn_combine) {
  lmp::parity::Rng rng = lmp::parity::rng();
  for (auto [rows, hd] : {std::pair<int64_t, int64_t>{1, 1}, {7, 64}, {65, 32}, {lmp::parity::pick(1000, 65536), 128}}) attn_combine_case(rng, rows, hd);
}

LMP_PARITY_CHECK(model_swiglu) {
  lmp::parity::Rng rng = lmp::parity::rng();
  for (size_t n : {size_t(1), size_t(7), size_t(65 * 257), lmp::parity::pick(4097, 1 << 22)}) swiglu_case(rng, n);
}

LMP_PARITY_CHECK(model_cross_entropy) {
  lmp::parity::Rng rng = lmp::parity::rng();
  const int64_t cases[][2] = {{1, 1}, {7, 64}, {65, 257}, {5, 1000}};
  for (auto& c : cases) cross_entropy_case(rng, c[0], c[1]);
}

LMP_PARITY_CHECK(model_cross_entropy_errors) {
  const int64_t rows = 4, V = 9;
  std::vector<int32_t> tg = {1, 9, -1, 3};
  std::vector<float> w(4, 1.f), l(rows * V, 0.f), loss(4);
  auto td = dev_i32(tg);
  auto wd = dev(DType::F32, w);
  auto ld = dev(DType::F32, l);
  Dev lo(DType::F32, rows);
  const std::string want = cpu_error([&] { cpu::cross_entropy(l.data(), rows, V, tg.data(), w.data(), 1.f, loss.data(), nullptr); });
  expect_error("target 9 >= vocab 9", "LMP_E_TOKEN", [&] { cm::cross_entropy(*ld, rows, V, *td, *wd, 1.f, lo, nullptr); }, want);
  Dev bf(DType::BF16, rows * V);
  expect_error("dlogits of another dtype", "LMP_E_DTYPE", [&] { cm::cross_entropy(*ld, rows, V, *td, *wd, 1.f, lo, &bf.t); });
}

LMP_PARITY_CHECK(model_rope) {
  lmp::parity::Rng rng = lmp::parity::rng();
  rope_case(rng, 1, 1, 2, 10000);
  rope_case(rng, 7, 3, 64, 10000);
  rope_case(rng, 65, 2, 96, 500000);
  rope_case(rng, 5, 3, 65, 10000);  // odd head_dim: the attention rope's pass-through
}

LMP_PARITY_CHECK(model_adamw) {
  lmp::parity::Rng rng = lmp::parity::rng();
  for (int64_t n : {int64_t(1), int64_t(7), int64_t(4099)}) adamw_case(rng, n);
  Dev p(DType::F32, 3);
  expect_error("step 0", "LMP_E_ARG", [&] { cm::adamw(p, p, p, p, 1e-3, 0.9, 0.95, 1e-8, 0, 0, 1, nullptr, 0, nullptr); });
}

LMP_PARITY_CHECK(model_reductions) {
  lmp::parity::Rng rng = lmp::parity::rng();
  for (size_t n : {size_t(1), size_t(7), size_t(4096), size_t(4097), size_t(65 * 257), lmp::parity::pick(40000, 25000000)}) reduce_case(rng, n);
  clip_case();
}

LMP_PARITY_CHECK(model_gemm) {
  lmp::parity::Rng rng = lmp::parity::rng();
  const GemmShape shapes[] = {{1, 1, 1}, {7, 65, 33}, {65, 7, 257}, {64, 96, 65}};
  for (const GemmShape& s : shapes)
    for (int t = 0; t < 4; ++t) {
      gemm_case(rng, s, t & 1, t & 2, DType::F32, DType::F32, 0.f);
      gemm_case(rng, s, t & 1, t & 2, DType::BF16, DType::F32, 1.5f);
      gemm_case(rng, s, t & 1, t & 2, DType::BF16, DType::BF16, 0.f);
    }
  gemm_case(rng, {33, 40, 96}, false, true, DType::F32, DType::F32, 1.f, true);
  gemm_k0_case();
}

LMP_PARITY_CHECK(model_gemm_errors) {
  Dev a(DType::F32, 12), b(DType::BF16, 12), c(DType::F32, 12);
  cm::GemmArgs g = plain_args(3, 4, 4, 4, 4, 4);
  expect_error("mixed A/B dtypes", "LMP_E_DTYPE", [&] { cm::gemm(g, a, b, c); });
  expect_error("B too small", "LMP_E_SHAPE", [&] { cm::gemm(g, a, a, c); });
  g.K = 3;
  g.lda = 2;
  expect_error("lda below K", "LMP_E_SHAPE", [&] { cm::gemm(g, a, a, c); });
}

LMP_PARITY_CHECK(model_memory) {
  // out of device memory: coded, with the request and what is free; nothing leaks
  const int64_t huge = int64_t(1) << 46;  // 256 TiB of f32
  try {
    Tensor t = cm::alloc(DType::F32, huge);
    cm::free(t);
    expect(false, "256 TiB allocation succeeded");
  } catch (const lmp::Error& e) {
    const std::string m = e.what();
    expect(e.code() == "LMP_E_CUDA_OOM" && m.find("out of device memory: " + std::to_string(huge * 4) + " bytes") == 0 &&
               m.find(" free") != std::string::npos,
           std::string("256 TiB: ") + e.code() + " '" + m + "'");
  }
  // the device still works afterwards; alloc zero-fills; upload / download ranges are checked
  Dev t(DType::F32, 10);
  expect(get(t.t) == std::vector<float>(10, 0.f), "alloc zero-fills");
  std::vector<float> v(11, 1.f);
  expect_error("upload past the end", "LMP_E_SHAPE", [&] { cm::upload(t, v.data(), 44); });
  expect_error("download past the end", "LMP_E_SHAPE", [&] { cm::download(v.data(), t, 40, 8); });
  Tensor f = cm::alloc(DType::BF16, 5);
  cm::free(f);
  cm::free(f);  // idempotent
  expect_error("use after free", "LMP_E_ARG", [&] { cm::upload(f, v.data(), 2); });
  expect_error("dtype name", "LMP_E_DTYPE", [&] { cm::parse_dtype("f16"); });
  const cm::MemInfo mi = cm::mem_info();
  expect(mi.total > 0 && mi.free <= mi.total, "mem_info: " + std::to_string(mi.free >> 20) + " MiB free of " + std::to_string(mi.total >> 20));
}

// Uploads through the page-locked staging (memory.cu): parts back to back at an offset, many rounds
// that reuse both buffers while the host rewrites its arrays, sizes that grow the buffers and one
// above kStagedMax (the pageable path); every byte as sent (the emulator also reports a staging
// buffer rewritten before its copy finished).
LMP_PARITY_CHECK(model_staged_uploads) {
  lmp::parity::Rng rng = lmp::parity::rng();
  for (const int64_t n : {int64_t(1), int64_t(37), int64_t(16385), int64_t(300001)}) {
    // five rounds into five tensors with no synchronization between them, the host arrays
    // rewritten each round: both staging buffers are reused while earlier copies may be queued
    std::vector<std::unique_ptr<Dev>> t;
    std::vector<std::vector<int32_t>> want;
    std::vector<int32_t> a(static_cast<size_t>(n)), b(static_cast<size_t>(2 * n));
    for (int round = 0; round < 5; ++round) {
      for (auto& x : a) x = static_cast<int32_t>(rng.next() >> 33);
      for (auto& x : b) x = static_cast<int32_t>(rng.next() >> 33);
      t.push_back(std::make_unique<Dev>(DType::I32, 3 * n + 5));
      const cm::HostPart parts[3] = {{a.data(), a.size() * 4}, {nullptr, 0}, {b.data(), b.size() * 4}};
      cm::upload_parts(t.back()->t, parts, 3, 5 * 4);
      std::vector<int32_t> w(static_cast<size_t>(3 * n + 5), 0);
      std::copy(a.begin(), a.end(), w.begin() + 5);
      std::copy(b.begin(), b.end(), w.begin() + 5 + n);
      want.push_back(std::move(w));
    }
    for (int round = 0; round < 5; ++round)
      expect(get_raw<int32_t>(t[round]->t) == want[round], "n = " + std::to_string(n) + " round " + std::to_string(round));
  }
  const size_t big = cm::kStagedMax / 4 + 3;
  Dev t(DType::F32, static_cast<int64_t>(big));
  std::vector<float> v(big);
  for (size_t i = 0; i < big; ++i) v[i] = static_cast<float>(i % 1000) * 0.5f;
  put(t.t, v);
  expect(get(t.t) == v, "an upload above kStagedMax (pageable path)");
  std::vector<int32_t> x(8);
  const cm::HostPart over[2] = {{x.data(), 32}, {x.data(), 32}};
  Dev small(DType::I32, 15);
  expect_error("parts past the end", "LMP_E_SHAPE", [&] { cm::upload_parts(small, over, 2); });
}

// ------------------------------------------------------------------------------ GPU only: realistic sizes

// Both take a minute or two (CPU references at these sizes, ~10 GB of device buffers): they run when
// LMP_MODEL_LARGE=1 (bench/gpu/model.sh sets it), so the all-checks parity step stays short.
static bool large_wanted() {
  const char* e = std::getenv("LMP_MODEL_LARGE");
  if (e && std::strcmp(e, "1") == 0) return true;
  note("skipped: set LMP_MODEL_LARGE=1 (bash bench/gpu/model.sh does)");
  return false;
}

LMP_PARITY_CHECK_GPU(model_layers_large) {
  if (!large_wanted()) return;
  lmp::parity::Rng rng = lmp::parity::rng();
  embedding_case(rng, 32000, 768, 8192);
  rmsnorm_case(rng, 8192, 768);
  swiglu_case(rng, 8192 * 2048);
  cross_entropy_case(rng, 256, 32000);
  rope_case(rng, 8192, 12, 64, 10000);
  adamw_case(rng, 25000000);
  gemm_case(rng, {512, 768, 768}, false, true, DType::BF16, DType::F32, 0.f);
  gemm_case(rng, {256, 2048, 768}, false, false, DType::BF16, DType::BF16, 0.f);
  gemm_case(rng, {768, 512, 1024}, true, false, DType::F32, DType::F32, 1.f);
  gemm_case(rng, {512, 768, 768}, false, true, DType::F32, DType::F32, 0.f, true);
}

// Per-kernel timings at the training shapes of a ~125M-parameter Llama (dim 768, ffn 2048, 12 heads
// of 64, vocab 32000, T = 8192 tokens a step): GB/s counted as the bytes each kernel must read and
// write once, TFLOP/s for the GEMMs (2 M N K).
LMP_PARITY_CHECK_GPU(model_timings) {
  if (!large_wanted()) return;
  lmp::parity::Rng rng = lmp::parity::rng();
  const int64_t T = 8192, D = 768, F = 2048, V = 32000, H = 12, HD = 64;
  const int reps = 20;
  auto gbs = [](double bytes, double ms) { return bytes / ms / 1e6; };
  for (DType t : kFloat) {
    const double es = static_cast<double>(cm::dtype_size(t));
    auto x = dev(t, rng.normals(static_cast<size_t>(T * D)));
    auto w = dev(DType::F32, rng.normals(static_cast<size_t>(D)));
    Dev y(t, T * D), rstd(DType::F32, T), dx(DType::F32, T * D), dw(DType::F32, D);
    double ms = time_ms([&] { cm::rmsnorm_forward(*x, *w, T, D, 1e-5f, y, rstd); }, reps);
    note("%s rmsnorm fwd %lldx%lld: %.3f ms, %.0f GB/s", dn(t), (long long)T, (long long)D, ms, gbs(2.0 * T * D * es, ms));
    ms = time_ms([&] { cm::rmsnorm_backward(y, *x, *w, rstd, T, D, dx, false, dw); }, reps);
    note("%s rmsnorm bwd: %.3f ms, %.0f GB/s", dn(t), ms, gbs(T * D * (2 * es + 4), ms));
    auto g = dev(t, rng.normals(static_cast<size_t>(T * F))), u = dev(t, rng.normals(static_cast<size_t>(T * F)));
    Dev h(t, T * F), dg(t, T * F), du(t, T * F);
    ms = time_ms([&] { cm::swiglu_forward(*g, *u, h); }, reps);
    note("%s swiglu fwd %lldx%lld: %.3f ms, %.0f GB/s", dn(t), (long long)T, (long long)F, ms, gbs(3.0 * T * F * es, ms));
    ms = time_ms([&] { cm::swiglu_backward(*g, *u, h, dg, du); }, reps);
    note("%s swiglu bwd: %.3f ms, %.0f GB/s", dn(t), ms, gbs(5.0 * T * F * es, ms));
    std::vector<int32_t> pos(static_cast<size_t>(T));
    for (int64_t i = 0; i < T; ++i) pos[i] = static_cast<int32_t>(i % 2048);
    auto pd = dev_i32(pos);
    auto fd = dev_f64(cm::rope_inv_freq(HD, 10000));
    auto q = dev(t, rng.normals(static_cast<size_t>(T * H * HD)));
    ms = time_ms([&] { cm::rope(*q, T, H, HD, *pd, *fd, 1.f, false); }, reps);
    note("%s rope %lldx%lldx%lld: %.3f ms, %.0f GB/s", dn(t), (long long)T, (long long)H, (long long)HD, ms, gbs(2.0 * T * H * HD * es, ms));
    const std::vector<int32_t> ids = random_ids(rng, static_cast<size_t>(T), V);
    auto tok = dev_i32(ids);
    auto table = dev(t, rng.normals(static_cast<size_t>(V * D), 0.02));
    ms = time_ms([&] { cm::embedding_forward(*table, V, D, *tok, y); }, reps);
    note("%s embedding fwd (with its id check): %.3f ms, %.0f GB/s", dn(t), ms, gbs(2.0 * T * D * es, ms));
    auto idx = dev_i32(cm::embedding_index(ids.data(), T, V));
    Dev dtab(DType::F32, V * D);
    ms = time_ms([&] { cm::embedding_backward(y, *idx, T, V, D, dtab); }, reps);
    note("%s embedding bwd (%lld ids): %.3f ms, %.0f GB/s", dn(t), (long long)T, ms, gbs(T * D * (es + 8.0), ms));
    const int64_t R = 2048;  // logits rows per call (a chunk of the step's 8192)
    auto logits = dev(t, rng.normals(static_cast<size_t>(R * V)));
    std::vector<int32_t> tg(static_cast<size_t>(R));
    for (auto& v : tg) v = static_cast<int32_t>(rng.below(V));
    auto tgd = dev_i32(tg);
    auto wt = dev(DType::F32, std::vector<float>(static_cast<size_t>(R), 1.f));
    Dev loss(DType::F32, R);
    ms = time_ms([&] { cm::cross_entropy(*logits, R, V, *tgd, *wt, 1.f / R, loss, &logits->t); }, reps);
    note("%s cross-entropy %lldx%lld in place: %.3f ms, %.0f GB/s", dn(t), (long long)R, (long long)V, ms, gbs(2.0 * R * V * es, ms));
  }
  {
    const int64_t n = 124000000;  // ~125M parameters
    Dev p(DType::F32, n), gr(DType::F32, n), m(DType::F32, n), v(DType::F32, n), p16(DType::BF16, n), ss(DType::F64, 1);
    double ms = time_ms([&] { cm::adamw(p, gr, m, v, 1e-3, 0.9, 0.95, 1e-8, 0.1, 1, 1, nullptr, 0, &p16.t); }, 10);
    note("adamw %lld params (+ bf16 copy): %.3f ms, %.0f GB/s", (long long)n, ms, gbs(n * (5 * 4.0 + 3 * 4.0 + 2), ms));
    ms = time_ms([&] { cm::reduce_sum(gr, true, ss, 0); }, 10);
    note("sum of squares %lld: %.3f ms, %.0f GB/s", (long long)n, ms, gbs(n * 4.0, ms));
  }
  // GEMMs of one layer's forward and backward at T = 8192, and the LM head
  struct Shape {
    const char* what;
    bool ta, tb;
    int64_t M, N, K;
  };
  const Shape shapes[] = {
      {"qkv/o fwd  X W^T", false, true, T, D, D},  {"gate/up fwd", false, true, T, F, D},   {"down fwd", false, true, T, D, F},
      {"lm head fwd", false, true, T, V, D},       {"down bwd dX = dY W", false, false, T, F, D}, {"down bwd dW = dY^T X", true, false, D, F, T},
      {"lm head bwd dW", true, false, V, D, T},
  };
  for (const Shape& s : shapes)
    for (int mode = 0; mode < 3; ++mode) {  // bf16 -> f32, f32, f32 with TF32
      const DType tin = mode == 0 ? DType::BF16 : DType::F32;
      cm::GemmArgs g = plain_args(s.M, s.N, s.K, s.ta ? s.M : s.K, s.tb ? s.K : s.N, s.N);
      g.trans_a = s.ta;
      g.trans_b = s.tb;
      g.tf32 = mode == 2;
      Dev A(tin, s.M * s.K), B(tin, s.K * s.N), C(DType::F32, s.M * s.N);
      put(A.t, rng.floats(static_cast<size_t>(s.M * s.K), -1, 1));
      put(B.t, rng.floats(static_cast<size_t>(s.K * s.N), -1, 1));
      const double ms = time_ms([&] { cm::gemm(g, A, B, C); }, 10);
      note("gemm %-22s %s%s %lldx%lldx%lld %s: %.3f ms, %.1f TFLOP/s", s.what, s.ta ? "T" : "N", s.tb ? "T" : "N", (long long)s.M, (long long)s.N,
           (long long)s.K, mode == 0 ? "bf16->f32" : mode == 1 ? "f32" : "tf32", ms, 2.0 * s.M * s.N * s.K / ms / 1e9);
    }
}
