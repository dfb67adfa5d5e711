// Hot loops of the sampler chain, written once (kernels.inc) and compiled twice: kernels_simd.cc
// lets GCC auto-vectorize them for the build machine (-march=native), kernels_scalar.cc turns the
// vectorizers off; force_scalar() (core/config.h) picks the scalar copy. Both copies accumulate
// in the same fixed lane order, so they return bitwise the same results.
#pragma once
#include <cstddef>
#include <cstdint>

namespace lmp {
namespace sampling {

constexpr size_t kLanes = 8;     // accumulator lanes
constexpr size_t kBlk = 64;      // block of the block maxima (top-k)
constexpr size_t kSumBlk = 1024; // block of the float partial sums

struct Kernels {
  // max of x[0..n), per-64 block maxima into bmax (ceil(n/64) entries, may be null), and
  // whether a NaN or +inf occurs.
  float (*max)(const float* x, size_t n, float* bmax, bool* bad);
  // sum of fexp(x*s - m) (float lanes per 1024-block, blocks in double); e (n entries) gets
  // each term, s1 (may be null) sum e*(x*s - m).
  // bsum (may be null) gets each 1024-block's sum accumulated in double lanes (then the total is
  // their sum).
  double (*sumexp)(const float* x, size_t n, float s, float m, float* e, double* s1, double* bsum);
  // histogram of mass (fexp(y - m)) over bins of y: bin = floor(clamp((y - lo) * inv, 0, top));
  // returns Z, s1 as in sumexp. hist has top + 9 entries: bin 0's mass is spread
  // over hist[top + 1 .. top + 8] (hist[0] stays 0) for the caller to fold back.
  double (*exphist)(const float* y, size_t n, float m, float lo, float inv, float top, double* hist, double* s1);
  // ascending indices of the finite y whose bin lies in [l1, h1) or [l2, h2) (bins as floats).
  size_t (*collect)(const float* y, size_t n, float lo, float inv, float top, float l1, float h1, float l2, float h2, int32_t* out);
  // compaction: writes (i, y) for finite y whose bin is in [l, h) or whose id is in extra
  // (sorted ascending); returns the count.
  size_t (*gather_bins)(const float* y, size_t n, float lo, float inv, float top, float l, float h, const int32_t* extra,
                        size_t nextra, int32_t* oi, float* ox);
  // One pass over y = x*s for the bracketed top-p / typical cut: returns Z = sum fexp(y - m)
  // (float lanes per 1024-block, blocks in double) and s1 as in sumexp; for y in the open
  // interval (aL, aH) ("inside") the mass per 1024-block (float lanes, into bin[n/1024 + 1]) and
  // their count; the ascending ids of the finite y in [c1l, c1h] or [c2l, c2h] into out (count
  // returned in *nc).
  double (*bracket)(const float* x, size_t n, float s, float m, float aL, float aH, float c1l, float c1h, float c2l,
                    float c2h, double* s1, double* bin, int32_t* out, size_t* nc);
  // compaction: (i, y = x*s) for y in (aL, aH) or i in extra (sorted ascending); returns the count.
  size_t (*gather_range)(const float* x, size_t n, float s, float aL, float aH, const int32_t* extra, size_t nextra,
                         int32_t* oi, float* ox);
};

const Kernels& kernels();  // simd or scalar per force_scalar()
const Kernels& kernels_simd();
const Kernels& kernels_scalar();

}  // namespace sampling
}  // namespace lmp
