// N-API bindings of the attention module: attentionForward, attentionBackward, ropeApply.
// Argument objects are built by runtime/attention/index.ts (the typed public API).
#include <napi.h>

#include <string>
#include <vector>

#include "attention/attention.h"
#include "attention/napi_params.h"
#include "core/error.h"
#include "core/napi_util.h"
#include "core/registry.h"

namespace lmp {
namespace {

using attn_napi::field;
using attn_napi::parse;
using attn_napi::Parsed;

Napi::Value Forward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    check(info.Length() >= 1 && info[0].IsObject(), "LMP_E_ARG", "attentionForward(options)");
    Parsed r;
    parse(info[0].As<Napi::Object>(), r);
    const int64_t Tq = r.p.cuQ[r.p.S];
    Napi::Float32Array out = Napi::Float32Array::New(env, r.qLen);
    Napi::Float32Array lse = Napi::Float32Array::New(env, static_cast<size_t>(Tq * r.p.H));
    attn::forward(r.p, out.Data(), lse.Data());
    Napi::Object res = Napi::Object::New(env);
    res.Set("out", out);
    res.Set("lse", lse);
    return res;
  })
}

// attentionForwardMany([options, ...]) -> [{out, lse}, ...]: attentionForward of each, decoding
// calls (<= 4 queries per sequence) in one parallel loop (attention.h forward_many)
Napi::Value ForwardMany(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    check(info.Length() >= 1 && info[0].IsArray(), "LMP_E_ARG", "attentionForwardMany([options, ...])");
    Napi::Array arr = info[0].As<Napi::Array>();
    const size_t n = arr.Length();
    std::vector<Parsed> rs(n);  // sized once: the Params point into their own Parsed
    std::vector<attn::Params> ps(n);
    std::vector<float*> outs(n), lses(n);
    Napi::Array res = Napi::Array::New(env, n);
    for (size_t i = 0; i < n; ++i) {
      Napi::Value v = arr.Get(static_cast<uint32_t>(i));
      check(v.IsObject(), "LMP_E_ARG", "attentionForwardMany: entry " + std::to_string(i) + " is not an options object");
      parse(v.As<Napi::Object>(), rs[i]);
      ps[i] = rs[i].p;
      Napi::Float32Array out = Napi::Float32Array::New(env, rs[i].qLen);
      Napi::Float32Array lse = Napi::Float32Array::New(env, static_cast<size_t>(rs[i].p.cuQ[rs[i].p.S] * rs[i].p.H));
      outs[i] = out.Data();
      lses[i] = lse.Data();
      Napi::Object o = Napi::Object::New(env);
      o.Set("out", out);
      o.Set("lse", lse);
      res.Set(static_cast<uint32_t>(i), o);
    }
    attn::forward_many(ps.data(), n, outs.data(), lses.data());
    return res;
  })
}

Napi::Value Backward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    check(info.Length() >= 1 && info[0].IsObject(), "LMP_E_ARG", "attentionBackward(options)");
    Napi::Object o = info[0].As<Napi::Object>();
    Parsed r;
    parse(o, r);
    auto out = array_arg<float>(field(o, "out"), "out");
    auto dout = array_arg<float>(field(o, "dout"), "dout");
    auto lse = array_arg<float>(field(o, "lse"), "lse");
    check(out.length == r.qLen && dout.length == r.qLen, "LMP_E_SHAPE", "out and dout must have the shape of q");
    check(static_cast<int64_t>(lse.length) == r.p.cuQ[r.p.S] * r.p.H, "LMP_E_SHAPE", "lse must have tokens*heads entries");
    Napi::Float32Array dq = Napi::Float32Array::New(env, r.qLen);
    Napi::Float32Array dk = Napi::Float32Array::New(env, r.kLen);
    Napi::Float32Array dv = Napi::Float32Array::New(env, r.kLen);
    Napi::Object res = Napi::Object::New(env);
    if (r.p.distLimit > 0) {
      Napi::Float32Array dqf = Napi::Float32Array::New(env, r.qLen);
      Napi::Float32Array dkf = Napi::Float32Array::New(env, r.kLen);
      attn::backward(r.p, out.data, dout.data, lse.data, dq.Data(), dk.Data(), dv.Data(), dqf.Data(), dkf.Data());
      res.Set("dqFar", dqf);
      res.Set("dkFar", dkf);
    } else {
      attn::backward(r.p, out.data, dout.data, lse.data, dq.Data(), dk.Data(), dv.Data());
    }
    res.Set("dq", dq);
    res.Set("dk", dk);
    res.Set("dv", dv);
    return res;
  })
}

// ropeApply(x, tokens, heads, headDim, positions: Float32Array[tokens], invFreq: Float32Array[headDim/2], mscale, inverse)
Napi::Value Rope(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    auto x = array_arg<float>(info[0], "x");
    const int64_t T = int_arg(info[1], "tokens"), Hx = int_arg(info[2], "heads"), D = int_arg(info[3], "headDim");
    auto pos = array_arg<float>(info[4], "positions");
    auto inv = array_arg<float>(info[5], "invFreq");
    const double ms = num_arg(info[6], "mscale");
    const bool inverse = info[7].ToBoolean().Value();
    check(T >= 0 && Hx >= 1 && D >= 2, "LMP_E_SHAPE", "bad rope shape");
    check(static_cast<size_t>(T * Hx * D) == x.length, "LMP_E_SHAPE", "x must have tokens*heads*headDim elements");
    check(static_cast<int64_t>(pos.length) == T, "LMP_E_SHAPE", "positions must have one entry per token");
    check(static_cast<int64_t>(inv.length) == D / 2, "LMP_E_SHAPE", "invFreq must have headDim/2 entries");
    Napi::Float32Array out = Napi::Float32Array::New(env, x.length);
    attn::rope(x.data, out.Data(), T, Hx, D, pos.data, inv.data, static_cast<float>(ms), inverse);
    return out;
  })
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("attentionForward", Napi::Function::New(env, Forward, "attentionForward"));
  exports.Set("attentionForwardMany", Napi::Function::New(env, ForwardMany, "attentionForwardMany"));
  exports.Set("attentionBackward", Napi::Function::New(env, Backward, "attentionBackward"));
  exports.Set("ropeApply", Napi::Function::New(env, Rope, "ropeApply"));
}

}  // namespace
}  // namespace lmp

LMP_REGISTER_MODULE(attention, lmp::Export);
