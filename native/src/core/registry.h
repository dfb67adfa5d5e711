// Module registration for the addon.
//
// Each native module (a folder under native/src/) registers a function that adds its
// exports to the addon object, with LMP_REGISTER_MODULE(name, fn) at namespace scope in
// one of its binding files. addon.cc calls every registered function at load time, so
// adding a module never touches a shared file. All sources are compiled directly into
// the one shared library (never through a static archive), so the static registrars
// are not dropped by the linker.
#pragma once
#include <napi.h>

#include <string>
#include <utility>
#include <vector>

namespace lmp {

using ExportFn = void (*)(Napi::Env env, Napi::Object exports);

struct ModuleEntry {
  const char* name;
  ExportFn fn;
};

// Function-local static: safe to use from other translation units' static initializers.
inline std::vector<ModuleEntry>& module_registry() {
  static std::vector<ModuleEntry> entries;
  return entries;
}

struct ModuleRegistrar {
  ModuleRegistrar(const char* name, ExportFn fn) { module_registry().push_back({name, fn}); }
};

}  // namespace lmp

#define LMP_REGISTER_MODULE(name, fn) \
  static ::lmp::ModuleRegistrar lmp_module_registrar_##name(#name, fn)
