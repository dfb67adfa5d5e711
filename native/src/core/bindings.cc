// Core bindings: version, threading and SIMD settings, and log-softmax.
#include <napi.h>

#include <initializer_list>
#include <string>
#include <utility>

#include "core/config.h"
#include "core/error.h"
#include "core/napi_util.h"
#include "core/registry.h"
#include "core/softmax.h"
#include "core/threadpool.h"

#ifndef LMP_VERSION
#define LMP_VERSION "0.1.0"
#endif

namespace lmp {
namespace {

Napi::Value Version(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("version", LMP_VERSION);
  o.Set("napi", NAPI_VERSION);
  o.Set("simd", simd_name());
  o.Set("dispatch", simd_level_name(cpu_simd_level()));  // widest hand-written kernel path this CPU runs
  o.Set("weightStreams", weight_streams_name(detected_weight_streams()));  // how the GEMMs stream weights on this CPU (core/config.h)
  o.Set("path", simd_level_name(simd_level()));                 // the path taken now (dispatch capped by setSimdCap; scalar under setForceScalar)
  o.Set("streams", weight_streams_name(weight_streams()));      // the weight streams in force now (weightStreams unless setWeightStreams)
#ifdef LMP_HAVE_CUDA
  o.Set("cuda", true);
#else
  o.Set("cuda", false);
#endif
  return o;
}

Napi::Value NumThreads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), num_threads()); }

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    set_num_threads(static_cast<int>(int_arg(info[0], "threads")));
    return Napi::Number::New(env, num_threads());
  })
}

Napi::Value SetForceScalar(const Napi::CallbackInfo& info) {
  set_force_scalar(info[0].ToBoolean().Value());
  return info.Env().Undefined();
}

// The value of info[0] among `names` (a string), or `none` when it is null, undefined or absent;
// anything else is LMP_E_ARG naming `fn` and the choices.
int named_choice(const Napi::CallbackInfo& info, const char* fn, std::initializer_list<std::pair<const char*, int>> names, int none) {
  if (info.Length() == 0 || info[0].IsNull() || info[0].IsUndefined()) return none;
  if (!info[0].IsString()) fail("LMP_E_ARG", std::string(fn) + ": expected a string or null");
  const std::string n = info[0].As<Napi::String>().Utf8Value();
  std::string expected;
  for (const auto& [name, value] : names) {
    if (n == name) return value;
    expected += std::string(expected.empty() ? "" : ", ") + "'" + name + "'";
  }
  fail("LMP_E_ARG", std::string(fn) + ": expected " + expected + " or null, got '" + n + "'");
}

// setSimdCap("avx512" | "avx2" | "scalar" | null): the widest run-time dispatched kernel path
// (GEMM, attention) allowed; null lifts the cap. Returns the path kernels now take.
Napi::Value SetSimdCap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    set_simd_cap(named_choice(info, "setSimdCap", {{"avx512", kSimdAvx512}, {"avx2", kSimdAvx2}, {"scalar", kSimdScalar}}, kSimdAvx512));
    return Napi::String::New(env, simd_level_name(simd_level()));
  })
}

// setWeightStreams("adjacent" | "spread" | null): how the GEMMs stream weights (core/config.h);
// null: the one detected for this CPU. Returns the layout now used.
Napi::Value SetWeightStreams(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    set_weight_streams(named_choice(info, "setWeightStreams", {{"adjacent", kStreamsAdjacent}, {"spread", kStreamsSpread}}, -1));
    return Napi::String::New(env, weight_streams_name(weight_streams()));
  })
}

// logSoftmaxRows(x: Float32Array, rows, cols, out?: Float32Array) -> Float32Array
Napi::Value LogSoftmaxRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    auto x = array_arg<float>(info[0], "x");
    int64_t rows = int_arg(info[1], "rows"), cols = int_arg(info[2], "cols");
    check(rows >= 0 && cols >= 0, "LMP_E_SHAPE", "rows and cols must be >= 0");
    check(static_cast<size_t>(rows * cols) == x.length, "LMP_E_SHAPE",
          "x has " + std::to_string(x.length) + " elements, expected rows*cols = " + std::to_string(rows * cols));
    Napi::Float32Array out;
    if (info.Length() > 3 && !info[3].IsUndefined()) {
      auto o = array_arg<float>(info[3], "out");
      check(o.length == x.length, "LMP_E_SHAPE", "out must have rows*cols elements");
      out = info[3].As<Napi::Float32Array>();
    } else {
      out = Napi::Float32Array::New(env, x.length);
    }
    if (!log_softmax_rows(x.data, out.Data(), rows, cols)) fail("LMP_E_NAN", "logSoftmaxRows: input contains NaN");
    return out;
  })
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("version", Napi::Function::New(env, Version, "version"));
  exports.Set("numThreads", Napi::Function::New(env, NumThreads, "numThreads"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("setForceScalar", Napi::Function::New(env, SetForceScalar, "setForceScalar"));
  exports.Set("setSimdCap", Napi::Function::New(env, SetSimdCap, "setSimdCap"));
  exports.Set("setWeightStreams", Napi::Function::New(env, SetWeightStreams, "setWeightStreams"));
  exports.Set("logSoftmaxRows", Napi::Function::New(env, LogSoftmaxRows, "logSoftmaxRows"));
}

}  // namespace
}  // namespace lmp

LMP_REGISTER_MODULE(core, lmp::Export);
