// Errors that cross into JavaScript.
//
// Kernels throw lmp::Error with a stable code (e.g. "LMP_E_SHAPE"); the binding layer
// (LMP_NAPI_TRY) turns it into a JS Error whose `.code` is that string. Native code never
// aborts on bad input: every precondition a caller can violate is checked and thrown.
#pragma once
#include <napi.h>

#include <stdexcept>
#include <string>

namespace lmp {

class Error : public std::runtime_error {
 public:
  Error(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

inline Napi::Error to_js_error(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

[[noreturn]] inline void fail(const std::string& code, const std::string& message) {
  throw Error(code, message);
}

inline void check(bool cond, const char* code, const std::string& message) {
  if (!cond) throw Error(code, message);
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
