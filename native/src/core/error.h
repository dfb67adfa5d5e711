// Errors that cross into JavaScript.
//
// Kernels throw lmp::Error (core/status.h) with a stable code (e.g. "LMP_E_SHAPE"); the
// binding layer (LMP_NAPI_TRY) turns it into a JS Error whose `.code` is that string. Native
// code never aborts on bad input: every precondition a caller can violate is checked and thrown.
#pragma once
#include <napi.h>

#include <string>

#include "core/status.h"

namespace lmp {

inline Napi::Error to_js_error(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

}  // namespace lmp

// Wrap a binding body: lmp::Error -> JS Error with code; std::exception -> LMP_E_INTERNAL.
#define LMP_NAPI_TRY(env, ...)                                                   \
  try {                                                                          \
    __VA_ARGS__                                                                  \
  } catch (const ::lmp::Error& e) {                                              \
    throw ::lmp::to_js_error(env, e.code(), e.what());                           \
  } catch (const Napi::Error&) {                                                 \
    throw;                                                                       \
  } catch (const std::bad_alloc&) {                                              \
    throw ::lmp::to_js_error(env, "LMP_E_OOM", "native allocation failed");      \
  } catch (const std::exception& e) {                                            \
    throw ::lmp::to_js_error(env, "LMP_E_INTERNAL", e.what());                   \
  }
