// bf16 / fp16 conversions of common/device.cuh: the device's (cvt instructions on a GPU, the
// emulator's bit manipulations otherwise) bit for bit against the host's, and the host's against
// independent references: fp16 against the compiler's _Float16 (host C++ only), bf16 against the
// nearer of the two neighbouring bf16 values, ties to the even one, in double.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "common/device.cuh"
#include "parity/cuda_util.h"
#include "parity/parity.h"

using namespace lmp;
using parity::DevVec;

namespace {

// out[4i..4i+3] = bf16(x), f16(x), low and high halves of pack_bf16x2(x, -x) ^ pack_f16x2(x, -x)
// as raw bits; back[2i..] = f32 of the bf16 and f16 inputs h[i].
__global__ void convert_kernel(const float* x, const uint16_t* h, int n, uint32_t* out, float* back) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  out[4 * i] = cu::f32_to_bf16(x[i]);
  out[4 * i + 1] = cu::f32_to_f16(x[i]);
  out[4 * i + 2] = cu::pack_bf16x2(x[i], -x[i]);
  out[4 * i + 3] = cu::pack_f16x2(x[i], -x[i]);
  back[2 * i] = cu::bf16_to_f32(h[i]);
  back[2 * i + 1] = cu::f16_to_f32(h[i]);
}

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float from(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

std::vector<float> test_values(parity::Rng& rng, size_t random_count) {
  std::vector<float> v = {0.0f, -0.0f, 1.0f, -1.0f, INFINITY, -INFINITY, NAN, -NAN, 65504.0f, 65519.99f, 65520.0f, -65520.0f, 1e30f,
                          -1e30f, 3.4028235e38f, 1.0e-8f, 5.9604645e-8f, 2.9802322e-8f, 2.9802326e-8f, 8.940697e-8f, 6.097555e-5f,
                          6.1035156e-5f, 1.1754944e-38f, 1e-45f, -1e-45f, 0.1f, 1.0f / 3.0f};
  // Exact halfway cases: bf16 (bit 15 set, low bits 0) and f16 (bit 12 set, low bits 0), both parities.
  for (uint32_t base : {0x3f800000u, 0x3f810000u, 0x40490000u, 0xc0490000u}) v.push_back(from(base | 0x8000u));
  for (uint32_t base : {0x3f800000u, 0x3f802000u, 0x45000000u, 0xc5002000u}) v.push_back(from(base | 0x1000u));
  for (size_t i = 0; i < random_count; ++i) {
    uint32_t u = static_cast<uint32_t>(rng.next() >> 32);
    if (i % 3 == 0) u = (u & 0x807fffffu) | ((100u + static_cast<uint32_t>(rng.below(50))) << 23);  // f16's exponent range
    v.push_back(from(u));
  }
  return v;
}

uint16_t bf16_reference(float x) {
  if (std::isnan(x)) return 0x7fff;
  const uint32_t u = bits(x);
  const uint32_t lo = u & 0xffff0000u, hi = lo + 0x10000u;  // the two bf16 values around x (same sign)
  if (lo == u) return static_cast<uint16_t>(lo >> 16);
  const double dl = std::fabs(static_cast<double>(x) - static_cast<double>(from(lo)));
  const double dh = (hi & 0x7fffffffu) >= 0x7f800000u ? INFINITY : std::fabs(static_cast<double>(from(hi)) - static_cast<double>(x));
  // Overflow: beyond the largest bf16 by at least half an ulp rounds to inf.
  if ((hi & 0x7fffffffu) == 0x7f800000u) {
    const double ulp_half = std::ldexp(1.0, 127 - 8);  // half the spacing at the top binade
    return static_cast<uint16_t>(((std::fabs(x) - std::fabs(static_cast<double>(from(lo)))) >= ulp_half ? hi : lo) >> 16);
  }
  if (dl < dh) return static_cast<uint16_t>(lo >> 16);
  if (dh < dl) return static_cast<uint16_t>(hi >> 16);
  return static_cast<uint16_t>(((lo >> 16) & 1u) ? hi >> 16 : lo >> 16);
}

}  // namespace

LMP_PARITY_CHECK(conversions_device_vs_host) {
  parity::Rng rng = parity::rng();
  std::vector<float> x = test_values(rng, parity::pick(20000, 1 << 20));
  const int n = static_cast<int>(x.size());
  std::vector<uint16_t> h(n);
  for (int i = 0; i < n; ++i) h[i] = static_cast<uint16_t>(i < 65536 ? i : rng.next());  // every 16-bit pattern first
  DevVec<float> dx(x), dback(2 * n);
  DevVec<uint16_t> dh(h);
  DevVec<uint32_t> dout(4 * n);
  parity::cuda_ok(cu::launch(convert_kernel, dim3((n + 255) / 256), dim3(256), 0, nullptr, static_cast<const float*>(dx.p),
                             static_cast<const uint16_t*>(dh.p), n, dout.p, dback.p),
                  "launch");
  std::vector<uint32_t> got = dout.download(), ref(4 * n);
  std::vector<float> back = dback.download();
  std::vector<uint32_t> back_bits(2 * n), back_ref(2 * n);
  for (int i = 0; i < n; ++i) {
    ref[4 * i] = cu::f32_to_bf16(x[i]);
    ref[4 * i + 1] = cu::f32_to_f16(x[i]);
    ref[4 * i + 2] = cu::pack_u16x2(cu::f32_to_bf16(x[i]), cu::f32_to_bf16(-x[i]));
    ref[4 * i + 3] = cu::pack_u16x2(cu::f32_to_f16(x[i]), cu::f32_to_f16(-x[i]));
    back_bits[2 * i] = bits(back[2 * i]);
    back_bits[2 * i + 1] = bits(back[2 * i + 1]);
    back_ref[2 * i] = bits(cu::bf16_to_f32(h[i]));
    back_ref[2 * i + 1] = bits(cu::f16_to_f32(h[i]));
  }
  parity::expect_equal("f32 -> bf16 / f16 / packs, device bits vs host bits", got.data(), ref.data(), got.size());
  // NaN inputs: the payload may differ between cvt and the shift; compare NaN-ness there.
  size_t diff = 0;
  for (int i = 0; i < 2 * n; ++i) {
    const bool nan_g = std::isnan(from(back_bits[i])), nan_r = std::isnan(from(back_ref[i]));
    diff += (nan_g || nan_r) ? nan_g != nan_r : back_bits[i] != back_ref[i];
  }
  parity::expect(diff == 0, "bf16 / f16 -> f32 of every 16-bit pattern, device vs host: " + std::to_string(diff) + " differ");
}

#if !defined(__CUDACC__)
LMP_PARITY_CHECK(conversions_host_vs_reference) {
  parity::Rng rng = parity::rng();
  std::vector<float> x = test_values(rng, 200000);
  size_t bad_bf = 0, bad_f16 = 0, first_bf = 0, first_f16 = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (cu::f32_to_bf16(x[i]) != bf16_reference(x[i]) && !bad_bf++) first_bf = i;
    const _Float16 r = static_cast<_Float16>(x[i]);
    uint16_t rb;
    std::memcpy(&rb, &r, 2);
    if (std::isnan(x[i])) rb = 0x7fff;  // the canonical NaN the device writes
    if (cu::f32_to_f16(x[i]) != rb && !bad_f16++) first_f16 = i;
  }
  parity::expect(bad_bf == 0, "f32_to_bf16 vs nearest-even in double: " + std::to_string(bad_bf) + " of " + std::to_string(x.size()) +
                                  (bad_bf ? " (first x bits " + std::to_string(bits(x[first_bf])) + ")" : ""));
  parity::expect(bad_f16 == 0, "f32_to_f16 vs _Float16: " + std::to_string(bad_f16) + " of " + std::to_string(x.size()) +
                                   (bad_f16 ? " (first x bits " + std::to_string(bits(x[first_f16])) + ")" : ""));
  size_t bad_back = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    _Float16 f;
    const uint16_t hb = static_cast<uint16_t>(h);
    std::memcpy(&f, &hb, 2);
    const float ref = static_cast<float>(f), got = cu::f16_to_f32(hb);
    bad_back += std::isnan(ref) ? !std::isnan(got) : bits(ref) != bits(got);
    bad_back += bits(cu::bf16_to_f32(hb)) != (h << 16);
  }
  parity::expect(bad_back == 0, "f16 / bf16 -> f32, all 65536 patterns: " + std::to_string(bad_back) + " differ");
}
#endif
