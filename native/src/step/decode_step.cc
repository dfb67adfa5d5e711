// Module `step`: one decoding step of the Llama model in one native call (runtime/model/llama.ts
// _decodeStep's native path). The same kernels in the same order as the TypeScript step
// (embedding, then per layer RMSNorm, the q/k/v GEMMs into the cache rows, RoPE, the fused
// attention over the cache, the output GEMM, RMSNorm, gate/up GEMMs, SwiGLU, the down GEMM; the
// final RMSNorm and the head), so the logits have its bits; what it saves is the JavaScript between
// the kernels (~10% of a 1-thread step: allocations, lookups, the attention layout per layer),
// which ran on one thread at any thread count. Needs the model and attention modules.
//
//   decodeStep({ tokens, pos0, shift, dim, heads, kvHeads, headDim, ffn, vocab, eps, theta,
//                embed, norm, head, layers: [{ wq, wk, wv, wo, inNorm, postNorm, gate, up, down,
//                cacheK, cacheV }, ...], attn }) -> logits Float32Array [n, vocab]
//   theta: RoPE base (0: no RoPE); ropeInvFreq / ropeMscale (optional): a scaled RoPE's table
//   (runtime/attention ropeFrequencies), applied by the attention module's rope as the TypeScript
//   step's applyRope does, instead of the plain theta rotation; limit (optional, > 0, with the table):
//   LM-Infinite's distance limit, RoPE in the attention op as runtime/attention prepares it (the
//   cache holds keys before RoPE: q and the L keys rotated at their positions, qFar at the limit,
//   kFar at 0, every layer); shift: the cached keys are before RoPE and rotated by slot
//   0..L-1 each step (sinks + window); attn: the attention layout of (n queries, L = pos0 + n keys)
//   as runtime/attention attentionLayout builds it (no q/k/v).
#include <napi.h>

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <numeric>
#include <string>
#include <vector>

#include "attention/attention.h"
#include "attention/napi_params.h"
#include "core/error.h"
#include "core/napi_util.h"
#include "core/registry.h"
#include "core/threadpool.h"
#include "model/gemm.h"
#include "model/layers.h"

namespace lmp {
namespace {

struct Layer {
  const float *wq, *wk, *wv, *wo, *inNorm, *postNorm, *gate, *up, *down;
  float *cacheK, *cacheV;
};

// Several projections of the same rows h [n, K] (y_i = h W_i^T, W_i [N_i, K]) as one parallel
// loop over all their columns, where a decoding step (n <= 4: sgemm's small-M path, each element one
// dot of its row and column whatever the column range) would otherwise wait for the threads after
// each: the q/k/v and the gate/up projections, 3 + 2 waits a layer instead of 5. Inside the loop
// sgemm runs serially on the chunk's columns (the pool runs nested calls in the calling thread),
// so every element has the bits of the separate calls. Longer inputs (a prompt) take them one by one.
struct Proj {
  const float* w;
  int64_t cols;
  float* out;  // [n, cols]
};
void projections(int64_t n, int64_t K, const float* h, std::initializer_list<Proj> ps) {
  if (n > 4) {
    for (const Proj& p : ps) sgemm(false, true, n, p.cols, K, 1.f, h, K, p.w, K, 0.f, p.out, p.cols);
    return;
  }
  std::vector<Proj> v(ps);
  int64_t total = 0;
  for (const Proj& p : v) total += p.cols;
  parallel_for(static_cast<size_t>(total), [&](size_t jb, size_t je, int) {
    int64_t base = 0;
    for (const Proj& p : v) {
      const int64_t lo = std::max<int64_t>(static_cast<int64_t>(jb), base), hi = std::min<int64_t>(static_cast<int64_t>(je), base + p.cols);
      if (lo < hi) sgemm(false, true, n, hi - lo, K, 1.f, h, K, p.w + (lo - base) * K, K, 0.f, p.out + (lo - base), p.cols);
      base += p.cols;
    }
  });
}

// A float array field of o with exactly `n` elements (at least `n` when atLeast).
const float* fl(const Napi::Object& o, const char* name, int64_t n, bool atLeast = false) {
  auto a = array_arg<float>(o.Get(name), name);
  check(atLeast ? static_cast<int64_t>(a.length) >= n : static_cast<int64_t>(a.length) == n, "LMP_E_SHAPE",
        std::string("decodeStep: ") + name + " has " + std::to_string(a.length) + " elements, " + (atLeast ? "at least " : "") + std::to_string(n) +
            " expected");
  return a.data;
}

Napi::Value DecodeStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    check(info.Length() >= 1 && info[0].IsObject(), "LMP_E_ARG", "decodeStep(options)");
    Napi::Object o = info[0].As<Napi::Object>();
    auto tok = array_arg<int32_t>(o.Get("tokens"), "tokens");
    const int64_t n = static_cast<int64_t>(tok.length), pos0 = int_arg(o.Get("pos0"), "pos0"), L = pos0 + n;
    const bool shift = o.Get("shift").ToBoolean().Value();
    const int64_t D = int_arg(o.Get("dim"), "dim"), H = int_arg(o.Get("heads"), "heads"), HKV = int_arg(o.Get("kvHeads"), "kvHeads");
    const int64_t hd = int_arg(o.Get("headDim"), "headDim"), F = int_arg(o.Get("ffn"), "ffn"), V = int_arg(o.Get("vocab"), "vocab");
    const float eps = static_cast<float>(num_arg(o.Get("eps"), "eps"));
    const double theta = num_arg(o.Get("theta"), "theta");
    // a scaled RoPE: its frequency table (attention.h rope), else the plain theta rotation (layers.h rope)
    const float* invFreq = nullptr;
    float mscale = 1.f;
    Napi::Value ifv = o.Get("ropeInvFreq");
    if (!ifv.IsUndefined() && !ifv.IsNull()) {
      auto f = array_arg<float>(ifv, "ropeInvFreq");
      check(theta > 0, "LMP_E_ARG", "decodeStep: a RoPE table needs theta > 0");
      invFreq = f.data;
      mscale = static_cast<float>(num_arg(o.Get("ropeMscale"), "ropeMscale"));
    }
    check(n >= 1 && pos0 >= 0 && D >= 1 && H >= 1 && HKV >= 1 && hd >= 1 && F >= 1 && V >= 1, "LMP_E_ARG", "decodeStep: bad sizes");
    const int64_t HQ = H * hd, HK = HKV * hd;
    const int64_t limit = o.Get("limit").IsUndefined() ? 0 : int_arg(o.Get("limit"), "limit");
    check(limit <= 0 || invFreq, "LMP_E_ARG", "decodeStep: a distance limit needs the RoPE table");
    check(!invFreq || static_cast<int64_t>(array_arg<float>(ifv, "ropeInvFreq").length) == hd / 2, "LMP_E_SHAPE", "decodeStep: ropeInvFreq must have headDim / 2 entries");
    const float* embed = fl(o, "embed", V * D);
    const float* norm = fl(o, "norm", D);
    const float* head = fl(o, "head", V * D);
    Napi::Value lv = o.Get("layers");
    check(lv.IsArray(), "LMP_E_ARG", "decodeStep: layers must be an array");
    Napi::Array la = lv.As<Napi::Array>();
    std::vector<Layer> layers(la.Length());
    for (uint32_t l = 0; l < la.Length(); ++l) {
      Napi::Value e = la.Get(l);
      check(e.IsObject(), "LMP_E_ARG", "decodeStep: layers[" + std::to_string(l) + "] is not an object");
      Napi::Object w = e.As<Napi::Object>();
      Layer& y = layers[l];
      y.wq = fl(w, "wq", HQ * D), y.wk = fl(w, "wk", HK * D), y.wv = fl(w, "wv", HK * D), y.wo = fl(w, "wo", D * HQ);
      y.inNorm = fl(w, "inNorm", D), y.postNorm = fl(w, "postNorm", D);
      y.gate = fl(w, "gate", F * D), y.up = fl(w, "up", F * D), y.down = fl(w, "down", D * F);
      y.cacheK = const_cast<float*>(fl(w, "cacheK", L * HK, true)), y.cacheV = const_cast<float*>(fl(w, "cacheV", L * HK, true));
    }
    Napi::Value av = o.Get("attn");
    check(av.IsObject(), "LMP_E_ARG", "decodeStep: attn must be the attention layout");
    attn_napi::Parsed ap;
    attn_napi::parse(av.As<Napi::Object>(), ap, false);
    attn::Params& p = ap.p;
    check(p.S == 1 && p.cuQ[1] == n && p.cuK[1] == L && p.H == H && p.Hkv == HKV && p.D == hd && p.distLimit == 0, "LMP_E_SHAPE",
          "decodeStep: the attention layout is not one sequence of n queries over pos0 + n keys with the model's heads");
    for (int64_t i = 0; i < n; ++i)
      check(tok.data[i] >= 0 && tok.data[i] < V, "LMP_E_TOKEN", "token " + std::to_string(tok.data[i]) + " outside the vocabulary (" + std::to_string(V) + ")");

    std::vector<int32_t> positions(static_cast<size_t>(n)), slots;
    std::iota(positions.begin(), positions.end(), static_cast<int32_t>(pos0));
    if ((shift && theta > 0) || limit > 0) slots.resize(static_cast<size_t>(L)), std::iota(slots.begin(), slots.end(), 0);
    const std::vector<float> positionsF(positions.begin(), positions.end()), slotsF(slots.begin(), slots.end());
    // x [rows, heads, hd] rotated in place at the given positions (attention.h's rope reads each pair before writing it)
    const auto rotate = [&](float* x, int64_t rows, int64_t heads, const std::vector<int32_t>& at, const std::vector<float>& atF) {
      if (invFreq) attn::rope(x, x, rows, heads, hd, atF.data(), invFreq, mscale, false);
      else model::rope(x, rows, heads, hd, at.data(), theta, false);
    };
    std::vector<float> x(static_cast<size_t>(n * D)), h(static_cast<size_t>(n * D)), r(static_cast<size_t>(n)), q(static_cast<size_t>(n * HQ));
    std::vector<float> g(static_cast<size_t>(n * F)), u(static_cast<size_t>(n * F)), ao(static_cast<size_t>(n * HQ)), lse(static_cast<size_t>(n * H));
    std::vector<float> kRot((shift && theta > 0) || limit > 0 ? static_cast<size_t>(L * HK) : 0);
    // LM-Infinite: the rotated queries, and qFar / kFar with their positions (the limit, 0)
    std::vector<float> qRot(limit > 0 ? q.size() : 0), qFar(qRot.size()), kFar(kRot.size());
    const std::vector<float> atLimit(limit > 0 ? static_cast<size_t>(n) : 0, static_cast<float>(limit)), atZero(limit > 0 ? static_cast<size_t>(L) : 0, 0.f);
    if (limit > 0) p.distLimit = limit;
    model::embedding_forward(embed, V, D, tok.data, n, x.data());
    for (const Layer& y : layers) {
      float* k = y.cacheK + pos0 * HK;
      float* v = y.cacheV + pos0 * HK;
      model::rmsnorm_forward(x.data(), y.inNorm, n, D, eps, h.data(), r.data());
      projections(n, D, h.data(), {{y.wq, HQ, q.data()}, {y.wk, HK, k}, {y.wv, HK, v}});
      const float* kAll = y.cacheK;
      if (limit > 0) {
        // RoPE in the op (runtime/attention prepare): the cache and q stay before RoPE
        const size_t kb = static_cast<size_t>(L * HK) * sizeof(float), qb = q.size() * sizeof(float);
        std::memcpy(qRot.data(), q.data(), qb), std::memcpy(qFar.data(), q.data(), qb);
        std::memcpy(kRot.data(), y.cacheK, kb), std::memcpy(kFar.data(), y.cacheK, kb);
        attn::rope(qRot.data(), qRot.data(), n, H, hd, positionsF.data(), invFreq, mscale, false);
        attn::rope(kRot.data(), kRot.data(), L, HKV, hd, slotsF.data(), invFreq, mscale, false);
        attn::rope(qFar.data(), qFar.data(), n, H, hd, atLimit.data(), invFreq, mscale, false);
        attn::rope(kFar.data(), kFar.data(), L, HKV, hd, atZero.data(), invFreq, mscale, false);
        p.qFar = qFar.data(), p.kFar = kFar.data();
        kAll = kRot.data();
      } else if (theta > 0) {
        rotate(q.data(), n, H, positions, positionsF);
        if (shift) {
          // keys cached before RoPE, rotated by their slot (the position shift of an evicting cache)
          std::memcpy(kRot.data(), y.cacheK, static_cast<size_t>(L * HK) * sizeof(float));
          rotate(kRot.data(), L, HKV, slots, slotsF);
          kAll = kRot.data();
        } else {
          rotate(k, n, HKV, positions, positionsF);
        }
      }
      p.q = limit > 0 ? qRot.data() : q.data(), p.k = kAll, p.v = y.cacheV;
      attn::validate(p, q.size(), static_cast<size_t>(L * HK), ap.classesLen);
      attn::forward(p, ao.data(), lse.data());
      sgemm(false, true, n, D, HQ, 1.f, ao.data(), HQ, y.wo, HQ, 1.f, x.data(), D);
      model::rmsnorm_forward(x.data(), y.postNorm, n, D, eps, h.data(), r.data());
      projections(n, D, h.data(), {{y.gate, F, g.data()}, {y.up, F, u.data()}});
      model::swiglu_forward(g.data(), u.data(), n * F, g.data());
      sgemm(false, true, n, D, F, 1.f, g.data(), F, y.down, F, 1.f, x.data(), D);
    }
    model::rmsnorm_forward(x.data(), norm, n, D, eps, h.data(), r.data());
    Napi::Float32Array logits = Napi::Float32Array::New(env, static_cast<size_t>(n * V));
    sgemm(false, true, n, V, D, 1.f, h.data(), D, head, D, 0.f, logits.Data(), V);
    return logits;
  })
}

void Export(Napi::Env env, Napi::Object exports) { exports.Set("decodeStep", Napi::Function::New(env, DecodeStep, "decodeStep")); }

}  // namespace
}  // namespace lmp

LMP_REGISTER_MODULE(step, lmp::Export);
