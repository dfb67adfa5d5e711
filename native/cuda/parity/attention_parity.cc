// Parity of the CUDA fused attention (native/cuda/attention) against a float64 dense reference
// written here (mask evaluated per element from the prefix program, scores, softmax or Softplus,
// the exact gradients). Inputs are rounded to the kernel's dtype first, so the reference sees the
// same numbers; block classes are computed here by brute force per 64 x 64 tile (exact classes:
// Empty / Full / Partial), which is at least as fine as the TypeScript classifier's.
//
// Tolerance per dtype, elementwise |gpu - ref| <= atol * max|ref| + rtol * |ref| (scale-aware atol:
// the error of a bf16 product sum grows with the magnitude of the tensor):
//   bf16: O atol 5e-3 rtol 5e-3; dq/dk/dv atol 1e-2 rtol 1e-2; lse |err| <= 2e-4 (fp32 scores)
//   fp16: O atol 1e-3 rtol 1e-3; dq/dk/dv atol 2e-3 rtol 2e-3; lse |err| <= 2e-4
// (emulated, the worst err/tol seen was 0.45 for O and 0.31 for the gradients, 2026-12-02; with
// one mask predicate off by one, causal & window(w) evaluated as q - kv <= w, they were 10 to 30000)
// (the kernels round P and dS to the input dtype before their second products, as FlashAttention does).
// The deterministic backward must give identical bits on a second run; the atomic one must agree
// with the reference like the deterministic one.
//
// attention_fused runs emulated (npm test) and on a GPU; attention_fused_large (T = 1000, 4097)
// on a GPU only; attention_errors: coded refusals.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "attention/attention_cuda.h"
#include "attention/classify_host.h"
#include "common/device.cuh"
#include "core/status.h"
#include "parity/parity.h"

namespace lmp {
namespace {

using attention_cuda_dtype = cuda::attention::Dtype;

// ---- mask programs (attention.h MaskOp, prefix form) -----------------------------------------
using Prog = std::vector<int32_t>;
Prog prim(int op, int prm = 0) { return Prog{op, prm}; }
Prog causal() { return prim(1); }
Prog full() { return prim(0); }
Prog window(int w) { return prim(2, w); }
Prog sink(int g) { return prim(3, g); }
Prog prefix(int p) { return prim(4, p); }
Prog chunked(int c) { return prim(5, c); }
Prog same_doc() { return prim(6); }
Prog nary(int op, std::initializer_list<Prog> args) {
  Prog r{op, static_cast<int32_t>(args.size())};
  for (const Prog& a : args) r.insert(r.end(), a.begin(), a.end());
  return r;
}
Prog and_(std::initializer_list<Prog> a) { return nary(7, a); }
Prog or_(std::initializer_list<Prog> a) { return nary(8, a); }
Prog not_(const Prog& a) {
  Prog r{9, 0};
  r.insert(r.end(), a.begin(), a.end());
  return r;
}

// Reference evaluation of one element (independent of the kernels' evaluators).
size_t ref_eval(const Prog& p, size_t pc, int64_t q, int64_t k, const int32_t* docs, bool* out) {
  const int32_t op = p[pc], prm = p[pc + 1];
  pc += 2;
  switch (op) {
    case 0: *out = true; return pc;
    case 1: *out = k <= q; return pc;
    case 2: *out = q - k < prm; return pc;
    case 3: *out = k < prm; return pc;
    case 4: *out = k < prm || k <= q; return pc;
    case 5: *out = q / prm == k / prm; return pc;
    case 6: *out = docs == nullptr || docs[q] == docs[k]; return pc;
    case 7: case 8: {
      bool acc = op == 7;
      for (int c = 0; c < prm; ++c) {
        bool x;
        pc = ref_eval(p, pc, q, k, docs, &x);
        acc = op == 7 ? (acc && x) : (acc || x);
      }
      *out = acc;
      return pc;
    }
    default: {
      bool x;
      pc = ref_eval(p, pc, q, k, docs, &x);
      *out = !x;
      return pc;
    }
  }
}

struct Case {
  std::string name;
  std::vector<int> lens;          // per sequence: Lk (= Lq unless lensQ given)
  std::vector<int> lensQ;         // optional: Lq per sequence (queries are the last positions)
  int H = 2, Hkv = 2, D = 64;
  std::vector<Prog> groups{causal()};
  std::vector<int> headGroup;     // default all 0
  std::vector<int> docLens;       // document lengths, concatenated over all key tokens (optional)
  float softcap = 0, power = 0, trainLength = 0;
  bool alibi = false;
  double alibiLimit = 0;
  float scaleMul = 1;  // scale = scaleMul / sqrt(D)
  bool closedForm = false;  // classes from classify_host.h (closed form) instead of brute force
  attention_cuda_dtype dt = attention_cuda_dtype::BF16;
  bool f16() const { return dt == attention_cuda_dtype::F16; }
};

uint64_t g_rng = 0x9e3779b97f4a7c15ULL;
double urand() {
  g_rng ^= g_rng >> 12;
  g_rng ^= g_rng << 25;
  g_rng ^= g_rng >> 27;
  return static_cast<double>((g_rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

float round_to(float x, bool f16) { return f16 ? cu::f16_to_f32(cu::f32_to_f16(x)) : cu::bf16_to_f32(cu::f32_to_bf16(x)); }

struct Data {
  std::vector<int32_t> cuQ, cuK, docs, headGroup;
  std::vector<float> q, k, v, dout, alibi;
  std::vector<uint8_t> classes;
  std::vector<int64_t> classOff;
  attn::Params p;
};

void build(const Case& c, Data& d) {
  const int S = static_cast<int>(c.lens.size());
  d.cuQ.assign(1, 0);
  d.cuK.assign(1, 0);
  for (int s = 0; s < S; ++s) {
    d.cuK.push_back(d.cuK.back() + c.lens[s]);
    d.cuQ.push_back(d.cuQ.back() + (c.lensQ.empty() ? c.lens[s] : c.lensQ[s]));
  }
  const int Tq = d.cuQ.back(), Tk = d.cuK.back();
  const bool f16 = c.f16();
  auto fill = [&](std::vector<float>& x, size_t n, double amp) {
    x.resize(n);
    for (auto& e : x) e = round_to(static_cast<float>((urand() * 2 - 1) * amp), f16);
  };
  fill(d.q, static_cast<size_t>(Tq) * c.H * c.D, 2.0);
  fill(d.k, static_cast<size_t>(Tk) * c.Hkv * c.D, 2.0);
  fill(d.v, static_cast<size_t>(Tk) * c.Hkv * c.D, 1.0);
  fill(d.dout, static_cast<size_t>(Tq) * c.H * c.D, 1.0);
  if (!c.docLens.empty()) {
    // document ids per key token, restarting per sequence at the sequence start
    d.docs.clear();
    int id = 0;
    for (int L : c.docLens) {
      for (int i = 0; i < L; ++i) d.docs.push_back(id);
      ++id;
    }
    d.docs.resize(static_cast<size_t>(Tk), id);
  }
  d.headGroup.resize(static_cast<size_t>(c.H), 0);
  for (size_t h = 0; h < c.headGroup.size() && h < d.headGroup.size(); ++h) d.headGroup[h] = c.headGroup[h];
  const int G = static_cast<int>(c.groups.size());
  // exact classes per tile
  d.classes.clear();
  d.classOff.assign(static_cast<size_t>(S * G), 0);
  for (int s = 0; s < S; ++s) {
    const int lq = d.cuQ[s + 1] - d.cuQ[s], lk = d.cuK[s + 1] - d.cuK[s], qoff = lk - lq;
    const int nQ = (lq + 63) / 64, nK = (lk + 63) / 64;
    const int32_t* docs = d.docs.empty() ? nullptr : d.docs.data() + d.cuK[s];
    for (int g = 0; g < G; ++g) {
      d.classOff[s * G + g] = static_cast<int64_t>(d.classes.size());
      if (c.closedForm) {
        const std::vector<uint8_t> cf = cuda::attention::classify_blocks(c.groups[g].data(), lq, lk, docs);
        d.classes.insert(d.classes.end(), cf.begin(), cf.end());
        continue;
      }
      for (int a = 0; a < nQ; ++a)
        for (int b = 0; b < nK; ++b) {
          bool any = false, all = true;
          for (int i = a * 64; i < std::min(lq, a * 64 + 64); ++i)
            for (int j = b * 64; j < std::min(lk, b * 64 + 64); ++j) {
              bool vis;
              ref_eval(c.groups[g], 0, qoff + i, j, docs, &vis);
              any = any || vis;
              all = all && vis;
            }
          d.classes.push_back(!any ? 0 : all ? 1 : 2);
        }
    }
  }
  if (c.alibi) {
    d.alibi.resize(static_cast<size_t>(c.H));
    for (int h = 0; h < c.H; ++h) d.alibi[h] = std::pow(2.0f, -8.0f * (h + 1) / c.H);
  }
  attn::Params& p = d.p;
  p = attn::Params();
  p.q = d.q.data(), p.k = d.k.data(), p.v = d.v.data();
  p.H = c.H, p.Hkv = c.Hkv, p.D = c.D, p.S = S;
  p.cuQ = d.cuQ.data(), p.cuK = d.cuK.data();
  p.docIds = d.docs.empty() ? nullptr : d.docs.data();
  p.G = G;
  for (const Prog& pr : c.groups) p.progs.push_back(pr.data()), p.progLens.push_back(static_cast<int32_t>(pr.size()));
  p.headGroup = d.headGroup.data();
  p.classes = d.classes.data();
  p.classOff = d.classOff.data();
  p.scale = static_cast<float>(c.scaleMul / std::sqrt(static_cast<double>(c.D)));
  p.softcap = c.softcap;
  p.alibi = c.alibi ? d.alibi.data() : nullptr;
  p.alibiLimit = c.alibiLimit;
  p.power = c.power;
  p.logLenBase = c.power > 0 ? static_cast<float>(std::log(static_cast<double>(c.trainLength))) : 0.f;
}

// float64 reference: forward (o, lse) and gradients.
struct Ref {
  std::vector<double> o, lse, dq, dk, dv;
};
void reference(const Case& c, const Data& d, Ref& r) {
  const attn::Params& p = d.p;
  const int H = c.H, D = c.D, rep = c.H / c.Hkv;
  const int Tq = d.cuQ.back(), Tk = d.cuK.back();
  r.o.assign(static_cast<size_t>(Tq) * H * D, 0);
  r.lse.assign(static_cast<size_t>(Tq) * H, 0);
  r.dq.assign(static_cast<size_t>(Tq) * H * D, 0);
  r.dk.assign(static_cast<size_t>(Tk) * c.Hkv * D, 0);
  r.dv.assign(static_cast<size_t>(Tk) * c.Hkv * D, 0);
  const double scale = p.scale;
  for (int s = 0; s < static_cast<int>(c.lens.size()); ++s) {
    const int qs = d.cuQ[s], lq = d.cuQ[s + 1] - qs, ks = d.cuK[s], lk = d.cuK[s + 1] - ks, qoff = lk - lq;
    const int32_t* docs = d.docs.empty() ? nullptr : d.docs.data() + ks;
    std::vector<double> x(static_cast<size_t>(lk)), th(static_cast<size_t>(lk)), P(static_cast<size_t>(lk)), dP(static_cast<size_t>(lk));
    std::vector<char> vis(static_cast<size_t>(lk));
    for (int h = 0; h < H; ++h) {
      const int hk = h / rep;
      const Prog& prog = c.groups[d.headGroup[h]];
      for (int i = 0; i < lq; ++i) {
        const int qpos = qoff + i;
        const float* qi = &d.q[(static_cast<size_t>(qs + i) * H + h) * D];
        const double lam = c.power > 0 ? std::max(1.0, std::log(qpos + 1.0) / std::log(static_cast<double>(c.trainLength))) : 1.0;
        double mx = -INFINITY;
        for (int j = 0; j < lk; ++j) {
          bool vv;
          ref_eval(prog, 0, qpos, j, docs, &vv);
          vis[j] = vv;
          const float* kj = &d.k[(static_cast<size_t>(ks + j) * c.Hkv + hk) * D];
          double dot = 0;
          for (int e = 0; e < D; ++e) dot += static_cast<double>(qi[e]) * kj[e];
          double sv = dot * scale;
          if (c.softcap > 0) {
            th[j] = std::tanh(sv / c.softcap);
            sv = c.softcap * th[j];
          }
          if (c.alibi) {
            double dist = std::fabs(static_cast<double>(qpos - j));
            if (c.alibiLimit > 0) dist = std::min(dist, c.alibiLimit);
            sv -= static_cast<double>(d.alibi[h]) * dist;
          }
          x[j] = sv * lam;
          if (vv) mx = std::max(mx, x[j]);
        }
        double sum = 0;
        for (int j = 0; j < lk; ++j) {
          if (!vis[j]) { P[j] = 0; continue; }
          if (c.power > 0) {
            const double sp = std::log1p(std::exp(-std::fabs(x[j]))) + std::max(x[j], 0.0);
            P[j] = std::pow(sp, static_cast<double>(c.power));
          } else {
            P[j] = std::exp(x[j] - mx);
          }
          sum += P[j];
        }
        double* oi = &r.o[(static_cast<size_t>(qs + i) * H + h) * D];
        double& L = r.lse[static_cast<size_t>(qs + i) * H + h];
        if (sum <= 0) {
          L = -INFINITY;
          continue;
        }
        L = c.power > 0 ? std::log(sum) : mx + std::log(sum);
        for (int j = 0; j < lk; ++j) P[j] /= sum;
        for (int j = 0; j < lk; ++j) {
          if (P[j] == 0) continue;
          const float* vj = &d.v[(static_cast<size_t>(ks + j) * c.Hkv + hk) * D];
          for (int e = 0; e < D; ++e) oi[e] += P[j] * vj[e];
        }
        // backward of this row
        const float* go = &d.dout[(static_cast<size_t>(qs + i) * H + h) * D];
        double delta = 0;
        for (int e = 0; e < D; ++e) delta += static_cast<double>(go[e]) * oi[e];
        double* dqi = &r.dq[(static_cast<size_t>(qs + i) * H + h) * D];
        for (int j = 0; j < lk; ++j) {
          if (P[j] == 0) continue;
          const float* vj = &d.v[(static_cast<size_t>(ks + j) * c.Hkv + hk) * D];
          const float* kj = &d.k[(static_cast<size_t>(ks + j) * c.Hkv + hk) * D];
          double dp = 0;
          for (int e = 0; e < D; ++e) dp += static_cast<double>(go[e]) * vj[e];
          double ds = P[j] * (dp - delta);
          if (c.power > 0) {
            const double sp = std::log1p(std::exp(-std::fabs(x[j]))) + std::max(x[j], 0.0);
            const double sig = 1 / (1 + std::exp(-x[j]));
            ds *= c.power * sig / sp;
          }
          ds *= lam;
          if (c.softcap > 0) ds *= 1 - th[j] * th[j];
          ds *= scale;
          double* dkj = &r.dk[(static_cast<size_t>(ks + j) * c.Hkv + hk) * D];
          double* dvj = &r.dv[(static_cast<size_t>(ks + j) * c.Hkv + hk) * D];
          for (int e = 0; e < D; ++e) {
            dqi[e] += ds * kj[e];
            dkj[e] += ds * qi[e];
            dvj[e] += P[j] * go[e];
          }
        }
      }
    }
  }
}

// max over elements of |a - ref| / (atol * max|ref| + rtol * |ref|): <= 1 passes.
double worst(const std::vector<float>& a, const std::vector<double>& ref, double atol, double rtol) {
  double mx = 0;
  for (double x : ref) mx = std::max(mx, std::fabs(x));
  if (mx == 0) mx = 1;
  double w = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double e = std::fabs(a[i] - ref[i]);
    const double t = atol * mx + rtol * std::fabs(ref[i]);
    if (!(e <= t * 1e30) || std::isnan(a[i])) return INFINITY;
    w = std::max(w, e / t);
  }
  return w;
}
double worst_lse(const std::vector<float>& a, const std::vector<double>& ref) {
  double w = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isinf(ref[i]) || std::isinf(a[i])) {
      if (!(std::isinf(ref[i]) && std::isinf(a[i]))) return INFINITY;
      continue;
    }
    w = std::max(w, std::fabs(a[i] - ref[i]) / 2e-4);
  }
  return w;
}

void run_case(const Case& c) {
  Data d;
  build(c, d);
  Ref r;
  reference(c, d, r);
  const int Tq = d.cuQ.back(), Tk = d.cuK.back();
  const size_t nq = static_cast<size_t>(Tq) * c.H * c.D, nk = static_cast<size_t>(Tk) * c.Hkv * c.D;
  std::vector<float> o(nq), lse(static_cast<size_t>(Tq) * c.H), dq(nq), dk(nk), dv(nk), dq2(nq), dk2(nk), dv2(nk), dqa(nq), dka(nk), dva(nk);
  const auto t0 = std::chrono::steady_clock::now();
  cuda::attention::forward_host(d.p, d.classes.size(), c.dt, o.data(), lse.data());
  cuda::attention::backward_host(d.p, d.classes.size(), c.dt, o.data(), d.dout.data(), lse.data(), dq.data(), dk.data(), dv.data(), true);
  cuda::attention::backward_host(d.p, d.classes.size(), c.dt, o.data(), d.dout.data(), lse.data(), dq2.data(), dk2.data(), dv2.data(), true);
  cuda::attention::backward_host(d.p, d.classes.size(), c.dt, o.data(), d.dout.data(), lse.data(), dqa.data(), dka.data(), dva.data(), false);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const bool f16 = c.f16();
  const double ao = f16 ? 1e-3 : 5e-3, ag = f16 ? 2e-3 : 1e-2;
  const double wo = worst(o, r.o, ao, ao), wl = worst_lse(lse, r.lse);
  const double wq = worst(dq, r.dq, ag, ag), wk = worst(dk, r.dk, ag, ag), wv = worst(dv, r.dv, ag, ag);
  const double wqa = worst(dqa, r.dq, ag, ag), wka = worst(dka, r.dk, ag, ag), wva = worst(dva, r.dv, ag, ag);
  const bool same = std::memcmp(dq.data(), dq2.data(), nq * 4) == 0 && std::memcmp(dk.data(), dk2.data(), nk * 4) == 0 &&
                    std::memcmp(dv.data(), dv2.data(), nk * 4) == 0;
  char buf[400];
  std::snprintf(buf, sizeof buf, "err/tol o %.2f lse %.2f | det dq %.2f dk %.2f dv %.2f%s | atomic dq %.2f dk %.2f dv %.2f (%.2fs)", wo, wl, wq,
                wk, wv, same ? " (repeat bit-identical)" : " (REPEAT DIFFERS)", wqa, wka, wva, secs);
  const bool ok = wo <= 1 && wl <= 1 && wq <= 1 && wk <= 1 && wv <= 1 && wqa <= 1 && wka <= 1 && wva <= 1 && same;
  parity::note("%s: %s", c.name.c_str(), buf);
  parity::expect(ok, c.name + ": " + buf);
}

std::vector<Case> cases(bool big) {
  using DT = attention_cuda_dtype;
  std::vector<Case> v;
  auto add = [&](Case c) { v.push_back(std::move(c)); };
  { Case c; c.name = "causal T=65 D=64 bf16"; c.lens = {65}; add(c); }
  { Case c; c.name = "causal T=65 D=64 fp16"; c.lens = {65}; c.dt = DT::F16; add(c); }
  { Case c; c.name = "full T=63 D=128 fp16"; c.lens = {63}; c.D = 128; c.groups = {full()}; c.dt = DT::F16; add(c); }
  { Case c; c.name = "causal T=1 D=128 bf16"; c.lens = {1}; c.D = 128; add(c); }
  { Case c; c.name = "causal T=130 D=128 bf16"; c.lens = {130}; c.H = 1; c.Hkv = 1; c.D = 128; add(c); }
  { Case c; c.name = "causal&window(1) T=65"; c.lens = {65}; c.groups = {and_({causal(), window(1)})}; add(c); }
  { Case c; c.name = "causal&window(40) T=130"; c.lens = {130}; c.H = 1; c.Hkv = 1; c.groups = {and_({causal(), window(40)})}; add(c); }
  { Case c; c.name = "sinks(4)+window(16) T=130"; c.lens = {130}; c.H = 1; c.Hkv = 1; c.groups = {and_({causal(), or_({sink(4), window(16)})})}; add(c); }
  { Case c; c.name = "prefix-LM(70) T=130 fp16"; c.lens = {130}; c.H = 1; c.Hkv = 1; c.groups = {prefix(70)}; c.dt = DT::F16; add(c); }
  { Case c; c.name = "causal&same_doc varlen, docs of 1"; c.lens = {70, 1, 60}; c.H = 2; c.Hkv = 1; c.groups = {and_({causal(), same_doc()})};
    c.docLens = {1, 30, 1, 38, 1, 20, 1, 39}; add(c); }
  { Case c; c.name = "causal&same_doc closed-form classes fp16"; c.lens = {130}; c.H = 1; c.Hkv = 1; c.groups = {and_({causal(), same_doc()})};
    c.docLens = {1, 64, 1, 64}; c.closedForm = true; c.dt = DT::F16; add(c); }
  { Case c; c.name = "GQA 4/2 causal T=65 D=32"; c.lens = {65}; c.H = 4; c.Hkv = 2; c.D = 32; add(c); }
  { Case c; c.name = "MQA 3/1 head groups causal|window"; c.lens = {100}; c.H = 3; c.Hkv = 1; c.groups = {causal(), and_({causal(), window(8)})};
    c.headGroup = {0, 1, 1}; add(c); }
  { Case c; c.name = "decode Lq=5 Lk=130 causal"; c.lens = {130}; c.lensQ = {5}; c.H = 2; c.Hkv = 1; add(c); }
  { Case c; c.name = "chunked(32)&!window(3) T=100"; c.lens = {100}; c.H = 1; c.Hkv = 1; c.groups = {and_({chunked(32), not_(window(3)), causal()})}; add(c); }
  { Case c; c.name = "softcap 5 + ALiBi(limit 20) T=70"; c.lens = {70}; c.softcap = 5; c.alibi = true; c.alibiLimit = 20; c.scaleMul = 2; add(c); }
  { Case c; c.name = "softplus power 2 (L=16) T=70"; c.lens = {70}; c.power = 2; c.trainLength = 16; c.groups = {causal()}; add(c); }
  if (big) {
    { Case c; c.name = "causal T=1000 D=128 bf16"; c.lens = {1000}; c.H = 2; c.Hkv = 1; c.D = 128; add(c); }
    { Case c; c.name = "causal&same_doc T=4097 D=64 bf16"; c.lens = {4097}; c.H = 2; c.Hkv = 1; c.groups = {and_({causal(), same_doc()})};
      c.docLens = {1000, 1, 1500, 63, 1533}; add(c); }
    { Case c; c.name = "sinks+window(256) T=4097 D=128 fp16"; c.lens = {4097}; c.H = 1; c.Hkv = 1; c.D = 128;
      c.groups = {and_({causal(), or_({sink(4), window(256)})})}; c.dt = DT::F16; add(c); }
  }
  return v;
}

}  // namespace
}  // namespace lmp

using lmp::Case;

LMP_PARITY_CHECK(attention_fused) {
  for (const Case& c : lmp::cases(false)) lmp::run_case(c);
}

LMP_PARITY_CHECK_GPU(attention_fused_large) {
  for (const Case& c : lmp::cases(true))
    if (c.lens[0] >= 1000) lmp::run_case(c);
}

// The closed-form host classifier (classify_host.h, the rules of runtime/mask/classify.ts) against
// brute force per element: its Empty and Full claims are exact, and for single primitives every
// class is exact. Awkward lengths, queries at the end of longer keys, documents of length 1.
LMP_PARITY_CHECK(attention_classes) {
  using namespace lmp;
  const std::vector<std::pair<std::string, Prog>> progs = {
      {"causal", causal()}, {"window(1)", window(1)}, {"window(70)", window(70)}, {"sink(5)", sink(5)}, {"prefix(100)", prefix(100)},
      {"chunked(48)", chunked(48)}, {"same_doc", same_doc()}, {"causal&same_doc", and_({causal(), same_doc()})},
      {"causal&(sink(4)|window(16))", and_({causal(), or_({sink(4), window(16)})})}, {"!causal|sink(3)", or_({not_(causal()), sink(3)})}};
  std::vector<int32_t> docs;
  for (int L : {1, 63, 1, 1, 130, 7, 65}) docs.insert(docs.end(), static_cast<size_t>(L), static_cast<int32_t>(docs.empty() ? 0 : docs.back() + 1));
  size_t wrong = 0, tiles = 0;
  std::string first;
  for (const auto& np : progs)
    for (int lk : {1, 63, 65, 130, 268})
      for (int lq : {lk, std::max(1, lk / 3)}) {
        const std::vector<uint8_t> cf = cuda::attention::classify_blocks(np.second.data(), lq, lk, docs.data());
        const int nQ = (lq + 63) / 64, nK = (lk + 63) / 64, qoff = lk - lq;
        const bool primitive = np.second.size() == 2;
        for (int a = 0; a < nQ; ++a)
          for (int b = 0; b < nK; ++b) {
            bool any = false, all = true;
            for (int i = a * 64; i < std::min(lq, a * 64 + 64); ++i)
              for (int j = b * 64; j < std::min(lk, b * 64 + 64); ++j) {
                bool v;
                ref_eval(np.second, 0, qoff + i, j, docs.data(), &v);
                any = any || v;
                all = all && v;
              }
            const uint8_t exact = !any ? 0 : all ? 1 : 2, got = cf[a * nK + b];
            ++tiles;
            if (got == exact || (!primitive && got == 2)) continue;
            if (first.empty()) first = np.first + " lq=" + std::to_string(lq) + " lk=" + std::to_string(lk) + " tile " + std::to_string(a) + "," +
                                       std::to_string(b) + ": " + std::to_string(got) + " vs " + std::to_string(exact);
            ++wrong;
          }
      }
  parity::expect(wrong == 0, std::to_string(tiles) + " tiles, " + std::to_string(wrong) + " wrong" + (first.empty() ? "" : " (first: " + first + ")"));
}

// Coded refusals, never an abort: an unsupported head dim, the LM-Infinite limit.
LMP_PARITY_CHECK(attention_errors) {
  auto code_of = [](Case c, int distLimit) {
    lmp::Data d;
    lmp::build(c, d);
    d.p.distLimit = distLimit;
    d.p.qFar = d.q.data();
    d.p.kFar = d.k.data();
    std::vector<float> o(d.q.size()), l(d.q.size());
    try {
      lmp::cuda::attention::forward_host(d.p, d.classes.size(), c.dt, o.data(), l.data());
    } catch (const lmp::Error& e) {
      return e.code();
    }
    return std::string("(no error)");
  };
  Case c;
  c.lens = {10};
  c.D = 48;
  const std::string a = code_of(c, 0);
  lmp::parity::expect(a == "LMP_E_SHAPE", "headDim 48: " + a);
  c.D = 64;
  const std::string b = code_of(c, 5);
  lmp::parity::expect(b == "LMP_E_CONFIG_UNSUPPORTED", "distance limit: " + b);
}

#if defined(LMP_CUDA_EMU)
// A plan is one device allocation (its tables and the backward's delta), whatever the mask: the
// emulator's count of live allocations grows by one per plan and falls back when it goes.
LMP_PARITY_CHECK_EMU(attention_plan_one_allocation) {
  for (const bool docs : {false, true}) {
    Case c;
    c.lens = {70, 1, 60};
    c.H = 2;
    c.Hkv = 1;
    c.alibi = !docs;
    if (docs) {
      c.groups = {lmp::and_({lmp::causal(), lmp::same_doc()})};
      c.docLens = {1, 30, 1, 38, 1, 20, 1, 39};
    }
    lmp::Data d;
    lmp::build(c, d);
    { lmp::cuda::attention::Plan warm(d.p, d.classes.size()); }  // the module's context, once
    const size_t live = lmp::emu::live_device_allocations();
    {
      lmp::cuda::attention::Plan plan(d.p, d.classes.size());
      lmp::parity::expect(lmp::emu::live_device_allocations() == live + 1,
                          std::string(docs ? "document mask" : "ALiBi") + ": " + std::to_string(lmp::emu::live_device_allocations() - live) + " allocations");
    }
    lmp::parity::expect(lmp::emu::live_device_allocations() == live, "freed with the plan");
  }
}
#endif
