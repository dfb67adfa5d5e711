// N-API bindings of the model module: thin argument conversion + shape checks over
// gemm.h and layers.h. Outputs are caller-allocated typed arrays (subarray views allowed).
#include <napi.h>

#include <string>

#include "core/error.h"
#include "core/napi_util.h"
#include "core/registry.h"
#include "model/gemm.h"
#include "model/layers.h"

namespace lmp {
namespace {

void need_len(size_t have, int64_t want, const char* what) {
  check(want >= 0 && have == static_cast<size_t>(want), "LMP_E_SHAPE",
        std::string(what) + " has " + std::to_string(have) + " elements, expected " + std::to_string(want));
}

// A GEMM's (M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) from info[at] on, checked against the
// buffers for op(A) = A^T when ta and op(B) = B^T when tb (gemm, gemmAsync, gemmRows).
struct GemmArgs {
  int64_t M, N, K, lda, ldb, ldc;
  float alpha, beta;
  const float* A;
  const float* B;
  float* C;
};
GemmArgs gemm_args(const Napi::CallbackInfo& info, int at, bool ta, bool tb) {
  GemmArgs g;
  g.M = int_arg(info[at], "M"), g.N = int_arg(info[at + 1], "N"), g.K = int_arg(info[at + 2], "K");
  g.alpha = static_cast<float>(num_arg(info[at + 3], "alpha"));
  auto A = array_arg<float>(info[at + 4], "A");
  g.lda = int_arg(info[at + 5], "lda");
  auto B = array_arg<float>(info[at + 6], "B");
  g.ldb = int_arg(info[at + 7], "ldb");
  g.beta = static_cast<float>(num_arg(info[at + 8], "beta"));
  auto C = array_arg<float>(info[at + 9], "C");
  g.ldc = int_arg(info[at + 10], "ldc");
  sgemm_check(ta, tb, g.M, g.N, g.K, A.length, g.lda, B.length, g.ldb, C.length, g.ldc);
  g.A = A.data, g.B = B.data, g.C = C.data;
  return g;
}

// gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    const bool ta = info[0].ToBoolean().Value(), tb = info[1].ToBoolean().Value();
    const GemmArgs g = gemm_args(info, 2, ta, tb);
    sgemm(ta, tb, g.M, g.N, g.K, g.alpha, g.A, g.lda, g.B, g.ldb, g.beta, g.C, g.ldc);
    return env.Undefined();
  })
}

// gemmRows(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc): C = alpha A B^T + beta C, M <= 16, each
// row with the bits of M = 1 (gemm.h sgemm_rows_bt)
Napi::Value GemmRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    const GemmArgs g = gemm_args(info, 0, false, true);
    sgemm_rows_bt(g.M, g.N, g.K, g.alpha, g.A, g.lda, g.B, g.ldb, g.beta, g.C, g.ldc);
    return env.Undefined();
  })
}

Napi::Value EmbeddingForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    auto table = array_arg<float>(info[0], "table");
    const int64_t vocab = int_arg(info[1], "vocab"), dim = int_arg(info[2], "dim");
    auto tokens = array_arg<int32_t>(info[3], "tokens");
    auto out = array_arg<float>(info[4], "out");
    need_len(table.length, vocab * dim, "table");
    need_len(out.length, static_cast<int64_t>(tokens.length) * dim, "out");
    model::embedding_forward(table.data, vocab, dim, tokens.data, static_cast<int64_t>(tokens.length), out.data);
    return env.Undefined();
  })
}

Napi::Value EmbeddingBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    auto dout = array_arg<float>(info[0], "dout");
    auto tokens = array_arg<int32_t>(info[1], "tokens");
    const int64_t vocab = int_arg(info[2], "vocab"), dim = int_arg(info[3], "dim");
    auto dtable = array_arg<float>(info[4], "dtable");
    need_len(dtable.length, vocab * dim, "dtable");
    need_len(dout.length, static_cast<int64_t>(tokens.length) * dim, "dout");
    model::embedding_backward(dout.data, tokens.data, static_cast<int64_t>(tokens.length), vocab, dim, dtable.data);
    return env.Undefined();
  })
}

Napi::Value RmsnormForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    auto x = array_arg<float>(info[0], "x");
    auto w = array_arg<float>(info[1], "w");
    const int64_t rows = int_arg(info[2], "rows"), dim = int_arg(info[3], "dim");
    const float eps = static_cast<float>(num_arg(info[4], "eps"));
    auto y = array_arg<float>(info[5], "y");
    auto rstd = array_arg<float>(info[6], "rstd");
    need_len(x.length, rows * dim, "x");
    need_len(w.length, dim, "w");
    need_len(y.length, rows * dim, "y");
    need_len(rstd.length, rows, "rstd");
    model::rmsnorm_forward(x.data, w.data, rows, dim, eps, y.data, rstd.data);
    return env.Undefined();
  })
}

Napi::Value RmsnormBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    auto dy = array_arg<float>(info[0], "dy");
    auto x = array_arg<float>(info[1], "x");
    auto w = array_arg<float>(info[2], "w");
    auto rstd = array_arg<float>(info[3], "rstd");
    const int64_t rows = int_arg(info[4], "rows"), dim = int_arg(info[5], "dim");
    auto dx = array_arg<float>(info[6], "dx");
    const bool acc = info[7].ToBoolean().Value();
    auto dw = array_arg<float>(info[8], "dw");
    need_len(dy.length, rows * dim, "dy");
    need_len(x.length, rows * dim, "x");
    need_len(dx.length, rows * dim, "dx");
    need_len(w.length, dim, "w");
    need_len(dw.length, dim, "dw");
    need_len(rstd.length, rows, "rstd");
    model::rmsnorm_backward(dy.data, x.data, w.data, rstd.data, rows, dim, dx.data, acc, dw.data);
    return env.Undefined();
  })
}

Napi::Value SwigluForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    auto g = array_arg<float>(info[0], "g");
    auto u = array_arg<float>(info[1], "u");
    auto h = array_arg<float>(info[2], "h");
    need_len(u.length, static_cast<int64_t>(g.length), "u");
    need_len(h.length, static_cast<int64_t>(g.length), "h");
    model::swiglu_forward(g.data, u.data, static_cast<int64_t>(g.length), h.data);
    return env.Undefined();
  })
}

Napi::Value SwigluBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    auto g = array_arg<float>(info[0], "g");
    auto u = array_arg<float>(info[1], "u");
    auto dh = array_arg<float>(info[2], "dh");
    auto dg = array_arg<float>(info[3], "dg");
    auto du = array_arg<float>(info[4], "du");
    const int64_t n = static_cast<int64_t>(g.length);
    need_len(u.length, n, "u");
    need_len(dh.length, n, "dh");
    need_len(dg.length, n, "dg");
    need_len(du.length, n, "du");
    model::swiglu_backward(g.data, u.data, dh.data, n, dg.data, du.data);
    return env.Undefined();
  })
}

Napi::Value AddInplace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    auto y = array_arg<float>(info[0], "y");
    auto x = array_arg<float>(info[1], "x");
    need_len(x.length, static_cast<int64_t>(y.length), "x");
    model::add_inplace(y.data, x.data, static_cast<int64_t>(y.length));
    return env.Undefined();
  })
}

// crossEntropy(logits, rows, vocab, targets, weight, scale, loss, dlogits | null)
Napi::Value CrossEntropy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    auto logits = array_arg<float>(info[0], "logits");
    const int64_t rows = int_arg(info[1], "rows"), vocab = int_arg(info[2], "vocab");
    auto targets = array_arg<int32_t>(info[3], "targets");
    auto weight = array_arg<float>(info[4], "weight");
    const float scale = static_cast<float>(num_arg(info[5], "scale"));
    auto loss = array_arg<float>(info[6], "loss");
    need_len(logits.length, rows * vocab, "logits");
    need_len(targets.length, rows, "targets");
    need_len(weight.length, rows, "weight");
    need_len(loss.length, rows, "loss");
    check(vocab > 0, "LMP_E_SHAPE", "crossEntropy: vocab must be > 0");
    float* dl = nullptr;
    if (info.Length() > 7 && !info[7].IsNull() && !info[7].IsUndefined()) {
      auto d = array_arg<float>(info[7], "dlogits");
      need_len(d.length, rows * vocab, "dlogits");
      dl = d.data;
    }
    model::cross_entropy(logits.data, rows, vocab, targets.data, weight.data, scale, loss.data, dl);
    return env.Undefined();
  })
}

// rope(x, n, heads, headDim, positions, theta, inverse)
Napi::Value Rope(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    auto x = array_arg<float>(info[0], "x");
    const int64_t n = int_arg(info[1], "n"), heads = int_arg(info[2], "heads"), hd = int_arg(info[3], "headDim");
    auto pos = array_arg<int32_t>(info[4], "positions");
    const double theta = num_arg(info[5], "theta");
    const bool inverse = info[6].ToBoolean().Value();
    need_len(x.length, n * heads * hd, "x");
    need_len(pos.length, n, "positions");
    check(theta > 0, "LMP_E_ARG", "rope: theta must be > 0");
    model::rope(x.data, n, heads, hd, pos.data, theta, inverse);
    return env.Undefined();
  })
}

// adamw(p, g, m, v, lr, beta1, beta2, eps, weightDecay, step, gradScale)
Napi::Value Adamw(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    auto p = array_arg<float>(info[0], "param");
    auto g = array_arg<float>(info[1], "grad");
    auto m = array_arg<float>(info[2], "m");
    auto v = array_arg<float>(info[3], "v");
    const int64_t n = static_cast<int64_t>(p.length);
    need_len(g.length, n, "grad");
    need_len(m.length, n, "m");
    need_len(v.length, n, "v");
    model::adamw(p.data, g.data, m.data, v.data, n, num_arg(info[4], "lr"), num_arg(info[5], "beta1"),
                 num_arg(info[6], "beta2"), num_arg(info[7], "eps"), num_arg(info[8], "weightDecay"),
                 int_arg(info[9], "step"), num_arg(info[10], "gradScale"));
    return env.Undefined();
  })
}

Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    auto x = array_arg<float>(info[0], "x");
    return Napi::Number::New(env, model::sum_squares(x.data, static_cast<int64_t>(x.length)));
  })
}

model::AttnShape attn_shape(const Napi::CallbackInfo& info, int at, int64_t tq, int64_t tk) {
  // at: heads, kvHeads, headDim, cuQ, cuK, mask, scale
  model::AttnShape s{};
  s.heads = int_arg(info[at], "heads");
  s.kv_heads = int_arg(info[at + 1], "kvHeads");
  s.head_dim = int_arg(info[at + 2], "headDim");
  auto cq = array_arg<int32_t>(info[at + 3], "cuSeqlensQ");
  auto ck = array_arg<int32_t>(info[at + 4], "cuSeqlensK");
  auto mask = array_arg<uint8_t>(info[at + 5], "mask");
  s.scale = static_cast<float>(num_arg(info[at + 6], "scale"));
  check(cq.length >= 1 && cq.length == ck.length, "LMP_E_SHAPE", "attention: cuSeqlensQ and cuSeqlensK must have nseq+1 entries");
  s.nseq = static_cast<int64_t>(cq.length) - 1;
  s.cu_q = cq.data;
  s.cu_k = ck.data;
  s.mask = mask.data;
  s.mask_len = mask.length;
  s.tq = tq;
  s.tk = tk;
  check(s.heads > 0 && s.kv_heads > 0 && s.head_dim > 0, "LMP_E_SHAPE", "attention: heads, kvHeads, headDim must be > 0");
  return s;
}

// attentionForward(q, k, v, heads, kvHeads, headDim, cuQ, cuK, mask, scale, out, lse)
Napi::Value AttentionForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    auto q = array_arg<float>(info[0], "q");
    auto k = array_arg<float>(info[1], "k");
    auto v = array_arg<float>(info[2], "v");
    const int64_t H = int_arg(info[3], "heads"), KH = int_arg(info[4], "kvHeads"), D = int_arg(info[5], "headDim");
    check(H > 0 && KH > 0 && D > 0, "LMP_E_SHAPE", "attention: heads, kvHeads, headDim must be > 0");
    const int64_t tq = static_cast<int64_t>(q.length) / (H * D), tk = static_cast<int64_t>(k.length) / (KH * D);
    need_len(q.length, tq * H * D, "q");
    need_len(k.length, tk * KH * D, "k");
    need_len(v.length, tk * KH * D, "v");
    model::AttnShape s = attn_shape(info, 3, tq, tk);
    auto out = array_arg<float>(info[10], "out");
    auto lse = array_arg<float>(info[11], "lse");
    need_len(out.length, tq * H * D, "out");
    need_len(lse.length, tq * H, "lse");
    model::attention_forward(s, q.data, k.data, v.data, out.data, lse.data);
    return env.Undefined();
  })
}

// attentionBackward(q, k, v, out, lse, dout, heads, kvHeads, headDim, cuQ, cuK, mask, scale, dq, dk, dv)
Napi::Value AttentionBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    auto q = array_arg<float>(info[0], "q");
    auto k = array_arg<float>(info[1], "k");
    auto v = array_arg<float>(info[2], "v");
    auto out = array_arg<float>(info[3], "out");
    auto lse = array_arg<float>(info[4], "lse");
    auto dout = array_arg<float>(info[5], "dout");
    const int64_t H = int_arg(info[6], "heads"), KH = int_arg(info[7], "kvHeads"), D = int_arg(info[8], "headDim");
    check(H > 0 && KH > 0 && D > 0, "LMP_E_SHAPE", "attention: heads, kvHeads, headDim must be > 0");
    const int64_t tq = static_cast<int64_t>(q.length) / (H * D), tk = static_cast<int64_t>(k.length) / (KH * D);
    need_len(q.length, tq * H * D, "q");
    need_len(k.length, tk * KH * D, "k");
    need_len(v.length, tk * KH * D, "v");
    need_len(out.length, tq * H * D, "out");
    need_len(dout.length, tq * H * D, "dout");
    need_len(lse.length, tq * H, "lse");
    model::AttnShape s = attn_shape(info, 6, tq, tk);
    auto dq = array_arg<float>(info[13], "dq");
    auto dk = array_arg<float>(info[14], "dk");
    auto dv = array_arg<float>(info[15], "dv");
    need_len(dq.length, tq * H * D, "dq");
    need_len(dk.length, tk * KH * D, "dk");
    need_len(dv.length, tk * KH * D, "dv");
    model::attention_backward(s, q.data, k.data, v.data, out.data, lse.data, dout.data, dq.data, dk.data, dv.data);
    return env.Undefined();
  })
}

// gemmAsync(same arguments as gemm) -> Promise<void>: the same sgemm on a libuv worker thread
// (Napi::AsyncWorker), so the event loop keeps running during a long multiply. Arguments are
// checked synchronously (a bad call throws, as gemm does); A, B and C are held by references
// until the promise settles, and the caller must not touch C (nor change A, B) until then.
// The result is bit-identical to gemm: same kernel, same per-element summation order.
class GemmWorker : public Napi::AsyncWorker {
 public:
  GemmWorker(Napi::Env env, bool ta, bool tb, const GemmArgs& g)
      : Napi::AsyncWorker(env, "lmpModelGemm"), deferred_(Napi::Promise::Deferred::New(env)), ta_(ta), tb_(tb), g_(g) {}

  void Hold(const Napi::CallbackInfo& info) {
    refs_[0] = Napi::Persistent(info[6].As<Napi::Object>());
    refs_[1] = Napi::Persistent(info[8].As<Napi::Object>());
    refs_[2] = Napi::Persistent(info[11].As<Napi::Object>());
  }
  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      sgemm(ta_, tb_, g_.M, g_.N, g_.K, g_.alpha, g_.A, g_.lda, g_.B, g_.ldb, g_.beta, g_.C, g_.ldc);
    } catch (const ::lmp::Error& e) {
      code_ = e.code();
      SetError(e.what());
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(to_js_error(Env(), code_, e.Message()).Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference refs_[3];
  std::string code_ = "LMP_E_INTERNAL";
  bool ta_, tb_;
  GemmArgs g_;
};

Napi::Value GemmAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    const bool ta = info[0].ToBoolean().Value(), tb = info[1].ToBoolean().Value();
    auto* w = new GemmWorker(env, ta, tb, gemm_args(info, 2, ta, tb));
    w->Hold(info);
    Napi::Promise p = w->Promise();
    w->Queue();  // the worker deletes itself after OnOK/OnError
    return p;
  })
}

void Export(Napi::Env env, Napi::Object exports) {
  auto add = [&](const char* name, Napi::Value (*fn)(const Napi::CallbackInfo&)) {
    exports.Set(name, Napi::Function::New(env, fn, name));
  };
  add("modelGemm", Gemm);
  add("modelGemmRows", GemmRows);
  add("modelGemmAsync", GemmAsync);
  add("modelEmbeddingForward", EmbeddingForward);
  add("modelEmbeddingBackward", EmbeddingBackward);
  add("modelRmsnormForward", RmsnormForward);
  add("modelRmsnormBackward", RmsnormBackward);
  add("modelSwigluForward", SwigluForward);
  add("modelSwigluBackward", SwigluBackward);
  add("modelAddInplace", AddInplace);
  add("modelCrossEntropy", CrossEntropy);
  add("modelRope", Rope);
  add("modelAdamw", Adamw);
  add("modelSumSquares", SumSquares);
  add("modelAttentionForward", AttentionForward);
  add("modelAttentionBackward", AttentionBackward);
}

}  // namespace
}  // namespace lmp

LMP_REGISTER_MODULE(model, lmp::Export);
