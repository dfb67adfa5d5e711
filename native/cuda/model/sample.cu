// The decoder's terminal draw on logits that stay on the device (model.h draw_row): the CPU chain's
// `greedy` and `[temperature ->] [top_k ->] [min_p ->] [temperature ->] sample` (native/src/sampling/chain.cc), with the Decoder's
// end-of-sequence bias (min_tokens, length targets) applied first, so a decoding step downloads one
// token id instead of the vocabulary's logits. Same rules and the same float exp (core/fexp.h,
// -fmad=false) as the CPU, so the same uniform gives the same token:
//   greedy: the largest x_i * scale (1 without temperature), the lowest id among equal ones;
//   sample: weights w_i = fexp(x_i * scale - max), the first id, ascending, whose running sum exceeds
//           u * sum(w) (the last with w > 0 if rounding leaves none); u is drawn by the host chain.
// Errors as the CPU chain's: NaN or +inf -> LMP_E_NAN, every logit -inf -> LMP_E_NO_CANDIDATES.
#include "common/device.cuh"

#include <cmath>
#include <cstring>
#include <string>

#include "core/fexp.h"
#include "model/internal.cuh"

namespace lmp {
namespace cuda {
namespace model {
namespace {

// The logit as the chain sees it: x, or at `eos` float(x + bias) computed in double (the Decoder
// writes old + bias into a Float32Array: a double sum rounded once), -inf for a -inf bias.
__device__ __forceinline__ float biased(const float* x, int64_t j, int32_t eos, double bias) {
  const float v = x[j];
  if (j != eos) return v;
  return isinf(bias) && bias < 0 ? -INFINITY : static_cast<float>(static_cast<double>(v) + bias);
}

// The order of finite floats as unsigned keys (larger key = larger value; -0 taken as +0, so they tie).
__device__ __forceinline__ uint32_t order_key(float v) {
  if (v == 0.f) v = 0.f;
  uint32_t u;
  memcpy(&u, &v, sizeof(u));
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// One block of kThreads for one row; thread t owns ids [t * chunk, (t + 1) * chunk), so scanning the
// chunk sums in thread order walks ascending ids as the CPU does. v = x * scale (the pending
// temperature); sample with topk > 0 keeps the topk largest v by (value desc, id asc) (the CPU's
// top_k, finite values only), with minpLog > -inf only v >= float(max v + minpLog) (min_p), and weighs each kept token by fexp(v * post - max) (post: a temperature
// after the cut, as the CPU's sparse view multiplies its values). out[0] = token, out[1] = flags
// (1: NaN or +inf, 2: no finite logit).
__global__ void draw_k(const float* x, int64_t vocab, int mode, float scale, int64_t topk, double minpLog, float post, double u, int32_t eos,
                       double bias, int32_t* out) {
  __shared__ float sf[kThreads];
  __shared__ double sd[kThreads];
  __shared__ double chunk_sum[kThreads];
  __shared__ int si[kThreads];
  __shared__ int hist[256];
  __shared__ int found, sel, krem;
  const int t = static_cast<int>(threadIdx.x);
  const int64_t chunk = (vocab + kThreads - 1) / kThreads;
  const int64_t b = t * chunk, e = b + chunk < vocab ? b + chunk : vocab;
  int bad = 0, finite = 0;
  float m = -INFINITY;
  int64_t arg = -1;  // greedy: this thread's first maximum
  for (int64_t j = b; j < e; ++j) {
    const float v = biased(x, j, eos, bias);
    if (isnan(v) || (isinf(v) && v > 0)) bad = 1;
    const float s = v * scale;  // greedy too: the CPU's argmax is over the scaled values (ties after rounding)
    finite += s > -INFINITY;
    if (s > m) m = s, arg = j;
  }
  const int anyBad = block_sum(bad, si);
  const int finiteAll = block_sum(finite, si);
  const float mx = block_max(m, sf);
  if (anyBad || mx == -INFINITY) {
    if (t == 0) out[0] = -1, out[1] = anyBad ? 1 : 2;
    return;
  }
  if (mode == 0) {
    // the lowest id holding the maximum: threads own ascending ranges, so the first thread that has it
    si[t] = m == mx ? t : kThreads;
    __syncthreads();
    for (int s = kThreads / 2; s > 0; s >>= 1) {
      if (t < s) si[t] = si[t] < si[t + s] ? si[t] : si[t + s];
      __syncthreads();
    }
    if (t == si[0]) out[0] = static_cast<int32_t>(arg), out[1] = 0;
    return;
  }
  // top-k: the k-th largest key by a radix select from the top byte down (counts in shared memory),
  // then of the keys equal to it the lowest ids, as many as k leaves
  const bool cut = topk > 0 && static_cast<int64_t>(finiteAll) > topk;
  uint32_t tau = 0;
  int need = 0, eqBase = 0;
  if (cut) {
    uint32_t prefix = 0, pmask = 0;
    if (t == 0) krem = static_cast<int>(topk);
    for (int shift = 24; shift >= 0; shift -= 8) {
      for (int d = t; d < 256; d += kThreads) hist[d] = 0;
      __syncthreads();
      for (int64_t j = b; j < e; ++j) {
        const float v = biased(x, j, eos, bias) * scale;
        if (!(v > -INFINITY)) continue;
        const uint32_t key = order_key(v);
        if ((key & pmask) == prefix) atomicAdd(&hist[(key >> shift) & 255u], 1);
      }
      __syncthreads();
      if (t == 0) {
        int d = 255;
        while (d > 0 && hist[d] < krem) krem -= hist[d--];
        sel = d;
      }
      __syncthreads();
      prefix |= static_cast<uint32_t>(sel) << shift;
      pmask |= 0xFFu << shift;
    }
    tau = prefix;
    need = krem;
    // this thread's keys equal to tau, and how many lower threads (lower ids) have
    int eq = 0;
    for (int64_t j = b; j < e; ++j) {
      const float v = biased(x, j, eos, bias) * scale;
      eq += v > -INFINITY && order_key(v) == tau;
    }
    si[t] = eq;
    __syncthreads();
    if (t == 0) {
      int run = 0;
      for (int i = 0; i < kThreads; ++i) {
        const int c = si[i];
        si[i] = run;
        run += c;
      }
    }
    __syncthreads();
    eqBase = si[t];
  }
  // min_p: v >= float(max + ln p) (the CPU's gather_ge bar; top_k keeps the maximum, so the order of
  // the two cuts does not matter: each keeps a prefix of the same value order)
  const float bar = minpLog > -INFINITY ? static_cast<float>(static_cast<double>(mx) + minpLog) : -INFINITY;
  // kept(j), walked in ascending j by the thread that owns j (eqSeen: keys equal to tau so far)
  auto kept = [&](float v, int& eqSeen) -> bool {
    if (!(v > -INFINITY) || !(v >= bar)) return false;
    if (!cut) return true;
    const uint32_t key = order_key(v);
    if (key > tau) return true;
    if (key < tau) return false;
    return eqBase + eqSeen++ < need;
  };
  // the largest kept weight's exponent: both cuts keep the maximum, and v * post rounds monotonically
  const float mz = mx * post;
  double local = 0;
  {
    int seen = 0;
    for (int64_t j = b; j < e; ++j) {
      const float v = biased(x, j, eos, bias) * scale;
      if (kept(v, seen)) local += static_cast<double>(fexp(v * post - mz));
    }
  }
  chunk_sum[t] = local;
  const double total = block_sum(local, sd);
  const double target = u * total;
  if (t == 0) {
    double run = 0;
    int owner = -1, lastPos = -1;
    for (int i = 0; i < kThreads; ++i) {
      if (chunk_sum[i] > 0) lastPos = i;
      if (run + chunk_sum[i] > target) {
        owner = i;
        break;
      }
      run += chunk_sum[i];
    }
    // rounding can leave target >= the whole sum: the last positive weight, in the last chunk that has one
    if (owner < 0) owner = lastPos, run = -INFINITY;
    sd[0] = run;
    found = owner;
  }
  __syncthreads();
  if (t == found) {
    double run = sd[0];
    int32_t tok = -1, last = -1;
    int seen = 0;
    for (int64_t j = b; j < e; ++j) {
      const float v = biased(x, j, eos, bias) * scale;
      if (!kept(v, seen)) continue;
      const double w = static_cast<double>(fexp(v * post - mz));
      if (w > 0) last = static_cast<int32_t>(j);
      run += w;
      if (run > target) {
        tok = static_cast<int32_t>(j);
        break;
      }
    }
    out[0] = tok >= 0 ? tok : last;
    out[1] = 0;
  }
}

}  // namespace

int32_t draw_row(const Tensor& logits, int64_t row, int64_t vocab, int mode, float scale, double u, int32_t eos, double eos_bias, int64_t top_k,
                 float post, double min_p) {
  need_dtype(logits, "logits", DType::F32);
  if (vocab <= 0 || row < 0 || (row + 1) * vocab > logits.numel) fail("LMP_E_SHAPE", "draw: row " + std::to_string(row) + " of vocab " + std::to_string(vocab) + " is outside the logits");
  if (mode != 0 && mode != 1) fail("LMP_E_ARG", "draw: mode must be 0 (greedy) or 1 (sample)");
  if (!(scale > 0 && std::isfinite(scale))) fail("LMP_E_ARG", "draw: the temperature scale must be finite and > 0");
  if (mode == 1 && !(u >= 0 && u < 1)) fail("LMP_E_ARG", "draw: u must be in [0, 1)");
  if (eos >= vocab) fail("LMP_E_ARG", "draw: eos " + std::to_string(eos) + " is outside the vocabulary");
  if (top_k < 0) fail("LMP_E_ARG", "draw: top_k must be >= 0 (0: none)");
  if (!(post > 0 && std::isfinite(post))) fail("LMP_E_ARG", "draw: the scale after top_k must be finite and > 0");
  if (!(min_p >= 0 && min_p <= 1)) fail("LMP_E_ARG", "draw: min_p must be in [0, 1]");
  // ln p by the host libm, as the CPU chain's std::log (0: no cut)
  const double minp_log = min_p > 0 ? std::log(min_p) : -INFINITY;
  Context& c = ctx();
  int32_t* out = static_cast<int32_t*>(workspace(2 * sizeof(int32_t)));
  check_cuda(cu::launch(draw_k, dim3(1), dim3(kThreads), 0, c.stream, static_cast<const float*>(logits.data) + row * vocab, vocab, mode,
                        scale, top_k, minp_log, post, u, eos, eos_bias, out),
             "draw");
  int32_t host[2] = {-1, 0};
  check_cuda(cudaMemcpyAsync(host, out, sizeof(host), cudaMemcpyDeviceToHost, c.stream), "cudaMemcpyAsync (draw)");
  check_cuda(cudaStreamSynchronize(c.stream), "cudaStreamSynchronize (draw)");
  if (host[1] == 1) fail("LMP_E_NAN", "logits contain NaN or +inf");
  if (host[1] == 2) fail("LMP_E_NO_CANDIDATES", "every logit is -inf");
  return host[0];
}

}  // namespace model
}  // namespace cuda
}  // namespace lmp
