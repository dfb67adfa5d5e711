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
int simd_level();            // min(cpu_simd_level(), cap), avx2 as scalar in a build without AVX2 kernels; kSimdScalar under force_scalar()
void set_simd_cap(int cap);  // cap < 0 or > kSimdAvx512: no cap
const char* simd_level_name(int level);  // "scalar", "avx2", "avx512"

// How the GEMM kernels read weights that stream from L3 or memory (model/gemm.cc), tuned per CPU
// vendor: kStreamsAdjacent (Intel, as measured there): the decoding GEMVs read four adjacent weight
// rows with a software prefetch of the next four, and the B^T panels are packed with the hardware
// prefetchers alone; kStreamsSpread (elsewhere; measured on AMD Zen 4, which streamed four adjacent
// rows at half the speed of one row and packed 32-row panels from memory at a fifth of the speed
// from cache): the GEMVs read rows a quarter of the chunk apart without a prefetch, and the packing
// of a B^T larger than 1 MiB prefetches the next panel. set_weight_streams overrides the detected
// choice for tests and benches (< 0: detected). Both give the same bits.
enum WeightStreams : int { kStreamsAdjacent = 0, kStreamsSpread = 1 };
int weight_streams();
int detected_weight_streams();
void set_weight_streams(int layout);
const char* weight_streams_name(int layout);  // "adjacent", "spread"

}  // namespace lmp
