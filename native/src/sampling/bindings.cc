// Sampling bindings: a SamplerChain object holding its state, plus bench baselines.
// Thin glue: argument conversion and error mapping only; the kernels are in chain.cc.
#include <napi.h>

#include <memory>
#include <string>

#include "core/error.h"
#include "core/napi_util.h"
#include "core/registry.h"
#include "sampling/sampling.h"

namespace lmp {
namespace sampling {
namespace {

uint64_t seed_arg(const Napi::Value& v) {
  if (v.IsBigInt()) {
    bool lossless = true;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  const int64_t s = int_arg(v, "seed");
  check(s >= 0, "LMP_E_ARG", "seed must be >= 0");
  return static_cast<uint64_t>(s);
}

double num_field(const Napi::Object& o, const char* key, double dflt) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return dflt;
  return num_arg(v, key);
}

// A spec object as runtime/decode/native.ts builds it: {kind, a, b, c, d, n, variant, ties, ids, vals}.
Spec parse_spec(const Napi::Value& v) {
  if (!v.IsObject()) fail("LMP_E_ARG", "each sampler spec must be an object");
  Napi::Object o = v.As<Napi::Object>();
  Spec s;
  const int64_t kind = int_arg(o.Get("kind"), "kind");
  check(kind >= 0 && kind <= static_cast<int64_t>(Kind::MirostatV2), "LMP_E_ARG", "unknown sampler kind " + std::to_string(kind));
  s.kind = static_cast<Kind>(kind);
  s.a = num_field(o, "a", 0);
  s.b = num_field(o, "b", 0);
  s.c = num_field(o, "c", 0);
  s.d = num_field(o, "d", 0);
  Napi::Value n = o.Get("n");
  s.n = n.IsUndefined() ? 0 : int_arg(n, "n");
  Napi::Value var = o.Get("variant");
  s.variant = var.IsUndefined() ? 0 : static_cast<int>(int_arg(var, "variant"));
  Napi::Value ties = o.Get("ties");
  s.ties = ties.IsUndefined() ? 0 : static_cast<int>(int_arg(ties, "ties"));
  Napi::Value ids = o.Get("ids");
  if (!ids.IsUndefined()) {
    auto a = array_arg<int32_t>(ids, "ids");
    s.ids.assign(a.data, a.data + a.length);
  }
  Napi::Value vals = o.Get("vals");
  if (!vals.IsUndefined()) {
    auto a = array_arg<float>(vals, "vals");
    s.vals.assign(a.data, a.data + a.length);
  }
  return s;
}

class SamplerChain : public Napi::ObjectWrap<SamplerChain> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "SamplerChain",
                       {
                           InstanceMethod("sample", &SamplerChain::Sample),
                           InstanceMethod("distribution", &SamplerChain::Distribution),
                           InstanceMethod("accept", &SamplerChain::Accept),
                           InstanceMethod("reset", &SamplerChain::Reset),
                           InstanceMethod("snapshot", &SamplerChain::TakeSnapshot),
                           InstanceMethod("restore", &SamplerChain::Restore),
                           InstanceMethod("uniform", &SamplerChain::Uniform),
                           InstanceMethod("setSeed", &SamplerChain::SetSeed),
                           InstanceMethod("mu", &SamplerChain::Mu),
                           InstanceMethod("historyLength", &SamplerChain::HistoryLength),
                           InstanceMethod("noop", &SamplerChain::Noop),
                       });
  }

  // new SamplerChain(specs, vocab, seed, trace?: Float64Array(4))
  explicit SamplerChain(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SamplerChain>(info) {
    Napi::Env env = info.Env();
    LMP_NAPI_TRY(env, {
      if (!info[0].IsArray()) fail("LMP_E_ARG", "specs must be an array");
      Napi::Array arr = info[0].As<Napi::Array>();
      std::vector<Spec> specs;
      for (uint32_t i = 0; i < arr.Length(); ++i) specs.push_back(parse_spec(arr.Get(i)));
      const int64_t vocab = int_arg(info[1], "vocab");
      check(vocab >= 1, "LMP_E_ARG", "vocab must be >= 1");
      const uint64_t seed = seed_arg(info[2]);
      chain_ = std::make_unique<Chain>(std::move(specs), static_cast<size_t>(vocab), seed);
      if (info.Length() > 3 && !info[3].IsUndefined()) {
        auto t = array_arg<double>(info[3], "trace");
        check(t.length >= 4, "LMP_E_ARG", "trace must be a Float64Array of length >= 4");
        trace_ref_ = Napi::Persistent(info[3].As<Napi::Object>());
        trace_ = t.data;
      }
    })
  }

 private:
  Napi::Value Sample(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    LMP_NAPI_TRY(env, {
      auto x = array_arg<float>(info[0], "logits");
      Trace tr;
      const int32_t tok = chain_->sample(x.data, x.length, trace_ ? &tr : nullptr);
      if (trace_) {
        trace_[0] = tr.entropy;
        trace_[1] = tr.logprob;
        trace_[2] = tr.kept;
        trace_[3] = tr.final_logprob;
      }
      return Napi::Number::New(env, tok);
    })
  }
  Napi::Value Distribution(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    LMP_NAPI_TRY(env, {
      auto x = array_arg<float>(info[0], "logits");
      auto o = array_arg<float>(info[1], "out");
      check(o.length == chain_->vocab(), "LMP_E_SHAPE", "out must have vocab entries");
      return Napi::Number::New(env, static_cast<double>(chain_->distribution(x.data, x.length, o.data)));
    })
  }
  Napi::Value Accept(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    LMP_NAPI_TRY(env, {
      chain_->accept(static_cast<int32_t>(int_arg(info[0], "token")));
      return env.Undefined();
    })
  }
  Napi::Value Reset(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    LMP_NAPI_TRY(env, {
      auto t = array_arg<int32_t>(info[0], "tokens");
      for (size_t i = 0; i < t.length; ++i)
        check(t.data[i] >= 0 && static_cast<size_t>(t.data[i]) < chain_->vocab(), "LMP_E_ARG", "token outside the vocabulary");
      chain_->reset(t.data, t.length);
      return env.Undefined();
    })
  }
  Napi::Value TakeSnapshot(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Snapshot s = chain_->snapshot();
    Napi::Object o = Napi::Object::New(env);
    o.Set("history", Napi::Number::New(env, static_cast<double>(s.history)));
    o.Set("mu", Napi::Number::New(env, s.mu));
    return o;
  }
  Napi::Value Restore(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    LMP_NAPI_TRY(env, {
      if (!info[0].IsObject()) fail("LMP_E_ARG", "restore takes a snapshot object");
      Napi::Object o = info[0].As<Napi::Object>();
      Snapshot s;
      const int64_t h = int_arg(o.Get("history"), "history");
      check(h >= 0, "LMP_E_ARG", "snapshot history must be >= 0");
      s.history = static_cast<size_t>(h);
      s.mu = num_arg(o.Get("mu"), "mu");
      chain_->restore(s);
      return env.Undefined();
    })
  }
  Napi::Value Uniform(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), chain_->uniform()); }
  Napi::Value SetSeed(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    LMP_NAPI_TRY(env, {
      chain_->set_seed(seed_arg(info[0]));
      return env.Undefined();
    })
  }
  Napi::Value Mu(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), chain_->mu()); }
  Napi::Value HistoryLength(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(chain_->history().size()));
  }
  Napi::Value Noop(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), 0); }

  std::unique_ptr<Chain> chain_;
  Napi::ObjectReference trace_ref_;
  double* trace_ = nullptr;
};

Napi::Value Noop(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), 0); }

// samplingSplitmix64(seed: bigint, n: number) -> bigint: raw output n of the stream.
Napi::Value SplitMix(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    const uint64_t seed = seed_arg(info[0]);
    const int64_t n = int_arg(info[1], "n");
    check(n >= 0, "LMP_E_ARG", "n must be >= 0");
    return Napi::BigInt::New(env, splitmix64_at(seed, static_cast<uint64_t>(n)));
  })
}

Napi::Value BenchMax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    auto x = array_arg<float>(info[0], "x");
    return Napi::Number::New(env, bench_max(x.data, x.length));
  })
}

Napi::Value BenchSoftmax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    auto x = array_arg<float>(info[0], "x");
    auto o = array_arg<float>(info[1], "out");
    check(o.length == x.length, "LMP_E_SHAPE", "out must match x");
    return Napi::Number::New(env, bench_softmax2(x.data, x.length, o.data));
  })
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("SamplerChain", SamplerChain::Define(env));
  exports.Set("samplingNoop", Napi::Function::New(env, Noop, "samplingNoop"));
  exports.Set("samplingSplitmix64", Napi::Function::New(env, SplitMix, "samplingSplitmix64"));
  exports.Set("samplingBenchMax", Napi::Function::New(env, BenchMax, "samplingBenchMax"));
  exports.Set("samplingBenchSoftmax", Napi::Function::New(env, BenchSoftmax, "samplingBenchSoftmax"));
}

}  // namespace
}  // namespace sampling
}  // namespace lmp

LMP_REGISTER_MODULE(sampling, lmp::sampling::Export);
