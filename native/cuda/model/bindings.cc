// N-API surface of the CUDA model layers (compiled only with -DLMP_CUDA=ON). Device memory is a
// handle, `new CudaTensor(dtype, length)` ('f32' | 'bf16' | 'i32' | 'f64'; zero-filled), with
// upload / download / free; the layer functions take handles and queue work on the module's stream.
// `t.view(offset, length[, dtype])` is a handle on elements [offset, offset + length) of t (no copy; it keeps
// t alive, its free() only detaches it, and it refuses use once t is freed): a KV cache's rows; a
// dtype of the same element size reads the same bytes as that type (i32 <-> f32).
// Errors are coded (LMP_E_NO_DEVICE, LMP_E_CUDA_OOM, LMP_E_CUDA, LMP_E_SHAPE, LMP_E_DTYPE,
// LMP_E_TOKEN, LMP_E_ARG); nothing aborts. A handle that is garbage collected frees its memory.
#include <napi.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/napi_util.h"
#include "core/registry.h"
#include "model/model.h"
#include "model/napi_tensor.h"

namespace lmp {
namespace {

namespace cm = cuda::model;

// Marks CudaTensor objects, so a handle argument is checked before it is unwrapped.
const napi_type_tag kTensorTag = {0x6c6d7063756461ULL, 0x74656e736f72ULL};

class CudaTensor : public Napi::ObjectWrap<CudaTensor> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "CudaTensor",
                       {
                           InstanceAccessor("dtype", &CudaTensor::Dtype, nullptr),
                           InstanceAccessor("length", &CudaTensor::Length, nullptr),
                           InstanceAccessor("freed", &CudaTensor::Freed, nullptr),
                           InstanceMethod("upload", &CudaTensor::Upload),
                           InstanceMethod("download", &CudaTensor::Download),
                           InstanceMethod("free", &CudaTensor::Free),
                           InstanceMethod("view", &CudaTensor::View),
                       });
  }

  // new CudaTensor(dtype, length), or new CudaTensor(parent, offset, length): a view (t.view)
  explicit CudaTensor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CudaTensor>(info) {
    Napi::Env env = info.Env();
    LMP_NAPI_TRY(env, {
      if (info[0].IsObject() && info[0].As<Napi::Object>().CheckTypeTag(&kTensorTag)) {
        CudaTensor* parent = CudaTensor::Unwrap(info[0].As<Napi::Object>());
        const cm::Tensor& pt = parent->tensor("view");
        const int64_t off = int_arg(info[1], "offset"), n = int_arg(info[2], "length");
        check(off >= 0 && n >= 0 && off <= pt.numel && n <= pt.numel - off, "LMP_E_SHAPE",
              "view: elements [" + std::to_string(off) + ", " + std::to_string(off + n) + ") are outside a tensor of " + std::to_string(pt.numel));
        t_ = pt;
        t_.data = static_cast<char*>(pt.data) + off * static_cast<int64_t>(cm::dtype_size(pt.dtype));
        t_.numel = n;
        if (info[3].IsString()) {
          // the same bytes as another dtype of the same element size (a batch uploaded as one i32 buffer)
          const cm::DType d = cm::parse_dtype(info[3].As<Napi::String>().Utf8Value());
          check(cm::dtype_size(d) == cm::dtype_size(pt.dtype), "LMP_E_DTYPE",
                std::string("view: ") + cm::dtype_name(d) + " elements are not the size of " + cm::dtype_name(pt.dtype) + " ones");
          t_.dtype = d;
        }
        length_ = n;
        parent_ = parent;
        parentRef_ = Napi::Persistent(info[0].As<Napi::Object>());
        info.This().As<Napi::Object>().TypeTag(&kTensorTag);
        return;
      }
      if (!info[0].IsString()) fail("LMP_E_ARG", "CudaTensor: dtype must be 'f32', 'bf16', 'i32' or 'f64'");
      const cm::DType d = cm::parse_dtype(info[0].As<Napi::String>().Utf8Value());
      const int64_t n = int_arg(info[1], "length");
      check(n >= 0, "LMP_E_ARG", "CudaTensor: length must be >= 0");
      t_ = cm::alloc(d, n);
      length_ = n;
      info.This().As<Napi::Object>().TypeTag(&kTensorTag);
    })
  }
  ~CudaTensor() override {
    if (parent_) return;  // a view owns nothing
    try {
      cm::free(t_);
    } catch (...) {  // a finalizer never throws; the memory goes with the context
    }
  }

  const cm::Tensor& tensor(const char* what) const {
    if ((!t_.data && length_ > 0) || (parent_ && !parent_->live()))
      fail("LMP_E_ARG", std::string(what) + (parent_ ? ": the tensor this view is of was freed" : ": the device tensor was freed"));
    return t_;
  }
  bool live() const { return (t_.data || length_ == 0) && (!parent_ || parent_->live()); }

 private:
  Napi::Value Dtype(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), cm::dtype_name(t_.dtype)); }
  Napi::Value Length(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(length_)); }
  Napi::Value Freed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !live()); }

  // view(offset, length): a CudaTensor over elements [offset, offset + length) of this one
  Napi::Value View(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    LMP_NAPI_TRY(env, {
      Napi::Function ctor = info.This().As<Napi::Object>().Get("constructor").As<Napi::Function>();
      return ctor.New({info.This(), info[0], info[1], info[2]});
    })
  }

  // upload(typedArray, offset = 0): elements at `offset`. f32 <- Float32Array, i32 <- Int32Array,
  // f64 <- Float64Array, bf16 <- Uint16Array (bits) or Float32Array (rounded to nearest even on the device).
  Napi::Value Upload(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    LMP_NAPI_TRY(env, {
      const cm::Tensor& t = tensor("upload");
      if (!info[0].IsTypedArray()) fail("LMP_E_ARG", "upload: expected a typed array");
      const int64_t off = info.Length() > 1 && !info[1].IsUndefined() ? int_arg(info[1], "offset") : 0;
      check(off >= 0, "LMP_E_ARG", "upload: offset must be >= 0");
      Napi::TypedArray a = info[0].As<Napi::TypedArray>();
      const napi_typedarray_type at = a.TypedArrayType();
      const size_t n = a.ElementLength();
      const void* src = static_cast<const char*>(a.ArrayBuffer().Data()) + a.ByteOffset();
      check(off <= t.numel && static_cast<int64_t>(n) <= t.numel - off, "LMP_E_SHAPE",
            "upload: " + std::to_string(n) + " elements at " + std::to_string(off) + " do not fit a tensor of " + std::to_string(t.numel));
      if (t.dtype == cm::DType::BF16 && at == napi_float32_array) {
        cm::Tensor tmp = cm::alloc(cm::DType::F32, static_cast<int64_t>(n));
        try {
          cm::upload(tmp, src, n * 4);
          cm::Tensor view = t;
          view.data = static_cast<char*>(t.data) + off * 2;
          view.numel = static_cast<int64_t>(n);
          cm::convert(tmp, view);
          cm::free(tmp);
        } catch (...) {
          cm::free(tmp);
          throw;
        }
        return env.Undefined();
      }
      const napi_typedarray_type want = t.dtype == cm::DType::F32    ? napi_float32_array
                                        : t.dtype == cm::DType::BF16 ? napi_uint16_array
                                        : t.dtype == cm::DType::I32  ? napi_int32_array
                                                                     : napi_float64_array;
      if (at != want)
        fail("LMP_E_DTYPE", std::string("upload: a ") + cm::dtype_name(t.dtype) + " tensor takes a " +
                                (t.dtype == cm::DType::F32 ? "Float32Array" : t.dtype == cm::DType::BF16 ? "Uint16Array or Float32Array"
                                                          : t.dtype == cm::DType::I32 ? "Int32Array" : "Float64Array"));
      const size_t es = cm::dtype_size(t.dtype);
      cm::upload(t, src, n * es, static_cast<size_t>(off) * es);
      return env.Undefined();
    })
  }

  // download(asFloat32 = false): a new typed array of the whole tensor (bf16: Uint16Array bits, or a
  // Float32Array when asFloat32). Waits for the queued work.
  Napi::Value Download(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    LMP_NAPI_TRY(env, {
      const cm::Tensor& t = tensor("download");
      const size_t n = static_cast<size_t>(t.numel);
      const bool as_f32 = info.Length() > 0 && info[0].ToBoolean().Value();
      switch (t.dtype) {
        case cm::DType::F32: {
          Napi::Float32Array o = Napi::Float32Array::New(env, n);
          cm::download(o.Data(), t, n * 4);
          return o;
        }
        case cm::DType::BF16: {
          if (as_f32) {
            Napi::Float32Array o = Napi::Float32Array::New(env, n);
            cm::Tensor tmp = cm::alloc(cm::DType::F32, t.numel);
            try {
              cm::convert(t, tmp);
              cm::download(o.Data(), tmp, n * 4);
              cm::free(tmp);
            } catch (...) {
              cm::free(tmp);
              throw;
            }
            return o;
          }
          Napi::Uint16Array o = Napi::Uint16Array::New(env, n);
          cm::download(o.Data(), t, n * 2);
          return o;
        }
        case cm::DType::I32: {
          Napi::Int32Array o = Napi::Int32Array::New(env, n);
          cm::download(o.Data(), t, n * 4);
          return o;
        }
        case cm::DType::F64: {
          Napi::Float64Array o = Napi::Float64Array::New(env, n);
          cm::download(o.Data(), t, n * 8);
          return o;
        }
      }
      return env.Undefined();
    })
  }

  Napi::Value Free(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    LMP_NAPI_TRY(env, {
      if (parent_) {  // detach: the memory is the parent's
        t_.data = nullptr;
        parent_ = nullptr;
        parentRef_.Reset();
        return env.Undefined();
      }
      cm::free(t_);
      return env.Undefined();
    })
  }

  cm::Tensor t_;
  int64_t length_ = 0;
  CudaTensor* parent_ = nullptr;    // a view: the tensor it is of (kept alive by parentRef_)
  Napi::ObjectReference parentRef_;
};

const cm::Tensor& tensor_arg(const Napi::Value& v, const char* what) {
  if (!v.IsObject() || !v.As<Napi::Object>().CheckTypeTag(&kTensorTag))
    fail("LMP_E_ARG", std::string(what) + " must be a CudaTensor");
  return CudaTensor::Unwrap(v.As<Napi::Object>())->tensor(what);
}
const cm::Tensor* optional_tensor(const Napi::Value& v, const char* what) {
  if (v.IsNull() || v.IsUndefined()) return nullptr;
  return &tensor_arg(v, what);
}
bool bool_arg(const Napi::Value& v) { return v.ToBoolean().Value(); }

#define LMP_CUDA_FN(name) Napi::Value name(const Napi::CallbackInfo& info)
#define LMP_CUDA_BODY(...)                \
  Napi::Env env = info.Env();             \
  LMP_NAPI_TRY(env, { __VA_ARGS__ return env.Undefined(); })

LMP_CUDA_FN(MemInfo) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    const cm::MemInfo m = cm::mem_info();
    Napi::Object o = Napi::Object::New(env);
    o.Set("free", static_cast<double>(m.free));
    o.Set("total", static_cast<double>(m.total));
    return o;
  })
}
LMP_CUDA_FN(Synchronize) { LMP_CUDA_BODY(cm::synchronize();) }
// cudaUploadParts(dst, [typedArray, ...]): the arrays back to back into dst (an i32 or f32 tensor;
// each array of 4-byte elements: Int32Array, Uint32Array, Float32Array) by one page-locked staging
// copy and one transfer; the arrays are free to change on return.
LMP_CUDA_FN(UploadParts) {
  LMP_CUDA_BODY({
    const cm::Tensor& t = tensor_arg(info[0], "dst");
    check(t.dtype == cm::DType::I32 || t.dtype == cm::DType::F32, "LMP_E_DTYPE",
          std::string("cudaUploadParts: dst must be an i32 or f32 tensor, not ") + cm::dtype_name(t.dtype));
    if (!info[1].IsArray()) fail("LMP_E_ARG", "cudaUploadParts: expected an array of typed arrays");
    Napi::Array a = info[1].As<Napi::Array>();
    std::vector<cm::HostPart> parts(a.Length());
    int64_t n = 0;
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value v = a.Get(i);
      if (!v.IsTypedArray()) fail("LMP_E_ARG", "cudaUploadParts: part " + std::to_string(i) + " is not a typed array");
      Napi::TypedArray ta = v.As<Napi::TypedArray>();
      const napi_typedarray_type k = ta.TypedArrayType();
      if (k != napi_int32_array && k != napi_uint32_array && k != napi_float32_array)
        fail("LMP_E_DTYPE", "cudaUploadParts: part " + std::to_string(i) + " must be an Int32Array, Uint32Array or Float32Array");
      parts[i] = {static_cast<const char*>(ta.ArrayBuffer().Data()) + ta.ByteOffset(), ta.ElementLength() * 4};
      n += static_cast<int64_t>(ta.ElementLength());
    }
    check(n <= t.numel, "LMP_E_SHAPE", "cudaUploadParts: " + std::to_string(n) + " elements do not fit a tensor of " + std::to_string(t.numel));
    cm::upload_parts(t, parts.data(), parts.size());
  })
}
LMP_CUDA_FN(Convert) { LMP_CUDA_BODY(cm::convert(tensor_arg(info[0], "src"), tensor_arg(info[1], "dst"));) }
LMP_CUDA_FN(Zero) { LMP_CUDA_BODY(cm::zero(tensor_arg(info[0], "t"));) }
LMP_CUDA_FN(AddInplace) { LMP_CUDA_BODY(cm::add_inplace(tensor_arg(info[0], "y"), tensor_arg(info[1], "x"));) }

// cudaEmbeddingForward(table, vocab, dim, tokens, out)
LMP_CUDA_FN(EmbeddingForward) {
  LMP_CUDA_BODY(cm::embedding_forward(tensor_arg(info[0], "table"), int_arg(info[1], "vocab"), int_arg(info[2], "dim"),
                                      tensor_arg(info[3], "tokens"), tensor_arg(info[4], "out"));)
}
// cudaEmbeddingIndex(tokens: Int32Array, vocab) -> Int32Array (host; upload it with the batch)
LMP_CUDA_FN(EmbeddingIndex) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    auto t = array_arg<int32_t>(info[0], "tokens");
    const std::vector<int32_t> ix = cm::embedding_index(t.data, static_cast<int64_t>(t.length), int_arg(info[1], "vocab"));
    Napi::Int32Array o = Napi::Int32Array::New(env, ix.size());
    if (!ix.empty()) std::memcpy(o.Data(), ix.data(), ix.size() * 4);
    return o;
  })
}
// cudaEmbeddingBackward(dout, index, n, vocab, dim, dtable)
LMP_CUDA_FN(EmbeddingBackward) {
  LMP_CUDA_BODY(cm::embedding_backward(tensor_arg(info[0], "dout"), tensor_arg(info[1], "index"), int_arg(info[2], "n"),
                                       int_arg(info[3], "vocab"), int_arg(info[4], "dim"), tensor_arg(info[5], "dtable"));)
}
// cudaRmsnormForward(x, w, rows, dim, eps, y, rstd)
LMP_CUDA_FN(RmsnormForward) {
  LMP_CUDA_BODY(cm::rmsnorm_forward(tensor_arg(info[0], "x"), tensor_arg(info[1], "w"), int_arg(info[2], "rows"), int_arg(info[3], "dim"),
                                    static_cast<float>(num_arg(info[4], "eps")), tensor_arg(info[5], "y"), tensor_arg(info[6], "rstd"));)
}
// cudaRmsnormBackward(dy, x, w, rstd, rows, dim, dx, accumulate, dw)
LMP_CUDA_FN(RmsnormBackward) {
  LMP_CUDA_BODY(cm::rmsnorm_backward(tensor_arg(info[0], "dy"), tensor_arg(info[1], "x"), tensor_arg(info[2], "w"), tensor_arg(info[3], "rstd"),
                                     int_arg(info[4], "rows"), int_arg(info[5], "dim"), tensor_arg(info[6], "dx"), bool_arg(info[7]),
                                     tensor_arg(info[8], "dw"));)
}
// cudaAttnCombine(oa, la, ob, lb, rows, headDim, out, lse)
LMP_CUDA_FN(AttnCombine) {
  LMP_CUDA_BODY(cm::attn_combine(tensor_arg(info[0], "oa"), tensor_arg(info[1], "la"), tensor_arg(info[2], "ob"), tensor_arg(info[3], "lb"),
                                 int_arg(info[4], "rows"), int_arg(info[5], "headDim"), tensor_arg(info[6], "out"), tensor_arg(info[7], "lse"));)
}
LMP_CUDA_FN(SwigluForward) {
  LMP_CUDA_BODY(cm::swiglu_forward(tensor_arg(info[0], "g"), tensor_arg(info[1], "u"), tensor_arg(info[2], "h"));)
}
LMP_CUDA_FN(SwigluBackward) {
  LMP_CUDA_BODY(cm::swiglu_backward(tensor_arg(info[0], "g"), tensor_arg(info[1], "u"), tensor_arg(info[2], "dh"), tensor_arg(info[3], "dg"),
                                    tensor_arg(info[4], "du"));)
}
// cudaCrossEntropy(logits, rows, vocab, targets, weight, scale, loss, dlogits | null)
LMP_CUDA_FN(CrossEntropy) {
  LMP_CUDA_BODY(cm::cross_entropy(tensor_arg(info[0], "logits"), int_arg(info[1], "rows"), int_arg(info[2], "vocab"),
                                  tensor_arg(info[3], "targets"), tensor_arg(info[4], "weight"), static_cast<float>(num_arg(info[5], "scale")),
                                  tensor_arg(info[6], "loss"), optional_tensor(info[7], "dlogits"));)
}
// cudaDrawRow(logits, row, vocab, mode (0 greedy, 1 sample), scale, u, eos (-1 none), eosBias[, topK (0 none), post, minP (0 none)]) -> token id
LMP_CUDA_FN(DrawRow) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    const int64_t eos = int_arg(info[6], "eos");
    check(eos >= -1 && eos <= 0x7fffffff, "LMP_E_ARG", "eos must be -1 or a token id");
    const int32_t tok = cm::draw_row(tensor_arg(info[0], "logits"), int_arg(info[1], "row"), int_arg(info[2], "vocab"),
                                     static_cast<int>(int_arg(info[3], "mode")), static_cast<float>(num_arg(info[4], "scale")),
                                     num_arg(info[5], "u"), static_cast<int32_t>(eos), num_arg(info[7], "eosBias"),
                                     info.Length() > 8 ? int_arg(info[8], "topK") : 0,
                                     info.Length() > 9 ? static_cast<float>(num_arg(info[9], "post")) : 1.f,
                                     info.Length() > 10 ? num_arg(info[10], "minP") : 0.0);
    return Napi::Number::New(env, tok);
  })
}
// cudaRope(x, n, heads, headDim, positions, invFreq, mscale, inverse)
LMP_CUDA_FN(Rope) {
  LMP_CUDA_BODY(cm::rope(tensor_arg(info[0], "x"), int_arg(info[1], "n"), int_arg(info[2], "heads"), int_arg(info[3], "headDim"),
                         tensor_arg(info[4], "positions"), tensor_arg(info[5], "invFreq"), static_cast<float>(num_arg(info[6], "mscale")),
                         bool_arg(info[7]));)
}
// cudaRopeInvFreq(headDim, theta) -> Float64Array (host)
LMP_CUDA_FN(RopeInvFreq) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    const std::vector<double> f = cm::rope_inv_freq(int_arg(info[0], "headDim"), num_arg(info[1], "theta"));
    Napi::Float64Array o = Napi::Float64Array::New(env, f.size());
    if (!f.empty()) std::memcpy(o.Data(), f.data(), f.size() * 8);
    return o;
  })
}
// cudaAdamw(p, g, m, v, lr, beta1, beta2, eps, weightDecay, step, gradScale, scale | null, scaleIndex, pBf16 | null)
LMP_CUDA_FN(Adamw) {
  LMP_CUDA_BODY(cm::adamw(tensor_arg(info[0], "p"), tensor_arg(info[1], "g"), tensor_arg(info[2], "m"), tensor_arg(info[3], "v"),
                          num_arg(info[4], "lr"), num_arg(info[5], "beta1"), num_arg(info[6], "beta2"), num_arg(info[7], "eps"),
                          num_arg(info[8], "weightDecay"), int_arg(info[9], "step"), num_arg(info[10], "gradScale"),
                          optional_tensor(info[11], "scale"), info[12].IsUndefined() ? 0 : int_arg(info[12], "scaleIndex"),
                          optional_tensor(info[13], "pBf16"));)
}
// cudaReduceSum(x, squares, out: f64 tensor, slot)
LMP_CUDA_FN(ReduceSum) {
  LMP_CUDA_BODY(cm::reduce_sum(tensor_arg(info[0], "x"), bool_arg(info[1]), tensor_arg(info[2], "out"), int_arg(info[3], "slot"));)
}
// cudaClipScale(ss: f64 tensor, count, clip, out: f64 tensor [2] -> [norm, scale])
LMP_CUDA_FN(ClipScale) {
  LMP_CUDA_BODY(cm::clip_scale(tensor_arg(info[0], "ss"), int_arg(info[1], "count"), num_arg(info[2], "clip"), tensor_arg(info[3], "out"));)
}

// cudaGemm({transA, transB, M, N, K, alpha, beta, lda, ldb, ldc, aOffset, bOffset, cOffset, tf32}, A, B, C)
LMP_CUDA_FN(Gemm) {
  Napi::Env env = info.Env();
  LMP_NAPI_TRY(env, {
    if (!info[0].IsObject()) fail("LMP_E_ARG", "cudaGemm: the first argument must be an options object");
    Napi::Object o = info[0].As<Napi::Object>();
    auto num = [&](const char* k, int64_t dflt) { return o.Has(k) && !o.Get(k).IsUndefined() ? int_arg(o.Get(k), k) : dflt; };
    auto real = [&](const char* k, double dflt) { return o.Has(k) && !o.Get(k).IsUndefined() ? num_arg(o.Get(k), k) : dflt; };
    auto flag = [&](const char* k) { return o.Has(k) && o.Get(k).ToBoolean().Value(); };
    cm::GemmArgs g;
    g.trans_a = flag("transA");
    g.trans_b = flag("transB");
    g.M = num("M", -1);
    g.N = num("N", -1);
    g.K = num("K", -1);
    g.alpha = static_cast<float>(real("alpha", 1));
    g.beta = static_cast<float>(real("beta", 0));
    g.lda = num("lda", g.trans_a ? g.M : g.K);
    g.ldb = num("ldb", g.trans_b ? g.K : g.N);
    g.ldc = num("ldc", g.N);
    g.a_offset = num("aOffset", 0);
    g.b_offset = num("bOffset", 0);
    g.c_offset = num("cOffset", 0);
    g.tf32 = flag("tf32");
    cm::gemm(g, tensor_arg(info[1], "A"), tensor_arg(info[2], "B"), tensor_arg(info[3], "C"));
    return env.Undefined();
  })
}

void Export(Napi::Env env, Napi::Object exports) {
  exports.Set("CudaTensor", CudaTensor::Define(env));
  const struct {
    const char* name;
    Napi::Value (*fn)(const Napi::CallbackInfo&);
  } fns[] = {
      {"cudaMemInfo", MemInfo},
      {"cudaSynchronize", Synchronize},
      {"cudaUploadParts", UploadParts},
      {"cudaConvert", Convert},
      {"cudaAddInplace", AddInplace},
      {"cudaZero", Zero},
      {"cudaEmbeddingForward", EmbeddingForward},
      {"cudaEmbeddingIndex", EmbeddingIndex},
      {"cudaEmbeddingBackward", EmbeddingBackward},
      {"cudaRmsnormForward", RmsnormForward},
      {"cudaRmsnormBackward", RmsnormBackward},
      {"cudaAttnCombine", AttnCombine},
      {"cudaSwigluForward", SwigluForward},
      {"cudaSwigluBackward", SwigluBackward},
      {"cudaCrossEntropy", CrossEntropy},
      {"cudaDrawRow", DrawRow},
      {"cudaRope", Rope},
      {"cudaRopeInvFreq", RopeInvFreq},
      {"cudaAdamw", Adamw},
      {"cudaReduceSum", ReduceSum},
      {"cudaClipScale", ClipScale},
      {"cudaGemm", Gemm},
  };
  for (const auto& f : fns) exports.Set(f.name, Napi::Function::New(env, f.fn, f.name));
}

}  // namespace

const cm::Tensor& cm::tensor_arg(const Napi::Value& v, const char* what) { return lmp::tensor_arg(v, what); }

}  // namespace lmp

LMP_REGISTER_MODULE(cuda_model, lmp::Export);
