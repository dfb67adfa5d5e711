// Addon entry point: calls every module's export function (see core/registry.h).
#include <napi.h>

#include "core/registry.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Napi::Array modules = Napi::Array::New(env);
  uint32_t i = 0;
  for (const auto& m : lmp::module_registry()) {
    m.fn(env, exports);
    modules.Set(i++, Napi::String::New(env, m.name));
  }
  exports.Set("modules", modules);
  return exports;
}

}  // namespace

NODE_API_MODULE(lmp, Init)
