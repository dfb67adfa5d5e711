// N-API bindings of the CUDA attention (compiled only with -DLMP_CUDA=ON and a CUDA compiler):
//   cudaAttentionForward(options) -> { out, lse }
//   cudaAttentionBackward(options + { out, dout, lse, deterministic? }) -> { dq, dk, dv }
//   new CudaAttentionPlan(options without q/k/v): the layout, masks and score settings on the
//     device once (a model step's every layer reuses it), then on CudaTensors (model/bindings.cc)
//     plan.forward(q, k, v, out, lse) and plan.backward(q, k, v, out, dout, lse, dq, dk, dv,
//     deterministic = true), queued on the model module's stream: q/k/v/out/dout bf16, lse and the
//     gradients f32. plan.stats -> { qTiles, kTiles, computedTiles, partialTiles, densePairs }.
// options: the object of attentionForward (runtime/attention/index.ts, parsed by
// attention/napi_params.h) plus `dtype`: 'bf16' (default) | 'fp16', the kernels' input type (the
// float32 arrays are rounded to it). deterministic (default true): dQ in a fixed order, identical
// bits on every run; false: atomicAdd (faster). Errors: LMP_E_NO_DEVICE, LMP_E_CUDA, argument codes.
#include <napi.h>

#include <memory>
#include <string>

#include "attention/attention_cuda.h"
#include "attention/napi_params.h"
#include "core/error.h"
#include "core/napi_util.h"
#include "core/registry.h"
#include "model/model.h"
#include "model/napi_tensor.h"

namespace lmp {
namespace {

namespace ca = cuda::attention;

ca::Dtype dtype_of(const Napi::Object& o) {
  Napi::Value v = o.Get("dtype");
  if (v.IsUndefined() || v.IsNull()) return ca::Dtype::BF16;
  check(v.IsString(), "LMP_E_ARG", "dtype must be 'bf16' or 'fp16'");
  const std::string s = v.As<Napi::String>().Utf8Value();
  if (s == "bf16") return ca::Dtype::BF16;
  if (s == "fp16") return ca::Dtype::F16;
  fail("LMP_E_ARG", "dtype must be 'bf16' or 'fp16', got '" + s + "'");
}

Napi::Value Forward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    check(info.Length() >= 1 && info[0].IsObject(), "LMP_E_ARG", "cudaAttentionForward(options)");
    Napi::Object o = info[0].As<Napi::Object>();
    attn_napi::Parsed r;
    attn_napi::parse(o, r);
    const ca::Dtype dt = dtype_of(o);
    ca::require_device();
    const int64_t Tq = r.p.cuQ[r.p.S];
    Napi::Float32Array out = Napi::Float32Array::New(env, r.qLen);
    Napi::Float32Array lse = Napi::Float32Array::New(env, static_cast<size_t>(Tq * r.p.H));
    ca::forward_host(r.p, r.classesLen, dt, out.Data(), lse.Data());
    Napi::Object res = Napi::Object::New(env);
    res.Set("out", out);
    res.Set("lse", lse);
    return res;
  })
}

Napi::Value Backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    check(info.Length() >= 1 && info[0].IsObject(), "LMP_E_ARG", "cudaAttentionBackward(options)");
    Napi::Object o = info[0].As<Napi::Object>();
    attn_napi::Parsed r;
    attn_napi::parse(o, r);
    const ca::Dtype dt = dtype_of(o);
    auto out = array_arg<float>(o.Get("out"), "out");
    auto dout = array_arg<float>(o.Get("dout"), "dout");
    auto lse = array_arg<float>(o.Get("lse"), "lse");
    check(out.length == r.qLen && dout.length == r.qLen, "LMP_E_SHAPE", "out and dout must have the shape of q");
    check(static_cast<int64_t>(lse.length) == r.p.cuQ[r.p.S] * r.p.H, "LMP_E_SHAPE", "lse must have tokens*heads entries");
    Napi::Value det = o.Get("deterministic");
    const bool deterministic = det.IsUndefined() || det.IsNull() ? true : det.ToBoolean().Value();
    ca::require_device();
    Napi::Float32Array dq = Napi::Float32Array::New(env, r.qLen);
    Napi::Float32Array dk = Napi::Float32Array::New(env, r.kLen);
    Napi::Float32Array dv = Napi::Float32Array::New(env, r.kLen);
    ca::backward_host(r.p, r.classesLen, dt, out.data, dout.data, lse.data, dq.Data(), dk.Data(), dv.Data(), deterministic);
    Napi::Object res = Napi::Object::New(env);
    res.Set("dq", dq);
    res.Set("dk", dk);
    res.Set("dv", dv);
    return res;
  })
}

namespace cm = cuda::model;

class CudaAttentionPlan : public Napi::ObjectWrap<CudaAttentionPlan> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "CudaAttentionPlan",
                       {
                           InstanceMethod("forward", &CudaAttentionPlan::Forward),
                           InstanceMethod("backward", &CudaAttentionPlan::Backward),
                           InstanceMethod("free", &CudaAttentionPlan::Free),
                           InstanceAccessor("stats", &CudaAttentionPlan::Stats, nullptr),
                       });
  }

  explicit CudaAttentionPlan(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CudaAttentionPlan>(info) {
    Napi::Env env = info.Env();
    LMP_NAPI_TRY(env, {
      check(info.Length() >= 1 && info[0].IsObject(), "LMP_E_ARG", "new CudaAttentionPlan(options)");
      Napi::Object o = info[0].As<Napi::Object>();
      attn_napi::Parsed r;
      attn_napi::parse(o, r, false);
      check(dtype_of(o) == ca::Dtype::BF16, "LMP_E_DTYPE", "CudaAttentionPlan: device tensors are bf16 (dtype 'bf16')");
      check(r.p.distLimit <= 0, "LMP_E_CONFIG_UNSUPPORTED",
            "CUDA attention: the LM-Infinite distance limit is not implemented on CUDA yet (use the CPU kernels)");
      plan_.reset(new ca::Plan(r.p, r.classesLen));
      H_ = r.p.H, Hkv_ = r.p.Hkv, D_ = r.p.D;
    })
  }

 private:
  ca::Plan& plan(const char* what) {
    if (!plan_) fail("LMP_E_ARG", std::string("CudaAttentionPlan.") + what + ": the plan was freed");
    return *plan_;
  }
  // A bf16 (uint16 storage) or f32 tensor argument of exactly n elements.
  static uint16_t* half(const Napi::Value& v, const char* what, int64_t n) {
    const cm::Tensor& t = cm::tensor_arg(v, what);
    check(t.dtype == cm::DType::BF16, "LMP_E_DTYPE", std::string(what) + " must be a bf16 CudaTensor");
    check(t.numel == n, "LMP_E_SHAPE", std::string(what) + " has " + std::to_string(t.numel) + " elements, expected " + std::to_string(n));
    return static_cast<uint16_t*>(t.data);
  }
  static float* single(const Napi::Value& v, const char* what, int64_t n) {
    const cm::Tensor& t = cm::tensor_arg(v, what);
    check(t.dtype == cm::DType::F32, "LMP_E_DTYPE", std::string(what) + " must be an f32 CudaTensor");
    check(t.numel == n, "LMP_E_SHAPE", std::string(what) + " has " + std::to_string(t.numel) + " elements, expected " + std::to_string(n));
    return static_cast<float*>(t.data);
  }

  // forward(q, k, v, out, lse)
  Napi::Value Forward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    LMP_NAPI_TRY(env, {
      ca::Plan& pl = plan("forward");
      const int64_t nq = pl.tokensQ() * H_ * D_, nk = pl.tokensK() * Hkv_ * D_;
      ca::forward(pl, ca::Dtype::BF16, half(info[0], "q", nq), half(info[1], "k", nk), half(info[2], "v", nk), half(info[3], "out", nq),
                  single(info[4], "lse", pl.tokensQ() * H_), cm::stream_handle());
      return env.Undefined();
    })
  }

  // backward(q, k, v, out, dout, lse, dq, dk, dv, deterministic = true)
  Napi::Value Backward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    LMP_NAPI_TRY(env, {
      ca::Plan& pl = plan("backward");
      const int64_t nq = pl.tokensQ() * H_ * D_, nk = pl.tokensK() * Hkv_ * D_;
      const bool det = info.Length() < 10 || info[9].IsUndefined() || info[9].ToBoolean().Value();
      ca::backward(pl, ca::Dtype::BF16, half(info[0], "q", nq), half(info[1], "k", nk), half(info[2], "v", nk), half(info[3], "out", nq),
                   half(info[4], "dout", nq), single(info[5], "lse", pl.tokensQ() * H_), single(info[6], "dq", nq), single(info[7], "dk", nk),
                   single(info[8], "dv", nk), det, cm::stream_handle());
      return env.Undefined();
    })
  }

  Napi::Value Free(const Napi::CallbackInfo& info) {
    plan_.reset();
    return info.Env().Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    LMP_NAPI_TRY(env, {
      const ca::PlanStats& st = plan("stats").stats();
      Napi::Object o = Napi::Object::New(env);
      o.Set("qTiles", static_cast<double>(st.qTiles));
      o.Set("kTiles", static_cast<double>(st.kTiles));
      o.Set("computedTiles", static_cast<double>(st.computedTiles));
      o.Set("partialTiles", static_cast<double>(st.partialTiles));
      o.Set("densePairs", st.densePairs);
      return o;
    })
  }

  std::unique_ptr<ca::Plan> plan_;
  int64_t H_ = 0, Hkv_ = 0, D_ = 0;
};

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("cudaAttentionForward", Napi::Function::New(env, Forward, "cudaAttentionForward"));
  exports.Set("cudaAttentionBackward", Napi::Function::New(env, Backward, "cudaAttentionBackward"));
  exports.Set("CudaAttentionPlan", CudaAttentionPlan::Define(env));
}

}  // namespace
}  // namespace lmp

LMP_REGISTER_MODULE(cuda_attention, lmp::Export);
