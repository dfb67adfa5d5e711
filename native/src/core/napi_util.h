// Argument conversion helpers shared by binding files. Thin: convert and check, nothing else.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

#include "core/error.h"

namespace lmp {

template <typename T>
struct TypedArrayOf;
template <> struct TypedArrayOf<float> { static constexpr napi_typedarray_type type = napi_float32_array; static constexpr const char* name = "Float32Array"; };
template <> struct TypedArrayOf<double> { static constexpr napi_typedarray_type type = napi_float64_array; static constexpr const char* name = "Float64Array"; };
template <> struct TypedArrayOf<int32_t> { static constexpr napi_typedarray_type type = napi_int32_array; static constexpr const char* name = "Int32Array"; };
template <> struct TypedArrayOf<uint32_t> { static constexpr napi_typedarray_type type = napi_uint32_array; static constexpr const char* name = "Uint32Array"; };
template <> struct TypedArrayOf<uint8_t> { static constexpr napi_typedarray_type type = napi_uint8_array; static constexpr const char* name = "Uint8Array"; };
template <> struct TypedArrayOf<uint16_t> { static constexpr napi_typedarray_type type = napi_uint16_array; static constexpr const char* name = "Uint16Array"; };

// A view of a JS typed array argument; throws LMP_E_ARG with the argument name otherwise.
template <typename T>
struct ArrayArg {
  T* data = nullptr;
  size_t length = 0;
};

template <typename T>
ArrayArg<T> array_arg(const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray()) fail("LMP_E_ARG", std::string(what) + " must be a " + TypedArrayOf<T>::name);
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  if (ta.TypedArrayType() != TypedArrayOf<T>::type)
    fail("LMP_E_ARG", std::string(what) + " must be a " + TypedArrayOf<T>::name);
  Napi::TypedArrayOf<T> t = v.As<Napi::TypedArrayOf<T>>();
  return ArrayArg<T>{t.Data(), t.ElementLength()};
}

inline int64_t int_arg(const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) fail("LMP_E_ARG", std::string(what) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d))) fail("LMP_E_ARG", std::string(what) + " must be an integer");
  return static_cast<int64_t>(d);
}

inline double num_arg(const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) fail("LMP_E_ARG", std::string(what) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

}  // namespace lmp
