// The CudaTensor handle of model/bindings.cc for other CUDA binding files (attention/bindings.cc):
// checks that a value is a live CudaTensor (LMP_E_ARG otherwise) and returns its device view.
// Node-API; compiled only with -DLMP_CUDA=ON.
#pragma once
#include <napi.h>

#include "model/model.h"

namespace lmp {
namespace cuda {
namespace model {

const Tensor& tensor_arg(const Napi::Value& v, const char* what);

}  // namespace model
}  // namespace cuda
}  // namespace lmp
