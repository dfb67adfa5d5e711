// Validation, SIMD/scalar dispatch and RoPE.
#include "attention/attention.h"

#include <cmath>
#include <string>

#include "core/config.h"
#include "core/status.h"
#include "core/threadpool.h"

namespace lmp {
namespace attn {

namespace {
// Checks one mask program node and returns the index after it.
size_t check_prog(const int32_t* prog, size_t len, size_t pc, int depth) {
  check(depth < 64, "LMP_E_MASK", "mask program nested too deeply");
  check(pc + 2 <= len, "LMP_E_MASK", "mask program truncated");
  const int32_t op = prog[pc], prm = prog[pc + 1];
  pc += 2;
  switch (op) {
    case M_FULL: case M_CAUSAL: case M_SAME_DOC:
      return pc;
    case M_WINDOW: case M_SINK: case M_PREFIX:
      check(prm >= 0, "LMP_E_MASK", "mask parameter must be >= 0");
      return pc;
    case M_CHUNKED:
      check(prm >= 1, "LMP_E_MASK", "chunk size must be >= 1");
      return pc;
    case M_AND: case M_OR:
      check(prm >= 1, "LMP_E_MASK", "and/or needs at least one argument");
      for (int32_t c = 0; c < prm; ++c) pc = check_prog(prog, len, pc, depth + 1);
      return pc;
    case M_NOT:
      return check_prog(prog, len, pc, depth + 1);
    default:
      fail("LMP_E_MASK", "unknown mask op " + std::to_string(op));
  }
}
}  // namespace

void validate(const Params& p, size_t qLen, size_t kLen, size_t classesLen) {
  check(p.D >= 1 && p.D <= MAX_D, "LMP_E_SHAPE", "headDim must be in 1.." + std::to_string(MAX_D));
  check(p.H >= 1 && p.Hkv >= 1 && p.H % p.Hkv == 0, "LMP_E_SHAPE", "kvHeads must divide heads");
  check(p.S >= 0, "LMP_E_SHAPE", "cuSeqlens must have at least one entry");
  check(p.cuQ[0] == 0 && p.cuK[0] == 0, "LMP_E_SHAPE", "cuSeqlens must start at 0");
  for (int64_t s = 0; s < p.S; ++s) {
    const int64_t lq = p.cuQ[s + 1] - p.cuQ[s], lk = p.cuK[s + 1] - p.cuK[s];
    check(lq >= 0 && lk >= 0, "LMP_E_SHAPE", "cuSeqlens must be non-decreasing");
    check(lq <= lk, "LMP_E_SHAPE", "a sequence has more queries than keys (queries are the last positions of the keys)");
  }
  const int64_t Tq = p.cuQ[p.S], Tk = p.cuK[p.S];
  check(static_cast<size_t>(Tq * p.H * p.D) == qLen, "LMP_E_SHAPE",
        "q has " + std::to_string(qLen) + " elements, expected cuSeqlensQ[-1]*heads*headDim = " + std::to_string(Tq * p.H * p.D));
  check(static_cast<size_t>(Tk * p.Hkv * p.D) == kLen, "LMP_E_SHAPE",
        "k/v have " + std::to_string(kLen) + " elements, expected cuSeqlensK[-1]*kvHeads*headDim = " + std::to_string(Tk * p.Hkv * p.D));
  check(p.G >= 1 && static_cast<int64_t>(p.progs.size()) == p.G, "LMP_E_MASK", "need one mask program per head group");
  for (int64_t g = 0; g < p.G; ++g) {
    const size_t end = check_prog(p.progs[g], static_cast<size_t>(p.progLens[g]), 0, 0);
    check(end == static_cast<size_t>(p.progLens[g]), "LMP_E_MASK", "mask program has trailing entries");
  }
  for (int64_t h = 0; h < p.H; ++h)
    check(p.headGroup[h] >= 0 && p.headGroup[h] < p.G, "LMP_E_MASK", "headGroup entry out of range");
  for (int64_t s = 0; s < p.S; ++s) {
    const int64_t nQ = (p.cuQ[s + 1] - p.cuQ[s] + BQ - 1) / BQ, nK = (p.cuK[s + 1] - p.cuK[s] + BK - 1) / BK;
    for (int64_t g = 0; g < p.G; ++g) {
      const int64_t off = p.classOff[s * p.G + g];
      check(off >= 0 && static_cast<size_t>(off + nQ * nK) <= classesLen, "LMP_E_SHAPE", "block classes too short for the sequences");
    }
  }
  for (size_t x = 0; x < classesLen; ++x) check(p.classes[x] <= 2, "LMP_E_MASK", "block class must be 0, 1 or 2");
  check(!(p.softcap < 0) && std::isfinite(p.softcap), "LMP_E_ARG", "softcap must be >= 0");
  check(std::isfinite(p.scale), "LMP_E_ARG", "scale must be finite");
  check(!(p.power < 0), "LMP_E_ARG", "softplus power must be >= 0");
  check(p.distLimit <= 0 || (p.qFar && p.kFar), "LMP_E_ARG", "a distance limit needs qFar and kFar");
  if (p.power > 0) check(p.logLenBase > 0, "LMP_E_ARG", "softplus length base must be > 1");
}

void forward(const Params& p, float* out, float* lse) {
  if (force_scalar())
    scalar::forward(p, out, lse);
  else if (simd_level() >= kSimdAvx512)
    avx512::forward(p, out, lse);
  else
    simd::forward(p, out, lse);
}

void forward_many(const Params* ps, size_t n, float* const* outs, float* const* lses) {
  if (force_scalar())
    scalar::forward_many(ps, n, outs, lses);
  else if (simd_level() >= kSimdAvx512)
    avx512::forward_many(ps, n, outs, lses);
  else
    simd::forward_many(ps, n, outs, lses);
}

void backward(const Params& p, const float* o, const float* dout, const float* lse, float* dq, float* dk, float* dv, float* dqFar, float* dkFar) {
  check(p.distLimit <= 0 || (dqFar && dkFar), "LMP_E_ARG", "a distance limit needs dqFar and dkFar");
  if (force_scalar())
    scalar::backward(p, o, dout, lse, dq, dk, dv, dqFar, dkFar);
  else if (simd_level() >= kSimdAvx512)
    avx512::backward(p, o, dout, lse, dq, dk, dv, dqFar, dkFar);
  else
    simd::backward(p, o, dout, lse, dq, dk, dv, dqFar, dkFar);
}

void rope(const float* x, float* out, int64_t T, int64_t Hx, int64_t D, const float* pos, const float* invFreq, float mscale, bool inverse) {
  const int64_t half = D / 2;
  parallel_for(static_cast<size_t>(T), [&](size_t b, size_t e, int) {
    std::vector<float> cs(static_cast<size_t>(half)), sn(static_cast<size_t>(half));
    for (size_t t = b; t < e; ++t) {
      for (int64_t i = 0; i < half; ++i) {
        const double ang = static_cast<double>(pos[t]) * static_cast<double>(invFreq[i]);
        cs[i] = static_cast<float>(std::cos(ang)) * mscale;
        sn[i] = static_cast<float>(inverse ? -std::sin(ang) : std::sin(ang)) * mscale;
      }
      for (int64_t h = 0; h < Hx; ++h) {
        const float* xr = x + (t * Hx + h) * D;
        float* o = out + (t * Hx + h) * D;
        for (int64_t i = 0; i < half; ++i) {
          const float a = xr[i], c = xr[i + half];
          o[i] = a * cs[i] - c * sn[i];
          o[i + half] = c * cs[i] + a * sn[i];
        }
        if (D % 2) o[D - 1] = xr[D - 1] * mscale;
      }
    }
  }, 8);
}

}  // namespace attn
}  // namespace lmp
