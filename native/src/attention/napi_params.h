// The options object of attentionForward / attentionBackward (built by runtime/attention/index.ts)
// parsed into attn::Params and validated; shared by the CPU bindings (bindings.cc) and the CUDA
// ones (native/cuda/attention/bindings.cc), which take the same object. Node-API, header only.
#pragma once
#include <napi.h>

#include <string>
#include <vector>

#include "attention/attention.h"
#include "core/error.h"
#include "core/napi_util.h"

namespace lmp {
namespace attn_napi {

inline Napi::Value field(const Napi::Object& o, const char* name) { return o.Get(name); }

struct Parsed {
  attn::Params p;
  std::vector<int64_t> classOff;
  size_t qLen = 0, kLen = 0, classesLen = 0;
};

// tensors = false: the layout only (a device plan, whose q/k/v live on the device): q, k, v are not
// read (p.q/k/v stay null), their lengths follow from cuSeqlens and the head shapes; with a distance
// limit the parse stops before qFar/kFar and validation (the CUDA plan refuses the limit).
inline void parse(const Napi::Object& o, Parsed& r, bool tensors = true) {
  attn::Params& p = r.p;
  p.H = int_arg(field(o, "heads"), "heads");
  p.Hkv = int_arg(field(o, "kvHeads"), "kvHeads");
  p.D = int_arg(field(o, "headDim"), "headDim");
  auto cuQ = array_arg<int32_t>(field(o, "cuSeqlensQ"), "cuSeqlensQ");
  auto cuK = array_arg<int32_t>(field(o, "cuSeqlensK"), "cuSeqlensK");
  check(cuQ.length >= 1 && cuQ.length == cuK.length, "LMP_E_SHAPE", "cuSeqlensQ and cuSeqlensK must have the same length >= 1");
  p.S = static_cast<int64_t>(cuQ.length) - 1;
  p.cuQ = cuQ.data, p.cuK = cuK.data;
  if (tensors) {
    auto q = array_arg<float>(field(o, "q"), "q");
    auto k = array_arg<float>(field(o, "k"), "k");
    auto v = array_arg<float>(field(o, "v"), "v");
    check(k.length == v.length, "LMP_E_SHAPE", "k and v must have the same length");
    p.q = q.data, p.k = k.data, p.v = v.data;
    r.qLen = q.length, r.kLen = k.length;
  } else {
    check(p.H >= 1 && p.Hkv >= 1 && p.D >= 1 && p.cuQ[p.S] >= 0 && p.cuK[p.S] >= 0, "LMP_E_SHAPE", "heads, kvHeads and headDim must be >= 1");
    r.qLen = static_cast<size_t>(p.cuQ[p.S]) * static_cast<size_t>(p.H * p.D);
    r.kLen = static_cast<size_t>(p.cuK[p.S]) * static_cast<size_t>(p.Hkv * p.D);
  }
  Napi::Value docs = field(o, "docIds");
  if (!docs.IsUndefined() && !docs.IsNull()) {
    auto d = array_arg<int32_t>(docs, "docIds");
    check(static_cast<int64_t>(d.length) == p.cuK[p.S], "LMP_E_SHAPE", "docIds must have one entry per key token");
    p.docIds = d.data;
  }
  Napi::Value progs = field(o, "programs");
  check(progs.IsArray(), "LMP_E_ARG", "programs must be an array of Int32Array");
  Napi::Array pa = progs.As<Napi::Array>();
  p.G = pa.Length();
  for (uint32_t g = 0; g < pa.Length(); ++g) {
    auto pr = array_arg<int32_t>(pa.Get(g), "programs[i]");
    p.progs.push_back(pr.data);
    p.progLens.push_back(static_cast<int32_t>(pr.length));
  }
  auto hg = array_arg<int32_t>(field(o, "headGroup"), "headGroup");
  check(static_cast<int64_t>(hg.length) == p.H, "LMP_E_SHAPE", "headGroup must have one entry per head");
  p.headGroup = hg.data;
  auto cls = array_arg<uint8_t>(field(o, "classes"), "classes");
  p.classes = cls.data;
  r.classesLen = cls.length;
  auto off = array_arg<int32_t>(field(o, "classOffsets"), "classOffsets");
  check(static_cast<int64_t>(off.length) == p.S * p.G, "LMP_E_SHAPE", "classOffsets must have sequences*groups entries");
  r.classOff.assign(off.data, off.data + off.length);
  p.classOff = r.classOff.data();
  p.scale = static_cast<float>(num_arg(field(o, "scale"), "scale"));
  p.softcap = static_cast<float>(num_arg(field(o, "softcap"), "softcap"));
  Napi::Value al = field(o, "alibi");
  if (!al.IsUndefined() && !al.IsNull()) {
    auto a = array_arg<float>(al, "alibi");
    check(static_cast<int64_t>(a.length) == p.H, "LMP_E_SHAPE", "alibi must have one slope per head");
    p.alibi = a.data;
  }
  p.alibiLimit = num_arg(field(o, "alibiLimit"), "alibiLimit");
  p.power = static_cast<float>(num_arg(field(o, "power"), "power"));
  p.logLenBase = static_cast<float>(num_arg(field(o, "logLenBase"), "logLenBase"));
  Napi::Value lim = field(o, "distanceLimit");
  if (!lim.IsUndefined() && !lim.IsNull()) p.distLimit = int_arg(lim, "distanceLimit");
  if (p.distLimit > 0 && !tensors) return;  // refused by the device plan (not on CUDA)
  if (p.distLimit > 0) {
    auto qf = array_arg<float>(field(o, "qFar"), "qFar");
    auto kf = array_arg<float>(field(o, "kFar"), "kFar");
    check(qf.length == r.qLen && kf.length == r.kLen, "LMP_E_SHAPE", "qFar/kFar must have the shapes of q/k");
    p.qFar = qf.data, p.kFar = kf.data;
  }
  attn::validate(p, r.qLen, r.kLen, cls.length);
}

}  // namespace attn_napi
}  // namespace lmp
