// Process-wide native settings that tests and benches can change.
#pragma once

namespace lmp {

// When true, kernels take their plain scalar path instead of the SIMD one, so tests can
// check both paths against the same reference. Default false.
bool force_scalar();
void set_force_scalar(bool on);

// The SIMD instruction set this build was compiled for ("avx512", "avx2", "neon", "scalar").
const char* simd_name();

}  // namespace lmp
