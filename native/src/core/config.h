// Process-wide native settings that tests and benches can change.
#pragma once

namespace lmp {

// When true, kernels take their plain scalar path instead of the SIMD one, so tests can
// check both paths against the same reference. Default false.
bool force_scalar();
void set_force_scalar(bool on);

// The SIMD instruction set this build was compiled for ("avx512", "avx2", "neon", "scalar").
const char* simd_name();

// Run-time dispatch of the hand-written x86 kernels (GEMM, attention): the widest path the CPU
// supports (cpuid, with the OS saving the registers) and this build can compile, lowered by a cap
// that tests and benches set to force a narrower path. force_scalar() still wins over both.
enum SimdLevel : int { kSimdScalar = 0, kSimdAvx2 = 1, kSimdAvx512 = 2 };
int cpu_simd_level();        // what this CPU (and build) can run
int simd_level();            // min(cpu_simd_level(), cap); kSimdScalar under force_scalar()
void set_simd_cap(int cap);  // cap < 0 or > kSimdAvx512: no cap
const char* simd_level_name(int level);  // "scalar", "avx2", "avx512"

// Which weight rows the decoding GEMVs (model/gemm.cc, small M with B^T) stream together: adjacent
// rows with a software prefetch of the next group (what Intel's cores stream fastest), or rows far
// apart without it (AMD Zen 4 streamed four adjacent rows at half the speed of one row; rows in
// separate pages at the full speed). Detected from the CPU's vendor; set_gemv_streams overrides it
// for tests and benches (< 0: detected). Both layouts give the same bits.
enum GemvStreams : int { kGemvAdjacent = 0, kGemvSpread = 1 };
int gemv_streams();
int detected_gemv_streams();
void set_gemv_streams(int layout);
const char* gemv_streams_name(int layout);  // "adjacent", "spread"

}  // namespace lmp
