// The decoder's terminal draw on logits that stay on the device (model.h draw_row): the CPU chain's
// `greedy` and `[temperature(t) ->] sample` (native/src/sampling/chain.cc), with the Decoder's
// end-of-sequence bias (min_tokens, length targets) applied first, so a decoding step downloads one
// token id instead of the vocabulary's logits. Same rules and the same float exp (core/fexp.h,
// -fmad=false) as the CPU, so the same uniform gives the same token:
//   greedy: the largest x_i * scale (1 without temperature), the lowest id among equal ones;
//   sample: weights w_i = fexp(x_i * scale - max), the first id, ascending, whose running sum exceeds
//           u * sum(w) (the last with w > 0 if rounding leaves none); u is drawn by the host chain.
// Errors as the CPU chain's: NaN or +inf -> LMP_E_NAN, every logit -inf -> LMP_E_NO_CANDIDATES.
#include "common/device.cuh"

#include <cmath>
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

// One block of kThreads for one row; thread t owns ids [t * chunk, (t + 1) * chunk), so scanning the
// chunk sums in thread order walks ascending ids as the CPU does. out[0] = token, out[1] = flags
// (1: NaN or +inf, 2: no finite logit).
__global__ void draw_k(const float* x, int64_t vocab, int mode, float scale, double u, int32_t eos, double bias, int32_t* out) {
  __shared__ float sf[kThreads];
  __shared__ double sd[kThreads];
  __shared__ double chunk_sum[kThreads];
  __shared__ int si[kThreads];
  __shared__ int found;
  const int t = static_cast<int>(threadIdx.x);
  const int64_t chunk = (vocab + kThreads - 1) / kThreads;
  const int64_t b = t * chunk, e = b + chunk < vocab ? b + chunk : vocab;
  int bad = 0;
  float m = -INFINITY;
  int64_t arg = -1;  // greedy: this thread's first maximum
  for (int64_t j = b; j < e; ++j) {
    const float v = biased(x, j, eos, bias);
    if (isnan(v) || (isinf(v) && v > 0)) bad = 1;
    const float s = v * scale;  // greedy too: the CPU's argmax is over the scaled values (ties after rounding)
    if (s > m) m = s, arg = j;
  }
  si[t] = bad;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (t < s) si[t] = si[t] | si[t + s];
    __syncthreads();
  }
  const int anyBad = si[0];
  __syncthreads();
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
  double local = 0;
  for (int64_t j = b; j < e; ++j) local += static_cast<double>(fexp(biased(x, j, eos, bias) * scale - mx));
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
    for (int64_t j = b; j < e; ++j) {
      const double w = static_cast<double>(fexp(biased(x, j, eos, bias) * scale - mx));
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

int32_t draw_row(const Tensor& logits, int64_t row, int64_t vocab, int mode, float scale, double u, int32_t eos, double eos_bias) {
  need_dtype(logits, "logits", DType::F32);
  if (vocab <= 0 || row < 0 || (row + 1) * vocab > logits.numel) fail("LMP_E_SHAPE", "draw: row " + std::to_string(row) + " of vocab " + std::to_string(vocab) + " is outside the logits");
  if (mode != 0 && mode != 1) fail("LMP_E_ARG", "draw: mode must be 0 (greedy) or 1 (sample)");
  if (!(scale > 0 && std::isfinite(scale))) fail("LMP_E_ARG", "draw: the temperature scale must be finite and > 0");
  if (mode == 1 && !(u >= 0 && u < 1)) fail("LMP_E_ARG", "draw: u must be in [0, 1)");
  if (eos >= vocab) fail("LMP_E_ARG", "draw: eos " + std::to_string(eos) + " is outside the vocabulary");
  Context& c = ctx();
  int32_t* out = static_cast<int32_t*>(workspace(2 * sizeof(int32_t)));
  check_cuda(cu::launch(draw_k, dim3(1), dim3(kThreads), 0, c.stream, static_cast<const float*>(logits.data) + row * vocab, vocab, mode,
                        scale, u, eos, eos_bias, out),
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
