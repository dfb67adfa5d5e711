// N-API bindings of the CUDA attention (compiled only with -DLMP_CUDA=ON and a CUDA compiler):
//   cudaAttentionForward(options) -> { out, lse }
//   cudaAttentionBackward(options + { out, dout, lse, deterministic? }) -> { dq, dk, dv }
// options: the object of attentionForward (runtime/attention/index.ts, parsed by
// attention/napi_params.h) plus `dtype`: 'bf16' (default) | 'fp16', the kernels' input type (the
// float32 arrays are rounded to it). deterministic (default true): dQ in a fixed order, identical
// bits on every run; false: atomicAdd (faster). Errors: LMP_E_NO_DEVICE, LMP_E_CUDA, argument codes.
#include <napi.h>

#include <string>

#include "attention/attention_cuda.h"
#include "attention/napi_params.h"
#include "core/error.h"
#include "core/napi_util.h"
#include "core/registry.h"

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

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("cudaAttentionForward", Napi::Function::New(env, Forward, "cudaAttentionForward"));
  exports.Set("cudaAttentionBackward", Napi::Function::New(env, Backward, "cudaAttentionBackward"));
}

}  // namespace
}  // namespace lmp

LMP_REGISTER_MODULE(cuda_attention, lmp::Export);
