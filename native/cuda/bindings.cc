// CUDA bindings (compiled only with -DLMP_CUDA=ON and a CUDA compiler). Thin glue: argument
// conversion and error mapping. A build with CUDA still loads on a machine without a GPU:
// cudaInfo() then reports count 0 and why, and the kernels throw LMP_E_NO_DEVICE.
#include <napi.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/napi_util.h"
#include "core/registry.h"
#include "kernels.h"

namespace lmp {
namespace {

void require_device() {
  cuda::DeviceInfo info = cuda::device_info();
  if (info.count == 0) fail("LMP_E_NO_DEVICE", "no CUDA device: " + (info.error.empty() ? std::string("none found") : info.error));
}

void check_cuda(const std::string& e) {
  if (!e.empty()) fail("LMP_E_CUDA", "CUDA error: " + e);
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  cuda::DeviceInfo d = cuda::device_info();
  Napi::Object o = Napi::Object::New(env);
  o.Set("count", d.count);
  o.Set("name", d.name);
  o.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
  o.Set("memory", static_cast<double>(d.memory));
  if (!d.error.empty()) o.Set("error", d.error);
  return o;
}

Napi::Value LogSoftmaxRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    auto x = array_arg<float>(info[0], "x");
    int64_t rows = int_arg(info[1], "rows"), cols = int_arg(info[2], "cols");
    check(rows >= 0 && cols >= 0 && static_cast<size_t>(rows * cols) == x.length, "LMP_E_SHAPE", "x must have rows*cols elements");
    require_device();
    Napi::Float32Array out = Napi::Float32Array::New(env, x.length);
    bool had_nan = false;
    check_cuda(cuda::log_softmax_rows(x.data, out.Data(), rows, cols, &had_nan));
    if (had_nan) fail("LMP_E_NAN", "cudaLogSoftmaxRows: input contains NaN");
    return out;
  })
}

uint64_t u64_arg(const Napi::Value& v, const char* what) {
  if (v.IsBigInt()) {
    bool lossless = true;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  int64_t s = int_arg(v, what);
  check(s >= 0, "LMP_E_ARG", std::string(what) + " must be >= 0");
  return static_cast<uint64_t>(s);
}

Napi::Value Uniforms(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    uint64_t seed = u64_arg(info[0], "seed"), start = u64_arg(info[1], "start");
    int64_t count = int_arg(info[2], "count");
    check(count >= 0, "LMP_E_ARG", "count must be >= 0");
    require_device();
    Napi::Float64Array out = Napi::Float64Array::New(env, static_cast<size_t>(count));
    check_cuda(cuda::uniforms(seed, start, static_cast<size_t>(count), out.Data()));
    return out;
  })
}

// cudaSampleRows(logits, rows, cols, temperature, seed, counters: Float64Array) -> Int32Array
Napi::Value SampleRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    auto x = array_arg<float>(info[0], "logits");
    int64_t rows = int_arg(info[1], "rows"), cols = int_arg(info[2], "cols");
    check(rows >= 0 && cols > 0 && static_cast<size_t>(rows * cols) == x.length, "LMP_E_SHAPE", "logits must have rows*cols elements");
    double t = num_arg(info[3], "temperature");
    check(t > 0 && std::isfinite(t), "LMP_E_ARG", "temperature must be > 0");
    uint64_t seed = u64_arg(info[4], "seed");
    auto c = array_arg<double>(info[5], "counters");
    check(c.length == static_cast<size_t>(rows), "LMP_E_SHAPE", "counters must have one entry per row");
    for (size_t i = 0; i < x.length; ++i)
      if (std::isnan(x.data[i])) fail("LMP_E_NAN", "cudaSampleRows: logits contain NaN");
    std::vector<uint64_t> counters(c.length);
    for (size_t i = 0; i < c.length; ++i) {
      check(c.data[i] >= 0 && c.data[i] == std::floor(c.data[i]), "LMP_E_ARG", "counters must be non-negative integers");
      counters[i] = static_cast<uint64_t>(c.data[i]);
    }
    require_device();
    Napi::Int32Array out = Napi::Int32Array::New(env, static_cast<size_t>(rows));
    check_cuda(cuda::sample_rows(x.data, rows, cols, static_cast<float>(t), seed, counters.data(), out.Data()));
    return out;
  })
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("cudaInfo", Napi::Function::New(env, Info, "cudaInfo"));
  exports.Set("cudaLogSoftmaxRows", Napi::Function::New(env, LogSoftmaxRows, "cudaLogSoftmaxRows"));
  exports.Set("cudaUniforms", Napi::Function::New(env, Uniforms, "cudaUniforms"));
  exports.Set("cudaSampleRows", Napi::Function::New(env, SampleRows, "cudaSampleRows"));
}

}  // namespace
}  // namespace lmp

LMP_REGISTER_MODULE(cuda, lmp::Export);
