// lmp::Error and the check helpers, free of Node-API so that pure kernels (and the
// standalone CUDA parity binary) can use them. core/error.h adds the JS conversion.
#pragma once
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

[[noreturn]] inline void fail(const std::string& code, const std::string& message) {
  throw Error(code, message);
}

inline void check(bool cond, const char* code, const std::string& message) {
  if (!cond) throw Error(code, message);
}

}  // namespace lmp
